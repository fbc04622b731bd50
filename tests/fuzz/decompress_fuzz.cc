// Fuzzes src/storage/compression: arbitrary bytes through every decoder, and
// through the produce-path check of a compressed batch, must never crash, hang,
// read out of bounds or write past the output bound (ASan and UBSan watch).
//
// Input: byte 0 picks the codec (low 3 bits, so 0 and 5-7 test the refusals)
// and the bound (bit 3: 4 KiB, else 1 MiB); byte 1 is the record count of the
// batch built around the rest, the compressed blob. Seeds
// (make_compression_fixtures.py fuzz-seeds) are the records of real client
// batches in this shape.
//
// Properties, a violation aborts:
// - decompress never returns more than the bound, and what it returns
//   compresses and decompresses back to itself (snappy in both framings);
// - the blob as a batch (header with the right CRC) passes
//   validate_compressed_records only if it decompresses, and then
//   for_each_decoded_record yields exactly recordCount records at offsets
//   baseOffset + 0..n-1; a blob that does not decode is refused with
//   invalid_compressed_data or too_large, never anything else.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "storage/compression.h"
#include "storage/record_batch.h"

namespace {

using namespace tl::storage;

#define FUZZ_CHECK(condition)                                                                     \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)

constexpr size_t small_bound_bytes = 4 * 1024;
constexpr size_t large_bound_bytes = 1024 * 1024;
constexpr int64_t base_offset = 1000;

volatile uint8_t sink;
void touch(byte_span bytes) {
    uint8_t sum = 0;
    for (std::byte b : bytes) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
    sink = sum;
}

void check_round_trip(compression_codec codec, const std::vector<std::byte>& plain) {
    for (snappy_framing framing : {snappy_framing::raw, snappy_framing::xerial}) {
        if (framing == snappy_framing::xerial && codec != compression_codec::snappy) continue;
        auto packed = compress(codec, plain, {.snappy = framing});
        FUZZ_CHECK(packed.ok());
        auto unpacked = decompress(codec, *packed, plain.size());
        FUZZ_CHECK(unpacked.ok());
        FUZZ_CHECK(*unpacked == plain);
    }
}

void store_be32(std::vector<std::byte>& out, size_t at, uint32_t value) {
    for (size_t i = 0; i < 4; ++i) out[at + i] = std::byte((value >> (24 - 8 * i)) & 0xff);
}

// The blob behind a producer's header: base offset, codec, recordCount n,
// lastOffsetDelta n - 1, and the CRC it needs.
std::vector<std::byte> make_batch(uint8_t codec_bits, int32_t record_count, byte_span blob) {
    std::vector<std::byte> batch(batch_header_size_bytes);
    batch.insert(batch.end(), blob.begin(), blob.end());
    for (size_t i = 0; i < 8; ++i) {
        batch[batch_field::base_offset + i] = std::byte((base_offset >> (56 - 8 * i)) & 0xff);
    }
    store_be32(batch, batch_field::batch_length,
               static_cast<uint32_t>(batch.size() - batch_length_prefix_bytes));
    batch[batch_field::magic] = std::byte{batch_magic_v2};
    batch[batch_field::attributes + 1] = std::byte{codec_bits};
    store_be32(batch, batch_field::last_offset_delta, static_cast<uint32_t>(record_count - 1));
    store_be32(batch, batch_field::record_count, static_cast<uint32_t>(record_count));
    recompute_crc(batch);
    return batch;
}

void check_batch(uint8_t codec_bits, int32_t record_count, byte_span blob, size_t bound,
                 bool decodes) {
    const std::vector<std::byte> batch = make_batch(codec_bits, record_count, blob);
    auto header = validate_batch(batch, {.max_batch_size_bytes = batch.size()});
    if (!header) return;  // codec 5-7, or recordCount 0
    FUZZ_CHECK(header->compression() != compression_codec::none || codec_bits == 0);
    auto checked = validate_compressed_records(batch, *header, offset_delta_policy::exact, bound);
    if (header->compression() == compression_codec::none) {
        FUZZ_CHECK(checked.ok());  // validate_batch walked them already
    } else if (!decodes) {
        FUZZ_CHECK(!checked.ok());
        FUZZ_CHECK(checked.error() == batch_errc::invalid_compressed_data ||
                   checked.error() == batch_errc::too_large);
    }

    int64_t records = 0;
    auto walked = for_each_decoded_record(
        batch,
        [&](const decoded_record& r) {
            touch(r.key.value_or(byte_span{}));
            touch(r.value.value_or(byte_span{}));
            auto headers = r.headers();
            record_header h;
            while (headers.next(h)) {
                touch(h.key);
                touch(h.value.value_or(byte_span{}));
            }
            FUZZ_CHECK(records < record_count);
            if (checked.ok()) FUZZ_CHECK(r.offset == base_offset + records);
            ++records;
        },
        bound);
    // The walk checks what validation checks, bar the final lastOffsetDelta test.
    if (checked.ok()) {
        FUZZ_CHECK(walked.ok());
        FUZZ_CHECK(records == record_count);
    }
    if (walked.ok() && !checked.ok()) {
        FUZZ_CHECK(checked.error() == batch_errc::invalid_offset_delta);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t codec_bits = data[0] & batch_attribute::compression_mask;
    const size_t bound = (data[0] & 0x08) != 0 ? small_bound_bytes : large_bound_bytes;
    const int32_t record_count = data[1];
    const byte_span blob = std::as_bytes(std::span(data + 2, size - 2));
    const auto codec = static_cast<compression_codec>(codec_bits);

    auto plain = decompress(codec, blob, bound);
    if (plain) {
        FUZZ_CHECK(codec_bits >= 1 && codec_bits <= compression_codec_max);
        FUZZ_CHECK(plain->size() <= bound);
        touch(*plain);
        check_round_trip(codec, *plain);
    } else {
        FUZZ_CHECK(!plain.error().message.empty());
        FUZZ_CHECK((codec_bits >= 1 && codec_bits <= compression_codec_max) ==
                   (plain.error().code != compression_errc::unsupported_codec));
    }
    check_batch(codec_bits, record_count, blob, bound, plain.ok());
    return 0;
}
