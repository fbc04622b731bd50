// Proves that Tidelog's segment indexes are Kafka's: the .index and .timeindex byte layouts
// against hand-computed big-endian bytes; lookups at every edge of a segment; the interval
// rule (strictly more than index.interval.bytes since the last indexed batch) and the time
// index rule (strictly greater max timestamp, reserved roll slot); truncation; decoding of
// trimmed, preallocated and corrupt file images; segment file names. Then, on a few
// thousand random batches from a fixed seed, that indexes built by appends, flushed
// through the dirty-tail API and resumed after simulated crashes are byte-identical to a
// rebuild from a log scan, and that Kafka's lookup procedures on them always find the batch
// a brute-force scan finds, before and after log truncation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "storage/index.h"

namespace tl::storage {
namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
    std::vector<std::byte> bytes;
    for (int v : values) bytes.push_back(static_cast<std::byte>(v));
    return bytes;
}

template <typename Index>
std::vector<std::byte> encode_all(const Index& index) {
    std::vector<std::byte> bytes(index.size_bytes());
    EXPECT_EQ(index.encode_from(0, bytes), bytes.size());
    return bytes;
}

index_config config_with(uint32_t max_index_bytes, uint32_t index_interval_bytes = 4096) {
    return {.max_index_bytes = max_index_bytes, .index_interval_bytes = index_interval_bytes};
}

// ---------------------------------------------------------------------------------------
// Byte layout

TEST(offset_index, kafka_byte_layout) {
    offset_index index(1000, index_config{});
    ASSERT_TRUE(index.append(1005, 4200).ok());   // relative 5, position 0x1068
    ASSERT_TRUE(index.append(1010, 90000).ok());  // relative 10, position 0x15F90
    EXPECT_EQ(encode_all(index), bytes_of({0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x10, 0x68,  //
                                           0x00, 0x00, 0x00, 0x0A, 0x00, 0x01, 0x5F, 0x90}));
    EXPECT_EQ(index.size_bytes(), 16u);
    EXPECT_EQ(index.max_entries(), 10u * 1024 * 1024 / 8);
}

TEST(time_index, kafka_byte_layout) {
    time_index index(1000, index_config{});
    // 1700000000000 ms = 0x18BCFE56800.
    ASSERT_EQ(index.maybe_append(1700000000000, 1005, reserved_slot::keep).value(),
              time_append::appended);
    ASSERT_EQ(index.maybe_append(1700000000001, 1300, reserved_slot::keep).value(),
              time_append::appended);
    EXPECT_EQ(encode_all(index),
              bytes_of({0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, 0x00, 0x00, 0x00, 0x05,  //
                        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x01, 0x00, 0x00, 0x01, 0x2C}));
    EXPECT_EQ(index.max_entries(), 10u * 1024 * 1024 / 12);
}

TEST(index_builder, kafka_byte_layout_of_a_small_segment) {
    // Interval 100, batches of 60 bytes holding 10 offsets each. Bytes since the last
    // indexed batch, at each batch: 0, 60, 120 (> 100: index batch 2 at 120), 60, 120
    // (index batch 4 at 240), 60, 120 (index batch 6 at 360).
    index_builder builder(0, config_with(1024, 100));
    const int64_t timestamps[] = {50, 40, 70, 70, 65, 80, 90};
    for (uint32_t i = 0; i < 7; ++i) {
        ASSERT_TRUE(builder
                        .add_batch({.position = 60 * i,
                                    .size_bytes = 60,
                                    .last_offset = 10 * i + 9,
                                    .max_timestamp = timestamps[i]})
                        .ok());
    }
    EXPECT_EQ(encode_all(builder.offsets()), bytes_of({0, 0, 0, 29, 0, 0, 0, 120,  //
                                                       0, 0, 0, 49, 0, 0, 0, 240,  //
                                                       0, 0, 0, 69, 0, 0, 1, 104}));
    // Max so far at batch 2: (70, 29); at 4 still (70, 29): not greater, skipped; at 6:
    // (90, 69).
    EXPECT_EQ(encode_all(builder.times()), bytes_of({0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 29,  //
                                                     0, 0, 0, 0, 0, 0, 0, 90, 0, 0, 0, 69}));
    EXPECT_EQ(builder.bytes_since_last_entry(), 60u);
}

// ---------------------------------------------------------------------------------------
// Lookups

TEST(offset_index, lookup_at_segment_edges) {
    offset_index index(100, index_config{});
    // Empty: always the segment start.
    EXPECT_EQ(index.lookup(100), (offset_position{100, 0}));
    EXPECT_EQ(index.lookup(5000), (offset_position{100, 0}));
    ASSERT_TRUE(index.append(110, 500).ok());
    ASSERT_TRUE(index.append(120, 1000).ok());
    ASSERT_TRUE(index.append(130, 1500).ok());
    EXPECT_EQ(index.lookup(std::numeric_limits<int64_t>::min()), (offset_position{100, 0}));
    EXPECT_EQ(index.lookup(50), (offset_position{100, 0}));     // before the segment
    EXPECT_EQ(index.lookup(100), (offset_position{100, 0}));    // the base offset
    EXPECT_EQ(index.lookup(109), (offset_position{100, 0}));    // before the first entry
    EXPECT_EQ(index.lookup(110), (offset_position{110, 500}));  // exactly on entries
    EXPECT_EQ(index.lookup(120), (offset_position{120, 1000}));
    EXPECT_EQ(index.lookup(130), (offset_position{130, 1500}));
    EXPECT_EQ(index.lookup(115), (offset_position{110, 500}));  // between entries
    EXPECT_EQ(index.lookup(129), (offset_position{120, 1000}));
    EXPECT_EQ(index.lookup(131), (offset_position{130, 1500}));  // after the last
    EXPECT_EQ(index.lookup(std::numeric_limits<int64_t>::max()), (offset_position{130, 1500}));
    EXPECT_EQ(index.last_entry(), (offset_position{130, 1500}));
    EXPECT_EQ(index.entry(1), (offset_position{120, 1000}));
}

TEST(time_index, lookup_at_segment_edges) {
    time_index index(100, index_config{});
    EXPECT_EQ(index.lookup(1000), (timestamp_offset{no_timestamp, 100}));
    ASSERT_TRUE(index.maybe_append(1000, 105, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(2000, 115, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(3000, 125, reserved_slot::keep).ok());
    EXPECT_EQ(index.lookup(std::numeric_limits<int64_t>::min()),
              (timestamp_offset{no_timestamp, 100}));
    EXPECT_EQ(index.lookup(999), (timestamp_offset{no_timestamp, 100}));
    EXPECT_EQ(index.lookup(1000), (timestamp_offset{1000, 105}));
    EXPECT_EQ(index.lookup(1999), (timestamp_offset{1000, 105}));
    EXPECT_EQ(index.lookup(2000), (timestamp_offset{2000, 115}));
    EXPECT_EQ(index.lookup(2500), (timestamp_offset{2000, 115}));
    EXPECT_EQ(index.lookup(3000), (timestamp_offset{3000, 125}));
    EXPECT_EQ(index.lookup(std::numeric_limits<int64_t>::max()), (timestamp_offset{3000, 125}));
    EXPECT_EQ(index.last_entry(), (timestamp_offset{3000, 125}));
}

// ---------------------------------------------------------------------------------------
// Append rules

TEST(offset_index, append_rejects_what_would_break_order) {
    offset_index index(100, config_with(16));  // two entries
    EXPECT_EQ(index.append(99, 10).error(), index_errc::offset_out_of_range);
    EXPECT_EQ(index.append(100 + max_relative_offset + 1, 10).error(),
              index_errc::offset_out_of_range);
    EXPECT_EQ(index.append(110, max_log_position + 1).error(), index_errc::position_out_of_range);
    EXPECT_TRUE(index.can_append_offset(100 + max_relative_offset));
    // The base offset itself is a valid first entry.
    ASSERT_TRUE(index.append(100, 10).ok());
    EXPECT_EQ(index.append(100, 20).error(), index_errc::offset_not_increasing);
    EXPECT_EQ(index.append(99, 20).error(), index_errc::offset_out_of_range);
    EXPECT_EQ(index.append(105, 10).error(), index_errc::position_not_increasing);
    EXPECT_EQ(index.append(105, 5).error(), index_errc::position_not_increasing);
    EXPECT_EQ(index.size(), 1u);
    ASSERT_TRUE(index.append(105, 11).ok());
    EXPECT_TRUE(index.is_full());
    EXPECT_EQ(index.append(200, 500).error(), index_errc::full);
    EXPECT_EQ(index.size(), 2u);
}

TEST(time_index, appends_only_strictly_greater_timestamps) {
    time_index index(100, index_config{});
    // Empty: NO_TIMESTAMP (and anything below it) is not an entry.
    EXPECT_EQ(index.maybe_append(no_timestamp, 100, reserved_slot::keep).value(),
              time_append::skipped);
    EXPECT_EQ(index.maybe_append(-7, 100, reserved_slot::keep).value(), time_append::skipped);
    EXPECT_EQ(index.maybe_append(0, 99, reserved_slot::keep).error(),
              index_errc::offset_out_of_range);
    EXPECT_TRUE(index.empty());
    // Timestamp 0 is a real timestamp.
    EXPECT_EQ(index.maybe_append(0, 100, reserved_slot::keep).value(), time_append::appended);
    EXPECT_EQ(index.maybe_append(500, 110, reserved_slot::keep).value(), time_append::appended);
    // The same entry again (Kafka does this on roll): skipped, as is an equal timestamp at
    // a later offset.
    EXPECT_EQ(index.maybe_append(500, 110, reserved_slot::keep).value(), time_append::skipped);
    EXPECT_EQ(index.maybe_append(500, 120, reserved_slot::keep).value(), time_append::skipped);
    EXPECT_EQ(index.maybe_append(499, 130, reserved_slot::keep).error(),
              index_errc::timestamp_not_increasing);
    EXPECT_EQ(index.maybe_append(600, 109, reserved_slot::keep).error(),
              index_errc::offset_not_increasing);
    // A greater timestamp at the same offset is allowed (Kafka only rejects smaller).
    EXPECT_EQ(index.maybe_append(600, 110, reserved_slot::keep).value(), time_append::appended);
    EXPECT_EQ(index.size(), 3u);
}

TEST(time_index, last_slot_is_reserved_for_the_roll_entry) {
    time_index index(0, config_with(36));  // three entries
    ASSERT_EQ(index.max_entries(), 3u);
    ASSERT_TRUE(index.maybe_append(10, 1, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(20, 2, reserved_slot::keep).ok());
    EXPECT_TRUE(index.is_full());
    // Kafka checks fullness before anything else, even for an entry it would skip.
    EXPECT_EQ(index.maybe_append(30, 3, reserved_slot::keep).error(), index_errc::full);
    EXPECT_EQ(index.maybe_append(20, 3, reserved_slot::keep).error(), index_errc::full);
    EXPECT_EQ(index.maybe_append(30, 3, reserved_slot::use).value(), time_append::appended);
    EXPECT_EQ(index.maybe_append(30, 3, reserved_slot::use).value(), time_append::skipped);
    EXPECT_EQ(index.maybe_append(40, 4, reserved_slot::use).error(), index_errc::full);
    EXPECT_EQ(index.size(), 3u);
}

TEST(index_builder, interval_rule_is_strictly_greater) {
    // Batches of exactly the interval: at batch 1 the 4096 bytes since the start are not
    // more than 4096; at batch 2 the 8192 are.
    index_builder builder(0, config_with(1 << 20, 4096));
    for (uint32_t i = 0; i < 6; ++i) {
        ASSERT_TRUE(builder
                        .add_batch({.position = 4096 * i,
                                    .size_bytes = 4096,
                                    .last_offset = i,
                                    .max_timestamp = 1000 + i})
                        .ok());
    }
    // Then 8192 bytes since each indexed batch: every second batch.
    ASSERT_EQ(builder.offsets().size(), 2u);
    EXPECT_EQ(builder.offsets().entry(0), (offset_position{2, 8192}));
    EXPECT_EQ(builder.offsets().entry(1), (offset_position{4, 16384}));
    ASSERT_EQ(builder.times().size(), 2u);
    EXPECT_EQ(builder.times().entry(0), (timestamp_offset{1002, 2}));
    EXPECT_EQ(builder.times().entry(1), (timestamp_offset{1004, 4}));
    // The batch at position 0 is never indexed, whatever the interval.
    index_builder eager(0, config_with(1 << 20, 0));
    ASSERT_TRUE(eager.add_batch({0, 100, 0, 5}).ok());
    EXPECT_TRUE(eager.offsets().empty());
    ASSERT_TRUE(eager.add_batch({100, 100, 1, 6}).ok());
    EXPECT_EQ(eager.offsets().last_entry(), (offset_position{1, 100}));
}

TEST(index_builder, time_entries_carry_the_max_so_far_and_seal_adds_the_last) {
    index_builder builder(0, config_with(1 << 20, 0));  // index every batch after the first
    const struct {
        int64_t last_offset;
        int64_t max_timestamp;
    } batches[] = {{4, 100}, {9, 300}, {14, 200}, {19, no_timestamp}, {24, 300}, {29, 400}};
    uint32_t position = 0;
    for (const auto& batch : batches) {
        ASSERT_TRUE(builder.add_batch({position, 50, batch.last_offset, batch.max_timestamp}).ok());
        position += 50;
    }
    // Batches 1..5 each add an offset entry; the time entry is the max so far, added only
    // when it grew: (300, 9) at batch 1, then nothing until (400, 29).
    EXPECT_EQ(builder.offsets().size(), 5u);
    ASSERT_EQ(builder.times().size(), 2u);
    EXPECT_EQ(builder.times().entry(0), (timestamp_offset{300, 9}));
    EXPECT_EQ(builder.times().entry(1), (timestamp_offset{400, 29}));
    ASSERT_TRUE(builder.add_batch({position, 50, 34, 500}).ok());
    ASSERT_TRUE(builder.add_batch({position + 50, 50, 39, 450}).ok());
    EXPECT_EQ(builder.times().last_entry(), (timestamp_offset{500, 34}));
    // A batch with a larger timestamp not followed by an indexed batch is only in the
    // index after seal().
    index_builder quiet(0, config_with(1 << 20, 1 << 20));
    ASSERT_TRUE(quiet.add_batch({0, 50, 0, 100}).ok());
    ASSERT_TRUE(quiet.add_batch({50, 50, 1, 700}).ok());
    EXPECT_TRUE(quiet.times().empty());
    EXPECT_EQ(quiet.max_timestamp_so_far(), (timestamp_offset{700, 1}));
    ASSERT_TRUE(quiet.seal().ok());
    EXPECT_EQ(quiet.times().last_entry(), (timestamp_offset{700, 1}));
    ASSERT_TRUE(quiet.seal().ok());  // sealing twice writes nothing more
    EXPECT_EQ(quiet.times().size(), 1u);
    // No timestamps at all: no time entries, even on seal.
    index_builder untimed(0, config_with(1 << 20, 0));
    ASSERT_TRUE(untimed.add_batch({0, 50, 0, no_timestamp}).ok());
    ASSERT_TRUE(untimed.add_batch({50, 50, 1, no_timestamp}).ok());
    ASSERT_TRUE(untimed.seal().ok());
    EXPECT_TRUE(untimed.times().empty());
    EXPECT_EQ(untimed.offsets().size(), 1u);
}

TEST(index_builder, equal_timestamps_keep_the_first_batch) {
    // Kafka updates the max only on a strictly greater timestamp, so a time entry points
    // at the first batch that reached it and a timestamp lookup never starts past it.
    index_builder builder(0, config_with(1024, 100));
    ASSERT_TRUE(builder.add_batch({0, 60, 9, 100}).ok());
    ASSERT_TRUE(builder.add_batch({60, 60, 19, 100}).ok());
    ASSERT_TRUE(builder.add_batch({120, 60, 29, 100}).ok());  // 120 bytes since: indexed
    EXPECT_EQ(builder.times().last_entry(), (timestamp_offset{100, 9}));
    EXPECT_EQ(builder.max_timestamp_so_far(), (timestamp_offset{100, 9}));
}

TEST(index_builder, rejects_bad_batches_without_changing_anything) {
    index_builder builder(1000, config_with(16, 0));  // two offset entries, one time entry
    ASSERT_TRUE(builder.add_batch({0, 100, 1004, 10}).ok());
    EXPECT_EQ(builder.add_batch({50, 100, 1010, 10}).error(), index_errc::batch_not_contiguous);
    EXPECT_EQ(builder.add_batch({100, 100, 1004, 10}).error(), index_errc::offset_not_increasing);
    EXPECT_EQ(builder.add_batch({100, 100, 1000 + max_relative_offset + 1, 10}).error(),
              index_errc::offset_out_of_range);
    EXPECT_EQ(builder.add_batch({100, max_log_position, 1010, 10}).error(),
              index_errc::position_out_of_range);
    EXPECT_EQ(builder.log_size_bytes(), 100u);
    // One time entry of capacity 1 is the reserved slot: the time index is already full,
    // so the next batch needing an entry is refused whole.
    EXPECT_TRUE(builder.is_full());
    EXPECT_EQ(builder.add_batch({100, 100, 1010, 20}).error(), index_errc::full);
    EXPECT_TRUE(builder.offsets().empty());
    EXPECT_EQ(builder.log_size_bytes(), 100u);
    EXPECT_EQ(builder.max_timestamp_so_far(), (timestamp_offset{10, 1004}));
}

// ---------------------------------------------------------------------------------------
// Truncation and the dirty tail

TEST(offset_index, truncate_to_drops_offsets_at_or_above) {
    offset_index index(100, index_config{});
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(index.append(100 + 10 * i, 500 * i).ok());
    index.mark_flushed(3);
    index.truncate_to(1000);  // beyond the last entry: nothing
    EXPECT_EQ(index.size(), 3u);
    index.truncate_to(125);  // between entries: 130 goes
    EXPECT_EQ(index.size(), 2u);
    EXPECT_EQ(index.flushed_entries(), 2u);
    index.truncate_to(120);  // exactly on an entry: it goes too
    EXPECT_EQ(index.size(), 1u);
    EXPECT_EQ(index.last_entry(), (offset_position{110, 500}));
    ASSERT_TRUE(index.append(115, 700).ok());  // appends continue after the cut
    index.truncate_to(100);
    EXPECT_TRUE(index.empty());
    EXPECT_EQ(index.flushed_entries(), 0u);
    EXPECT_EQ(index.last_entry(), (offset_position{100, 0}));
}

TEST(time_index, truncate_to_drops_offsets_at_or_above) {
    time_index index(100, index_config{});
    ASSERT_TRUE(index.maybe_append(10, 105, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(20, 105, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(30, 120, reserved_slot::keep).ok());
    index.truncate_to(121);
    EXPECT_EQ(index.size(), 3u);
    index.truncate_to(120);
    EXPECT_EQ(index.size(), 2u);
    index.truncate_to(105);  // both entries at 105 go
    EXPECT_TRUE(index.empty());
    EXPECT_EQ(index.last_entry(), (timestamp_offset{no_timestamp, 100}));
    // Timestamps restart from nothing after a full truncation.
    EXPECT_EQ(index.maybe_append(5, 101, reserved_slot::keep).value(), time_append::appended);
}

TEST(offset_index, dirty_tail_encodes_only_what_is_new) {
    offset_index index(0, index_config{});
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(index.append(i, 100 * i).ok());
    const auto whole = encode_all(index);
    index.mark_flushed(3);
    EXPECT_EQ(index.flushed_entries(), 3u);
    std::vector<std::byte> tail(64);
    const size_t written = index.encode_from(index.flushed_entries(), tail);
    ASSERT_EQ(written, 16u);
    EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 16, whole.begin() + 24));
    // A buffer too small for everything gets whole entries only.
    std::vector<std::byte> small(13);
    EXPECT_EQ(index.encode_from(3, small), 8u);
    // Completion counts are clamped and never go back.
    index.mark_flushed(2);
    EXPECT_EQ(index.flushed_entries(), 3u);
    index.mark_flushed(99);
    EXPECT_EQ(index.flushed_entries(), 5u);
    EXPECT_EQ(index.encode_from(5, tail), 0u);
}

TEST(time_index, file_range_matches_the_preallocated_file_image) {
    time_index index(0, index_config{});
    for (int64_t i = 1; i <= 7; ++i) {
        ASSERT_TRUE(index.maybe_append(1000 * i + 0x0102030405, i, reserved_slot::keep).ok());
    }
    std::vector<std::byte> image(200);  // the file: entries, then preallocated zeros
    const auto whole = encode_all(index);
    std::copy(whole.begin(), whole.end(), image.begin());
    // Ranges cutting entries anywhere, including past the last entry.
    for (uint64_t start : {0, 1, 11, 12, 13, 40, 83, 84, 100}) {
        for (size_t length : {0, 1, 5, 12, 30, 100}) {
            if (start + length > image.size()) continue;
            std::vector<std::byte> range(length, std::byte{0xAA});
            index.encode_file_range(start, range);
            EXPECT_TRUE(std::equal(range.begin(), range.end(), image.begin() + start))
                << "start " << start << " length " << length;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding file images

TEST(offset_index, decode_round_trips_trimmed_and_preallocated_files) {
    offset_index index(500, index_config{});
    ASSERT_TRUE(index.append(501, 256).ok());  // position 0x100: the entry ends in a zero
    ASSERT_TRUE(index.append(600, 0x10000).ok());
    const auto bytes = encode_all(index);

    auto trimmed = offset_index::decode(bytes, 500, index_config{}, index_file_state::trimmed);
    ASSERT_TRUE(trimmed.ok());
    EXPECT_TRUE(std::ranges::equal(trimmed->entries(), index.entries()));
    EXPECT_EQ(trimmed->flushed_entries(), 2u);
    EXPECT_EQ(trimmed->base_offset(), 500);

    // Preallocated to a size that is not even a multiple of 8 (an O_DIRECT writer pads
    // to blocks): trailing zeros are unused space.
    std::vector<std::byte> preallocated(4100);
    std::copy(bytes.begin(), bytes.end(), preallocated.begin());
    auto loaded =
        offset_index::decode(preallocated, 500, index_config{}, index_file_state::preallocated);
    ASSERT_TRUE(loaded.ok());
    EXPECT_TRUE(std::ranges::equal(loaded->entries(), index.entries()));
    // Read as trimmed, the zero slots are entries, and out of order.
    preallocated.resize(4096);
    EXPECT_EQ(
        offset_index::decode(preallocated, 500, index_config{}, index_file_state::trimmed).error(),
        index_errc::corrupt_order);

    // All zeros, or nothing: an empty index either way.
    const std::vector<std::byte> zeros(4096);
    EXPECT_TRUE(
        offset_index::decode(zeros, 0, index_config{}, index_file_state::preallocated)->empty());
    EXPECT_TRUE(offset_index::decode({}, 0, index_config{}, index_file_state::trimmed)->empty());
}

TEST(offset_index, decode_grows_capacity_to_fit_a_larger_file) {
    offset_index index(0, index_config{});
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(index.append(i, 10 * i).ok());
    auto loaded =
        offset_index::decode(encode_all(index), 0, config_with(16), index_file_state::trimmed);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->size(), 4u);
    EXPECT_EQ(loaded->max_entries(), 4u);
    EXPECT_TRUE(loaded->is_full());
}

TEST(offset_index, decode_rejects_corrupt_images) {
    const index_config config{};
    const auto decode = [&](const std::vector<std::byte>& bytes, index_file_state state) {
        return offset_index::decode(bytes, 100, config, state);
    };
    using enum index_file_state;
    // Not whole entries.
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 1, 0, 0, 0, 9, 0, 0}), trimmed).error(),
              index_errc::corrupt_size);
    // Preallocated, but the last non-zero byte is in a partial entry.
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 1, 0, 0, 0, 9, 0, 7}), preallocated).error(),
              index_errc::corrupt_size);
    // Decreasing or repeated offsets.
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 10}), trimmed).error(),
              index_errc::corrupt_order);
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 10}), trimmed).error(),
              index_errc::corrupt_order);
    // Positions going back or standing still.
    EXPECT_EQ(
        decode(bytes_of({0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 6, 0, 0, 0, 9}), preallocated).error(),
        index_errc::corrupt_order);
    // A negative relative offset (an offset below the base) and a negative position.
    EXPECT_EQ(decode(bytes_of({0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 9}), trimmed).error(),
              index_errc::corrupt_relative_offset);
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 1, 0x80, 0, 0, 0}), trimmed).error(),
              index_errc::corrupt_position);
    EXPECT_TRUE(is_corruption(index_errc::corrupt_position));
    EXPECT_FALSE(is_corruption(index_errc::full));
}

TEST(time_index, decode_round_trips_and_rejects_corrupt_images) {
    time_index index(100, index_config{});
    ASSERT_TRUE(index.maybe_append(1000, 105, reserved_slot::keep).ok());
    ASSERT_TRUE(index.maybe_append(2000, 105, reserved_slot::keep).ok());  // equal offsets
    ASSERT_TRUE(index.maybe_append(3000, 110, reserved_slot::use).ok());
    std::vector<std::byte> image(4096);  // 4096 is not a multiple of 12
    const auto bytes = encode_all(index);
    std::copy(bytes.begin(), bytes.end(), image.begin());
    for (auto state : {index_file_state::trimmed, index_file_state::preallocated}) {
        auto loaded = time_index::decode(state == index_file_state::trimmed ? bytes : image, 100,
                                         index_config{}, state);
        ASSERT_TRUE(loaded.ok());
        EXPECT_TRUE(std::ranges::equal(loaded->entries(), index.entries()));
    }
    EXPECT_EQ(time_index::decode(image, 100, index_config{}, index_file_state::trimmed).error(),
              index_errc::corrupt_size);

    const auto decode = [](const std::vector<std::byte>& b) {
        return time_index::decode(b, 100, index_config{}, index_file_state::trimmed);
    };
    // Timestamps equal or decreasing.
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1,  //
                               0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2}))
                  .error(),
              index_errc::corrupt_order);
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1,  //
                               0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 2}))
                  .error(),
              index_errc::corrupt_order);
    // Offsets decreasing.
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 0, 0, 0, 0, 9,  0, 0, 0, 3,  //
                               0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 2}))
                  .error(),
              index_errc::corrupt_order);
    // Negative timestamp, negative relative offset.
    EXPECT_EQ(
        decode(bytes_of({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1})).error(),
        index_errc::corrupt_timestamp);
    EXPECT_EQ(decode(bytes_of({0, 0, 0, 0, 0, 0, 0, 9, 0xFF, 0xFF, 0xFF, 0xFE})).error(),
              index_errc::corrupt_relative_offset);
}

TEST(time_index, the_one_all_zero_entry_kafka_can_write) {
    // (timestamp 0, base offset) is all zeros. Trimmed files keep it, as Kafka does;
    // preallocated files cannot tell it from unused space when it is the only entry
    // (documented: a lost lookup hint).
    const std::vector<std::byte> image(12);
    auto trimmed = time_index::decode(image, 100, index_config{}, index_file_state::trimmed);
    ASSERT_TRUE(trimmed.ok());
    EXPECT_EQ(trimmed->last_entry(), (timestamp_offset{0, 100}));
    auto preallocated =
        time_index::decode(image, 100, index_config{}, index_file_state::preallocated);
    ASSERT_TRUE(preallocated.ok());
    EXPECT_TRUE(preallocated->empty());
    // Followed by another entry, it survives in both.
    std::vector<std::byte> two = image;
    const auto second = bytes_of({0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3});
    two.insert(two.end(), second.begin(), second.end());
    two.resize(100);
    EXPECT_EQ(time_index::decode(two, 100, index_config{}, index_file_state::preallocated)->size(),
              2u);
}

// ---------------------------------------------------------------------------------------
// Segment file names

TEST(segment_file_name, formats_twenty_digits) {
    EXPECT_EQ(segment_file_name(42, segment_file_kind::log), "00000000000000000042.log");
    EXPECT_EQ(segment_file_name(0, segment_file_kind::offset_index), "00000000000000000000.index");
    EXPECT_EQ(segment_file_name(std::numeric_limits<int64_t>::max(), segment_file_kind::time_index),
              "09223372036854775807.timeindex");
}

TEST(segment_file_name, parses_only_exact_names) {
    EXPECT_EQ(parse_segment_file_name("00000000000000000042.log"),
              (segment_file{42, segment_file_kind::log}));
    EXPECT_EQ(parse_segment_file_name("00000000000000000042.index"),
              (segment_file{42, segment_file_kind::offset_index}));
    EXPECT_EQ(parse_segment_file_name("00000000000012345678.timeindex"),
              (segment_file{12345678, segment_file_kind::time_index}));
    EXPECT_EQ(parse_segment_file_name("00000000000000000042.snapshot"),
              (segment_file{42, segment_file_kind::producer_snapshot}));
    EXPECT_EQ(parse_segment_file_name("09223372036854775807.log"),
              (segment_file{std::numeric_limits<int64_t>::max(), segment_file_kind::log}));
    for (int64_t offset : {int64_t{0}, int64_t{1}, int64_t{999999999999}}) {
        for (auto kind : {segment_file_kind::log, segment_file_kind::offset_index,
                          segment_file_kind::time_index, segment_file_kind::producer_snapshot}) {
            EXPECT_EQ(parse_segment_file_name(segment_file_name(offset, kind)),
                      (segment_file{offset, kind}));
        }
    }
    for (const char* garbage : {
             "42.log",  // Kafka would take it; we want 20 digits
             "abc",
             "",
             ".log",
             "000000000000000000042.log",  // 21 digits
             "0000000000000000042.log",    // 19 digits
             "09223372036854775808.log",   // INT64_MAX + 1
             "99999999999999999999.log",   // beyond uint64 too
             "0000000000000000004a.log",
             "+0000000000000000042.log",
             "-0000000000000000042.log",
             "00000000000000000042",  // no suffix
             "00000000000000000042.",
             "00000000000000000042log",
             "00000000000000000042.LOG",
             "00000000000000000042.log.deleted",  // Kafka's temporary names
             "00000000000000000042.log.swap",
             "00000000000000000042.index.cleaned",
             "00000000000000000042.txnindex",
             "00000000000000000042.snapshots",
             "00000000000000000042.log ",
         }) {
        EXPECT_FALSE(parse_segment_file_name(garbage).has_value()) << garbage;
    }
}

// ---------------------------------------------------------------------------------------
// Random batches: incremental, flushed and resumed indexes against a rebuild

// Batches from start_position, with last offsets after start_offset.
std::vector<batch_extent> random_batches(std::mt19937_64& rng, size_t count,
                                         uint32_t start_position, int64_t start_offset) {
    std::vector<batch_extent> batches;
    uint32_t position = start_position;
    int64_t last_offset = start_offset;
    int64_t clock_ms = 1'700'000'000'000;
    for (size_t i = 0; i < count; ++i) {
        const uint64_t size_roll = rng() % 100;
        const uint32_t size = size_roll < 70   ? 61 + rng() % 1500
                              : size_roll < 95 ? 1500 + rng() % 8000
                                               : 9000 + rng() % 40000;
        // Gaps between batches, as compaction leaves.
        last_offset += 1 + static_cast<int64_t>(rng() % 40);
        clock_ms += static_cast<int64_t>(rng() % 1000);
        // Mostly rising, some late, some without a timestamp, some repeating the previous
        // batch's exactly (ties must keep the first batch).
        const uint64_t time_roll = rng() % 100;
        const int64_t late_ms = clock_ms - static_cast<int64_t>(rng() % 5000);
        const int64_t previous_ms = batches.empty() ? clock_ms : batches.back().max_timestamp;
        const int64_t max_timestamp = time_roll < 75   ? clock_ms
                                      : time_roll < 85 ? late_ms
                                      : time_roll < 90 ? no_timestamp
                                                       : previous_ms;
        batches.push_back({position, size, last_offset, max_timestamp});
        position += size;
    }
    return batches;
}

// Kafka's readLargestTimestamp over the batches in [from_position, log end).
timestamp_offset largest_from(const std::vector<batch_extent>& batches, uint32_t from_position,
                              int64_t base_offset) {
    timestamp_offset largest{no_timestamp, base_offset};
    for (const batch_extent& batch : batches) {
        if (batch.position < from_position) continue;
        if (batch.max_timestamp > largest.timestamp) {
            largest = {batch.max_timestamp, batch.last_offset};
        }
    }
    return largest;
}

index_builder rebuild(const std::vector<batch_extent>& batches, int64_t base_offset,
                      const index_config& config) {
    index_builder builder(base_offset, config);
    for (const batch_extent& batch : batches) {
        const auto added = builder.add_batch(batch);
        EXPECT_TRUE(added.ok());
    }
    EXPECT_TRUE(builder.seal().ok());
    return builder;
}

// A simulated index file written the way an O_DIRECT writer would: whole 4 KiB blocks
// around the dirty tail, via encode_file_range.
struct simulated_file {
    static constexpr uint64_t block_bytes = 4096;
    std::vector<std::byte> bytes;

    // Returns the entry count written, for mark_flushed once the write completes.
    template <typename Index>
    size_t write_dirty_tail(const Index& index) {
        const size_t count = index.size();
        const uint64_t dirty_start = index.flushed_entries() * Index::entry_size_bytes;
        const uint64_t start = dirty_start / block_bytes * block_bytes;
        const uint64_t end = (index.size_bytes() + block_bytes - 1) / block_bytes * block_bytes;
        if (end > start) {
            std::vector<std::byte> blocks(end - start);
            index.encode_file_range(start, blocks);
            if (bytes.size() < end) bytes.resize(end);
            std::copy(blocks.begin(), blocks.end(), bytes.begin() + static_cast<ptrdiff_t>(start));
        }
        return count;
    }
};

void flush(index_builder& builder, simulated_file& offset_file, simulated_file& time_file) {
    const size_t offsets_written = offset_file.write_dirty_tail(builder.offsets());
    const size_t times_written = time_file.write_dirty_tail(builder.times());
    builder.mark_flushed(offsets_written, times_written);
}

// Kafka's read paths find the batch a brute-force scan finds.
void check_lookups(const index_builder& builder, const std::vector<batch_extent>& batches,
                   std::mt19937_64& rng) {
    ASSERT_FALSE(batches.empty());
    const auto batch_at = [&](uint32_t position) {
        const auto it = std::ranges::lower_bound(batches, position, {}, &batch_extent::position);
        EXPECT_TRUE(it != batches.end() && it->position == position) << "not a batch start";
        return it;
    };
    for (int i = 0; i < 200; ++i) {
        // Offsets: LogSegment.translateOffset scans from the looked-up position for the
        // first batch whose last offset >= target.
        const int64_t target =
            builder.base_offset() +
            static_cast<int64_t>(rng() % static_cast<uint64_t>(batches.back().last_offset -
                                                               builder.base_offset() + 2));
        const auto expected = std::ranges::find_if(
            batches, [&](const batch_extent& b) { return b.last_offset >= target; });
        const uint32_t position = builder.offsets().lookup(target).position;
        const auto found = std::find_if(batch_at(position), batches.end(),
                                        [&](const auto& b) { return b.last_offset >= target; });
        ASSERT_EQ(found, expected) << "offset " << target;

        // Timestamps: findOffsetByTimestamp = time lookup, then offset lookup, then scan
        // for the first batch with max timestamp >= target.
        const int64_t first_ms = 1'700'000'000'000 - 6000;
        const int64_t span_ms = static_cast<int64_t>(batches.size()) * 1000 + 12000;
        const int64_t timestamp = first_ms + static_cast<int64_t>(rng() % span_ms);
        const auto expected_ts = std::ranges::find_if(
            batches, [&](const batch_extent& b) { return b.max_timestamp >= timestamp; });
        const timestamp_offset hint = builder.times().lookup(timestamp);
        const uint32_t ts_position = builder.offsets().lookup(hint.offset).position;
        const auto found_ts =
            std::find_if(batch_at(ts_position), batches.end(),
                         [&](const auto& b) { return b.max_timestamp >= timestamp; });
        ASSERT_EQ(found_ts, expected_ts) << "timestamp " << timestamp;
    }
}

class random_batches_test : public ::testing::TestWithParam<uint32_t> {};

TEST_P(random_batches_test, appends_flushes_and_crash_resumes_equal_a_rebuild) {
    const index_config config = config_with(10 * 1024 * 1024, GetParam());
    constexpr int64_t base_offset = 7'000'000;
    std::mt19937_64 rng(20240611 + GetParam());
    const auto batches = random_batches(rng, 3000, 0, base_offset - 1);

    index_builder live(base_offset, config);
    simulated_file offset_file;
    simulated_file time_file;
    size_t crashes = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
        ASSERT_TRUE(live.add_batch(batches[i]).ok()) << "batch " << i;
        if (rng() % 8 == 0) flush(live, offset_file, time_file);
        if (rng() % 300 == 0) {
            // Crash with both files complete for the log (the flush goes with the log
            // write), then load them as preallocated images and resume.
            flush(live, offset_file, time_file);
            auto offsets = offset_index::decode(offset_file.bytes, base_offset, config,
                                                index_file_state::preallocated);
            auto times = time_index::decode(time_file.bytes, base_offset, config,
                                            index_file_state::preallocated);
            ASSERT_TRUE(offsets.ok() && times.ok());
            const std::vector<batch_extent> log(batches.begin(),
                                                batches.begin() + static_cast<ptrdiff_t>(i + 1));
            const uint32_t rescan = index_builder::resume_rescan_position(*offsets, *times);
            auto resumed = index_builder::resume(std::move(*offsets), std::move(*times), config,
                                                 live.log_size_bytes(),
                                                 largest_from(log, rescan, base_offset));
            ASSERT_TRUE(resumed.ok());
            EXPECT_EQ(resumed->max_timestamp_so_far(), live.max_timestamp_so_far());
            live = std::move(*resumed);
            ++crashes;
        }
    }
    ASSERT_TRUE(live.seal().ok());
    flush(live, offset_file, time_file);
    EXPECT_GT(crashes, 3u);

    const index_builder rebuilt = rebuild(batches, base_offset, config);
    EXPECT_GT(rebuilt.offsets().size(), 10u);
    EXPECT_GT(rebuilt.times().size(), 10u);
    EXPECT_EQ(encode_all(live.offsets()), encode_all(rebuilt.offsets()));
    EXPECT_EQ(encode_all(live.times()), encode_all(rebuilt.times()));
    // The block-written files hold exactly those bytes, then zeros.
    const auto offset_bytes = encode_all(rebuilt.offsets());
    const auto time_bytes = encode_all(rebuilt.times());
    ASSERT_GE(offset_file.bytes.size(), offset_bytes.size());
    ASSERT_GE(time_file.bytes.size(), time_bytes.size());
    EXPECT_TRUE(std::equal(offset_bytes.begin(), offset_bytes.end(), offset_file.bytes.begin()));
    EXPECT_TRUE(std::equal(time_bytes.begin(), time_bytes.end(), time_file.bytes.begin()));
    EXPECT_TRUE(std::all_of(offset_file.bytes.begin() + static_cast<ptrdiff_t>(offset_bytes.size()),
                            offset_file.bytes.end(),
                            [](std::byte b) { return b == std::byte{0}; }));
    check_lookups(live, batches, rng);
}

TEST_P(random_batches_test, lookups_stay_right_across_truncation_and_clean_restart) {
    const index_config config = config_with(10 * 1024 * 1024, GetParam());
    constexpr int64_t base_offset = 0;
    std::mt19937_64 rng(7 + GetParam());
    auto batches = random_batches(rng, 2000, 0, base_offset - 1);
    index_builder live = rebuild(batches, base_offset, config);
    check_lookups(live, batches, rng);

    for (int round = 0; round < 4; ++round) {
        // Truncate at an offset inside a random batch: the log is cut at its start.
        const size_t cut = 1 + rng() % (batches.size() - 1);
        const int64_t first_of_cut = batches[cut - 1].last_offset + 1;
        const int64_t truncate_offset =
            first_of_cut +
            static_cast<int64_t>(
                rng() % static_cast<uint64_t>(batches[cut].last_offset - first_of_cut + 1));
        const uint32_t rescan = live.timestamp_rescan_position(truncate_offset);
        batches.resize(cut);
        live.truncate_to(truncate_offset, batches.back().position + batches.back().size_bytes,
                         largest_from(batches, rescan, base_offset));
        // The offset index is exactly a rebuild's (Kafka keeps the same entries); the
        // time index may keep one entry a rebuild would not write, which stays true.
        const index_builder rebuilt_prefix = rebuild(batches, base_offset, config);
        EXPECT_EQ(encode_all(live.offsets()), encode_all(rebuilt_prefix.offsets()));
        EXPECT_EQ(live.max_timestamp_so_far(), rebuilt_prefix.max_timestamp_so_far());
        EXPECT_EQ(live.bytes_since_last_entry(), rebuilt_prefix.bytes_since_last_entry());
        check_lookups(live, batches, rng);

        // Append more, then restart cleanly: seal, trim, load, resume without a rescan.
        const batch_extent& last = batches.back();
        auto more = random_batches(rng, 300, last.position + last.size_bytes, last.last_offset);
        for (const batch_extent& batch : more) ASSERT_TRUE(live.add_batch(batch).ok());
        batches.insert(batches.end(), more.begin(), more.end());
        ASSERT_TRUE(live.seal().ok());
        auto offsets = offset_index::decode(encode_all(live.offsets()), base_offset, config,
                                            index_file_state::trimmed);
        auto times = time_index::decode(encode_all(live.times()), base_offset, config,
                                        index_file_state::trimmed);
        ASSERT_TRUE(offsets.ok() && times.ok());
        auto resumed = index_builder::resume(std::move(*offsets), std::move(*times), config,
                                             live.log_size_bytes(), {no_timestamp, base_offset});
        ASSERT_TRUE(resumed.ok());
        EXPECT_EQ(resumed->max_timestamp_so_far(), live.max_timestamp_so_far());
        live = std::move(*resumed);
        check_lookups(live, batches, rng);
    }
}

INSTANTIATE_TEST_SUITE_P(index_interval_bytes, random_batches_test,
                         ::testing::Values(0u, 1000u, 4096u, 65536u));

TEST(index_builder, resume_rejects_indexes_that_disagree_with_the_log) {
    const index_config config{};
    offset_index offsets(0, config);
    ASSERT_TRUE(offsets.append(10, 5000).ok());
    time_index times(0, config);
    ASSERT_TRUE(times.maybe_append(100, 10, reserved_slot::keep).ok());
    // The last offset entry points past the end of the log.
    EXPECT_EQ(index_builder::resume(offsets, times, config, 5000, {no_timestamp, 0}).error(),
              index_errc::corrupt_position);
    // A larger timestamp found at or before the time entry's offset.
    EXPECT_EQ(index_builder::resume(offsets, times, config, 6000, {200, 10}).error(),
              index_errc::corrupt_timestamp);
    auto resumed = index_builder::resume(offsets, times, config, 6000, {200, 11});
    ASSERT_TRUE(resumed.ok());
    EXPECT_EQ(resumed->max_timestamp_so_far(), (timestamp_offset{200, 11}));
    EXPECT_EQ(resumed->bytes_since_last_entry(), 1000u);
    // The next batch must follow the log and the offsets seen.
    EXPECT_EQ(resumed->add_batch({6000, 100, 11, 300}).error(), index_errc::offset_not_increasing);
    EXPECT_TRUE(resumed->add_batch({6000, 100, 12, 300}).ok());
    EXPECT_EQ(resumed->offsets().last_entry(), (offset_position{10, 5000}));
}

}  // namespace
}  // namespace tl::storage
