// The storage engine's metrics on one shard, shared by its partition logs:
// flush latency (the write and fdatasync of one flush group), fdatasyncs,
// segments and bytes deleted by retention, retried producer batches.
//
//   storage_probe probe;                       // one per shard (partition_manager)
//   partition_log::open(disk, exec, dir, config, &cache, &probe);
//
// Written only by the shard owning the logs (relaxed stores, metric.h);
// registered by whoever owns it, with the shard's label.
#pragma once

#include <cstdint>

#include "base/clock.h"
#include "metrics/metric.h"

namespace tl::storage {

class storage_probe {
public:
    void flushed(duration_ns write_and_sync) noexcept {
        flush_latency.record(static_cast<uint64_t>(std::max<int64_t>(0, write_and_sync.count())));
    }
    void synced() noexcept { fdatasyncs.add(); }
    void retention_deleted(uint64_t segments, uint64_t bytes) noexcept {
        segments_deleted.add(segments);
        retention_bytes_deleted.add(bytes);
    }
    void duplicate_answered() noexcept { producer_duplicates.add(); }

    metrics::histogram flush_latency{metrics::latency_layout};
    metrics::counter fdatasyncs;
    metrics::counter segments_deleted;
    metrics::counter retention_bytes_deleted;
    metrics::counter producer_duplicates;
};

}  // namespace tl::storage
