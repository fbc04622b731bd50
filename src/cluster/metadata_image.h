// The broker's view of the cluster's topics: an immutable image, rebuilt by
// the controller on every change and handed to every shard by pointer.
//
// Placement lives here: the one table that maps each partition to the shard
// that owns its log. It depends only on the topic's id, the partition and the
// shard count, so it is the same on every shard and across restarts with the
// same --smp (a restart with another --smp reopens each log on its new owner).
//
// Replicas: each partition's replica list (the first is its leader until
// replication elects others), and whether this broker (`local_node`) holds
// it: a partition_manager opens only those. A topic never placed (written
// by format 1 or 2, or by the local controller) is wholly local.
//
// Immutable once built: any shard may read it; it is shared by
// std::shared_ptr<const metadata_image>, whose last holder frees it
// (control-plane memory, the one exception to "freed where allocated").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/metadata_store.h"
#include "cluster/topic_config.h"
#include "storage/log_config.h"

namespace tl::cluster {

struct topic_metadata {
    std::string name;
    topic_id id;
    int32_t partition_count = 0;
    topic_config config;
    storage::log_config log;       // config resolved over the broker's defaults
    std::vector<uint16_t> owners;  // partition -> owning shard (if local)
    int16_t replication_factor = 1;
    std::vector<replica_list> replicas;  // partition -> replicas, leader first
    std::vector<uint8_t> local;          // partition -> 1 when this broker holds it

    [[nodiscard]] bool is_local(int32_t partition) const noexcept {
        return local[static_cast<size_t>(partition)] != 0;
    }
    [[nodiscard]] int32_t leader(int32_t partition) const noexcept {
        return replicas[static_cast<size_t>(partition)].front();
    }
};

class metadata_image {
public:
    // `local_node`: this broker's node id (a never-placed partition is
    // placed on it).
    metadata_image(const metadata_snapshot& snapshot, const topic_defaults& defaults,
                   const storage::log_config& storage_base, unsigned shard_count,
                   int32_t local_node);

    [[nodiscard]] int64_t version() const noexcept { return _version; }
    [[nodiscard]] const std::string& cluster_id() const noexcept { return _cluster_id; }
    [[nodiscard]] unsigned shard_count() const noexcept { return _shard_count; }
    [[nodiscard]] const topic_defaults& defaults() const noexcept { return _defaults; }
    [[nodiscard]] int32_t local_node() const noexcept { return _local_node; }
    // Registered brokers, by node id.
    [[nodiscard]] const std::vector<broker_record>& brokers() const noexcept {
        return _snapshot.brokers;
    }

    // nullptr when absent.
    [[nodiscard]] const topic_metadata* find(std::string_view name) const noexcept;
    [[nodiscard]] const topic_metadata* find(const topic_id& id) const noexcept;
    // Sorted by name.
    [[nodiscard]] const std::vector<std::shared_ptr<const topic_metadata>>& topics()
        const noexcept {
        return _topics;
    }

    // The snapshot the image was built from (what the controller persists).
    [[nodiscard]] const metadata_snapshot& snapshot() const noexcept { return _snapshot; }

private:
    int64_t _version = 0;
    std::string _cluster_id;
    unsigned _shard_count = 1;
    int32_t _local_node = 0;
    topic_defaults _defaults;
    metadata_snapshot _snapshot;
    std::vector<std::shared_ptr<const topic_metadata>> _topics;
    std::map<std::string, const topic_metadata*, std::less<>> _by_name;
    std::map<topic_id, const topic_metadata*> _by_id;
};

// Which shard owns `partition` of the topic with `id`: consecutive partitions
// of one topic go to consecutive shards, and topics start at different shards.
[[nodiscard]] unsigned owner_shard(const topic_id& id, int32_t partition,
                                   unsigned shard_count) noexcept;

}  // namespace tl::cluster
