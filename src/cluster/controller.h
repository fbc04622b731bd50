// The controller: the one place topic metadata changes (DESIGN.md §6).
//
// Runs on shard 0 (controller_shard); every other shard reaches it with
// submit_to. It is the metadata log's broker-side end: a Raft group
// (raft::driver over a log_store in DATA/controller/ and a transport on the
// controller shard's ring) whose state machine is metadata_state_machine,
// fronted by controller_frontend, which validates each change, proposes it
// and answers once it is applied and every shard of this broker adopted the
// image that holds it — so a client that created a topic can produce to it
// at once.
//
// Voters: settings.voters (the controller_voters key); empty = this node
// alone. A new data directory bootstraps the Raft group with those voters
// (every voter bootstraps the same configuration). A single-node broker
// that finds DATA/cluster/metadata (the local controller of earlier
// releases) and no Raft log bootstraps from that file's state, then renames
// it to metadata.migrated.
//
// Proposals on a follower are forwarded to the leader over the controller
// transport (frames multiplexed with Raft's: see controller.cc); the
// follower answers once its own state machine applied the entry. Without a
// leader a change fails with not_controller.
//
// Raft node ids are Kafka node ids + 1 (Raft reserves 0).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
#include "uring/socket.h"

namespace tl::raft {
class driver;
class log_store;
}  // namespace tl::raft
namespace tl::transport {
class transport;
}  // namespace tl::transport

namespace tl::cluster {

inline constexpr unsigned controller_shard = 0;

struct controller_voter_address {
    int32_t node_id = 0;
    uring::socket_address address;  // its controller listener
};

// What /v1/controller shows.
struct controller_status {
    int32_t leader = -1;  // Kafka node id; -1: none known
    uint64_t term = 0;
    uint64_t commit_index = 0;
    uint64_t applied_index = 0;
    std::string role;
    std::vector<int32_t> voters;
};

struct controller_settings {
    std::string data_dir;
    unsigned shard_count = 1;
    int32_t node_id = 0;
    topic_defaults defaults;
    storage::log_config storage_base;  // flush mode, cache, free-space floor
    int32_t max_partitions_per_topic = 100'000;
    int32_t offsets_topic_partitions = 50;           // offsets.topic.num.partitions
    uint64_t offsets_topic_segment_bytes = 8 << 20;  // offsets.topic.segment.bytes
    // The quorum; empty: this node alone (no listener).
    std::vector<controller_voter_address> voters;
    // What this broker registers (Metadata's brokers).
    std::string advertised_host;
    uint16_t advertised_port = 0;
    // Raft timing: ticks of tick_interval before a follower campaigns.
    std::chrono::milliseconds tick_interval{50};
    uint32_t election_ticks = 10;
    // Called on the controller shard with every status refresh (the admin
    // endpoint keeps a copy for its own threads).
    std::function<void(const controller_status&)> on_status;
};

class controller {
public:
    controller(storage::disk& disk, controller_settings settings,
               std::span<partition_manager* const> managers);
    ~controller();

    // Opens the metadata log (bootstrapping a new one) and starts the Raft
    // driver; the state is replayed before it returns, so image() is the
    // committed state as this node knows it. Images reach the shards only
    // after activate(). Call once, on the controller shard.
    task<result<void, std::string>> start();
    // Every shard's partition manager exists: publish images to them, and
    // register this broker (a new cluster also gets its id and
    // __consumer_offsets). A single node waits for that; a quorum member
    // retries in the background until a leader commits it.
    task<result<void, std::string>> activate();
    // Stops the driver, the transport and the publishing; before any
    // partition manager stops.
    task<void> stop();

    [[nodiscard]] std::shared_ptr<const metadata_image> image() const;

    task<std::vector<topic_change_outcome>> create_topics(std::vector<new_topic> topics,
                                                          bool validate_only);
    task<std::vector<topic_change_outcome>> delete_topics(std::vector<std::string> names);
    using partition_increase = cluster::partition_increase;
    task<std::vector<controller_error>> create_partitions(std::vector<partition_increase> changes,
                                                          bool validate_only);
    task<controller_error> alter_config(std::string name, config_edit edit, bool validate_only);

    // The next `count` (> 0) producer ids, committed to the metadata log
    // before it returns: no later call, on any broker or after any restart,
    // returns any of them again.
    task<result<producer_id_block, controller_error>> allocate_producer_ids(int32_t count);

    [[nodiscard]] const controller_settings& settings() const noexcept { return _settings; }

    // Any thread: the Raft leader's Kafka node id (-1: none known), and the
    // status as of the last refresh (every tick).
    [[nodiscard]] int32_t leader_id() const noexcept {
        return _leader.load(std::memory_order_relaxed);
    }
    [[nodiscard]] controller_status status() const;

private:
    struct parts;
    task<void> register_loop();
    task<void> status_loop();

    storage::disk& _disk;
    const controller_settings _settings;
    std::span<partition_manager* const> _managers;
    std::unique_ptr<parts> _parts;
    std::atomic<int32_t> _leader{-1};
    mutable std::mutex _status_mutex;
    controller_status _status;
};

}  // namespace tl::cluster
