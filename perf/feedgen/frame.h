// Ethernet II / IPv4 / UDP frames for the feed generator: addresses, header
// construction in front of a payload already in place, and a strict parser
// that the tests and the socket sender use to read frames back.
//
// Contracts: frames are plain bytes, no VLAN tag, no IPv4 options, never
// fragmented; payloads are at most `max_udp_payload_bytes` (9000-byte MTU).
// Thread safety: free functions on caller-owned buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tl::feedgen {

constexpr size_t ethernet_header_bytes = 14;
constexpr size_t ipv4_header_bytes = 20;
constexpr size_t udp_header_bytes = 8;
constexpr size_t frame_header_bytes = ethernet_header_bytes + ipv4_header_bytes + udp_header_bytes;
constexpr size_t max_udp_payload_bytes = 9000 - ipv4_header_bytes - udp_header_bytes;
constexpr size_t max_frame_bytes = frame_header_bytes + max_udp_payload_bytes;

struct mac_address {
    std::array<uint8_t, 6> bytes{};
    bool operator==(const mac_address&) const = default;
};

// Host byte order; 198.18.0.1 is 0xc6120001.
struct ipv4_address {
    uint32_t value = 0;
    bool operator==(const ipv4_address&) const = default;
};

struct socket_address {
    ipv4_address address;
    uint16_t port = 0;
};

std::optional<ipv4_address> parse_ipv4(std::string_view text);
std::optional<socket_address> parse_socket_address(std::string_view text);  // "A.B.C.D:PORT"
std::optional<mac_address> parse_mac(std::string_view text);                // "aa:bb:cc:dd:ee:ff"
std::string to_string(ipv4_address address);
std::string to_string(const mac_address& mac);

inline bool is_multicast(ipv4_address address) noexcept {
    return (address.value >> 28) == 0xe;
}

// 01:00:5e followed by the low 23 bits of the group (RFC 1112).
mac_address multicast_mac_of(ipv4_address group) noexcept;

enum class udp_checksum_mode { zero, compute };

struct udp_endpoints {
    mac_address source_mac;
    mac_address destination_mac;
    ipv4_address source_address;
    ipv4_address destination_address;
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    uint8_t ttl = 16;
};

// Writes the Ethernet, IPv4 and UDP headers into frame[0, 42) for a payload
// of `payload_bytes` that the caller has already written at frame[42, ...).
// The IPv4 header checksum is always correct; the UDP checksum is 0 ("none")
// or correct. Returns the frame length, 42 + payload_bytes.
size_t write_udp_headers(std::span<std::byte> frame, size_t payload_bytes,
                         const udp_endpoints& endpoints, uint16_t ip_identification,
                         udp_checksum_mode checksum);

struct parsed_udp_frame {
    udp_endpoints endpoints;
    uint16_t ip_identification = 0;
    uint16_t udp_checksum = 0;  // 0: none was sent
    std::span<const std::byte> payload;
};

// Checks every length, the IPv4 header checksum and a non-zero UDP checksum.
result<parsed_udp_frame, std::string> parse_udp_frame(std::span<const std::byte> frame);

// RFC 1071 one's-complement sum, folded and complemented (0 over a header
// that carries its correct checksum).
uint16_t internet_checksum(std::span<const std::byte> bytes, uint32_t initial_sum = 0) noexcept;

}  // namespace tl::feedgen
