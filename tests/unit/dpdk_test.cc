// Proves the DPDK driver on this machine (no hugepages, no NIC, vdevs only):
// - the EAL starts once per process (a second start is refused) with lcore 0
//   floating over the process's CPUs (--lcores=0@(…), never -l);
// - ports open on an EAL-probed vdev (net_null), on hot-plugged ones (net_ring
//   loopback, net_pcap replaying a pcap fixture written here), reopen after
//   close, and fail with messages naming the device;
// - receive returns exactly the frames sent, byte for byte, per queue, from
//   threads that registered themselves; multi-segment frames are counted and
//   dropped (a jumbo frame in the pcap fixture, and a chained mbuf injected
//   into net_ring's RX ring); release returns
//   every mbuf to the pool (mempool counts); transmit into net_pcap writes the
//   frames to its tx_pcap file; stats count;
// - the vdevs have no hardware timestamps: the fallback (0) is what runs here;
// - tsc_clock: deterministic samples check the rate, forward steps and the
//   slew after a backward step; the live clock stays within a generous bound
//   of CLOCK_REALTIME and never goes backwards across recalibrate().
// One EAL per process: every test that needs it calls eal() first.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latch>
#include <thread>

#include "dpdk/eal.h"
#include "dpdk/port.h"
#include "dpdk/tsc_clock.h"

namespace tl::dpdk {
namespace {

using bytes = std::vector<std::byte>;

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

#define REQUIRE_EAL()                                 \
    do {                                              \
        const auto& started = eal();                  \
        ASSERT_TRUE(started.ok()) << started.error(); \
    } while (false)

// Removes the scratch directory when the binary ends.
class scratch_cleanup : public ::testing::Environment {
public:
    void TearDown() override;
};

std::filesystem::path scratch_dir() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("tidelog_dpdk_test_" + std::to_string(getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

void scratch_cleanup::TearDown() {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir(), ignored);
}
[[maybe_unused]] auto* const scratch_environment =
    ::testing::AddGlobalTestEnvironment(new scratch_cleanup);

// A UDP-ish frame whose bytes encode `seed`, so that every frame differs.
bytes make_frame(size_t length, unsigned seed) {
    bytes frame(length);
    for (size_t i = 0; i < length; ++i) frame[i] = std::byte(static_cast<uint8_t>(seed * 31 + i));
    return frame;
}

// pcap by hand: 24-byte global header, then (ts_sec, ts_frac, caplen, len) + data.
void write_pcap(const std::filesystem::path& path, const std::vector<bytes>& frames) {
    std::ofstream out(path, std::ios::binary);
    auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
    u32(0xa1b2c3d4);  // microsecond timestamps, little-endian
    u16(2);
    u16(4);
    u32(0);
    u32(0);
    u32(65535);
    u32(1);  // DLT_EN10MB
    uint32_t usec = 0;
    for (const auto& frame : frames) {
        u32(1'700'000'000);
        u32(usec++);
        u32(static_cast<uint32_t>(frame.size()));
        u32(static_cast<uint32_t>(frame.size()));
        out.write(reinterpret_cast<const char*>(frame.data()),
                  static_cast<std::streamsize>(frame.size()));
    }
}

std::vector<bytes> read_pcap(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<bytes> frames;
    char header[24];
    if (!in.read(header, sizeof(header))) return frames;
    uint32_t magic = 0;
    std::memcpy(&magic, header, 4);
    if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) return frames;  // µs or ns, little-endian
    uint32_t record[4];
    while (in.read(reinterpret_cast<char*>(record), sizeof(record))) {
        bytes frame(record[2]);
        in.read(reinterpret_cast<char*>(frame.data()), record[2]);
        frames.push_back(std::move(frame));
    }
    return frames;
}

bytes copy_of(std::span<const std::byte> frame) {
    return bytes(frame.begin(), frame.end());
}

// Receives until `want` frames arrived or the queue stayed empty for a while.
std::vector<bytes> receive_frames(port& p, uint16_t queue, size_t want) {
    std::vector<bytes> got;
    rx_burst burst;
    for (int idle = 0; got.size() < want && idle < 1000;) {
        if (p.receive(queue, burst) == 0) {
            ++idle;
            continue;
        }
        for (uint16_t i = 0; i < burst.count; ++i) {
            got.push_back(copy_of(burst.frames[i]));
            EXPECT_EQ(burst.hardware_ns[i], 0u) << "these vdevs have no hardware timestamps";
        }
        port::release(burst);
        EXPECT_EQ(burst.count, 0u);
    }
    return got;
}

std::vector<std::span<const std::byte>> spans(const std::vector<bytes>& frames) {
    return {frames.begin(), frames.end()};
}

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

// --- ports -------------------------------------------------------------------

TEST(dpdk, opens_an_eal_probed_null_vdev_with_rss_and_reopens_it_after_close) {
    REQUIRE_EAL();
    for (int round = 0; round < 2; ++round) {  // round 1 re-probes the closed vdev
        port_options options;
        options.device = "net_null0,size=64";
        options.rx_queues = 2;
        options.rx_descriptors = 128;
        options.mbufs_per_queue = 1023;
        auto opened = port::open(options);
        ASSERT_TRUE(opened.ok()) << opened.error();
        port& p = **opened;
        EXPECT_EQ(p.rx_queue_count(), 2u);
        EXPECT_TRUE(p.rss_enabled()) << "net_null advertises RSS";
        EXPECT_FALSE(p.has_hardware_timestamps());
        EXPECT_EQ(p.mbuf_capacity(), 2 * 1023u);
        for (uint16_t q = 0; q < 2; ++q) {
            rx_burst burst;
            ASSERT_EQ(p.receive(q, burst, 16), 16u);
            for (uint16_t i = 0; i < burst.count; ++i) EXPECT_EQ(burst.frames[i].size(), 64u);
            EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity() - 16);
            port::release(burst);
            EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity());
        }
        const port_stats stats = p.stats();
        EXPECT_EQ(stats.packets, 32u);
        ASSERT_EQ(stats.queue_packets.size(), 2u);
        EXPECT_EQ(stats.queue_packets[0], 16u);
        EXPECT_EQ(stats.queue_packets[1], 16u);
    }
}

TEST(dpdk, ring_loopback_returns_exactly_the_frames_sent_per_queue) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring0";
    options.rx_queues = 2;
    options.tx_queues = 2;
    options.rx_descriptors = 256;
    options.tx_descriptors = 256;
    options.mbufs_per_queue = 1023;
    auto opened = port::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error();
    port& p = **opened;
    EXPECT_FALSE(p.rss_enabled()) << "net_ring has no RSS";
    EXPECT_FALSE(p.has_hardware_timestamps());
    EXPECT_EQ(p.mbuf_capacity(), 2 * 1023u + 2 * (256u + max_burst));

    std::vector<bytes> sent[2];
    for (unsigned i = 0; i < 100; ++i) sent[0].push_back(make_frame(60 + i, i));
    for (unsigned i = 0; i < 7; ++i) sent[1].push_back(make_frame(1500 - i, 1000 + i));
    for (uint16_t q = 0; q < 2; ++q) {
        const auto frames = spans(sent[q]);
        EXPECT_EQ(p.transmit(q, frames), sent[q].size());
    }
    EXPECT_EQ(receive_frames(p, 1, 7), sent[1]);
    EXPECT_EQ(receive_frames(p, 0, 100), sent[0]);
    EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity()) << "every mbuf is back in the pool";

    const port_stats stats = p.stats();
    EXPECT_EQ(stats.packets, 107u);
    EXPECT_EQ(stats.tx_packets, 107u);
    ASSERT_EQ(stats.queue_packets.size(), 2u);
    EXPECT_EQ(stats.queue_packets[0], 100u);
    EXPECT_EQ(stats.queue_packets[1], 7u);
    EXPECT_EQ(stats.multi_segment_dropped, 0u);

    // A frame larger than an mbuf stops transmit: only the leading frames go.
    const std::vector<bytes> too_big = {make_frame(64, 1), make_frame(4000, 2), make_frame(64, 3)};
    const auto frames = spans(too_big);
    EXPECT_EQ(p.transmit(0, frames), 1u);
    EXPECT_EQ(receive_frames(p, 0, 1).size(), 1u);
    EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity());
}

TEST(dpdk, registered_threads_own_one_queue_each) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring2";
    options.rx_queues = 4;
    options.tx_queues = 4;
    options.rx_descriptors = 256;
    options.tx_descriptors = 256;
    options.mbufs_per_queue = 1023;
    auto opened = port::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error();
    port& p = **opened;

    constexpr unsigned rounds = 200;
    std::vector<std::thread> shards;
    std::vector<unsigned> received(4, 0);
    std::vector<unsigned> lcores(4, LCORE_ID_ANY);
    std::vector<std::string> errors(4);
    std::latch all_registered(4);  // so that no lcore id is given back and reused early
    for (uint16_t q = 0; q < 4; ++q) {
        shards.emplace_back([&, q] {
            if (auto registered = register_thread(); !registered.ok()) {
                errors[q] = registered.error();
                return;
            }
            if (!register_thread().ok()) errors[q] = "second register_thread failed";
            lcores[q] = rte_lcore_id();
            all_registered.arrive_and_wait();
            for (unsigned r = 0; r < rounds; ++r) {
                const std::vector<bytes> frames = {make_frame(64, q * rounds + r),
                                                   make_frame(128, q)};
                const auto views = spans(frames);
                if (p.transmit(q, views) != 2) errors[q] = "transmit fell short";
                const auto got = receive_frames(p, q, 2);
                if (got != frames) errors[q] = "received other frames than sent";
                received[q] += static_cast<unsigned>(got.size());
            }
            unregister_thread();
            if (rte_lcore_id() != LCORE_ID_ANY) errors[q] = "still registered";
        });
    }
    for (auto& shard : shards) shard.join();
    for (uint16_t q = 0; q < 4; ++q) {
        EXPECT_EQ(errors[q], "") << "queue " << q;
        EXPECT_EQ(received[q], 2 * rounds);
        EXPECT_NE(lcores[q], LCORE_ID_ANY);
        EXPECT_NE(lcores[q], 0u);
    }
    std::sort(lcores.begin(), lcores.end());
    EXPECT_EQ(std::unique(lcores.begin(), lcores.end()), lcores.end()) << "distinct lcore ids";
    EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity());
    EXPECT_EQ(p.stats().packets, 4 * 2 * rounds);
}

TEST(dpdk, a_multi_segment_frame_is_counted_and_freed) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring3";
    options.rx_descriptors = 128;
    options.mbufs_per_queue = 511;
    auto opened = port::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error();
    port& p = **opened;

    // net_ring's RX queue 0 dequeues from this ring; inject mbufs of our own.
    rte_ring* ring = rte_ring_lookup("ETH_RXTX0_net_ring3");
    ASSERT_NE(ring, nullptr);
    rte_mempool* pool =
        rte_pktmbuf_pool_create("test_chain", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool, nullptr);
    rte_mbuf* head = rte_pktmbuf_alloc(pool);
    rte_mbuf* tail = rte_pktmbuf_alloc(pool);
    rte_mbuf* single = rte_pktmbuf_alloc(pool);
    ASSERT_TRUE(head && tail && single);
    std::memset(rte_pktmbuf_append(head, 100), 1, 100);
    std::memset(rte_pktmbuf_append(tail, 50), 2, 50);
    ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
    std::memset(rte_pktmbuf_append(single, 80), 3, 80);
    void* injected[] = {head, single};
    ASSERT_EQ(rte_ring_enqueue_bulk(ring, injected, 2, nullptr), 2u);

    rx_burst burst;
    ASSERT_EQ(p.receive(0, burst), 1u);
    EXPECT_EQ(copy_of(burst.frames[0]), bytes(80, std::byte{3}));
    EXPECT_EQ(rte_mempool_avail_count(pool), 63u - 1) << "the chain went back at once";
    port::release(burst);
    EXPECT_EQ(rte_mempool_avail_count(pool), 63u);
    EXPECT_EQ(p.stats().multi_segment_dropped, 1u);
    rte_mempool_free(pool);
}

TEST(dpdk, pcap_replays_a_fixture_and_writes_what_it_transmits) {
    REQUIRE_EAL();
    const auto in = scratch_dir() / "in.pcap";
    const auto out = scratch_dir() / "out.pcap";
    std::vector<bytes> fixture;
    for (unsigned i = 0; i < 20; ++i) fixture.push_back(make_frame(42 + i * 70, i));
    // net_pcap chains mbufs for a frame larger than one (2048 bytes of room):
    // receive drops it and counts it.
    auto with_jumbo = fixture;
    with_jumbo.insert(with_jumbo.begin() + 10, make_frame(3000, 99));
    write_pcap(in, with_jumbo);
    const std::vector<bytes> to_send = {make_frame(64, 7), make_frame(1514, 8), make_frame(90, 9)};
    {
        port_options options;
        options.device = "net_pcap0,rx_pcap=" + in.string() + ",tx_pcap=" + out.string();
        options.tx_queues = 1;
        options.rx_descriptors = 128;
        options.tx_descriptors = 128;
        options.mbufs_per_queue = 511;
        auto opened = port::open(options);
        ASSERT_TRUE(opened.ok()) << opened.error();
        port& p = **opened;
        EXPECT_FALSE(p.has_hardware_timestamps());
        EXPECT_EQ(receive_frames(p, 0, fixture.size()), fixture);
        EXPECT_EQ(receive_frames(p, 0, 1).size(), 0u) << "the file is replayed once";
        EXPECT_EQ(p.mbufs_free(), p.mbuf_capacity());
        const port_stats stats = p.stats();
        EXPECT_EQ(stats.packets, with_jumbo.size());
        EXPECT_EQ(stats.multi_segment_dropped, 1u);
        size_t fixture_bytes = 0;
        for (const auto& f : with_jumbo) fixture_bytes += f.size();
        EXPECT_EQ(stats.bytes, fixture_bytes);

        const auto frames = spans(to_send);
        EXPECT_EQ(p.transmit(0, frames), to_send.size());
        EXPECT_EQ(p.stats().tx_packets, to_send.size());
    }  // closing the port flushes and closes tx_pcap
    EXPECT_EQ(read_pcap(out), to_send);
}

TEST(dpdk, the_same_device_cannot_be_open_twice) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring4";
    options.rx_descriptors = 128;
    options.mbufs_per_queue = 511;
    auto first = port::open(options);
    ASSERT_TRUE(first.ok()) << first.error();
    auto second = port::open(options);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().find("net_ring4"), std::string::npos) << second.error();
    EXPECT_NE(second.error().find("already open"), std::string::npos) << second.error();
    first = failure{std::string("closed")};  // closes net_ring4 and removes the vdev
    auto third = port::open(options);
    EXPECT_TRUE(third.ok()) << third.error();
}

TEST(dpdk, a_reopened_ring_returns_nothing_of_the_closed_port) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring6";
    options.tx_queues = 1;
    options.rx_descriptors = 128;
    options.tx_descriptors = 128;
    options.mbufs_per_queue = 511;
    const std::vector<bytes> frames = {make_frame(64, 1), make_frame(64, 2)};
    {
        auto opened = port::open(options);
        ASSERT_TRUE(opened.ok()) << opened.error();
        const auto views = spans(frames);
        ASSERT_EQ((*opened)->transmit(0, views), 2u);
    }  // closed with two frames (of its pool) in the loopback ring
    // net_ring frees the rings of its configured RX queues on close (the
    // others stay, and re-probing logs "RING: Cannot reserve memory" as it
    // falls back to attaching to them), so nothing stale comes back.
    auto reopened = port::open(options);
    ASSERT_TRUE(reopened.ok()) << reopened.error();
    rx_burst burst;
    EXPECT_EQ((*reopened)->receive(0, burst), 0u) << "no mbufs of a freed pool";
}

TEST(dpdk, errors_name_the_device) {
    REQUIRE_EAL();
    auto expect_error = [](port_options options, std::string_view also) {
        auto opened = port::open(options);
        ASSERT_FALSE(opened.ok()) << options.device;
        EXPECT_NE(opened.error().find(options.device), std::string::npos) << opened.error();
        EXPECT_NE(opened.error().find(also), std::string::npos) << opened.error();
    };
    port_options options;
    options.rx_descriptors = 128;
    options.mbufs_per_queue = 511;
    options.device = "net_bogus0";
    expect_error(options, "no DPDK driver for this vdev name");
    options.device = "0000:03:00.0";
    expect_error(options, "pci_devices");
    options.device = "not a device";
    expect_error(options, "neither a vdev");
    options.device = "net_pcap9,rx_pcap=" + (scratch_dir() / "missing.pcap").string();
    expect_error(options, "rte_vdev_init failed");
    options.device = "net_ring5";
    options.rx_queues = 17;  // net_ring has 16
    expect_error(options, "queues");
    options.rx_queues = 0;  // a send-only port needs a TX queue
    expect_error(options, "not both 0");
    options.rx_queues = 1;
    options.mbufs_per_queue = 100;  // fewer than the RX ring holds
    expect_error(options, "mbufs_per_queue");
    options.mbufs_per_queue = 511;
    auto fine = port::open(options);  // the failed attempts left nothing behind
    EXPECT_TRUE(fine.ok()) << fine.error();
}

TEST(dpdk, a_send_only_port_transmits_and_reports_its_link) {
    REQUIRE_EAL();
    port_options options;
    options.device = "net_ring6";
    options.rx_queues = 0;
    options.tx_queues = 1;
    options.tx_descriptors = 128;
    auto opened = port::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error();
    port& p = **opened;
    EXPECT_TRUE(p.link_up());
    const std::vector<bytes> to_send = {make_frame(64, 1), make_frame(128, 2)};
    const auto frames = spans(to_send);
    EXPECT_EQ(p.transmit(0, frames), to_send.size());
    EXPECT_EQ(p.stats().tx_packets, to_send.size());
}

// --- tsc_clock ---------------------------------------------------------------

constexpr uint64_t epoch_ns = 1'700'000'000'000'000'000;

TEST(tsc_clock, converts_ticks_at_the_measured_rate) {
    // 2.5 GHz: 2.5 ticks per ns.
    const tsc_clock clock({1000, epoch_ns, 50},
                          {1000 + 2'500'000'000, epoch_ns + 1'000'000'000, 50 + 1'000'000'000});
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
