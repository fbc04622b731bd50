// Idempotent producers in storage: the sequence rules of producer_state
// (Kafka's ProducerAppendInfo), its snapshot format (round trip; every
// truncation and bit flip refused), and the partition log on the simulated
// disk — a retry is answered with the original offsets and stored once, gaps
// and stale epochs get typed errors, pipelined batches keep their order, and
// deduplication holds across a clean restart, a crash (replay of the tail), a
// roll (snapshot at the segment base), lost snapshots (read back from the
// segments), expiry and DeleteRecords.
#include <gtest/gtest.h>

#include <limits>

#include "sim/sim_disk.h"
#include "storage/partition_log.h"
#include "storage/producer_state.h"

namespace tl::storage {
namespace {

using sim::sim_disk;
using sim::sim_executor;

batch_header header(int64_t producer_id, int16_t epoch, int32_t first_sequence,
                    int32_t records = 1) {
    batch_header h;
    h.producer_id = producer_id;
    h.producer_epoch = epoch;
    h.base_sequence = first_sequence;
    h.last_offset_delta = records - 1;
    h.record_count = records;
    return h;
}

// Records `h` at the next offsets of a log that ends at `end`.
void record(producer_state& state, const batch_header& h, int64_t& end, int64_t now_ms = 0) {
    state.record(h, end, end + h.last_offset_delta, no_timestamp, now_ms);
    end += h.last_offset_delta + 1;
}

sequence_verdict verdict(const producer_state& state, const batch_header& h) {
    return state.check(h).verdict;
}

TEST(producer_state, batches_without_a_producer_id_are_not_checked) {
    producer_state state;
    EXPECT_EQ(verdict(state, header(no_producer_id, -1, -1)), sequence_verdict::append);
    int64_t end = 0;
    record(state, header(no_producer_id, -1, -1), end);
    EXPECT_TRUE(state.empty());
}

TEST(producer_state, sequences_follow_on_and_retries_of_the_last_five_are_duplicates) {
    producer_state state;
    int64_t end = 100;
    // A new producer must start at 0.
    EXPECT_EQ(verdict(state, header(7, 0, 5)), sequence_verdict::unknown_producer);
    EXPECT_EQ(verdict(state, header(7, 0, 0, 3)), sequence_verdict::append);
    for (int i = 0; i < 8; ++i) {
        const auto h = header(7, 0, 3 * i, 3);
        ASSERT_EQ(verdict(state, h), sequence_verdict::append) << i;
        record(state, h, end);
    }
    // Batches 3..7 are kept: their retries get their offsets back.
    for (int i = 3; i < 8; ++i) {
        const auto check = state.check(header(7, 0, 3 * i, 3));
        ASSERT_EQ(check.verdict, sequence_verdict::duplicate) << i;
        EXPECT_EQ(check.duplicate.base_offset, 100 + 3 * i);
        EXPECT_EQ(check.duplicate.last_offset, 100 + 3 * i + 2);
    }
    // Older retries are known duplicates without offsets.
    EXPECT_EQ(verdict(state, header(7, 0, 0, 3)), sequence_verdict::old_duplicate);
    EXPECT_EQ(verdict(state, header(7, 0, 6, 3)), sequence_verdict::old_duplicate);
    // The next one follows on; a gap, or an overlap that is no retry, is out of order.
    EXPECT_EQ(verdict(state, header(7, 0, 24)), sequence_verdict::append);
    EXPECT_EQ(verdict(state, header(7, 0, 25)), sequence_verdict::out_of_order);
    EXPECT_EQ(verdict(state, header(7, 0, 22, 2)), sequence_verdict::out_of_order);
    // Another producer id is another sequence.
    EXPECT_EQ(verdict(state, header(8, 0, 0)), sequence_verdict::append);
}

TEST(producer_state, epochs_fence_older_producers_and_restart_the_sequence) {
    producer_state state;
    int64_t end = 0;
    record(state, header(1, 3, 0, 2), end);
    record(state, header(1, 3, 2, 2), end);
    EXPECT_EQ(verdict(state, header(1, 2, 4)), sequence_verdict::stale_epoch);
    EXPECT_EQ(verdict(state, header(1, 2, 0)), sequence_verdict::stale_epoch);
    // A bump must start at 0.
    EXPECT_EQ(verdict(state, header(1, 4, 4)), sequence_verdict::out_of_order);
    EXPECT_EQ(verdict(state, header(1, 4, 0)), sequence_verdict::append);
    record(state, header(1, 4, 0), end);
    EXPECT_EQ(state.find(1)->epoch, 4);
    EXPECT_EQ(state.find(1)->count, 1);  // the old epoch's batches are gone
    EXPECT_EQ(verdict(state, header(1, 3, 4)), sequence_verdict::stale_epoch);
    EXPECT_EQ(verdict(state, header(1, 4, 1)), sequence_verdict::append);
}

TEST(producer_state, sequences_wrap_after_int32_max) {
    constexpr int32_t max = std::numeric_limits<int32_t>::max();
    EXPECT_EQ(increment_sequence(max, 1), 0);
    EXPECT_EQ(increment_sequence(max - 1, 3), 1);
    EXPECT_EQ(increment_sequence(5, 3), 8);
    producer_state state;
    int64_t end = 0;
    // A batch ending exactly at INT32_MAX: the next one starts at 0.
    record(state, header(1, 0, max - 1, 2), end);
    EXPECT_EQ(state.find(1)->last().last_sequence, max);
    EXPECT_EQ(verdict(state, header(1, 0, 0)), sequence_verdict::append);
    EXPECT_EQ(verdict(state, header(1, 0, 1)), sequence_verdict::out_of_order);
    // A batch whose range wraps is in sequence too, and its retry a duplicate.
    const batch_header wrapping = header(2, 0, max - 1, 3);
    EXPECT_EQ(wrapping.last_sequence(), 0);
    record(state, wrapping, end);
    EXPECT_EQ(verdict(state, wrapping), sequence_verdict::duplicate);
    EXPECT_EQ(verdict(state, header(2, 0, 1)), sequence_verdict::append);
}

TEST(producer_state, failed_writes_expiry_and_log_start_forget_batches) {
    producer_state state;
    int64_t end = 0;
    record(state, header(1, 0, 0), end, 1000);      // offset 0
    record(state, header(2, 0, 0), end, 1000);      // offset 1
    record(state, header(1, 0, 1), end, 5000);      // offset 2
    record(state, header(3, 0, 0, 4), end, 9000);   // offsets 3..6
    // The write of offsets 2.. failed: producer 1 is back at sequence 0, 3 is gone.
    state.truncate_from(2);
    EXPECT_EQ(state.find(1)->last().last_sequence, 0);
    EXPECT_EQ(state.find(3), nullptr);
    EXPECT_EQ(verdict(state, header(1, 0, 1)), sequence_verdict::append);
    EXPECT_EQ(verdict(state, header(3, 0, 4)), sequence_verdict::unknown_producer);
    end = 2;
    record(state, header(1, 0, 1), end, 5000);  // offset 2
    // Retention moved the log start past producer 2's only batch.
    EXPECT_EQ(state.evict_below(2), 1u);
    EXPECT_EQ(state.find(2), nullptr);
    EXPECT_NE(state.find(1), nullptr);
    // Idle for 4 s of a 4 s limit: expired.
    EXPECT_EQ(state.expire(8999, 4000), 0u);
    EXPECT_EQ(state.expire(9000, 4000), 1u);
    EXPECT_TRUE(state.empty());
}

producer_state sample_state() {
    producer_state state;
    int64_t end = 10;
    for (int i = 0; i < 7; ++i) record(state, header(42, 2, 2 * i, 2), end, 1000 + i);
    record(state, header(5, 0, 0), end, 77);
    state.record(header(9, 1, 0, 3), end, end + 2, 1234567, 99);
    return state;
}

TEST(producer_state, snapshots_round_trip_byte_for_byte) {
    const producer_state state = sample_state();
    const auto bytes = state.encode_snapshot(100);
    auto decoded = producer_snapshot::decode(bytes);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->offset, 100);
    EXPECT_EQ(decoded->state, state);
    EXPECT_EQ(decoded->state.encode_snapshot(100), bytes);
    // Empty state: a valid snapshot too.
    auto empty = producer_snapshot::decode(producer_state{}.encode_snapshot(0));
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->state.empty());
}

TEST(producer_state, every_truncation_and_bit_flip_of_a_snapshot_is_refused) {
    const auto bytes = sample_state().encode_snapshot(100);
    for (size_t size = 0; size < bytes.size(); ++size) {
        EXPECT_FALSE(producer_snapshot::decode(std::span(bytes).first(size)).ok()) << size;
    }
    for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
        auto flipped = bytes;
        flipped[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
        EXPECT_FALSE(producer_snapshot::decode(flipped).ok()) << bit;
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(producer_snapshot::decode(longer).ok());
}

TEST(producer_state, a_snapshot_naming_offsets_at_or_past_its_own_is_refused) {
    // Batches must lie below the snapshot's offset: a state written for
    // offset 100 cannot be presented as the state below 12.
    const auto bytes = sample_state().encode_snapshot(12);
    EXPECT_FALSE(producer_snapshot::decode(bytes).ok());
}

// ---- the partition log ----

template <typename T>
T run_task(sim_executor& executor, task<T> work) {
    return executor.run_task(std::move(work));
}

void run_void(sim_executor& executor, task<void> work) { executor.run_task(std::move(work)); }

std::vector<std::byte> producer_batch_bytes(int64_t producer_id, int16_t epoch,
                                            int32_t first_sequence, int records = 2,
                                            size_t value_bytes = 100) {
    record_batch_builder builder;
    builder.set_producer(producer_id, epoch, first_sequence);
    for (int r = 0; r < records; ++r) {
        builder.add_record(1'700'000'000'000 + first_sequence + r, "k",
                           std::string(value_bytes, static_cast<char>('a' + (first_sequence + r) % 26)));
    }
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
    storage_result<append_result> append(partition_log& log, std::span<const std::byte> batch) {
        return run_task(executor, log.append(batch));
    }
    std::vector<batch_header> all_headers(partition_log& log) {
        std::vector<batch_header> out;
        int64_t offset = log.log_start_offset();
        while (offset < log.high_watermark()) {
            auto r = run_task(executor, log.read({.start_offset = offset}));
            TL_ASSERT(r.ok(), "read");
            std::span<const std::byte> rest(r->batches);
            while (!rest.empty()) {
                auto size = peek_batch_size(rest, 1 << 24);
                TL_ASSERT(size.ok());
                auto h = read_batch_header(rest.first(*size));
                TL_ASSERT(h.ok());
                if (h->base_offset >= offset) out.push_back(*h);
                offset = h->last_offset() + 1;
                rest = rest.subspan(*size);
            }
        }
        return out;
    }
    sim_executor executor;
    sim_disk disk;
};

log_config test_config() {
    log_config config;
    config.segment_bytes = 64 * 1024;
    config.cache_bytes = 0;  // reads come from disk
    return config;
}

TEST(partition_log_idempotence, a_retry_gets_the_original_offsets_and_is_stored_once) {
    fixture f;
    auto log = f.open(test_config());
    ASSERT_TRUE(f.append(*log, producer_batch_bytes(no_producer_id, -1, -1)).ok());  // 0..1
    auto first = f.append(*log, producer_batch_bytes(11, 0, 0));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->base_offset, 2);
    auto second = f.append(*log, producer_batch_bytes(11, 0, 2));
    ASSERT_TRUE(second.ok());
    auto retry = f.append(*log, producer_batch_bytes(11, 0, 0));
    ASSERT_TRUE(retry.ok());
    EXPECT_EQ(retry->base_offset, 2);
    EXPECT_EQ(retry->last_offset, 3);
    EXPECT_EQ(log->log_end_offset(), 6);
    EXPECT_EQ(log->stats().duplicates, 1u);
    EXPECT_EQ(f.all_headers(*log).size(), 3u);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, gaps_stale_epochs_and_unknown_producers_are_refused) {
    fixture f;
    auto log = f.open(test_config());
    ASSERT_TRUE(f.append(*log, producer_batch_bytes(3, 1, 0)).ok());
    auto expect_refused = [&](std::vector<std::byte> batch, storage_errc code) {
        auto r = f.append(*log, batch);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, code) << r.error().message();
    };
    expect_refused(producer_batch_bytes(3, 1, 5), storage_errc::out_of_order_sequence);
    expect_refused(producer_batch_bytes(3, 0, 2), storage_errc::invalid_producer_epoch);
    expect_refused(producer_batch_bytes(3, 2, 2), storage_errc::out_of_order_sequence);
    expect_refused(producer_batch_bytes(4, 0, 9), storage_errc::unknown_producer_id);
    EXPECT_EQ(log->log_end_offset(), 2);  // nothing refused was stored
    ASSERT_TRUE(f.append(*log, producer_batch_bytes(3, 1, 2)).ok());
    EXPECT_EQ(log->log_end_offset(), 4);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, five_pipelined_batches_and_a_retry_in_flight_keep_their_order) {
    // Seeds vary how far the flusher gets meanwhile; some must catch the
    // retry while its original is still in flight.
    int retries_in_flight = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        fixture f(seed);
        auto log = f.open(test_config());
        std::vector<std::optional<storage_result<append_result>>> results(6);
        auto start = [&](int32_t sequence, size_t slot) {
            f.executor.spawn([](partition_log& l, std::vector<std::byte> b,
                                std::optional<storage_result<append_result>>& out) -> task<void> {
                out.emplace(co_await l.append(b));
            }(*log, producer_batch_bytes(20, 0, sequence), results[slot]));
        };
        // Five in flight (each started once the one before has its offsets,
        // as requests arrive in order on a connection), then a retry of the
        // third.
        for (int i = 0; i < 5; ++i) {
            start(2 * i, static_cast<size_t>(i));
            f.executor.run_until([&] { return log->log_end_offset() == 2 * (i + 1); });
        }
        if (log->high_watermark() <= 4) ++retries_in_flight;
        start(4, 5);
        f.executor.run_until([&] {
            return std::all_of(results.begin(), results.end(),
                               [](auto& r) { return r.has_value(); });
        });
        for (int i = 0; i < 5; ++i) {
            ASSERT_TRUE(results[static_cast<size_t>(i)]->ok()) << seed << " " << i;
            EXPECT_EQ((*results[static_cast<size_t>(i)])->base_offset, 2 * i);
        }
        ASSERT_TRUE(results[5]->ok());
        EXPECT_EQ((*results[5])->base_offset, 4);
        EXPECT_EQ(log->log_end_offset(), 10);
        EXPECT_EQ(f.all_headers(*log).size(), 5u);
        run_void(f.executor, log->close());
    }
    EXPECT_GT(retries_in_flight, 0);
}

// Appends batches of producer 30 from `first` to `last` sequence (two records each).
void produce_sequences(fixture& f, partition_log& log, int32_t first, int32_t end,
                       size_t value_bytes = 100) {
    for (int32_t s = first; s < end; s += 2) {
        auto r = f.append(log, producer_batch_bytes(30, 0, s, 2, value_bytes));
        TL_ASSERT(r.ok(), "produce");
    }
}

void expect_deduplicated(fixture& f, partition_log& log, int32_t last_first_sequence,
                         int64_t its_base_offset) {
    const int64_t end = log.log_end_offset();
    auto retry = f.append(log, producer_batch_bytes(30, 0, last_first_sequence));
    ASSERT_TRUE(retry.ok()) << retry.error().message();
    EXPECT_EQ(retry->base_offset, its_base_offset);
    EXPECT_EQ(log.log_end_offset(), end);
    auto gap = f.append(log, producer_batch_bytes(30, 0, last_first_sequence + 4));
    ASSERT_FALSE(gap.ok());
    EXPECT_EQ(gap.error().code, storage_errc::out_of_order_sequence);
    auto next = f.append(log, producer_batch_bytes(30, 0, last_first_sequence + 2));
    ASSERT_TRUE(next.ok()) << next.error().message();
    EXPECT_EQ(next->base_offset, end);
}

TEST(partition_log_idempotence, a_clean_restart_loads_the_close_snapshot_and_replays_nothing) {
    fixture f;
    {
        auto log = f.open(test_config());
        produce_sequences(f, *log, 0, 20);
        run_void(f.executor, log->close());
    }
    auto log = f.open(test_config());
    EXPECT_EQ(log->recovery().producer_snapshot_offset, 20);
    EXPECT_EQ(log->recovery().producer_batches_replayed, 0u);
    expect_deduplicated(f, *log, 18, 18);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, a_crash_replays_the_tail_after_the_roll_snapshot) {
    fixture f;
    auto config = test_config();
    {
        auto log = f.open(config);
        // 1 KiB records: 64 KiB segments roll every ~30 batches.
        produce_sequences(f, *log, 0, 200, 1000);
        ASSERT_GT(log->segment_count(), 2u);
        f.executor.abandon_all();
        f.disk.crash();
    }
    auto log = f.open(config);
    EXPECT_EQ(log->log_end_offset(), 200);  // group mode: everything acknowledged survives
    ASSERT_TRUE(log->recovery().producer_snapshot_offset.has_value());
    EXPECT_GT(*log->recovery().producer_snapshot_offset, 0);
    EXPECT_GT(log->recovery().producer_batches_replayed, 0u);
    EXPECT_EQ(log->recovery().producer_batches_read_back, 0u);  // the tail scan had them
    expect_deduplicated(f, *log, 198, 198);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, lost_snapshots_are_rebuilt_from_the_segments) {
    fixture f;
    auto config = test_config();
    {
        auto log = f.open(config);
        produce_sequences(f, *log, 0, 200, 1000);
        run_void(f.executor, log->close());
    }
    auto names = f.disk.list_directory("data/t-0");
    ASSERT_TRUE(names.ok());
    size_t removed = 0;
    for (const auto& name : *names) {
        auto parsed = parse_segment_file_name(name);
        if (parsed && parsed->kind == segment_file_kind::producer_snapshot) {
            ASSERT_TRUE(run_task(f.executor, f.disk.remove_file("data/t-0/" + name)).ok());
            ++removed;
        }
    }
    EXPECT_GT(removed, 0u);
    auto log = f.open(config);
    EXPECT_FALSE(log->recovery().producer_snapshot_offset.has_value());
    EXPECT_EQ(log->recovery().producer_batches_read_back, 100u);
    expect_deduplicated(f, *log, 198, 198);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, a_corrupt_latest_snapshot_falls_back_to_an_older_one) {
    fixture f;
    auto config = test_config();
    {
        auto log = f.open(config);
        produce_sequences(f, *log, 0, 200, 1000);
        run_void(f.executor, log->close());
    }
    // The close snapshot (offset 200) damaged.
    const std::string latest =
        "data/t-0/" + segment_file_name(200, segment_file_kind::producer_snapshot);
    ASSERT_NE(f.disk.contents(latest), nullptr);
    f.disk.flip_bits(3, latest);
    auto log = f.open(config);
    ASSERT_TRUE(log->recovery().producer_snapshot_offset.has_value());
    EXPECT_LT(*log->recovery().producer_snapshot_offset, 200);
    EXPECT_GT(log->recovery().producer_batches_read_back, 0u);
    expect_deduplicated(f, *log, 198, 198);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, idle_producers_expire) {
    fixture f;
    auto config = test_config();
    config.producer_id_expiration = std::chrono::milliseconds(60'000);
    config.producer_id_expiration_check_interval = std::chrono::milliseconds(1'000);
    auto log = f.open(config);
    produce_sequences(f, *log, 0, 4);
    run_void(f.executor, f.executor.sleep(std::chrono::seconds(30)));
    EXPECT_EQ(log->producers().size(), 1u);
    run_void(f.executor, f.executor.sleep(std::chrono::seconds(32)));
    EXPECT_EQ(log->producers().size(), 0u);
    EXPECT_EQ(log->stats().producers_expired, 1u);
    auto next = f.append(*log, producer_batch_bytes(30, 0, 4));
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.error().code, storage_errc::unknown_producer_id);
    run_void(f.executor, log->close());
}

TEST(partition_log_idempotence, delete_records_past_a_producer_forgets_it) {
    fixture f;
    auto log = f.open(test_config());
    produce_sequences(f, *log, 0, 4);                                      // offsets 0..3
    ASSERT_TRUE(f.append(*log, producer_batch_bytes(31, 0, 0)).ok());  // 4..5
    ASSERT_TRUE(run_task(f.executor, log->truncate_prefix(4)).ok());
    auto next = f.append(*log, producer_batch_bytes(30, 0, 4));
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.error().code, storage_errc::unknown_producer_id);
    EXPECT_TRUE(f.append(*log, producer_batch_bytes(31, 0, 2)).ok());
    run_void(f.executor, log->close());
}

}  // namespace
}  // namespace tl::storage
