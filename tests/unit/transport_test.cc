// Proves drivers/transport on real io_uring sockets over loopback, one
// transport per shard: frames between three transports arrive whole, in
// order and attributed to their sender; a sender reconnects (with backoff)
// after a peer's listener goes away and comes back on the same port; a full
// send queue drops and counts (oldest or newest, as configured); a
// connection that starts with garbage instead of a hello is closed and
// counted. Waits poll with a deadline; no test asserts a time.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "reactor/shard_executor.h"
#include "reactor/smp.h"
#include "transport/transport.h"

namespace tl::transport {
namespace {

using namespace std::chrono_literals;
using reactor::shard;

constexpr unsigned shard_count = 3;

struct received_frame {
    peer_id from;
    std::string text;
};

// One transport per shard; everything it touches lives on that shard.
struct node_on_shard {
    std::unique_ptr<reactor::shard_executor> executor;
    std::unique_ptr<transport> t;
    std::vector<received_frame> received;
};

class transport_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        reactor::reactor_options options;
        options.shard_count = shard_count;
        options.pinning = reactor::cpu_pinning::floating;
        auto started = reactor::smp::start(options);
        ASSERT_TRUE(started.ok()) << started.error();
        group = std::move(*started).release();
    }
    static void TearDownTestSuite() {
        delete group;
        group = nullptr;
    }
    void TearDown() override {
        for (unsigned s = 0; s < shard_count; ++s) stop(s);
    }

    // Starts a transport with id s + 1 on shard s, listening on `port` (0: any).
    uring::socket_address start(unsigned s, uint16_t port = 0, transport_options options = {}) {
        return group->run_on(s, [&, s] {
            auto& n = nodes[s];
            n.executor = std::make_unique<reactor::shard_executor>();
            options.self = s + 1;
            options.reconnect_backoff_max = 100ms;
            n.t = std::make_unique<transport>(shard::local().io(), *n.executor, options);
            n.t->on_frame([&n](peer_id from, std::span<const std::byte> frame) {
                n.received.push_back(
                    {from, std::string(reinterpret_cast<const char*>(frame.data()), frame.size())});
            });
            auto where = *uring::socket_address::parse("127.0.0.1:" + std::to_string(port));
            auto listening = n.t->listen(where);
            TL_ASSERT(listening.ok());
            return n.t->local_address();
        });
    }
    void stop(unsigned s) {
        group->run_on(s, [&, s]() -> task<void> {
            auto& n = nodes[s];
            if (n.t) co_await n.t->stop();
            n.t.reset();
            n.executor.reset();
        });
    }
    void connect_all(const std::vector<uring::socket_address>& addresses) {
        for (unsigned s = 0; s < shard_count; ++s) {
            group->run_on(s, [&, s] {
                if (!nodes[s].t) return;
                for (unsigned peer = 0; peer < shard_count; ++peer) {
                    if (peer != s) nodes[s].t->add_peer(peer + 1, addresses[peer]);
                }
            });
        }
    }
    bool send(unsigned s, peer_id to, const std::string& text) {
        return group->run_on(s, [&, s] {
            return nodes[s].t->send(to, std::as_bytes(std::span(text.data(), text.size())));
        });
    }
    std::vector<received_frame> received(unsigned s) {
        return group->run_on(s, [&, s] { return nodes[s].received; });
    }
    transport_stats stats(unsigned s) {
        return group->run_on(s, [&, s] { return nodes[s].t->stats(); });
    }
    template <typename Predicate>
    bool eventually(Predicate done, std::chrono::seconds limit = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done()) return true;
            std::this_thread::sleep_for(5ms);
        }
        return done();
    }

    static inline reactor::smp* group = nullptr;
    node_on_shard nodes[shard_count];
};

TEST_F(transport_test, frames_arrive_in_order_from_each_sender) {
    std::vector<uring::socket_address> addresses;
    for (unsigned s = 0; s < shard_count; ++s) addresses.push_back(start(s));
    connect_all(addresses);
    constexpr int per_pair = 200;
    for (int i = 0; i < per_pair; ++i) {
        for (unsigned s = 0; s < shard_count; ++s) {
            for (unsigned to = 0; to < shard_count; ++to) {
                if (to == s) continue;
                std::string text = "from " + std::to_string(s + 1) + " #" + std::to_string(i);
                text.resize(text.size() + static_cast<size_t>(i * 37 % 3000), '.');
                ASSERT_TRUE(send(s, to + 1, text));
            }
        }
    }
    for (unsigned s = 0; s < shard_count; ++s) {
        ASSERT_TRUE(eventually([&] { return received(s).size() == 2 * per_pair; }))
            << "shard " << s << " got " << received(s).size();
        std::map<peer_id, int> next;
        for (const auto& f : received(s)) {
            const std::string expected_prefix =
                "from " + std::to_string(f.from) + " #" + std::to_string(next[f.from]++);
            ASSERT_EQ(f.text.substr(0, expected_prefix.size()), expected_prefix);
        }
        EXPECT_EQ(stats(s).bad_frames, 0u);
        EXPECT_EQ(stats(s).frames_dropped_queue_full, 0u);
    }
    EXPECT_FALSE(send(0, 99, "nobody")) << "unknown peers are refused";
}

TEST_F(transport_test, reconnects_after_the_peer_listener_restarts) {
    const auto a = start(0);
    const auto b = start(1);
    connect_all({a, b, a});
    ASSERT_TRUE(send(0, 2, "before"));
    ASSERT_TRUE(eventually([&] { return received(1).size() == 1; }));
    stop(1);
    // Frames sent while B is away are lost (Raft tolerates that); A keeps
    // trying to connect with backoff.
    for (int i = 0; i < 5; ++i) send(0, 2, "while away");
    std::this_thread::sleep_for(50ms);
    start(1, b.port());
    int sent = 0;
    ASSERT_TRUE(eventually([&] {
        send(0, 2, "after " + std::to_string(sent++));
        for (const auto& f : received(1)) {
            if (f.text.starts_with("after")) return true;
        }
        return false;
    }));
    EXPECT_GE(stats(0).connects, 2u);
}

TEST_F(transport_test, full_queue_drops_and_counts) {
    // A peer that never answers: connects fail, frames wait in the queue.
    const auto a = start(0, 0, {.max_queued_frames_per_peer = 8});
    const auto b = start(1, 0, {.max_queued_frames_per_peer = 8, .overflow = overflow_policy::drop_newest});
    const auto gone = start(2);
    stop(2);
    connect_all({a, b, gone});
    int accepted_newest = 0;
    for (int i = 0; i < 100; ++i) {
        send(0, 3, "frame " + std::to_string(i));
        accepted_newest += send(1, 3, "frame " + std::to_string(i)) ? 1 : 0;
    }
    EXPECT_EQ(group->run_on(0, [&] { return nodes[0].t->queued_frames(3); }), 8u);
    EXPECT_EQ(stats(0).frames_dropped_queue_full, 92u);
    EXPECT_EQ(accepted_newest, 8);
    EXPECT_EQ(stats(1).frames_dropped_queue_full, 92u);
    EXPECT_TRUE(eventually([&] { return stats(0).connect_failures >= 2; }));
}

TEST_F(transport_test, garbage_instead_of_a_hello_is_refused) {
    const auto a = start(0);
    group->run_on(1, [&]() -> task<void> {
        auto connected = co_await uring::connect(shard::local().io(), a);
        TL_ASSERT(connected.ok());
        std::vector<std::byte> garbage(64, std::byte{0x5a});
        TL_ASSERT((co_await connected->send_all(garbage)).ok());
        // The transport closes its end: we read end_of_file (or a reset).
        std::array<std::byte, 16> buffer{};
        auto got = co_await connected->receive_some(buffer);
        TL_ASSERT(!got.ok());
        [[maybe_unused]] auto closed = co_await connected->close();
    });
    EXPECT_TRUE(eventually([&] { return stats(0).bad_frames == 1; }));
    EXPECT_TRUE(received(0).empty());
}

}  // namespace
}  // namespace tl::transport
