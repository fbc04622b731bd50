// Deterministic simulation of the Raft core (src/raft, STYLE.md point 7).
//
// One thread, one seed: 3 or 5 `raft::node`s run on a virtual clock driven by
// an event queue. Everything random comes from the seed:
//   - network: per-seed delay (a base plus a jitter that reorders), loss and
//     duplication rates; symmetric partitions (the nodes split in two) and
//     one-way partitions (A no longer hears B) that heal after a while;
//   - disk: each node's ready is written to a simulated write-ahead log and
//     becomes durable only when its "fsync" completes after a random delay;
//     only then is `advance` called and are the held messages sent. A crash
//     keeps a random prefix of the unsynced records and may tear the next
//     one (one record per entry, so a batch can be cut in the middle); the
//     restarted node is built from the durable records (a torn one dropped);
//   - crashes and restarts, clock drift (each node ticks at its own rate),
//     membership changes (remove a voter, add it back, sometimes as a learner
//     first), leadership transfers and log compaction with snapshots sent to
//     nodes that fall behind.
// A client workload runs throughout: each op either appends a unique value to
// one of a few keys (a proposal, acknowledged when the proposing node applies
// it) or reads a key through read_index.
//
// After every event the checkers assert:
//   - election safety: at most one leader per term, ever;
//   - log matching: any two logs (in memory as handed to the disk, and every
//     durable log when a node restarts) that hold an entry with the same
//     index and term hold the same entry and the same term before it (which,
//     by induction, makes the prefixes identical);
//   - leader completeness: an entry committed in term T (first seen covered
//     by the commit index of a leader of term T) is in the log of every leader
//     of a later term (checked when a leader is elected and when a commit is
//     first seen);
//   - state-machine safety: no two nodes apply different entries at an index,
//     and each node applies indexes contiguously.
// At the end, linearizability of the client history. The checker is
// witness-based: writes take their log index as linearization point (2i),
// a read takes the index its node had applied when it answered (2a+1). The
// history is linearizable if (a) each read returned exactly the key's values
// committed at indexes <= a, (b) every acknowledged write is committed, no
// refused one is, each value at most once, and (c) the witness order respects
// real time: if op A responded before op B was invoked, pos(A) <= pos(B)
// (equality only for two reads of one state). (a)-(c) make the witness a
// legal sequential order that respects real time, so passing proves
// linearizability; a correct Raft always passes, because a read index is at
// least the commit index at the read's arrival and every index handed out
// later is above every index committed earlier. Writes with unknown outcome
// (timeout, crash) never respond; if committed they still take a position.
//
// Liveness: after the chaos phase every node restarts, partitions heal and
// loss stops; within a bound a write invoked after that must be acknowledged,
// else the seed is reported stuck.
//
// --canary [vote|figure8] turns on a deliberately broken rule
// (raft::testing_canary); the sweep then succeeds only if a safety checker
// catches it (a stuck seed does not count). `vote` is caught within a few
// seeds; `figure8` (commit earlier terms by counting, no no-op) needs a rare
// interleaving that 20,000 random seeds have not yet produced. A failure prints its seed; `sim_raft --seed N [--trace]` replays it.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/node.h"

namespace tl::raft::sim {
namespace {

using bytes = std::vector<std::byte>;
using time_us = uint64_t;
constexpr time_us never = ~time_us{0};

// Bounds of one run (virtual time).
constexpr time_us tick_interval_us = 10'000;
constexpr time_us client_timeout_us = 3'000'000;
constexpr time_us liveness_bound_us = 10'000'000;
constexpr size_t clients = 3;
constexpr uint32_t keys = 4;

struct failure_report {
    std::string what;
    bool liveness = false;  // stuck rather than unsafe: does not count as a canary catch
};

struct sweep_totals {
    uint64_t events = 0;
    uint64_t messages_sent = 0;
    uint64_t messages_lost = 0;
    uint64_t crashes = 0;
    uint64_t torn_writes = 0;
    uint64_t elections = 0;
    uint64_t writes_acknowledged = 0;
    uint64_t writes_indeterminate = 0;
    uint64_t reads_answered = 0;
    uint64_t snapshots_installed = 0;
    uint64_t compactions = 0;
    uint64_t membership_changes = 0;
    uint64_t transfers = 0;
} totals;

bool trace = false;
testing_canary canary = testing_canary::none;

uint64_t fnv(std::span<const std::byte> data, uint64_t seed) {
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (std::byte b : data) h = (h ^ static_cast<uint8_t>(b)) * 1099511628211ULL;
    return h;
}

void put_u64(bytes& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
uint64_t get_u64(std::span<const std::byte> in, size_t at) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[at + i]) << (8 * i);
    return v;
}

// The application: key -> the values appended to it, in log order.
using kv_state = std::map<uint64_t, std::vector<uint64_t>>;

bytes encode_state(const kv_state& state) {
    bytes out;
    put_u64(out, state.size());
    for (auto& [key, values] : state) {
        put_u64(out, key);
        put_u64(out, values.size());
        for (uint64_t v : values) put_u64(out, v);
    }
    return out;
}
kv_state decode_state(std::span<const std::byte> in) {
    kv_state state;
    if (in.empty()) return state;
    size_t at = 0;
    const uint64_t count = get_u64(in, at);
    at += 8;
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t key = get_u64(in, at);
        const uint64_t n = get_u64(in, at + 8);
        at += 16;
        auto& values = state[key];
        for (uint64_t i = 0; i < n; ++i, at += 8) values.push_back(get_u64(in, at));
    }
    return state;
}

// One record of a node's write-ahead log. Each entry is its own record.
struct wal_record {
    enum class kind : uint8_t { hard, install, compact, entry } kind = kind::hard;
    hard_state hard;
    snapshot snap;
    entry e;
    bool torn = false;
};

struct write_op {
    uint64_t value = 0;
    uint64_t key = 0;
    time_us invoked = 0;
    time_us responded = never;
    enum class outcome : uint8_t { pending, acknowledged, refused, unknown } outcome = outcome::pending;
};

struct read_op {
    uint64_t key = 0;
    time_us invoked = 0;
    time_us responded = 0;
    index_t applied = 0;
    std::vector<uint64_t> values;
};

struct sim_node {
    node_id id = 0;
    std::unique_ptr<node> raft;
    bool up = true;
    uint64_t incarnation = 0;
    std::vector<wal_record> durable;
    std::vector<wal_record> unsynced;
    std::optional<ready> outstanding;
    kv_state state;
    index_t applied = 0;
    time_us tick_us = tick_interval_us;
    role last_role = role::follower;
    term_t last_term = 0;
    bool crash_while_writing = false;  // crash during the next write
};

struct client {
    bool busy = false;
    size_t write = 0;  // index into writes, when busy writing
    node_id target = 1;
    node_id at = 0;
    uint64_t at_incarnation = 0;
    index_t index = 0;   // write: the proposed index
    uint64_t context = 0;  // read: the read context
    uint64_t key = 0;
    time_us invoked = 0;
    bool reading = false;
};

// Names a client's current operation, so that a stale timeout is ignored.
uint64_t operation_serial(const client& cl) {
    return cl.reading ? cl.context | (uint64_t{1} << 63) : cl.write;
}

struct event {
    enum class kind : uint8_t {
        tick, deliver, synced, crash, restart, partition, heal, client_op, client_timeout,
        membership, transfer, end_chaos,
    } kind = kind::tick;
    size_t node = 0;  // index
    uint64_t incarnation = 0;
    message m;
    size_t client = 0;
    bool while_writing = false;  // crash: only if still in the same write
    uint64_t serial = 0;
};

class cluster {
public:
    cluster(uint64_t seed, size_t node_count) : _seed(seed) {
        _random_state = seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL;
        configuration initial;
        for (size_t i = 0; i < node_count; ++i) initial.voters.push_back(i + 1);
        _bootstrap.meta.configuration = initial;
        _loss = chance(0.3) ? 0 : uniform() * 0.15;
        _duplicate = chance(0.5) ? 0 : uniform() * 0.05;
        _delay_base_us = between(100, 2000);
        _delay_jitter_us = between(0, 8000);
        _disk_latency_us = between(50, 3000);
        _chaos_us = between(3'000'000, 12'000'000);
        _crash_rate = chance(0.2) ? 0 : uniform();
        _partition_rate = chance(0.2) ? 0 : uniform();
        _membership = chance(0.5);
        _compact_every = chance(0.3) ? 1'000'000 : between(5, 60);
        _options.pre_vote = !chance(0.1);
        _options.check_quorum = !chance(0.1);
        _options.max_inflight_appends = static_cast<uint32_t>(between(1, 16));
        _options.max_entries_bytes_per_append = between(16, 400);
        _options.election_ticks = 10;
        _options.heartbeat_ticks = static_cast<uint32_t>(between(1, 3));
        _options.canary = canary;
        for (size_t i = 0; i < node_count; ++i) {
            sim_node n;
            n.id = i + 1;
            const double drift = chance(0.5) ? (uniform() - 0.5) * 0.4 : 0;
            n.tick_us = static_cast<time_us>(tick_interval_us * (1 + drift));
            _nodes.push_back(std::move(n));
        }
        for (auto& row : _blocked) row.fill(false);
    }

    std::optional<failure_report> run();

private:
    // ---- randomness
    uint64_t next() {
        uint64_t z = (_random_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
    bool chance(double p) { return uniform() < p; }
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }

    void schedule(time_us at, event e) {
        e.serial = _serial++;
        _queue.emplace(std::make_pair(at, e.serial), std::move(e));
    }
    void fail(std::string what) {
        if (!_failure) _failure = failure_report{std::move(what)};
    }
    template <typename... A>
    void failf(const char* format, A... args) {
        char text[512];
        std::snprintf(text, sizeof(text), format, args...);
        fail(text);
    }

    node_id id_of(size_t i) const { return _nodes[i].id; }
    options node_options(const sim_node& n) {
        options o = _options;
        o.id = n.id;
        o.random_seed = _seed * 1000003 + n.id * 7919 + n.incarnation;
        return o;
    }

    std::optional<durable_state> load(sim_node& n);
    void start_node(sim_node& n);
    void crash(sim_node& n);
    void drive(sim_node& n);
    void synced(sim_node& n);
    void apply(sim_node& n, const entry& e);
    void send(const message& m);
    void deliver(event& e);
    void check_leaders();
    void check_leader_log(const sim_node& n);
    void record_commits(const sim_node& leader);
    void check_entries_matching(const std::vector<entry>& entries, term_t previous_term,
                                const char* where, node_id id);
    void client_op(size_t c);
    void client_done(size_t c);
    void maybe_compact(sim_node& n);
    void membership_event();
    std::optional<failure_report> check_linearizable();
    void trace_event(time_us now, const event& e);

    uint64_t _seed;
    uint64_t _random_state;
    options _options;
    snapshot _bootstrap;
    std::vector<sim_node> _nodes;
    std::map<std::pair<time_us, uint64_t>, event> _queue;
    uint64_t _serial = 0;
    time_us _now = 0;
    std::optional<failure_report> _failure;

    double _loss = 0, _duplicate = 0;
    time_us _delay_base_us = 0, _delay_jitter_us = 0, _disk_latency_us = 0, _chaos_us = 0;
    double _crash_rate = 0, _partition_rate = 0;
    bool _membership = false;
    uint64_t _compact_every = 0;
    bool _chaos = true;
    time_us _healed_at = never;
    std::array<std::array<bool, 8>, 8> _blocked{};

    // Checkers' state.
    std::map<term_t, node_id> _leader_of_term;
    std::set<std::pair<term_t, node_id>> _checked_leaders;
    struct entry_digest {
        uint64_t hash;
        term_t previous_term;
    };
    std::map<std::pair<index_t, term_t>, entry_digest> _seen_entries;
    struct applied_entry {
        term_t term;
        uint64_t hash;
        bool is_write;
        uint64_t key;
        uint64_t value;
    };
    std::map<index_t, applied_entry> _applied;  // the committed log, as applied anywhere
    struct committed_entry {
        term_t entry_term;
        term_t committed_in;  // the term of the first leader seen to count it
    };
    std::map<index_t, committed_entry> _committed;
    index_t _committed_through = 0;

    // Client history.
    std::vector<client> _clients = std::vector<client>(clients);
    std::vector<write_op> _writes;
    std::vector<read_op> _reads;
    std::map<uint64_t, size_t> _write_of_value;
    uint64_t _next_value = 1;
    uint64_t _next_context = 1;
    bool _live_write_done = false;
};

uint64_t entry_hash(const entry& e) {
    return fnv(e.data, static_cast<uint64_t>(e.kind) * 31 + e.term);
}

void cluster::trace_event(time_us now, const event& e) {
    static const char* names[] = {"tick", "deliver", "synced", "crash", "restart", "partition",
                                  "heal", "client_op", "client_timeout", "membership",
                                  "transfer", "end_chaos"};
    if (e.kind == event::kind::tick) return;
    std::printf("%9.3fms %-14s", static_cast<double>(now) / 1000.0,
                names[static_cast<int>(e.kind)]);
    if (e.kind == event::kind::deliver) {
        const message& m = e.m;
        std::printf(" %s %" PRIu64 "->%" PRIu64 " t%" PRIu64 " lt%" PRIu64 " i%" PRIu64
                    " n%zu c%" PRIu64 "%s ctx%" PRIu64,
                    std::string(to_string(m.kind)).c_str(), m.from, m.to, m.term, m.log_term,
                    m.index, m.entries.size(), m.commit, m.reject ? " REJECT" : "", m.context);
    } else if (e.kind != event::kind::client_op && e.kind != event::kind::client_timeout) {
        std::printf(" node %zu", e.node + 1);
    } else {
        std::printf(" client %zu", e.client);
    }
    std::printf("\n");
}

// ---------------------------------------------------------------- nodes

// Recovery: replays the durable records; a torn one (only ever the last) is
// detected, as a checksum would, and cut off.
std::optional<durable_state> cluster::load(sim_node& n) {
    durable_state state;
    state.snapshot = _bootstrap;
    for (size_t i = 0; i < n.durable.size(); ++i) {
        const wal_record& r = n.durable[i];
        if (r.torn) {
            n.durable.resize(i);
            break;
        }
        switch (r.kind) {
            case wal_record::kind::hard:
                state.hard = r.hard;
                break;
            case wal_record::kind::install:
                state.snapshot = r.snap;
                state.entries.clear();
                break;
            case wal_record::kind::compact:
                state.snapshot = r.snap;
                std::erase_if(state.entries, [&](const entry& e) { return e.index <= r.snap.meta.index; });
                break;
            case wal_record::kind::entry: {
                const index_t first = state.snapshot.meta.index + 1;
                if (r.e.index < first || r.e.index > first + state.entries.size()) {
                    failf("node %" PRIu64 ": durable entry %" PRIu64 " leaves a gap", n.id, r.e.index);
                    return std::nullopt;
                }
                state.entries.resize(r.e.index - first);
                state.entries.push_back(r.e);
                break;
            }
        }
    }
    return state;
}

void cluster::start_node(sim_node& n) {
    auto loaded = load(n);
    if (!loaded) return;
    durable_state& state = *loaded;
    // Log matching over the durable log.
    term_t previous = state.snapshot.meta.term;
    for (const auto& e : state.entries) {
        check_entries_matching({e}, previous, "durable", n.id);
        previous = e.term;
    }
    n.state = decode_state(state.snapshot.data);
    n.applied = state.snapshot.meta.index;
    n.raft = std::make_unique<node>(node_options(n), std::move(state));
    n.up = true;
    n.outstanding.reset();
    n.unsynced.clear();
    n.last_role = role::follower;
    n.last_term = n.raft->term();
}

void cluster::crash(sim_node& n) {
    if (!n.up) return;
    ++totals.crashes;
    // Writes issued but not synced: a prefix reached the disk, the next may be torn.
    const size_t kept = n.unsynced.empty() ? 0 : between(0, n.unsynced.size());
    for (size_t i = 0; i < kept; ++i) n.durable.push_back(n.unsynced[i]);
    if (kept < n.unsynced.size() && chance(0.5)) {
        n.durable.push_back(n.unsynced[kept]);
        n.durable.back().torn = true;
        ++totals.torn_writes;
    }
    n.unsynced.clear();
    n.outstanding.reset();
    n.raft.reset();
    n.up = false;
    ++n.incarnation;
    for (size_t c = 0; c < _clients.size(); ++c) {
        client& cl = _clients[c];
        if (cl.busy && cl.at == n.id) client_done(c);
    }
}

void cluster::check_entries_matching(const std::vector<entry>& entries, term_t previous_term,
                                     const char* where, node_id id) {
    for (const auto& e : entries) {
        const entry_digest digest{entry_hash(e), previous_term};
        auto [it, added] = _seen_entries.emplace(std::make_pair(e.index, e.term), digest);
        if (!added && (it->second.hash != digest.hash ||
                       it->second.previous_term != digest.previous_term)) {
            failf("log matching: node %" PRIu64 " (%s) holds a different entry or prefix at "
                  "index %" PRIu64 " term %" PRIu64,
                  id, where, e.index, e.term);
            return;
        }
        previous_term = e.term;
    }
}

// Takes and writes one ready; its completion comes as a `synced` event.
void cluster::drive(sim_node& n) {
    if (!n.up || n.outstanding || !n.raft->has_ready()) return;
    ready r = n.raft->take_ready();
    if (!r.entries.empty()) {
        const auto previous = n.raft->log_term_at(r.entries.front().index - 1);
        if (!previous && !r.snapshot) {
            fail("ready entries follow nothing in the node's log");
            return;
        }
        check_entries_matching(r.entries, previous.value_or(0), "memory", n.id);
    }
    for (auto& m : r.messages) send(m);
    if (r.snapshot) {
        wal_record rec{.kind = wal_record::kind::install};
        rec.snap = *r.snapshot;
        n.unsynced.push_back(std::move(rec));
    }
    for (const auto& e : r.entries) {
        n.unsynced.push_back(wal_record{.kind = wal_record::kind::entry, .e = e});
    }
    if (r.hard_state) n.unsynced.push_back(wal_record{.kind = wal_record::kind::hard, .hard = *r.hard_state});
    n.outstanding = std::move(r);
    const time_us latency = chance(0.05) ? _disk_latency_us * 10 : between(_disk_latency_us / 2, _disk_latency_us);
    schedule(_now + latency, event{.kind = event::kind::synced,
                                   .node = static_cast<size_t>(n.id - 1),
                                   .incarnation = n.incarnation});
    if (n.crash_while_writing) {
        n.crash_while_writing = false;
        const time_us at = _now + between(0, latency);
        schedule(at, event{.kind = event::kind::crash,
                           .node = static_cast<size_t>(n.id - 1),
                           .incarnation = n.incarnation,
                           .while_writing = true});
        schedule(at + between(1'000, 500'000),
                 event{.kind = event::kind::restart, .node = static_cast<size_t>(n.id - 1)});
    }
}

void cluster::synced(sim_node& n) {
    for (auto& r : n.unsynced) n.durable.push_back(std::move(r));
    n.unsynced.clear();
    ready r = std::move(*n.outstanding);
    n.outstanding.reset();
    for (auto& m : r.messages_after_persist) send(m);
    if (r.snapshot) {
        ++totals.snapshots_installed;
        n.state = decode_state(r.snapshot->data);
        n.applied = r.snapshot->meta.index;
    }
    for (const auto& e : r.committed_entries) {
        apply(n, e);
        if (_failure) return;
    }
    for (const auto& rs : r.read_states) {
        if (rs.index > n.applied) {
            failf("node %" PRIu64 " released read %" PRIu64 " at index %" PRIu64
                  " with only %" PRIu64 " applied",
                  n.id, rs.context, rs.index, n.applied);
            return;
        }
        for (size_t c = 0; c < _clients.size(); ++c) {
            client& cl = _clients[c];
            if (!cl.busy || !cl.reading || cl.context != rs.context || cl.at != n.id) continue;
            auto it = n.state.find(cl.key);
            _reads.push_back(read_op{cl.key, cl.invoked, _now, n.applied,
                                     it == n.state.end() ? std::vector<uint64_t>{} : it->second});
            ++totals.reads_answered;
            client_done(c);
        }
    }
    n.raft->advance();
    maybe_compact(n);
}

void cluster::apply(sim_node& n, const entry& e) {
    if (e.index != n.applied + 1) {
        failf("node %" PRIu64 " applies index %" PRIu64 " after %" PRIu64, n.id, e.index, n.applied);
        return;
    }
    n.applied = e.index;
    applied_entry a{e.term, entry_hash(e), false, 0, 0};
    if (e.kind == entry_kind::normal) {
        a.is_write = true;
        a.key = get_u64(e.data, 0);
        a.value = get_u64(e.data, 8);
        n.state[a.key].push_back(a.value);
    }
    auto [it, added] = _applied.emplace(e.index, a);
    if (!added) {
        if (it->second.term != a.term || it->second.hash != a.hash) {
            failf("state machine safety: node %" PRIu64 " applies term %" PRIu64
                  " at index %" PRIu64 ", another node applied term %" PRIu64,
                  n.id, a.term, e.index, it->second.term);
        }
    }
    // The client that proposed at this node learns the outcome.
    for (size_t c = 0; c < _clients.size(); ++c) {
        client& cl = _clients[c];
        if (!cl.busy || cl.reading || cl.at != n.id || cl.index != e.index) continue;
        write_op& w = _writes[cl.write];
        const bool ours = a.is_write && a.value == w.value;
        w.outcome = ours ? write_op::outcome::acknowledged : write_op::outcome::refused;
        if (ours) {
            w.responded = _now;
            ++totals.writes_acknowledged;
            if (_healed_at != never && w.invoked >= _healed_at) _live_write_done = true;
        }
        client_done(c);
    }
}

void cluster::maybe_compact(sim_node& n) {
    if (!n.up || n.outstanding) return;
    if (n.applied < n.raft->log().snapshot_index() + _compact_every) return;
    auto meta = n.raft->compact(n.applied, encode_state(n.state));
    if (!meta) {
        fail("compact refused at the applied index");
        return;
    }
    ++totals.compactions;
    // Checkpoint the WAL: the snapshot, the hard state, the entries after it.
    auto loaded = load(n);
    if (!loaded) return;
    std::vector<wal_record> rewritten;
    wal_record snap{.kind = wal_record::kind::compact};
    snap.snap = snapshot{*meta, encode_state(n.state)};
    rewritten.push_back(std::move(snap));
    rewritten.push_back(wal_record{.kind = wal_record::kind::hard, .hard = loaded->hard});
    for (auto& e : loaded->entries) {
        if (e.index > meta->index) rewritten.push_back(wal_record{.kind = wal_record::kind::entry, .e = e});
    }
    n.durable = std::move(rewritten);
}

// ---------------------------------------------------------------- network

void cluster::send(const message& m) {
    ++totals.messages_sent;
    const size_t from = m.from - 1, to = m.to - 1;
    TL_ASSERT(to < _nodes.size());
    if (_blocked[from][to] || chance(_loss)) {
        ++totals.messages_lost;
        return;
    }
    const int copies = chance(_duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
        time_us delay = _delay_base_us + (_delay_jitter_us ? next() % _delay_jitter_us : 0);
        if (chance(0.01)) delay += between(10'000, 100'000);  // a straggler
        schedule(_now + delay, event{.kind = event::kind::deliver, .node = to, .m = m});
    }
}

void cluster::deliver(event& e) {
    sim_node& n = _nodes[e.node];
    if (!n.up) return;
    n.raft->step(std::move(e.m));
}

// ---------------------------------------------------------------- checkers

// Leader completeness: an entry committed in term T (a leader of term T
// counted it: its commit index covers it) is in the log of every leader of a
// later term.
void cluster::check_leader_log(const sim_node& n) {
    const term_t term = n.raft->term();
    for (auto it = _committed.upper_bound(n.raft->log().snapshot_index()); it != _committed.end(); ++it) {
        const auto& [index, c] = *it;
        if (c.committed_in >= term) continue;
        if (n.raft->log_term_at(index) != c.entry_term) {
            failf("leader completeness: leader %" PRIu64 " (term %" PRIu64
                  ") lacks index %" PRIu64 " (term %" PRIu64 "), committed in term %" PRIu64,
                  n.id, term, index, c.entry_term, c.committed_in);
            return;
        }
    }
}

void cluster::record_commits(const sim_node& leader) {
    const index_t commit = leader.raft->commit_index();
    if (commit <= _committed_through) return;
    for (index_t i = std::max(_committed_through + 1, leader.raft->log().first_index()); i <= commit; ++i) {
        const auto entry_term = leader.raft->log_term_at(i);
        if (!entry_term) {
            fail("a leader's commit index is beyond its log");
            return;
        }
        _committed[i] = committed_entry{*entry_term, leader.raft->term()};
        // Every current leader of a later term must hold it already.
        for (const auto& other : _nodes) {
            if (!other.up || other.raft->get_role() != role::leader) continue;
            if (other.raft->term() <= leader.raft->term()) continue;
            if (i <= other.raft->log().snapshot_index()) continue;
            if (other.raft->log_term_at(i) != *entry_term) {
                failf("leader completeness: leader %" PRIu64 " (term %" PRIu64
                      ") lacks index %" PRIu64 ", committed in term %" PRIu64,
                      other.id, other.raft->term(), i, leader.raft->term());
                return;
            }
        }
    }
    _committed_through = commit;
}

void cluster::check_leaders() {
    for (auto& n : _nodes) {
        if (!n.up) continue;
        const role r = n.raft->get_role();
        const term_t term = n.raft->term();
        if (term < n.last_term) failf("node %" PRIu64 " term went back", n.id);
        if (trace && (r != n.last_role || term != n.last_term)) {
            std::printf("          node %" PRIu64 " is %s in term %" PRIu64 " (commit %" PRIu64
                        ", last %" PRIu64 ")\n",
                        n.id, std::string(to_string(r)).c_str(), term, n.raft->commit_index(),
                        n.raft->log().last_index());
        }
        n.last_role = r;
        n.last_term = term;
        if (r != role::leader) continue;
        auto [it, added] = _leader_of_term.emplace(term, n.id);
        if (!added && it->second != n.id) {
            failf("election safety: nodes %" PRIu64 " and %" PRIu64 " both lead term %" PRIu64,
                  it->second, n.id, term);
            return;
        }
        if (_checked_leaders.emplace(term, n.id).second) {
            ++totals.elections;
            check_leader_log(n);
        }
        record_commits(n);
    }
}

std::optional<failure_report> cluster::check_linearizable() {
    // Committed writes, by value.
    std::map<uint64_t, index_t> committed_at;
    std::map<uint64_t, std::vector<std::pair<index_t, uint64_t>>> by_key;
    for (const auto& [index, a] : _applied) {
        if (!a.is_write) continue;
        if (!committed_at.emplace(a.value, index).second) {
            return failure_report{"value " + std::to_string(a.value) + " committed twice"};
        }
        if (!_write_of_value.contains(a.value)) {
            return failure_report{"value " + std::to_string(a.value) + " committed, never proposed"};
        }
        by_key[a.key].emplace_back(index, a.value);
    }
    struct op {
        time_us invoked, responded;
        uint64_t position;
    };
    std::vector<op> ops;
    for (const auto& w : _writes) {
        auto it = committed_at.find(w.value);
        if (w.outcome == write_op::outcome::acknowledged && it == committed_at.end()) {
            return failure_report{"acknowledged write " + std::to_string(w.value) + " lost"};
        }
        if (w.outcome == write_op::outcome::refused && it != committed_at.end()) {
            return failure_report{"refused write " + std::to_string(w.value) + " committed"};
        }
        if (it != committed_at.end()) ops.push_back(op{w.invoked, w.responded, 2 * it->second});
    }
    for (const auto& r : _reads) {
        std::vector<uint64_t> expected;
        for (auto& [index, value] : by_key[r.key]) {
            if (index <= r.applied) expected.push_back(value);
        }
        if (expected != r.values) {
            return failure_report{"read of key " + std::to_string(r.key) + " at index " +
                                  std::to_string(r.applied) + " returned " +
                                  std::to_string(r.values.size()) + " values, the log has " +
                                  std::to_string(expected.size())};
        }
        ops.push_back(op{r.invoked, r.responded, 2 * r.applied + 1});
    }
    // Real time: sweep ops by invocation, tracking the highest position of
    // the ops that responded before.
    std::vector<const op*> by_response, by_invocation;
    for (const auto& o : ops) {
        by_response.push_back(&o);
        by_invocation.push_back(&o);
    }
    std::sort(by_response.begin(), by_response.end(),
              [](const op* a, const op* b) { return a->responded < b->responded; });
    std::sort(by_invocation.begin(), by_invocation.end(),
              [](const op* a, const op* b) { return a->invoked < b->invoked; });
    size_t done = 0;
    uint64_t highest = 0;
    for (const op* b : by_invocation) {
        while (done < by_response.size() && by_response[done]->responded < b->invoked) {
            highest = std::max(highest, by_response[done]->position);
            ++done;
        }
        if (highest > b->position) {
            return failure_report{
                "linearizability: an op invoked at " + std::to_string(b->invoked) +
                "us is ordered at position " + std::to_string(b->position) +
                " before an op that had already completed at position " + std::to_string(highest)};
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- workload

void cluster::client_done(size_t c) {
    client& cl = _clients[c];
    if (!cl.busy) return;
    if (!cl.reading && _writes[cl.write].outcome == write_op::outcome::pending) {
        _writes[cl.write].outcome = write_op::outcome::unknown;
        ++totals.writes_indeterminate;
    }
    cl.busy = false;
    schedule(_now + between(100, 20'000), event{.kind = event::kind::client_op, .client = c});
}

void cluster::client_op(size_t c) {
    client& cl = _clients[c];
    if (cl.busy) return;
    sim_node* n = nullptr;
    if (cl.target >= 1 && cl.target <= _nodes.size() && _nodes[cl.target - 1].up) {
        n = &_nodes[cl.target - 1];
    }
    const auto retry = [&](node_id hint) {
        cl.target = hint != no_node ? hint : between(1, _nodes.size());
        schedule(_now + between(1'000, 30'000), event{.kind = event::kind::client_op, .client = c});
    };
    if (n == nullptr) return retry(no_node);
    cl.key = between(0, keys - 1);
    cl.reading = chance(0.3);
    if (cl.reading) {
        cl.context = _next_context++;
        auto r = n->raft->read_index(cl.context);
        if (!r) return retry(r.error().leader_hint);
    } else {
        const uint64_t value = _next_value++;
        bytes data;
        put_u64(data, cl.key);
        put_u64(data, value);
        auto proposed = n->raft->propose(std::move(data));
        if (!proposed) return retry(proposed.error().leader_hint);
        cl.index = *proposed;
        cl.write = _writes.size();
        _write_of_value[value] = _writes.size();
        _writes.push_back(write_op{value, cl.key, _now});
    }
    cl.busy = true;
    cl.at = n->id;
    cl.invoked = _now;
    schedule(_now + client_timeout_us, event{.kind = event::kind::client_timeout,
                                             .incarnation = operation_serial(cl),
                                             .client = c});
}

void cluster::membership_event() {
    sim_node* leader = nullptr;
    for (auto& n : _nodes) {
        if (n.up && n.raft->get_role() == role::leader) leader = &n;
    }
    if (leader == nullptr) return;
    const configuration& config = leader->raft->config();
    membership_change change;
    if (config.voters.size() + config.learners.size() < _nodes.size()) {
        for (auto& n : _nodes) {
            if (!config.contains(n.id)) change.node = n.id;
        }
        change.kind = chance(0.5) ? membership_change::kind::add_learner
                                  : membership_change::kind::add_voter;
    } else if (!config.learners.empty()) {
        change.node = config.learners.front();
        change.kind = membership_change::kind::add_voter;
    } else {
        change.node = config.voters[next() % config.voters.size()];
        change.kind = membership_change::kind::remove;
    }
    if (leader->raft->propose_membership(change)) ++totals.membership_changes;
}

// ---------------------------------------------------------------- main loop

std::optional<failure_report> cluster::run() {
    for (auto& n : _nodes) {
        start_node(n);
        schedule(between(0, n.tick_us), event{.kind = event::kind::tick,
                                             .node = static_cast<size_t>(n.id - 1),
                                             .incarnation = n.incarnation});
    }
    for (size_t c = 0; c < _clients.size(); ++c) {
        _clients[c].target = between(1, _nodes.size());
        schedule(between(0, 50'000), event{.kind = event::kind::client_op, .client = c});
    }
    // Faults during the chaos phase.
    for (time_us t = between(0, 300'000); t < _chaos_us; t += between(20'000, 400'000)) {
        const size_t victim = next() % _nodes.size();
        if (chance(_crash_rate * 0.6)) {
            schedule(t, event{.kind = event::kind::crash, .node = victim});
            schedule(t + between(1'000, 1'000'000), event{.kind = event::kind::restart, .node = victim});
        }
        if (chance(_partition_rate * 0.4)) {
            schedule(t, event{.kind = event::kind::partition, .node = victim});
            schedule(t + between(50'000, 1'500'000), event{.kind = event::kind::heal});
        }
        if (_membership && chance(0.3)) schedule(t, event{.kind = event::kind::membership});
        if (chance(0.1)) schedule(t, event{.kind = event::kind::transfer, .node = victim});
    }
    schedule(_chaos_us, event{.kind = event::kind::end_chaos});
    const time_us end = _chaos_us + liveness_bound_us;

    while (!_queue.empty() && !_failure) {
        auto handle = _queue.extract(_queue.begin());
        _now = handle.key().first;
        if (_now > end) break;
        event& e = handle.mapped();
        ++totals.events;
        if (trace) trace_event(_now, e);
        sim_node* touched = nullptr;
        switch (e.kind) {
            case event::kind::tick: {
                sim_node& n = _nodes[e.node];
                if (e.incarnation != n.incarnation) break;
                if (n.up) n.raft->tick();
                touched = &n;
                schedule(_now + n.tick_us, event{.kind = event::kind::tick, .node = e.node,
                                                 .incarnation = n.incarnation});
                break;
            }
            case event::kind::deliver:
                deliver(e);
                touched = &_nodes[e.node];
                break;
            case event::kind::synced: {
                sim_node& n = _nodes[e.node];
                if (!n.up || e.incarnation != n.incarnation || !n.outstanding) break;
                synced(n);
                touched = &n;
                break;
            }
            case event::kind::crash: {
                sim_node& n = _nodes[e.node];
                if (!_chaos || !n.up) break;
                if (e.while_writing && e.incarnation != n.incarnation) break;
                if (!e.while_writing && chance(0.5)) {
                    n.crash_while_writing = true;  // in the middle of its next write
                    break;
                }
                crash(n);
                break;
            }
            case event::kind::restart: {
                sim_node& n = _nodes[e.node];
                if (n.up) break;
                start_node(n);
                schedule(_now + between(0, n.tick_us),
                         event{.kind = event::kind::tick, .node = e.node, .incarnation = n.incarnation});
                touched = &n;
                break;
            }
            case event::kind::partition: {
                if (!_chaos) break;
                const size_t count = _nodes.size();
                if (chance(0.5)) {
                    // Symmetric: a random side against the rest.
                    std::vector<bool> side(count);
                    for (size_t i = 0; i < count; ++i) side[i] = chance(0.5);
                    for (size_t a = 0; a < count; ++a) {
                        for (size_t b = 0; b < count; ++b) {
                            if (side[a] != side[b]) _blocked[a][b] = true;
                        }
                    }
                } else {
                    // One way: `a` stops hearing `b`.
                    const size_t a = next() % count, b = next() % count;
                    if (a != b) _blocked[b][a] = true;
                }
                break;
            }
            case event::kind::heal:
                for (auto& row : _blocked) row.fill(false);
                break;
            case event::kind::client_op:
                client_op(e.client);
                if (_clients[e.client].busy) touched = &_nodes[_clients[e.client].at - 1];
                break;
            case event::kind::client_timeout: {
                client& cl = _clients[e.client];
                if (cl.busy && operation_serial(cl) == e.incarnation) {
                    // No answer: the node may be a stale leader; try another.
                    cl.target = between(1, _nodes.size());
                    client_done(e.client);
                }
                break;
            }
            case event::kind::membership:
                membership_event();
                for (auto& n : _nodes) {
                    if (n.up) drive(n);
                }
                break;
            case event::kind::transfer: {
                for (auto& n : _nodes) {
                    if (!n.up || n.raft->get_role() != role::leader) continue;
                    const auto& voters = n.raft->config().voters;
                    if (voters.empty()) break;
                    if (n.raft->transfer_leadership(voters[next() % voters.size()])) ++totals.transfers;
                    touched = &n;
                }
                break;
            }
            case event::kind::end_chaos:
                _chaos = false;
                _healed_at = _now;
                _loss = 0;
                for (auto& row : _blocked) row.fill(false);
                for (auto& n : _nodes) {
                    if (n.up) continue;
                    start_node(n);
                    schedule(_now + between(0, n.tick_us),
                             event{.kind = event::kind::tick, .node = static_cast<size_t>(n.id - 1),
                                   .incarnation = n.incarnation});
                }
                break;
        }
        if (touched != nullptr) drive(*touched);
        if (_failure) break;
        check_leaders();
        if (_healed_at != never && _live_write_done) break;
    }
    if (_failure) return _failure;
    if (!_live_write_done) {
        std::string state;
        for (auto& n : _nodes) {
            const status st = n.raft->get_status();
            state += "\n  node " + std::to_string(n.id) + ": " + std::string(to_string(st.role)) +
                     " term " + std::to_string(st.term) + " leader " + std::to_string(st.leader) +
                     " commit " + std::to_string(st.commit) + " last " +
                     std::to_string(st.last_index) + " last term " +
                     std::to_string(n.raft->log().last_term()) + " voters";
            for (node_id v : st.configuration.voters) state += " " + std::to_string(v);
            state += " learners";
            for (node_id v : st.configuration.learners) state += " " + std::to_string(v);
        }
        return failure_report{.what = state + "\nstuck: no write acknowledged within " +
                                      std::to_string(liveness_bound_us / 1000) +
                                      "ms after the faults healed",
                              .liveness = true};
    }
    for (size_t c = 0; c < _clients.size(); ++c) {
        client& cl = _clients[c];
        if (cl.busy && !cl.reading && _writes[cl.write].outcome == write_op::outcome::pending) {
            _writes[cl.write].outcome = write_op::outcome::unknown;
        }
    }
    return check_linearizable();
}

}  // namespace
}  // namespace tl::raft::sim

int main(int argc, char** argv) {
    using namespace tl::raft;
    uint64_t first = 0;
    uint64_t count = 2000;
    size_t nodes = 0;  // 0: 3 for even seeds, 5 for odd ones
    bool canary_mode = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
            count = 1;
        } else if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--first-seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
            nodes = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--long") == 0) {
            count = 100'000;
        } else if (std::strcmp(argv[i], "--trace") == 0) {
            sim::trace = true;
        } else if (std::strcmp(argv[i], "--canary") == 0) {
            canary_mode = true;
            sim::canary = testing_canary::vote_without_log_check;
            if (i + 1 < argc && std::strcmp(argv[i + 1], "figure8") == 0) {
                sim::canary = testing_canary::commit_earlier_terms;
                ++i;
            } else if (i + 1 < argc && std::strcmp(argv[i + 1], "vote") == 0) {
                ++i;
            }
        } else {
            std::fprintf(stderr,
                         "usage: %s [--canary [vote|figure8]] [--nodes 3|5] [--trace]\n"
                         "          [--seed N | --seeds COUNT [--first-seed N] | --long]\n",
                         argv[0]);
            return 2;
        }
    }
    if (nodes != 0 && nodes != 3 && nodes != 5) {
        std::fprintf(stderr, "--nodes: 3 or 5\n");
        return 2;
    }
    for (uint64_t seed = first; seed < first + count; ++seed) {
        const size_t n = nodes != 0 ? nodes : (seed % 2 == 0 ? 3 : 5);
        auto failed = sim::cluster(seed, n).run();
        if (canary_mode) {
            if (!failed || failed->liveness) continue;
            std::printf("canary caught at seed %llu (%zu nodes): %s\n",
                        static_cast<unsigned long long>(seed), n, failed->what.c_str());
            return 0;
        }
        if (failed) {
            std::printf("FAILED seed %llu (%zu nodes): %s\nreplay: %s --seed %llu%s --trace\n",
                        static_cast<unsigned long long>(seed), n, failed->what.c_str(), argv[0],
                        static_cast<unsigned long long>(seed),
                        nodes != 0 ? (nodes == 3 ? " --nodes 3" : " --nodes 5") : "");
            return 1;
        }
    }
    if (canary_mode) {
        std::printf("canary NOT caught in %llu seeds: the checkers cannot fail\n",
                    static_cast<unsigned long long>(count));
        return 1;
    }
    const auto& t = sim::totals;
    std::printf("%llu seeds passed (first %llu): %llu events, %llu messages (%llu lost), "
                "%llu crashes (%llu torn writes), %llu elections, %llu writes acknowledged "
                "(%llu unknown), %llu reads, %llu compactions, %llu snapshots installed, "
                "%llu membership changes, %llu transfers\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
                (unsigned long long)t.events, (unsigned long long)t.messages_sent,
                (unsigned long long)t.messages_lost, (unsigned long long)t.crashes,
                (unsigned long long)t.torn_writes, (unsigned long long)t.elections,
                (unsigned long long)t.writes_acknowledged,
                (unsigned long long)t.writes_indeterminate, (unsigned long long)t.reads_answered,
                (unsigned long long)t.compactions, (unsigned long long)t.snapshots_installed,
                (unsigned long long)t.membership_changes, (unsigned long long)t.transfers);
    return 0;
}
