#include "kafka/groups/group.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "base/assert.h"
#include "kafka/protocol/reader.h"

namespace tl::kafka::groups {
namespace {

using namespace group_errors;
using std::chrono::milliseconds;

constexpr std::array<std::string_view, 5> state_names = {
    "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

}  // namespace

std::string_view to_string(group_state state) noexcept {
    return state_names[static_cast<size_t>(state)];
}

std::optional<group_state> parse_group_state(std::string_view name) noexcept {
    for (size_t i = 0; i < state_names.size(); ++i) {
        // Kafka matches ListGroups states filters case-insensitively.
        if (std::ranges::equal(state_names[i], name, [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            return static_cast<group_state>(i);
        }
    }
    return std::nullopt;
}

const std::vector<std::byte>* member_state::metadata_for(std::string_view protocol) const {
    for (const protocol_entry& p : protocols) {
        if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
}

group::group(std::string id, const group_settings& settings, group_store& store)
    : _id(std::move(id)),
      _settings(settings),
      _store(store),
      _state_timestamp_ms(store.wall_time_ms()),
      _self(std::make_shared<group*>(this)) {}

group::~group() { *_self = nullptr; }

void group::transition(group_state next) {
    _state = next;
    _state_timestamp_ms = _store.wall_time_ms();
}

member_state* group::find_member(const std::string& id) {
    auto it = _members.find(id);
    return it == _members.end() ? nullptr : it->second.get();
}

std::string group::new_member_id(std::string_view client_id) {
    return std::string(client_id) + "-" + _store.fresh_uuid();
}

void group::store(store_callback done) {
    ++_stores_in_flight;
    std::weak_ptr<group*> self = _self;
    _store.store_group(*this, [self, done = std::move(done)](int16_t error) mutable {
        auto alive = self.lock();
        if (!alive || *alive == nullptr) return;
        --(*alive)->_stores_in_flight;
        if (done) done(error);
    });
}

// ---- JoinGroup ----

int16_t group::check_join(const join_args& args) const {
    if (_id.empty()) return invalid_group_id;
    if (args.session_timeout_ms < _settings.min_session_timeout_ms ||
        args.session_timeout_ms > _settings.max_session_timeout_ms) {
        return invalid_session_timeout;
    }
    if (_state == group_state::dead) return coordinator_not_available;
    if (!supports(args)) return inconsistent_group_protocol;
    return 0;
}

bool group::supports(const join_args& args) const {
    if (_members.empty()) return !args.protocol_type.empty() && !args.protocols.empty();
    if (_protocol_type != args.protocol_type) return false;
    // Some protocol of the joining member must be one every member supports.
    return std::ranges::any_of(args.protocols, [&](const protocol_entry& p) {
        return std::ranges::all_of(_members, [&](const auto& m) {
            // The joining member's own old entry does not count against it.
            if (m.first == args.member_id) return true;
            return m.second->metadata_for(p.name) != nullptr;
        });
    });
}

void group::join(join_args args, steady_time now, join_callback done) {
    _now = now;
    if (const int16_t error = check_join(args); error != 0) {
        join_result r;
        r.error = error;
        r.member_id = args.member_id;
        done(std::move(r));
        return;
    }
    if (args.member_id.empty()) {
        join_new_member(std::move(args), now, std::move(done));
    } else {
        join_known_member(std::move(args), now, std::move(done));
    }
}

void group::join_new_member(join_args args, steady_time now, join_callback done) {
    if (args.group_instance_id.has_value()) {
        auto known = _static_members.find(*args.group_instance_id);
        if (known != _static_members.end()) {
            member_state* old = find_member(known->second);
            TL_ASSERT(old != nullptr, "static member map points at a member");
            join_static_replacement(std::move(args), *old, now, std::move(done));
            return;
        }
        // A new static member joins straight away (no MEMBER_ID_REQUIRED).
        std::string id = new_member_id(args.client_id);
        add_member(std::move(args), std::move(id), now, std::move(done));
        rebalance_for_new_member(now);
        return;
    }
    std::string id = new_member_id(args.client_id);
    if (args.require_known_member_id) {
        // KIP-394: the member learns its id first and joins with it, so a
        // client that gives up mid-join leaves no ghost member behind.
        _pending_members[id] = now + milliseconds(args.session_timeout_ms);
        join_result r;
        r.error = member_id_required;
        r.member_id = std::move(id);
        done(std::move(r));
        return;
    }
    add_member(std::move(args), std::move(id), now, std::move(done));
    rebalance_for_new_member(now);
}

void group::rebalance_for_new_member(steady_time now) {
    if (_state != group_state::preparing_rebalance) prepare_rebalance(now);
    try_complete_join(now);
}

void group::join_static_replacement(join_args args, member_state& old, steady_time now,
                                    join_callback done) {
    // Kafka's static member replacement: the instance keeps its place (and
    // its assignment) under a new member id; the old id is fenced.
    std::string new_id = new_member_id(args.client_id);
    std::unique_ptr<member_state> m = std::move(_members[old.id]);
    _members.erase(m->id);
    if (m->awaiting_join) {
        join_result fenced_out;
        fenced_out.error = fenced_instance_id;
        fenced_out.member_id = m->id;
        std::exchange(m->awaiting_join, nullptr)(std::move(fenced_out));
    }
    if (m->awaiting_sync) {
        sync_result fenced_out;
        fenced_out.error = fenced_instance_id;
        std::exchange(m->awaiting_sync, nullptr)(std::move(fenced_out));
    }
    const bool was_leader = _leader == m->id;
    const std::string old_id = m->id;
    m->id = new_id;
    if (was_leader) _leader = new_id;
    _static_members[*args.group_instance_id] = new_id;
    const bool protocols_unchanged =
        _protocol.has_value() && m->protocols == args.protocols &&
        m->protocol_type == args.protocol_type;
    m->client_id = args.client_id;
    m->client_host = args.client_host;
    m->session_timeout_ms = args.session_timeout_ms;
    m->rebalance_timeout_ms = args.rebalance_timeout_ms;
    member_state& ref = *m;
    _members.emplace(new_id, std::move(m));
    if (_state == group_state::stable && protocols_unchanged) {
        // No rebalance: persist the new id, then hand back the current
        // generation; the member's SyncGroup returns its old assignment.
        schedule_heartbeat(ref, now);
        const std::string member_id = new_id;
        store([this, member_id, old_id, done = std::move(done)](int16_t error) mutable {
            member_state* m = find_member(member_id);
            join_result r;
            r.member_id = member_id;
            if (error != 0 || m == nullptr) {
                if (m != nullptr && error != 0) {
                    // Undo: the old id stays the instance's.
                    std::unique_ptr<member_state> back = std::move(_members[member_id]);
                    _members.erase(member_id);
                    back->id = old_id;
                    if (_leader == member_id) _leader = old_id;
                    if (back->group_instance_id) _static_members[*back->group_instance_id] = old_id;
                    _members.emplace(old_id, std::move(back));
                }
                r.error = error != 0 ? error : unknown_member_id;
                done(std::move(r));
                return;
            }
            r.generation = _generation;
            r.protocol_type = _protocol_type;
            r.protocol_name = _protocol;
            r.leader = _leader.value_or("");
            if (_leader == member_id) {
                // KIP-814: the leader learns the members but must not reassign.
                r.skip_assignment = true;
                for (const auto& [id, other] : _members) {
                    const auto* metadata = other->metadata_for(*_protocol);
                    r.members.push_back({id, other->group_instance_id,
                                         metadata ? *metadata : std::vector<std::byte>{}});
                }
            }
            done(std::move(r));
        });
        return;
    }
    update_member(ref, std::move(args), std::move(done));
    if (_state != group_state::preparing_rebalance) prepare_rebalance(now);
    try_complete_join(now);
}

void group::join_known_member(join_args args, steady_time now, join_callback done) {
    auto pending = _pending_members.find(args.member_id);
    if (pending != _pending_members.end()) {
        _pending_members.erase(pending);
        std::string id = args.member_id;
        add_member(std::move(args), std::move(id), now, std::move(done));
        if (_state != group_state::preparing_rebalance) prepare_rebalance(now);
        try_complete_join(now);
        return;
    }
    const member_identity who{args.member_id, args.group_instance_id};
    int16_t error = fenced(who);
    member_state* m = find_member(args.member_id);
    if (error == 0 && m == nullptr) error = unknown_member_id;
    if (error != 0) {
        join_result r;
        r.error = error;
        r.member_id = args.member_id;
        done(std::move(r));
        return;
    }
    if (_state == group_state::completing_rebalance && m->protocols == args.protocols &&
        !m->awaiting_join) {
        // A duplicate JoinGroup after the join phase: answer with the
        // generation just formed, as Kafka does.
        m->awaiting_join = std::move(done);
        answer_join(*m, 0);
        schedule_heartbeat(*m, now);
        return;
    }
    // Rejoining while Stable (or with new protocols) starts a rebalance, so
    // that cooperative assignors' follow-up joins are always answered by a
    // new generation that every member joins.
    update_member(*m, std::move(args), std::move(done));
    if (_state != group_state::preparing_rebalance) prepare_rebalance(now);
    try_complete_join(now);
}

member_state& group::add_member(join_args args, std::string id, steady_time now,
                                join_callback done) {
    auto m = std::make_unique<member_state>();
    m->id = id;
    m->group_instance_id = args.group_instance_id;
    m->client_id = std::move(args.client_id);
    m->client_host = std::move(args.client_host);
    m->session_timeout_ms = args.session_timeout_ms;
    m->rebalance_timeout_ms = args.rebalance_timeout_ms;
    m->protocol_type = args.protocol_type;
    m->protocols = std::move(args.protocols);
    m->awaiting_join = std::move(done);
    m->is_new = true;
    m->session_deadline = now + milliseconds(m->session_timeout_ms);
    if (_members.empty()) _protocol_type = args.protocol_type;
    if (!_leader.has_value()) _leader = id;
    if (m->group_instance_id) _static_members[*m->group_instance_id] = id;
    member_state& ref = *m;
    _members.emplace(std::move(id), std::move(m));
    if (_state == group_state::preparing_rebalance && _initial_delay_end.has_value()) {
        // Kafka's InitialDelayedJoin: each new member pushes the end of the
        // delay out again, but never past the first member's rebalance timeout.
        _initial_delay_end =
            std::min(now + milliseconds(_settings.initial_rebalance_delay_ms),
                     _initial_delay_limit);
    }
    return ref;
}

void group::update_member(member_state& m, join_args args, join_callback done) {
    if (m.awaiting_join) {
        // A second JoinGroup replaces the first, which Kafka answers with
        // UNKNOWN_MEMBER_ID... in effect the client only waits on the last.
        join_result superseded;
        superseded.error = rebalance_in_progress;
        superseded.member_id = m.id;
        std::exchange(m.awaiting_join, nullptr)(std::move(superseded));
    }
    m.protocols = std::move(args.protocols);
    m.protocol_type = std::move(args.protocol_type);
    m.session_timeout_ms = args.session_timeout_ms;
    m.rebalance_timeout_ms = args.rebalance_timeout_ms;
    m.client_id = std::move(args.client_id);
    m.client_host = std::move(args.client_host);
    m.awaiting_join = std::move(done);
}

void group::prepare_rebalance(steady_time now) {
    if (_state == group_state::completing_rebalance) {
        reset_assignments();
        fail_awaiting_syncs(rebalance_in_progress);
    }
    int32_t rebalance_timeout_ms = 0;
    for (const auto& [id, m] : _members) {
        rebalance_timeout_ms = std::max(rebalance_timeout_ms, m->rebalance_timeout_ms);
    }
    if (_state == group_state::empty && _settings.initial_rebalance_delay_ms > 0) {
        _initial_delay_limit = now + milliseconds(rebalance_timeout_ms);
        _initial_delay_end = std::min(now + milliseconds(_settings.initial_rebalance_delay_ms),
                                      _initial_delay_limit);
    } else {
        _initial_delay_end.reset();
    }
    _join_deadline = now + milliseconds(rebalance_timeout_ms);
    transition(group_state::preparing_rebalance);
}

void group::try_complete_join(steady_time now) {
    if (_state != group_state::preparing_rebalance) return;
    if (_initial_delay_end.has_value()) return;  // tick() ends the delay
    const bool all_joined =
        _pending_members.empty() &&
        std::ranges::all_of(_members, [](const auto& m) { return bool(m.second->awaiting_join); });
    if (all_joined) complete_join(now);
}

std::optional<std::string> group::select_protocol() const {
    // Candidates: protocols every member supports; each member votes for its
    // most preferred candidate; the most votes wins (ties: the first
    // candidate in the first member's preference order... Kafka takes the max
    // by count, and among equals the one it met first).
    std::vector<std::string> candidates;
    if (_members.empty()) return std::nullopt;
    for (const protocol_entry& p : _members.begin()->second->protocols) {
        if (std::ranges::all_of(_members, [&](const auto& m) {
                return m.second->metadata_for(p.name) != nullptr;
            })) {
            candidates.push_back(p.name);
        }
    }
    if (candidates.empty()) return std::nullopt;
    std::map<std::string, int, std::less<>> votes;
    for (const auto& [id, m] : _members) {
        for (const protocol_entry& p : m->protocols) {
            if (std::ranges::find(candidates, p.name) != candidates.end()) {
                ++votes[p.name];
                break;
            }
        }
    }
    std::string best = candidates.front();
    int best_votes = -1;
    for (const std::string& c : candidates) {
        const int v = votes[c];
        if (v > best_votes) {
            best = c;
            best_votes = v;
        }
    }
    return best;
}

void group::complete_join(steady_time now) {
    // Members that did not rejoin in time leave the group (Kafka removes
    // dynamic and static members alike).
    std::vector<std::string> missing;
    for (const auto& [id, m] : _members) {
        if (!m->awaiting_join) missing.push_back(id);
    }
    for (const std::string& id : missing) {
        member_state* m = find_member(id);
        if (m->group_instance_id) _static_members.erase(*m->group_instance_id);
        if (_leader == id) _leader.reset();
        _members.erase(id);
    }
    _pending_members.clear();
    _join_deadline.reset();
    _initial_delay_end.reset();
    ++_generation;
    if (_members.empty()) {
        _protocol.reset();
        _leader.reset();
        transition(group_state::empty);
        store(nullptr);
        return;
    }
    _protocol = select_protocol();
    if (!_protocol.has_value()) {
        // Cannot happen with supports() checked at every join, but a group
        // loaded from a log may hold anything: answer, and start over empty.
        for (auto& [id, m] : _members) answer_join(*m, inconsistent_group_protocol);
        _members.clear();
        _static_members.clear();
        _leader.reset();
        transition(group_state::empty);
        store(nullptr);
        return;
    }
    if (!_leader.has_value() || find_member(*_leader) == nullptr) {
        _leader = _members.begin()->first;
    }
    transition(group_state::completing_rebalance);
    for (auto& [id, m] : _members) {
        answer_join(*m, 0);
        m->is_new = false;
        schedule_heartbeat(*m, now);
    }
}

void group::answer_join(member_state& m, int16_t error) {
    if (!m.awaiting_join) return;
    join_result r;
    r.error = error;
    r.member_id = m.id;
    if (error == 0) {
        r.generation = _generation;
        r.protocol_type = _protocol_type;
        r.protocol_name = _protocol;
        r.leader = _leader.value_or("");
        if (_leader == m.id) {
            for (const auto& [id, other] : _members) {
                const auto* metadata = other->metadata_for(*_protocol);
                r.members.push_back({id, other->group_instance_id,
                                     metadata ? *metadata : std::vector<std::byte>{}});
            }
        }
    }
    std::exchange(m.awaiting_join, nullptr)(std::move(r));
}

void group::fail_awaiting_syncs(int16_t error) {
    for (auto& [id, m] : _members) {
        if (m->awaiting_sync) {
            sync_result r;
            r.error = error;
            std::exchange(m->awaiting_sync, nullptr)(std::move(r));
        }
    }
}

void group::reset_assignments() {
    for (auto& [id, m] : _members) m->assignment.clear();
}

void group::schedule_heartbeat(member_state& m, steady_time now) {
    m.session_deadline = now + milliseconds(m.session_timeout_ms);
}

int16_t group::fenced(const member_identity& who) const {
    if (!who.group_instance_id.has_value()) return 0;
    auto it = _static_members.find(*who.group_instance_id);
    if (it == _static_members.end()) return unknown_member_id;
    if (it->second != who.member_id) return fenced_instance_id;
    return 0;
}

// ---- SyncGroup ----

void group::sync(sync_args args, steady_time now, sync_callback done) {
    _now = now;
    const auto fail = [&](int16_t error) {
        sync_result r;
        r.error = error;
        done(std::move(r));
    };
    if (_state == group_state::dead) return fail(coordinator_not_available);
    member_state* m = find_member(args.member_id);
    if (m == nullptr) return fail(unknown_member_id);
    if (const int16_t error = fenced({args.member_id, args.group_instance_id}); error != 0) {
        return fail(error);
    }
    if (args.generation != _generation) return fail(illegal_generation);
    if ((args.protocol_type.has_value() && args.protocol_type != _protocol_type) ||
        (args.protocol_name.has_value() && args.protocol_name != _protocol)) {
        return fail(inconsistent_group_protocol);
    }
    switch (_state) {
        case group_state::empty: return fail(unknown_member_id);
        case group_state::preparing_rebalance: return fail(rebalance_in_progress);
        case group_state::dead: return fail(coordinator_not_available);
        case group_state::stable: {
            schedule_heartbeat(*m, now);
            sync_result r;
            r.protocol_type = _protocol_type;
            r.protocol_name = _protocol;
            r.assignment = m->assignment;
            done(std::move(r));
            return;
        }
        case group_state::completing_rebalance: break;
    }
    schedule_heartbeat(*m, now);
    if (m->awaiting_sync) {
        sync_result superseded;
        superseded.error = rebalance_in_progress;
        std::exchange(m->awaiting_sync, nullptr)(std::move(superseded));
    }
    m->awaiting_sync = std::move(done);
    if (_leader != args.member_id) return;  // waits for the leader's assignment
    for (auto& [id, member] : _members) member->assignment.clear();
    for (auto& [id, assignment] : args.assignments) {
        if (member_state* target = find_member(id); target != nullptr) {
            target->assignment = std::move(assignment);
        }
    }
    const int32_t generation = _generation;
    store([this, generation](int16_t error) {
        if (_state != group_state::completing_rebalance || _generation != generation) return;
        if (error != 0) {
            reset_assignments();
            fail_awaiting_syncs(error);
            // Everyone rejoins: the assignment was not stored.
            prepare_rebalance(_now);
            return;
        }
        transition(group_state::stable);
        for (auto& [id, m] : _members) {
            if (!m->awaiting_sync) continue;
            sync_result r;
            r.protocol_type = _protocol_type;
            r.protocol_name = _protocol;
            r.assignment = m->assignment;
            std::exchange(m->awaiting_sync, nullptr)(std::move(r));
        }
    });
}

// ---- Heartbeat, LeaveGroup, expiry ----

int16_t group::heartbeat(const member_identity& who, int32_t generation, steady_time now) {
    _now = now;
    if (_state == group_state::dead) return coordinator_not_available;
    member_state* m = find_member(who.member_id);
    if (m == nullptr) return unknown_member_id;
    if (const int16_t error = fenced(who); error != 0) return error;
    if (generation != _generation) return illegal_generation;
    switch (_state) {
        case group_state::empty: return unknown_member_id;
        case group_state::preparing_rebalance:
            schedule_heartbeat(*m, now);
            return rebalance_in_progress;
        case group_state::completing_rebalance:
        case group_state::stable: schedule_heartbeat(*m, now); return 0;
        case group_state::dead: return coordinator_not_available;
    }
    return 0;
}

std::vector<int16_t> group::leave(const std::vector<member_identity>& who, steady_time now) {
    _now = now;
    std::vector<int16_t> errors;
    errors.reserve(who.size());
    for (const member_identity& w : who) {
        if (_state == group_state::dead) {
            errors.push_back(coordinator_not_available);
            continue;
        }
        std::string id = w.member_id;
        if (w.group_instance_id.has_value()) {
            auto it = _static_members.find(*w.group_instance_id);
            if (it == _static_members.end()) {
                errors.push_back(unknown_member_id);
                continue;
            }
            if (!id.empty() && id != it->second) {
                errors.push_back(fenced_instance_id);
                continue;
            }
            id = it->second;
        }
        if (_pending_members.erase(id) > 0) {
            errors.push_back(0);
            try_complete_join(now);
            continue;
        }
        if (find_member(id) == nullptr) {
            errors.push_back(unknown_member_id);
            continue;
        }
        remove_member(id, now);
        errors.push_back(0);
    }
    return errors;
}

void group::remove_member(const std::string& id, steady_time now) {
    member_state* m = find_member(id);
    TL_ASSERT(m != nullptr, "removing a member that exists");
    answer_join(*m, unknown_member_id);
    if (m->awaiting_sync) {
        sync_result r;
        r.error = unknown_member_id;
        std::exchange(m->awaiting_sync, nullptr)(std::move(r));
    }
    if (m->group_instance_id) _static_members.erase(*m->group_instance_id);
    _members.erase(id);
    if (_leader == id) {
        _leader = _members.empty() ? std::nullopt
                                   : std::optional<std::string>(_members.begin()->first);
    }
    switch (_state) {
        case group_state::stable:
        case group_state::completing_rebalance:
            // As Kafka's tryCompleteElseWatch: the last member leaving empties
            // the group at once (DeleteGroups right after LeaveGroup works).
            prepare_rebalance(now);
            try_complete_join(now);
            break;
        case group_state::preparing_rebalance:
            if (_members.empty()) _initial_delay_end.reset();
            try_complete_join(now);
            break;
        default: break;
    }
}

void group::tick(steady_time now) {
    if (_state == group_state::dead) return;
    _now = now;
    for (auto it = _pending_members.begin(); it != _pending_members.end();) {
        it = it->second <= now ? _pending_members.erase(it) : std::next(it);
    }
    // Session expiry: members waiting in a join or a sync are alive by
    // definition (Kafka's hasSatisfiedHeartbeat).
    std::vector<std::string> expired;
    for (const auto& [id, m] : _members) {
        if (m->awaiting_join || m->awaiting_sync) continue;
        if (m->session_deadline <= now) expired.push_back(id);
    }
    for (const std::string& id : expired) {
        if (find_member(id) != nullptr) remove_member(id, now);
    }
    if (_state != group_state::preparing_rebalance) return;
    if (_initial_delay_end.has_value() && *_initial_delay_end <= now) {
        _initial_delay_end.reset();
        try_complete_join(now);
    }
    if (_state == group_state::preparing_rebalance && _join_deadline.has_value() &&
        *_join_deadline <= now) {
        complete_join(now);
    } else {
        try_complete_join(now);
    }
}

std::optional<steady_time> group::next_deadline() const noexcept {
    std::optional<steady_time> next;
    const auto consider = [&next](steady_time t) {
        if (!next || t < *next) next = t;
    };
    for (const auto& [id, deadline] : _pending_members) consider(deadline);
    for (const auto& [id, m] : _members) {
        if (!m->awaiting_join && !m->awaiting_sync) consider(m->session_deadline);
    }
    if (_initial_delay_end) consider(*_initial_delay_end);
    if (_join_deadline) consider(*_join_deadline);
    return next;
}

// ---- offsets ----

int16_t group::check_commit(const member_identity& who, int32_t generation, steady_time now) {
    _now = now;
    if (_state == group_state::dead) return coordinator_not_available;
    if (generation < 0 && who.member_id.empty() && _state == group_state::empty) return 0;
    if (_state == group_state::completing_rebalance) return rebalance_in_progress;
    if (const int16_t error = fenced(who); error != 0) return error;
    member_state* m = find_member(who.member_id);
    if (m == nullptr) return unknown_member_id;
    if (generation != _generation) return illegal_generation;
    schedule_heartbeat(*m, now);
    return 0;
}

void group::apply_commit(const std::string& topic, int32_t partition, offset_value value) {
    _offsets[{topic, partition}] = committed_offset{std::move(value)};
}

void group::remove_offset(const std::string& topic, int32_t partition) {
    _offsets.erase(topic_partition{topic, partition});
}

bool group::subscribed_to(std::string_view topic) const {
    if (_protocol_type != "consumer" || !_protocol.has_value()) return false;
    for (const auto& [id, m] : _members) {
        const auto* metadata = m->metadata_for(*_protocol);
        if (metadata == nullptr) continue;
        // ConsumerProtocolSubscription: int16 version, then the topics.
        reader r{std::span<const std::byte>(*metadata)};
        (void)r.read_int16();
        const int32_t count = r.read_array_length(false, 2, false);
        for (int32_t i = 0; i < count && r.ok(); ++i) {
            if (r.read_string(false) == topic && r.ok()) return true;
        }
    }
    return false;
}

// ---- replay and deletion ----

void group::load(const group_value& value, steady_time now) {
    TL_ASSERT(_members.empty(), "loading into a group without members");
    _generation = value.generation;
    _protocol_type = value.protocol_type.empty() && value.members.empty()
                         ? std::nullopt
                         : std::optional<std::string>(value.protocol_type);
    _protocol = value.protocol;
    _leader = value.leader;
    if (value.current_state_timestamp_ms >= 0) {
        _state_timestamp_ms = value.current_state_timestamp_ms;
    }
    for (const member_record& r : value.members) {
        auto m = std::make_unique<member_state>();
        m->id = r.member_id;
        m->group_instance_id = r.group_instance_id;
        m->client_id = r.client_id;
        m->client_host = r.client_host;
        m->session_timeout_ms = r.session_timeout_ms;
        m->rebalance_timeout_ms = r.rebalance_timeout_ms;
        m->protocol_type = value.protocol_type;
        if (value.protocol) m->protocols.push_back({*value.protocol, r.subscription});
        m->assignment = r.assignment;
        m->session_deadline = now + milliseconds(r.session_timeout_ms);
        if (m->group_instance_id) _static_members[*m->group_instance_id] = m->id;
        _members.emplace(r.member_id, std::move(m));
    }
    _state = _members.empty() ? group_state::empty : group_state::stable;
}

group_value group::to_record() const {
    group_value v;
    v.protocol_type = _protocol_type.value_or("");
    v.generation = _generation;
    v.protocol = _protocol;
    v.leader = _leader;
    v.current_state_timestamp_ms = _store.wall_time_ms();
    if (_state == group_state::empty || !_protocol.has_value()) return v;
    for (const auto& [id, m] : _members) {
        member_record r;
        r.member_id = id;
        r.group_instance_id = m->group_instance_id;
        r.client_id = m->client_id;
        r.client_host = m->client_host;
        r.rebalance_timeout_ms = m->rebalance_timeout_ms;
        r.session_timeout_ms = m->session_timeout_ms;
        if (const auto* metadata = m->metadata_for(*_protocol)) r.subscription = *metadata;
        r.assignment = m->assignment;
        v.members.push_back(std::move(r));
    }
    return v;
}

void group::mark_dead() {
    for (auto& [id, m] : _members) {
        answer_join(*m, coordinator_not_available);
        if (m->awaiting_sync) {
            sync_result r;
            r.error = coordinator_not_available;
            std::exchange(m->awaiting_sync, nullptr)(std::move(r));
        }
    }
    _members.clear();
    _static_members.clear();
    _pending_members.clear();
    _offsets.clear();
    _join_deadline.reset();
    _initial_delay_end.reset();
    transition(group_state::dead);
}

}  // namespace tl::kafka::groups
