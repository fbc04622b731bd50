// Kafka frames: an int32 size, a request or response header, a body.
//
// The header's version is not on the wire: it follows from the API and its
// version. Requests use header v2 in the API's flexible versions and v1
// otherwise (header v0, without client_id, only ever served ControlledShutdown
// v0, which we do not have). Responses use header v1 in flexible versions and
// v0 otherwise, except ApiVersions responses, which always use v0: a client
// must be able to read the error of a version the broker does not serve.
//
// Pure functions over caller-owned bytes; any shard may call them. A parsed
// request_frame and the messages decoded from it view the frame's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/result.h"
#include "kafka/messages/api_table.h"
#include "kafka/messages/headers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/reader.h"
#include "kafka/protocol/writer.h"

namespace tl::kafka {

// Kafka's default socket.request.max.bytes: the largest request frame a
// connection should accept (the caller enforces it before buffering a frame).
inline constexpr size_t request_frame_size_max = size_t{100} * 1024 * 1024;
inline constexpr size_t frame_size_prefix_bytes = 4;

// Header versions for `api_key` at `api_version`, or -1 if we have no schema
// for the key. Versions above the schema's maximum count as flexible if the
// API has flexible versions (a newer client's ApiVersions, for instance).
[[nodiscard]] int16_t request_header_version(int16_t api_key, int16_t api_version) noexcept;
[[nodiscard]] int16_t response_header_version(int16_t api_key, int16_t api_version) noexcept;

// The first eight bytes of every request header, readable whatever the API:
// enough to answer (or log) a request we cannot parse further.
struct request_id {
    int16_t api_key = 0;
    int16_t api_version = 0;
    int32_t correlation_id = 0;
};
[[nodiscard]] result<request_id, decode_error> peek_request_id(
    std::span<const std::byte> frame) noexcept;

struct request_frame {
    request_header header;  // client_id views the frame
    int16_t header_version = 0;
    size_t body_offset = 0;           // where the body starts in the frame
    std::span<const std::byte> body;  // the rest of the frame
};

// Parses the header of a request frame given without its size prefix. Fails
// with unknown_api_key for keys we have no schema for; any version of a known
// key parses (the body decoder checks the version).
[[nodiscard]] result<request_frame, decode_error> parse_request_frame(
    std::span<const std::byte> frame);

// Decodes the body as request M (the type the header's API key names; see
// with_request_type in kafka/messages/messages.h). Every byte must belong to
// the body (trailing_bytes otherwise); error offsets count from the frame start.
template <typename M>
[[nodiscard]] result<M, decode_error> decode_request_body(const request_frame& frame) {
    static_assert(M::kind == message_kind::request);
    if (frame.header.request_api_key != M::api_key) {
        return failure{decode_error{decode_errc::unknown_api_key, 0}};
    }
    reader r(frame.body, frame.body_offset);
    auto message = M::decode(r, frame.header.request_api_version);
    if (!message) return message;
    r.expect_end();
    if (!r.ok()) return failure{r.error()};
    return message;
}

namespace detail {
// Writes the size prefix at `start` once the frame after it is complete.
void finish_frame(writer& w, size_t start);
}  // namespace detail

// Appends a whole response frame (size, header, body) for the request that
// had `correlation_id`. Check w.ok() afterwards.
template <typename M>
void encode_response_frame(writer& w, int32_t correlation_id, int16_t version, const M& body) {
    static_assert(M::kind == message_kind::response);
    const size_t start = w.reserve_int32();
    const response_header header{.correlation_id = correlation_id};
    header.encode(w, response_header_version(M::api_key, version));
    body.encode(w, version);
    detail::finish_frame(w, start);
}

// Appends a whole request frame; for clients and tests.
template <typename M>
void encode_request_frame(writer& w, int32_t correlation_id,
                          std::optional<std::string_view> client_id, int16_t version,
                          const M& body) {
    static_assert(M::kind == message_kind::request);
    const size_t start = w.reserve_int32();
    const request_header header{.request_api_key = M::api_key,
                                .request_api_version = version,
                                .correlation_id = correlation_id,
                                .client_id = client_id};
    header.encode(w, request_header_version(M::api_key, version));
    body.encode(w, version);
    detail::finish_frame(w, start);
}

}  // namespace tl::kafka
