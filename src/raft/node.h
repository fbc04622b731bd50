// One Raft server as a pure state machine (DESIGN.md §6, issue #9 part 1).
//
// A `node` does no I/O, reads no clock and draws no randomness of its own:
// its driver feeds it ticks, messages and persistence completions, and takes
// from it messages to send, state to persist and entries to apply. The same
// code runs in the broker (driver: storage + TCP) and in the deterministic
// simulator (tests/sim/raft_sim.cc).
//
// Threading and lifetime: a node belongs to one shard; every call comes from
// that shard. Nothing it returns points into it.
//
// The driver's loop:
//
//   on a timer every tick interval:   node.tick();
//   on a message from the network:    node.step(std::move(m));
//   on a client request:              node.propose(...) / read_index(...) / ...
//   whenever node.has_ready():
//       raft::ready r = node.take_ready();
//       1. send r.messages (now, in parallel with the rest);
//       2. persist, in this order, r.snapshot (if any: it replaces the whole
//          log), then r.entries (the first may overwrite a suffix of the
//          stored log: truncate from r.entries.front().index first), then
//          r.hard_state (if any); make all of it durable (fdatasync);
//       3. send r.messages_after_persist (votes, acknowledgements: they
//          promise the state just persisted);
//       4. if r.snapshot: restore the application's state from it; then
//          apply r.committed_entries in order; then answer r.read_states
//          (each read may be served from the state now applied);
//       5. node.advance();
//   At most one ready is outstanding: has_ready() is false between
//   take_ready() and advance(). Ticks, steps and proposals may continue
//   meanwhile; what they produce comes in the next ready.
//
// Durability: a crash may lose anything not yet made durable, and may tear
// the last write; the driver must detect and drop a torn record on load.
// Recovery is constructing a node from what was durable (`durable_state`).
// Because acknowledgements wait for persistence (step 3) and a node counts
// its own vote and its own log only once `advance` confirms them, losing an
// unsynced suffix is always safe.
//
// Commit and apply: an entry is handed out in committed_entries once it is
// committed and durable in this node's log, exactly once per incarnation.
// After a restart the node hands out again everything after the snapshot up
// to the commit index it re-learns.
//
// Membership: single-server changes (Raft thesis §4.1). A configuration entry
// takes effect on every server as soon as it is appended to its log (not when
// committed), and reverts if the entry is truncated. A leader accepts a change
// only once every earlier change is committed and it has committed an entry
// of its own term (the fix to the single-server change bug, thesis errata).
// A leader that removes itself keeps leading, without counting itself, until
// the change commits, then steps down.
//
// Reads (read_index): the leader records its commit index, confirms with a
// heartbeat round acknowledged by a quorum that it is still the leader, and
// hands back a read_state once that index is applied. No leases, so clock
// drift cannot break linearizability. A follower forwards the read to the
// leader; if any message is lost the read is never answered: callers time
// out and retry with a new context.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "base/result.h"
#include "raft/log.h"
#include "raft/types.h"

namespace tl::raft {

enum class errc : uint8_t {
    not_leader,            // proposals and changes go to the leader (see error::leader_hint)
    transfer_in_progress,  // the leader is handing over; retry at the new leader
    change_in_progress,    // a membership change (or this leader's first commit) is pending
    invalid_change,        // adding a member already present, removing a non-member, ...
    no_leader,             // a follower cannot forward a read: no known leader
    too_many_reads,        // more than max_pending_reads reads await confirmation
    not_applied,           // compact(): the index is not applied yet, or already compacted
    // From the driver (driver.h), never from the core:
    timeout,     // no answer in time; a proposal may still commit later
    stopped,     // the driver stopped (or failed) before the answer
    dropped,     // another entry took the proposal's index: it will never commit
    overloaded,  // too many proposals or reads are waiting (driver_options bounds)
};

std::string_view to_string(errc code) noexcept;

struct error {
    errc code;
    node_id leader_hint = no_node;  // the leader this node knows of, if any
};

enum class role : uint8_t { follower, pre_candidate, candidate, leader };
std::string_view to_string(role r) noexcept;

// Test-only deliberate bugs: the simulator's canary runs must catch them.
// Never set in production code.
enum class testing_canary : uint8_t {
    none,
    commit_earlier_terms,    // commit earlier terms' entries by counting, no no-op (Figure 8)
    vote_without_log_check,  // grant votes without the log up-to-date check
};

struct options {
    node_id id = no_node;
    // Ticks without hearing from a leader before campaigning; the actual
    // timeout is drawn in [election_ticks, 2 * election_ticks) at every reset.
    uint32_t election_ticks = 10;
    uint32_t heartbeat_ticks = 1;  // a leader's heartbeat interval; < election_ticks
    bool pre_vote = true;          // campaign first without bumping the term
    bool check_quorum = true;      // leaders step down without a quorum; followers are sticky
    // Replication bounds: appends in flight per follower, and bytes of entry
    // data per append (an append always carries at least one entry).
    uint32_t max_inflight_appends = 64;
    uint64_t max_entries_bytes_per_append = 1 << 20;
    uint32_t max_pending_reads = 4096;  // reads awaiting quorum confirmation
    uint64_t random_seed = 0;           // the election timeout's randomness
    testing_canary canary = testing_canary::none;
};

// What was durable at start-up. A new cluster is bootstrapped by persisting a
// snapshot at index 0 whose configuration lists the initial voters; a server
// that joins an existing cluster starts with an empty configuration (it is
// not promotable until it learns one from the leader).
struct durable_state {
    hard_state hard;
    snapshot snapshot;
    std::vector<entry> entries;  // contiguous, starting at snapshot.meta.index + 1
};

struct read_state {
    uint64_t context = 0;  // the caller's, from read_index()
    index_t index = 0;     // the state applied up to `index` (or later) answers the read
};

struct ready {
    std::optional<hard_state> hard_state;  // persist if set
    std::optional<snapshot> snapshot;      // persist (replacing the log), then restore
    std::vector<entry> entries;            // persist; may overwrite a stored suffix
    std::vector<message> messages;         // send now
    std::vector<message> messages_after_persist;  // send once the above is durable
    std::vector<entry> committed_entries;         // apply in order, after `snapshot`
    std::vector<read_state> read_states;          // answer after applying
};

enum class progress_state : uint8_t {
    probe,      // one append at a time until the follower's match is found
    replicate,  // appends pipelined, up to max_inflight_appends in flight
    snapshot,   // a snapshot is in flight; appends wait for its acknowledgement
};

// The leader's view of one follower.
struct progress {
    index_t match = 0;  // highest index known replicated (durable) there
    index_t next = 1;   // next index to send
    progress_state state = progress_state::probe;
    bool probe_sent = false;     // probe: an append is outstanding; wait for an answer or a beat
    bool recent_active = false;  // heard from it since the last check-quorum round
    index_t pending_snapshot = 0;
    uint32_t snapshot_ticks = 0;  // ticks since the snapshot was sent
    std::deque<index_t> inflight;  // last index of each append in flight (replicate)
    // replicate: the match at the previous heartbeat answer. An unchanged
    // match with appends in flight means the tail was lost: probe again.
    index_t match_at_last_beat = 0;
    bool is_learner = false;
};

struct status {
    node_id id = no_node;
    role role = role::follower;
    term_t term = 0;
    node_id voted_for = no_node;
    node_id leader = no_node;
    index_t commit = 0;
    index_t applied = 0;  // handed out in committed_entries and advanced
    index_t first_index = 1;
    index_t last_index = 0;
    index_t persisted_index = 0;
    index_t snapshot_index = 0;
    configuration configuration;
    node_id transfer_target = no_node;
    std::map<node_id, progress> progress;  // leader only, self included
};

struct membership_change {
    enum class kind : uint8_t {
        add_learner,  // a new server receives the log without voting
        add_voter,    // a new server, or a learner promoted
        remove,       // a voter or a learner (the leader may remove itself)
    };
    kind kind = kind::add_voter;
    node_id node = no_node;
};

class node {
public:
    node(const options& options, durable_state recovered);

    // Advances logical time by one tick: election and heartbeat timeouts,
    // check-quorum, leadership transfer and snapshot timeouts.
    void tick();

    // Handles one message from the network (any order, duplicates, stale
    // terms: all tolerated). Messages not addressed to this node are asserted.
    void step(message m);

    // Appends application data to the leader's log; returns its index. The
    // entry is committed when it appears in committed_entries with that index
    // and this term; if another entry shows up at that index, it was lost.
    result<index_t, error> propose(std::vector<std::byte> data);

    // Proposes one membership change (see "Membership" above).
    result<index_t, error> propose_membership(membership_change change);

    // Hands leadership to `target` (a voter): proposals are refused until the
    // target is elected or an election timeout passes.
    result<void, error> transfer_leadership(node_id target);

    // Starts a linearizable read; the answer comes as a read_state with this
    // context. Followers forward to the leader.
    result<void, error> read_index(uint64_t context);

    // The application has snapshotted its state at `applied_index` (<= applied)
    // into `data`: the log before it is dropped and the snapshot kept to send
    // to lagging followers. Returns the metadata to store with `data`; the
    // driver must make that snapshot durable before deleting stored entries.
    result<snapshot_meta, error> compact(index_t applied_index, std::vector<std::byte> data);

    bool has_ready() const noexcept;
    ready take_ready();
    // Everything in the last ready has been persisted, sent and applied.
    void advance();

    status get_status() const;
    node_id id() const noexcept { return _options.id; }
    role get_role() const noexcept { return _role; }
    term_t term() const noexcept { return _term; }
    node_id leader() const noexcept { return _leader; }
    index_t commit_index() const noexcept { return _commit; }
    const configuration& config() const noexcept { return _config; }
    // The term of the entry at `index` in this node's log (including the
    // snapshot's last entry), nullopt if compacted away or beyond the end.
    std::optional<term_t> log_term_at(index_t index) const { return _log.term_at(index); }
    const raft_log& log() const noexcept { return _log; }

private:
    // Roles and terms.
    void become_follower(term_t term, node_id leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    void campaign(bool transfer);
    void reset(term_t term);
    void reset_randomized_timeout();
    uint64_t next_random();
    bool promotable() const;
    bool log_up_to_date(term_t last_term, index_t last_index) const;
    bool in_lease() const;

    // Message handling.
    void step_vote_request(const message& m);
    void step_vote_response(const message& m);
    void step_leader(message& m);
    void step_follower(message& m);
    void handle_append(message& m);
    void handle_heartbeat(const message& m);
    void handle_snapshot(message& m);
    void handle_append_response(const message& m);
    void handle_heartbeat_response(const message& m);
    void handle_read_index_request(node_id from, uint64_t context);

    // Replication (leader).
    void send(message m);
    bool send_append(node_id to, bool send_if_empty);
    void broadcast_append();
    void broadcast_heartbeat();
    bool maybe_commit();
    void become_probe(progress& pr);
    void become_replicate(progress& pr);
    void check_transfer(node_id from);

    // Membership.
    void apply_configuration(const configuration& config);
    void refresh_configuration();
    configuration configuration_at(index_t index) const;
    void append_as_leader(entry_kind kind, std::vector<std::byte> data);
    void on_commit_advanced(index_t old_commit);

    // Reads.
    void release_reads();
    void start_pending_term_reads();

    // Persistence bookkeeping.
    void truncated_to(index_t last_kept);

    options _options;
    raft_log _log;
    role _role = role::follower;
    term_t _term = 0;
    node_id _voted_for = no_node;
    node_id _leader = no_node;
    index_t _commit = 0;
    configuration _config;
    index_t _pending_config_index = 0;  // the last configuration entry (leader)

    uint32_t _election_elapsed = 0;
    uint32_t _heartbeat_elapsed = 0;
    uint32_t _randomized_election_ticks = 0;
    uint64_t _random_state = 0;
    std::map<node_id, bool> _votes;
    std::map<node_id, progress> _progress;
    node_id _transfer_target = no_node;
    uint32_t _transfer_elapsed = 0;

    // Persistence and apply: entries <= _handed_index were handed to the
    // driver, entries <= _persisted_index are durable; committed entries
    // <= _applied_handed were handed to the application.
    index_t _handed_index = 0;
    index_t _persisted_index = 0;
    index_t _applied_handed = 0;
    index_t _applied = 0;
    hard_state _persisted_hard;  // last handed out (a ready hands it once)
    bool _ready_outstanding = false;
    index_t _outstanding_last_index = 0;
    index_t _outstanding_applied = 0;
    snapshot _snapshot;  // the latest, at _log.snapshot_index(): sent to lagging followers
    std::optional<snapshot> _unsent_snapshot;  // received, to hand in the next ready
    bool _needs_broadcast = false;             // proposals to send in the next ready
    std::vector<message> _messages;
    std::vector<message> _messages_after_persist;
    std::vector<message> _outstanding_self_messages;  // stepped in advance()

    // Reads. A leader's read waits for a heartbeat round >= its round to be
    // acknowledged by a quorum; reads before the leader's first commit in
    // its term wait for it.
    struct pending_read {
        node_id from;  // this node or a follower that forwarded it
        uint64_t context;
        index_t index;
        uint64_t round;
    };
    std::deque<pending_read> _pending_reads;
    std::deque<std::pair<node_id, uint64_t>> _reads_awaiting_term_commit;
    uint64_t _read_round = 0;
    std::map<node_id, uint64_t> _read_round_acknowledged;
    std::vector<read_state> _read_states;  // released to the application once applied
};

}  // namespace tl::raft
