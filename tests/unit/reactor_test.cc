// Proves the reactor's contracts with real shard threads:
// - the N x N mailbox mesh delivers every cross-shard call exactly once and
//   every reply to its caller (exact counts under stress, busy and adaptive);
// - a full mailbox makes callers wait in FIFO order (backpressure), nothing
//   is dropped and the ring never holds more than its capacity;
// - timers fire in deadline order and cancelled ones never fire;
// - foreign_ptr frees its object on the shard that allocated it;
// - the loop counts an iteration longer than stall_threshold as a stall and
//   reports a busy ratio that rises under work and falls to 0 when idle;
// - a registered poller is polled while the shard is otherwise idle (an
//   adaptive shard sleeps no longer than the poller allows, and not at all
//   for a poller that allows no sleep), and never after its removal.
// Conditions are awaited by polling with a deadline, never by sleeping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "reactor/condition.h"
#include "reactor/foreign_ptr.h"
#include "reactor/smp.h"

namespace tl::reactor {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<smp> start_shards(unsigned count, poll_mode mode,
                                  unsigned mailbox_capacity = 1024) {
    reactor_options options;
    options.shard_count = count;
    options.polling = mode;
    options.pinning = cpu_pinning::floating;
    options.mailbox_capacity = mailbox_capacity;
    options.idle_spin = 0us;  // sleep as soon as idle: exercises the wake-up path
    auto started = smp::start(options);
    TL_ASSERT(started.ok(), "smp start");
    return std::move(*started);
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds deadline = 10s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        if (predicate()) return true;
        std::this_thread::yield();
    }
    return predicate();
}

// Suspends until `done` is set; whoever sets it schedules `slot`.
struct park_until {
    bool& done;
    std::coroutine_handle<>& slot;
    bool await_ready() const noexcept { return done; }
    void await_suspend(std::coroutine_handle<> h) noexcept { slot = h; }
    void await_resume() const noexcept {}
};

class mesh_stress : public ::testing::TestWithParam<poll_mode> {};

TEST_P(mesh_stress, every_call_and_reply_delivered_exactly_once) {
    constexpr unsigned shards = 4;
    constexpr unsigned workers_per_shard = 8;
    constexpr unsigned calls_per_worker_per_target = 500;
    auto group = start_shards(shards, GetParam(), 64);

    // received[t][s]: calls from s executed on t; only shard t writes row t.
    std::vector<std::vector<uint64_t>> received(shards, std::vector<uint64_t>(shards, 0));
    std::vector<uint64_t> reply_sum(shards, 0);
    std::vector<uint64_t> replies(shards, 0);

    std::vector<std::thread> drivers;
    for (unsigned s = 0; s < shards; ++s) {
        drivers.emplace_back([&, s] {
            group->run_on(s, [&, s]() -> task<void> {
                unsigned remaining = workers_per_shard;
                bool all_done = false;
                std::coroutine_handle<> waiter;
                auto worker = [&](unsigned w) -> task<void> {
                    for (unsigned i = 0; i < calls_per_worker_per_target; ++i) {
                        for (unsigned t = 0; t < shards; ++t) {
                            const uint64_t token = uint64_t{w} * 1'000'000 + i;
                            const uint64_t answer =
                                co_await submit_to(t, [&received, t, s, token] {
                                    TL_ASSERT(shard::local().id() == t);
                                    ++received[t][s];
                                    return token * 2;
                                });
                            TL_ASSERT(answer == token * 2);
                            reply_sum[s] += answer;
                            ++replies[s];
                        }
                    }
                    if (--remaining == 0) {
                        all_done = true;
                        if (waiter) shard::local().schedule(waiter);
                    }
                };
                for (unsigned w = 0; w < workers_per_shard; ++w) shard::local().spawn(worker(w));
                co_await park_until{all_done, waiter};
            });
        });
    }
    for (auto& d : drivers) d.join();

    uint64_t expected_sum = 0;
    for (unsigned w = 0; w < workers_per_shard; ++w) {
        for (unsigned i = 0; i < calls_per_worker_per_target; ++i) {
            expected_sum += (uint64_t{w} * 1'000'000 + i) * 2 * shards;
        }
    }
    for (unsigned s = 0; s < shards; ++s) {
        EXPECT_EQ(replies[s], uint64_t{workers_per_shard} * calls_per_worker_per_target * shards);
        EXPECT_EQ(reply_sum[s], expected_sum);
        for (unsigned t = 0; t < shards; ++t) {
            EXPECT_EQ(received[t][s], uint64_t{workers_per_shard} * calls_per_worker_per_target)
                << "from " << s << " to " << t;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(modes, mesh_stress,
                         ::testing::Values(poll_mode::busy, poll_mode::adaptive));

TEST(backpressure, full_mailbox_makes_callers_wait_in_order_and_loses_nothing) {
    constexpr unsigned capacity = 4;
    constexpr unsigned callers = 100;
    auto group = start_shards(2, poll_mode::adaptive, capacity);

    // Stall shard 1 (test only: a shard must never block) so its inbox fills.
    std::atomic<bool> stall_started{false};
    std::atomic<bool> release{false};
    std::thread staller([&] {
        group->run_on(1, [&] {
            stall_started = true;
            while (!release.load()) std::this_thread::yield();
        });
    });
    ASSERT_TRUE(eventually([&] { return stall_started.load(); }));

    std::vector<unsigned> order_seen_on_target;  // written by shard 1 only
    std::atomic<unsigned> completed{0};
    group->run_on(0, [&] {
        for (unsigned i = 0; i < callers; ++i) {
            shard::local().spawn([](unsigned index, std::vector<unsigned>& order,
                                    std::atomic<unsigned>& done) -> task<void> {
                const unsigned echoed = co_await submit_to(1, [&order, index] {
                    order.push_back(index);
                    return index;
                });
                TL_ASSERT(echoed == index);
                ++done;
            }(i, order_seen_on_target, completed));
        }
    });

    // All callers have run: `capacity` of them sit in the ring, the rest wait.
    const auto waits = [&] {
        return group->run_on(0, [] { return shard::local().stats().backpressure_waits; });
    };
    ASSERT_TRUE(eventually([&] { return waits() == callers - capacity; }));
    EXPECT_EQ(group->requests(0, 1).size(), capacity);
    EXPECT_EQ(completed.load(), 0u);

    release = true;
    staller.join();
    ASSERT_TRUE(eventually([&] { return completed.load() == callers; }));
    std::vector<unsigned> order = group->run_on(1, [&] { return order_seen_on_target; });
    ASSERT_EQ(order.size(), callers);
    for (unsigned i = 0; i < callers; ++i) EXPECT_EQ(order[i], i);
}

TEST(timers, sleepers_wake_in_deadline_order) {
    auto group = start_shards(1, poll_mode::adaptive);
    std::vector<int> woke = group->run_on(0, []() -> task<std::vector<int>> {
        std::vector<int> order;
        int remaining = 3;
        bool all_done = false;
        std::coroutine_handle<> waiter;
        auto sleeper = [&](int ms) -> task<void> {
            co_await sleep_for(std::chrono::milliseconds(ms));
            order.push_back(ms);
            if (--remaining == 0) {
                all_done = true;
                if (waiter) shard::local().schedule(waiter);
            }
        };
        shard::local().spawn(sleeper(30));
        shard::local().spawn(sleeper(10));
        shard::local().spawn(sleeper(20));
        co_await park_until{all_done, waiter};
        co_return order;
    });
    EXPECT_EQ(woke, (std::vector<int>{10, 20, 30}));
}

TEST(timers, cancelled_timer_never_fires) {
    auto group = start_shards(1, poll_mode::adaptive);
    const auto fired = group->run_on(0, []() -> task<std::pair<int, int>> {
        int cancelled_fired = 0;
        int kept_fired = 0;
        timer cancelled([&] { ++cancelled_fired; });
        timer kept([&] { ++kept_fired; });
        cancelled.arm_after(5ms);
        kept.arm_after(20ms);
        cancelled.cancel();
        co_await sleep_for(40ms);
        co_return std::pair{cancelled_fired, kept_fired};
    });
    EXPECT_EQ(fired.first, 0);
    EXPECT_EQ(fired.second, 1);
}

// The heap itself, without threads: random arms and cancels against a model.
TEST(timer_queue, fires_in_order_under_random_arms_and_cancels) {
    struct recording_node final : timer_node {
        std::vector<int>* log = nullptr;
        int id = 0;
        void fire() noexcept override { log->push_back(id); }
    };
    std::mt19937 random(1234);
    timer_queue queue;
    std::vector<int> log;
    std::vector<recording_node> nodes(2000);
    std::multimap<std::pair<int64_t, int>, int> model;  // (deadline, arm order) -> id
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
        nodes[i].log = &log;
        nodes[i].id = i;
        const int64_t deadline_ns = random() % 1000;
        queue.arm(&nodes[i], steady_time(duration_ns(deadline_ns)));
        model.emplace(std::pair{deadline_ns, i}, i);
    }
    for (int i = 0; i < 700; ++i) {
        const int victim = static_cast<int>(random() % nodes.size());
        if (!nodes[victim].armed()) continue;
        const int64_t deadline_ns = nodes[victim].deadline().time_since_epoch().count();
        queue.cancel(&nodes[victim]);
        model.erase(std::pair{deadline_ns, victim});
    }
    std::vector<int> expected;
    for (auto& [key, id] : model) expected.push_back(id);
    for (int64_t now = 0; now < 1000; now += 37) queue.fire_due(steady_time(duration_ns(now)));
    queue.fire_due(steady_time(duration_ns(1000)));
    EXPECT_EQ(queue.size(), 0u);
    EXPECT_EQ(log, expected);
}

TEST(foreign_ptr, object_is_freed_on_its_home_shard) {
    auto group = start_shards(2, poll_mode::adaptive);
    struct tracked {
        std::atomic<int>* freed_on = nullptr;
        ~tracked() { freed_on->store(static_cast<int>(shard::local().id())); }
    };
    std::atomic<int> freed_on{-1};
    group->run_on(0, [&]() -> task<void> {
        auto object = std::make_unique<tracked>();
        object->freed_on = &freed_on;
        foreign_ptr<tracked> p(std::move(object));
        // Hand it to shard 1, which drops it there.
        co_await submit_to(1, [moved = std::move(p)]() mutable { moved.reset(); });
        TL_ASSERT(!p);
    });
    ASSERT_TRUE(eventually([&] { return freed_on.load() != -1; }));
    EXPECT_EQ(freed_on.load(), 0);
}

TEST(submit_to, task_returning_function_runs_on_target_and_can_suspend_there) {
    auto group = start_shards(2, poll_mode::busy);
    const auto where = group->run_on(0, []() -> task<std::pair<unsigned, unsigned>> {
        co_return co_await submit_to(1, []() -> task<std::pair<unsigned, unsigned>> {
            const unsigned before = shard::local().id();
            co_await sleep_for(1ms);
            co_await yield{};
            co_return std::pair{before, shard::local().id()};
        });
    });
    EXPECT_EQ(where.first, 1u);
    EXPECT_EQ(where.second, 1u);
}

TEST(condition, notify_wakes_every_current_waiter_and_deadline_wakes_the_rest) {
    auto group = start_shards(1, poll_mode::adaptive);
    const auto outcome = group->run_on(0, []() -> task<std::vector<int>> {
        condition c;
        gate g;
        std::vector<int> woke;  // waiter id * 10 + (notified ? 1 : 0)
        for (int id = 0; id < 3; ++id) {
            g.spawn([](condition& c, std::vector<int>& woke, int id) -> task<void> {
                const bool notified = co_await c.wait();
                woke.push_back(id * 10 + (notified ? 1 : 0));
            }(c, woke, id));
        }
        co_await yield{};  // let them all start waiting
        EXPECT_TRUE(c.has_waiters());
        c.notify_all();
        EXPECT_FALSE(c.has_waiters());
        co_await g.wait();
        // A deadline-bound wait that nobody notifies times out with false.
        const bool notified = co_await c.wait_until(shard::local().now() + 2ms);
        woke.push_back(notified ? 91 : 90);
        co_return woke;
    });
    EXPECT_EQ(outcome, (std::vector<int>{1, 11, 21, 90}));
}

TEST(condition, a_destroyed_timed_waiter_leaves_no_timer_behind) {
    auto group = start_shards(1, poll_mode::adaptive);
    const bool notified = group->run_on(0, []() -> task<bool> {
        condition c;
        gate g;
        bool result = false;
        g.spawn([](condition& c, bool& result) -> task<void> {
            result = co_await c.wait_until(shard::local().now() + 10s);
        }(c, result));
        co_await yield{};
        c.notify_all();
        co_await g.wait();
        EXPECT_EQ(shard::local().timers().size(), 0u);
        co_return result;
    });
    EXPECT_TRUE(notified);
}

TEST(smp, rejects_bad_options) {
    reactor_options options;
    options.shard_count = 0;
    EXPECT_FALSE(smp::start(options).ok());
    options.shard_count = 1;
    options.mailbox_capacity = 1000;  // not a power of two
    auto started = smp::start(options);
    ASSERT_FALSE(started.ok());
    EXPECT_NE(started.error().find("power of two"), std::string::npos);
}

TEST(shard_metrics, stalls_and_busy_ratio) {
    reactor_options options;
    options.shard_count = 1;
    options.pinning = cpu_pinning::floating;
    options.stall_threshold = 2ms;
    auto started = smp::start(options);
    ASSERT_TRUE(started.ok());
    auto group = std::move(*started);
    const shard_metrics* loop = group->run_on(0, [] { return &shard::local().metrics(); });
    EXPECT_EQ(loop->stalls.value(), 0u);
    // A task that holds the shard for 20 ms: the iteration running it stalls.
    // (Busy work, not a wait: it stands for a handler that runs too long.)
    group->run_on(0, [] {
        const auto until = std::chrono::steady_clock::now() + 20ms;
        while (std::chrono::steady_clock::now() < until) {
        }
    });
    EXPECT_TRUE(eventually([&] { return loop->stalls.value() >= 1; }));
    // Busy for a while: some window shows a ratio above 0.
    std::atomic<bool> stop{false};
    std::thread load([&] {
        while (!stop.load()) group->run_on(0, [] {
            const auto until = std::chrono::steady_clock::now() + 1ms;
            while (std::chrono::steady_clock::now() < until) {
            }
        });
    });
    EXPECT_TRUE(eventually([&] { return loop->busy_ratio.value() > 0.1; }));
    stop = true;
    load.join();
    // Idle: the next windows (the idle sleep is capped at one) fall to ~0.
    EXPECT_TRUE(eventually([&] { return loop->busy_ratio.value() < 0.05; }));
}

// Stands for an RX queue: data appears (set by the test thread) without any
// completion or wake-up reaching the shard.
class flag_poller final : public poller {
public:
    explicit flag_poller(duration_ns sleep) : _sleep(sleep) {}
    bool poll() noexcept override {
        polls.fetch_add(1, std::memory_order_relaxed);
        if (!pending.exchange(false, std::memory_order_acq_rel)) return false;
        consumed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    duration_ns max_idle_sleep() const noexcept override { return _sleep; }

    std::atomic<bool> pending{false};
    std::atomic<uint64_t> polls{0};
    std::atomic<uint64_t> consumed{0};

private:
    duration_ns _sleep;
};

TEST(pollers, an_idle_adaptive_shard_keeps_polling_within_the_pollers_sleep_bound) {
    auto group = start_shards(1, poll_mode::adaptive);
    flag_poller sleepy(std::chrono::milliseconds(2));
    group->run_on(0, [&] { shard::local().add_poller(&sleepy); });
    // Nothing wakes the shard: only the bounded sleep brings it back to poll.
    for (int round = 1; round <= 20; ++round) {
        sleepy.pending.store(true, std::memory_order_release);
        ASSERT_TRUE(eventually([&] { return sleepy.consumed.load() == uint64_t(round); }, 5s))
            << "round " << round;
    }
    const auto sleeps = group->run_on(0, [] { return shard::local().stats().sleeps; });
    EXPECT_GT(sleeps, 0u) << "the shard should still sleep between polls";
    group->run_on(0, [&] { shard::local().remove_poller(&sleepy); });
    const uint64_t polls_after_removal = sleepy.polls.load();
    // Make the shard run a few iterations; the removed poller is not polled.
    for (int i = 0; i < 10; ++i) group->run_on(0, [] {});
    EXPECT_EQ(sleepy.polls.load(), polls_after_removal);
}

TEST(pollers, a_poller_that_allows_no_sleep_keeps_the_shard_spinning) {
    auto group = start_shards(1, poll_mode::adaptive);
    flag_poller spinning(duration_ns::zero());
    const auto sleeps_before = group->run_on(0, [&] {
        shard::local().add_poller(&spinning);
        return shard::local().stats().sleeps;
    });
    const uint64_t polls_at_start = spinning.polls.load();
    ASSERT_TRUE(eventually([&] { return spinning.polls.load() > polls_at_start + 100000; }));
    const auto sleeps_after = group->run_on(0, [&] {
        shard::local().remove_poller(&spinning);
        return shard::local().stats().sleeps;
    });
    EXPECT_EQ(sleeps_after, sleeps_before);
}

}  // namespace
}  // namespace tl::reactor
