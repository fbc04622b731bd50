// An Ethernet port (NIC or vdev) with RSS RX queues, polled in bursts.
//
// DPDK-free API: nothing here includes DPDK headers; frames are byte spans
// into mbufs that the caller holds until release().
//
// Lifetime and threads:
// - open() and ~port() are control plane: after start_eal(), any thread, not
//   concurrently with receive/transmit on the same port. Every burst must be
//   released before the port is destroyed (its mempool is freed with it).
// - receive(queue)/transmit(queue) are data plane: each queue is owned by one
//   thread (a shard), which has called register_thread(); no locks.
//   release() may run on any registered thread.
// - stats() and the mbuf counts may be read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace tl::dpdk {

// Bounds on what a port may be configured with (DPDK's own limits are lower
// for most devices; open() checks the device's).
constexpr uint16_t max_queues = 64;
constexpr uint16_t max_burst = 64;

struct port_options {
    // A vdev string ("net_pcap0,rx_pcap=/x.pcap") or a PCI address ("0000:03:00.0").
    std::string device;
    // 0 RX queues makes a send-only port (a traffic generator): a memif client
    // with RX queues asks its server for rings the server may not have.
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 0;
    uint16_t rx_descriptors = 1024;
    uint16_t tx_descriptors = 1024;
    // One mempool per port, rx_queues × mbufs_per_queue mbufs plus
    // tx_descriptors + max_burst per TX queue. Must exceed rx_descriptors +
    // max_burst: each RX ring holds rx_descriptors mbufs while it waits.
    unsigned mbufs_per_queue = 8191;
    bool promiscuous = true;
    bool all_multicast = true;
    // Enable RTE_ETH_RX_OFFLOAD_TIMESTAMP when the device offers it.
    bool hardware_timestamps = true;
};

struct port_stats {
    // From rte_eth_stats_get (what the device counts).
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t missed = 0;   // dropped by the device: RX ring full
    uint64_t errors = 0;   // erroneous frames
    uint64_t no_mbuf = 0;  // RX mbuf allocation failures
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_errors = 0;
    std::vector<uint64_t> queue_packets;  // per RX queue (at most 16 counted)
    // Counted by receive(): multi-segment frames, freed and not returned.
    uint64_t multi_segment_dropped = 0;
};

// One RX burst; frames point into mbufs owned by the burst until release().
struct rx_burst {
    uint16_t count = 0;
    std::array<std::span<const std::byte>, max_burst> frames;
    // NIC receive time in ns since the Unix epoch; 0 when the port (or the
    // frame) has none. Valid for [0, count).
    std::array<uint64_t, max_burst> hardware_ns;
    std::array<void*, max_burst> handles;  // opaque mbuf pointers
};

class port {
public:
    // After start_eal(). A vdev that is not probed yet is hot-plugged with
    // rte_vdev_init (so ports need not be on the EAL command line); a PCI
    // device must be in the EAL allow list (eal_options::pci_devices).
    // Configures the RX queues with RSS over IPv4/UDP (only when rx_queues > 1
    // and the device advertises RSS; see rss_enabled()), a mempool, starts the
    // port and sets promiscuous/all-multicast where supported. Every error
    // message names the device and carries DPDK's error text.
    static result<std::unique_ptr<port>, std::string> open(const port_options& options);

    // Stops and closes the port, removes a vdev that open() hot-plugged (a
    // later open() probes it again), frees the mempool.
    ~port();
    port(const port&) = delete;
    port& operator=(const port&) = delete;

    uint16_t id() const noexcept { return _port_id; }
    const std::string& device() const noexcept { return _device; }
    uint16_t rx_queue_count() const noexcept { return _rx_queues; }
    uint16_t tx_queue_count() const noexcept { return _tx_queues; }
    bool rss_enabled() const noexcept { return _rss_enabled; }
    bool has_hardware_timestamps() const noexcept { return _timestamp_flag != 0; }

    // Fills `burst` (which must be empty: released) with up to
    // min(max_frames, max_burst) single-segment frames from `queue`; returns
    // burst.count. Only the thread that owns `queue`. Never allocates.
    uint16_t receive(uint16_t queue, rx_burst& burst, uint16_t max_frames = max_burst) noexcept;

    // Frees every mbuf of the burst and empties it.
    static void release(rx_burst& burst) noexcept;

    // Copies each frame into a fresh mbuf and sends them on `queue` in order.
    // Returns how many leading frames were queued; the rest were not (TX ring
    // full, mempool empty, or a frame larger than an mbuf's 2048-byte room).
    // Only the thread that owns TX `queue`.
    uint16_t transmit(uint16_t queue, std::span<const std::span<const std::byte>> frames) noexcept;

    port_stats stats() const;
    // Whether the link is up now (rte_eth_link_get_nowait): a vdev such as
    // net_memif reports down until its peer has connected. Any thread.
    bool link_up() const noexcept;
    // Mbufs in the port's mempool: capacity, and how many are free right now
    // (including per-thread caches). capacity - free = held by RX rings,
    // TX rings and unreleased bursts.
    unsigned mbuf_capacity() const noexcept;
    unsigned mbufs_free() const noexcept;

    // Implementation details, public only for port.cc's helpers.
    struct hardware_clock {
        int field_offset = -1;  // the dynamic mbuf field holding the timestamp
        uint64_t anchor_ticks = 0;
        uint64_t anchor_ns = 0;
        uint64_t mult = 0;  // ns per device tick × 2^32
    };
    struct alignas(64) queue_counters {
        // Written by the queue's owner only (load + store, no RMW); read by stats().
        std::atomic<uint64_t> multi_segment_dropped{0};
    };

private:
    port() = default;
    result<void, std::string> configure(const port_options& options);
    void calibrate_hardware_clock() noexcept;

    std::string _device;
    std::string _name;  // device_name(_device)
    uint16_t _port_id = 0;
    uint16_t _rx_queues = 0;
    uint16_t _tx_queues = 0;
    bool _rss_enabled = false;
    bool _has_port = false;  // _port_id is ours: close it
    bool _hot_plugged = false;
    bool _started = false;
    void* _pool = nullptr;         // rte_mempool*
    uint64_t _timestamp_flag = 0;  // ol_flags bit set when a frame has a timestamp
    hardware_clock _clock;
    std::unique_ptr<queue_counters[]> _counters;
};

}  // namespace tl::dpdk
