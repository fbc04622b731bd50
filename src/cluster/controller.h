// The controller: the one place topic metadata changes.
//
// Runs on shard 0 (controller_shard); every other shard reaches it with
// submit_to. Changes are serialised: each one validates against the current
// snapshot, persists the next snapshot (metadata_store: a crash leaves the
// old one or the new one), builds the next image and hands it to every
// shard's partition manager, and only then answers — so a client that
// created a topic can produce to it at once, and a deleted topic's logs are
// gone before its name can be reused. The Raft controller replaces the local
// store later; this interface stays.
//
// It also hands out blocks of idempotent-producer ids (Kafka's
// AllocateProducerIds, answered locally): the snapshot's next_producer_id is
// raised and persisted before the block is returned, so no id is ever issued
// twice, across restarts and crashes alike. Ids of a block that was never
// used are lost, as in Kafka; 2^63 of them go a long way.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/task.h"
#include "cluster/controller_types.h"
#include "cluster/metadata_image.h"
#include "cluster/partition_manager.h"
#include "reactor/condition.h"
#include "storage/disk.h"

namespace tl::cluster {

inline constexpr unsigned controller_shard = 0;

struct controller_settings {
    std::string data_dir;
    unsigned shard_count = 1;
    int32_t node_id = 0;
    topic_defaults defaults;
    storage::log_config storage_base;  // flush mode, cache, free-space floor
    int32_t max_partitions_per_topic = 100'000;
    int32_t offsets_topic_partitions = 50;           // offsets.topic.num.partitions
    uint64_t offsets_topic_segment_bytes = 8 << 20;  // offsets.topic.segment.bytes
};

class controller {
public:
    controller(storage::disk& disk, controller_settings settings,
               std::span<partition_manager* const> managers);

    // Loads the persisted snapshot (or starts an empty cluster with a fresh
    // cluster id), adding __consumer_offsets if it is missing. Call once, on
    // the controller shard, before anything else.
    task<result<void, std::string>> start();

    [[nodiscard]] std::shared_ptr<const metadata_image> image() const { return _image; }

    task<std::vector<topic_change_outcome>> create_topics(std::vector<new_topic> topics,
                                                          bool validate_only);
    task<std::vector<topic_change_outcome>> delete_topics(std::vector<std::string> names);
    using partition_increase = cluster::partition_increase;
    task<std::vector<controller_error>> create_partitions(std::vector<partition_increase> changes,
                                                          bool validate_only);
    task<controller_error> alter_config(std::string name, config_edit edit, bool validate_only);

    // The next `count` (> 0) producer ids, durable before it returns: no
    // later call, in this process or after any restart, returns any of them
    // again. Fails with storage_failure (nothing issued; a retry may succeed)
    // or producer_ids_exhausted. Publishes no new image.
    task<result<producer_id_block, controller_error>> allocate_producer_ids(int32_t count);

    [[nodiscard]] const controller_settings& settings() const noexcept { return _settings; }

private:
    class exclusive;
    task<controller_error> commit(metadata_snapshot next);
    topic_id fresh_topic_id();

    storage::disk& _disk;
    const controller_settings _settings;
    std::span<partition_manager* const> _managers;
    std::shared_ptr<const metadata_image> _image;
    std::mt19937_64 _random;
    // What the last persisted snapshot says: allocate_producer_ids persists
    // without building an image, so these, not _image->snapshot(), are the
    // truth for the snapshot version and next_producer_id.
    int64_t _persisted_version = 0;
    int64_t _next_producer_id = 0;
    bool _busy = false;
    reactor::condition _free;
};

}  // namespace tl::cluster
