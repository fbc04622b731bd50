// Proves src/raft/driver.h end to end: three servers in one process, each on
// its own shard with its own data directory (uring_disk), log_store and
// transport on loopback, and a state machine that keeps a list of strings.
// A leader is elected; a proposal through it is applied everywhere; a
// follower's proposal is refused with not_leader and the leader's id; read
// barriers complete on the leader and on followers; leadership transfers;
// when the leader stops another is elected; a stopped server restarted from
// its directory (snapshot + log) catches up, including entries it missed.
// Snapshots are taken every few entries so compaction and snapshot installs
// run too. Waits poll with generous deadlines; no test asserts a time.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "raft/driver.h"
#include "reactor/shard_executor.h"
#include "reactor/smp.h"
#include "storage/disk.h"

namespace tl::raft {
namespace {

using namespace std::chrono_literals;
using reactor::shard;
namespace fs = std::filesystem;

constexpr unsigned server_count = 3;

// The application: an append-only list of strings.
class list_machine final : public state_machine {
public:
    void apply(const entry& e) override {
        items.emplace_back(reinterpret_cast<const char*>(e.data.data()), e.data.size());
        last_index = e.index;
    }
    std::vector<std::byte> take_snapshot() override {
        std::string joined;
        for (const auto& item : items) joined += item + '\n';
        auto span = std::as_bytes(std::span(joined.data(), joined.size()));
        return {span.begin(), span.end()};
    }
    void restore(const snapshot& s) override {
        items.clear();
        std::string text(reinterpret_cast<const char*>(s.data.data()), s.data.size());
        for (size_t start = 0; start < text.size();) {
            const size_t end = text.find('\n', start);
            items.push_back(text.substr(start, end - start));
            start = end + 1;
        }
        last_index = s.meta.index;
        ++restores;
    }
    std::vector<std::string> items;
    index_t last_index = 0;
    int restores = 0;
};

// Everything of one server; lives on (and is touched only by) its shard.
struct server {
    std::unique_ptr<reactor::shard_executor> executor;
    std::unique_ptr<storage::uring_disk> disk;
    std::unique_ptr<transport::transport> net;
    std::unique_ptr<log_store> store;
    std::unique_ptr<list_machine> machine;
    std::unique_ptr<driver> raft;
    bool run_finished = false;
    std::vector<std::pair<transport::peer_id, std::string>> foreign;  // non-Raft frames
};

std::vector<std::byte> bytes_of(const std::string& s) {
    auto span = std::as_bytes(std::span(s.data(), s.size()));
    return {span.begin(), span.end()};
}

class raft_driver_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        reactor::reactor_options options;
        options.shard_count = server_count;
        options.pinning = reactor::cpu_pinning::floating;
        auto started = reactor::smp::start(options);
        ASSERT_TRUE(started.ok()) << started.error();
        group = std::move(*started).release();
    }
    static void TearDownTestSuite() {
        delete group;
        group = nullptr;
    }
    void SetUp() override {
        char pattern[] = "/var/tmp/tidelog-raftdrv-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        root = pattern;
    }
    void TearDown() override {
        for (unsigned s = 0; s < server_count; ++s) stop(s);
        fs::remove_all(root);
    }

    // Starts server s (id s + 1) on shard s from its directory; the first
    // start bootstraps the three voters. `port` 0 picks one.
    void start(unsigned s, uint16_t port = 0) {
        group->run_on(s, [&, s, port]() -> task<void> {
            server& v = servers[s];
            v.executor = std::make_unique<reactor::shard_executor>();
            v.disk = std::make_unique<storage::uring_disk>(shard::local().io());
            transport::transport_options net_options;
            net_options.self = s + 1;
            net_options.reconnect_backoff_max = 200ms;
            v.net = std::make_unique<transport::transport>(shard::local().io(), *v.executor,
                                                           net_options);
            auto where = *uring::socket_address::parse("127.0.0.1:" + std::to_string(port));
            TL_ASSERT(v.net->listen(where).ok());
            auto opened = co_await log_store::open(*v.disk, root + "/node" + std::to_string(s),
                                                   {.segment_bytes = 4096});
            TL_ASSERT(opened.ok(), "open failed");
            v.store = std::move(*opened);
            auto booted = co_await bootstrap(*v.store, {.voters = {1, 2, 3}, .learners = {}});
            TL_ASSERT(booted.ok());
            v.machine = std::make_unique<list_machine>();
            driver_options options;
            options.raft.id = s + 1;
            options.raft.random_seed = 1234 + s;
            options.tick_interval = 20ms;
            options.snapshot_every_entries = 7;
            v.raft = std::make_unique<driver>(options, *v.store, *v.net, *v.machine, *v.executor);
            v.raft->on_foreign_frame([&v](transport::peer_id from, std::span<const std::byte> f) {
                v.foreign.emplace_back(from, std::string(reinterpret_cast<const char*>(f.data()),
                                                         f.size()));
            });
            v.run_finished = false;
            shard::local().spawn([](server& me) -> task<void> {
                co_await me.raft->run();
                me.run_finished = true;
            }(v));
        });
        addresses[s] = group->run_on(s, [&, s] { return servers[s].net->local_address(); });
    }
    void connect_all() {
        for (unsigned s = 0; s < server_count; ++s) {
            group->run_on(s, [&, s] {
                if (!servers[s].net) return;
                for (unsigned p = 0; p < server_count; ++p) {
                    if (p != s) servers[s].net->add_peer(p + 1, addresses[p]);
                }
            });
        }
    }
    void stop(unsigned s) {
        group->run_on(s, [&, s]() -> task<void> {
            server& v = servers[s];
            if (!v.raft) co_return;
            co_await v.raft->stop();
            while (!v.run_finished) co_await v.executor->sleep(1ms);
            co_await v.net->stop();
            co_await v.store->close();
            v.raft.reset();
            v.machine.reset();
            v.store.reset();
            v.net.reset();
            v.disk.reset();
            v.executor.reset();
        });
    }
    bool running(unsigned s) const { return servers[s].raft != nullptr; }
    status status_of(unsigned s) {
        return group->run_on(s, [&, s] { return servers[s].raft->get_status(); });
    }
    std::vector<std::string> items_of(unsigned s) {
        return group->run_on(s, [&, s] { return servers[s].machine->items; });
    }
    result<index_t, error> propose(unsigned s, const std::string& text, duration_ns timeout = 5s) {
        return group->run_on(s, [&, s]() -> task<result<index_t, error>> {
            co_return co_await servers[s].raft->propose(bytes_of(text), timeout);
        });
    }
    result<void, error> read_barrier(unsigned s) {
        return group->run_on(s, [&, s]() -> task<result<void, error>> {
            co_return co_await servers[s].raft->read_barrier(5s);
        });
    }
    template <typename Predicate>
    bool eventually(Predicate done, std::chrono::seconds limit = 30s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return done();
    }
    // The shard of the leader every running server agrees on, if any.
    std::optional<unsigned> agreed_leader() {
        std::optional<node_id> leader;
        for (unsigned s = 0; s < server_count; ++s) {
            if (!running(s)) continue;
            const auto st = status_of(s);
            if (st.leader == no_node || (leader && *leader != st.leader)) return std::nullopt;
            leader = st.leader;
        }
        if (!leader || !running(static_cast<unsigned>(*leader - 1))) return std::nullopt;
        if (status_of(static_cast<unsigned>(*leader - 1)).role != role::leader) return std::nullopt;
        return static_cast<unsigned>(*leader - 1);
    }
    unsigned wait_for_leader() {
        std::optional<unsigned> leader;
        TL_ASSERT(eventually([&] { return (leader = agreed_leader()).has_value(); }),
                  "no leader elected");
        return *leader;
    }
    // Proposes through whoever leads, retrying across elections.
    index_t propose_anywhere(const std::string& text) {
        std::optional<index_t> index;
        TL_ASSERT(eventually([&] {
            auto leader = agreed_leader();
            if (!leader) return false;
            auto r = propose(*leader, text);
            if (r) index = *r;
            return r.ok();
        }), "no proposal succeeded");
        return *index;
    }

    static inline reactor::smp* group = nullptr;
    std::string root;
    server servers[server_count];
    uring::socket_address addresses[server_count];
};

TEST_F(raft_driver_test, elects_replicates_reads_fails_over_and_catches_up) {
    for (unsigned s = 0; s < server_count; ++s) start(s);
    connect_all();
    const unsigned leader = wait_for_leader();

    // Proposals through the leader are applied everywhere.
    auto first = propose(leader, "alpha");
    ASSERT_TRUE(first.ok()) << to_string(first.error().code);
    for (unsigned s = 0; s < server_count; ++s) {
        EXPECT_TRUE(eventually([&] { return items_of(s) == std::vector<std::string>{"alpha"}; }))
            << "server " << s + 1;
    }

    // A follower refuses, naming the leader.
    const unsigned follower = (leader + 1) % server_count;
    auto refused = propose(follower, "nope");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, errc::not_leader);
    EXPECT_EQ(refused.error().leader_hint, leader + 1);

    // Read barriers: on the leader, and forwarded by a follower; after one,
    // the follower has applied every completed write.
    ASSERT_TRUE(propose(leader, "beta").ok());
    EXPECT_TRUE(read_barrier(leader).ok());
    auto follower_read = read_barrier(follower);
    ASSERT_TRUE(follower_read.ok()) << to_string(follower_read.error().code);
    EXPECT_EQ(items_of(follower), (std::vector<std::string>{"alpha", "beta"}));

    // Enough entries for snapshots and compaction on every server.
    std::vector<std::string> expected{"alpha", "beta"};
    for (int i = 0; i < 20; ++i) {
        expected.push_back("item " + std::to_string(i));
        ASSERT_TRUE(propose(leader, expected.back()).ok());
    }
    EXPECT_TRUE(eventually([&] { return status_of(leader).snapshot_index > 0; }));

    // Stop the leader: another is elected and takes proposals.
    stop(leader);
    const unsigned second = wait_for_leader();
    EXPECT_NE(second, leader);
    for (int i = 0; i < 10; ++i) {
        expected.push_back("after failover " + std::to_string(i));
        propose_anywhere(expected.back());
    }

    // The old leader restarts from its directory (on its old port) and
    // catches up, with what it missed.
    start(leader, addresses[leader].port());
    connect_all();
    EXPECT_GE(group->run_on(leader, [&] { return servers[leader].machine->restores; }), 1)
        << "the restart restores the state machine from the recovered snapshot";
    EXPECT_TRUE(eventually([&] { return items_of(leader) == expected; }))
        << "restarted server has " << items_of(leader).size() << " of " << expected.size();
    for (unsigned s = 0; s < server_count; ++s) {
        EXPECT_TRUE(eventually([&] { return items_of(s) == expected; })) << "server " << s + 1;
    }
}

TEST_F(raft_driver_test, transfers_leadership_and_restarts_the_whole_cluster) {
    for (unsigned s = 0; s < server_count; ++s) start(s);
    connect_all();
    const unsigned leader = wait_for_leader();
    ASSERT_TRUE(propose(leader, "one").ok());
    const unsigned target = (leader + 1) % server_count;
    auto moved = group->run_on(leader, [&]() -> task<result<void, error>> {
        co_return co_await servers[leader].raft->transfer_leadership(target + 1);
    });
    ASSERT_TRUE(moved.ok()) << to_string(moved.error().code);
    EXPECT_TRUE(eventually([&] { return agreed_leader() == target; }));
    propose_anywhere("two");

    // Everyone stops; everyone restarts from disk: nothing committed is lost
    // and nothing is bootstrapped again.
    for (unsigned s = 0; s < server_count; ++s) stop(s);
    for (unsigned s = 0; s < server_count; ++s) start(s, addresses[s].port());
    connect_all();
    propose_anywhere("three");
    const std::vector<std::string> expected{"one", "two", "three"};
    for (unsigned s = 0; s < server_count; ++s) {
        EXPECT_TRUE(eventually([&] { return items_of(s) == expected; })) << "server " << s + 1;
        EXPECT_EQ(status_of(s).configuration.voters, (std::vector<node_id>{1, 2, 3}));
    }
}

// Frames that are not Raft messages (first byte other than codec_version)
// share the transport: the application gets them, Raft goes on.
TEST_F(raft_driver_test, hands_foreign_frames_to_the_application) {
    for (unsigned s = 0; s < server_count; ++s) start(s);
    connect_all();
    const unsigned leader = wait_for_leader();
    const unsigned other = (leader + 1) % server_count;
    group->run_on(other, [&, leader, other] {
        const std::string frame = "\xF1hello";
        servers[other].net->send(leader + 1, std::as_bytes(std::span(frame.data(), frame.size())));
    });
    EXPECT_TRUE(eventually([&] {
        return group->run_on(leader, [&, leader] { return servers[leader].foreign.size(); }) == 1;
    }));
    const auto got = group->run_on(leader, [&, leader] { return servers[leader].foreign; });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, other + 1);
    EXPECT_EQ(got[0].second, "\xF1hello");
    EXPECT_EQ(status_of(leader).role, role::leader);
    EXPECT_EQ(group->run_on(leader, [&, leader] { return servers[leader].raft->stats(); })
                  .frames_undecodable,
              0u);
    propose_anywhere("after");
}

}  // namespace
}  // namespace tl::raft
