// The partitions one shard owns: their logs, and the long-polling fetches
// waiting for them to grow.
//
// One per shard, touched only on it. The controller hands every shard each
// new metadata image (apply()); the manager opens the logs of the partitions
// the image places here, reconfigures them when their topic's configs change
// and closes and deletes them when their topic goes away. Requests reach a
// partition through its owner's manager (submit_to the owner, then call it):
// one hop per partition.
//
// Long polling: a fetch that found too little leaves a watch (its shard, its
// waiter id, the offset it needs) on each partition; when the high watermark
// passes a watched offset the owner wakes the waiter on its own shard. Watches
// expire at the fetch's deadline, so a quiet partition keeps none for long.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <map>
#include <unordered_map>
#include <vector>

#include "base/executor.h"
#include "base/result.h"
#include "base/task.h"
#include "cluster/metadata_image.h"
#include "cluster/partition_probe.h"
#include "metrics/registry.h"
#include "reactor/condition.h"
#include "reactor/foreign_ptr.h"
#include "storage/cache_budget.h"
#include "storage/disk.h"
#include "storage/partition_log.h"

namespace tl::cluster {

enum class partition_errc : uint8_t {
    unknown_partition,  // not (or no longer) on this shard
    storage,            // see partition_error::storage
};

struct partition_error {
    partition_errc code = partition_errc::unknown_partition;
    storage::storage_error storage;
};

template <typename T>
using partition_result = result<T, partition_error>;

// Where a waiting fetch lives.
struct fetch_watch {
    unsigned shard = 0;
    uint64_t waiter = 0;
    steady_time deadline{};
};

struct partition_read {
    // Batches from the log, allocated on the owner and freed there.
    reactor::foreign_ptr<storage::read_result> data;
    int64_t high_watermark = 0;
    int64_t log_start_offset = 0;
};

struct partition_offsets {
    int64_t log_start_offset = 0;
    int64_t high_watermark = 0;
    int64_t log_end_offset = 0;
};

struct shard_storage_totals {
    uint64_t segments = 0;
    uint64_t cache_bytes = 0;  // the shard's read cache in use
};

class partition_manager {
public:
    partition_manager(unsigned shard_id, std::string data_dir, storage::disk& disk,
                      executor& exec, uint64_t cache_bytes);
    partition_manager(const partition_manager&) = delete;
    partition_manager& operator=(const partition_manager&) = delete;
    ~partition_manager();

    // Registers every partition opened from now on in `registry` (this
    // shard's), with per-partition series when `per_partition`. Before apply().
    void set_metrics(metrics::registry* registry, bool per_partition) {
        _metrics = registry;
        _metrics_per_partition = per_partition;
        _storage_registrations = register_storage_probe(*registry, _shard_id, _storage_probe);
    }
    // Copies every partition's offsets and size into its gauges; returns the
    // shard's totals. Walks every local partition: call about once a second.
    shard_storage_totals publish_metrics() noexcept;

    // Every shard's manager, indexed by shard, to wake waiters elsewhere.
    void set_peers(std::span<partition_manager* const> peers) { _peers = peers; }

    [[nodiscard]] const std::shared_ptr<const metadata_image>& image() const noexcept {
        return _image;
    }
    // Brings this shard's logs in line with `next`; fails if a log cannot be
    // opened (the image is still adopted: that partition then answers errors).
    task<result<void, std::string>> apply(std::shared_ptr<const metadata_image> next);
    // Closes every log (shutdown).
    task<void> stop();

    // ---- data path: call on this shard, for partitions it owns ----
    // `already_validated`: see storage::partition_log::append.
    task<partition_result<storage::append_result>> append(std::string_view topic,
                                                           int32_t partition,
                                                           std::span<const std::byte> batch,
                                                           bool already_validated = false);
    // Reads from `request.start_offset`; with `watch`, a read that returns
    // nothing leaves a watch (offset = the start offset).
    task<partition_result<partition_read>> read(std::string_view topic, int32_t partition,
                                                storage::read_request request,
                                                std::optional<fetch_watch> watch);
    partition_result<partition_offsets> offsets(std::string_view topic, int32_t partition);
    task<partition_result<std::optional<storage::timestamp_lookup>>> offset_for_timestamp(
        std::string_view topic, int32_t partition, int64_t timestamp_ms);
    // The last batch's max timestamp and its offset (ListOffsets MAX_TIMESTAMP).
    task<partition_result<std::optional<storage::timestamp_lookup>>> max_timestamp(
        std::string_view topic, int32_t partition);
    task<partition_result<int64_t>> delete_records(std::string_view topic, int32_t partition,
                                                   int64_t before_offset);

    // ---- waiters: long-polling fetches running on this shard ----
    uint64_t add_waiter(reactor::condition& c);
    void remove_waiter(uint64_t id) noexcept;
    void notify_waiter(uint64_t id) noexcept;

    [[nodiscard]] size_t partition_count() const noexcept;
    [[nodiscard]] unsigned shard_id() const noexcept { return _shard_id; }

private:
    struct local_partition;
    class use;

    local_partition* find(std::string_view topic, int32_t partition) noexcept;
    task<result<void, std::string>> open_partition(const topic_metadata& topic,
                                                   int32_t partition);
    task<void> remove_partition(std::unique_ptr<local_partition> p, bool delete_files);
    task<void> delete_directory(std::string path);
    void after_append(local_partition& p);
    void wake(const fetch_watch& w);
    std::string partition_directory(std::string_view topic, int32_t partition) const;

    const unsigned _shard_id;
    const std::string _data_dir;
    storage::disk& _disk;
    executor& _executor;
    storage::cache_budget _cache;
    std::span<partition_manager* const> _peers;
    std::shared_ptr<const metadata_image> _image;
    // topic name -> partitions this shard owns (indexed by partition, null
    // for partitions owned elsewhere).
    struct local_topic {
        topic_id id;
        std::vector<std::unique_ptr<local_partition>> partitions;
    };
    std::map<std::string, local_topic, std::less<>> _topics;
    std::unordered_map<uint64_t, reactor::condition*> _waiters;
    uint64_t _next_waiter = 1;
    reactor::gate _background;
    metrics::registry* _metrics = nullptr;
    bool _metrics_per_partition = true;
    // Shared by this shard's logs; its registrations go before it.
    storage::storage_probe _storage_probe;
    std::vector<metrics::registration> _storage_registrations;
};

}  // namespace tl::cluster
