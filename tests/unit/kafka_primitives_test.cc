// Proves the Kafka wire primitives in src/kafka/protocol (reader.h, writer.h):
// exact bytes for each encoding (big-endian integers, unsigned and zigzag
// varints, int16/compact strings, int32/compact bytes and arrays, nulls,
// uuids, tagged fields whose size prefix grows to two bytes, the counting
// writer), views into the input, sticky errors, and the reader's typed errors
// with their offsets for bad lengths, huge counts and overlong varints. Each
// malformed input sits in an exactly-sized buffer, so ASan sees any over-read.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol/reader.h"
#include "kafka/protocol/writer.h"

namespace tl::kafka {
namespace {

using bytes = std::vector<std::byte>;

bytes make_bytes(std::initializer_list<int> values) {
    bytes out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

std::string hex(std::span<const std::byte> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::byte b : data) {
        out += digits[std::to_integer<int>(b) >> 4];
        out += digits[std::to_integer<int>(b) & 15];
    }
    return out;
}

TEST(kafka_primitives, integers_are_big_endian) {
    writer w;
    w.write_int8(-2);
    w.write_int16(0x0102);
    w.write_int32(-1);
    w.write_int64(0x0102030405060708);
    w.write_uint16(0xfffe);
    w.write_uint32(0x80000000U);
    w.write_bool(true);
    w.write_float64(1.5);
    EXPECT_EQ(hex(w.data()),
              "fe"
              "0102"
              "ffffffff"
              "0102030405060708"
              "fffe"
              "80000000"
              "01"
              "3ff8000000000000");
    reader r(w.data());
    EXPECT_EQ(r.read_int8(), -2);
    EXPECT_EQ(r.read_int16(), 0x0102);
    EXPECT_EQ(r.read_int32(), -1);
    EXPECT_EQ(r.read_int64(), 0x0102030405060708);
    EXPECT_EQ(r.read_uint16(), 0xfffe);
    EXPECT_EQ(r.read_uint32(), 0x80000000U);
    EXPECT_TRUE(r.read_bool());
    EXPECT_EQ(r.read_float64(), 1.5);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
}

TEST(kafka_primitives, any_nonzero_byte_is_true) {
    const bytes in = make_bytes({0x00, 0x02, 0xff});
    reader r(in);
    EXPECT_FALSE(r.read_bool());
    EXPECT_TRUE(r.read_bool());
    EXPECT_TRUE(r.read_bool());
}

TEST(kafka_primitives, varints) {
    writer w;
    w.write_unsigned_varint(0);
    w.write_unsigned_varint(127);
    w.write_unsigned_varint(128);
    w.write_unsigned_varint(300);
    w.write_unsigned_varint(0xffffffff);
    w.write_varint(-1);
    w.write_varlong(-65);
    EXPECT_EQ(hex(w.data()),
              "00"
              "7f"
              "8001"
              "ac02"
              "ffffffff0f"
              "01"
              "8101");
    reader r(w.data());
    EXPECT_EQ(r.read_unsigned_varint(), 0U);
    EXPECT_EQ(r.read_unsigned_varint(), 127U);
    EXPECT_EQ(r.read_unsigned_varint(), 128U);
    EXPECT_EQ(r.read_unsigned_varint(), 300U);
    EXPECT_EQ(r.read_unsigned_varint(), 0xffffffffU);
    EXPECT_EQ(r.read_varint(), -1);
    EXPECT_EQ(r.read_varlong(), -65);
    EXPECT_TRUE(r.ok());
}

TEST(kafka_primitives, overlong_varint_is_refused) {
    const bytes six = make_bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
    reader r(six);
    EXPECT_EQ(r.read_unsigned_varint(), 0U);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, decode_errc::varint_overflow);
    const bytes too_big = make_bytes({0xff, 0xff, 0xff, 0xff, 0x10});  // 2^32 and more
    reader r2(too_big);
    (void)r2.read_unsigned_varint();
    EXPECT_EQ(r2.error().code, decode_errc::varint_overflow);
    const bytes cut = make_bytes({0x80, 0x80});
    reader r3(cut);
    (void)r3.read_unsigned_varint();
    EXPECT_EQ(r3.error().code, decode_errc::truncated);
}

TEST(kafka_primitives, strings_and_nulls) {
    writer w;
    w.write_string("abc", false);
    w.write_string("abc", true);
    w.write_nullable_string(std::nullopt, false, true);
    w.write_nullable_string(std::nullopt, true, true);
    w.write_string("", false);
    w.write_string("", true);
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(hex(w.data()),
              "0003616263"
              "04616263"
              "ffff"
              "00"
              "0000"
              "01");
    reader r(w.data());
    EXPECT_EQ(r.read_string(false), "abc");
    EXPECT_EQ(r.read_string(true), "abc");
    EXPECT_EQ(r.read_nullable_string(false, true), std::nullopt);
    EXPECT_EQ(r.read_nullable_string(true, true), std::nullopt);
    EXPECT_EQ(r.read_nullable_string(false, true), std::optional<std::string_view>(""));
    EXPECT_EQ(r.read_string(true), "");
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
}

TEST(kafka_primitives, decoded_strings_view_the_input) {
    const bytes in = make_bytes({0x00, 0x02, 'h', 'i'});
    reader r(in);
    const std::string_view s = r.read_string(false);
    EXPECT_EQ(static_cast<const void*>(s.data()), static_cast<const void*>(in.data() + 2));
}

TEST(kafka_primitives, bytes_and_arrays) {
    const bytes payload = make_bytes({1, 2, 3});
    writer w;
    w.write_bytes(bytes_view(payload), false);
    w.write_bytes(bytes_view(payload), true);
    w.write_nullable_bytes(std::nullopt, false, true);
    w.write_nullable_bytes(std::nullopt, true, true);
    w.write_array_length(2, false);
    w.write_array_length(2, true);
    w.write_null_array_length(false);
    w.write_uuid(uuid{.bytes = {std::byte{1},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                {},
                                std::byte{0xff}}});
    EXPECT_EQ(hex(w.data()),
              "00000003010203"
              "04010203"
              "ffffffff"
              "00"
              "00000002"
              "03"
              "ffffffff"
              "010000000000000000000000000000ff");
    reader r(w.data());
    EXPECT_EQ(r.read_bytes(false), bytes_view(payload));
    EXPECT_EQ(r.read_bytes(true), bytes_view(payload));
    EXPECT_EQ(r.read_nullable_bytes(false, true), std::nullopt);
    EXPECT_EQ(r.read_nullable_bytes(true, true), std::nullopt);
    EXPECT_EQ(r.read_array_length(false, 1), 2);
    EXPECT_EQ(r.read_array_length(true, 1), 2);
    EXPECT_EQ(r.read_array_length(false, 1), -1);
    EXPECT_EQ(r.read_uuid().bytes[15], std::byte{0xff});
    EXPECT_TRUE(r.ok());
}

TEST(kafka_primitives, tagged_field_size_is_put_in_front_of_its_value) {
    const std::string long_value(200, 'x');  // size 201 needs a two-byte varint
    writer w;
    w.write_unsigned_varint(2);
    const size_t start = w.begin_tagged_field(1);
    w.write_int8(7);
    w.end_tagged_field(start);
    const size_t start2 = w.begin_tagged_field(300);
    w.write_string(long_value, true);
    w.end_tagged_field(start2);
    const std::string h = hex(w.data());
    EXPECT_EQ(h.substr(0, 2 + 2 + 2 + 2),
              "02"
              "01"
              "01"
              "07");
    EXPECT_EQ(h.substr(8, 4 + 4 + 4),
              "ac02"
              "ca01"
              "c901");  // tag 300, size 202, length 201

    writer counter = writer::counting();
    counter.write_unsigned_varint(2);
    const size_t c1 = counter.begin_tagged_field(1);
    counter.write_int8(7);
    counter.end_tagged_field(c1);
    const size_t c2 = counter.begin_tagged_field(300);
    counter.write_string(long_value, true);
    counter.end_tagged_field(c2);
    EXPECT_EQ(counter.size(), w.size());

    reader r(w.data());
    ASSERT_EQ(r.read_tagged_field_count(), 2U);
    auto first = r.read_tagged_field();
    EXPECT_EQ(first.tag, 1U);
    EXPECT_EQ(first.data.read_int8(), 7);
    r.finish_tagged_field(first.data);
    auto second = r.read_tagged_field();
    EXPECT_EQ(second.tag, 300U);
    EXPECT_EQ(second.data.read_string(true), long_value);
    r.finish_tagged_field(second.data);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
}

TEST(kafka_primitives, bad_lengths_are_typed_errors) {
    struct case_t {
        bytes input;
        int what;  // 0 string, 1 compact string, 2 bytes, 3 array, 4 compact array
        decode_errc expected;
        size_t offset;
    };
    const std::vector<case_t> cases = {
        {make_bytes({0xff, 0xfe}), 0, decode_errc::invalid_length, 0},        // length -2
        {make_bytes({0xff, 0xff}), 0, decode_errc::null_not_allowed, 0},      // null
        {make_bytes({0x00, 0x05, 'a'}), 0, decode_errc::truncated, 2},        // 5 > 1 left
        {make_bytes({0x00}), 1, decode_errc::null_not_allowed, 0},            // compact null
        {make_bytes({0x82, 0x80, 0x02}), 1, decode_errc::invalid_length, 0},  // 32769 chars
        {make_bytes({0x05, 'a'}), 1, decode_errc::truncated, 1},
        {make_bytes({0xff, 0xff, 0xff, 0xfe}), 2, decode_errc::invalid_length, 0},
        {make_bytes({0x7f, 0xff, 0xff, 0xff}), 2, decode_errc::truncated, 4},
        {make_bytes({0xff, 0xff, 0xff, 0xfe}), 3, decode_errc::invalid_length, 0},
        {make_bytes({0x80, 0x00, 0x00, 0x00}), 3, decode_errc::invalid_length, 0},  // INT32_MIN
        {make_bytes({0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}), 3, decode_errc::array_too_long, 0},
        {make_bytes({0x00, 0x00, 0x00, 0x03, 0, 0, 0, 0}), 3, decode_errc::array_too_long, 0},
        // count+1 = 2^32-1: a count beyond INT32_MAX.
        {make_bytes({0xff, 0xff, 0xff, 0xff, 0x0f}), 4, decode_errc::invalid_length, 0},
        {make_bytes({0x80, 0x80, 0x80, 0x80, 0x01, 0}), 4, decode_errc::array_too_long, 0},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const bytes input = c.input;  // exactly sized
        reader r(input);
        switch (c.what) {
            case 0:
                (void)r.read_string(false);
                break;
            case 1:
                (void)r.read_string(true);
                break;
            case 2:
                (void)r.read_bytes(false);
                break;
            case 3:
                (void)r.read_array_length(false, 4);
                break;
            case 4:
                (void)r.read_array_length(true, 1);
                break;
        }
        ASSERT_FALSE(r.ok()) << "case " << i;
        EXPECT_EQ(r.error().code, c.expected) << "case " << i << ": " << to_string(r.error().code);
        EXPECT_EQ(r.error().offset, c.offset) << "case " << i;
    }
}

TEST(kafka_primitives, errors_are_sticky) {
    const bytes in = make_bytes({0x00, 0x01, 0x02});
    reader r(in);
    EXPECT_EQ(r.read_int32(), 0);
    EXPECT_EQ(r.error().code, decode_errc::truncated);
    EXPECT_EQ(r.read_int8(), 0);  // would have succeeded on a fresh reader
    EXPECT_EQ(r.error().offset, 0U);
    EXPECT_EQ(r.remaining(), 0U);
}

TEST(kafka_primitives, huge_tagged_field_count_is_refused) {
    const bytes in = make_bytes({0xff, 0xff, 0x03, 0x00, 0x00});
    reader r(in);
    EXPECT_EQ(r.read_tagged_field_count(), 0U);
    EXPECT_EQ(r.error().code, decode_errc::array_too_long);
}

}  // namespace
}  // namespace tl::kafka
