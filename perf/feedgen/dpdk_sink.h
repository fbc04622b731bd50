// A DPDK port as a feedgen sink (`feedgen --dpdk-vdev DEVICE`): each batch's
// frames are copied into mbufs and sent on TX queue 0 with
// tl::dpdk::port::transmit. Built only when DPDK is found (TIDELOG_HAVE_DPDK);
// it uses drivers/dpdk's DPDK-free API, so no DPDK header is included here.
//
// A frame the port does not take (TX ring full: the receiver is behind, or
// the mempool is empty) is dropped and counted, as a NIC would drop it, unless
// the policy is `retry`: then the sender spins until the port takes it (a
// lossless sender whose offered rate bends to the receiver's).
//
// Threads: the process starts the EAL once (open_dpdk_sink does it) and the
// thread that opened the sink is the only one that may write to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "perf/feedgen/sink.h"

namespace tl::feedgen {

enum class dpdk_full_policy : uint8_t {
    drop,   // count the frames the port did not take, go on
    retry,  // offer them again until the port takes them
};

struct dpdk_sink_options {
    // A vdev string: "net_memif0,role=client,socket=/tmp/x.sock,socket-abstract=no",
    // "net_pcap0,tx_pcap=/tmp/out.pcap", "net_ring0".
    std::string device;
    dpdk_full_policy when_full = dpdk_full_policy::drop;
    unsigned memory_mb = 256;  // EAL -m (virtual without hugepages)
    // open_dpdk_sink waits this long for the link to come up (memif: the
    // server has accepted the connection) before it fails.
    int64_t link_wait_ms = 10'000;
};

struct dpdk_sink_counts {
    uint64_t frames_offered = 0;   // frames written to the sink
    uint64_t frames_sent = 0;      // taken by the port (queued on its TX ring)
    uint64_t frames_dropped = 0;   // not taken (policy drop); offered = sent + dropped
    uint64_t full_retries = 0;     // transmit calls that took fewer than offered (policy retry)
    uint64_t port_tx_packets = 0;  // the device's own count (rte_eth_stats opackets) at finish
};

class dpdk_sink : public frame_sink {
public:
    ~dpdk_sink() override;
    // Counts so far; port_tx_packets once finish() has run.
    virtual dpdk_sink_counts counts() const = 0;
};

// Starts the EAL (once per process: a second sink in the same process fails),
// opens `options.device` with one TX queue (no RX queue) and waits for its link.
result<std::unique_ptr<dpdk_sink>, std::string> open_dpdk_sink(const dpdk_sink_options& options);

}  // namespace tl::feedgen
