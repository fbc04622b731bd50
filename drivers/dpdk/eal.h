// DPDK's Environment Abstraction Layer, started once per process.
//
// Built only when the `dpdk` meson feature finds DPDK (TIDELOG_HAVE_DPDK).
// The EAL can be initialised once per process (a second rte_eal_init fails
// even after cleanup), so start_eal() is idempotent-by-refusal: a second call
// returns an error instead of touching DPDK.
//
// Threads: the EAL runs with one lcore (0), the thread that calls start_eal(),
// and leaves it on every CPU of the process's affinity mask (`--lcores=0@(…)`,
// never `-l`), because shard threads are created later and choose their own
// CPUs. Every other thread that touches ports (receive, transmit, release)
// calls register_thread() first, so mempool per-lcore caches work for it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tl::dpdk {

struct eal_options {
    // Virtual devices ("net_null0", "net_pcap0,rx_pcap=f.pcap") and PCI addresses.
    // Ports can also be opened later without being listed here (see port.h):
    // vdevs are hot-plugged; PCI devices must be listed (the EAL allow list).
    std::vector<std::string> vdevs;
    std::vector<std::string> pci_devices;
    unsigned memory_mb = 256;
    enum class hugepages : uint8_t { use, none } pages = hugepages::none;
    // Unique per process unless shared configuration is off (--no-shconf).
    std::string file_prefix;
    std::string log_level = "error";
    // CPUs the calling (main) thread may run on; empty means the process's
    // current affinity mask (sched_getaffinity), which is what the broker wants.
    std::vector<unsigned> main_thread_cpus;
};

// Builds the argv that start_eal() passes to rte_eal_init (exposed for tests
// and for the start-up log).
std::vector<std::string> eal_arguments(const eal_options& options);

// `--lcores=0@(0-3,6)`: lcore 0 floats over `cpus` (sorted and compressed to
// ranges; duplicates ignored). `cpus` must not be empty.
std::string lcores_argument(std::span<const unsigned> cpus);

// The CPUs of the calling thread's affinity mask, ascending.
std::vector<unsigned> affinity_cpus();

// Starts the EAL; on failure the message names the cause (rte_errno text).
// Any thread may call it, once; that thread becomes lcore 0 (registered).
result<void, std::string> start_eal(const eal_options& options);

// True once start_eal() has succeeded in this process.
bool eal_running() noexcept;

// Ethernet ports the EAL probed (a vdev that failed to probe is not counted).
unsigned available_port_count();

// Gives the calling thread an lcore id (rte_thread_register) so that mempool
// caches and per-lcore state work on it. Idempotent per thread; the thread
// that started the EAL is already registered. Fails before start_eal() and
// when all RTE_MAX_LCORE (128) ids are taken.
result<void, std::string> register_thread();

// Gives the lcore id back if register_thread() took one for this thread
// (otherwise does nothing). Call before the thread exits; mbufs still in the
// thread's mempool cache stay there until the id is reused.
void unregister_thread() noexcept;

// The TSC frequency the EAL measured (rte_get_tsc_hz); 0 before start_eal().
uint64_t tsc_hz() noexcept;

// A device string names a vdev when it starts with "net_" or "eth_"
// ("net_pcap0,rx_pcap=/x.pcap"); anything else is taken as a PCI address.
bool is_vdev(std::string_view device) noexcept;

// The device's name: the text before the first ',' ("net_pcap0"). For a vdev
// this is also its ethdev port name.
std::string_view device_name(std::string_view device) noexcept;

// The device's arguments: the text after the first ',' (empty if none).
std::string_view device_arguments(std::string_view device) noexcept;

}  // namespace tl::dpdk
