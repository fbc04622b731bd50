#include "feed/packet.h"

#include "base/assert.h"
#include "feed/byte_order.h"

namespace tl::feed {

using detail::load_be16;
using detail::load_be32;

std::string_view name(frame_status status) noexcept {
    switch (status) {
        case frame_status::ok: return "ok";
        case frame_status::not_ipv4: return "not_ipv4";
        case frame_status::not_udp: return "not_udp";
        case frame_status::truncated: return "truncated";
        case frame_status::fragment: return "fragment";
        case frame_status::bad_header: return "bad_header";
    }
    return "unknown";
}

namespace {

bool is_vlan_tag(uint16_t ethertype) noexcept {
    return ethertype == ethertype_vlan || ethertype == ethertype_qinq ||
           ethertype == ethertype_qinq_old;
}

}  // namespace

frame_status parse_udp_frame(std::span<const std::byte> frame, udp_datagram& out) noexcept {
    if (frame.size() < ethernet_header_bytes) return frame_status::truncated;
    // Ethernet II: destination MAC, source MAC, ethertype; then 0-2 VLAN tags,
    // each a TPID (read as the ethertype) followed by TCI and the next ethertype.
    size_t at = ethernet_header_bytes - 2;
    uint16_t ethertype = load_be16(frame.data() + at);
    for (size_t tags = 0; is_vlan_tag(ethertype); ++tags) {
        if (tags == max_vlan_tags) return frame_status::not_ipv4;
        at += vlan_tag_bytes;
        if (frame.size() < at + 2) return frame_status::truncated;
        ethertype = load_be16(frame.data() + at);
    }
    if (ethertype != ethertype_ipv4) return frame_status::not_ipv4;
    const size_t ip_start = at + 2;
    TL_ASSERT(ip_start <= ethernet_header_bytes + max_vlan_tags * vlan_tag_bytes);

    // IPv4: version/IHL, total length, flags/fragment offset, protocol, addresses.
    const std::span<const std::byte> ip = frame.subspan(ip_start);
    if (ip.size() < ipv4_min_header_bytes) return frame_status::truncated;
    const auto version_ihl = std::to_integer<uint8_t>(ip[0]);
    if ((version_ihl >> 4) != 4) return frame_status::bad_header;
    const size_t header_bytes = size_t{version_ihl & 0x0fu} * 4;
    if (header_bytes < ipv4_min_header_bytes) return frame_status::bad_header;
    if (ip.size() < header_bytes) return frame_status::truncated;
    const size_t total_length = load_be16(ip.data() + 2);
    if (total_length < header_bytes) return frame_status::bad_header;
    if (ip.size() < total_length) return frame_status::truncated;
    if (std::to_integer<uint8_t>(ip[9]) != ip_protocol_udp) return frame_status::not_udp;
    const uint16_t flags_fragment = load_be16(ip.data() + 6);
    constexpr uint16_t more_fragments = 0x2000;
    constexpr uint16_t fragment_offset_mask = 0x1fff;
    if ((flags_fragment & (more_fragments | fragment_offset_mask)) != 0) {
        return frame_status::fragment;
    }

    // UDP within the IPv4 payload (the total length, not the frame: padding).
    const std::span<const std::byte> udp = ip.subspan(header_bytes, total_length - header_bytes);
    if (udp.size() < udp_header_bytes) return frame_status::truncated;
    const size_t udp_length = load_be16(udp.data() + 4);
    if (udp_length < udp_header_bytes || udp_length > udp.size()) return frame_status::bad_header;

    out.source_address = load_be32(ip.data() + 12);
    out.destination_address = load_be32(ip.data() + 16);
    out.source_port = load_be16(udp.data());
    out.destination_port = load_be16(udp.data() + 2);
    out.payload = udp.subspan(udp_header_bytes, udp_length - udp_header_bytes);
    return frame_status::ok;
}

}  // namespace tl::feed
