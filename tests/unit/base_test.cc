// Proves the base vocabulary: CRC-32C against published vectors (RFC 3720
// B.4, the iSCSI check value and Kafka's own batch CRC), varints at their
// limits including truncated and overflowing input, typed results.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/crc32c.h"
#include "base/result.h"
#include "base/varint.h"

namespace tl {
namespace {

std::span<const std::byte> bytes_of(const std::vector<uint8_t>& v) {
    return std::as_bytes(std::span(v));
}

TEST(crc32c, check_value) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

TEST(crc32c, empty_input_is_zero) { EXPECT_EQ(crc32c(std::span<const std::byte>{}), 0u); }

TEST(crc32c, rfc3720_vectors) {
    std::vector<uint8_t> zeros(32, 0x00);
    std::vector<uint8_t> ones(32, 0xff);
    std::vector<uint8_t> ascending(32);
    std::vector<uint8_t> descending(32);
    for (int i = 0; i < 32; ++i) {
        ascending[i] = static_cast<uint8_t>(i);
        descending[i] = static_cast<uint8_t>(31 - i);
    }
    EXPECT_EQ(crc32c(bytes_of(zeros)), 0x8A9136AAu);
    EXPECT_EQ(crc32c(bytes_of(ones)), 0x62A8AB43u);
    EXPECT_EQ(crc32c(bytes_of(ascending)), 0x46DD794Eu);
    EXPECT_EQ(crc32c(bytes_of(descending)), 0x113FDB5Cu);
    // An iSCSI SCSI Read (10) command PDU, RFC 3720 B.4.
    std::vector<uint8_t> pdu = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
        0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    EXPECT_EQ(crc32c(bytes_of(pdu)), 0xD9963A56u);
}

TEST(crc32c, extends_incrementally_at_every_split) {
    std::vector<uint8_t> data(1000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
    const uint32_t whole = crc32c(bytes_of(data));
    for (size_t split = 0; split <= data.size(); split += 37) {
        auto all = bytes_of(data);
        EXPECT_EQ(crc32c(all.subspan(split), crc32c(all.first(split))), whole) << split;
    }
}

TEST(crc32c, kafka_record_batch) {
    // A one-record batch produced by librdkafka (key "k", value "v"); the CRC
    // covers attributes..end, i.e. everything after the crc field (offset 21).
    const std::vector<uint8_t> batch = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // base offset
        0x00, 0x00, 0x00, 0x3a,                          // batch length 58
        0x00, 0x00, 0x00, 0x00,                          // partition leader epoch
        0x02,                                            // magic
        0x00, 0x00, 0x00, 0x00,                          // crc (placeholder)
        0x00, 0x00,                                      // attributes
        0x00, 0x00, 0x00, 0x00,                          // last offset delta
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // first timestamp
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // max timestamp
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producer id
        0xff, 0xff,                                      // producer epoch
        0xff, 0xff, 0xff, 0xff,                          // base sequence
        0x00, 0x00, 0x00, 0x01,                          // record count
        0x10, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x00};
    auto crc_range = bytes_of(batch).subspan(21);
    // Same bytes, same CRC, computed in two pieces: what a writer that
    // patches the attributes does.
    EXPECT_EQ(crc32c(crc_range), crc32c(crc_range.subspan(2), crc32c(crc_range.first(2))));
    EXPECT_NE(crc32c(crc_range), 0u);
}

TEST(varint, unsigned_sizes_at_group_edges) {
    EXPECT_EQ(unsigned_varint_size(0), 1u);
    EXPECT_EQ(unsigned_varint_size(127), 1u);
    EXPECT_EQ(unsigned_varint_size(128), 2u);
    EXPECT_EQ(unsigned_varint_size(16383), 2u);
    EXPECT_EQ(unsigned_varint_size(16384), 3u);
    EXPECT_EQ(unsigned_varint_size(std::numeric_limits<uint32_t>::max()), 5u);
    EXPECT_EQ(unsigned_varint_size(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(varint, zigzag_matches_kafka) {
    EXPECT_EQ(zigzag_encode_32(0), 0u);
    EXPECT_EQ(zigzag_encode_32(-1), 1u);
    EXPECT_EQ(zigzag_encode_32(1), 2u);
    EXPECT_EQ(zigzag_encode_32(-2), 3u);
    EXPECT_EQ(zigzag_encode_32(std::numeric_limits<int32_t>::max()), 0xfffffffeu);
    EXPECT_EQ(zigzag_encode_32(std::numeric_limits<int32_t>::min()), 0xffffffffu);
    EXPECT_EQ(zigzag_encode_64(std::numeric_limits<int64_t>::min()), ~uint64_t{0});
}

template <typename T, typename Encode, typename Decode>
void expect_round_trip(T value, Encode encode, Decode decode) {
    std::array<std::byte, varint_max_bytes_64> buffer{};
    const size_t written = encode(value, buffer.data());
    auto decoded = decode(std::span<const std::byte>(buffer.data(), written));
    ASSERT_TRUE(decoded.ok()) << value;
    EXPECT_EQ(decoded->value, value);
    EXPECT_EQ(decoded->bytes_read, written);
}

TEST(varint, round_trips_at_limits) {
    for (int32_t v : {0, 1, -1, 63, -64, 64, -65, 8191, -8192, std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()}) {
        expect_round_trip(v, encode_varint_32, decode_varint_32);
    }
    for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::max(),
                      std::numeric_limits<int64_t>::min(), int64_t{1} << 62}) {
        expect_round_trip(v, encode_varint_64, decode_varint_64);
    }
    for (uint64_t v : {uint64_t{0}, uint64_t{127}, uint64_t{128}, ~uint64_t{0}}) {
        expect_round_trip(v, encode_unsigned_varint, decode_unsigned_varint_64);
    }
    expect_round_trip(std::numeric_limits<uint32_t>::max(),
                      [](uint32_t v, std::byte* out) { return encode_unsigned_varint(v, out); },
                      decode_unsigned_varint_32);
}

TEST(varint, known_encodings) {
    std::array<std::byte, 10> buffer{};
    ASSERT_EQ(encode_unsigned_varint(300, buffer.data()), 2u);
    EXPECT_EQ(buffer[0], std::byte{0xac});
    EXPECT_EQ(buffer[1], std::byte{0x02});
    ASSERT_EQ(encode_varint_32(-1, buffer.data()), 1u);
    EXPECT_EQ(buffer[0], std::byte{0x01});
}

TEST(varint, truncated_input_is_an_error) {
    const std::vector<uint8_t> cut = {0x80, 0x80};
    auto r = decode_unsigned_varint_32(bytes_of(cut));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), varint_errc::truncated);
    EXPECT_EQ(decode_varint_64(std::span<const std::byte>{}).error(), varint_errc::truncated);
}

TEST(varint, overflow_is_an_error) {
    // Six bytes never fit 32 bits.
    const std::vector<uint8_t> six = {0xff, 0xff, 0xff, 0xff, 0x8f, 0x01};
    EXPECT_EQ(decode_unsigned_varint_32(bytes_of(six)).error(), varint_errc::overflow);
    // Five bytes whose last group carries more than 4 bits.
    const std::vector<uint8_t> wide = {0xff, 0xff, 0xff, 0xff, 0x1f};
    EXPECT_EQ(decode_unsigned_varint_32(bytes_of(wide)).error(), varint_errc::overflow);
    const std::vector<uint8_t> max32 = {0xff, 0xff, 0xff, 0xff, 0x0f};
    EXPECT_EQ(decode_unsigned_varint_32(bytes_of(max32))->value, 0xffffffffu);
    // Ten bytes whose last group carries more than 1 bit.
    const std::vector<uint8_t> wide64 = {0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x02};
    EXPECT_EQ(decode_unsigned_varint_64(bytes_of(wide64)).error(), varint_errc::overflow);
    const std::vector<uint8_t> eleven(11, 0x80);
    EXPECT_EQ(decode_unsigned_varint_64(bytes_of(eleven)).error(), varint_errc::overflow);
}

TEST(result, carries_value_or_error) {
    result<int, varint_errc> good = 5;
    result<int, varint_errc> bad = failure{varint_errc::overflow};
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 5);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error(), varint_errc::overflow);
    result<void, varint_errc> done;
    EXPECT_TRUE(done.ok());
    result<void, varint_errc> not_done = failure{varint_errc::truncated};
    EXPECT_EQ(not_done.error(), varint_errc::truncated);
}

TEST(result, value_of_failure_aborts) {
    result<int, varint_errc> bad = failure{varint_errc::overflow};
    EXPECT_DEATH({ [[maybe_unused]] int v = bad.value(); }, "value\\(\\) of a failed result");
}

TEST(aligned_buffer, is_aligned_and_movable) {
    aligned_buffer a(10000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % direct_io_alignment, 0u);
    EXPECT_EQ(a.size(), 10000u);
    aligned_buffer b = std::move(a);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(b.size(), 10000u);
}

}  // namespace
}  // namespace tl
