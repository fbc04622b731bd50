// DPDK's Environment Abstraction Layer, started once per process.
//
// Built only when the `dpdk` meson feature finds DPDK (TIDELOG_HAVE_DPDK).
// The EAL can be initialised once per process (a second rte_eal_init fails
// even after cleanup), so start_eal() is idempotent-by-refusal: a second call
// returns an error instead of touching DPDK.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace tl::dpdk {

struct eal_options {
    // Virtual devices ("net_null0", "net_pcap0,rx_pcap=f.pcap") and PCI addresses.
    std::vector<std::string> vdevs;
    std::vector<std::string> pci_devices;
    unsigned memory_mb = 256;
    enum class hugepages : uint8_t { use, none } pages = hugepages::none;
    // Unique per process unless shared configuration is off (--no-shconf).
    std::string file_prefix;
    std::string log_level = "error";
};

// Builds the argv that start_eal() passes to rte_eal_init (exposed for tests
// and for the start-up log).
std::vector<std::string> eal_arguments(const eal_options& options);

// Starts the EAL; on failure the message names the cause (rte_errno text).
result<void, std::string> start_eal(const eal_options& options);

// Ethernet ports the EAL probed (a vdev that failed to probe is not counted).
unsigned available_port_count();

}  // namespace tl::dpdk
