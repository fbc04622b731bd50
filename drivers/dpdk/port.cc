#include "dpdk/port.h"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pci.h>
#include <rte_prefetch.h>
#include <time.h>

#include <algorithm>
#include <bitset>
#include <cstring>
#include <mutex>

#include <absl/strings/str_format.h>

#include "base/assert.h"
#include "dpdk/eal.h"

namespace tl::dpdk {
namespace {

__extension__ using int128 = __int128;
__extension__ using uint128 = unsigned __int128;

// Ports open in this process (one port object per ethdev port), and the
// control-plane lock around probing, opening and closing.
std::mutex control_mutex;
std::bitset<RTE_MAX_ETHPORTS> open_ports;
std::atomic<unsigned> pool_generation{0};

constexpr uint64_t rss_fields =
    RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
constexpr unsigned mempool_cache_max = 256;
constexpr uint64_t hardware_clock_calibration_ns = 10'000'000;

uint64_t realtime_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string dpdk_error(int negative_errno) {
    return rte_strerror(-negative_errno);
}

uint64_t to_ns(const port::hardware_clock& clock, uint64_t ticks) noexcept {
    const int128 delta = static_cast<int128>(ticks) - static_cast<int128>(clock.anchor_ticks);
    return static_cast<uint64_t>(static_cast<int128>(clock.anchor_ns) +
                                 ((delta * static_cast<int128>(clock.mult)) >> 32));
}

// The RX loop, chosen once per burst: with or without reading timestamps.
template <bool with_timestamps>
uint16_t fill(rte_mbuf* const* mbufs, uint16_t received, rx_burst& burst, uint64_t timestamp_flag,
              const port::hardware_clock& clock, port::queue_counters& counters) noexcept {
    uint16_t kept = 0;
    uint16_t multi_segment = 0;
    for (uint16_t i = 0; i < received; ++i) {
        rte_mbuf* mbuf = mbufs[i];
        const auto* data = rte_pktmbuf_mtod(mbuf, const std::byte*);
        rte_prefetch0(data);  // the decoder reads the headers next
        if (mbuf->nb_segs != 1) [[unlikely]] {
            rte_pktmbuf_free(mbuf);
            ++multi_segment;
            continue;
        }
        burst.frames[kept] = {data, mbuf->data_len};
        burst.handles[kept] = mbuf;
        if constexpr (with_timestamps) {
            burst.hardware_ns[kept] =
                (mbuf->ol_flags & timestamp_flag) != 0
                    ? to_ns(clock, *RTE_MBUF_DYNFIELD(mbuf, clock.field_offset, uint64_t*))
                    : 0;
        } else {
            burst.hardware_ns[kept] = 0;
        }
        ++kept;
    }
    if (multi_segment != 0) [[unlikely]] {
        counters.multi_segment_dropped.store(
            counters.multi_segment_dropped.load(std::memory_order_relaxed) + multi_segment,
            std::memory_order_relaxed);
    }
    burst.count = kept;
    return kept;
}

}  // namespace

result<std::unique_ptr<port>, std::string> port::open(const port_options& options) {
    auto fail = [&](const std::string& what) {
        return failure{absl::StrFormat("dpdk port %s: %s", options.device, what)};
    };
    if (!eal_running()) return fail("the DPDK EAL is not started");
    if ((options.rx_queues == 0 && options.tx_queues == 0) || options.rx_queues > max_queues ||
        options.tx_queues > max_queues) {
        return fail(absl::StrFormat(
            "%u RX and %u TX queues asked; 0..%u RX and 0..%u TX allowed, not both 0",
            options.rx_queues, options.tx_queues, max_queues, max_queues));
    }
    if (options.mbufs_per_queue <= unsigned{options.rx_descriptors} + max_burst) {
        return fail(absl::StrFormat("mbufs_per_queue %u must exceed rx_descriptors %u + %u",
                                    options.mbufs_per_queue, options.rx_descriptors, max_burst));
    }

    // Declared before the lock: when open fails, ~port() undoes what was
    // done and takes the lock itself.
    std::unique_ptr<port> p(new port());
    std::lock_guard lock(control_mutex);
    p->_device = options.device;
    p->_name = std::string(device_name(options.device));
    uint16_t id = 0;
    if (is_vdev(options.device)) {
        if (rte_eth_dev_get_port_by_name(p->_name.c_str(), &id) != 0) {
            const std::string arguments(device_arguments(options.device));
            int rc = rte_vdev_init(p->_name.c_str(), arguments.c_str());
            if (rc == -EEXIST) {
                // Probed before (on the EAL command line) and its port closed
                // since: remove it and probe it again with our arguments.
                rte_vdev_uninit(p->_name.c_str());
                rc = rte_vdev_init(p->_name.c_str(), arguments.c_str());
            }
            if (rc == -1 || rc > 0) {
                // rte_vdev_init says -1 both when no driver's name is a
                // prefix of the vdev's and when the driver's probe failed.
                return fail(
                    "rte_vdev_init failed: no DPDK driver for this vdev name, or the driver "
                    "refused its arguments (the DPDK log says which)");
            }
            if (rc < 0) return fail("rte_vdev_init failed: " + dpdk_error(rc));
            p->_hot_plugged = true;
            if (rte_eth_dev_get_port_by_name(p->_name.c_str(), &id) != 0) {
                return fail("the vdev probed but made no ethdev port named " + p->_name);
            }
        }
    } else {
        rte_pci_addr address{};
        if (rte_pci_addr_parse(p->_name.c_str(), &address) != 0) {
            return fail("neither a vdev (net_*, eth_*) nor a PCI address");
        }
        char canonical[PCI_PRI_STR_SIZE];
        rte_pci_device_name(&address, canonical, sizeof(canonical));
        if (rte_eth_dev_get_port_by_name(canonical, &id) != 0) {
            return fail(
                "no probed ethdev port for this PCI device (list it in "
                "eal_options::pci_devices and bind it to a DPDK driver such as vfio-pci)");
        }
    }
    if (open_ports.test(id)) {
        p->_hot_plugged = false;  // someone else's
        return fail("already open in this process");
    }
    open_ports.set(id);
    p->_port_id = id;
    p->_has_port = true;
    p->_rx_queues = options.rx_queues;
    p->_tx_queues = options.tx_queues;
    if (auto configured = p->configure(options); !configured.ok()) {
        return fail(configured.error());
    }
    return p;
}

result<void, std::string> port::configure(const port_options& options) {
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(_port_id, &info); rc != 0) {
        return failure{"rte_eth_dev_info_get failed: " + dpdk_error(rc)};
    }
    if (_rx_queues > info.max_rx_queues || _tx_queues > info.max_tx_queues) {
        return failure{absl::StrFormat("%u RX and %u TX queues asked; the device has %u and %u",
                                       _rx_queues, _tx_queues, info.max_rx_queues,
                                       info.max_tx_queues)};
    }
    rte_eth_conf conf{};
    const uint64_t hash = rss_fields & info.flow_type_rss_offloads;
    if (_rx_queues > 1 && hash != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the device's default key
        conf.rx_adv_conf.rss_conf.rss_hf = hash;
        _rss_enabled = true;
    }
    bool timestamps =
        options.hardware_timestamps && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) != 0;
    if (timestamps) {
        if (rte_mbuf_dyn_rx_timestamp_register(&_clock.field_offset, &_timestamp_flag) != 0) {
            return failure{"registering the RX timestamp mbuf field failed: " +
                           std::string(rte_strerror(rte_errno))};
        }
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    }
    if (int rc = rte_eth_dev_configure(_port_id, _rx_queues, _tx_queues, &conf); rc != 0) {
        return failure{"rte_eth_dev_configure failed: " + dpdk_error(rc)};
    }
    uint16_t rx_descriptors = options.rx_descriptors;
    uint16_t tx_descriptors = options.tx_descriptors;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(_port_id, &rx_descriptors, &tx_descriptors);
        rc != 0) {
        return failure{"rte_eth_dev_adjust_nb_rx_tx_desc failed: " + dpdk_error(rc)};
    }

    const unsigned mbufs = unsigned{_rx_queues} * options.mbufs_per_queue +
                           unsigned{_tx_queues} * (tx_descriptors + max_burst);
    const std::string pool_name = absl::StrFormat("tl_port%u_%u", _port_id, pool_generation++);
    int socket = rte_eth_dev_socket_id(_port_id);
    if (socket < 0) socket = SOCKET_ID_ANY;
    rte_mempool* pool =
        rte_pktmbuf_pool_create(pool_name.c_str(), mbufs, std::min(mempool_cache_max, mbufs / 2), 0,
                                RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (pool == nullptr) {
        return failure{
            absl::StrFormat("creating a mempool of %u mbufs failed: %s (without hugepages, raise "
                            "eal_options::memory_mb: about 2 × 2.4 KB per mbuf)",
                            mbufs, rte_strerror(rte_errno))};
    }
    _pool = pool;
    for (uint16_t q = 0; q < _rx_queues; ++q) {
        if (int rc = rte_eth_rx_queue_setup(_port_id, q, rx_descriptors, socket, nullptr, pool);
            rc != 0) {
            return failure{absl::StrFormat("RX queue %u setup failed: %s", q, dpdk_error(rc))};
        }
    }
    for (uint16_t q = 0; q < _tx_queues; ++q) {
        if (int rc = rte_eth_tx_queue_setup(_port_id, q, tx_descriptors, socket, nullptr);
            rc != 0) {
            return failure{absl::StrFormat("TX queue %u setup failed: %s", q, dpdk_error(rc))};
        }
    }
    _counters = std::make_unique<queue_counters[]>(_rx_queues);
    if (int rc = rte_eth_dev_start(_port_id); rc != 0) {
        return failure{"rte_eth_dev_start failed: " + dpdk_error(rc)};
    }
    _started = true;
    if (options.promiscuous) {
        if (int rc = rte_eth_promiscuous_enable(_port_id); rc != 0 && rc != -ENOTSUP) {
            return failure{"enabling promiscuous mode failed: " + dpdk_error(rc)};
        }
    }
    if (options.all_multicast) {
        if (int rc = rte_eth_allmulticast_enable(_port_id); rc != 0 && rc != -ENOTSUP) {
            return failure{"enabling all-multicast failed: " + dpdk_error(rc)};
        }
    }
    if (timestamps) calibrate_hardware_clock();
    return {};
}

// Best effort. Devices that can read their clock (rte_eth_read_clock) count
// in ticks of unknown rate: measure it against CLOCK_REALTIME over 10 ms.
// Devices that cannot are assumed to stamp ns since the Unix epoch. Drift of
// the device clock after open() is not corrected.
void port::calibrate_hardware_clock() noexcept {
    uint64_t first_ticks = 0;
    if (rte_eth_read_clock(_port_id, &first_ticks) != 0) {
        _clock.anchor_ticks = 0;
        _clock.anchor_ns = 0;
        _clock.mult = uint64_t{1} << 32;
        return;
    }
    const uint64_t first_ns = realtime_ns();
    const timespec pause{0, static_cast<long>(hardware_clock_calibration_ns)};
    nanosleep(&pause, nullptr);
    uint64_t second_ticks = 0;
    const int rc = rte_eth_read_clock(_port_id, &second_ticks);
    const uint64_t second_ns = realtime_ns();
    _clock.anchor_ticks = second_ticks;
    _clock.anchor_ns = second_ns;
    if (rc != 0 || second_ticks <= first_ticks) {
        _clock.mult = uint64_t{1} << 32;
        return;
    }
    _clock.mult = static_cast<uint64_t>((static_cast<uint128>(second_ns - first_ns) << 32) /
                                        (second_ticks - first_ticks));
}

port::~port() {
    std::lock_guard lock(control_mutex);
    if (_has_port) {
        if (_started) rte_eth_dev_stop(_port_id);
        rte_eth_dev_close(_port_id);  // releases the ethdev port
        open_ports.reset(_port_id);
    }
    if (_hot_plugged) rte_vdev_uninit(_name.c_str());
    if (_pool != nullptr) rte_mempool_free(static_cast<rte_mempool*>(_pool));
}

uint16_t port::receive(uint16_t queue, rx_burst& burst, uint16_t max_frames) noexcept {
    TL_ASSERT(queue < _rx_queues, "receive on a queue the port does not have");
    TL_ASSERT(burst.count == 0, "receive into a burst that was not released");
    rte_mbuf* mbufs[max_burst];
    const uint16_t received =
        rte_eth_rx_burst(_port_id, queue, mbufs, std::min(max_frames, max_burst));
    if (received == 0) return 0;
    return _timestamp_flag == 0
               ? fill<false>(mbufs, received, burst, 0, _clock, _counters[queue])
               : fill<true>(mbufs, received, burst, _timestamp_flag, _clock, _counters[queue]);
}

void port::release(rx_burst& burst) noexcept {
    TL_ASSERT(burst.count <= max_burst);
    if (burst.count == 0) return;
    rte_mbuf* mbufs[max_burst];
    for (uint16_t i = 0; i < burst.count; ++i) mbufs[i] = static_cast<rte_mbuf*>(burst.handles[i]);
    rte_pktmbuf_free_bulk(mbufs, burst.count);
    burst.count = 0;
}

uint16_t port::transmit(uint16_t queue,
                        std::span<const std::span<const std::byte>> frames) noexcept {
    TL_ASSERT(queue < _tx_queues, "transmit on a queue the port does not have");
    TL_ASSERT(frames.size() <= UINT16_MAX, "at most 65535 frames per transmit");
    auto* pool = static_cast<rte_mempool*>(_pool);
    uint16_t queued = 0;
    while (queued < frames.size()) {
        const auto chunk =
            static_cast<uint16_t>(std::min<size_t>(frames.size() - queued, max_burst));
        rte_mbuf* mbufs[max_burst];
        if (rte_pktmbuf_alloc_bulk(pool, mbufs, chunk) != 0) break;
        uint16_t filled = 0;
        for (; filled < chunk; ++filled) {
            const auto frame = frames[queued + filled];
            if (frame.size() > rte_pktmbuf_tailroom(mbufs[filled])) break;
            char* data = rte_pktmbuf_append(mbufs[filled], static_cast<uint16_t>(frame.size()));
            std::memcpy(data, frame.data(), frame.size());
        }
        const uint16_t sent = rte_eth_tx_burst(_port_id, queue, mbufs, filled);
        if (sent < chunk) rte_pktmbuf_free_bulk(mbufs + sent, chunk - sent);
        queued = static_cast<uint16_t>(queued + sent);
        if (sent < chunk) break;
    }
    return queued;
}

port_stats port::stats() const {
    port_stats out;
    rte_eth_stats s{};
    if (rte_eth_stats_get(_port_id, &s) == 0) {
        out.packets = s.ipackets;
        out.bytes = s.ibytes;
        out.missed = s.imissed;
        out.errors = s.ierrors;
        out.no_mbuf = s.rx_nombuf;
        out.tx_packets = s.opackets;
        out.tx_bytes = s.obytes;
        out.tx_errors = s.oerrors;
        const uint16_t counted = std::min<uint16_t>(_rx_queues, RTE_ETHDEV_QUEUE_STAT_CNTRS);
        out.queue_packets.assign(s.q_ipackets, s.q_ipackets + counted);
    }
    for (uint16_t q = 0; q < _rx_queues; ++q) {
        out.multi_segment_dropped +=
            _counters[q].multi_segment_dropped.load(std::memory_order_relaxed);
    }
    return out;
}

bool port::link_up() const noexcept {
    rte_eth_link link{};
    return rte_eth_link_get_nowait(_port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

unsigned port::mbuf_capacity() const noexcept {
    return static_cast<const rte_mempool*>(_pool)->size;
}

unsigned port::mbufs_free() const noexcept {
    return rte_mempool_avail_count(static_cast<const rte_mempool*>(_pool));
}

}  // namespace tl::dpdk
