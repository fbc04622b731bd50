// Proves the DPDK driver starts the EAL without hugepages or PCI on this
// machine, probes a virtual device (net_null, which produces packets on
// receive), and refuses a second start in the same process.
#include <gtest/gtest.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk/eal.h"

namespace tl::dpdk {
namespace {

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

TEST(dpdk, starts_once_and_receives_from_a_null_vdev) {
    eal_options options;
    options.vdevs = {"net_null0,size=64"};
    options.memory_mb = 128;
    auto started = start_eal(options);
    ASSERT_TRUE(started.ok()) << started.error();
    ASSERT_EQ(available_port_count(), 1u);

    rte_mempool* pool = rte_pktmbuf_pool_create("test_pool", 1023, 0, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool, nullptr);
    rte_eth_conf conf{};
    ASSERT_EQ(rte_eth_dev_configure(0, 1, 1, &conf), 0);
    ASSERT_EQ(rte_eth_rx_queue_setup(0, 0, 128, SOCKET_ID_ANY, nullptr, pool), 0);
    ASSERT_EQ(rte_eth_tx_queue_setup(0, 0, 128, SOCKET_ID_ANY, nullptr), 0);
    ASSERT_EQ(rte_eth_dev_start(0), 0);
    rte_mbuf* burst[32];
    const uint16_t received = rte_eth_rx_burst(0, 0, burst, 32);
    EXPECT_GT(received, 0u);
    for (uint16_t i = 0; i < received; ++i) {
        EXPECT_EQ(rte_pktmbuf_pkt_len(burst[i]), 64u);
        rte_pktmbuf_free(burst[i]);
    }
    rte_eth_dev_stop(0);
    rte_eth_dev_close(0);

    auto again = start_eal(options);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().find("already started"), std::string::npos);
}

}  // namespace
}  // namespace tl::dpdk
