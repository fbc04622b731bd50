// libFuzzer target for the Kafka request decoders: every byte string is a
// request frame (without its size prefix) as a client could send it.
//
// The header picks the API and version, so the fuzzer reaches every
// (api key, version) we have a schema for by mutating the first four bytes.
// Properties checked on every input, beyond "no crash, no out-of-bounds read,
// no undefined behaviour" (the fuzz build adds ASan and UBSan):
// - a body that decodes re-encodes without error, decodes again to an equal
//   message, and that second encoding is byte-identical to the first;
// - the same body is also decoded as that API's response (clients and tests
//   decode responses), with the same round-trip property;
// - a header that parses re-encodes to the bytes it came from (whatever the
//   body), except for unknown tagged fields, which decoding drops.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "kafka/messages/messages.h"
#include "kafka/protocol/frame.h"

namespace {

using namespace tl::kafka;

void check(bool condition) {
    if (!condition) std::abort();
}

template <typename M>
void round_trip(const M& message, int16_t version) {
    writer first;
    message.encode(first, version);
    check(first.ok());
    writer counter = writer::counting();
    message.encode(counter, version);
    check(counter.size() == first.size());
    reader r(first.data());
    auto again = M::decode(r, version);
    check(again.ok() && r.at_end());
    check(*again == message);
    writer second;
    again->encode(second, version);
    check(second.ok());
    check(std::ranges::equal(first.data(), second.data()));
}

template <typename M>
void decode_body(std::span<const std::byte> body, int16_t version) {
    reader r(body);
    auto message = M::decode(r, version);
    if (message) round_trip(*message, version);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto input = std::as_bytes(std::span(data, size));
    auto frame = parse_request_frame(input);
    if (!frame) return 0;
    const int16_t api_key = frame->header.request_api_key;
    const int16_t version = frame->header.request_api_version;

    writer header;
    frame->header.encode(header, frame->header_version);
    check(header.ok());
    check(header.size() <= frame->body_offset);
    if (header.size() == frame->body_offset) {
        check(std::ranges::equal(header.data(), input.first(frame->body_offset)));
    }

    with_request_type(api_key, [&]<typename M>() {
        auto message = decode_request_body<M>(*frame);
        if (message) round_trip(*message, version);
        // Also without the trailing-bytes rule, so that inputs that carry
        // extra bytes still reach the round trip.
        decode_body<M>(frame->body, version);
    });
    with_response_type(api_key, [&]<typename M>() { decode_body<M>(frame->body, version); });
    return 0;
}
