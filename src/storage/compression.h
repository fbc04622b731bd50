// Compressed record batches: the four Kafka codecs, and the records inside a
// compressed batch.
//
// A v2 batch whose attributes name a codec (gzip, snappy, lz4, zstd) carries
// its records as one compressed blob after the 61-byte header. The broker
// stores such batches as produced, but opens them on produce to check their
// records the way validate_batch checks uncompressed ones. Readers of the blob
// accept what the clients write:
//   gzip    one or more gzip members (Java's GZIPOutputStream, zlib);
//   snappy  a raw snappy block (librdkafka) or xerial framing (Java,
//           kafka-python): "\x82SNAPPY\0", int32 version, int32 compatible
//           version, then int32 length + raw block, repeated;
//   lz4     LZ4 frames (not the raw block format);
//   zstd    zstd frames, with or without the content size.
//
// Every decoder writes at most the caller's max_output_bytes: a blob that
// would expand further (a decompression bomb) fails with output_too_large
// after at most that much memory, never later. Nothing throws.
//
// Pure functions over bytes: any shard may call them. They allocate (the
// output), so they stay on the produce path's validation step and in tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/result.h"
#include "storage/record_batch.h"

namespace tl::storage {

enum class compression_errc : uint8_t {
    corrupt_input,      // not a well-formed stream of the codec, or cut short
    output_too_large,   // the data expands past max_output_bytes
    unsupported_codec,  // compression_codec::none, or a value above compression_codec_max
    invalid_level,      // compress(): a level the codec does not have
};

[[nodiscard]] std::string_view name(compression_errc errc) noexcept;

struct compression_error {
    compression_errc code = compression_errc::corrupt_input;
    std::string message;  // for logs: the codec and what its library said
};

template <typename T>
using compression_result = result<T, compression_error>;

// The bound the produce path puts on a batch's decompressed records. Kafka sets
// none; this is max.message.bytes (1 MiB) at 64:1, a ratio only synthetic data
// reaches, so real batches pass and one request cannot take more than this.
inline constexpr size_t default_max_decompressed_bytes = size_t{64} * 1024 * 1024;

// Decodes `input` as the codec writes it (see the top of the file) and returns
// the bytes, at most max_output_bytes of them. Trailing bytes after the last
// complete gzip member, lz4 frame or zstd frame are corrupt_input. Memory: the
// output, plus the codec's state (zstd's window is bounded by the output bound).
[[nodiscard]] compression_result<std::vector<std::byte>> decompress(
    compression_codec codec, std::span<const std::byte> input, size_t max_output_bytes);

enum class snappy_framing : uint8_t {
    raw,     // one raw block: what librdkafka writes
    xerial,  // xerial blocks of 32 KiB of input: what Java and kafka-python write
};

struct compress_options {
    // nullopt: the library default (gzip 6 like Java, lz4 fast, zstd 3).
    // gzip 0-9, lz4 0-12, zstd its min..max level; snappy has no levels.
    std::optional<int> level;
    snappy_framing snappy = snappy_framing::raw;
};

// Encodes `input` the way clients do: gzip as one gzip member; lz4 as one
// frame with independent 64 KiB blocks and no checksums or content size, as
// Java's producer; zstd as one frame with its content size. For tests and
// tools: the broker itself never recompresses.
[[nodiscard]] compression_result<std::vector<std::byte>> compress(
    compression_codec codec, std::span<const std::byte> input,
    const compress_options& options = {});

// --- Records of compressed batches ------------------------------------------------

// Decompresses the records of `batch` into `storage` (cleared first) and returns
// a reader over them; for an uncompressed batch, a reader over the batch itself
// (storage untouched). Checks what record_reader::open checks, not the CRC: run
// validate_batch first to trust the contents. The reader's views point into
// `storage` or `batch`, whichever holds the records. Errors: those of
// record_reader::open (unsupported_compression for codecs 5-7), too_large when
// the records expand past max_records_bytes, invalid_compressed_data when the
// blob does not decode.
[[nodiscard]] batch_result<record_reader> open_records(byte_span batch, size_t max_records_bytes,
                                                       std::vector<std::byte>& storage);

// The produce-path check for a compressed batch: `header` is what validate_batch
// returned for `batch`. Decompresses the records (at most max_records_bytes) and
// checks them as validate_batch checks uncompressed ones (see validate_records):
// exactly recordCount well-formed records, offset deltas under the policy, no
// bytes after the last. Success at once for codec none, which validate_batch
// has walked already. Errors: invalid_compressed_data (-> CORRUPT_MESSAGE),
// too_large (-> MESSAGE_TOO_LARGE: a producer splits such a batch and retries),
// invalid_record_count, invalid_offset_delta, invalid_record (-> INVALID_RECORD).
[[nodiscard]] batch_result<void> validate_compressed_records(
    byte_span batch, const batch_header& header, offset_delta_policy offset_deltas,
    size_t max_records_bytes = default_max_decompressed_bytes);

// One record with the batch-level fields applied, as consumers see it. The
// views live only during the call that hands the record out.
struct decoded_record {
    int64_t offset = 0;        // baseOffset + offsetDelta
    int64_t timestamp_ms = 0;  // as record_timestamp_ms
    std::optional<byte_span> key;
    std::optional<byte_span> value;
    const record_view* record = nullptr;  // the raw fields, headers included

    [[nodiscard]] header_reader headers() const noexcept { return record->headers(); }
};

// Calls fn(const decoded_record&) for each record of any batch, compressed or
// not (see open_records for the checks and errors). If fn returns bool, false
// stops the walk early (and the result is success). For tools and tests.
template <typename Fn>
batch_result<void> for_each_decoded_record(
    byte_span batch, Fn&& fn, size_t max_records_bytes = default_max_decompressed_bytes) {
    std::vector<std::byte> storage;
    auto reader = open_records(batch, max_records_bytes, storage);
    if (!reader) return failure{reader.error()};
    record_view record;
    while (true) {
        auto more = reader->next(record);
        if (!more) return failure{more.error()};
        if (!*more) return {};
        const decoded_record decoded{
            .offset = record_offset(reader->header(), record),
            .timestamp_ms = record_timestamp_ms(reader->header(), record),
            .key = record.key,
            .value = record.value,
            .record = &record,
        };
        if constexpr (std::is_same_v<std::invoke_result_t<Fn&, const decoded_record&>, bool>) {
            if (!fn(decoded)) return {};
        } else {
            fn(decoded);
        }
    }
}

}  // namespace tl::storage
