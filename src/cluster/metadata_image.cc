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
                               const storage::log_config& storage_base, unsigned shard_count)
    : _version(snapshot.version),
      _cluster_id(snapshot.cluster_id),
      _shard_count(shard_count),
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
        topic->owners.resize(static_cast<size_t>(record.partition_count));
        for (int32_t p = 0; p < record.partition_count; ++p) {
            topic->owners[static_cast<size_t>(p)] =
                static_cast<uint16_t>(owner_shard(record.id, p, shard_count));
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
