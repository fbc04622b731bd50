// Per-partition log settings (Kafka topic configs the storage engine honours)
// and the storage engine's error vocabulary.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "storage/record_batch.h"
#include "uring/io_error.h"

namespace tl::storage {

// When an append is acknowledged, and so what a crash can take back.
enum class flush_mode : uint8_t {
    group,     // after the fdatasync that covers it: a crash loses nothing acknowledged
    interval,  // after the write; fdatasync every flush_interval or flush_interval_bytes,
               // so a crash loses at most that window
    none,      // after the write; fdatasync only when a segment rolls or closes
};

// What batches already stored may be: max.message.bytes bounds appends only.
// An operator who lowers it must not make recovery or reads take older,
// larger batches for corrupt ones. (Scans check a batch's length against the
// file's end before reading it, so this bound costs no memory.)
inline constexpr size_t stored_batch_bytes_max = size_t{1} << 31;

struct log_config {
    static constexpr uint64_t min_segment_bytes = 64 * 1024;
    static constexpr uint64_t max_segment_bytes = uint64_t{1} << 31;  // 32-bit index positions

    uint64_t segment_bytes = uint64_t{1} << 30;                 // segment.bytes
    std::chrono::milliseconds segment_ms{7LL * 24 * 3600 * 1000};  // segment.ms
    uint32_t index_interval_bytes = 4096;                       // index.interval.bytes
    uint32_t max_index_bytes = 10 * 1024 * 1024;                // segment.index.bytes
    int64_t retention_ms = 7LL * 24 * 3600 * 1000;              // retention.ms (-1: forever)
    int64_t retention_bytes = -1;                               // retention.bytes (-1: no limit)
    uint32_t max_batch_bytes = 1024 * 1024 + 12;                // max.message.bytes
    timestamp_type timestamps = timestamp_type::create_time;    // message.timestamp.type
    // Recently written batches kept in memory for reads, per partition (the
    // shard's cache_budget bounds all partitions together).
    uint64_t cache_bytes = 8 * 1024 * 1024;
    // How often the background task applies retention (0: never; the owner
    // calls apply_retention itself).
    std::chrono::milliseconds retention_check_interval{5 * 60 * 1000};
    flush_mode flush = flush_mode::group;
    std::chrono::milliseconds flush_interval{100};              // for flush_mode::interval
    uint64_t flush_interval_bytes = 64 * 1024 * 1024;           // for flush_mode::interval
    // Appends are refused with disk_full while the file system has less free
    // space than this; reads go on, and appends resume when space returns.
    uint64_t min_free_bytes = 1024 * 1024 * 1024;
    std::chrono::milliseconds free_space_check_interval{100};
    // Bytes written in one io_uring write at most; a larger backlog is
    // written in several, each acknowledged as it becomes durable.
    uint32_t max_write_bytes = 4 * 1024 * 1024;
    // Idempotent producers (producer_state.h): a producer id idle this long
    // is forgotten (producer.id.expiration.ms), checked this often (0: never;
    // producer.id.expiration.check.interval.ms).
    std::chrono::milliseconds producer_id_expiration{24LL * 3600 * 1000};
    std::chrono::milliseconds producer_id_expiration_check_interval{10 * 60 * 1000};
};

enum class storage_errc : uint8_t {
    corrupt_batch,        // the batch fails validation (CRC, lengths, magic...)
    batch_too_large,      // above max_batch_bytes
    disk_full,            // free space below the floor, or the device said ENOSPC
    io_failure,           // any other I/O error; the log may be offline
    offset_out_of_range,  // read below the log start or above the log end
    log_offline,          // a previous durability failure: no more appends
    closed,               // the log is closing or closed
    // Idempotent producers (producer_state.h): the batch was refused.
    out_of_order_sequence,   // a gap, or a new epoch not starting at 0
    duplicate_sequence,      // a retry older than the batches kept
    invalid_producer_epoch,  // an epoch older than the partition's
    unknown_producer_id,     // no state for the id, and the batch does not start at 0
};

struct storage_error {
    storage_errc code = storage_errc::io_failure;
    uring::io_error io{};     // set for disk_full and io_failure
    std::string detail;       // human-readable context (path, batch error)

    [[nodiscard]] std::string message() const;
};

}  // namespace tl::storage
