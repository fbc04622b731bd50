// One partition's log: segments of Kafka record batches on disk.
//
// Owned by one shard; every call happens on it (the executor and disk given
// at open belong to that shard). Appends never block the shard: append()
// validates the batch, assigns its offsets at once (so the log end moves in
// append order) and suspends until the batch reaches the durability point of
// the flush mode. A single flusher task writes what has accumulated — the
// partial last page rewritten, O_DIRECT, 4 KiB aligned — then, in `group`
// mode, one fdatasync covers every append that arrived before it started;
// appends that arrive meanwhile form the next group.
//
// Offsets: log_start_offset <= high_watermark <= log_end_offset. The high
// watermark is the end of durable data (per flush mode) and is what readers
// may see; batches between it and the log end are in flight.
//
// Recovery (open): sealed segments are trusted (they were synced and trimmed
// when rolled); the last one is scanned batch by batch, CRCs checked, and cut
// at the first torn, corrupt or out-of-sequence batch.
//
// Idempotent producers (producer_state.h): batches with a producer id are
// checked against the partition's producer state before they get offsets; a
// retry of a batch in the log is answered with its offsets (once they are
// durable) and not appended again. The state is snapshotted beside the
// segments — `<offset>.snapshot`, the state below that offset — when a
// segment rolls (written once the segments before it are sealed) and on a
// clean close; open loads the latest snapshot at or below the recovered log
// end and replays the producer batches after it (those of the scanned tail
// when it covers them, else read back from the segments).
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/executor.h"
#include "base/result.h"
#include "base/task.h"
#include "storage/cache_budget.h"
#include "storage/disk.h"
#include "storage/index.h"
#include "storage/log_config.h"
#include "storage/probe.h"
#include "storage/producer_state.h"
#include "storage/record_batch.h"

namespace tl::storage {

template <typename T>
using storage_result = result<T, storage_error>;

struct append_result {
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    int64_t log_append_time_ms = no_timestamp;  // set when the log stamps LogAppendTime
    int64_t log_start_offset = 0;
};

struct read_request {
    int64_t start_offset = 0;
    size_t max_bytes = 1024 * 1024;
    // Exclusive bound: usually the high watermark (the default when unset).
    std::optional<int64_t> max_offset;
};

struct read_result {
    // Whole batches, in offset order; the first may begin before start_offset
    // (Kafka returns the batch that contains it). At least one batch when any
    // is readable, even if it is larger than max_bytes.
    std::vector<std::byte> batches;
    int64_t high_watermark = 0;
    int64_t log_start_offset = 0;
};

struct retention_report {
    uint64_t segments_deleted = 0;
    uint64_t bytes_deleted = 0;
};

// ListOffsets by timestamp: the first record whose timestamp is >= the target.
struct timestamp_lookup {
    int64_t offset = 0;
    int64_t timestamp_ms = 0;
};

// Counters for benchmarks and the metrics subsystem.
struct log_stats {
    uint64_t writes = 0;          // io_uring writes of batches
    uint64_t bytes_written = 0;   // batch bytes (not the rewritten tail pages)
    uint64_t syncs = 0;           // fdatasyncs of segment files
    uint64_t appends_acknowledged = 0;
    uint64_t duplicates = 0;          // retried producer batches answered from the state
    uint64_t producer_snapshots = 0;  // snapshot files written
    uint64_t producer_snapshot_failures = 0;  // not written (open then replays more)
    uint64_t producers_expired = 0;
};

struct recovery_report {
    uint64_t segments = 0;
    uint64_t bytes_scanned = 0;
    uint64_t batches_recovered = 0;
    uint64_t bytes_truncated = 0;           // torn or corrupt tail cut off
    std::optional<batch_errc> tail_error;  // why the scan stopped early, if it did
    // Producer state: the snapshot it started from (nullopt: none usable),
    // and the producer batches replayed after it.
    std::optional<int64_t> producer_snapshot_offset;
    uint64_t producer_batches_replayed = 0;
    uint64_t producer_batches_read_back = 0;  // of those, read again from segments
};

class partition_log final : private cache_holder {
public:
    // Opens (and recovers) the log in `directory`, creating it if missing.
    // Its read cache is charged to `cache` (the shard's budget) when given,
    // else bounded by config.cache_bytes alone.
    // `probe` (the shard's, may be null) counts flushes, syncs, retention.
    static task<storage_result<std::unique_ptr<partition_log>>> open(
        disk& d, executor& e, std::string directory, log_config config,
        cache_budget* cache = nullptr, storage_probe* probe = nullptr);
    ~partition_log();
    partition_log(const partition_log&) = delete;
    partition_log& operator=(const partition_log&) = delete;

    // Appends one batch as produced by a client; see the header comment.
    // `already_validated`: the caller ran validate_batch (with the exact
    // offset-delta policy) on these bytes, so only the header is read again
    // (the Kafka layer checks batches on the shard that received them).
    task<storage_result<append_result>> append(std::span<const std::byte> batch,
                                               bool already_validated = false);
    task<storage_result<read_result>> read(read_request request);
    // Deletes whole sealed segments beyond retention.ms (by their largest
    // timestamp) or retention.bytes, advancing the log start offset.
    task<storage_result<retention_report>> apply_retention();
    // The first record at or after `target_ms` (for compressed batches, the
    // batch holding it), below the high watermark; nullopt if none.
    task<storage_result<std::optional<timestamp_lookup>>> offset_for_timestamp(int64_t target_ms);
    // DeleteRecords: moves the log start offset to `new_start` (at most the
    // high watermark), persists it, and deletes segments wholly below it.
    task<storage_result<int64_t>> truncate_prefix(int64_t new_start);
    // Applies changed topic configs (segment.bytes, segment.ms, retention.*,
    // max.message.bytes, message.timestamp.type, index settings): sizes and
    // ages bound the next roll, retention the next check, the rest the next
    // append. Flush, cache and free-space settings stay as opened.
    void reconfigure(const log_config& topic);
    const log_config& config() const noexcept { return _config; }

    // Writes and syncs everything pending, trims the active segment to its
    // size and closes every file. Appends after close fail with `closed`.
    task<void> close();

    // The largest record timestamp in the log (no_timestamp when empty), as
    // the segments know it; ListOffsets MAX_TIMESTAMP looks it up by time.
    int64_t max_timestamp_ms() const noexcept;
    int64_t log_start_offset() const noexcept { return _log_start_offset; }
    int64_t high_watermark() const noexcept { return _durable_end_offset; }
    int64_t log_end_offset() const noexcept { return _next_offset; }
    uint64_t size_bytes() const noexcept;
    uint64_t cached_bytes() const noexcept { return _cache_bytes; }
    size_t segment_count() const noexcept { return _segments.size(); }
    const recovery_report& recovery() const noexcept { return _recovery; }
    const log_stats& stats() const noexcept { return _stats; }
    const producer_state& producers() const noexcept { return _producers; }
    // Index files found missing or corrupt and rebuilt from the log.
    uint64_t indexes_rebuilt() const noexcept { return _indexes_rebuilt; }
    const std::string& directory() const noexcept { return _directory; }

private:
    struct segment;
    struct pending_batch;
    struct cached_batch;
    struct append_waiter;

    partition_log(disk& d, executor& e, std::string directory, log_config config,
                  cache_budget* cache, storage_probe* probe);
    uint64_t evict_oldest_cached() noexcept override;
    void drop_cached_below(int64_t offset) noexcept;
    task<void> run_retention();

    task<storage_result<void>> load();
    task<storage_result<void>> load_log_start_offset();
    task<storage_result<void>> store_log_start_offset();
    task<storage_result<void>> delete_front_segments(size_t count);
    bool below_free_space_floor();
    void roll_back_pending(const storage_error& error);
    task<void> run_interval_sync();
    enum class shutdown_state : uint8_t { clean, crashed };
    static constexpr const char* clean_shutdown_marker = "clean-shutdown";

    task<storage_result<void>> recover_tail(segment& last, shutdown_state previous);
    task<storage_result<bool>> resume_tail(segment& last, uint64_t file_size);
    task<storage_result<void>> finish_tail(segment& last, uint64_t file_size, uint64_t position,
                                           int64_t next_offset);
    task<storage_result<std::pair<offset_index, time_index>>> load_index_files(const segment& s);
    task<storage_result<void>> write_index_files(segment& s);
    task<storage_result<void>> ensure_index(segment& s);
    index_config index_settings() const noexcept;
    std::string index_path(const segment& s, segment_file_kind kind) const;
    std::shared_ptr<segment> active_for(size_t batch_bytes, int64_t now_ms);
    void start_flusher();
    task<void> run_flusher();
    task<storage_result<void>> prepare_file(segment& s);
    task<storage_result<void>> write_pending(segment& s, size_t count);
    task<storage_result<void>> seal(segment& s);
    void acknowledge_up_to(int64_t end_offset);
    void fail_pending(const storage_error& error);
    void trim_cache();
    task<storage_result<void>> read_from_disk(const read_request& request, int64_t bound,
                                              read_result& out);
    std::string segment_path(int64_t base_offset) const;

    task<storage_result<append_result>> answer_duplicate(const producer_batch& original);
    void note_tail_batch(const batch_header& header);
    task<storage_result<void>> load_producer_state(std::vector<int64_t> snapshots);
    task<storage_result<bool>> read_producer_snapshot(int64_t offset);
    task<storage_result<void>> replay_producers(int64_t from_offset);
    void replay_producer_batch(const batch_header& header);
    task<void> write_producer_snapshot(int64_t offset, std::vector<std::byte> bytes);
    task<void> run_producer_expiry();
    disk& _disk;
    executor& _executor;
    const std::string _directory;
    log_config _config;

    // Shared: a reader or the flusher keeps the segment it works on alive across
    // suspensions even if retention drops it meanwhile (its file closes when
    // the last holder lets go).
    std::deque<std::shared_ptr<segment>> _segments;
    std::deque<pending_batch> _pending;  // assigned, not yet written
    std::deque<cached_batch> _cache;     // written, kept for reads
    uint64_t _cache_bytes = 0;
    cache_budget* _cache_budget;
    storage_probe* _probe;  // may be null
    std::deque<append_waiter*> _waiters;  // in offset order

    int64_t _log_start_offset = 0;
    int64_t _next_offset = 0;         // log end offset
    int64_t _written_end_offset = 0;  // end of data written to its file
    int64_t _durable_end_offset = 0;  // high watermark
    int64_t _synced_end_offset = 0;   // end of data covered by an fdatasync
    uint64_t _bytes_since_sync = 0;
    bool _flusher_running = false;
    bool _interval_sync_running = false;
    bool _retention_running = false;
    bool _below_floor = false;
    steady_time _free_space_checked_at{};
    bool _closing = false;
    std::optional<storage_error> _offline;  // set after a failed write or sync
    std::coroutine_handle<> _close_waiter;
    std::coroutine_handle<> _interval_close_waiter;
    std::coroutine_handle<> _retention_close_waiter;
    wakeup _stop_interval_sync;  // fired by close()
    wakeup _stop_retention;
    recovery_report _recovery;
    log_stats _stats;
    producer_state _producers;
    // Open only: the producer batches the tail scan saw, from _tail_scan_from on.
    std::vector<batch_header> _tail_producer_batches;
    std::optional<int64_t> _tail_scan_from;
    bool _expiry_running = false;
    std::coroutine_handle<> _expiry_close_waiter;
    wakeup _stop_expiry;
    uint64_t _indexes_rebuilt = 0;
};

}  // namespace tl::storage
