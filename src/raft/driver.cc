#include "raft/driver.h"

#include "raft/codec.h"

namespace tl::raft {
driver::driver(driver_options options, log_store& store, transport::transport& transport,
               state_machine& machine, executor& executor)
    : _options(options),
      _store(store),
      _transport(transport),
      _machine(machine),
      _executor(executor),
      _node(options.raft, store.recovered()) {
    TL_ASSERT(options.tick_interval.count() > 0);
    TL_ASSERT(options.max_pending_proposals > 0 && options.max_pending_reads > 0);
    _applied = _snapshot_index = store.recovered().snapshot.meta.index;
}

driver::~driver() {
    TL_ASSERT(_loops == 0 && _callers == 0, "driver destroyed before stop() completed");
}

task<void> driver::run() {
    TL_ASSERT(!_running, "run() once");
    _running = true;
    if (_store.recovered().snapshot.meta.index > 0 ||
        !_store.recovered().snapshot.data.empty()) {
        _machine.restore(_store.recovered().snapshot);
        ++_stats.snapshots_restored;
    }
    _transport.on_frame(
        [this](transport::peer_id from, std::span<const std::byte> frame) { on_frame(from, frame); });
    _loops = 2;
    _executor.spawn(tick_loop());
    co_await ready_loop();
    // Wait for the tick loop (it sees _stopping within one tick).
    while (_loops > 0) co_await _executor.sleep(std::chrono::milliseconds(1));
}

task<void> driver::stop() {
    _stopping = true;
    _stop_wake.fire();
    kick();
    fail_all(errc::stopped);
    while (_loops > 0 || _callers > 0) {
        fail_all(errc::stopped);
        co_await _executor.sleep(std::chrono::milliseconds(1));
    }
    _transport.on_frame({});
}

void driver::kick() {
    if (_ready_wake) _ready_wake->fire();
}

void driver::fail_all(errc code) {
    for (auto& [index, w] : _proposals) {
        w->outcome.emplace(failure{error{code, _node.leader()}});
        w->wake.fire();
    }
    _proposals.clear();
    for (auto& [context, w] : _reads) {
        w->outcome.emplace(failure{error{code, _node.leader()}});
        w->wake.fire();
    }
    _reads.clear();
}

// ---------------------------------------------------------------- loops

task<void> driver::tick_loop() {
    while (!_stopping) {
        co_await _executor.sleep(_options.tick_interval, _stop_wake);
        if (_stopping) break;
        _node.tick();
        kick();
    }
    --_loops;
}

task<void> driver::ready_loop() {
    while (!_stopping) {
        if (!_node.has_ready()) {
            _ready_wake = std::make_unique<wakeup>();
            co_await _executor.sleep(_options.tick_interval, *_ready_wake);
            continue;
        }
        ++_stats.readies;
        if (!co_await handle_ready(_node.take_ready())) {
            // Persistence failed: nothing more may be acknowledged.
            _stopping = true;
            _stop_wake.fire();
            fail_all(errc::stopped);
            break;
        }
        co_await maybe_snapshot();
    }
    --_loops;
}

task<bool> driver::handle_ready(ready r) {
    // 1. Messages that promise nothing about our disk go out at once.
    send(r.messages);
    // 2. Persist and fdatasync.
    if (r.snapshot || !r.entries.empty() || r.hard_state) {
        auto persisted = co_await _store.persist(r);
        if (!persisted) {
            _fatal_error = persisted.error();
            co_return false;
        }
    }
    // 3. Votes and acknowledgements: the state they promise is durable.
    send(r.messages_after_persist);
    // 4. Restore, apply, answer reads.
    if (r.snapshot) {
        _machine.restore(*r.snapshot);
        ++_stats.snapshots_restored;
        _applied = _snapshot_index = r.snapshot->meta.index;
        _bytes_since_snapshot = 0;
        // Proposals at or below it are answered (timeout: unknown outcome)
        // by complete_proposals when the next entry is applied.
    }
    for (const auto& e : r.committed_entries) {
        if (e.index <= _applied) continue;
        if (e.kind == entry_kind::normal) {
            _machine.apply(e);
            ++_stats.entries_applied;
            _bytes_since_snapshot += e.data.size();
        }
        _applied = e.index;
        complete_proposals(e);
    }
    for (const auto& read : r.read_states) {
        auto it = _reads.find(read.context);
        if (it == _reads.end()) continue;  // timed out meanwhile
        TL_ASSERT(read.index <= _applied, "a read answered before its index was applied");
        it->second->outcome.emplace();
        it->second->wake.fire();
        _reads.erase(it);
    }
    // 5.
    _node.advance();
    co_return true;
}

void driver::complete_proposals(const entry& e) {
    // Proposals at indexes passed without being seen (a received snapshot
    // jumped over them) may or may not be in it: their outcome is unknown,
    // as after a timeout (never a false success or a false "dropped").
    while (!_proposals.empty() && _proposals.begin()->first < e.index) {
        auto* w = _proposals.begin()->second;
        w->outcome.emplace(failure{error{errc::timeout, _node.leader()}});
        w->wake.fire();
        _proposals.erase(_proposals.begin());
    }
    auto it = _proposals.find(e.index);
    if (it == _proposals.end()) return;
    auto* w = it->second;
    if (e.term == w->term) {
        w->outcome.emplace(e.index);
    } else {
        w->outcome.emplace(failure{error{errc::dropped, _node.leader()}});
    }
    w->wake.fire();
    _proposals.erase(it);
}

task<void> driver::maybe_snapshot() {
    const uint64_t entries_since = _applied - _snapshot_index;
    const bool by_entries =
        _options.snapshot_every_entries > 0 && entries_since >= _options.snapshot_every_entries;
    const bool by_bytes = _options.snapshot_every_bytes > 0 && entries_since > 0 &&
                          _bytes_since_snapshot >= _options.snapshot_every_bytes;
    if (!by_entries && !by_bytes) co_return;
    auto data = _machine.take_snapshot();
    auto meta = _node.compact(_applied, data);
    if (!meta) co_return;  // not advanced yet: try after the next ready
    snapshot s{.meta = *meta, .data = std::move(data)};
    auto compacted = co_await _store.compact(s);
    if (!compacted) {
        // The old snapshot and the whole log are still on disk: recovery is
        // unaffected. Keep running; the next trigger tries again.
        ++_stats.compactions_failed;
    }
    _snapshot_index = s.meta.index;
    _bytes_since_snapshot = 0;
    ++_stats.snapshots_taken;
}

// ---------------------------------------------------------------- network

void driver::send(const std::vector<message>& messages) {
    for (const auto& m : messages) {
        if (m.to == _node.id()) continue;
        _transport.send(m.to, encode(m));
        ++_stats.messages_sent;
    }
}

void driver::on_frame(transport::peer_id from, std::span<const std::byte> frame) {
    if (_stopping) return;
    if (_foreign && !frame.empty() && std::to_integer<uint8_t>(frame[0]) != codec_version) {
        _foreign(from, frame);
        return;
    }
    auto decoded = decode(frame);
    if (!decoded) {
        ++_stats.frames_undecodable;
        return;
    }
    if (decoded->to != _node.id() || decoded->from != from || decoded->from == no_node) {
        ++_stats.frames_misaddressed;
        return;
    }
    ++_stats.messages_received;
    _node.step(std::move(*decoded));
    kick();
}

// ---------------------------------------------------------------- calls

task<result<index_t, error>> driver::wait_for_commit(result<index_t, error> proposed,
                                                     duration_ns timeout) {
    if (!proposed) co_return proposed;
    proposal_waiter w;
    w.term = _node.term();
    const index_t index = *proposed;
    _proposals[index] = &w;
    ++_callers;
    kick();
    co_await _executor.sleep(timeout, w.wake);
    --_callers;
    if (!w.outcome) {
        _proposals.erase(index);
        co_return failure{error{errc::timeout, _node.leader()}};
    }
    co_return std::move(*w.outcome);
}

task<result<index_t, error>> driver::propose(std::vector<std::byte> data, duration_ns timeout) {
    if (_stopping || !_running) co_return failure{error{errc::stopped, _node.leader()}};
    if (_proposals.size() >= _options.max_pending_proposals) {
        co_return failure{error{errc::overloaded, _node.leader()}};
    }
    co_return co_await wait_for_commit(_node.propose(std::move(data)), timeout);
}

task<result<index_t, error>> driver::change_membership(membership_change change,
                                                       duration_ns timeout) {
    if (_stopping || !_running) co_return failure{error{errc::stopped, _node.leader()}};
    co_return co_await wait_for_commit(_node.propose_membership(change), timeout);
}

task<result<void, error>> driver::read_barrier(duration_ns timeout) {
    if (_stopping || !_running) co_return failure{error{errc::stopped, _node.leader()}};
    if (_reads.size() >= _options.max_pending_reads) {
        co_return failure{error{errc::overloaded, _node.leader()}};
    }
    const uint64_t context = _next_read_context++;
    if (auto started = _node.read_index(context); !started) co_return started;
    read_waiter w;
    _reads[context] = &w;
    ++_callers;
    kick();
    co_await _executor.sleep(timeout, w.wake);
    --_callers;
    if (!w.outcome) {
        _reads.erase(context);
        co_return failure{error{errc::timeout, _node.leader()}};
    }
    co_return std::move(*w.outcome);
}

task<result<void, error>> driver::transfer_leadership(node_id to) {
    if (_stopping || !_running) co_return failure{error{errc::stopped, _node.leader()}};
    if (auto started = _node.transfer_leadership(to); !started) co_return started;
    kick();
    ++_callers;
    const auto limit = _options.tick_interval * (4 * _options.raft.election_ticks);
    const auto deadline = _executor.now() + limit;
    while (!_stopping && _node.leader() != to && _executor.now() < deadline) {
        co_await _executor.sleep(_options.tick_interval);
    }
    --_callers;
    if (_node.leader() == to) co_return result<void, error>{};
    co_return failure{error{_stopping ? errc::stopped : errc::timeout, _node.leader()}};
}

}  // namespace tl::raft
