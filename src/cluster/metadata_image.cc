#include "cluster/metadata_image.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"

namespace tl::cluster {

unsigned owner_shard(const topic_id& id, int32_t partition, unsigned shard_count) noexcept {
    uint64_t start = 0;
    std::memcpy(&start, id.bytes.data(), sizeof start);
    return static_cast<unsigned>((start % shard_count + static_cast<uint64_t>(partition)) %
                                 shard_count);
}

metadata_image::metadata_image(const metadata_snapshot& snapshot, const topic_defaults& defaults,
                               const storage::log_config& storage_base, unsigned shard_count,
                               int32_t local_node)
    : _version(snapshot.version),
      _cluster_id(snapshot.cluster_id),
      _shard_count(shard_count),
      _local_node(local_node),
      _defaults(defaults),
      _snapshot(snapshot) {
    TL_ASSERT(shard_count > 0);
    _topics.reserve(snapshot.topics.size());
    for (const topic_record& record : snapshot.topics) {
        auto topic = std::make_shared<topic_metadata>();
        topic->name = record.name;
        topic->id = record.id;
        topic->partition_count = record.partition_count;
        // The controller validated every stored config before persisting it.
        auto config = topic_config::from_overrides(record.configs);
        TL_ASSERT(config.ok(), "stored topic config no longer validates");
        topic->config = std::move(*config);
        topic->log = topic->config.resolve(defaults, storage_base);
        const auto partitions = static_cast<size_t>(record.partition_count);
        topic->owners.resize(partitions);
        topic->replication_factor = record.replication_factor;
        topic->replicas = record.assignments;
        if (topic->replicas.empty()) topic->replicas.assign(partitions, replica_list{local_node});
        TL_ASSERT(topic->replicas.size() == partitions);
        topic->local.resize(partitions);
        for (size_t p = 0; p < partitions; ++p) {
            topic->owners[p] =
                static_cast<uint16_t>(owner_shard(record.id, static_cast<int32_t>(p), shard_count));
            topic->local[p] =
                std::ranges::find(topic->replicas[p], local_node) != topic->replicas[p].end() ? 1
                                                                                              : 0;
        }
        _topics.push_back(std::move(topic));
    }
    std::ranges::sort(_topics, {}, [](const auto& t) -> const std::string& { return t->name; });
    for (const auto& topic : _topics) {
        _by_name.emplace(topic->name, topic.get());
        _by_id.emplace(topic->id, topic.get());
    }
}

const topic_metadata* metadata_image::find(std::string_view name) const noexcept {
    const auto it = _by_name.find(name);
    return it == _by_name.end() ? nullptr : it->second;
}

const topic_metadata* metadata_image::find(const topic_id& id) const noexcept {
    const auto it = _by_id.find(id);
    return it == _by_id.end() ? nullptr : it->second;
}

}  // namespace tl::cluster
