// Proves the DPDK driver's EAL start-up on this machine (no hugepages, no
// NIC): the arguments (no-hugepage mode, lcore 0 floating over the process's
// CPUs with --lcores=0@(…), never -l), one start per process (a second is
// refused), the calling thread left unpinned, thread registration, and the
// device-string helpers.
// One EAL per process: every test that needs it calls eal() first.
#include <gtest/gtest.h>
#include <sched.h>
#include <time.h>

#include <rte_lcore.h>

#include <algorithm>

#include "dpdk/eal.h"

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


}  // namespace
}  // namespace tl::dpdk
