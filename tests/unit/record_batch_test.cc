// Proves the Kafka v2 record batch code in src/storage/record_batch.h:
// - the layout, against two batches written out byte by byte from the Kafka
//   protocol guide, whose CRC-32C constants come from an independent bitwise
//   CRC-32C in Python (poly 0x82F63B78, checked on "123456789" -> 0xE3069283),
//   not from our ISA-L-backed crc32c; the builder must reproduce them exactly;
// - validation: every truncation and every single-bit flip of a valid batch is
//   refused with the expected error, except in the fields the CRC does not cover
//   (baseOffset, partitionLeaderEpoch), which must still validate; then one test
//   per structural error, each on a batch whose CRC was recomputed after the
//   damage so that the structural check (not the CRC) must catch it;
// - the mutators used on append keep batches valid, and the builder and the
//   record reader round-trip keys, values, headers, nulls and timestamps.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/crc32c.h"
#include "storage/record_batch.h"

namespace tl::storage {
namespace {

using bytes = std::vector<std::byte>;

bytes make_bytes(std::initializer_list<uint8_t> values) {
    bytes out;
    out.reserve(values.size());
    for (uint8_t v : values) out.push_back(std::byte{v});
    return out;
}

byte_span text(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string to_string(byte_span b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void put_be32(bytes& b, size_t offset, uint32_t value) {
    for (size_t i = 0; i < 4; ++i) b[offset + i] = std::byte(value >> (24 - 8 * i));
}

void put_be16(bytes& b, size_t offset, uint16_t value) {
    b[offset] = std::byte(value >> 8);
    b[offset + 1] = std::byte(value & 0xff);
}

// Producers: exact deltas, at least one record. Recovery and replication: gaps
// and empty batches from compaction.
constexpr validation_options producer_options{};
constexpr validation_options log_options{.offset_deltas = offset_delta_policy::allow_gaps,
                                         .record_count = record_count_policy::allow_empty};

batch_errc validate_error(const bytes& b, const validation_options& options = producer_options) {
    auto r = validate_batch(b, options);
    EXPECT_FALSE(r.ok());
    return r.ok() ? batch_errc{} : r.error();
}

// Damage a batch, then make its CRC right again, so only structure can catch it.
void reseal(bytes& b) {
    recompute_crc(b);
}

// One record, key "k", value "v", no headers. baseOffset 42, leader epoch 7,
// timestamps 1700000000000, producer 1234 epoch 5 sequence 9.
// CRC 0xEEBE4EDC from the independent Python CRC-32C over bytes 21..69.
const bytes one_record_batch = make_bytes({
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  // baseOffset 42
    0x00, 0x00, 0x00, 0x3a,                          // batchLength 58
    0x00, 0x00, 0x00, 0x07,                          // partitionLeaderEpoch 7
    0x02,                                            // magic
    0xee, 0xbe, 0x4e, 0xdc,                          // crc
    0x00, 0x00,                                      // attributes
    0x00, 0x00, 0x00, 0x00,                          // lastOffsetDelta 0
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // baseTimestamp 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // maxTimestamp
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xd2,  // producerId 1234
    0x00, 0x05,                                      // producerEpoch 5
    0x00, 0x00, 0x00, 0x09,                          // baseSequence 9
    0x00, 0x00, 0x00, 0x01,                          // recordCount 1
    0x10,                                            // record length 8 (zigzag)
    0x00,                                            // attributes
    0x00,                                            // timestampDelta 0
    0x00,                                            // offsetDelta 0
    0x02, 0x6b,                                      // key length 1, "k"
    0x02, 0x76,                                      // value length 1, "v"
    0x00,                                            // header count 0
});
constexpr uint32_t one_record_crc = 0xEEBE4EDC;

// Two records: (null key, value "hello", header "h"="x") then (key "k", null
// value) 5 ms later at offsetDelta 1. baseOffset 1000, epoch -1, no producer.
// CRC 0xF64862A3 from the independent Python CRC-32C over bytes 21..84.
const bytes two_record_batch = make_bytes({
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // baseOffset 1000
    0x00, 0x00, 0x00, 0x49,                          // batchLength 73
    0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
    0x02,                                            // magic
    0xf6, 0x48, 0x62, 0xa3,                          // crc
    0x00, 0x00,                                      // attributes
    0x00, 0x00, 0x00, 0x01,                          // lastOffsetDelta 1
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // baseTimestamp 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05,  // maxTimestamp 1700000000005
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
    0xff, 0xff,                                      // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,                          // baseSequence -1
    0x00, 0x00, 0x00, 0x02,                          // recordCount 2
    // record 0 @61
    0x1e,                           // length 15
    0x00, 0x00, 0x00,               // attributes, timestampDelta 0, offsetDelta 0
    0x01,                           // key length -1: null  @65
    0x0a, 'h', 'e', 'l', 'l', 'o',  // value length 5
    0x02,                           // header count 1  @72
    0x02, 'h',                      // header key length 1  @73
    0x02, 'x',                      // header value length 1  @75
    // record 1 @77
    0x0e,              // length 7
    0x00, 0x0a, 0x02,  // attributes, timestampDelta 5, offsetDelta 1  @80
    0x02, 'k',         // key
    0x01,              // value length -1: null
    0x00,              // header count 0
});
constexpr uint32_t two_record_crc = 0xF64862A3;
constexpr size_t two_record_key_length_at = 65;
constexpr size_t two_record_header_count_at = 72;
constexpr size_t two_record_header_key_length_at = 73;
constexpr size_t two_record_second_offset_delta_at = 80;

constexpr int64_t timestamp_ms = 1'700'000'000'000;

// A batch whose every prefix of 1-11 bytes is non-zero, so truncation inside the
// first 12 bytes reads as truncated, not as a zeroed tail.
bytes varied_batch() {
    const std::string big(20'000, 'z');  // a 3-byte varint length
    const record_header headers[] = {{text("trace"), text("abc")}, {text("nil"), std::nullopt}};
    return record_batch_builder()
        .set_base_offset(0x0102030405060708)
        .set_partition_leader_epoch(3)
        .set_producer(77, 2, 1000)
        .add_record(timestamp_ms, "key-0", "value-0")
        .add_record({.timestamp_ms = timestamp_ms - 40,  // older than the first: negative delta
                     .key = std::nullopt,
                     .value = text(std::string_view(big).substr(0, 300)),
                     .headers = headers})
        .add_record({.timestamp_ms = timestamp_ms + 9, .key = text(""), .value = std::nullopt})
        .add_record({.timestamp_ms = timestamp_ms + 1, .key = text("k"), .value = text(big)})
        .build();
}

TEST(record_batch, layout_constants) {
    EXPECT_EQ(batch_header_size_bytes, 61u);
    EXPECT_EQ(batch_length_prefix_bytes, 12u);
    EXPECT_EQ(batch_length_min, 49);
    EXPECT_EQ(batch_field::crc, 17u);
    EXPECT_EQ(batch_field::attributes, 21u);
    EXPECT_EQ(batch_field::record_count, 57u);
}

TEST(record_batch, known_good_one_record) {
    ASSERT_EQ(one_record_batch.size(), 70u);
    // Our CRC implementation agrees with the independent one.
    EXPECT_EQ(compute_batch_crc(one_record_batch), one_record_crc);
    EXPECT_EQ(crc32c(byte_span(one_record_batch).subspan(21)), one_record_crc);

    auto header = validate_batch(one_record_batch, producer_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->base_offset, 42);
    EXPECT_EQ(header->batch_length, 58);
    EXPECT_EQ(header->size_bytes(), 70u);
    EXPECT_EQ(header->partition_leader_epoch, 7);
    EXPECT_EQ(header->magic, 2);
    EXPECT_EQ(header->crc, one_record_crc);
    EXPECT_EQ(header->attributes, 0);
    EXPECT_EQ(header->compression(), compression_codec::none);
    EXPECT_EQ(header->timestamps(), timestamp_type::create_time);
    EXPECT_FALSE(header->is_transactional());
    EXPECT_FALSE(header->is_control());
    EXPECT_FALSE(header->has_delete_horizon());
    EXPECT_EQ(header->last_offset_delta, 0);
    EXPECT_EQ(header->last_offset(), 42);
    EXPECT_EQ(header->base_timestamp_ms, timestamp_ms);
    EXPECT_EQ(header->max_timestamp_ms, timestamp_ms);
    EXPECT_EQ(header->producer_id, 1234);
    EXPECT_TRUE(header->has_producer_id());
    EXPECT_EQ(header->producer_epoch, 5);
    EXPECT_EQ(header->base_sequence, 9);
    EXPECT_EQ(header->last_sequence(), 9);
    EXPECT_EQ(header->record_count, 1);
    EXPECT_EQ(peek_batch_size(one_record_batch, default_max_batch_size_bytes).value(), 70u);

    int seen = 0;
    auto walked = for_each_record(one_record_batch, [&](const record_view& r) {
        ++seen;
        EXPECT_EQ(r.offset_delta, 0);
        EXPECT_EQ(r.timestamp_delta_ms, 0);
        EXPECT_EQ(record_offset(*header, r), 42);
        EXPECT_EQ(record_timestamp_ms(*header, r), timestamp_ms);
        ASSERT_TRUE(r.key && r.value);
        EXPECT_EQ(to_string(*r.key), "k");
        EXPECT_EQ(to_string(*r.value), "v");
        EXPECT_EQ(r.header_count, 0);
        EXPECT_EQ(r.size_bytes, 9u);
    });
    EXPECT_TRUE(walked.ok());
    EXPECT_EQ(seen, 1);

    const bytes built = record_batch_builder()
                            .set_base_offset(42)
                            .set_partition_leader_epoch(7)
                            .set_producer(1234, 5, 9)
                            .add_record(timestamp_ms, "k", "v")
                            .build();
    EXPECT_EQ(built, one_record_batch);
}

TEST(record_batch, known_good_two_records_with_header_and_nulls) {
    ASSERT_EQ(two_record_batch.size(), 85u);
    EXPECT_EQ(compute_batch_crc(two_record_batch), two_record_crc);
    auto header = validate_batch(two_record_batch, producer_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->base_offset, 1000);
    EXPECT_EQ(header->partition_leader_epoch, -1);
    EXPECT_EQ(header->last_offset(), 1001);
    EXPECT_EQ(header->max_timestamp_ms, timestamp_ms + 5);
    EXPECT_FALSE(header->has_producer_id());
    EXPECT_EQ(header->last_sequence(), no_sequence);

    auto reader = record_reader::open(two_record_batch);
    ASSERT_TRUE(reader.ok());
    record_view r;
    ASSERT_TRUE(reader->next(r).value());
    EXPECT_FALSE(r.key.has_value());
    EXPECT_EQ(to_string(r.value.value()), "hello");
    EXPECT_EQ(r.header_count, 1);
    auto headers = r.headers();
    record_header h;
    ASSERT_TRUE(headers.next(h));
    EXPECT_EQ(to_string(h.key), "h");
    EXPECT_EQ(to_string(h.value.value()), "x");
    EXPECT_FALSE(headers.next(h));

    ASSERT_TRUE(reader->next(r).value());
    EXPECT_EQ(to_string(r.key.value()), "k");
    EXPECT_FALSE(r.value.has_value());
    EXPECT_EQ(r.offset_delta, 1);
    EXPECT_EQ(record_offset(*header, r), 1001);
    EXPECT_EQ(record_timestamp_ms(*header, r), timestamp_ms + 5);
    EXPECT_FALSE(reader->next(r).value());
    EXPECT_EQ(reader->records_left(), 0);

    const record_header first_headers[] = {{text("h"), text("x")}};
    const bytes built =
        record_batch_builder()
            .set_base_offset(1000)
            .add_record(
                {.timestamp_ms = timestamp_ms, .value = text("hello"), .headers = first_headers})
            .add_record({.timestamp_ms = timestamp_ms + 5, .key = text("k")})
            .build();
    EXPECT_EQ(built, two_record_batch);
}

TEST(record_batch, builder_round_trip) {
    const bytes batch = varied_batch();
    auto header = validate_batch(batch, producer_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->record_count, 4);
    EXPECT_EQ(header->last_offset_delta, 3);
    EXPECT_EQ(header->base_timestamp_ms, timestamp_ms);
    EXPECT_EQ(header->max_timestamp_ms, timestamp_ms + 9);
    EXPECT_EQ(header->producer_id, 77);
    EXPECT_EQ(header->producer_epoch, 2);
    EXPECT_EQ(header->base_sequence, 1000);
    EXPECT_EQ(header->last_sequence(), 1003);
    EXPECT_EQ(header->partition_leader_epoch, 3);
    // Recovery's view of the same batch agrees.
    EXPECT_TRUE(validate_batch(batch, log_options).ok());

    std::vector<int64_t> timestamps;
    std::vector<int64_t> offsets;
    std::vector<std::string> keys;
    std::vector<size_t> value_sizes;
    int with_headers = 0;
    auto walked = for_each_record(batch, [&](const record_view& r) {
        timestamps.push_back(record_timestamp_ms(*header, r));
        offsets.push_back(record_offset(*header, r));
        keys.push_back(r.key ? to_string(*r.key) : "<null>");
        value_sizes.push_back(r.value ? r.value->size() : 0);
        if (r.header_count == 0) return;
        ++with_headers;
        auto headers = r.headers();
        record_header h;
        ASSERT_TRUE(headers.next(h));
        EXPECT_EQ(to_string(h.key), "trace");
        EXPECT_EQ(to_string(h.value.value()), "abc");
        ASSERT_TRUE(headers.next(h));
        EXPECT_EQ(to_string(h.key), "nil");
        EXPECT_FALSE(h.value.has_value());
        EXPECT_FALSE(headers.next(h));
    });
    ASSERT_TRUE(walked.ok()) << name(walked.error());
    const int64_t base = 0x0102030405060708;
    EXPECT_EQ(offsets, (std::vector<int64_t>{base, base + 1, base + 2, base + 3}));
    EXPECT_EQ(timestamps, (std::vector<int64_t>{timestamp_ms, timestamp_ms - 40, timestamp_ms + 9,
                                                timestamp_ms + 1}));
    EXPECT_EQ(keys, (std::vector<std::string>{"key-0", "<null>", "", "k"}));
    EXPECT_EQ(value_sizes, (std::vector<size_t>{7, 300, 0, 20'000}));
    EXPECT_EQ(with_headers, 1);
}

TEST(record_batch, for_each_record_stops_when_asked) {
    const bytes batch = varied_batch();
    int seen = 0;
    auto walked = for_each_record(batch, [&](const record_view&) { return ++seen < 2; });
    EXPECT_TRUE(walked.ok());
    EXPECT_EQ(seen, 2);
}

TEST(record_batch, empty_batch) {
    const bytes batch = record_batch_builder().build();
    ASSERT_EQ(batch.size(), batch_header_size_bytes);
    auto header = validate_batch(batch, log_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->record_count, 0);
    EXPECT_EQ(header->last_offset_delta, -1);
    EXPECT_EQ(header->base_timestamp_ms, no_timestamp);
    EXPECT_EQ(header->max_timestamp_ms, no_timestamp);
    EXPECT_EQ(validate_error(batch), batch_errc::invalid_record_count);
    int seen = 0;
    EXPECT_TRUE(for_each_record(batch, [&](const record_view&) { ++seen; }).ok());
    EXPECT_EQ(seen, 0);
}

TEST(record_batch, compacted_batch_with_gaps) {
    const bytes batch = record_batch_builder()
                            .set_base_offset(100)
                            .add_record({.timestamp_ms = 1, .key = text("a"), .offset_delta = 0})
                            .add_record({.timestamp_ms = 2, .key = text("b"), .offset_delta = 3})
                            .add_record({.timestamp_ms = 3, .key = text("c"), .offset_delta = 7})
                            .set_last_offset_delta(9)
                            .build();
    EXPECT_EQ(validate_error(batch), batch_errc::invalid_offset_delta);
    auto header = validate_batch(batch, log_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->last_offset(), 109);
    std::vector<int64_t> offsets;
    ASSERT_TRUE(for_each_record(batch, [&](const record_view& r) {
                    offsets.push_back(record_offset(*header, r));
                }).ok());
    EXPECT_EQ(offsets, (std::vector<int64_t>{100, 103, 107}));

    // Compaction may empty a batch but keep its offset range.
    const bytes emptied = record_batch_builder().set_last_offset_delta(4).build();
    EXPECT_TRUE(validate_batch(emptied, log_options).ok());
    constexpr validation_options exact_but_empty{.offset_deltas = offset_delta_policy::exact,
                                                 .record_count = record_count_policy::allow_empty};
    EXPECT_EQ(validate_error(emptied, exact_but_empty), batch_errc::invalid_offset_delta);

    // Even with gaps, a record past lastOffsetDelta is refused.
    bytes past_end = batch;
    put_be32(past_end, batch_field::last_offset_delta, 6);
    reseal(past_end);
    EXPECT_EQ(validate_error(past_end, log_options), batch_errc::invalid_offset_delta);
}

TEST(record_batch, truncation_at_every_length_is_refused) {
    const bytes batch = varied_batch();
    for (size_t length = 0; length < batch.size(); ++length) {
        const byte_span prefix = byte_span(batch).first(length);
        auto validated = validate_batch(prefix, producer_options);
        ASSERT_FALSE(validated.ok()) << length;
        EXPECT_EQ(validated.error(), batch_errc::truncated) << length;
        EXPECT_FALSE(record_reader::open(prefix).ok()) << length;
        auto peeked = peek_batch_size(prefix, default_max_batch_size_bytes);
        if (length < batch_length_prefix_bytes) {
            EXPECT_EQ(peeked.error(), batch_errc::truncated) << length;
        } else {
            EXPECT_EQ(peeked.value(), batch.size()) << length;
        }
    }
    // The known-good batch starts with seven zero bytes (baseOffset 42): up to
    // there a prefix looks like a zeroed tail, which peek reports as such.
    for (size_t length = 1; length < batch_length_prefix_bytes; ++length) {
        auto validated =
            validate_batch(byte_span(one_record_batch).first(length), producer_options);
        EXPECT_EQ(validated.error(), length < 8 ? batch_errc::zero_length : batch_errc::truncated)
            << length;
    }
}

TEST(record_batch, every_bit_flip_is_caught_outside_uncovered_fields) {
    const bytes& batch = two_record_batch;
    const batch_header original = validate_batch(batch, producer_options).value();
    for (size_t i = 0; i < batch.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            bytes flipped = batch;
            flipped[i] ^= std::byte(1u << bit);
            auto r = validate_batch(flipped, producer_options);
            const bool uncovered =
                i < batch_field::batch_length ||
                (i >= batch_field::partition_leader_epoch && i < batch_field::magic);
            if (uncovered) {
                ASSERT_TRUE(r.ok()) << i << ":" << bit;
                EXPECT_NE(*r, original);
                EXPECT_EQ(r->crc, original.crc);
                continue;
            }
            ASSERT_FALSE(r.ok()) << i << ":" << bit;
            if (i < batch_field::partition_leader_epoch) {
                // A wrong length: the input is now too short, too long or under 49.
                EXPECT_TRUE(r.error() == batch_errc::truncated ||
                            r.error() == batch_errc::invalid_length ||
                            r.error() == batch_errc::too_large)
                    << i << ":" << bit << " " << name(r.error());
            } else if (i == batch_field::magic) {
                EXPECT_EQ(r.error(), batch_errc::unsupported_magic) << bit;
            } else {
                EXPECT_EQ(r.error(), batch_errc::crc_mismatch) << i << ":" << bit;
            }
        }
    }
}

TEST(record_batch, wrong_magic) {
    for (uint8_t magic : {0, 1, 3, 0xff}) {
        bytes b = one_record_batch;
        b[batch_field::magic] = std::byte{magic};
        EXPECT_EQ(validate_error(b), batch_errc::unsupported_magic) << int{magic};
        EXPECT_EQ(record_reader::open(b).error(), batch_errc::unsupported_magic);
    }
}

TEST(record_batch, record_count_mismatch) {
    // Declares two records, holds one.
    bytes b = one_record_batch;
    put_be32(b, batch_field::record_count, 2);
    put_be32(b, batch_field::last_offset_delta, 1);
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record_count);

    // Declares none, holds one.
    b = one_record_batch;
    put_be32(b, batch_field::record_count, 0);
    put_be32(b, batch_field::last_offset_delta, 0xffffffff);
    reseal(b);
    EXPECT_EQ(validate_error(b, log_options), batch_errc::invalid_record_count);

    b = one_record_batch;
    put_be32(b, batch_field::record_count, 0xffffffff);
    reseal(b);
    EXPECT_EQ(validate_error(b, log_options), batch_errc::invalid_record_count);
    EXPECT_EQ(record_reader::open(b).error(), batch_errc::invalid_record_count);

    // A huge count is refused by the walk as soon as the bytes run out.
    b = one_record_batch;
    put_be32(b, batch_field::record_count, 0x7fffffff);
    put_be32(b, batch_field::last_offset_delta, 0x7ffffffe);
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record_count);
}

TEST(record_batch, trailing_bytes_after_the_last_record) {
    bytes b = one_record_batch;
    b.push_back(std::byte{0});
    put_be32(b, batch_field::batch_length, static_cast<uint32_t>(b.size() - 12));
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record_count);
}

TEST(record_batch, offset_delta_mismatch) {
    bytes b = one_record_batch;
    put_be32(b, batch_field::last_offset_delta, 5);
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_offset_delta);
    EXPECT_TRUE(validate_batch(b, log_options).ok());  // a compacted batch may look like this

    // The second record repeats, then precedes, the first record's delta.
    for (uint8_t zigzag : {0x00 /* 0 */, 0x01 /* -1 */}) {
        b = two_record_batch;
        b[two_record_second_offset_delta_at] = std::byte{zigzag};
        reseal(b);
        EXPECT_EQ(validate_error(b), batch_errc::invalid_offset_delta);
        EXPECT_EQ(validate_error(b, log_options), batch_errc::invalid_offset_delta);
    }

    // A negative lastOffsetDelta with records.
    b = one_record_batch;
    put_be32(b, batch_field::last_offset_delta, 0xfffffffe);
    reseal(b);
    EXPECT_EQ(validate_error(b, log_options), batch_errc::invalid_offset_delta);
}

TEST(record_batch, record_length_overflow) {
    for (uint8_t zigzag : {0x7e /* 63 */, 0x20 /* 16 */, 0x12 /* 9 */, 0x01 /* -1 */}) {
        bytes b = one_record_batch;
        b[batch_header_size_bytes] = std::byte{zigzag};
        reseal(b);
        EXPECT_EQ(validate_error(b), batch_errc::invalid_record) << int{zigzag};
    }
    // A record length varint that never ends.
    bytes b = one_record_batch;
    for (size_t i = batch_header_size_bytes; i < b.size(); ++i) b[i] = std::byte{0xff};
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record);
}

TEST(record_batch, record_length_must_match_its_fields) {
    // Too short: the fields run past the declared length.
    bytes b = one_record_batch;
    b[batch_header_size_bytes] = std::byte{0x0e};  // 7 instead of 8
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record);

    // Too long: a padding byte inside the record that no field uses.
    b = one_record_batch;
    b[batch_header_size_bytes] = std::byte{0x12};  // 9
    b.push_back(std::byte{0});
    put_be32(b, batch_field::batch_length, static_cast<uint32_t>(b.size() - 12));
    reseal(b);
    EXPECT_EQ(validate_error(b), batch_errc::invalid_record);
}

TEST(record_batch, negative_lengths_inside_records) {
    struct damage {
        size_t at;
        uint8_t zigzag;
        const char* what;
    };
    for (const damage& d : {damage{two_record_header_key_length_at, 0x01, "header key -1"},
                            damage{two_record_header_key_length_at, 0x03, "header key -2"},
                            damage{two_record_key_length_at, 0x03, "key -2"},
                            damage{two_record_header_count_at, 0x01, "header count -1"},
                            damage{two_record_header_count_at, 0x7e, "header count 63"}}) {
        bytes b = two_record_batch;
        b[d.at] = std::byte{d.zigzag};
        reseal(b);
        EXPECT_EQ(validate_error(b), batch_errc::invalid_record) << d.what;
        EXPECT_EQ(validate_error(b, log_options), batch_errc::invalid_record) << d.what;
    }
}

TEST(record_batch, compression) {
    bytes b = one_record_batch;
    for (uint16_t codec = 5; codec <= 7; ++codec) {
        put_be16(b, batch_field::attributes, codec);
        reseal(b);
        EXPECT_EQ(validate_error(b), batch_errc::unsupported_compression) << codec;
    }
    // Compressed batches are not opened here: any payload passes this layer.
    for (uint16_t codec = 1; codec <= 4; ++codec) {
        b = one_record_batch;
        put_be16(b, batch_field::attributes, codec);
        for (size_t i = batch_header_size_bytes; i < b.size(); ++i) b[i] = std::byte{0xff};
        reseal(b);
        auto header = validate_batch(b, producer_options);
        ASSERT_TRUE(header.ok()) << codec;
        EXPECT_EQ(static_cast<uint16_t>(header->compression()), codec);
        EXPECT_EQ(record_reader::open(b).error(), batch_errc::unsupported_compression);
    }
}

TEST(record_batch, size_bounds) {
    EXPECT_EQ(validate_error(one_record_batch, {.max_batch_size_bytes = 69}),
              batch_errc::too_large);
    EXPECT_TRUE(validate_batch(one_record_batch, {.max_batch_size_bytes = 70}).ok());

    bytes b = one_record_batch;
    b.push_back(std::byte{0});  // a second batch starting? not in a single-batch field
    EXPECT_EQ(validate_error(b), batch_errc::invalid_length);

    for (uint32_t length : {48u, 0u, 0x80000000u, 0xffffffffu}) {
        b = one_record_batch;
        put_be32(b, batch_field::batch_length, length);
        EXPECT_EQ(validate_error(b), batch_errc::invalid_length) << length;
        EXPECT_EQ(peek_batch_size(b, default_max_batch_size_bytes).error(),
                  batch_errc::invalid_length);
    }
    b = one_record_batch;
    put_be32(b, batch_field::batch_length, 0x7fffffff);
    EXPECT_EQ(peek_batch_size(b, default_max_batch_size_bytes).error(), batch_errc::too_large);
    EXPECT_EQ(peek_batch_size(b, std::numeric_limits<size_t>::max()).value(), 0x7fffffffu + 12);
    EXPECT_EQ(validate_error(b, {.max_batch_size_bytes = std::numeric_limits<size_t>::max()}),
              batch_errc::truncated);
}

TEST(record_batch, zero_tail_is_a_clean_end) {
    for (size_t length : {1, 5, 11, 12, 61, 4096}) {
        const bytes zeros(length, std::byte{0});
        EXPECT_EQ(peek_batch_size(zeros, default_max_batch_size_bytes).error(),
                  batch_errc::zero_length)
            << length;
        EXPECT_EQ(validate_error(zeros), batch_errc::zero_length) << length;
    }
    EXPECT_EQ(peek_batch_size({}, default_max_batch_size_bytes).error(), batch_errc::truncated);

    // A zero length after a non-zero base offset is corruption, not a clean end.
    bytes b(61, std::byte{0});
    b[7] = std::byte{1};
    EXPECT_EQ(peek_batch_size(b, default_max_batch_size_bytes).error(), batch_errc::invalid_length);
}

TEST(record_batch, peek_steps_through_a_segment) {
    bytes segment;
    std::vector<size_t> sizes;
    for (const bytes& b : {one_record_batch, varied_batch(), two_record_batch}) {
        segment.insert(segment.end(), b.begin(), b.end());
        sizes.push_back(b.size());
    }
    segment.resize(segment.size() + 4096, std::byte{0});  // preallocated tail

    std::vector<size_t> found;
    byte_span rest(segment);
    while (true) {
        auto size = peek_batch_size(rest, default_max_batch_size_bytes);
        if (!size) {
            EXPECT_EQ(size.error(), batch_errc::zero_length);
            break;
        }
        ASSERT_LE(*size, rest.size());
        EXPECT_TRUE(validate_batch(rest.first(*size), log_options).ok());
        found.push_back(*size);
        rest = rest.subspan(*size);
    }
    EXPECT_EQ(found, sizes);
}

TEST(record_batch, mutators_keep_the_batch_valid) {
    bytes b = two_record_batch;
    assign_base_offset(b, 123'456'789'012);
    set_partition_leader_epoch(b, 17);
    auto header = validate_batch(b, producer_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->base_offset, 123'456'789'012);
    EXPECT_EQ(header->last_offset(), 123'456'789'013);
    EXPECT_EQ(header->partition_leader_epoch, 17);
    EXPECT_EQ(header->crc, two_record_crc);  // neither field is covered

    recompute_crc(b);
    EXPECT_EQ(b[batch_field::crc], std::byte{0xf6});
    EXPECT_TRUE(validate_batch(b, producer_options).ok());
}

TEST(record_batch, log_append_time_rewrite) {
    bytes b = record_batch_builder()
                  .set_transaction_mode(transaction_mode::transactional)
                  .set_producer(5, 0, 0)
                  .add_record(timestamp_ms, "a", "1")
                  .add_record(timestamp_ms + 3, "b", "2")
                  .build();
    const bytes before = b;
    const int64_t append_time_ms = timestamp_ms + 60'000;
    set_log_append_time(b, append_time_ms);

    auto header = validate_batch(b, producer_options);
    ASSERT_TRUE(header.ok()) << name(header.error());
    EXPECT_EQ(header->timestamps(), timestamp_type::log_append_time);
    EXPECT_TRUE(header->is_transactional());  // other attribute bits untouched
    EXPECT_EQ(header->max_timestamp_ms, append_time_ms);
    EXPECT_EQ(header->base_timestamp_ms, timestamp_ms);  // as Kafka: only maxTimestamp changes
    EXPECT_NE(header->crc, compute_batch_crc(before));
    EXPECT_TRUE(std::equal(b.begin() + batch_header_size_bytes, b.end(),
                           before.begin() + batch_header_size_bytes));
    ASSERT_TRUE(for_each_record(b, [&](const record_view& r) {
                    EXPECT_EQ(record_timestamp_ms(*header, r), append_time_ms);
                }).ok());

    // Setting what is already there changes nothing.
    const bytes stamped = b;
    set_log_append_time(b, append_time_ms);
    EXPECT_EQ(b, stamped);

    // And back to create time with the records' own maximum.
    set_max_timestamp(b, timestamp_type::create_time, timestamp_ms + 3);
    EXPECT_EQ(b, before);

    // The builder's own log-append-time batches are the same bytes.
    const bytes built = record_batch_builder()
                            .set_transaction_mode(transaction_mode::transactional)
                            .set_producer(5, 0, 0)
                            .set_log_append_time(append_time_ms)
                            .add_record(timestamp_ms, "a", "1")
                            .add_record(timestamp_ms + 3, "b", "2")
                            .build();
    EXPECT_EQ(built, stamped);
}

TEST(record_batch, control_batch_attributes) {
    // A commit marker: key = version 0, type 1; value = version 0, coordinator epoch 0.
    const bytes key = make_bytes({0, 0, 0, 1});
    const bytes value = make_bytes({0, 0, 0, 0, 0, 0});
    const bytes b = record_batch_builder()
                        .set_type(batch_type::control)
                        .set_transaction_mode(transaction_mode::transactional)
                        .set_producer(9, 1, no_sequence)
                        .add_record({.timestamp_ms = 5, .key = byte_span(key), .value = value})
                        .build();
    auto header = validate_batch(b, producer_options);
    ASSERT_TRUE(header.ok());
    EXPECT_TRUE(header->is_control());
    EXPECT_TRUE(header->is_transactional());
    EXPECT_EQ(header->attributes, batch_attribute::control | batch_attribute::transactional);
}

TEST(record_batch, reader_stays_failed) {
    bytes b = two_record_batch;
    b[two_record_second_offset_delta_at] = std::byte{0x00};
    auto reader = record_reader::open(b);  // no CRC check: the walk itself must refuse
    ASSERT_TRUE(reader.ok());
    record_view r;
    EXPECT_TRUE(reader->next(r).value());
    EXPECT_EQ(reader->next(r).error(), batch_errc::invalid_offset_delta);
    EXPECT_EQ(reader->next(r).error(), batch_errc::invalid_offset_delta);
}

TEST(record_batch, sequence_and_offset_arithmetic_wraps) {
    batch_header h;
    h.base_sequence = std::numeric_limits<int32_t>::max() - 1;
    h.last_offset_delta = 3;
    EXPECT_EQ(h.last_sequence(), 1);  // MAX-1, MAX, 0, 1: Kafka's incrementSequence
    h.base_sequence = no_sequence;
    EXPECT_EQ(h.last_sequence(), no_sequence);
    h.base_offset = std::numeric_limits<int64_t>::max();
    h.last_offset_delta = 1;
    EXPECT_EQ(h.last_offset(), std::numeric_limits<int64_t>::min());  // no UB on junk input
}

TEST(record_batch, error_names) {
    EXPECT_EQ(name(batch_errc::zero_length), "zero_length");
    EXPECT_EQ(name(batch_errc::crc_mismatch), "crc_mismatch");
    EXPECT_EQ(name(batch_errc::invalid_record), "invalid_record");
}

}  // namespace
}  // namespace tl::storage
