// Runs one raft::node (node.h) on one shard: the loop of node.h's driver
// contract, with persistence through log_store (fdatasync before a vote or an
// acknowledgement leaves), messages through drivers/transport (codec.h
// encoding), and an application state machine.
//
//   tick loop:   every tick_interval, node.tick()
//   transport:   each frame decoded and stepped (undecodable or misaddressed
//                frames are counted and dropped)
//   ready loop:  send messages; persist (log_store, fdatasync); send
//                messages_after_persist; restore a received snapshot; apply
//                committed entries; answer reads; advance; then, every
//                snapshot_every_entries entries or snapshot_every_bytes bytes
//                applied, take the state machine's snapshot and compact.
//
// Start-up: the node is built from store.recovered(); run() first restores
// the state machine from the recovered snapshot (if past index 0); the node
// then re-applies the committed entries after it as it re-learns the commit.
//
// Threading and lifetime: the driver, the store, the transport, the state
// machine and the executor belong to one shard; every call comes from it.
// All of them outlive the driver; stop() must complete before it is
// destroyed (it also detaches the driver from the transport). A persist
// failure is fatal for this incarnation: the driver stops itself, failure()
// says why, and the server must restart (log_store reopens what is durable).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/executor.h"
#include "base/result.h"
#include "base/task.h"
#include "raft/log_store.h"
#include "raft/node.h"
#include "transport/transport.h"

namespace tl::raft {

// The application. Called on the driver's shard, from the ready loop.
class state_machine {
public:
    virtual ~state_machine() = default;
    // A committed entry of kind normal, in index order, once per incarnation
    // (after a restart, entries after the snapshot are applied again onto
    // the restored state). No-op and configuration entries are not passed.
    virtual void apply(const entry& e) = 0;
    // The state at the last applied index (the driver records which).
    virtual std::vector<std::byte> take_snapshot() = 0;
    // Replaces the whole state (a snapshot from the leader, or the recovered
    // one at start-up).
    virtual void restore(const snapshot& s) = 0;
};

struct driver_options {
    raft::options raft;
    duration_ns tick_interval = std::chrono::milliseconds(50);
    // Snapshot and compact once this many entries (or bytes of entry data)
    // were applied since the last snapshot; 0 disables that trigger.
    uint64_t snapshot_every_entries = 10'000;
    uint64_t snapshot_every_bytes = 64 << 20;
    size_t max_pending_proposals = 4096;  // proposals awaiting commit (errc::overloaded beyond)
    size_t max_pending_reads = 4096;      // read barriers awaiting their index
};

struct driver_stats {
    uint64_t readies = 0;
    uint64_t messages_sent = 0;
    uint64_t messages_received = 0;
    uint64_t frames_undecodable = 0;
    uint64_t frames_misaddressed = 0;
    uint64_t entries_applied = 0;
    uint64_t snapshots_taken = 0;
    uint64_t snapshots_restored = 0;
    uint64_t compactions_failed = 0;  // the snapshot is kept in memory; retried later
};

class driver {
public:
    driver(driver_options options, log_store& store, transport::transport& transport,
           state_machine& machine, executor& executor);
    ~driver();
    driver(const driver&) = delete;
    driver& operator=(const driver&) = delete;

    // Runs the tick and ready loops; completes after stop() (or a failure).
    task<void> run();
    // Stops the loops, answers every waiting call with errc::stopped, waits
    // for run() and those calls to return, and detaches from the transport.
    task<void> stop();

    // Proposes `data`; completes once the entry is committed AND applied
    // locally, with its index; or not_leader (with the hint), overloaded,
    // dropped (another entry took its index), timeout (it may still commit)
    // or stopped.
    task<result<index_t, error>> propose(std::vector<std::byte> data, duration_ns timeout);
    // Linearizable read barrier (read_index): completes once this server has
    // applied at least the index the leader confirmed; state read after it
    // reflects every write that completed before the call. A follower asks
    // the leader; a lost message means timeout (retry).
    task<result<void, error>> read_barrier(duration_ns timeout);
    // Asks the leader (this server) to hand over to `to`; completes once
    // this server sees `to` as leader, or timeout after two election
    // timeouts.
    task<result<void, error>> transfer_leadership(node_id to);
    // Proposes a single-server membership change; completes when it is
    // committed and applied here (as propose).
    task<result<index_t, error>> change_membership(membership_change change, duration_ns timeout);

    // Frames on the same transport that are not Raft messages (their first
    // byte is not codec_version) go to `handler` instead: the application
    // multiplexes its own frame types with Raft's. Set before run().
    using foreign_frame_handler =
        absl::AnyInvocable<void(transport::peer_id from, std::span<const std::byte> frame)>;
    void on_foreign_frame(foreign_frame_handler handler) { _foreign = std::move(handler); }

    // Role, term, leader, commit, applied, configuration (voters) and more.
    status get_status() const { return _node.get_status(); }
    node_id id() const noexcept { return _node.id(); }
    bool is_leader() const noexcept { return _node.get_role() == role::leader; }
    node_id leader() const noexcept { return _node.leader(); }
    const driver_stats& stats() const noexcept { return _stats; }
    // Why the driver stopped itself (a persistence failure), if it did.
    const std::optional<std::string>& fatal_error() const noexcept { return _fatal_error; }

private:
    struct proposal_waiter {
        term_t term = 0;
        wakeup wake;
        std::optional<result<index_t, error>> outcome;
    };
    struct read_waiter {
        wakeup wake;
        std::optional<result<void, error>> outcome;
    };

    task<void> tick_loop();
    task<void> ready_loop();
    task<bool> handle_ready(ready r);
    task<void> maybe_snapshot();
    void on_frame(transport::peer_id from, std::span<const std::byte> frame);
    void send(const std::vector<message>& messages);
    void complete_proposals(const entry& e);
    void fail_all(errc code);
    void kick();
    task<result<index_t, error>> wait_for_commit(result<index_t, error> proposed,
                                                 duration_ns timeout);

    driver_options _options;
    log_store& _store;
    transport::transport& _transport;
    state_machine& _machine;
    executor& _executor;
    node _node;
    foreign_frame_handler _foreign;

    bool _running = false;
    bool _stopping = false;
    size_t _loops = 0;    // tick and ready loops running
    size_t _callers = 0;  // propose/read/... calls inside the driver
    wakeup _stop_wake;
    std::unique_ptr<wakeup> _ready_wake;
    std::map<index_t, proposal_waiter*> _proposals;
    std::map<uint64_t, read_waiter*> _reads;
    uint64_t _next_read_context = 1;
    index_t _applied = 0;
    index_t _snapshot_index = 0;
    uint64_t _bytes_since_snapshot = 0;
    std::optional<std::string> _fatal_error;
    driver_stats _stats;
};

}  // namespace tl::raft
