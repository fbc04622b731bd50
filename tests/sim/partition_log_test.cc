// Proves the partition log on the simulated disk (deterministic, seeded):
// appends get contiguous offsets and read back byte-identical in order from
// the cache and from disk; segments roll by size and reads cross them;
// close + reopen recovers every batch; a torn tail is cut at the last good
// batch and reported; a corrupt batch on disk is refused, never served;
// invalid batches and a full disk get typed errors and the log stays usable;
// a storage probe given at open counts flush groups, fdatasyncs and what
// retention deleted.
#include <gtest/gtest.h>

#include <limits>

#include "sim/sim_disk.h"
#include "storage/partition_log.h"

namespace tl::storage {
namespace {

using sim::sim_disk;
using sim::sim_executor;

template <typename T>
T run_task(sim_executor& executor, task<T> work) {
    return executor.run_task(std::move(work));
}

void run_void(sim_executor& executor, task<void> work) { executor.run_task(std::move(work)); }

std::vector<std::byte> make_batch(int index, size_t value_bytes = 100) {
    record_batch_builder builder;
    const std::string value(value_bytes, static_cast<char>('a' + index % 26));
    builder.add_record(1000 + index, "key-" + std::to_string(index), value);
    builder.add_record(1001 + index, "key-" + std::to_string(index), value);
    return builder.build();
}

struct fixture {
    explicit fixture(uint64_t seed = 1) : executor(seed), disk(executor) {
        run_task(executor, [](sim_disk& d) -> task<bool> {
            TL_ASSERT((co_await d.make_directory("data")).ok());
            co_return true;
        }(disk));
    }
    std::unique_ptr<partition_log> open(log_config config) {
        auto opened = run_task(executor, partition_log::open(disk, executor, "data/t-0", config));
        TL_ASSERT(opened.ok(), "open");
        return std::move(*opened);
    }
    append_result append(partition_log& log, std::span<const std::byte> batch) {
        auto r = run_task(executor, log.append(batch));
        TL_ASSERT(r.ok(), "append");
        return *r;
    }
    read_result read(partition_log& log, int64_t offset, size_t max_bytes = 1 << 20) {
        auto r = run_task(executor, log.read({.start_offset = offset, .max_bytes = max_bytes}));
        TL_ASSERT(r.ok(), "read");
        return std::move(*r);
    }
    sim_executor executor;
    sim_disk disk;
};

// Splits a read result into batch headers.
std::vector<batch_header> headers_of(const read_result& r) {
    std::vector<batch_header> out;
    std::span<const std::byte> rest(r.batches);
    while (!rest.empty()) {
        auto size = peek_batch_size(rest, 1 << 24);
        TL_ASSERT(size.ok());
        auto header = validate_batch(rest.first(*size), {});
        TL_ASSERT(header.ok());
        out.push_back(*header);
        rest = rest.subspan(*size);
    }
    return out;
}

// The simulated disk materialises preallocations: keep segments small.
log_config test_config() {
    log_config config;
    config.segment_bytes = 1024 * 1024;
    return config;
}

log_config small_config() {
    log_config config;
    config.segment_bytes = 64 * 1024;
    config.cache_bytes = 16 * 1024;
    return config;
}

TEST(partition_log, appends_get_contiguous_offsets_and_read_back_in_order) {
    fixture f;
    auto log = f.open(test_config());
    for (int i = 0; i < 10; ++i) {
        const auto r = f.append(*log, make_batch(i));
        EXPECT_EQ(r.base_offset, 2 * i);
        EXPECT_EQ(r.last_offset, 2 * i + 1);
    }
    EXPECT_EQ(log->log_end_offset(), 20);
    EXPECT_EQ(log->high_watermark(), 20);
    const auto all = headers_of(f.read(*log, 0));
    ASSERT_EQ(all.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i].base_offset, 2 * i);
    // Reading from inside a batch returns that whole batch first.
    const auto from_middle = headers_of(f.read(*log, 5));
    ASSERT_FALSE(from_middle.empty());
    EXPECT_EQ(from_middle.front().base_offset, 4);
    // At the end: nothing; past it: out of range.
    EXPECT_TRUE(f.read(*log, 20).batches.empty());
    auto past = run_task(f.executor, log->read({.start_offset = 21}));
    ASSERT_FALSE(past.ok());
    EXPECT_EQ(past.error().code, storage_errc::offset_out_of_range);
    run_void(f.executor, log->close());
}

TEST(partition_log, at_least_one_batch_even_above_max_bytes) {
    fixture f;
    auto log = f.open(test_config());
    f.append(*log, make_batch(0, 5000));
    f.append(*log, make_batch(1, 5000));
    EXPECT_EQ(headers_of(f.read(*log, 0, 10)).size(), 1u);
    run_void(f.executor, log->close());
}

TEST(partition_log, segments_roll_and_reads_cross_them_from_disk) {
    fixture f;
    auto log = f.open(small_config());
    std::vector<std::vector<std::byte>> sent;
    for (int i = 0; i < 200; ++i) {
        sent.push_back(make_batch(i, 900));
        f.append(*log, sent.back());
    }
    EXPECT_GT(log->segment_count(), 3u);
    // Small cache: early offsets come from sealed segments on disk.
    int64_t offset = 0;
    size_t index = 0;
    while (offset < log->log_end_offset()) {
        const auto r = f.read(*log, offset, 8 * 1024);
        const auto headers = headers_of(r);
        ASSERT_FALSE(headers.empty()) << offset;
        size_t at = 0;
        for (const auto& h : headers) {
            ASSERT_EQ(h.base_offset, static_cast<int64_t>(index) * 2);
            // Same bytes as sent, apart from the broker-assigned base offset.
            std::vector<std::byte> expected = sent[index];
            assign_base_offset(expected, h.base_offset);
            ASSERT_TRUE(std::equal(expected.begin(), expected.end(), r.batches.begin() + at));
            at += h.size_bytes();
            ++index;
        }
        offset = headers.back().last_offset() + 1;
    }
    EXPECT_EQ(index, sent.size());
    run_void(f.executor, log->close());
}

TEST(partition_log, close_and_reopen_recovers_every_batch) {
    fixture f;
    {
        auto log = f.open(small_config());
        for (int i = 0; i < 100; ++i) f.append(*log, make_batch(i, 700));
        run_void(f.executor, log->close());
    }
    auto log = f.open(small_config());
    EXPECT_EQ(log->log_end_offset(), 200);
    EXPECT_EQ(log->high_watermark(), 200);
    EXPECT_FALSE(log->recovery().tail_error.has_value());
    EXPECT_EQ(headers_of(f.read(*log, 198)).front().base_offset, 198);
    // Appends continue the sequence.
    EXPECT_EQ(f.append(*log, make_batch(100)).base_offset, 200);
    run_void(f.executor, log->close());
    auto again = f.open(small_config());
    EXPECT_EQ(again->log_end_offset(), 202);
    run_void(f.executor, again->close());
}

TEST(partition_log, torn_tail_is_cut_at_the_last_good_batch) {
    fixture f;
    const std::string segment = "data/t-0/00000000000000000000.log";
    {
        auto log = f.open(test_config());
        for (int i = 0; i < 5; ++i) f.append(*log, make_batch(i));
        run_void(f.executor, log->close());
    }
    // Tear the last batch: keep all but its final 10 bytes.
    const auto& image = *f.disk.contents(segment);
    const size_t size = image.size();
    run_task(f.executor, [](sim_disk& d, std::string path, size_t keep) -> task<bool> {
        auto file = std::move(*co_await d.open(path, uring::open_mode::read_write,
                                               direct_io::never));
        TL_ASSERT((co_await file->truncate(keep)).ok());
        TL_ASSERT((co_await file->sync()).ok());
        co_return true;
    }(f.disk, segment, size - 10));
    auto log = f.open(test_config());
    EXPECT_EQ(log->log_end_offset(), 8);
    ASSERT_TRUE(log->recovery().tail_error.has_value());
    EXPECT_EQ(*log->recovery().tail_error, batch_errc::truncated);
    EXPECT_EQ(log->recovery().batches_recovered, 4u);
    EXPECT_EQ(f.append(*log, make_batch(9)).base_offset, 8);
    run_void(f.executor, log->close());
}

TEST(partition_log, corrupt_batch_on_disk_is_refused_not_served) {
    fixture f;
    auto config = small_config();
    auto log = f.open(config);
    for (int i = 0; i < 100; ++i) f.append(*log, make_batch(i, 900));
    // Flip one byte inside the first batch's records (covered by the CRC).
    const std::string first_segment = "data/t-0/00000000000000000000.log";
    run_task(f.executor, [](sim_disk& d, std::string path) -> task<bool> {
        auto file = std::move(*co_await d.open(path, uring::open_mode::read_write,
                                               direct_io::never));
        std::byte b[1];
        TL_ASSERT((co_await file->read_at(100, b)).ok());
        b[0] ^= std::byte{0x01};
        TL_ASSERT((co_await file->write_at(100, b)).ok());
        co_return true;
    }(f.disk, first_segment));
    auto r = run_task(f.executor, log->read({.start_offset = 0}));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("corrupt batch"), std::string::npos);
    run_void(f.executor, log->close());
}

TEST(partition_log, invalid_batches_get_typed_errors_and_the_log_goes_on) {
    fixture f;
    auto config = test_config();
    config.max_batch_bytes = 4096;
    auto log = f.open(config);
    auto batch = make_batch(0);
    batch[batch.size() - 1] ^= std::byte{0xff};  // breaks the CRC
    auto corrupt = run_task(f.executor, log->append(batch));
    ASSERT_FALSE(corrupt.ok());
    EXPECT_EQ(corrupt.error().code, storage_errc::corrupt_batch);
    auto large = run_task(f.executor, log->append(make_batch(1, 10000)));
    ASSERT_FALSE(large.ok());
    EXPECT_EQ(large.error().code, storage_errc::batch_too_large);
    EXPECT_EQ(f.append(*log, make_batch(2)).base_offset, 0);
    run_void(f.executor, log->close());
}

TEST(partition_log, log_append_time_rewrites_timestamp_and_crc) {
    fixture f;
    auto config = test_config();
    config.timestamps = timestamp_type::log_append_time;
    auto log = f.open(config);
    const auto r = f.append(*log, make_batch(0));
    EXPECT_EQ(r.log_append_time_ms, f.executor.wall_time_ms());
    const auto headers = headers_of(f.read(*log, 0));  // validates the CRC
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(headers[0].max_timestamp_ms, r.log_append_time_ms);
    EXPECT_EQ(headers[0].timestamps(), timestamp_type::log_append_time);
    run_void(f.executor, log->close());
}

TEST(partition_log, reconfigure_applies_topic_configs_to_the_next_appends_and_rolls) {
    fixture f;
    auto log = f.open(test_config());
    EXPECT_EQ(f.append(*log, make_batch(0, 8000)).base_offset, 0);
    EXPECT_EQ(log->segment_count(), 1u);
    log_config changed = log->config();
    changed.max_batch_bytes = 4096;
    changed.timestamps = timestamp_type::log_append_time;
    changed.segment_bytes = log_config::min_segment_bytes;
    log->reconfigure(changed);
    auto large = run_task(f.executor, log->append(make_batch(1, 8000)));
    ASSERT_FALSE(large.ok());
    EXPECT_EQ(large.error().code, storage_errc::batch_too_large);
    const auto stamped = f.append(*log, make_batch(2));
    EXPECT_EQ(stamped.log_append_time_ms, f.executor.wall_time_ms());
    for (int i = 3; i < 80; ++i) f.append(*log, make_batch(i, 1000));
    EXPECT_GT(log->segment_count(), 1u);  // the smaller segment.bytes rolled the log
    run_void(f.executor, log->close());
}

TEST(partition_log, lowering_max_message_bytes_keeps_larger_stored_batches) {
    fixture f;
    int64_t end = 0;
    {
        auto log = f.open(test_config());
        f.append(*log, make_batch(0, 20000));
        end = f.append(*log, make_batch(1, 100)).last_offset + 1;
        run_void(f.executor, log->close());
    }
    auto smaller = test_config();
    smaller.max_batch_bytes = 4096;
    auto log = f.open(smaller);
    EXPECT_EQ(log->recovery().bytes_truncated, 0u);
    EXPECT_EQ(log->high_watermark(), end);
    EXPECT_EQ(headers_of(f.read(*log, 0)).size(), 2u);
    run_void(f.executor, log->close());
}

TEST(partition_log, a_full_disk_refuses_appends_until_space_returns) {
    fixture f;
    auto log = f.open(test_config());
    f.append(*log, make_batch(0));
    // The device refuses writes: nothing is acknowledged, offsets come back.
    f.disk.set_full(true);
    auto failed = run_task(f.executor, log->append(make_batch(1)));
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, storage_errc::disk_full);
    EXPECT_EQ(log->high_watermark(), 2);
    EXPECT_EQ(log->log_end_offset(), 2);
    // What was acknowledged is still readable.
    EXPECT_EQ(headers_of(f.read(*log, 0)).size(), 1u);
    f.disk.set_full(false);
    EXPECT_EQ(f.append(*log, make_batch(2)).base_offset, 2);

    // Free space under the floor: refused before any write, reads go on.
    f.disk.set_free_bytes(1024);
    f.executor.run_until([&] { return true; });
    auto refused = run_task(f.executor, [](sim_executor& e, partition_log& l) -> task<storage_result<append_result>> {
        co_await e.sleep(std::chrono::seconds(1));  // past the free-space check interval
        co_return co_await l.append(make_batch(3));
    }(f.executor, *log));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, storage_errc::disk_full);
    EXPECT_EQ(headers_of(f.read(*log, 0)).size(), 2u);
    f.disk.set_free_bytes(uint64_t{1} << 40);
    auto resumed = run_task(f.executor, [](sim_executor& e, partition_log& l) -> task<storage_result<append_result>> {
        co_await e.sleep(std::chrono::seconds(1));
        co_return co_await l.append(make_batch(4));
    }(f.executor, *log));
    ASSERT_TRUE(resumed.ok());
    EXPECT_EQ(resumed->base_offset, 4);
    run_void(f.executor, log->close());
}

TEST(partition_log, retention_by_bytes_and_time_deletes_whole_old_segments) {
    fixture f;
    auto config = small_config();
    config.retention_bytes = 128 * 1024;
    auto log = f.open(config);
    for (int i = 0; i < 300; ++i) f.append(*log, make_batch(i, 900));
    const size_t segments_before = log->segment_count();
    auto report = run_task(f.executor, log->apply_retention());
    ASSERT_TRUE(report.ok());
    EXPECT_GT(report->segments_deleted, 0u);
    EXPECT_EQ(log->segment_count(), segments_before - report->segments_deleted);
    EXPECT_LE(log->size_bytes(), 128u * 1024 + config.segment_bytes);
    EXPECT_GT(log->log_start_offset(), 0);
    // The new start is readable, below it is out of range.
    const int64_t start = log->log_start_offset();
    EXPECT_EQ(headers_of(f.read(*log, start)).front().base_offset, start);
    auto gone = run_task(f.executor, log->read({.start_offset = start - 1}));
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code, storage_errc::offset_out_of_range);
    run_void(f.executor, log->close());

    // Time: every sealed segment's records (timestamps ~1000 ms after the
    // epoch) are far older than retention.ms.
    auto by_time = small_config();
    by_time.retention_ms = 60'000;
    auto reopened = f.open(by_time);
    EXPECT_EQ(reopened->log_start_offset(), start);
    auto timed = run_task(f.executor, reopened->apply_retention());
    ASSERT_TRUE(timed.ok());
    EXPECT_EQ(reopened->segment_count(), 1u);
    run_void(f.executor, reopened->close());
}

TEST(partition_log, the_probe_counts_flushes_syncs_and_retention) {
    fixture f;
    auto config = small_config();
    config.retention_bytes = 128 * 1024;
    storage_probe probe;
    auto opened = run_task(f.executor, partition_log::open(f.disk, f.executor, "data/t-0", config,
                                                           nullptr, &probe));
    ASSERT_TRUE(opened.ok());
    auto& log = **opened;
    for (int i = 0; i < 300; ++i) f.append(log, make_batch(i, 900));
    // One append at a time: every append is its own flush group and sync.
    EXPECT_EQ(probe.fdatasyncs.value(), log.stats().syncs);
    EXPECT_GE(probe.fdatasyncs.value(), 300u);
    uint64_t flushes = 0;
    for (uint64_t b : probe.flush_latency.snapshot().buckets) flushes += b;
    EXPECT_EQ(flushes, probe.fdatasyncs.value());
    auto report = run_task(f.executor, log.apply_retention());
    ASSERT_TRUE(report.ok());
    EXPECT_GT(report->segments_deleted, 0u);
    EXPECT_EQ(probe.segments_deleted.value(), report->segments_deleted);
    EXPECT_EQ(probe.retention_bytes_deleted.value(), report->bytes_deleted);
    EXPECT_EQ(probe.producer_duplicates.value(), 0u);
    run_void(f.executor, log.close());
}

TEST(partition_log, delete_records_moves_the_start_and_survives_restart) {
    fixture f;
    auto log = f.open(small_config());
    for (int i = 0; i < 100; ++i) f.append(*log, make_batch(i, 900));
    auto moved = run_task(f.executor, log->truncate_prefix(101));
    ASSERT_TRUE(moved.ok());
    EXPECT_EQ(*moved, 101);
    EXPECT_EQ(log->log_start_offset(), 101);
    auto beyond = run_task(f.executor, log->truncate_prefix(10'000));
    ASSERT_FALSE(beyond.ok());
    run_void(f.executor, log->close());
    auto reopened = f.open(small_config());
    EXPECT_EQ(reopened->log_start_offset(), 101);
    // Offset 101 sits inside the batch [100, 101]: that batch is returned.
    EXPECT_EQ(headers_of(f.read(*reopened, 101)).front().base_offset, 100);
    run_void(f.executor, reopened->close());
}

TEST(partition_log, interval_mode_syncs_on_its_timer) {
    fixture f;
    auto config = test_config();
    config.flush = flush_mode::interval;
    config.flush_interval = std::chrono::milliseconds(50);
    auto log = f.open(config);
    f.append(*log, make_batch(0));
    // Acknowledged after the write; the timer's fdatasync makes it durable,
    // so a crash after the next tick keeps it.
    run_void(f.executor, f.executor.sleep(std::chrono::milliseconds(120)));
    f.executor.abandon_all();
    f.disk.crash();
    log.reset();
    auto reopened = f.open(config);
    EXPECT_EQ(reopened->log_end_offset(), 2);
    run_void(f.executor, reopened->close());
}

TEST(partition_log, sealed_segments_have_kafka_index_files_and_rebuild_them_when_lost) {
    fixture f;
    auto config = small_config();
    config.index_interval_bytes = 1024;
    {
        auto log = f.open(config);
        for (int i = 0; i < 200; ++i) f.append(*log, make_batch(i, 900));
        run_void(f.executor, log->close());
    }
    const std::string first_index = "data/t-0/00000000000000000000.index";
    const std::string first_time_index = "data/t-0/00000000000000000000.timeindex";
    ASSERT_NE(f.disk.contents(first_index), nullptr);
    ASSERT_NE(f.disk.contents(first_time_index), nullptr);
    const auto index_image = *f.disk.contents(first_index);
    // Sparse: one entry per index.interval.bytes of log, 8 bytes each.
    EXPECT_GT(index_image.size(), 8u * 10);
    EXPECT_EQ(index_image.size() % 8, 0u);
    auto decoded = offset_index::decode(index_image, 0, {config.max_index_bytes, 1024},
                                        index_file_state::trimmed);
    ASSERT_TRUE(decoded.ok());

    // Corrupt one index and delete the other: reads rebuild them from the log.
    run_task(f.executor, [](sim_disk& d, std::string index, std::string time_index) -> task<bool> {
        auto file = std::move(*co_await d.open(index, uring::open_mode::read_write,
                                               direct_io::never));
        TL_ASSERT((co_await file->truncate(13)).ok());  // not a whole number of entries
        TL_ASSERT((co_await d.remove_file(time_index)).ok());
        co_return true;
    }(f.disk, first_index, first_time_index));
    auto log = f.open(config);
    EXPECT_EQ(headers_of(f.read(*log, 40)).front().base_offset, 40);
    EXPECT_EQ(log->indexes_rebuilt(), 1u);
    ASSERT_NE(f.disk.contents(first_time_index), nullptr);
    EXPECT_EQ(*f.disk.contents(first_index), index_image);  // byte-identical rebuild
    run_void(f.executor, log->close());
}

TEST(partition_log, a_clean_restart_reads_only_the_tail_a_crash_rescans) {
    fixture f;
    auto config = test_config();
    config.index_interval_bytes = 1024;
    {
        auto log = f.open(config);
        for (int i = 0; i < 300; ++i) f.append(*log, make_batch(i, 900));
        run_void(f.executor, log->close());
    }
    {
        auto log = f.open(config);
        EXPECT_LT(log->recovery().bytes_scanned, 4096u);  // from the last index entry
        EXPECT_EQ(log->log_end_offset(), 600);
        f.append(*log, make_batch(300, 900));
        // A crash now: no clean-shutdown marker, the log is ahead of its indexes.
        f.executor.abandon_all();
        f.disk.crash();
    }
    auto log = f.open(config);
    EXPECT_GT(log->recovery().bytes_scanned, 200u * 1000);
    EXPECT_EQ(log->log_end_offset(), 602);
    EXPECT_EQ(headers_of(f.read(*log, 300)).front().base_offset, 300);
    run_void(f.executor, log->close());
}

TEST(partition_log, offset_for_timestamp_finds_the_first_record_at_or_after) {
    fixture f;
    auto config = small_config();
    auto log = f.open(config);
    // Batch i holds records stamped 1000 + i and 1001 + i (see make_batch).
    for (int i = 0; i < 200; ++i) f.append(*log, make_batch(i * 10, 900));
    auto lookup = [&](int64_t target) {
        auto r = run_task(f.executor, log->offset_for_timestamp(target));
        TL_ASSERT(r.ok());
        return *r;
    };
    // Exactly a record's timestamp: batch 50's first record (offset 100).
    auto exact = lookup(1000 + 500);
    ASSERT_TRUE(exact.has_value());
    EXPECT_EQ(exact->offset, 100);
    EXPECT_EQ(exact->timestamp_ms, 1500);
    // Between batches: the next batch's first record.
    auto between = lookup(1000 + 505);
    ASSERT_TRUE(between.has_value());
    EXPECT_EQ(between->offset, 102);
    // The second record of a batch.
    auto second = lookup(1001 + 500);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->offset, 101);
    // Before everything: the first record; after everything: none.
    EXPECT_EQ(lookup(0)->offset, 0);
    EXPECT_FALSE(lookup(1'000'000).has_value());
    run_void(f.executor, log->close());
}

TEST(partition_log, one_cache_budget_bounds_every_log_of_a_shard) {
    fixture f;
    cache_budget budget(64 * 1024);
    auto config = test_config();
    auto open_named = [&](const std::string& name) {
        auto opened = run_task(f.executor,
                               partition_log::open(f.disk, f.executor, "data/" + name, config, &budget));
        TL_ASSERT(opened.ok());
        return std::move(*opened);
    };
    auto a = open_named("a-0");
    auto b = open_named("b-0");
    for (int i = 0; i < 100; ++i) f.append(*a, make_batch(i, 900));
    EXPECT_LE(budget.used_bytes(), budget.limit_bytes());
    EXPECT_GT(a->cached_bytes(), 32u * 1024);
    for (int i = 0; i < 100; ++i) f.append(*b, make_batch(i, 900));
    // The least recently written log gave up its cache first.
    EXPECT_LE(budget.used_bytes(), budget.limit_bytes());
    EXPECT_EQ(budget.used_bytes(), a->cached_bytes() + b->cached_bytes());
    EXPECT_LT(a->cached_bytes(), 4u * 1024);
    EXPECT_GT(b->cached_bytes(), 32u * 1024);
    // Evicted data still reads, from disk.
    EXPECT_EQ(headers_of(f.read(*a, 0)).front().base_offset, 0);
    run_void(f.executor, a->close());
    run_void(f.executor, b->close());
    a.reset();
    b.reset();
    EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(partition_log, retention_runs_in_the_background_and_close_stops_it) {
    fixture f;
    auto config = small_config();
    config.retention_bytes = 128 * 1024;
    config.retention_check_interval = std::chrono::milliseconds(10);
    auto log = f.open(config);
    for (int i = 0; i < 300; ++i) f.append(*log, make_batch(i, 900));
    const size_t before = log->segment_count();
    run_void(f.executor, f.executor.sleep(std::chrono::milliseconds(25)));
    EXPECT_LT(log->segment_count(), before);
    EXPECT_GT(log->log_start_offset(), 0);
    // close() wakes the sleeping retention task instead of waiting it out.
    const steady_time before_close = f.executor.now();
    run_void(f.executor, log->close());
    EXPECT_LT(f.executor.now() - before_close, std::chrono::milliseconds(10));
}

TEST(partition_log, offsets_near_the_int64_limit_are_refused_not_overflowed) {
    fixture f;
    // An empty segment named just below INT64_MAX: the next append needs two offsets.
    run_task(f.executor, [](sim_disk& d) -> task<bool> {
        TL_ASSERT((co_await d.make_directory("data/t-0")).ok());
        auto file = co_await d.open("data/t-0/09223372036854775806.log",
                                    uring::open_mode::create_read_write, direct_io::never);
        TL_ASSERT(file.ok());
        co_return true;
    }(f.disk));
    auto log = f.open(test_config());
    EXPECT_EQ(log->log_end_offset(), std::numeric_limits<int64_t>::max() - 1);
    auto refused = run_task(f.executor, log->append(make_batch(0)));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, storage_errc::offset_out_of_range);
    EXPECT_EQ(log->log_end_offset(), std::numeric_limits<int64_t>::max() - 1);
    run_void(f.executor, log->close());
}

TEST(partition_log, a_sealed_batch_with_a_flipped_base_offset_is_refused) {
    fixture f;
    auto config = small_config();
    {
        auto log = f.open(config);
        for (int i = 0; i < 100; ++i) f.append(*log, make_batch(i, 900));
        run_void(f.executor, log->close());
    }
    // baseOffset (bytes 0-7) is not covered by the CRC: flip a bit of the
    // second batch's, in the first (sealed) segment.
    const std::string first_segment = "data/t-0/00000000000000000000.log";
    const size_t second_batch = read_batch_header(*f.disk.contents(first_segment))->size_bytes();
    run_task(f.executor, [](sim_disk& d, std::string path, size_t at) -> task<bool> {
        auto file = std::move(*co_await d.open(path, uring::open_mode::read_write,
                                               direct_io::never));
        std::byte b[1];
        TL_ASSERT((co_await file->read_at(at + 7, b)).ok());
        b[0] ^= std::byte{0x04};
        TL_ASSERT((co_await file->write_at(at + 7, b)).ok());
        TL_ASSERT((co_await file->sync()).ok());
        co_return true;
    }(f.disk, first_segment, second_batch));
    auto log = f.open(config);
    auto r = run_task(f.executor, log->read({.start_offset = 0, .max_bytes = 1 << 20}));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("corrupt batch"), std::string::npos);
    run_void(f.executor, log->close());
}

}  // namespace
}  // namespace tl::storage
