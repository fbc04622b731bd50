// One partition's metrics, kept by its owner shard's partition_manager:
// produced and fetched bytes and records (exported per topic: the
// partitions' series carry only the topic label and are summed at scrape)
// and, when metrics_per_partition is on, its offsets and size (published by
// partition_manager::publish_metrics(), about once a second).
//
// Lives in the partition's local_partition on its owner shard; its verbs
// run there, on the append and read paths: a relaxed store each, no lookup.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "storage/partition_log.h"

namespace tl::cluster {

class partition_probe {
public:
    partition_probe(metrics::registry& registry, const std::string& topic, int32_t partition,
                    bool per_partition);
    partition_probe(const partition_probe&) = delete;
    partition_probe& operator=(const partition_probe&) = delete;

    void produced(uint64_t bytes, uint64_t records) noexcept {
        _produced_bytes.add(bytes);
        _produced_records.add(records);
    }
    void fetched(uint64_t bytes, uint64_t records) noexcept {
        _fetched_bytes.add(bytes);
        _fetched_records.add(records);
    }
    // Copies the log's offsets and size into the gauges.
    void publish(const storage::partition_log& log) noexcept;

private:
    metrics::counter _produced_bytes;
    metrics::counter _produced_records;
    metrics::counter _fetched_bytes;
    metrics::counter _fetched_records;
    metrics::gauge _log_start_offset;
    metrics::gauge _high_watermark;
    metrics::gauge _log_end_offset;
    metrics::gauge _size_bytes;
    // Last: removed before the values they point at.
    std::vector<metrics::registration> _registrations;
};

// Registers a shard's storage probe (flush latency, fdatasyncs, retention,
// duplicates) with the shard's label; the registrations must go first.
std::vector<metrics::registration> register_storage_probe(metrics::registry& registry,
                                                          unsigned shard_id,
                                                          const storage::storage_probe& probe);

// Bytes and records in whole record batches as a read returns them.
struct batch_totals {
    uint64_t bytes = 0;
    uint64_t records = 0;
};
batch_totals count_batches(std::span<const std::byte> batches) noexcept;

}  // namespace tl::cluster
