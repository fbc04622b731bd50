#include "raft/node.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"

namespace tl::raft {

namespace {

// vote.context: the election is a leadership transfer (see in_lease()).
constexpr uint64_t transfer_context = 1;

// Messages that promise durable state: held until the ready persists.
bool needs_persistence(message_kind kind) {
    switch (kind) {
        case message_kind::vote:
        case message_kind::vote_response:
        case message_kind::append_response:
        case message_kind::heartbeat_response:
            return true;
        default:
            return false;
    }
}

message_kind response_kind(message_kind request) {
    return request == message_kind::pre_vote ? message_kind::pre_vote_response
                                             : message_kind::vote_response;
}

}  // namespace

std::string_view to_string(errc code) noexcept {
    switch (code) {
        case errc::not_leader: return "not_leader";
        case errc::transfer_in_progress: return "transfer_in_progress";
        case errc::change_in_progress: return "change_in_progress";
        case errc::invalid_change: return "invalid_change";
        case errc::no_leader: return "no_leader";
        case errc::too_many_reads: return "too_many_reads";
        case errc::not_applied: return "not_applied";
        case errc::timeout: return "timeout";
        case errc::stopped: return "stopped";
        case errc::dropped: return "dropped";
        case errc::overloaded: return "overloaded";
    }
    return "?";
}

std::string_view to_string(role r) noexcept {
    switch (r) {
        case role::follower: return "follower";
        case role::pre_candidate: return "pre_candidate";
        case role::candidate: return "candidate";
        case role::leader: return "leader";
    }
    return "?";
}

node::node(const options& options, durable_state recovered)
    : _options(options),
      _log(recovered.snapshot.meta.index, recovered.snapshot.meta.term,
           std::move(recovered.entries)) {
    TL_ASSERT(options.id != no_node, "a node needs an id");
    TL_ASSERT(options.heartbeat_ticks > 0 && options.heartbeat_ticks < options.election_ticks,
              "heartbeats must come more often than elections");
    TL_ASSERT(options.max_inflight_appends > 0 && options.max_pending_reads > 0);
    _random_state = options.random_seed ^ (options.id * 0x9e3779b97f4a7c15ULL);
    // The log may be durable beyond the hard state (a crash between the two
    // writes of one ready): the term is then at least the last entry's, and
    // a vote in that newer term was never sent (it waited for persistence).
    const hard_state& hard = recovered.hard;
    _term = std::max(hard.term, _log.last_term());
    _voted_for = _term == hard.term ? hard.voted_for : no_node;
    _persisted_hard = hard;
    // The commit index is a hint; entries it covers may have been lost here
    // (they are committed on a quorum, and we never acknowledged them).
    _commit = std::clamp(hard.commit, _log.snapshot_index(), _log.last_index());
    _handed_index = _persisted_index = _log.last_index();
    _applied_handed = _applied = _log.snapshot_index();
    _snapshot = std::move(recovered.snapshot);
    refresh_configuration();
    become_follower(_term, no_node);
}

// ---------------------------------------------------------------- roles

uint64_t node::next_random() {
    // splitmix64: deterministic from the caller's seed.
    uint64_t z = (_random_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void node::reset_randomized_timeout() {
    _randomized_election_ticks =
        _options.election_ticks + static_cast<uint32_t>(next_random() % _options.election_ticks);
}

void node::reset(term_t term) {
    TL_ASSERT(term >= _term, "terms never go back");
    if (term != _term) {
        _term = term;
        _voted_for = no_node;
    }
    _leader = no_node;
    _election_elapsed = 0;
    _heartbeat_elapsed = 0;
    reset_randomized_timeout();
    _votes.clear();
    _progress.clear();
    _transfer_target = no_node;
    _transfer_elapsed = 0;
    _pending_reads.clear();
    _reads_awaiting_term_commit.clear();
    _read_round_acknowledged.clear();
    _needs_broadcast = false;
}

void node::become_follower(term_t term, node_id leader) {
    reset(term);
    _role = role::follower;
    _leader = leader;
}

void node::become_pre_candidate() {
    // The term and vote stay: a pre-vote changes no durable state.
    _role = role::pre_candidate;
    _votes.clear();
    _leader = no_node;
    _progress.clear();
}

void node::become_candidate() {
    reset(_term + 1);
    _voted_for = _options.id;
    _role = role::candidate;
}

void node::become_leader() {
    TL_ASSERT(_role == role::candidate, "only a candidate becomes leader");
    reset(_term);
    _role = role::leader;
    _leader = _options.id;
    const auto add = [&](node_id id, bool learner) {
        progress pr;
        pr.next = _log.last_index() + 1;
        pr.is_learner = learner;
        if (id == _options.id) {
            pr.match = _persisted_index;
            pr.state = progress_state::replicate;
        }
        _progress[id] = std::move(pr);
    };
    for (node_id id : _config.voters) add(id, false);
    for (node_id id : _config.learners) add(id, true);
    if (!_progress.contains(_options.id)) add(_options.id, false);
    // The no-op commits every earlier entry (they cannot be committed by
    // counting, Figure 8); no membership change until it is committed. (The
    // Figure 8 canary drops it too: it would mask that broken rule.)
    if (_options.canary != testing_canary::commit_earlier_terms) {
        append_as_leader(entry_kind::no_op, {});
    }
    _pending_config_index = _log.last_index();
}

bool node::promotable() const { return _config.is_voter(_options.id); }

bool node::log_up_to_date(term_t last_term, index_t last_index) const {
    return last_term > _log.last_term() ||
           (last_term == _log.last_term() && last_index >= _log.last_index());
}

bool node::in_lease() const {
    return _options.check_quorum && _leader != no_node &&
           _election_elapsed < _options.election_ticks;
}

void node::campaign(bool transfer) {
    const bool pre = _options.pre_vote && !transfer;
    if (pre) {
        become_pre_candidate();
        _votes[_options.id] = true;  // a pre-vote needs no persistence
    } else {
        become_candidate();
        // Our own vote counts once it is durable: stepped in advance().
        send(message{.kind = message_kind::vote_response, .to = _options.id, .term = _term});
    }
    const message_kind kind = pre ? message_kind::pre_vote : message_kind::vote;
    for (node_id id : _config.voters) {
        if (id == _options.id) continue;
        send(message{.kind = kind,
                     .to = id,
                     .term = pre ? _term + 1 : _term,
                     .log_term = _log.last_term(),
                     .index = _log.last_index(),
                     .context = transfer ? transfer_context : 0});
    }
    // A single voter wins its pre-vote alone.
    if (pre && _config.voters.size() == 1) campaign(true);
}

// ---------------------------------------------------------------- ticks

void node::tick() {
    if (_role != role::leader) {
        ++_election_elapsed;
        if (promotable() && _election_elapsed >= _randomized_election_ticks) {
            _election_elapsed = 0;
            campaign(false);
        }
        return;
    }
    ++_heartbeat_elapsed;
    ++_election_elapsed;
    if (_transfer_target != no_node && ++_transfer_elapsed >= _options.election_ticks) {
        _transfer_target = no_node;  // the transfer failed: accept proposals again
    }
    if (_election_elapsed >= _options.election_ticks) {
        _election_elapsed = 0;
        if (_options.check_quorum) {
            size_t active = 0;
            for (auto& [id, pr] : _progress) {
                if (!_config.is_voter(id)) continue;
                if (id == _options.id || pr.recent_active) ++active;
            }
            for (auto& [id, pr] : _progress) pr.recent_active = false;
            if (active < _config.quorum()) {
                become_follower(_term, no_node);
                return;
            }
        }
    }
    for (auto& [id, pr] : _progress) {
        if (pr.state == progress_state::snapshot && ++pr.snapshot_ticks >= _options.election_ticks) {
            become_probe(pr);  // the snapshot or its answer was lost: resend
        }
    }
    if (_heartbeat_elapsed >= _options.heartbeat_ticks) {
        _heartbeat_elapsed = 0;
        broadcast_heartbeat();
    }
}

// ---------------------------------------------------------------- step

void node::step(message m) {
    TL_ASSERT(m.to == _options.id, "a message for another node");
    if (m.term > _term) {
        const bool vote_request = m.kind == message_kind::vote || m.kind == message_kind::pre_vote;
        // Leader stickiness: while we hear from a leader, no election can
        // disrupt it (unless the leader itself asked for it).
        if (vote_request && m.context != transfer_context && in_lease()) return;
        if (m.kind == message_kind::pre_vote) {
            // A pre-vote never changes our term.
        } else if (m.kind == message_kind::pre_vote_response && !m.reject) {
            // Granted for the term we would campaign in.
        } else {
            const bool from_leader = m.kind == message_kind::append ||
                                     m.kind == message_kind::heartbeat ||
                                     m.kind == message_kind::install_snapshot;
            become_follower(m.term, from_leader ? m.from : no_node);
        }
    } else if (m.term < _term) {
        if (m.kind == message_kind::append || m.kind == message_kind::heartbeat) {
            // A stale leader (or a node that came back from a partition):
            // tell it our term so that it steps down.
            send(message{.kind = message_kind::append_response, .to = m.from, .term = _term});
        } else if (m.kind == message_kind::pre_vote || m.kind == message_kind::vote) {
            // Refuse with our term: a candidate that does not hear of a
            // higher term can chase one forever (two candidates whose
            // configurations differ need each other's answers).
            send(message{.kind = response_kind(m.kind),
                         .to = m.from,
                         .term = _term,
                         .reject = true});
        }
        return;
    }

    switch (m.kind) {
        case message_kind::pre_vote:
        case message_kind::vote:
            step_vote_request(m);
            return;
        default:
            break;
    }
    switch (_role) {
        case role::leader:
            step_leader(m);
            return;
        case role::pre_candidate:
        case role::candidate:
            if (m.kind == message_kind::pre_vote_response ||
                m.kind == message_kind::vote_response) {
                step_vote_response(m);
                return;
            }
            if (m.kind == message_kind::append || m.kind == message_kind::heartbeat ||
                m.kind == message_kind::install_snapshot) {
                // A leader of our term (a pre-candidate's term is the old one).
                become_follower(_term, m.from);
                step_follower(m);
            }
            return;
        case role::follower:
            step_follower(m);
            return;
    }
}

void node::step_vote_request(const message& m) {
    const bool pre = m.kind == message_kind::pre_vote;
    const bool can_vote = _voted_for == m.from ||
                          (_voted_for == no_node && _leader == no_node) || (pre && m.term > _term);
    const bool up_to_date = _options.canary == testing_canary::vote_without_log_check ||
                            log_up_to_date(m.log_term, m.index);
    const bool grant = can_vote && up_to_date;
    if (grant && !pre) {
        _election_elapsed = 0;
        _voted_for = m.from;
    }
    send(message{.kind = response_kind(m.kind),
                 .to = m.from,
                 .term = grant ? m.term : _term,
                 .reject = !grant});
}

void node::step_vote_response(const message& m) {
    const bool pre = m.kind == message_kind::pre_vote_response;
    if (pre != (_role == role::pre_candidate)) return;  // a response from an earlier round
    if (!_config.is_voter(m.from)) return;
    _votes.emplace(m.from, !m.reject);
    size_t granted = 0;
    for (auto& [id, yes] : _votes) granted += yes && _config.is_voter(id) ? 1 : 0;
    const size_t rejected = _votes.size() - granted;
    if (granted >= _config.quorum()) {
        if (pre) {
            campaign(true);
        } else {
            become_leader();
        }
    } else if (_config.voters.size() - rejected < _config.quorum()) {
        become_follower(_term, no_node);
    }
}

void node::step_follower(message& m) {
    switch (m.kind) {
        case message_kind::append:
            _election_elapsed = 0;
            _leader = m.from;
            handle_append(m);
            return;
        case message_kind::heartbeat:
            _election_elapsed = 0;
            _leader = m.from;
            handle_heartbeat(m);
            return;
        case message_kind::install_snapshot:
            _election_elapsed = 0;
            _leader = m.from;
            handle_snapshot(m);
            return;
        case message_kind::timeout_now:
            if (promotable()) campaign(true);
            return;
        case message_kind::read_index_response:
            if (!m.reject) _read_states.push_back(read_state{m.context, m.index});
            return;
        default:
            return;  // responses for an earlier role, reads forwarded by mistake
    }
}

// ---------------------------------------------------------------- follower

void node::handle_append(message& m) {
    message response{.kind = message_kind::append_response, .to = m.from, .term = _term};
    if (m.index < _commit) {
        response.index = _commit;  // an old, duplicated append: say where we are
        send(std::move(response));
        return;
    }
    if (!_log.matches(m.index, m.log_term)) {
        const index_t hint =
            _log.find_conflict_by_term(std::min(m.index, _log.last_index()), m.log_term);
        response.reject = true;
        response.index = m.index;
        response.reject_hint = hint;
        response.hint_term = _log.term_at(hint).value_or(0);
        send(std::move(response));
        return;
    }
    const index_t last_new = m.index + m.entries.size();
    const index_t conflict = _log.find_conflict(m.entries);
    if (conflict != 0) {
        TL_ASSERT(conflict > _commit, "a leader overwrites a committed entry");
        const bool truncates = conflict <= _log.last_index();
        const size_t skip = conflict - m.entries.front().index;
        std::vector<entry> fresh(std::make_move_iterator(m.entries.begin() + static_cast<long>(skip)),
                                 std::make_move_iterator(m.entries.end()));
        bool has_configuration = false;
        for (const auto& e : fresh) has_configuration |= e.kind == entry_kind::configuration;
        _log.truncate_and_append(std::move(fresh));
        if (truncates) truncated_to(conflict - 1);
        if (truncates || has_configuration) refresh_configuration();
    }
    if (m.commit > _commit) _commit = std::min(m.commit, last_new);
    response.index = last_new;
    send(std::move(response));
}

void node::handle_heartbeat(const message& m) {
    // The leader sends min(its commit, our match): entries we hold durably.
    const index_t commit = std::min(m.commit, _log.last_index());
    if (commit > _commit) _commit = commit;
    send(message{.kind = message_kind::heartbeat_response,
                 .to = m.from,
                 .term = _term,
                 .context = m.context});
}

void node::handle_snapshot(message& m) {
    TL_ASSERT(m.snapshot.has_value(), "install_snapshot without a snapshot");
    snapshot& s = *m.snapshot;
    message response{.kind = message_kind::append_response, .to = m.from, .term = _term};
    if (s.meta.index <= _commit) {
        response.index = _commit;
    } else if (_log.matches(s.meta.index, s.meta.term)) {
        _commit = s.meta.index;  // we hold it all already
        response.index = _commit;
    } else {
        _log.restore(s.meta.index, s.meta.term);
        _commit = s.meta.index;
        _handed_index = _persisted_index = _applied_handed = s.meta.index;
        _snapshot = s;
        _unsent_snapshot = std::move(s);
        refresh_configuration();
        response.index = _commit;
    }
    send(std::move(response));
}

// ---------------------------------------------------------------- leader

void node::step_leader(message& m) {
    switch (m.kind) {
        case message_kind::append_response:
            handle_append_response(m);
            return;
        case message_kind::heartbeat_response:
            handle_heartbeat_response(m);
            return;
        case message_kind::read_index:
            handle_read_index_request(m.from, m.context);
            return;
        case message_kind::append:
        case message_kind::heartbeat:
        case message_kind::install_snapshot:
            TL_UNREACHABLE("two leaders in one term");
        default:
            return;
    }
}

void node::become_probe(progress& pr) {
    pr.state = progress_state::probe;
    pr.probe_sent = false;
    pr.inflight.clear();
    pr.next = pr.match + 1;
}

void node::become_replicate(progress& pr) {
    pr.state = progress_state::replicate;
    pr.probe_sent = false;
    pr.inflight.clear();
    pr.next = pr.match + 1;
    pr.match_at_last_beat = pr.match;
}

void node::handle_append_response(const message& m) {
    auto it = _progress.find(m.from);
    if (it == _progress.end()) return;
    progress& pr = it->second;
    pr.recent_active = true;
    if (m.reject) {
        // Stale rejections (of an append we already moved past) are ignored.
        if (m.index <= pr.match) return;
        if (pr.state == progress_state::probe && m.index != pr.next - 1) return;
        if (pr.state == progress_state::snapshot) return;
        const index_t hint = _log.find_conflict_by_term(m.reject_hint, m.hint_term);
        become_probe(pr);
        pr.next = std::max(std::min(m.index, hint + 1), pr.match + 1);
        send_append(m.from, true);
        return;
    }
    const bool advanced = m.index > pr.match;
    // A follower that was paused may have missed commits broadcast meanwhile.
    const bool was_paused = pr.state != progress_state::replicate;
    if (advanced) pr.match = m.index;
    while (!pr.inflight.empty() && pr.inflight.front() <= m.index) pr.inflight.pop_front();
    if (pr.state == progress_state::probe ||
        (pr.state == progress_state::snapshot && pr.match >= pr.pending_snapshot)) {
        become_replicate(pr);
    } else if (pr.state == progress_state::replicate) {
        pr.next = std::max(pr.next, pr.match + 1);
    }
    if (advanced && maybe_commit()) {
        broadcast_append();
    } else {
        if (was_paused) send_append(m.from, true);
        while (send_append(m.from, false)) {
        }
    }
    check_transfer(m.from);
}

void node::handle_heartbeat_response(const message& m) {
    auto it = _progress.find(m.from);
    if (it == _progress.end()) return;
    progress& pr = it->second;
    pr.recent_active = true;
    pr.probe_sent = false;
    if (pr.state == progress_state::replicate) {
        if (!pr.inflight.empty() && pr.match == pr.match_at_last_beat) become_probe(pr);
        pr.match_at_last_beat = pr.match;
    }
    if (pr.match < _log.last_index()) send_append(m.from, false);
    auto& acknowledged = _read_round_acknowledged[m.from];
    acknowledged = std::max(acknowledged, m.context);
    release_reads();
}

void node::send(message m) {
    m.from = _options.id;
    if (needs_persistence(m.kind)) {
        _messages_after_persist.push_back(std::move(m));
    } else {
        _messages.push_back(std::move(m));
    }
}

bool node::send_append(node_id to, bool send_if_empty) {
    auto it = _progress.find(to);
    if (it == _progress.end() || to == _options.id) return false;
    progress& pr = it->second;
    if (pr.state == progress_state::snapshot) return false;
    if (pr.state == progress_state::probe && pr.probe_sent) return false;
    if (pr.state == progress_state::replicate &&
        pr.inflight.size() >= _options.max_inflight_appends) {
        return false;
    }
    const index_t previous = pr.next - 1;
    const auto previous_term = _log.term_at(previous);
    if (!previous_term) {
        // Compacted away: the follower needs the snapshot.
        TL_ASSERT(_snapshot.meta.index == _log.snapshot_index(), "snapshot and log disagree");
        pr.state = progress_state::snapshot;
        pr.pending_snapshot = _snapshot.meta.index;
        pr.snapshot_ticks = 0;
        pr.inflight.clear();
        send(message{.kind = message_kind::install_snapshot,
                     .to = to,
                     .term = _term,
                     .snapshot = _snapshot});
        return true;
    }
    std::vector<entry> entries;
    if (pr.next <= _log.last_index()) {
        entries = _log.slice(pr.next, _log.last_index(), _options.max_entries_bytes_per_append);
    }
    if (entries.empty() && !send_if_empty) return false;
    if (!entries.empty() && pr.state == progress_state::replicate) {
        pr.next = entries.back().index + 1;
        pr.inflight.push_back(entries.back().index);
        TL_ASSERT(pr.inflight.size() <= _options.max_inflight_appends);
    }
    if (pr.state == progress_state::probe) pr.probe_sent = true;
    send(message{.kind = message_kind::append,
                 .to = to,
                 .term = _term,
                 .log_term = *previous_term,
                 .index = previous,
                 .entries = std::move(entries),
                 .commit = _commit});
    return true;
}

void node::broadcast_append() {
    for (auto& [id, pr] : _progress) {
        if (id == _options.id) continue;
        if (!send_append(id, true)) continue;
        while (send_append(id, false)) {
        }
    }
}

void node::broadcast_heartbeat() {
    for (auto& [id, pr] : _progress) {
        if (id == _options.id) continue;
        send(message{.kind = message_kind::heartbeat,
                     .to = id,
                     .term = _term,
                     .commit = std::min(pr.match, _commit),
                     .context = _read_round});
    }
}

bool node::maybe_commit() {
    if (_config.voters.empty()) return false;
    std::vector<index_t> matches;
    for (node_id id : _config.voters) {
        auto it = _progress.find(id);
        matches.push_back(it == _progress.end() ? 0 : it->second.match);
    }
    std::sort(matches.begin(), matches.end(), std::greater<>());
    const index_t quorum_match = matches[_config.quorum() - 1];
    if (quorum_match <= _commit) return false;
    // Figure 8: only an entry of our own term is committed by counting.
    if (_options.canary != testing_canary::commit_earlier_terms &&
        _log.term_at(quorum_match) != _term) {
        return false;
    }
    const index_t old = _commit;
    _commit = quorum_match;
    on_commit_advanced(old);
    return true;
}

void node::on_commit_advanced(index_t) {
    if (_role != role::leader) return;
    if (_log.term_at(_commit) == _term) start_pending_term_reads();
    if (_pending_config_index <= _commit && !_config.is_voter(_options.id)) {
        // Our removal is committed: stop leading (the others elect a leader
        // once they time out; a removed server is never promotable).
        become_follower(_term, no_node);
    }
}

void node::check_transfer(node_id from) {
    if (from != _transfer_target) return;
    auto it = _progress.find(from);
    if (it != _progress.end() && it->second.match == _log.last_index()) {
        send(message{.kind = message_kind::timeout_now, .to = from, .term = _term});
    }
}

void node::append_as_leader(entry_kind kind, std::vector<std::byte> data) {
    entry e{.term = _term, .index = _log.last_index() + 1, .kind = kind, .data = std::move(data)};
    std::optional<configuration> config;
    if (kind == entry_kind::configuration) {
        config = decode_configuration(e.data);
        TL_ASSERT(config.has_value(), "a leader appends a bad configuration");
    }
    _log.append(std::move(e));
    _progress[_options.id].next = _log.last_index() + 1;
    if (config) apply_configuration(*config);
    _needs_broadcast = true;
}

// ---------------------------------------------------------------- membership

configuration node::configuration_at(index_t index) const {
    index = std::min(index, _log.last_index());
    for (index_t i = index; i >= _log.first_index() && i > 0; --i) {
        const entry& e = _log.at(i);
        if (e.kind != entry_kind::configuration) continue;
        auto config = decode_configuration(e.data);
        TL_ASSERT(config.has_value(), "a configuration entry does not decode");
        return *config;
    }
    return _snapshot.meta.configuration;
}

void node::refresh_configuration() { apply_configuration(configuration_at(_log.last_index())); }

void node::apply_configuration(const configuration& config) {
    _config = config;
    if (_role != role::leader) return;
    for (auto it = _progress.begin(); it != _progress.end();) {
        if (it->first != _options.id && !_config.contains(it->first)) {
            it = _progress.erase(it);
        } else {
            ++it;
        }
    }
    const auto track = [&](node_id id, bool learner) {
        auto [it, added] = _progress.try_emplace(id);
        it->second.is_learner = learner;
        if (added) it->second.next = _log.last_index() + 1;
    };
    for (node_id id : _config.voters) track(id, false);
    for (node_id id : _config.learners) track(id, true);
    if (_transfer_target != no_node && !_config.is_voter(_transfer_target)) {
        _transfer_target = no_node;
    }
}

result<index_t, error> node::propose(std::vector<std::byte> data) {
    if (_role != role::leader) return failure{error{errc::not_leader, _leader}};
    if (_transfer_target != no_node) return failure{error{errc::transfer_in_progress, _leader}};
    append_as_leader(entry_kind::normal, std::move(data));
    return _log.last_index();
}

result<index_t, error> node::propose_membership(membership_change change) {
    if (_role != role::leader) return failure{error{errc::not_leader, _leader}};
    if (_transfer_target != no_node) return failure{error{errc::transfer_in_progress, _leader}};
    // One change at a time, and only once an entry of our term is committed
    // (else two leaders' concurrent changes could both take effect).
    if (_pending_config_index > _commit || _log.term_at(_commit) != _term) {
        return failure{error{errc::change_in_progress, _leader}};
    }
    configuration next = _config;
    const node_id id = change.node;
    const auto erase = [](std::vector<node_id>& ids, node_id x) {
        ids.erase(std::remove(ids.begin(), ids.end(), x), ids.end());
    };
    const auto insert = [](std::vector<node_id>& ids, node_id x) {
        ids.insert(std::lower_bound(ids.begin(), ids.end(), x), x);
    };
    switch (change.kind) {
        case membership_change::kind::add_learner:
            if (id == no_node || next.contains(id)) return failure{error{errc::invalid_change, _leader}};
            insert(next.learners, id);
            break;
        case membership_change::kind::add_voter:
            if (id == no_node || next.is_voter(id)) return failure{error{errc::invalid_change, _leader}};
            erase(next.learners, id);
            insert(next.voters, id);
            break;
        case membership_change::kind::remove:
            if (!next.contains(id) || (next.is_voter(id) && next.voters.size() == 1)) {
                return failure{error{errc::invalid_change, _leader}};
            }
            erase(next.voters, id);
            erase(next.learners, id);
            break;
    }
    append_as_leader(entry_kind::configuration, encode_configuration(next));
    _pending_config_index = _log.last_index();
    // A removal may complete a quorum that was waiting for the removed voter.
    if (maybe_commit()) _needs_broadcast = true;
    return _log.last_index();
}

result<void, error> node::transfer_leadership(node_id target) {
    if (_role != role::leader) return failure{error{errc::not_leader, _leader}};
    if (target == _options.id) return {};
    if (!_config.is_voter(target)) return failure{error{errc::invalid_change, _leader}};
    if (_transfer_target == target) return {};
    _transfer_target = target;
    _transfer_elapsed = 0;
    const progress& pr = _progress[target];
    if (pr.match == _log.last_index()) {
        check_transfer(target);
    } else {
        send_append(target, true);
    }
    return {};
}

// ---------------------------------------------------------------- reads

result<void, error> node::read_index(uint64_t context) {
    if (_role != role::leader) {
        if (_leader == no_node || _role != role::follower) {
            return failure{error{errc::no_leader, _leader}};
        }
        send(message{.kind = message_kind::read_index,
                     .to = _leader,
                     .term = _term,
                     .context = context});
        return {};
    }
    if (_pending_reads.size() + _reads_awaiting_term_commit.size() >= _options.max_pending_reads) {
        return failure{error{errc::too_many_reads, _leader}};
    }
    handle_read_index_request(_options.id, context);
    return {};
}

void node::handle_read_index_request(node_id from, uint64_t context) {
    if (_log.term_at(_commit) != _term) {
        // Until we commit in our term, our commit index may lag the
        // cluster's: the read waits for the no-op.
        if (_reads_awaiting_term_commit.size() < _options.max_pending_reads) {
            _reads_awaiting_term_commit.emplace_back(from, context);
        }
        return;
    }
    if (_pending_reads.size() >= _options.max_pending_reads) return;  // dropped: caller retries
    ++_read_round;
    _pending_reads.push_back(pending_read{from, context, _commit, _read_round});
    if (_config.voters.size() == 1 && _config.is_voter(_options.id)) {
        release_reads();
        return;
    }
    broadcast_heartbeat();
}

void node::start_pending_term_reads() {
    auto waiting = std::move(_reads_awaiting_term_commit);
    _reads_awaiting_term_commit.clear();
    for (auto& [from, context] : waiting) handle_read_index_request(from, context);
}

void node::release_reads() {
    while (!_pending_reads.empty()) {
        const pending_read& read = _pending_reads.front();
        size_t confirmed = 0;
        for (node_id id : _config.voters) {
            if (id == _options.id) {
                ++confirmed;
                continue;
            }
            auto it = _read_round_acknowledged.find(id);
            if (it != _read_round_acknowledged.end() && it->second >= read.round) ++confirmed;
        }
        if (confirmed < _config.quorum()) return;
        if (read.from == _options.id) {
            _read_states.push_back(read_state{read.context, read.index});
        } else {
            send(message{.kind = message_kind::read_index_response,
                         .to = read.from,
                         .term = _term,
                         .index = read.index,
                         .context = read.context});
        }
        _pending_reads.pop_front();
    }
}

// ---------------------------------------------------------------- ready

void node::truncated_to(index_t last_kept) {
    _handed_index = std::min(_handed_index, last_kept);
    _persisted_index = std::min(_persisted_index, last_kept);
}

bool node::has_ready() const noexcept {
    if (_ready_outstanding) return false;
    if (_needs_broadcast || _unsent_snapshot || !_messages.empty() ||
        !_messages_after_persist.empty()) {
        return true;
    }
    if (hard_state{_term, _voted_for, _commit} != _persisted_hard) return true;
    if (_log.last_index() > _handed_index) return true;
    if (std::min(_commit, _persisted_index) > _applied_handed) return true;
    for (const auto& r : _read_states) {
        if (r.index <= _applied_handed) return true;
    }
    return false;
}

ready node::take_ready() {
    TL_ASSERT(!_ready_outstanding, "take_ready() before advance()");
    if (_needs_broadcast) {
        _needs_broadcast = false;
        if (_role == role::leader) broadcast_append();
    }
    ready r;
    const hard_state hard{_term, _voted_for, _commit};
    if (hard != _persisted_hard) {
        r.hard_state = hard;
        _persisted_hard = hard;
    }
    if (_unsent_snapshot) {
        r.snapshot = std::move(_unsent_snapshot);
        _unsent_snapshot.reset();
    }
    for (index_t i = std::max(_handed_index + 1, _log.first_index()); i <= _log.last_index(); ++i) {
        r.entries.push_back(_log.at(i));
    }
    _handed_index = _log.last_index();
    _outstanding_last_index = _handed_index;
    const index_t apply_to = std::min(_commit, _persisted_index);
    for (index_t i = _applied_handed + 1; i <= apply_to; ++i) r.committed_entries.push_back(_log.at(i));
    _applied_handed = std::max(_applied_handed, apply_to);
    _outstanding_applied = _applied_handed;
    auto released = std::stable_partition(_read_states.begin(), _read_states.end(),
                                          [&](const read_state& s) { return s.index <= _applied_handed; });
    r.read_states.assign(_read_states.begin(), released);
    _read_states.erase(_read_states.begin(), released);
    r.messages = std::move(_messages);
    _messages.clear();
    for (auto& m : _messages_after_persist) {
        if (m.to == _options.id) {
            _outstanding_self_messages.push_back(std::move(m));
        } else {
            r.messages_after_persist.push_back(std::move(m));
        }
    }
    _messages_after_persist.clear();
    _ready_outstanding = true;
    return r;
}

void node::advance() {
    TL_ASSERT(_ready_outstanding, "advance() without a ready");
    _ready_outstanding = false;
    _persisted_index = std::max(_persisted_index, std::min(_outstanding_last_index, _handed_index));
    _applied = std::max(_applied, _outstanding_applied);
    if (_role == role::leader) {
        _progress[_options.id].match = _persisted_index;
        if (maybe_commit()) _needs_broadcast = true;
    }
    auto self_messages = std::move(_outstanding_self_messages);
    _outstanding_self_messages.clear();
    for (auto& m : self_messages) step(std::move(m));
}

result<snapshot_meta, error> node::compact(index_t applied_index, std::vector<std::byte> data) {
    if (applied_index > _applied || applied_index <= _log.snapshot_index()) {
        return failure{error{errc::not_applied, _leader}};
    }
    snapshot_meta meta{.index = applied_index,
                       .term = *_log.term_at(applied_index),
                       .configuration = configuration_at(applied_index)};
    _log.compact(applied_index);
    _snapshot = snapshot{meta, std::move(data)};
    return meta;
}

status node::get_status() const {
    status s;
    s.id = _options.id;
    s.role = _role;
    s.term = _term;
    s.voted_for = _voted_for;
    s.leader = _leader;
    s.commit = _commit;
    s.applied = _applied;
    s.first_index = _log.first_index();
    s.last_index = _log.last_index();
    s.persisted_index = _persisted_index;
    s.snapshot_index = _log.snapshot_index();
    s.configuration = _config;
    s.transfer_target = _transfer_target;
    if (_role == role::leader) s.progress = _progress;
    return s;
}

}  // namespace tl::raft
