// Where generated frames go. A sink takes whole Ethernet frames in batches,
// in order, from one thread; implementations: pcap_file_sink (a capture
// file), udp_socket_sink (the kernel's UDP stack, payload only) and, in
// builds with DPDK, dpdk_sink.h's vdev sender (tl::dpdk::port::transmit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "perf/feedgen/frame.h"

namespace tl::feedgen {

struct timed_frame {
    std::span<const std::byte> bytes;  // Ethernet II frame without FCS
    int64_t time_ns = 0;               // scheduled send time, ns since the Unix epoch
};

// Errors are text: this is a tool's library, and every error ends in a message
// to the user (there is nothing to retry).
class frame_sink {
public:
    virtual ~frame_sink() = default;
    // Writes (sends) every frame of `frames`, in order. The frames' bytes are
    // valid only during the call. Called once per batch, never per frame.
    [[nodiscard]] virtual result<void, std::string> write(std::span<const timed_frame> frames) = 0;
    // Flushes and closes; no write() after it.
    [[nodiscard]] virtual result<void, std::string> finish() = 0;
    // For the manifest: "pcap:FILE", "udp:ADDR".
    virtual std::string describe() const = 0;
};

enum class pcap_precision { microseconds, nanoseconds };

// A classic pcap file (LINKTYPE_ETHERNET, snap length 65535), written with
// stdio and a 1 MiB buffer; record timestamps are the frames' time_ns.
result<std::unique_ptr<frame_sink>, std::string> open_pcap_file_sink(const std::string& path,
                                                                     pcap_precision precision);

enum class source_port_binding {
    frame_port,  // bind each socket to the frames' UDP source port (the flows keep their ports)
    any_port,    // let the kernel choose (tests that run in parallel)
};

struct udp_socket_options {
    std::optional<ipv4_address> interface_address;  // bind + IP_MULTICAST_IF
    uint8_t ttl = 1;                                // IP_TTL and IP_MULTICAST_TTL
    source_port_binding binding = source_port_binding::frame_port;
};

// Sends each frame's UDP payload to the frame's destination address and port
// through a kernel UDP socket (one socket per source port), with sendmmsg in
// batches of the write() call's size. Blocks while the kernel's buffer is full.
result<std::unique_ptr<frame_sink>, std::string> open_udp_socket_sink(
    const udp_socket_options& options);

}  // namespace tl::feedgen
