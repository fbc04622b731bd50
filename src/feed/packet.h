// UDP datagrams out of raw Ethernet frames, as a NIC queue hands them over.
//
// parse_udp_frame accepts Ethernet II with up to two VLAN tags (802.1Q, and
// QinQ with an 802.1ad or 0x9100 outer tag), IPv4 with options, and UDP. It
// checks every length against the bytes it was given and never reads outside
// `frame`. Checksums are not verified: the Ethernet FCS already covers the
// frame, and NICs and capture tools disagree about filling IPv4/UDP checksums.
// Pure functions: any shard may call them; `out.payload` points into `frame`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tl::feed {

inline constexpr size_t ethernet_header_bytes = 14;
inline constexpr size_t vlan_tag_bytes = 4;
inline constexpr size_t max_vlan_tags = 2;  // QinQ
inline constexpr size_t ipv4_min_header_bytes = 20;
inline constexpr size_t udp_header_bytes = 8;

inline constexpr uint16_t ethertype_ipv4 = 0x0800;
inline constexpr uint16_t ethertype_vlan = 0x8100;       // 802.1Q
inline constexpr uint16_t ethertype_qinq = 0x88a8;       // 802.1ad outer tag
inline constexpr uint16_t ethertype_qinq_old = 0x9100;   // pre-standard outer tag
inline constexpr uint8_t ip_protocol_udp = 17;

struct udp_datagram {
    uint32_t source_address = 0;  // host order
    uint32_t destination_address = 0;
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    std::span<const std::byte> payload;  // UDP payload, exactly the UDP length minus 8
};

enum class frame_status : uint8_t {
    ok,
    not_ipv4,    // another ethertype (ARP, IPv6, ...), or more than two VLAN tags
    not_udp,     // IPv4 carrying another protocol
    truncated,   // the frame ends before a header or before the IPv4 total length
    fragment,    // an IPv4 fragment (MF set or offset != 0): not reassembled
    bad_header,  // IPv4 version != 4, IHL < 5, total length < IHL, UDP length < 8 or
                 // beyond the IPv4 payload
};

[[nodiscard]] std::string_view name(frame_status status) noexcept;

// Fills `out` and returns ok, or returns why the frame is not a UDP datagram.
// Bytes after the IPv4 total length (Ethernet padding) are ignored; bytes after
// the UDP length inside the IPv4 payload are ignored too (the UDP length wins).
[[nodiscard]] frame_status parse_udp_frame(std::span<const std::byte> frame,
                                           udp_datagram& out) noexcept;

// Which datagrams a feed takes; an absent field matches anything.
struct udp_filter {
    std::optional<uint32_t> destination_address;  // host order
    std::optional<uint16_t> destination_port;

    [[nodiscard]] bool matches(const udp_datagram& datagram) const noexcept {
        return (!destination_address || *destination_address == datagram.destination_address) &&
               (!destination_port || *destination_port == datagram.destination_port);
    }
    friend bool operator==(const udp_filter&, const udp_filter&) = default;
};

}  // namespace tl::feed
