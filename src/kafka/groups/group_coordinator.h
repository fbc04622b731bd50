// The group coordinator of one shard: the consumer groups whose
// __consumer_offsets partition this shard owns, their committed offsets, and
// the records that make both durable.
//
// Placement: a group lives on partition_for_group(id, partitions) of
// __consumer_offsets, and so on that partition's owner shard (locate()).
// Handlers on any shard hop there with submit_to and call the methods below
// marked "coordinator shard". Waiting JoinGroup and SyncGroup requests do not
// wait on the coordinator's shard: the handler registers a group_waiter on
// its own shard (beside its connection, whose abort wakes it too) and passes
// its address; the coordinator delivers the answer there with submit_to.
//
// Durability: every change of a group's membership and every commit is
// appended to its partition (Kafka's record format, group_records.h) through
// the partition manager, and acknowledged once the append is. A partition's
// groups are rebuilt by replaying it from its log start to its high
// watermark, when the coordinator starts or first meets the partition;
// meanwhile requests for its groups get COORDINATOR_LOAD_IN_PROGRESS.
//
// One per shard, created and used only there; peers (every shard's
// coordinator, null until that shard has started) are only dereferenced on
// their own shard.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/executor.h"
#include "base/task.h"
#include "cluster/metadata_image.h"
#include "cluster/partition_manager.h"
#include "kafka/groups/group.h"
#include "reactor/condition.h"

namespace tl::kafka::groups {

struct coordinator_settings {
    group_settings group;
    int64_t offsets_retention_ms = 7 * 24 * 3600 * 1000LL;  // offsets.retention.minutes
    int64_t retention_check_interval_ms = 600'000;  // offsets.retention.check.interval.ms
    int32_t offset_metadata_max_bytes = 4096;       // offset.metadata.max.bytes
};

// Where a group's coordinator is.
struct group_location {
    int32_t partition = 0;
    unsigned shard = 0;
};
// nullopt when __consumer_offsets does not exist (yet).
[[nodiscard]] std::optional<group_location> locate(const cluster::metadata_image& image,
                                                   std::string_view group_id);

// Where a waiting request wants its answer.
struct reply_address {
    unsigned shard = 0;
    uint64_t waiter = 0;
};

// A waiting JoinGroup or SyncGroup, on the request's shard.
struct group_waiter_slot {
    reactor::condition wake;
    std::optional<join_result> join;
    std::optional<sync_result> sync;
};

struct commit_entry {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::optional<std::string> metadata;
    int16_t error = 0;  // set by the caller (unknown partition...) to skip it
};

struct fetched_offset {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::optional<std::string> metadata;  // "" for a partition without a commit
    int16_t error = 0;
};

struct described_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::vector<std::byte> metadata;
    std::vector<std::byte> assignment;
};

struct described_group {
    int16_t error = 0;
    std::string group_id;
    std::string state;
    std::string protocol_type;
    std::string protocol;
    std::vector<described_member> members;
};

struct listed_group {
    std::string group_id;
    std::string protocol_type;
    std::string state;
};

struct leave_outcome {
    int16_t error = 0;
    std::vector<int16_t> members;
};

// Consumer lag of one partition: what the group committed and how far the
// log goes (its high watermark: what a consumer can read).
struct partition_lag {
    std::string topic;
    int32_t partition = 0;
    int64_t committed_offset = -1;
    int64_t log_end_offset = -1;  // -1: the partition is gone or unreadable
    int64_t lag = 0;              // log_end_offset - committed_offset, at least 0
};

class group_coordinator;

// Every committed partition of `group_id` with its log end offset and lag,
// for DescribeGroups-style tools (tidectl group describe) and metrics. Call
// on any shard: it hops to the group's coordinator, then to each
// partition's owner. `coordinators` and `managers` are indexed by shard.
// Returns the group-level error (COORDINATOR_LOAD_IN_PROGRESS...) or 0.
task<int16_t> consumer_lag(std::span<group_coordinator* const> coordinators,
                           std::span<cluster::partition_manager* const> managers,
                           std::shared_ptr<const cluster::metadata_image> image,
                           std::string group_id, std::vector<partition_lag>& out);

class group_coordinator final : private group_store {
public:
    group_coordinator(unsigned shard_id, cluster::partition_manager& local,
                      std::span<group_coordinator* const> peers,
                      const coordinator_settings& settings, executor& exec);
    group_coordinator(const group_coordinator&) = delete;
    group_coordinator& operator=(const group_coordinator&) = delete;
    ~group_coordinator() override;

    // Starts loading this shard's partitions and the deadline and retention
    // loops. stop() ends them and waits for every append and delivery.
    void start();
    task<void> stop();

    // ---- coordinator shard ----
    // JoinGroup/SyncGroup: the answer goes to `reply` (maybe before this
    // returns, never inline).
    void join(std::string group_id, int32_t partition, join_args args, reply_address reply);
    void sync(std::string group_id, int32_t partition, sync_args args, reply_address reply);
    [[nodiscard]] int16_t heartbeat(const std::string& group_id, int32_t partition,
                                    const member_identity& who, int32_t generation);
    [[nodiscard]] leave_outcome leave(const std::string& group_id, int32_t partition,
                                      const std::vector<member_identity>& who);
    // One error per entry, in order. `expire_timestamp_ms`: OffsetCommit v2-4.
    task<std::vector<int16_t>> commit(std::string group_id, int32_t partition,
                                      member_identity who, int32_t generation,
                                      std::vector<commit_entry> entries,
                                      std::optional<int64_t> retention_ms);
    // `topics` null: every committed partition. Returns the group-level error.
    [[nodiscard]] int16_t fetch_offsets(
        const std::string& group_id, int32_t partition,
        const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics,
        std::vector<fetched_offset>& out);
    [[nodiscard]] described_group describe(const std::string& group_id, int32_t partition);
    // Groups on this shard in the given states (all when empty); error when
    // some partition is still loading.
    [[nodiscard]] int16_t list(const std::vector<group_state>& states,
                               std::vector<listed_group>& out);
    task<int16_t> delete_group(std::string group_id, int32_t partition);
    // OffsetDelete: group error, then per requested partition errors.
    task<int16_t> delete_offsets(std::string group_id, int32_t partition,
                                 std::vector<std::pair<std::string, int32_t>> partitions,
                                 std::vector<int16_t>& errors);

    // ---- request shard ----
    uint64_t add_waiter(group_waiter_slot& slot);
    void remove_waiter(uint64_t id) noexcept;

    // For tests and tools: whether every local partition has been replayed.
    [[nodiscard]] bool loaded() const noexcept;
    [[nodiscard]] size_t group_count() const noexcept { return _groups.size(); }

private:
    enum class load_state : uint8_t { loading, loaded };
    // group_store
    void store_group(const group& g, store_callback done) override;
    std::string fresh_uuid() override;
    int64_t wall_time_ms() const noexcept override { return _executor.wall_time_ms(); }

    group_store& store() noexcept { return *this; }
    int16_t check_partition(int32_t partition);
    std::shared_ptr<group> find(const std::string& id);
    std::shared_ptr<group> find_or_create(const std::string& id, int32_t partition);
    task<void> load_partition(int32_t partition);
    // `too_large`: the answer when the batch exceeds the log's limit (Kafka:
    // INVALID_COMMIT_OFFSET_SIZE for commits, UNKNOWN_SERVER_ERROR for groups).
    task<int16_t> append(int32_t partition, std::vector<std::byte> batch,
                         int16_t too_large = group_errors::invalid_commit_offset_size);
    task<void> deliver_join(reply_address reply, join_result result);
    task<void> deliver_sync(reply_address reply, sync_result result);
    task<void> tick_loop();
    task<void> retention_loop();
    task<void> expire_offsets();
    void deliver_local(uint64_t waiter, std::optional<join_result> join,
                       std::optional<sync_result> sync);

    const unsigned _shard_id;
    cluster::partition_manager& _local;
    std::span<group_coordinator* const> _peers;
    const coordinator_settings& _settings;
    executor& _executor;
    std::map<std::string, std::shared_ptr<group>, std::less<>> _groups;
    std::map<std::string, int32_t, std::less<>> _group_partition;
    std::map<int32_t, load_state> _partitions;
    std::unordered_map<uint64_t, group_waiter_slot*> _waiters;
    uint64_t _next_waiter = 1;
    uint64_t _uuid_state;
    // One per loop: a wakeup ends one sleep at a time.
    wakeup _stop_ticks;
    wakeup _stop_retention;
    bool _stopping = false;
    reactor::gate _background;
};

}  // namespace tl::kafka::groups
