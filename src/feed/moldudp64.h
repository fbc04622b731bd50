// MoldUDP64 downstream packets (Nasdaq MoldUDP64 1.00).
//
// Layout, all integers big-endian:
//   session         10 bytes, ASCII, space padded
//   sequence        8 bytes, the sequence number of the first message
//   message count   2 bytes; 0 = heartbeat (sequence = the next expected),
//                   0xFFFF = end of session (sequence = one past the last message)
//   message blocks  `count` x (2-byte length + that many bytes)
//
// parse_moldudp64 walks every block once, so a packet it accepts can be walked
// again by mold_message_cursor / for_each_message without further checks. The
// blocks must fill the payload exactly: bytes after the last block mean the
// count field and the payload disagree, and we would rather drop the packet
// (the sequencer then sees a gap it can count) than guess which is right.
// Pure functions; spans point into the caller's payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/assert.h"

namespace tl::feed {

inline constexpr size_t mold_session_bytes = 10;
inline constexpr size_t mold_header_bytes = 20;
inline constexpr size_t mold_length_prefix_bytes = 2;
inline constexpr uint16_t mold_heartbeat_count = 0;
inline constexpr uint16_t mold_end_of_session_count = 0xFFFF;
// The most messages a data packet can carry (0xFFFF is end of session).
inline constexpr uint16_t mold_max_messages = 0xFFFE;

using mold_session = std::array<char, mold_session_bytes>;

struct mold_packet {
    mold_session session{};
    uint64_t sequence = 0;
    uint16_t count = 0;
    std::span<const std::byte> messages;  // the message blocks; empty for heartbeats / end

    [[nodiscard]] bool is_heartbeat() const noexcept { return count == mold_heartbeat_count; }
    [[nodiscard]] bool is_end_of_session() const noexcept {
        return count == mold_end_of_session_count;
    }
    // Messages carried: count for data packets, 0 for heartbeats and end of session.
    [[nodiscard]] uint16_t message_count() const noexcept {
        return is_heartbeat() || is_end_of_session() ? 0 : count;
    }
};

enum class mold_status : uint8_t {
    ok,
    truncated,           // shorter than the 20-byte header, or ends inside a length prefix
    bad_message_length,  // a block's length runs past the end of the payload
    trailing_bytes,      // bytes left after the last block (or after a heartbeat / end header)
};

[[nodiscard]] std::string_view name(mold_status status) noexcept;

[[nodiscard]] mold_status parse_moldudp64(std::span<const std::byte> payload,
                                          mold_packet& out) noexcept;

// Walks the message blocks of a packet that parse_moldudp64 accepted (anything
// else asserts). No allocation; the spans point into the packet's bytes.
class mold_message_cursor {
public:
    explicit mold_message_cursor(const mold_packet& packet) noexcept
        : _remaining(packet.messages), _left(packet.message_count()) {}

    // The next message; false after the last.
    bool next(std::span<const std::byte>& message) noexcept {
        if (_left == 0) {
            TL_ASSERT(_remaining.empty(), "message blocks left after count: packet not parsed");
            return false;
        }
        TL_ASSERT(_remaining.size() >= mold_length_prefix_bytes, "packet not parsed");
        const size_t length = (std::to_integer<size_t>(_remaining[0]) << 8) |
                              std::to_integer<size_t>(_remaining[1]);
        TL_ASSERT(_remaining.size() >= mold_length_prefix_bytes + length, "packet not parsed");
        message = _remaining.subspan(mold_length_prefix_bytes, length);
        _remaining = _remaining.subspan(mold_length_prefix_bytes + length);
        --_left;
        return true;
    }
    [[nodiscard]] uint16_t messages_left() const noexcept { return _left; }

private:
    std::span<const std::byte> _remaining;
    uint16_t _left;
};

// Calls fn(uint64_t sequence, std::span<const std::byte> message) for each
// message of a parsed packet, in order.
template <typename Fn>
void for_each_message(const mold_packet& packet, Fn&& fn) {
    mold_message_cursor cursor(packet);
    std::span<const std::byte> message;
    uint64_t sequence = packet.sequence;
    while (cursor.next(message)) fn(sequence++, message);
}

}  // namespace tl::feed
