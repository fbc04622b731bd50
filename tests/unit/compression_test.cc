// Proves src/storage/compression.h:
// - decoders read what real clients write: data compressed by kafka-python,
//   python-snappy, python-lz4 and python-zstandard, and whole compressed
//   batches from kafka-python's and librdkafka's producers
//   (compression_fixtures.inc, from make_compression_fixtures.py; the payload
//   and record formulas below are the script's);
// - every codec round-trips our own encoder's output, at several levels and
//   both snappy framings;
// - the output bound holds: a decompression bomb fails with output_too_large
//   at exactly bound + 1 bytes, and a zstd frame declaring a window far larger
//   than the bound still decodes;
// - truncated, extended and garbage inputs fail with corrupt_input, for each
//   codec (xerial framing, which has no end mark, fails only mid-block);
// - compressed batches: validate_compressed_records accepts the clients'
//   batches and refuses wrong record counts, offset deltas, malformed records,
//   trailing bytes, undecodable blobs and blobs past the bound, each with the
//   batch_errc the Kafka layer maps; for_each_decoded_record hands out every
//   record's offset, timestamp, key, value and headers, for any codec.
#include <zstd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "storage/compression.h"
#include "storage/record_batch.h"

namespace tl::storage {
namespace {

using bytes = std::vector<std::byte>;

struct compression_fixture {
    const char* label;
    compression_codec codec;
    const char* hex;
};

#include "compression_fixtures.inc"

constexpr compression_codec all_codecs[] = {compression_codec::gzip, compression_codec::snappy,
                                            compression_codec::lz4, compression_codec::zstd};

bytes from_hex(std::string_view hex) {
    bytes out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(
            static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

byte_span text(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string to_string(byte_span b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// make_compression_fixtures.py's payload().
bytes fixture_payload() {
    std::string out;
    char line[64];
    for (int i = 0; i < 2000; ++i) {
        const int n =
            std::snprintf(line, sizeof line, "record %05d: tidelog compression fixture\n", i);
        out.append(line, static_cast<size_t>(n));
    }
    const byte_span view = text(out);
    return bytes(view.begin(), view.end());
}

bytes random_bytes(size_t size, uint32_t seed) {
    std::mt19937 random(seed);
    bytes out(size);
    for (std::byte& b : out) b = static_cast<std::byte>(random() & 0xff);
    return out;
}

bytes compressed(compression_codec codec, byte_span input, const compress_options& options = {}) {
    auto out = compress(codec, input, options);
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
    return out.ok() ? std::move(*out) : bytes{};
}

compression_errc decompress_error(compression_codec codec, byte_span input, size_t bound) {
    auto out = decompress(codec, input, bound);
    EXPECT_FALSE(out.ok()) << "decoded " << (out.ok() ? out->size() : 0) << " bytes";
    return out.ok() ? compression_errc{} : out.error().code;
}

std::string codec_name(compression_codec codec) {
    return std::to_string(static_cast<int>(codec));
}

// --- Round trips and fixtures --------------------------------------------------------

TEST(compression, round_trips_every_codec) {
    const bytes inputs[] = {bytes{}, bytes{std::byte{'x'}}, fixture_payload(),
                            random_bytes(200'000, 1)};
    for (compression_codec codec : all_codecs) {
        std::vector<compress_options> variants = {{}};
        if (codec == compression_codec::snappy) {
            variants.push_back({.snappy = snappy_framing::xerial});
        } else {
            variants.push_back({.level = 1});
            variants.push_back({.level = 9});
        }
        for (const compress_options& options : variants) {
            for (const bytes& input : inputs) {
                SCOPED_TRACE("codec " + codec_name(codec) + ", " + std::to_string(input.size()) +
                             " bytes");
                const bytes packed = compressed(codec, input, options);
                auto unpacked = decompress(codec, packed, input.size());
                ASSERT_TRUE(unpacked.ok()) << unpacked.error().message;
                EXPECT_EQ(*unpacked, input);
            }
        }
    }
}

TEST(compression, decodes_what_the_clients_compress) {
    const bytes payload = fixture_payload();
    for (const compression_fixture& fixture : payload_fixtures) {
        SCOPED_TRACE(fixture.label);
        auto out = decompress(fixture.codec, from_hex(fixture.hex), payload.size());
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_EQ(*out, payload);
    }
}

TEST(compression, writes_the_framings_the_clients_write) {
    const bytes payload = fixture_payload();
    // Raw snappy: what librdkafka (and python-snappy) write, byte for byte.
    const bytes raw = compressed(compression_codec::snappy, payload);
    EXPECT_EQ(raw, from_hex(payload_fixtures[3].hex));
    // xerial: kafka-python's framing, byte for byte (the same snappy inside).
    const bytes xerial =
        compressed(compression_codec::snappy, payload, {.snappy = snappy_framing::xerial});
    EXPECT_EQ(xerial, from_hex(payload_fixtures[2].hex));
    // gzip: a gzip member (magic 1f 8b, deflate), as GZIPOutputStream writes.
    const bytes gzipped = compressed(compression_codec::gzip, payload);
    ASSERT_GE(gzipped.size(), 3u);
    EXPECT_EQ(gzipped[0], std::byte{0x1f});
    EXPECT_EQ(gzipped[1], std::byte{0x8b});
    EXPECT_EQ(gzipped[2], std::byte{8});
    // lz4: a frame (magic 04 22 4d 18), independent blocks, 64 KiB blocks.
    const bytes lz4 = compressed(compression_codec::lz4, payload);
    ASSERT_GE(lz4.size(), 6u);
    EXPECT_EQ(lz4[0], std::byte{0x04});
    EXPECT_EQ(lz4[3], std::byte{0x18});
    EXPECT_EQ(lz4[4] & std::byte{0x20}, std::byte{0x20});  // block independence
    EXPECT_EQ(lz4[5], std::byte{0x40});                    // 64 KiB blocks
}

TEST(compression, refuses_codecs_and_levels_it_does_not_have) {
    const bytes input = fixture_payload();
    EXPECT_EQ(decompress_error(compression_codec::none, input, input.size()),
              compression_errc::unsupported_codec);
    EXPECT_EQ(decompress_error(static_cast<compression_codec>(5), input, input.size()),
              compression_errc::unsupported_codec);
    EXPECT_EQ(compress(compression_codec::none, input).error().code,
              compression_errc::unsupported_codec);
    EXPECT_EQ(compress(compression_codec::gzip, input, {.level = 10}).error().code,
              compression_errc::invalid_level);
    EXPECT_EQ(compress(compression_codec::snappy, input, {.level = 1}).error().code,
              compression_errc::invalid_level);
    EXPECT_EQ(compress(compression_codec::lz4, input, {.level = 13}).error().code,
              compression_errc::invalid_level);
    EXPECT_EQ(compress(compression_codec::zstd, input, {.level = 23}).error().code,
              compression_errc::invalid_level);
    EXPECT_EQ(name(compression_errc::output_too_large), "output_too_large");
}

// --- The output bound --------------------------------------------------------------------

TEST(compression, stops_a_bomb_at_the_bound) {
    const bytes zeros(8 * 1024 * 1024, std::byte{0});
    for (compression_codec codec : all_codecs) {
        for (snappy_framing framing : {snappy_framing::raw, snappy_framing::xerial}) {
            if (codec != compression_codec::snappy && framing == snappy_framing::xerial) continue;
            SCOPED_TRACE(codec_name(codec) + (framing == snappy_framing::xerial ? " xerial" : ""));
            const bytes bomb = compressed(codec, zeros, {.snappy = framing});
            EXPECT_LT(bomb.size(), zeros.size() / 20);
            EXPECT_EQ(decompress_error(codec, bomb, 1024 * 1024),
                      compression_errc::output_too_large);
            EXPECT_EQ(decompress_error(codec, bomb, zeros.size() - 1),
                      compression_errc::output_too_large);
            EXPECT_EQ(decompress_error(codec, bomb, 0), compression_errc::output_too_large);
            auto exact = decompress(codec, bomb, zeros.size());
            ASSERT_TRUE(exact.ok()) << exact.error().message;
            EXPECT_EQ(exact->size(), zeros.size());
        }
    }
}

// A producer at zstd level 22 without a content size (Java's streaming writer)
// declares a 128 MiB window for a batch of any size; a decoder that sized its
// window from the frame would allocate that much. Ours decodes within the bound.
TEST(compression, decodes_zstd_windows_larger_than_the_bound) {
    const bytes input = fixture_payload();
    ZSTD_CCtx* context = ZSTD_createCCtx();
    ASSERT_NE(context, nullptr);
    ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, 27)));
    ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0)));
    bytes frame(ZSTD_compressBound(input.size()));
    ZSTD_outBuffer out{frame.data(), frame.size(), 0};
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    // Input first, end later: as a stream, with the size unknown when the
    // frame header is written (a single ZSTD_e_end call would shrink the window).
    ASSERT_FALSE(ZSTD_isError(ZSTD_compressStream2(context, &out, &in, ZSTD_e_continue)));
    ASSERT_EQ(in.pos, in.size);
    ZSTD_inBuffer end{nullptr, 0, 0};
    ASSERT_EQ(ZSTD_compressStream2(context, &out, &end, ZSTD_e_end), 0u);
    ZSTD_freeCCtx(context);
    frame.resize(out.pos);
    // After the 4-byte magic: the frame header descriptor (no single-segment
    // flag, so a window descriptor follows), then exponent << 3 | mantissa.
    ASSERT_GE(frame.size(), 6u);
    ASSERT_EQ(frame[4] & std::byte{0x20}, std::byte{0});
    ASSERT_EQ(frame[5], std::byte{(27 - 10) << 3});  // window 1 << 27

    auto decoded = decompress(compression_codec::zstd, frame, 100'000);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(*decoded, input);
    EXPECT_EQ(decompress_error(compression_codec::zstd, frame, input.size() - 1),
              compression_errc::output_too_large);
}

// --- Damaged input ------------------------------------------------------------------------

// Cut points: every one of the first and last 64 bytes, and 64 in between.
std::vector<size_t> cut_points(size_t size) {
    std::vector<size_t> cuts;
    for (size_t i = 0; i < size; ++i) {
        if (i < 64 || i + 64 >= size || i % std::max<size_t>(size / 64, 1) == 0) cuts.push_back(i);
    }
    return cuts;
}

TEST(compression, refuses_truncated_input) {
    const bytes payload = fixture_payload();
    for (const compression_fixture& fixture : payload_fixtures) {
        const bytes whole = from_hex(fixture.hex);
        const std::string label = fixture.label;
        if (label.find("two gzip members") != std::string::npos) continue;  // see below
        const bool xerial = label.find("xerial") != std::string::npos;
        for (size_t cut : cut_points(whole.size())) {
            SCOPED_TRACE(label + ", cut at " + std::to_string(cut));
            auto out = decompress(fixture.codec, std::span(whole).first(cut), payload.size());
            if (xerial && out.ok()) {
                // xerial has no end mark: a cut between blocks is a shorter
                // stream. The records walk catches what it leaves out.
                EXPECT_LT(out->size(), payload.size());
                EXPECT_TRUE(std::equal(out->begin(), out->end(), payload.begin()));
                continue;
            }
            ASSERT_FALSE(out.ok());
            EXPECT_EQ(out.error().code, compression_errc::corrupt_input);
        }
    }
}

TEST(compression, concatenated_gzip_members_end_only_between_members) {
    const bytes payload = fixture_payload();
    const bytes first = compressed(compression_codec::gzip, std::span(payload).first(1000));
    const bytes second = compressed(compression_codec::gzip, std::span(payload).subspan(1000));
    bytes both = first;
    both.insert(both.end(), second.begin(), second.end());
    auto whole = decompress(compression_codec::gzip, both, payload.size());
    ASSERT_TRUE(whole.ok()) << whole.error().message;
    EXPECT_EQ(*whole, payload);
    auto one = decompress(compression_codec::gzip, std::span(both).first(first.size()), 1000);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->size(), 1000u);
    EXPECT_EQ(decompress_error(compression_codec::gzip, std::span(both).first(first.size() + 5),
                               payload.size()),
              compression_errc::corrupt_input);
}

TEST(compression, refuses_trailing_bytes) {
    const bytes payload = fixture_payload();
    // snappy's raw block states its length and xerial reads blocks to the end:
    // a trailing byte is a bad block in both.
    for (compression_codec codec : all_codecs) {
        SCOPED_TRACE(codec_name(codec));
        bytes packed = compressed(codec, payload);
        packed.push_back(std::byte{0x01});
        EXPECT_EQ(decompress_error(codec, packed, payload.size() * 2),
                  compression_errc::corrupt_input);
    }
    bytes xerial =
        compressed(compression_codec::snappy, payload, {.snappy = snappy_framing::xerial});
    xerial.insert(xerial.end(), {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{9}});
    EXPECT_EQ(decompress_error(compression_codec::snappy, xerial, payload.size() * 2),
              compression_errc::corrupt_input);
}

TEST(compression, refuses_garbage) {
    for (compression_codec codec : all_codecs) {
        SCOPED_TRACE(codec_name(codec));
        EXPECT_EQ(decompress_error(codec, bytes{}, 1024), compression_errc::corrupt_input);
        for (uint32_t seed = 0; seed < 50; ++seed) {
            const bytes garbage = random_bytes(1 + seed * 37, seed);
            auto out = decompress(codec, garbage, 1 << 20);
            // Snappy has no checksum: random bytes can be a valid block. All
            // the others reject them by magic or checksum.
            if (codec == compression_codec::snappy && out.ok()) continue;
            ASSERT_FALSE(out.ok()) << "seed " << seed;
            EXPECT_TRUE(out.error().code == compression_errc::corrupt_input ||
                        out.error().code == compression_errc::output_too_large);
            EXPECT_FALSE(out.error().message.empty());
        }
    }
}

TEST(compression, bit_flips_never_escape_the_bound) {
    const bytes payload = fixture_payload();
    for (const compression_fixture& fixture : payload_fixtures) {
        SCOPED_TRACE(fixture.label);
        const bytes whole = from_hex(fixture.hex);
        std::mt19937 random(7);
        for (int i = 0; i < 200; ++i) {
            bytes damaged = whole;
            damaged[random() % damaged.size()] ^= static_cast<std::byte>(1u << (random() % 8));
            auto out = decompress(fixture.codec, damaged, payload.size());
            if (out.ok()) {
                EXPECT_LE(out->size(), payload.size());
            }
        }
    }
}

// --- Compressed batches --------------------------------------------------------------------

// make_compression_fixtures.py's records.
std::optional<std::string> record_key(int i) {
    if (i % 7 == 3) return std::nullopt;
    return "key-" + std::to_string(i);
}
std::optional<std::string> record_value(int i) {
    if (i % 11 == 5) return std::nullopt;
    std::string one = "value-" + std::to_string(i) + " ";
    std::string out;
    for (int n = 0; n < 8; ++n) out += one;
    return out;
}
std::vector<std::pair<std::string, std::optional<std::string>>> record_headers(int i) {
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    if (i % 3 == 0) out.emplace_back("trace", "t" + std::to_string(i));
    if (i % 5 == 1) out.emplace_back("null", std::nullopt);
    return out;
}
constexpr int fixture_record_count = 30;
constexpr int64_t fixture_base_timestamp_ms = 1700000000000;

std::optional<std::string> as_text(const std::optional<byte_span>& b) {
    if (!b) return std::nullopt;
    return to_string(*b);
}

constexpr validation_options producer_options{};

TEST(compressed_batch, client_batches_validate_and_decode) {
    for (const compression_fixture& fixture : batch_fixtures) {
        SCOPED_TRACE(fixture.label);
        const bytes batch = from_hex(fixture.hex);
        auto header = validate_batch(batch, producer_options);
        ASSERT_TRUE(header.ok()) << name(header.error());
        EXPECT_EQ(header->compression(), fixture.codec);
        EXPECT_EQ(header->record_count, fixture_record_count);
        auto records = validate_compressed_records(batch, *header, offset_delta_policy::exact);
        EXPECT_TRUE(records.ok()) << name(records.error());

        int i = 0;
        auto walked = for_each_decoded_record(batch, [&](const decoded_record& r) {
            SCOPED_TRACE("record " + std::to_string(i));
            EXPECT_EQ(r.offset, header->base_offset + i);
            EXPECT_EQ(r.timestamp_ms, fixture_base_timestamp_ms + 10 * i);
            EXPECT_EQ(as_text(r.key), record_key(i));
            EXPECT_EQ(as_text(r.value), record_value(i));
            std::vector<std::pair<std::string, std::optional<std::string>>> headers;
            auto reader = r.headers();
            record_header h;
            while (reader.next(h)) headers.emplace_back(to_string(h.key), as_text(h.value));
            EXPECT_EQ(headers, record_headers(i));
            ++i;
        });
        EXPECT_TRUE(walked.ok()) << name(walked.error());
        EXPECT_EQ(i, fixture_record_count);
    }
}

TEST(compressed_batch, fixture_batches_have_no_slack_for_the_bound) {
    // The records of each batch, decompressed, are well under 64 KiB; one byte
    // less than their size is too_large, their size is fine.
    for (const compression_fixture& fixture : batch_fixtures) {
        SCOPED_TRACE(fixture.label);
        const bytes batch = from_hex(fixture.hex);
        const batch_header header = validate_batch(batch, producer_options).value();
        auto records =
            decompress(fixture.codec, std::span(batch).subspan(batch_header_size_bytes), 64 * 1024);
        ASSERT_TRUE(records.ok());
        EXPECT_TRUE(
            validate_compressed_records(batch, header, offset_delta_policy::exact, records->size())
                .ok());
        auto short_bound = validate_compressed_records(batch, header, offset_delta_policy::exact,
                                                       records->size() - 1);
        ASSERT_FALSE(short_bound.ok());
        EXPECT_EQ(short_bound.error(), batch_errc::too_large);
    }
}

// Builds a batch of `count` records, takes its records apart, lets `edit`
// change them and the header fields, then compresses the records and puts the
// batch back together with a right CRC: so only the record checks can refuse it.
struct batch_parts {
    int32_t record_count;
    int32_t last_offset_delta;
    bytes records;
};

template <typename Edit>
bytes make_compressed_batch(compression_codec codec, int count, Edit edit,
                            const compress_options& options = {}) {
    record_batch_builder builder;
    builder.set_base_offset(100);
    for (int i = 0; i < count; ++i) {
        builder.add_record(fixture_base_timestamp_ms + i, "key-" + std::to_string(i), "value");
    }
    const bytes plain = builder.build();
    batch_parts parts{count, count - 1,
                      bytes(plain.begin() + batch_header_size_bytes, plain.end())};
    edit(parts);
    const bytes blob = compressed(codec, parts.records, options);

    bytes batch(plain.begin(), plain.begin() + batch_header_size_bytes);
    batch.insert(batch.end(), blob.begin(), blob.end());
    auto put_be32 = [&](size_t at, uint32_t value) {
        for (size_t i = 0; i < 4; ++i) batch[at + i] = std::byte((value >> (24 - 8 * i)) & 0xff);
    };
    put_be32(batch_field::batch_length,
             static_cast<uint32_t>(batch.size() - batch_length_prefix_bytes));
    batch[batch_field::attributes + 1] |= static_cast<std::byte>(codec);
    put_be32(batch_field::last_offset_delta, static_cast<uint32_t>(parts.last_offset_delta));
    put_be32(batch_field::record_count, static_cast<uint32_t>(parts.record_count));
    recompute_crc(batch);
    return batch;
}

// validate_batch accepts the header; the records decide.
batch_errc compressed_records_error(const bytes& batch,
                                    size_t bound = default_max_decompressed_bytes) {
    auto header = validate_batch(batch, producer_options);
    EXPECT_TRUE(header.ok()) << name(header.error());
    if (!header) return batch_errc{};
    auto records = validate_compressed_records(batch, *header, offset_delta_policy::exact, bound);
    EXPECT_FALSE(records.ok());
    return records.ok() ? batch_errc{} : records.error();
}

TEST(compressed_batch, our_own_batches_validate) {
    for (compression_codec codec : all_codecs) {
        SCOPED_TRACE(codec_name(codec));
        const bytes batch = make_compressed_batch(codec, 10, [](batch_parts&) {});
        const batch_header header = validate_batch(batch, producer_options).value();
        EXPECT_TRUE(validate_compressed_records(batch, header, offset_delta_policy::exact).ok());
    }
    const bytes xerial = make_compressed_batch(compression_codec::snappy, 10, [](batch_parts&) {},
                                               {.snappy = snappy_framing::xerial});
    const batch_header header = validate_batch(xerial, producer_options).value();
    EXPECT_TRUE(validate_compressed_records(xerial, header, offset_delta_policy::exact).ok());
}

TEST(compressed_batch, record_count_must_match_the_header) {
    for (compression_codec codec : all_codecs) {
        SCOPED_TRACE(codec_name(codec));
        // The header claims one record more than the blob holds...
        EXPECT_EQ(compressed_records_error(make_compressed_batch(codec, 5,
                                                                 [](batch_parts& p) {
                                                                     ++p.record_count;
                                                                     ++p.last_offset_delta;
                                                                 })),
                  batch_errc::invalid_record_count);
        // ... or one fewer.
        EXPECT_EQ(compressed_records_error(make_compressed_batch(codec, 5,
                                                                 [](batch_parts& p) {
                                                                     --p.record_count;
                                                                     --p.last_offset_delta;
                                                                 })),
                  batch_errc::invalid_record_count);
    }
}

TEST(compressed_batch, refuses_bad_records_inside) {
    const compression_codec codec = compression_codec::lz4;
    // Bytes after the last record.
    EXPECT_EQ(compressed_records_error(make_compressed_batch(
                  codec, 3, [](batch_parts& p) { p.records.push_back(std::byte{0}); })),
              batch_errc::invalid_record_count);
    // The first record's length varint claims one byte more than it has.
    EXPECT_EQ(compressed_records_error(make_compressed_batch(
                  codec, 3,
                  [](batch_parts& p) {
                      p.records[0] = static_cast<std::byte>(static_cast<uint8_t>(p.records[0]) + 2);
                  })),
              batch_errc::invalid_record);
    // The records cut short inside the second.
    EXPECT_EQ(compressed_records_error(make_compressed_batch(
                  codec, 3, [](batch_parts& p) { p.records.resize(p.records.size() / 2); })),
              batch_errc::invalid_record);
    // No records at all behind a header that promises three.
    EXPECT_EQ(compressed_records_error(
                  make_compressed_batch(codec, 3, [](batch_parts& p) { p.records.clear(); })),
              batch_errc::invalid_record_count);
}

TEST(compressed_batch, offset_deltas_must_be_exact) {
    // Record 1 gets offsetDelta 2 (its varint byte is zigzag(1) = 2 -> 4): the
    // producer sent a gap.
    const bytes gapped = make_compressed_batch(compression_codec::zstd, 3, [](batch_parts& p) {
        // Record layout: length varint (1 byte), attributes, timestampDelta, offsetDelta.
        const size_t second = 1 + static_cast<size_t>(static_cast<uint8_t>(p.records[0]) / 2);
        ASSERT_EQ(p.records[second + 3], std::byte{2});
        p.records[second + 3] = std::byte{4};
    });
    EXPECT_EQ(compressed_records_error(gapped), batch_errc::invalid_offset_delta);
    // allow_gaps (compaction) would take the gap but not the third record's
    // delta 2 repeating record 1's.
    const batch_header header = validate_batch(gapped, producer_options).value();
    EXPECT_EQ(validate_compressed_records(gapped, header, offset_delta_policy::allow_gaps).error(),
              batch_errc::invalid_offset_delta);
}

TEST(compressed_batch, refuses_undecodable_and_oversized_blobs) {
    for (compression_codec codec : all_codecs) {
        SCOPED_TRACE(codec_name(codec));
        bytes batch = make_compressed_batch(codec, 20, [](batch_parts&) {});
        // Cut the blob's last bytes (a checksum, an end mark or block data).
        batch.resize(batch.size() - 3);
        const auto length = static_cast<uint32_t>(batch.size() - batch_length_prefix_bytes);
        for (size_t i = 0; i < 4; ++i) {
            batch[batch_field::batch_length + i] = std::byte((length >> (24 - 8 * i)) & 0xff);
        }
        recompute_crc(batch);
        EXPECT_EQ(compressed_records_error(batch), batch_errc::invalid_compressed_data);

        const bytes whole = make_compressed_batch(codec, 20, [](batch_parts&) {});
        EXPECT_EQ(compressed_records_error(whole, 100), batch_errc::too_large);
        std::vector<std::byte> storage;
        EXPECT_EQ(open_records(whole, 100, storage).error(), batch_errc::too_large);
    }
}

TEST(compressed_batch, uncompressed_batches_pass_through) {
    record_batch_builder builder;
    builder.set_base_offset(7).add_record(1000, "a", "1").add_record(1005, "b", "2");
    const bytes batch = builder.build();
    const batch_header header = validate_batch(batch, producer_options).value();
    EXPECT_TRUE(validate_compressed_records(batch, header, offset_delta_policy::exact).ok());
    std::vector<std::pair<int64_t, std::string>> seen;
    auto walked = for_each_decoded_record(batch, [&](const decoded_record& r) {
        seen.emplace_back(r.offset, to_string(*r.key) + "=" + to_string(*r.value) + "@" +
                                        std::to_string(r.timestamp_ms));
    });
    ASSERT_TRUE(walked.ok());
    const std::vector<std::pair<int64_t, std::string>> expected = {{7, "a=1@1000"},
                                                                   {8, "b=2@1005"}};
    EXPECT_EQ(seen, expected);
}

TEST(compressed_batch, walk_stops_when_asked) {
    const bytes batch = make_compressed_batch(compression_codec::gzip, 10, [](batch_parts&) {});
    int seen = 0;
    auto walked = for_each_decoded_record(batch, [&](const decoded_record&) { return ++seen < 3; });
    EXPECT_TRUE(walked.ok());
    EXPECT_EQ(seen, 3);
}

TEST(compressed_batch, codecs_five_to_seven_are_unsupported) {
    bytes batch = make_compressed_batch(compression_codec::gzip, 2, [](batch_parts&) {});
    batch[batch_field::attributes + 1] |= std::byte{0x07};
    recompute_crc(batch);
    EXPECT_EQ(validate_batch(batch, producer_options).error(), batch_errc::unsupported_compression);
    EXPECT_EQ(for_each_decoded_record(batch, [](const decoded_record&) {}).error(),
              batch_errc::unsupported_compression);
}

}  // namespace
}  // namespace tl::storage
