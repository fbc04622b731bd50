// One consumer group under the classic rebalance protocol, as Kafka's
// GroupCoordinator and GroupMetadata run it: members, generations, the
// state machine and the group's committed offsets.
//
//   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
//   CompletingRebalance --leader's SyncGroup stored--> Stable
//   Stable / CompletingRebalance --join, leave, session expiry--> PreparingRebalance
//   PreparingRebalance --nobody left--> Empty;  any --deleted--> Dead
//
// Pure logic, with no I/O and no clock of its own: every call takes `now`,
// tick(now) runs the deadlines (session expiry, rebalance timeout, the
// initial rebalance delay) and waiting JoinGroup/SyncGroup requests are
// callbacks, completed at most once each. Persisting the group goes through
// group_store, whose completion the group waits for before answering a
// leader's SyncGroup (Kafka acknowledges the assignment only once stored).
// So tests drive it with a fake clock and a fake store, and the coordinator
// drives it from one shard. Not thread-safe: one shard owns each group.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/functional/any_invocable.h>

#include "base/clock.h"
#include "kafka/groups/group_records.h"
#include "kafka/protocol/error_code.h"

namespace tl::kafka::groups {

// The group errors as the wire values the state machine trades in; the
// codes themselves are error_code.h's.
namespace group_errors {
inline constexpr int16_t coordinator_load_in_progress = code(error_code::coordinator_load_in_progress);
inline constexpr int16_t coordinator_not_available = code(error_code::coordinator_not_available);
inline constexpr int16_t not_coordinator = code(error_code::not_coordinator);
inline constexpr int16_t illegal_generation = code(error_code::illegal_generation);
inline constexpr int16_t inconsistent_group_protocol = code(error_code::inconsistent_group_protocol);
inline constexpr int16_t invalid_group_id = code(error_code::invalid_group_id);
inline constexpr int16_t unknown_member_id = code(error_code::unknown_member_id);
inline constexpr int16_t invalid_session_timeout = code(error_code::invalid_session_timeout);
inline constexpr int16_t rebalance_in_progress = code(error_code::rebalance_in_progress);
inline constexpr int16_t invalid_commit_offset_size = code(error_code::invalid_commit_offset_size);
inline constexpr int16_t unknown_server_error = code(error_code::unknown_server_error);
inline constexpr int16_t group_authorization_failed = code(error_code::group_authorization_failed);
inline constexpr int16_t non_empty_group = code(error_code::non_empty_group);
inline constexpr int16_t group_id_not_found = code(error_code::group_id_not_found);
inline constexpr int16_t member_id_required = code(error_code::member_id_required);
inline constexpr int16_t fenced_instance_id = code(error_code::fenced_instance_id);
inline constexpr int16_t group_subscribed_to_topic = code(error_code::group_subscribed_to_topic);
inline constexpr int16_t group_max_size_reached = code(error_code::group_max_size_reached);
}  // namespace group_errors

enum class group_state : uint8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };
// Kafka's names: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
[[nodiscard]] std::string_view to_string(group_state state) noexcept;
[[nodiscard]] std::optional<group_state> parse_group_state(std::string_view name) noexcept;

struct group_settings {
    int32_t min_session_timeout_ms = 6'000;       // group.min.session.timeout.ms
    int32_t max_session_timeout_ms = 1'800'000;   // group.max.session.timeout.ms
    int32_t initial_rebalance_delay_ms = 3'000;   // group.initial.rebalance.delay.ms
    int32_t max_size = 0x7fffffff;                // group.max.size
};

struct protocol_entry {
    std::string name;
    std::vector<std::byte> metadata;
    friend bool operator==(const protocol_entry&, const protocol_entry&) = default;
};

struct join_args {
    std::string member_id;  // empty: a new member
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<protocol_entry> protocols;
    bool require_known_member_id = false;  // JoinGroup v4+
};

struct join_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<std::byte> metadata;
};

struct join_result {
    int16_t error = 0;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader;
    std::string member_id;
    bool skip_assignment = false;
    std::vector<join_member> members;  // the leader's answer only
};

struct sync_args {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;  // v5+
    std::optional<std::string> protocol_name;  // v5+
    std::vector<std::pair<std::string, std::vector<std::byte>>> assignments;  // leader only
};

struct sync_result {
    int16_t error = 0;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<std::byte> assignment;
};

struct member_identity {
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

using join_callback = absl::AnyInvocable<void(join_result)>;
using sync_callback = absl::AnyInvocable<void(sync_result)>;
using store_callback = absl::AnyInvocable<void(int16_t error)>;

class group;

// What a group needs from its coordinator: a place for its metadata record
// (the coordinator appends it to __consumer_offsets; done(error) runs later,
// never inline, on the group's shard), fresh UUIDs for member ids and the
// wall clock for the record's state timestamp.
class group_store {
public:
    virtual ~group_store() = default;
    virtual void store_group(const group& g, store_callback done) = 0;
    [[nodiscard]] virtual std::string fresh_uuid() = 0;
    [[nodiscard]] virtual int64_t wall_time_ms() const noexcept = 0;
};

struct member_state {
    std::string id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<protocol_entry> protocols;
    std::vector<std::byte> assignment;
    join_callback awaiting_join;
    sync_callback awaiting_sync;
    steady_time session_deadline{};
    bool is_new = false;  // joined in the rebalance now running

    [[nodiscard]] const std::vector<std::byte>* metadata_for(std::string_view protocol) const;
};

struct committed_offset {
    offset_value value;
};

using topic_partition = std::pair<std::string, int32_t>;

class group {
public:
    group(std::string id, const group_settings& settings, group_store& store);
    group(const group&) = delete;
    group& operator=(const group&) = delete;
    ~group();

    // ---- the rebalance protocol ----
    void join(join_args args, steady_time now, join_callback done);
    void sync(sync_args args, steady_time now, sync_callback done);
    [[nodiscard]] int16_t heartbeat(const member_identity& who, int32_t generation,
                                    steady_time now);
    // One error per member (LeaveGroup v3+ batches them).
    [[nodiscard]] std::vector<int16_t> leave(const std::vector<member_identity>& who,
                                             steady_time now);
    // Runs every deadline that has passed.
    void tick(steady_time now);
    // The earliest deadline tick() would act on, if any.
    [[nodiscard]] std::optional<steady_time> next_deadline() const noexcept;

    // ---- offsets ----
    // Whether a commit by this member/generation may go ahead (Kafka's rules;
    // generation < 0 with no member is a simple consumer's commit, allowed
    // while the group has no members).
    [[nodiscard]] int16_t check_commit(const member_identity& who, int32_t generation,
                                       steady_time now);
    void apply_commit(const std::string& topic, int32_t partition, offset_value value);
    void remove_offset(const std::string& topic, int32_t partition);
    [[nodiscard]] const std::map<topic_partition, committed_offset, std::less<>>& offsets()
        const noexcept {
        return _offsets;
    }
    // Whether a member of a "consumer" group subscribes to `topic` (OffsetDelete).
    [[nodiscard]] bool subscribed_to(std::string_view topic) const;

    // ---- replay ----
    // Adopts a stored group record (members come back without callbacks; their
    // sessions restart at `now`, as in Kafka after a coordinator move).
    void load(const group_value& value, steady_time now);
    [[nodiscard]] group_value to_record() const;

    // ---- deletion ----
    void mark_dead();

    // ---- views ----
    [[nodiscard]] const std::string& id() const noexcept { return _id; }
    [[nodiscard]] group_state state() const noexcept { return _state; }
    [[nodiscard]] int32_t generation() const noexcept { return _generation; }
    [[nodiscard]] const std::optional<std::string>& protocol_type() const noexcept {
        return _protocol_type;
    }
    [[nodiscard]] const std::optional<std::string>& protocol_name() const noexcept {
        return _protocol;
    }
    [[nodiscard]] const std::optional<std::string>& leader() const noexcept { return _leader; }
    [[nodiscard]] const std::map<std::string, std::unique_ptr<member_state>, std::less<>>&
    members() const noexcept {
        return _members;
    }
    [[nodiscard]] bool empty_of_members() const noexcept { return _members.empty(); }
    [[nodiscard]] bool storing() const noexcept { return _stores_in_flight > 0; }
    [[nodiscard]] int64_t state_timestamp_ms() const noexcept { return _state_timestamp_ms; }

private:
    int16_t check_join(const join_args& args) const;
    bool supports(const join_args& args) const;
    void join_new_member(join_args args, steady_time now, join_callback done);
    void join_known_member(join_args args, steady_time now, join_callback done);
    void join_static_replacement(join_args args, member_state& old, steady_time now,
                                 join_callback done);
    member_state& add_member(join_args args, std::string id, steady_time now,
                             join_callback done);
    void update_member(member_state& m, join_args args, join_callback done);
    void prepare_rebalance(steady_time now);
    void rebalance_for_new_member(steady_time now);
    void try_complete_join(steady_time now);
    void complete_join(steady_time now);
    void remove_member(const std::string& id, steady_time now);
    void answer_join(member_state& m, int16_t error);
    void fail_awaiting_syncs(int16_t error);
    void reset_assignments();
    std::optional<std::string> select_protocol() const;
    void schedule_heartbeat(member_state& m, steady_time now);
    void transition(group_state next);
    int16_t fenced(const member_identity& who) const;
    member_state* find_member(const std::string& id);
    std::string new_member_id(std::string_view client_id);
    void store(store_callback done);

    const std::string _id;
    const group_settings& _settings;
    group_store& _store;
    group_state _state = group_state::empty;
    int32_t _generation = 0;
    std::optional<std::string> _protocol_type;
    std::optional<std::string> _protocol;
    std::optional<std::string> _leader;
    std::map<std::string, std::unique_ptr<member_state>, std::less<>> _members;
    std::map<std::string, std::string, std::less<>> _static_members;  // instance -> member
    // Members told MEMBER_ID_REQUIRED, until they rejoin or their session passes.
    std::map<std::string, steady_time, std::less<>> _pending_members;
    std::map<topic_partition, committed_offset, std::less<>> _offsets;
    // PreparingRebalance: when the join phase ends at the latest, and (for an
    // Empty group's first rebalance) when the initial delay ends.
    std::optional<steady_time> _join_deadline;
    std::optional<steady_time> _initial_delay_end;
    steady_time _initial_delay_limit{};
    int64_t _state_timestamp_ms = -1;
    steady_time _now{};  // of the last call in, for store completions
    int _stores_in_flight = 0;
    // Liveness token for store callbacks that outlive the group.
    std::shared_ptr<group*> _self;
};

}  // namespace tl::kafka::groups
