#include "storage/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstring>
#include <limits>
#include <memory>

#include "base/assert.h"

namespace tl::storage {

namespace {

using output_bytes = std::vector<std::byte>;

compression_result<output_bytes> fail(compression_errc code, std::string_view codec,
                                      std::string_view what) {
    std::string message(codec);
    message += ": ";
    message += what;
    return failure{compression_error{code, std::move(message)}};
}

// The output of a streaming decoder, grown geometrically up to one byte past
// the caller's bound: a decoder that fills that byte has proven the data too
// large without our ever holding more than bound + 1 bytes.
class bounded_output {
public:
    bounded_output(size_t max_bytes, size_t input_bytes)
        : _max_bytes(max_bytes),
          _capacity_limit(max_bytes == std::numeric_limits<size_t>::max() ? max_bytes
                                                                          : max_bytes + 1),
          // Records usually shrink 2-10x: start at 4x, then double.
          _next_capacity(std::min(std::max(input_bytes / 2 * 8, size_t{4096}), _capacity_limit)) {}

    // Room for the decoder to write into; empty once the limit is reached.
    std::span<std::byte> spare() {
        if (_size == _bytes.size() && _bytes.size() < _capacity_limit) {
            _bytes.resize(std::max(_next_capacity, _bytes.size()));
            _next_capacity =
                _bytes.size() > _capacity_limit / 2 ? _capacity_limit : _bytes.size() * 2;
        }
        return std::span(_bytes).subspan(_size);
    }
    void commit(size_t bytes) noexcept {
        TL_ASSERT(bytes <= _bytes.size() - _size);
        _size += bytes;
    }
    [[nodiscard]] bool over_limit() const noexcept { return _size > _max_bytes; }
    output_bytes take() && {
        _bytes.resize(_size);
        return std::move(_bytes);
    }

private:
    size_t _max_bytes;
    size_t _capacity_limit;
    size_t _next_capacity;
    output_bytes _bytes;
    size_t _size = 0;
};

constexpr std::string_view too_large_message = "decompressed data exceeds the bound";

// zlib counts in uInt: feed and drain at most this much per call.
constexpr size_t zlib_chunk_max_bytes = std::numeric_limits<uInt>::max();

// --- gzip ---------------------------------------------------------------------------

// 16 + window bits: a gzip wrapper (header, CRC-32, length), not zlib's.
constexpr int gzip_window_bits = 16 + MAX_WBITS;

compression_result<output_bytes> gunzip(byte_span input, size_t max_output_bytes) {
    z_stream stream{};
    if (inflateInit2(&stream, gzip_window_bits) != Z_OK) {
        return fail(compression_errc::corrupt_input, "gzip", "inflateInit2 failed");
    }
    const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
    bounded_output out(max_output_bytes, input.size());
    size_t fed = 0;
    while (true) {
        if (stream.avail_in == 0 && fed < input.size()) {
            const size_t chunk = std::min(input.size() - fed, zlib_chunk_max_bytes);
            // zlib's API is not const-correct; inflate only reads next_in.
            stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data() + fed));
            stream.avail_in = static_cast<uInt>(chunk);
            fed += chunk;
        }
        const std::span<std::byte> spare = out.spare();
        if (spare.empty()) {
            return fail(compression_errc::output_too_large, "gzip", too_large_message);
        }
        stream.next_out = reinterpret_cast<Bytef*>(spare.data());
        stream.avail_out = static_cast<uInt>(std::min(spare.size(), zlib_chunk_max_bytes));
        const uInt avail_out_before = stream.avail_out;
        const int rc = inflate(&stream, Z_NO_FLUSH);
        out.commit(avail_out_before - stream.avail_out);
        if (out.over_limit()) {
            return fail(compression_errc::output_too_large, "gzip", too_large_message);
        }
        const bool input_used_up = stream.avail_in == 0 && fed == input.size();
        if (rc == Z_STREAM_END) {
            if (input_used_up) return std::move(out).take();
            // Another member follows: gzip files may be concatenated, and
            // GZIPInputStream reads on through them too.
            if (inflateReset(&stream) != Z_OK) {
                return fail(compression_errc::corrupt_input, "gzip", "inflateReset failed");
            }
            continue;
        }
        if (rc == Z_BUF_ERROR) {
            // No progress was possible: with room to write, only more input helps.
            if (input_used_up) return fail(compression_errc::corrupt_input, "gzip", "truncated");
            continue;
        }
        if (rc != Z_OK) {
            return fail(compression_errc::corrupt_input, "gzip",
                        stream.msg != nullptr ? stream.msg : "inflate failed");
        }
    }
}

compression_result<output_bytes> gzip(byte_span input, std::optional<int> level) {
    const int zlib_level = level.value_or(Z_DEFAULT_COMPRESSION);
    if (zlib_level != Z_DEFAULT_COMPRESSION && (zlib_level < 0 || zlib_level > 9)) {
        return fail(compression_errc::invalid_level, "gzip", "levels are 0-9");
    }
    z_stream stream{};
    // Window 15 and memory level 8: Java's GZIPOutputStream (via zlib's defaults).
    if (deflateInit2(&stream, zlib_level, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return fail(compression_errc::corrupt_input, "gzip", "deflateInit2 failed");
    }
    const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, deflateEnd);
    output_bytes out(deflateBound(&stream, input.size()));
    size_t fed = 0;
    size_t written = 0;
    while (true) {
        if (stream.avail_in == 0 && fed < input.size()) {
            const size_t chunk = std::min(input.size() - fed, zlib_chunk_max_bytes);
            stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data() + fed));
            stream.avail_in = static_cast<uInt>(chunk);
            fed += chunk;
        }
        TL_ASSERT(written < out.size(), "deflateBound bounds the whole stream");
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + written);
        stream.avail_out = static_cast<uInt>(std::min(out.size() - written, zlib_chunk_max_bytes));
        const uInt avail_out_before = stream.avail_out;
        const int flush = fed == input.size() ? Z_FINISH : Z_NO_FLUSH;
        const int rc = deflate(&stream, flush);
        written += avail_out_before - stream.avail_out;
        if (rc == Z_STREAM_END) break;
        TL_ASSERT(rc == Z_OK || rc == Z_BUF_ERROR, "deflate cannot fail on a valid stream");
    }
    out.resize(written);
    return out;
}

// --- snappy -------------------------------------------------------------------------

// xerial's stream header: magic, then version and oldest compatible version
// (int32 big-endian, 1 and 1 from every writer we know).
constexpr std::array<uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_bytes = xerial_magic.size() + 4 + 4;
constexpr int32_t xerial_version = 1;
// xerial's default block size, which Java's producer and kafka-python use.
constexpr size_t xerial_block_input_bytes = 32 * 1024;

bool is_xerial(byte_span input) noexcept {
    return input.size() >= xerial_header_bytes &&
           std::memcmp(input.data(), xerial_magic.data(), xerial_magic.size()) == 0;
}

uint32_t load_be32(byte_span bytes) noexcept {
    return (uint32_t{static_cast<uint8_t>(bytes[0])} << 24) |
           (uint32_t{static_cast<uint8_t>(bytes[1])} << 16) |
           (uint32_t{static_cast<uint8_t>(bytes[2])} << 8) |
           uint32_t{static_cast<uint8_t>(bytes[3])};
}

void append_be32(output_bytes& out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::byte((value >> shift) & 0xff));
}

// Appends one raw block to `out`, which may then hold at most max_output_bytes.
// The block states its length up front, so the bound is checked before anything
// is allocated; snappy_uncompress then checks every byte against it.
compression_result<output_bytes> unsnappy_block(byte_span block, size_t max_output_bytes,
                                                output_bytes&& out) {
    const auto* compressed = reinterpret_cast<const char*>(block.data());
    size_t length = 0;
    if (snappy_uncompressed_length(compressed, block.size(), &length) != SNAPPY_OK) {
        return fail(compression_errc::corrupt_input, "snappy", "bad block length");
    }
    if (length > max_output_bytes - out.size()) {
        return fail(compression_errc::output_too_large, "snappy", too_large_message);
    }
    const size_t start = out.size();
    out.resize(start + length);
    size_t written = length;
    if (snappy_uncompress(compressed, block.size(), reinterpret_cast<char*>(out.data() + start),
                          &written) != SNAPPY_OK ||
        written != length) {
        return fail(compression_errc::corrupt_input, "snappy", "corrupt block");
    }
    return std::move(out);
}

compression_result<output_bytes> unsnappy(byte_span input, size_t max_output_bytes) {
    // librdkafka detects the framing the same way: a raw block could in theory
    // start with these 8 bytes, but no writer makes one that does.
    if (!is_xerial(input)) return unsnappy_block(input, max_output_bytes, {});
    // The versions are not checked: the block layout has had one version.
    byte_span rest = input.subspan(xerial_header_bytes);
    output_bytes out;
    while (!rest.empty()) {
        if (rest.size() < 4) {
            return fail(compression_errc::corrupt_input, "snappy", "truncated xerial block");
        }
        const uint32_t block_bytes = load_be32(rest);
        rest = rest.subspan(4);
        if (block_bytes > rest.size()) {
            return fail(compression_errc::corrupt_input, "snappy", "xerial block past the end");
        }
        auto appended = unsnappy_block(rest.first(block_bytes), max_output_bytes, std::move(out));
        if (!appended) return appended;
        out = std::move(*appended);
        rest = rest.subspan(block_bytes);
    }
    return out;
}

void snappy_append_block(byte_span input, output_bytes& out) {
    const size_t start = out.size();
    size_t written = snappy_max_compressed_length(input.size());
    out.resize(start + written);
    const snappy_status status =
        snappy_compress(reinterpret_cast<const char*>(input.data()), input.size(),
                        reinterpret_cast<char*>(out.data() + start), &written);
    TL_ASSERT(status == SNAPPY_OK, "snappy_max_compressed_length bounds the output");
    out.resize(start + written);
}

compression_result<output_bytes> snappy(byte_span input, const compress_options& options) {
    if (options.level) {
        return fail(compression_errc::invalid_level, "snappy", "snappy has no levels");
    }
    output_bytes out;
    if (options.snappy == snappy_framing::raw) {
        snappy_append_block(input, out);
        return out;
    }
    out.reserve(xerial_header_bytes + snappy_max_compressed_length(input.size()));
    for (uint8_t b : xerial_magic) out.push_back(std::byte{b});
    append_be32(out, xerial_version);
    append_be32(out, xerial_version);
    for (size_t at = 0; at < input.size(); at += xerial_block_input_bytes) {
        const size_t length_at = out.size();
        append_be32(out, 0);
        snappy_append_block(
            input.subspan(at, std::min(xerial_block_input_bytes, input.size() - at)), out);
        const auto block_bytes = static_cast<uint32_t>(out.size() - length_at - 4);
        for (size_t i = 0; i < 4; ++i) {
            out[length_at + i] = std::byte((block_bytes >> (24 - 8 * i)) & 0xff);
        }
    }
    return out;
}

// --- lz4 ----------------------------------------------------------------------------

compression_result<output_bytes> unlz4(byte_span input, size_t max_output_bytes) {
    LZ4F_dctx* raw_context = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_context, LZ4F_VERSION))) {
        return fail(compression_errc::corrupt_input, "lz4", "cannot create a context");
    }
    const std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> context(
        raw_context, LZ4F_freeDecompressionContext);
    bounded_output out(max_output_bytes, input.size());
    byte_span rest = input;
    while (true) {
        const std::span<std::byte> spare = out.spare();
        if (spare.empty()) {
            return fail(compression_errc::output_too_large, "lz4", too_large_message);
        }
        size_t read = rest.size();
        size_t written = spare.size();
        // Returns 0 at the end of a frame; after it the context starts a new one.
        const size_t hint =
            LZ4F_decompress(context.get(), spare.data(), &written, rest.data(), &read, nullptr);
        if (LZ4F_isError(hint)) {
            return fail(compression_errc::corrupt_input, "lz4", LZ4F_getErrorName(hint));
        }
        out.commit(written);
        if (out.over_limit()) {
            return fail(compression_errc::output_too_large, "lz4", too_large_message);
        }
        rest = rest.subspan(read);
        if (rest.empty()) {
            if (hint == 0) return std::move(out).take();
            // Mid-frame with room left to write: only more input would help.
            if (written < spare.size()) {
                return fail(compression_errc::corrupt_input, "lz4", "truncated");
            }
        } else if (read == 0 && written == 0) {
            return fail(compression_errc::corrupt_input, "lz4", "no progress");
        }
    }
}

compression_result<output_bytes> lz4(byte_span input, std::optional<int> level) {
    const int lz4_level = level.value_or(0);
    if (lz4_level < 0 || lz4_level > LZ4F_compressionLevel_max()) {
        return fail(compression_errc::invalid_level, "lz4", "levels are 0-12");
    }
    LZ4F_preferences_t preferences{};
    preferences.frameInfo.blockSizeID = LZ4F_max64KB;
    // Kafka's readers need independent blocks; no checksums and no content
    // size, like Java's KafkaLZ4BlockOutputStream.
    preferences.frameInfo.blockMode = LZ4F_blockIndependent;
    preferences.compressionLevel = lz4_level;
    output_bytes out(LZ4F_compressFrameBound(input.size(), &preferences));
    const size_t written =
        LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &preferences);
    TL_ASSERT(!LZ4F_isError(written), "LZ4F_compressFrameBound bounds the output");
    out.resize(written);
    return out;
}

// --- zstd ---------------------------------------------------------------------------

// zstd's default cap on a frame's window (1 << 27 bytes); above it frames need
// an explicit opt-in that no Kafka client asks for.
constexpr int zstd_window_log_limit = 27;
// zstd's smallest window (1 KiB).
constexpr int zstd_window_log_min = 10;

// Decoding into one buffer of max_output_bytes + 1 keeps no separate window:
// for frames whose declared window is larger than the output bound (level 22
// without a content size declares 128 MiB), so memory stays at the bound.
compression_result<output_bytes> unzstd_into_bound(ZSTD_DCtx* context, byte_span input,
                                                   size_t max_output_bytes) {
    TL_ASSERT(max_output_bytes < std::numeric_limits<size_t>::max());
    // A first frame that states a size past the bound needs no buffer to refuse.
    const unsigned long long first_frame_bytes =
        ZSTD_getFrameContentSize(input.data(), input.size());
    if (first_frame_bytes != ZSTD_CONTENTSIZE_UNKNOWN &&
        first_frame_bytes != ZSTD_CONTENTSIZE_ERROR && first_frame_bytes > max_output_bytes) {
        return fail(compression_errc::output_too_large, "zstd", too_large_message);
    }
    output_bytes out(max_output_bytes + 1);
    const size_t written =
        ZSTD_decompressDCtx(context, out.data(), out.size(), input.data(), input.size());
    if (ZSTD_isError(written)) {
        if (ZSTD_getErrorCode(written) == ZSTD_error_dstSize_tooSmall) {
            return fail(compression_errc::output_too_large, "zstd", too_large_message);
        }
        return fail(compression_errc::corrupt_input, "zstd", ZSTD_getErrorName(written));
    }
    if (written > max_output_bytes) {
        return fail(compression_errc::output_too_large, "zstd", too_large_message);
    }
    out.resize(written);
    return out;
}

compression_result<output_bytes> unzstd(byte_span input, size_t max_output_bytes) {
    const std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(),
                                                                     ZSTD_freeDCtx);
    if (!context) return fail(compression_errc::corrupt_input, "zstd", "cannot create a context");
    // The window need not exceed the output, so streaming memory follows the
    // bound.
    const int window_log = std::clamp(static_cast<int>(std::bit_width(max_output_bytes)),
                                      zstd_window_log_min, zstd_window_log_limit);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(context.get(), ZSTD_d_windowLogMax, window_log))) {
        return fail(compression_errc::corrupt_input, "zstd", "cannot set the window limit");
    }
    bounded_output out(max_output_bytes, input.size());
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    while (true) {
        const std::span<std::byte> spare = out.spare();
        if (spare.empty()) {
            return fail(compression_errc::output_too_large, "zstd", too_large_message);
        }
        ZSTD_outBuffer target{spare.data(), spare.size(), 0};
        const size_t read_before = in.pos;
        // Returns 0 at the end of a frame; a following frame starts afresh.
        const size_t hint = ZSTD_decompressStream(context.get(), &target, &in);
        if (ZSTD_isError(hint)) {
            if (ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge &&
                window_log < zstd_window_log_limit) {
                static_cast<void>(
                    ZSTD_DCtx_reset(context.get(), ZSTD_reset_session_and_parameters));
                return unzstd_into_bound(context.get(), input, max_output_bytes);
            }
            return fail(compression_errc::corrupt_input, "zstd", ZSTD_getErrorName(hint));
        }
        out.commit(target.pos);
        if (out.over_limit()) {
            return fail(compression_errc::output_too_large, "zstd", too_large_message);
        }
        if (in.pos == in.size) {
            if (hint == 0) return std::move(out).take();
            if (target.pos < target.size) {
                return fail(compression_errc::corrupt_input, "zstd", "truncated");
            }
        } else if (in.pos == read_before && target.pos == 0) {
            return fail(compression_errc::corrupt_input, "zstd", "no progress");
        }
    }
}

compression_result<output_bytes> zstd(byte_span input, std::optional<int> level) {
    const int zstd_level = level.value_or(ZSTD_CLEVEL_DEFAULT);
    if (zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel()) {
        return fail(compression_errc::invalid_level, "zstd", "level out of range");
    }
    output_bytes out(ZSTD_compressBound(input.size()));
    const size_t written =
        ZSTD_compress(out.data(), out.size(), input.data(), input.size(), zstd_level);
    TL_ASSERT(!ZSTD_isError(written), "ZSTD_compressBound bounds the output");
    out.resize(written);
    return out;
}

// Records that would not fit the bound are a batch too large to take; any other
// failure means the blob is not what its codec writes.
batch_errc to_batch_errc(compression_errc errc) noexcept {
    return errc == compression_errc::output_too_large ? batch_errc::too_large
                                                      : batch_errc::invalid_compressed_data;
}

}  // namespace

std::string_view name(compression_errc errc) noexcept {
    switch (errc) {
        case compression_errc::corrupt_input:
            return "corrupt_input";
        case compression_errc::output_too_large:
            return "output_too_large";
        case compression_errc::unsupported_codec:
            return "unsupported_codec";
        case compression_errc::invalid_level:
            return "invalid_level";
    }
    return "unknown";
}

compression_result<std::vector<std::byte>> decompress(compression_codec codec,
                                                      std::span<const std::byte> input,
                                                      size_t max_output_bytes) {
    switch (codec) {
        case compression_codec::gzip:
            return gunzip(input, max_output_bytes);
        case compression_codec::snappy:
            return unsnappy(input, max_output_bytes);
        case compression_codec::lz4:
            return unlz4(input, max_output_bytes);
        case compression_codec::zstd:
            return unzstd(input, max_output_bytes);
        case compression_codec::none:
            break;
    }
    return fail(compression_errc::unsupported_codec, "decompress", "not a compression codec");
}

compression_result<std::vector<std::byte>> compress(compression_codec codec,
                                                    std::span<const std::byte> input,
                                                    const compress_options& options) {
    switch (codec) {
        case compression_codec::gzip:
            return gzip(input, options.level);
        case compression_codec::snappy:
            return snappy(input, options);
        case compression_codec::lz4:
            return lz4(input, options.level);
        case compression_codec::zstd:
            return zstd(input, options.level);
        case compression_codec::none:
            break;
    }
    return fail(compression_errc::unsupported_codec, "compress", "not a compression codec");
}

batch_result<record_reader> open_records(byte_span batch, size_t max_records_bytes,
                                         std::vector<std::byte>& storage) {
    // What record_reader::open checks of an uncompressed batch, in its order.
    auto size = peek_batch_size(batch, std::numeric_limits<size_t>::max());
    if (!size) return failure{size.error()};
    if (batch.size() < *size) return failure{batch_errc::truncated};
    if (batch.size() > *size) return failure{batch_errc::invalid_length};
    // peek_batch_size proved at least 61 bytes.
    const batch_header header = read_batch_header(batch).value();
    const uint16_t codec_bits = header.attributes & batch_attribute::compression_mask;
    if (codec_bits == 0 || codec_bits > compression_codec_max) return record_reader::open(batch);
    if (header.magic != batch_magic_v2) return failure{batch_errc::unsupported_magic};
    if (header.record_count < 0) return failure{batch_errc::invalid_record_count};

    storage.clear();
    auto records =
        decompress(header.compression(), batch.subspan(batch_header_size_bytes), max_records_bytes);
    if (!records) return failure{to_batch_errc(records.error().code)};
    storage = std::move(*records);
    return record_reader::over(header, storage);
}

batch_result<void> validate_compressed_records(byte_span batch, const batch_header& header,
                                               offset_delta_policy offset_deltas,
                                               size_t max_records_bytes) {
    if (header.compression() == compression_codec::none) return {};
    TL_ASSERT(batch.size() == header.size_bytes(), "a batch that validate_batch accepted");
    auto records =
        decompress(header.compression(), batch.subspan(batch_header_size_bytes), max_records_bytes);
    if (!records) return failure{to_batch_errc(records.error().code)};
    return validate_records(header, *records, offset_deltas);
}

}  // namespace tl::storage
