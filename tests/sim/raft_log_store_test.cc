// Proves src/raft/log_store on the simulated disk (deterministic, seeded):
// readies round-trip through persist and reopen (entries, hard state,
// snapshots, segment rolls); a conflicting suffix is truncated; compaction
// drops whole segments and the snapshot survives; a received snapshot
// replaces the log; a torn tail is dropped and appends continue after it; a
// corrupt record before the tail is an error naming the file and offset.
// The crash sweep runs random workloads (appends, conflicting overwrites,
// hard states, compactions, received snapshots), cuts the power after a
// random number of simulation steps (unsynced data lost, the last write torn)
// and checks that reopening yields a prefix of what was persisted that holds
// everything whose persist() had completed. TIDELOG_SIM_SEEDS seeds (20 in
// the unit suite, more in the sim suite); a failure prints its seed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "raft/codec.h"
#include "raft/log_store.h"
#include "sim/sim_disk.h"

namespace tl::raft {
namespace {

using sim::sim_disk;
using sim::sim_executor;

const std::string directory = "data/controller";

std::vector<std::byte> bytes_of(const std::string& s) {
    return std::vector<std::byte>(reinterpret_cast<const std::byte*>(s.data()),
                                  reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

entry make_entry(term_t term, index_t index, size_t size = 20) {
    std::string data = "entry-" + std::to_string(term) + "-" + std::to_string(index);
    data.resize(std::max(size, data.size()), 'x');
    return entry{.term = term, .index = index, .kind = entry_kind::normal, .data = bytes_of(data)};
}

std::vector<entry> range(term_t term, index_t from, index_t to) {
    std::vector<entry> out;
    for (index_t i = from; i <= to; ++i) out.push_back(make_entry(term, i));
    return out;
}

struct fixture {
    explicit fixture(uint64_t seed = 1, log_store_options options = {})
        : executor(seed), disk(executor), options(options) {
        TL_ASSERT(executor.run_task(disk.make_directory("data")).ok());
    }
    result<std::unique_ptr<log_store>, std::string> open() {
        return executor.run_task(log_store::open(disk, directory, options));
    }
    std::unique_ptr<log_store> open_ok() {
        auto opened = open();
        TL_ASSERT(opened.ok(), "open failed");
        return std::move(*opened);
    }
    void persist(log_store& store, const ready& r) {
        auto done = executor.run_task(store.persist(r));
        TL_ASSERT(done.ok(), "persist failed");
    }
    void close(std::unique_ptr<log_store>& store) {
        executor.run_task(store->close());
        store.reset();
    }
    std::unique_ptr<log_store> reopen(std::unique_ptr<log_store>& store) {
        close(store);
        return open_ok();
    }
    sim_executor executor;
    sim_disk disk;
    log_store_options options;
};

ready with_entries(std::vector<entry> entries, std::optional<hard_state> hard = std::nullopt) {
    ready r;
    r.entries = std::move(entries);
    r.hard_state = hard;
    return r;
}

TEST(RaftLogStore, EmptyDirectoryOpensEmpty) {
    fixture f;
    auto store = f.open_ok();
    EXPECT_EQ(store->recovered().hard, hard_state{});
    EXPECT_EQ(store->recovered().snapshot.meta, snapshot_meta{});
    EXPECT_TRUE(store->recovered().entries.empty());
    EXPECT_EQ(store->last_index(), 0u);
}

TEST(RaftLogStore, BootstrapOnceAndRoundTrip) {
    fixture f;
    auto store = f.open_ok();
    const configuration voters{.voters = {1, 2, 3}, .learners = {}};
    ASSERT_TRUE(f.executor.run_task(bootstrap(*store, voters)).ok());
    EXPECT_EQ(store->recovered().snapshot.meta.configuration, voters);
    f.persist(*store, with_entries(range(1, 1, 5), hard_state{.term = 1, .voted_for = 2, .commit = 3}));
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().snapshot.meta.configuration, voters);
    EXPECT_EQ(store->recovered().entries, range(1, 1, 5));
    EXPECT_EQ(store->recovered().hard, (hard_state{.term = 1, .voted_for = 2, .commit = 3}));
    // A restart never re-bootstraps, even with another configuration.
    ASSERT_TRUE(f.executor.run_task(bootstrap(*store, {.voters = {7}, .learners = {}})).ok());
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().snapshot.meta.configuration, voters);
    // Hard states alternate slots; the newest wins.
    for (term_t t = 2; t < 6; ++t) {
        ready r;
        r.hard_state = hard_state{.term = t, .voted_for = t, .commit = 4};
        f.persist(*store, r);
    }
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().hard, (hard_state{.term = 5, .voted_for = 5, .commit = 4}));
}

// A bootstrap may carry the application's state at index 0 (a state from
// before Raft): durable, and kept across restarts.
TEST(RaftLogStore, BootstrapWithStateKeepsIt) {
    fixture f;
    auto store = f.open_ok();
    const configuration voters{.voters = {1}, .learners = {}};
    const std::vector<std::byte> state{std::byte{1}, std::byte{2}, std::byte{3}};
    ASSERT_TRUE(f.executor.run_task(bootstrap(*store, voters, state)).ok());
    EXPECT_EQ(store->recovered().snapshot.data, state);
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().snapshot.meta.index, 0u);
    EXPECT_EQ(store->recovered().snapshot.meta.configuration, voters);
    EXPECT_EQ(store->recovered().snapshot.data, state);
}

TEST(RaftLogStore, ConflictingSuffixIsTruncatedAcrossSegments) {
    fixture f(1, {.segment_bytes = 200});
    auto store = f.open_ok();
    for (index_t i = 1; i <= 30; i += 3) f.persist(*store, with_entries(range(1, i, i + 2)));
    EXPECT_GT(store->segment_count(), 3u);
    f.persist(*store, with_entries(range(2, 8, 12)));
    EXPECT_EQ(store->last_index(), 12u);
    store = f.reopen(store);
    auto expected = range(1, 1, 7);
    for (auto& e : range(2, 8, 12)) expected.push_back(e);
    EXPECT_EQ(store->recovered().entries, expected);
    // Overwrite from the very first index too.
    f.persist(*store, with_entries(range(3, 1, 2)));
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().entries, range(3, 1, 2));
}

TEST(RaftLogStore, CompactionDropsWholeSegmentsAndKeepsTheSnapshot) {
    fixture f(1, {.segment_bytes = 200});
    auto store = f.open_ok();
    for (index_t i = 1; i <= 40; i += 2) f.persist(*store, with_entries(range(1, i, i + 1)));
    const size_t before = store->segment_count();
    snapshot s{.meta = {.index = 25, .term = 1, .configuration = {.voters = {1}, .learners = {}}},
               .data = bytes_of("state at 25")};
    ASSERT_TRUE(f.executor.run_task(store->compact(s)).ok());
    EXPECT_LT(store->segment_count(), before);
    f.persist(*store, with_entries(range(1, 41, 42)));
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().snapshot.meta, s.meta);
    EXPECT_EQ(store->recovered().snapshot.data, s.data);
    EXPECT_EQ(store->recovered().entries, range(1, 26, 42));
}

TEST(RaftLogStore, ReceivedSnapshotReplacesTheLog) {
    fixture f(1, {.segment_bytes = 200});
    auto store = f.open_ok();
    f.persist(*store, with_entries(range(1, 1, 10)));
    ready r;
    r.snapshot = snapshot{.meta = {.index = 50, .term = 3, .configuration = {.voters = {1, 2}, .learners = {}}},
                          .data = bytes_of("fifty")};
    r.entries = range(3, 51, 52);
    r.hard_state = hard_state{.term = 3, .voted_for = 0, .commit = 50};
    f.persist(*store, r);
    store = f.reopen(store);
    EXPECT_EQ(store->recovered().snapshot.meta, r.snapshot->meta);
    EXPECT_EQ(store->recovered().entries, range(3, 51, 52));
    EXPECT_EQ(store->recovered().hard, *r.hard_state);
}

std::vector<std::byte> durable_file(fixture& f, const std::string& path) {
    const auto* bytes = f.disk.contents(path);
    TL_ASSERT(bytes != nullptr);
    return *bytes;
}

void replace_file(fixture& f, const std::string& path, std::vector<std::byte> bytes) {
    f.executor.run_task([](sim_disk& d, std::string p, std::vector<std::byte> b) -> task<void> {
        auto opened = co_await d.open(p, uring::open_mode::create_read_write, storage::direct_io::never);
        TL_ASSERT(opened.ok());
        TL_ASSERT((co_await (*opened)->truncate(0)).ok());
        TL_ASSERT((co_await (*opened)->write_at(0, std::span<const std::byte>(b))).ok());
        TL_ASSERT((co_await (*opened)->sync()).ok());
        TL_ASSERT((co_await (*opened)->close()).ok());
    }(f.disk, path, std::move(bytes)));
}

const std::string first_segment = directory + "/log.00000000000000000001";

TEST(RaftLogStore, TornTailIsDroppedAndAppendsContinue) {
    fixture f;
    auto store = f.open_ok();
    f.persist(*store, with_entries(range(1, 1, 5)));
    f.close(store);
    auto bytes = durable_file(f, first_segment);
    const size_t full = bytes.size();
    for (size_t cut : {full - 1, full - 10, full - 35}) {
        auto torn = bytes;
        torn.resize(cut);
        replace_file(f, first_segment, torn);
        store = f.open_ok();
        EXPECT_EQ(store->recovered().entries, range(1, 1, 4)) << "cut at " << cut;
        f.close(store);
    }
    // A corrupt (not short) last record is torn too.
    auto flipped = bytes;
    flipped[full - 3] ^= std::byte{0x40};
    replace_file(f, first_segment, flipped);
    store = f.open_ok();
    EXPECT_EQ(store->recovered().entries, range(1, 1, 4));
    f.close(store);
    // Zeros after the last good record (a file extended, its data lost).
    auto zeros = bytes;
    zeros.resize(full + 4096);
    replace_file(f, first_segment, zeros);
    store = f.open_ok();
    EXPECT_EQ(store->recovered().entries, range(1, 1, 5));
    f.persist(*store, with_entries(range(2, 5, 6)));
    store = f.reopen(store);
    auto expected = range(1, 1, 4);
    for (auto& e : range(2, 5, 6)) expected.push_back(e);
    EXPECT_EQ(store->recovered().entries, expected);
}

TEST(RaftLogStore, CorruptRecordBeforeTheTailIsAnError) {
    fixture f;
    auto store = f.open_ok();
    f.persist(*store, with_entries(range(1, 1, 5)));
    f.close(store);
    auto bytes = durable_file(f, first_segment);
    bytes[20] ^= std::byte{0x01};  // inside the first record's entry
    replace_file(f, first_segment, bytes);
    auto opened = f.open();
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().find(first_segment), std::string::npos) << opened.error();
    EXPECT_NE(opened.error().find("offset 0"), std::string::npos) << opened.error();
}

TEST(RaftLogStore, CorruptRecordFollowedByGoodOnesIsAnErrorEvenAtTheEnd) {
    fixture f;
    auto store = f.open_ok();
    f.persist(*store, with_entries(range(1, 1, 5)));
    f.close(store);
    auto bytes = durable_file(f, first_segment);
    const size_t record = bytes.size() / 5;  // equal-sized records
    bytes[3 * record + 12] ^= std::byte{0x80};  // the fourth of five
    replace_file(f, first_segment, bytes);
    auto opened = f.open();
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().find("offset " + std::to_string(3 * record)), std::string::npos)
        << opened.error();
}

TEST(RaftLogStore, CorruptSnapshotIsAnError) {
    fixture f;
    auto store = f.open_ok();
    ASSERT_TRUE(f.executor.run_task(bootstrap(*store, {.voters = {1}, .learners = {}})).ok());
    f.close(store);
    auto bytes = durable_file(f, directory + "/snapshot");
    bytes.back() ^= std::byte{0x01};
    replace_file(f, directory + "/snapshot", bytes);
    auto opened = f.open();
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().find("CRC"), std::string::npos) << opened.error();
}

// ---------------------------------------------------------------- the crash sweep

struct model {
    snapshot_meta snap;
    hard_state hard;
    std::vector<entry> entries;  // after snap.index
};

struct operation {
    enum class kind : uint8_t { persist, compact } type = kind::persist;
    ready r;
    snapshot s;
};

// A random workload and the model state after each operation.
void generate(std::mt19937_64& random, std::vector<operation>& ops, std::vector<model>& states) {
    model m;
    states.push_back(m);
    term_t term = 1;
    const int count = 10 + static_cast<int>(random() % 20);
    for (int i = 0; i < count; ++i) {
        operation op;
        const index_t last = m.entries.empty() ? m.snap.index : m.entries.back().index;
        const auto pick = random() % 10;
        if (pick < 5 || last == m.snap.index) {
            op.r.entries = range(term, last + 1, last + 1 + random() % 6);
        } else if (pick < 7) {
            const index_t from = m.snap.index + 1 + random() % (last - m.snap.index);
            ++term;
            op.r.entries = range(term, from, from + random() % 4);
        } else if (pick < 8) {
            op.type = operation::kind::compact;
            const index_t at = m.snap.index + 1 + random() % (last - m.snap.index);
            op.s = snapshot{.meta = {.index = at, .term = m.entries[at - m.snap.index - 1].term,
                                     .configuration = {.voters = {1, 2, 3}, .learners = {}}},
                            .data = bytes_of("state " + std::to_string(at))};
        } else if (pick < 9) {
            ++term;
            op.r.snapshot = snapshot{.meta = {.index = last + 1 + random() % 5, .term = term,
                                              .configuration = {.voters = {1, 2, 3}, .learners = {}}},
                                     .data = bytes_of("received")};
            if (random() % 2) {
                const index_t s = op.r.snapshot->meta.index;
                op.r.entries = range(term, s + 1, s + 1 + random() % 3);
            }
        }
        if (op.type == operation::kind::persist && random() % 2) {
            op.r.hard_state = hard_state{.term = term, .voted_for = random() % 4, .commit = random() % 10};
        }
        // Apply to the model.
        if (op.type == operation::kind::compact) {
            const index_t drop = op.s.meta.index - m.snap.index;
            m.entries.erase(m.entries.begin(), m.entries.begin() + static_cast<std::ptrdiff_t>(drop));
            m.snap = op.s.meta;
        } else {
            if (op.r.snapshot) {
                m.snap = op.r.snapshot->meta;
                m.entries.clear();
            }
            if (!op.r.entries.empty()) {
                const index_t from = op.r.entries.front().index;
                std::erase_if(m.entries, [&](const entry& e) { return e.index >= from; });
                m.entries.insert(m.entries.end(), op.r.entries.begin(), op.r.entries.end());
            }
            if (op.r.hard_state) m.hard = *op.r.hard_state;
        }
        ops.push_back(std::move(op));
        states.push_back(m);
    }
}

// The entry of `m` at `index`, if it has one after `snapshot_index`.
const entry* at(const model& m, index_t index) {
    if (m.entries.empty() || index <= m.snap.index || index > m.entries.back().index) return nullptr;
    return &m.entries[index - m.entries.front().index];
}

// Whether `recovered` could be left by a crash between states `a` (every
// earlier persist complete) and `b` (the one in progress).
std::string check_recovered(const durable_state& r, const model& a, const model& b) {
    if (r.hard != a.hard && r.hard != b.hard) return "hard state is neither before nor after";
    if (r.snapshot.meta != a.snap && r.snapshot.meta != b.snap) return "snapshot is neither";
    const index_t s = r.snapshot.meta.index;
    for (size_t i = 0; i < r.entries.size(); ++i) {
        if (r.entries[i].index != s + 1 + i) return "entries not contiguous after the snapshot";
    }
    auto prefix_of = [&](const model& m) {
        for (const auto& e : r.entries) {
            const entry* x = at(m, e.index);
            if (x == nullptr || *x != e) return false;
        }
        return true;
    };
    if (!prefix_of(a) && !prefix_of(b)) return "entries are a prefix of neither state";
    // Everything both states agree on (above the snapshot) must be there.
    for (index_t i = s + 1;; ++i) {
        const entry* x = at(a, i);
        const entry* y = at(b, i);
        if (x == nullptr || y == nullptr || *x != *y) break;
        if (i - s > r.entries.size()) return "lost entry " + std::to_string(i) + " of a completed persist";
    }
    return {};
}

task<void> run_workload(log_store& st, const std::vector<operation>& work, size_t& done) {
    for (const auto& op : work) {
        if (op.type == operation::kind::compact) {
            TL_ASSERT((co_await st.compact(op.s)).ok());
        } else {
            TL_ASSERT((co_await st.persist(op.r)).ok());
        }
        ++done;
    }
}

// Simulation steps the whole workload takes without a crash.
uint64_t workload_steps(int seed, const std::vector<operation>& ops) {
    fixture f(static_cast<uint64_t>(seed));
    auto store = f.open_ok();
    size_t done = 0;
    f.executor.spawn(run_workload(*store, ops, done));
    const uint64_t steps = f.executor.run();
    TL_ASSERT(done == ops.size());
    return steps + 1;
}

int sweep_seeds() {
    const char* text = std::getenv("TIDELOG_SIM_SEEDS");
    return text != nullptr ? std::atoi(text) : 20;
}

// The model states of a fixed workload (see generate() for the random one).
void fixed_workload(std::vector<operation>& ops, std::vector<model>& states) {
    model m;
    states.push_back(m);
    auto persist = [&](std::vector<entry> entries, std::optional<hard_state> hard,
                       std::optional<snapshot> snap = std::nullopt) {
        operation op;
        op.r.entries = std::move(entries);
        op.r.hard_state = hard;
        op.r.snapshot = std::move(snap);
        if (op.r.snapshot) {
            m.snap = op.r.snapshot->meta;
            m.entries.clear();
        }
        if (!op.r.entries.empty()) {
            const index_t from = op.r.entries.front().index;
            std::erase_if(m.entries, [&](const entry& e) { return e.index >= from; });
            m.entries.insert(m.entries.end(), op.r.entries.begin(), op.r.entries.end());
        }
        if (hard) m.hard = *hard;
        ops.push_back(std::move(op));
        states.push_back(m);
    };
    const configuration voters{.voters = {1, 2, 3}, .learners = {}};
    persist(range(1, 1, 5), hard_state{.term = 1, .voted_for = 1, .commit = 0});
    persist(range(1, 6, 10), hard_state{.term = 1, .voted_for = 1, .commit = 5});
    persist(range(2, 4, 6), hard_state{.term = 2, .voted_for = 3, .commit = 3});  // conflicting
    operation compaction;
    compaction.type = operation::kind::compact;
    compaction.s = snapshot{.meta = {.index = 3, .term = 1, .configuration = voters},
                            .data = bytes_of("three")};
    m.snap = compaction.s.meta;
    m.entries.erase(m.entries.begin(), m.entries.begin() + 3);
    ops.push_back(compaction);
    states.push_back(m);
    persist(range(2, 7, 8), std::nullopt);
    persist(range(4, 21, 22), hard_state{.term = 4, .voted_for = 0, .commit = 20},
            snapshot{.meta = {.index = 20, .term = 4, .configuration = voters},
                     .data = bytes_of("twenty")});
}

TEST(RaftLogStoreCrash, PowerCutAtEveryStepOfAFixedWorkload) {
    std::vector<operation> ops;
    std::vector<model> states;
    fixed_workload(ops, states);
    uint64_t cuts = 0;
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        bool finished = false;
        for (uint64_t steps = 0; !finished; ++steps) {
            ASSERT_LT(steps, 100'000u) << "the workload never finished";
            SCOPED_TRACE(testing::Message() << "seed " << seed << " steps " << steps);
            fixture f(seed * 7919 + steps, {.segment_bytes = 150});
            auto store = f.open_ok();
            size_t completed = 0;
            f.executor.spawn(run_workload(*store, ops, completed));
            f.executor.run(steps);
            finished = completed == ops.size();
            ++cuts;
            f.executor.abandon_all();
            store.reset();
            f.disk.crash();
            auto reopened = f.open();
            ASSERT_TRUE(reopened.ok()) << reopened.error();
            const std::string problem = check_recovered(
                (*reopened)->recovered(), states[completed],
                states[std::min(completed + 1, states.size() - 1)]);
            ASSERT_EQ(problem, "") << "after " << completed << " operations";
            f.close(*reopened);
        }
    }
    std::printf("%llu power cuts\n", static_cast<unsigned long long>(cuts));
    EXPECT_GT(cuts, 5 * ops.size());
}

TEST(RaftLogStoreCrash, PowerCutAnywhereLeavesADurablePrefix) {
    const int seeds = sweep_seeds();
    uint64_t torn_or_lost = 0;
    uint64_t cut_mid_workload = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
        SCOPED_TRACE(testing::Message() << "seed " << seed);
        std::mt19937_64 random(static_cast<uint64_t>(seed));
        std::vector<operation> ops;
        std::vector<model> states;
        generate(random, ops, states);
        fixture f(static_cast<uint64_t>(seed), {.segment_bytes = 64 + random() % 512});
        auto store = f.open_ok();
        size_t completed = 0;
        f.executor.spawn(run_workload(*store, ops, completed));
        // Cut somewhere in the workload: its length in steps is measured on
        // a copy of the seed's run first.
        const uint64_t steps = random() % workload_steps(seed, ops);
        f.executor.run(steps);
        if (completed < ops.size()) ++cut_mid_workload;
        f.executor.abandon_all();
        store.reset();
        f.disk.crash();
        auto reopened = f.open();
        ASSERT_TRUE(reopened.ok()) << reopened.error();
        const model& before = states[completed];
        const model& after = states[std::min(completed + 1, states.size() - 1)];
        const auto& r = (*reopened)->recovered();
        const std::string problem = check_recovered(r, before, after);
        ASSERT_EQ(problem, "") << "after " << completed << " of " << ops.size() << " operations";
        if (r.entries.size() != before.entries.size()) ++torn_or_lost;
        // The recovered store takes appends where it left off.
        auto recovered_store = std::move(*reopened);
        const index_t next = recovered_store->last_index() + 1;
        f.persist(*recovered_store, with_entries(range(99, next, next + 1)));
        recovered_store = f.reopen(recovered_store);
        ASSERT_EQ(recovered_store->last_index(), next + 1);
        ASSERT_EQ(recovered_store->recovered().entries.back(), make_entry(99, next + 1));
        f.close(recovered_store);
    }
    std::printf("%d seeds, %llu cuts inside the workload, %llu left a log other than the last "
                "completed one\n",
                seeds, static_cast<unsigned long long>(cut_mid_workload),
                static_cast<unsigned long long>(torn_or_lost));
    EXPECT_GT(cut_mid_workload, static_cast<uint64_t>(seeds) / 2);
}

}  // namespace
}  // namespace tl::raft
