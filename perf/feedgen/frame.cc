#include "perf/feedgen/frame.h"

#include <charconv>

#include <fmt/format.h>

#include "base/assert.h"
#include "perf/feedgen/bytes.h"

namespace tl::feedgen {
namespace {

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint8_t ip_protocol_udp = 17;
constexpr uint16_t ip_flag_dont_fragment = 0x4000;

template <typename T>
bool parse_decimal(std::string_view text, T& out, T high) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc{} && end == text.data() + text.size() && out <= high;
}

// Sum of 16-bit big-endian words, not yet folded.
uint32_t sum_words(std::span<const std::byte> bytes, uint32_t sum) noexcept {
    size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint32_t>(load_be<2>(&bytes[i]));
    if (i < bytes.size()) sum += static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 8;
    return sum;
}

uint32_t udp_pseudo_header_sum(ipv4_address source, ipv4_address destination,
                               size_t udp_bytes) noexcept {
    return (source.value >> 16) + (source.value & 0xffff) + (destination.value >> 16) +
           (destination.value & 0xffff) + ip_protocol_udp + static_cast<uint32_t>(udp_bytes);
}

}  // namespace

uint16_t internet_checksum(std::span<const std::byte> bytes, uint32_t initial_sum) noexcept {
    uint32_t sum = sum_words(bytes, initial_sum);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffff);
}

std::optional<ipv4_address> parse_ipv4(std::string_view text) {
    uint32_t value = 0;
    for (int part = 0; part < 4; ++part) {
        const size_t dot = part < 3 ? text.find('.') : text.size();
        if (dot == std::string_view::npos || dot == 0) return std::nullopt;
        uint32_t octet = 0;
        if (!parse_decimal<uint32_t>(text.substr(0, dot), octet, 255)) return std::nullopt;
        value = (value << 8) | octet;
        text = part < 3 ? text.substr(dot + 1) : std::string_view{};
    }
    return ipv4_address{value};
}

std::optional<socket_address> parse_socket_address(std::string_view text) {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto address = parse_ipv4(text.substr(0, colon));
    uint16_t port = 0;
    if (!address || !parse_decimal<uint16_t>(text.substr(colon + 1), port, 65535) || port == 0) {
        return std::nullopt;
    }
    return socket_address{*address, port};
}

std::optional<mac_address> parse_mac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    mac_address mac;
    for (size_t i = 0; i < 6; ++i) {
        if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
        const std::string_view pair = text.substr(i * 3, 2);
        const auto [end, error] = std::from_chars(pair.data(), pair.data() + 2, mac.bytes[i], 16);
        if (error != std::errc{} || end != pair.data() + 2) return std::nullopt;
    }
    return mac;
}

std::string to_string(ipv4_address address) {
    const uint32_t v = address.value;
    return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

std::string to_string(const mac_address& mac) {
    const auto& b = mac.bytes;
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                       b[5]);
}

mac_address multicast_mac_of(ipv4_address group) noexcept {
    const uint32_t low = group.value & 0x7fffff;
    return mac_address{{0x01, 0x00, 0x5e, static_cast<uint8_t>(low >> 16),
                        static_cast<uint8_t>(low >> 8), static_cast<uint8_t>(low)}};
}

size_t write_udp_headers(std::span<std::byte> frame, size_t payload_bytes,
                         const udp_endpoints& endpoints, uint16_t ip_identification,
                         udp_checksum_mode checksum) {
    TL_ASSERT(payload_bytes <= max_udp_payload_bytes);
    const size_t frame_bytes = frame_header_bytes + payload_bytes;
    TL_ASSERT(frame.size() >= frame_bytes);
    std::byte* ethernet = frame.data();
    for (size_t i = 0; i < 6; ++i) {
        ethernet[i] = static_cast<std::byte>(endpoints.destination_mac.bytes[i]);
        ethernet[6 + i] = static_cast<std::byte>(endpoints.source_mac.bytes[i]);
    }
    store_be<2>(ethernet + 12, ethertype_ipv4);

    std::byte* ip = ethernet + ethernet_header_bytes;
    const size_t udp_bytes = udp_header_bytes + payload_bytes;
    ip[0] = std::byte{0x45};  // version 4, 5 words: no options
    ip[1] = std::byte{0};     // DSCP/ECN
    store_be<2>(ip + 2, ipv4_header_bytes + udp_bytes);
    store_be<2>(ip + 4, ip_identification);
    store_be<2>(ip + 6, ip_flag_dont_fragment);
    ip[8] = static_cast<std::byte>(endpoints.ttl);
    ip[9] = static_cast<std::byte>(ip_protocol_udp);
    store_be<2>(ip + 10, 0);
    store_be<4>(ip + 12, endpoints.source_address.value);
    store_be<4>(ip + 16, endpoints.destination_address.value);
    store_be<2>(ip + 10, internet_checksum({ip, ipv4_header_bytes}));

    std::byte* udp = ip + ipv4_header_bytes;
    store_be<2>(udp, endpoints.source_port);
    store_be<2>(udp + 2, endpoints.destination_port);
    store_be<2>(udp + 4, udp_bytes);
    store_be<2>(udp + 6, 0);
    if (checksum == udp_checksum_mode::compute) {
        uint16_t sum = internet_checksum(
            {udp, udp_bytes}, udp_pseudo_header_sum(endpoints.source_address,
                                                    endpoints.destination_address, udp_bytes));
        store_be<2>(udp + 6, sum == 0 ? 0xffff : sum);  // 0 would mean "no checksum"
    }
    return frame_bytes;
}

result<parsed_udp_frame, std::string> parse_udp_frame(std::span<const std::byte> frame) {
    if (frame.size() < frame_header_bytes) {
        return failure{fmt::format("frame of {} bytes: shorter than the headers", frame.size())};
    }
    parsed_udp_frame parsed;
    const std::byte* ethernet = frame.data();
    for (size_t i = 0; i < 6; ++i) {
        parsed.endpoints.destination_mac.bytes[i] = static_cast<uint8_t>(ethernet[i]);
        parsed.endpoints.source_mac.bytes[i] = static_cast<uint8_t>(ethernet[6 + i]);
    }
    if (load_be<2>(ethernet + 12) != ethertype_ipv4) return failure{std::string("not IPv4")};

    const std::byte* ip = ethernet + ethernet_header_bytes;
    if (ip[0] != std::byte{0x45}) return failure{std::string("not IPv4 without options")};
    const size_t ip_total = load_be<2>(ip + 2);
    if (ip_total < ipv4_header_bytes + udp_header_bytes ||
        ip_total > frame.size() - ethernet_header_bytes) {
        return failure{
            fmt::format("IPv4 total length {} for a {}-byte frame", ip_total, frame.size())};
    }
    if (internet_checksum({ip, ipv4_header_bytes}) != 0) {
        return failure{std::string("bad IPv4 header checksum")};
    }
    if ((load_be<2>(ip + 6) & 0x3fff) != 0) return failure{std::string("IPv4 fragment")};
    if (static_cast<uint8_t>(ip[9]) != ip_protocol_udp) return failure{std::string("not UDP")};
    parsed.ip_identification = static_cast<uint16_t>(load_be<2>(ip + 4));
    parsed.endpoints.ttl = static_cast<uint8_t>(ip[8]);
    parsed.endpoints.source_address.value = static_cast<uint32_t>(load_be<4>(ip + 12));
    parsed.endpoints.destination_address.value = static_cast<uint32_t>(load_be<4>(ip + 16));

    const std::byte* udp = ip + ipv4_header_bytes;
    const size_t udp_bytes = load_be<2>(udp + 4);
    if (udp_bytes != ip_total - ipv4_header_bytes) {
        return failure{fmt::format("UDP length {} in an IPv4 packet of {}", udp_bytes, ip_total)};
    }
    parsed.endpoints.source_port = static_cast<uint16_t>(load_be<2>(udp));
    parsed.endpoints.destination_port = static_cast<uint16_t>(load_be<2>(udp + 2));
    parsed.udp_checksum = static_cast<uint16_t>(load_be<2>(udp + 6));
    if (parsed.udp_checksum != 0 &&
        internet_checksum({udp, udp_bytes},
                          udp_pseudo_header_sum(parsed.endpoints.source_address,
                                                parsed.endpoints.destination_address, udp_bytes)) !=
            0) {
        return failure{std::string("bad UDP checksum")};
    }
    parsed.payload = {udp + udp_header_bytes, udp_bytes - udp_header_bytes};
    return parsed;
}

}  // namespace tl::feedgen
