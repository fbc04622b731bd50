// Proves the DPDK driver's EAL start-up on this machine (no hugepages, no
// NIC): the arguments (no-hugepage mode, lcore 0 floating over the process's
// CPUs with --lcores=0@(…), never -l), one start per process (a second is
// refused), the calling thread left unpinned, thread registration, and the
// device-string helpers; tsc_clock: deterministic samples check the rate,
// forward steps and the slew after a backward step; the live clock stays
// within a generous bound of CLOCK_REALTIME and never goes backwards across
// recalibrate().
// One EAL per process: every test that needs it calls eal() first.
#include <gtest/gtest.h>
#include <sched.h>
#include <time.h>

#include <rte_lcore.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "dpdk/eal.h"
#include "dpdk/tsc_clock.h"

namespace tl::dpdk {
namespace {

// Starts the EAL once for the whole binary (net_null0 on the command line;
// everything else is hot-plugged by the tests).
const result<void, std::string>& eal() {
    static const result<void, std::string> started = [] {
        eal_options options;
        options.vdevs = {"net_null0,size=64"};
        options.memory_mb = 256;
        return start_eal(options);
    }();
    return started;
}

#define REQUIRE_EAL()                                                   \
    do {                                                                \
        const auto& started = eal();                                    \
        ASSERT_TRUE(started.ok()) << started.error();                   \
    } while (false)

// --- EAL ---------------------------------------------------------------------

TEST(dpdk, eal_arguments_for_a_machine_without_hugepages) {
    eal_options options;
    options.vdevs = {"net_null0"};
    const auto args = eal_arguments(options);
    auto has = [&](const std::string& a) {
        return std::find(args.begin(), args.end(), a) != args.end();
    };
    EXPECT_TRUE(has("--no-huge"));
    EXPECT_TRUE(has("--no-shconf"));
    EXPECT_TRUE(has("--no-pci"));
    EXPECT_TRUE(has("--vdev=net_null0"));
}

TEST(dpdk, eal_arguments_leave_the_main_thread_on_every_cpu_of_the_affinity_mask) {
    eal_options options;
    const auto args = eal_arguments(options);
    EXPECT_TRUE(std::find(args.begin(), args.end(), lcores_argument(affinity_cpus())) !=
                args.end());
    for (const auto& a : args) {
        EXPECT_NE(a, "-l");
        EXPECT_FALSE(a.starts_with("-l") && !a.starts_with("-lcores")) << a;
        EXPECT_FALSE(a.starts_with("--main-lcore")) << a;
    }
    options.main_thread_cpus = {7, 0, 3, 2, 4, 3};
    const auto pinned = eal_arguments(options);
    EXPECT_TRUE(std::find(pinned.begin(), pinned.end(), "--lcores=0@(0,2-4,7)") != pinned.end());
    const unsigned one[] = {5};
    EXPECT_EQ(lcores_argument(one), "--lcores=0@(5)");
    const unsigned two[] = {0, 1};
    EXPECT_EQ(lcores_argument(two), "--lcores=0@(0-1)");
}

TEST(dpdk, device_strings) {
    EXPECT_TRUE(is_vdev("net_pcap0,rx_pcap=/x.pcap"));
    EXPECT_TRUE(is_vdev("eth_ring0"));
    EXPECT_FALSE(is_vdev("0000:03:00.0"));
    EXPECT_FALSE(is_vdev("netpcap0"));
    EXPECT_EQ(device_name("net_pcap0,rx_pcap=/x.pcap,tx_pcap=/y"), "net_pcap0");
    EXPECT_EQ(device_arguments("net_pcap0,rx_pcap=/x.pcap,tx_pcap=/y"),
              "rx_pcap=/x.pcap,tx_pcap=/y");
    EXPECT_EQ(device_name("0000:03:00.0"), "0000:03:00.0");
    EXPECT_EQ(device_arguments("net_ring0"), "");
}

TEST(dpdk, starts_once_and_leaves_the_main_thread_unpinned) {
    cpu_set_t before;
    CPU_ZERO(&before);
    ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
    REQUIRE_EAL();
    EXPECT_TRUE(eal_running());
    EXPECT_GT(tsc_hz(), 0u);
    cpu_set_t after;
    CPU_ZERO(&after);
    ASSERT_EQ(sched_getaffinity(0, sizeof(after), &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&before, &after)) << "rte_eal_init pinned the calling thread";
    EXPECT_EQ(rte_lcore_id(), 0u);
    EXPECT_TRUE(register_thread().ok());  // the main thread already is lcore 0
    unregister_thread();                  // and stays it
    EXPECT_EQ(rte_lcore_id(), 0u);

    eal_options options;
    auto again = start_eal(options);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().find("already started"), std::string::npos);
}

// --- tsc_clock ---------------------------------------------------------------

constexpr uint64_t epoch_ns = 1'700'000'000'000'000'000;

TEST(tsc_clock, converts_ticks_at_the_measured_rate) {
    // 2.5 GHz: 2.5 ticks per ns.
    const tsc_clock clock({1000, epoch_ns, 50}, {1000 + 2'500'000'000, epoch_ns + 1'000'000'000,
                                                 50 + 1'000'000'000});
    EXPECT_NEAR(clock.tsc_hz(), 2.5e9, 1.0);
    EXPECT_EQ(clock.at(1000 + 2'500'000'000), epoch_ns + 1'000'000'000);
    EXPECT_NEAR(static_cast<double>(clock.at(1000 + 5'000'000'000) - epoch_ns), 2e9, 2.0);
    EXPECT_EQ(clock.at(0), epoch_ns + 1'000'000'000) << "earlier ticks clamp to the anchor";
}

TEST(tsc_clock, steps_forward_but_slews_when_realtime_steps_back) {
    const uint64_t hz = 2'000'000'000;  // 2 ticks per ns
    tsc_clock clock({0, epoch_ns, 0}, {hz, epoch_ns + 1'000'000'000, 1'000'000'000});
    // Realtime jumped 3 ms ahead: follow it.
    clock.recalibrate({2 * hz, epoch_ns + 2'003'000'000, 2'000'000'000});
    EXPECT_EQ(clock.at(2 * hz), epoch_ns + 2'003'000'000);
    // Realtime stepped back 5 ms: continue from where we are, slower.
    uint64_t realtime = epoch_ns + 3'003'000'000 - 5'000'000;
    clock.recalibrate({3 * hz, realtime, 3'000'000'000});
    uint64_t last = clock.at(3 * hz);
    EXPECT_EQ(last, epoch_ns + 3'003'000'000);
    for (uint64_t second = 4; second < 10; ++second) {
        realtime += 1'000'000'000;
        for (uint64_t step = 1; step <= 100; ++step) {
            const uint64_t now = clock.at((second - 1) * hz + step * hz / 100);
            EXPECT_GE(now, last);
            last = now;
        }
        clock.recalibrate({second * hz, realtime, second * 1'000'000'000});
        EXPECT_GE(clock.at(second * hz), last);
        last = clock.at(second * hz);
    }
    EXPECT_LE(last - realtime, 1'000u) << "caught up with realtime after the slew";
    EXPECT_NEAR(clock.tsc_hz(), 2e9, 1.0);
}

TEST(tsc_clock, tracks_realtime_and_never_goes_backwards) {
    tsc_clock clock;
    EXPECT_GT(clock.tsc_hz(), 1e8);
    auto realtime = [] {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    };
    uint64_t last = clock.now_ns();
    int64_t worst_ns = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 10'000; ++i) {
            const uint64_t now = clock.now_ns();
            ASSERT_GE(now, last);
            last = now;
        }
        const int64_t error = static_cast<int64_t>(clock.now_ns()) - realtime();
        worst_ns = std::max(worst_ns, error < 0 ? -error : error);
        clock.recalibrate();
        const timespec pause{0, 2'000'000};
        nanosleep(&pause, nullptr);
    }
    // Generous: a VM's TSC-vs-realtime agreement, a few ms of preemption.
    EXPECT_LT(worst_ns, 5'000'000) << "worst difference from CLOCK_REALTIME";
    std::printf("tsc_clock: %.0f Hz, worst |now_ns - CLOCK_REALTIME| %lld ns, invariant TSC %d\n",
                clock.tsc_hz(), static_cast<long long>(worst_ns), tsc_clock::tsc_is_invariant());
}

TEST(tsc_clock, readers_on_other_threads_see_monotonic_time_during_recalibration) {
    tsc_clock clock(tsc_hz());  // the EAL's figure when it runs, else measured
    std::atomic<bool> stop{false};
    std::atomic<bool> backwards{false};
    std::thread reader([&] {
        uint64_t last = clock.now_ns();
        while (!stop.load(std::memory_order_relaxed)) {
            const uint64_t now = clock.now_ns();
            if (now < last) backwards = true;
            last = now;
        }
    });
    for (int i = 0; i < 2000; ++i) clock.recalibrate();
    stop = true;
    reader.join();
    EXPECT_FALSE(backwards.load());
}


}  // namespace
}  // namespace tl::dpdk
