// The broker's services, composed: storage and topic metadata (cluster),
// then the Kafka listener, each an app::service started on every shard.
//
//   node_state state(config);
//   broker b(config);
//   b.add_service(cluster_service(state));   // partition managers; controller on shard 0
//   b.add_service(kafka_service(state));     // listeners, once every shard has its partitions
//
// Both register their metrics in the shard's registry (state.registries).
//
// node_state is built on the control thread before the shards start and
// outlives them; entry k of its per-shard tables is written only on shard k.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "app/broker.h"
#include "app/config.h"
#include "cluster/controller.h"
#include "cluster/partition_manager.h"
#include "kafka/server/broker_context.h"
#include "metrics/registry.h"

namespace tl::app {

struct node_state {
    explicit node_state(const broker_config& config);

    const broker_config config;
    kafka::kafka_settings kafka;
    cluster::controller_settings controller;
    // Per shard, set by the cluster service as each shard starts.
    std::vector<cluster::partition_manager*> managers;
    cluster::controller* controller_instance = nullptr;  // on cluster::controller_shard
    // Per shard, set by the Kafka service as each shard starts (before it listens).
    kafka::groups::coordinator_settings groups;
    std::vector<kafka::groups::group_coordinator*> coordinators;
    // The port the Kafka listeners share (kafka_addr may ask for port 0).
    std::atomic<uint16_t> kafka_port{0};

    // The controller's Raft status (/v1/controller), refreshed by the
    // controller shard.
    mutable std::mutex controller_status_mutex;
    cluster::controller_status controller_status;

    // ---- metrics (admin.h reads these from the admin listener's threads) ----
    // One registry per shard, its series registered by that shard's services.
    std::vector<std::unique_ptr<metrics::registry>> registries;
    // Process-wide series computed at scrape (uptime, disk, build).
    metrics::registry node_registry;
    // Per shard: partitions open, published by the shard about once a second.
    std::unique_ptr<std::atomic<uint64_t>[]> partition_counts;
    // Shards whose consumer groups are replayed (the Kafka service counts).
    std::atomic<unsigned> shards_loaded{0};
    // Set by main once broker::start() returned: every service runs.
    std::atomic<bool> started{false};
    const std::chrono::steady_clock::time_point start_time = std::chrono::steady_clock::now();

    // Ready: started, and every shard replayed its groups.
    bool ready() const noexcept {
        return started.load(std::memory_order_acquire) &&
               shards_loaded.load(std::memory_order_acquire) == config.smp;
    }
};

service_factory cluster_service(node_state& state);
service_factory kafka_service(node_state& state);

// The storage settings every partition starts from (topic configs go on top).
storage::log_config storage_base(const broker_config& config);

}  // namespace tl::app
