// MoldUDP64 downstream packets (Nasdaq "MoldUDP64 Protocol Specification"
// 1.00): a 20-byte header — session (10 ASCII bytes), sequence number of the
// first message (u64 BE), message count (u16 BE) — then per message a u16 BE
// length and the message. Count 0 is a heartbeat and 0xFFFF the end of the
// session; both carry the next sequence number expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/result.h"
#include "perf/feedgen/bytes.h"

namespace tl::feedgen {

constexpr size_t mold_session_bytes = 10;
constexpr size_t mold_header_bytes = mold_session_bytes + 8 + 2;
constexpr size_t mold_length_prefix_bytes = 2;
constexpr uint16_t mold_heartbeat_count = 0;
constexpr uint16_t mold_end_of_session_count = 0xffff;
constexpr uint16_t mold_max_messages_per_packet = 0xfffe;

inline void write_mold_header(std::byte* out, std::string_view session, uint64_t sequence,
                              uint16_t message_count) noexcept {
    TL_ASSERT(session.size() == mold_session_bytes);
    for (size_t i = 0; i < mold_session_bytes; ++i) out[i] = static_cast<std::byte>(session[i]);
    store_be<8>(out + mold_session_bytes, sequence);
    store_be<2>(out + mold_session_bytes + 8, message_count);
}

struct mold_packet {
    std::string session;
    uint64_t sequence = 0;
    uint16_t message_count = 0;
    std::vector<std::span<const std::byte>> messages;  // views into the parsed payload
};

// Reads a packet back and checks that the length prefixes cover the payload
// exactly (tests, and anyone checking a capture).
inline result<mold_packet, std::string> parse_mold_packet(std::span<const std::byte> payload) {
    if (payload.size() < mold_header_bytes) {
        return failure{fmt::format("{} bytes: shorter than a MoldUDP64 header", payload.size())};
    }
    mold_packet packet;
    packet.session.assign(reinterpret_cast<const char*>(payload.data()), mold_session_bytes);
    packet.sequence = load_be<8>(payload.data() + mold_session_bytes);
    packet.message_count = static_cast<uint16_t>(load_be<2>(payload.data() + 18));
    const bool control = packet.message_count == mold_heartbeat_count ||
                         packet.message_count == mold_end_of_session_count;
    size_t offset = mold_header_bytes;
    for (uint32_t i = 0; !control && i < packet.message_count; ++i) {
        if (offset + mold_length_prefix_bytes > payload.size()) {
            return failure{fmt::format("message {} has no length prefix", i)};
        }
        const size_t length = load_be<2>(payload.data() + offset);
        offset += mold_length_prefix_bytes;
        if (offset + length > payload.size()) {
            return failure{fmt::format("message {} of {} bytes overruns the packet", i, length)};
        }
        packet.messages.push_back(payload.subspan(offset, length));
        offset += length;
    }
    if (offset != payload.size()) {
        return failure{fmt::format("{} bytes after the last message", payload.size() - offset)};
    }
    return packet;
}

}  // namespace tl::feedgen
