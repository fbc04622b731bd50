// Fuzzes the MoldUDP64 sequencer (src/feed/sequencer.h) with packets and
// time steps decoded from the input: each step is a line, a session, a
// sequence delta (forward, backward or a far jump), a message count
// (heartbeat and end of session included) and a clock advance. Small bounds
// (64-message window, 3 held messages, 2 sessions) reach overflows, drops and
// window edges quickly. Proves that no assertion fires (the sequencer's own
// invariants, the hold index, the bitmaps) and that with two lines, absent
// timeouts and overflows, each session's emitted sequences above the start
// rise strictly. Seeds: corpus/feed_sequencer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "feed/moldudp64.h"
#include "feed/sequencer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tl::feed;
    if (size < 1) return 0;
    sequencer_options options;
    options.lines = 1 + (data[0] & 1);
    options.max_sessions = 2;
    options.window_messages = 64;
    options.hold_messages = 3;
    options.hold_bytes = min_hold_bytes;
    options.hold_timeout = std::chrono::microseconds(10);
    sequencer seq(options);
    std::array<uint64_t, 3> last_emitted{};
    std::array<bool, 3> any{};
    const auto emit = [&](uint32_t session, const mold_session&, uint64_t sequence,
                          std::span<const std::byte> message, unsigned, int64_t) {
        if (message.size() != 1 || std::to_integer<uint8_t>(message[0]) != (sequence & 0xff)) {
            std::abort();  // a message's bytes must travel with its sequence
        }
        const auto& st = seq.stats();
        if (options.lines == 2 && st.hold_timeouts == 0 && st.hold_overflows == 0 &&
            st.gap_filled_messages == 0 && sequence >= seq.session(session).start_sequence) {
            if (any[session] && sequence <= last_emitted[session]) std::abort();
        }
        last_emitted[session] = sequence;
        any[session] = true;
    };
    std::array<uint64_t, 3> cursor{1000, 5000, 9000};
    tl::steady_time now{};
    std::vector<std::byte> wire;
    for (size_t at = 1; at + 4 <= size; at += 4) {
        const uint8_t a = data[at], b = data[at + 1], c = data[at + 2], d = data[at + 3];
        const unsigned line = a & 1;
        const unsigned session = (a >> 1) % 3;
        int64_t delta = static_cast<int8_t>(b);
        if ((a & 0x18) == 0x18) delta *= 37;  // far jumps
        uint64_t& base = cursor[session];
        base = static_cast<uint64_t>(static_cast<int64_t>(base) + delta);
        uint16_t count = c % 8;
        if (c == 0xff) count = mold_end_of_session_count;
        now += std::chrono::microseconds(d % 16);
        seq.expire(now, emit);
        if (line >= options.lines) continue;
        wire.clear();
        const char name[11] = "SESSION00X";
        for (int i = 0; i < 9; ++i) wire.push_back(static_cast<std::byte>(name[i]));
        wire.push_back(static_cast<std::byte>('0' + session));
        for (int i = 7; i >= 0; --i) wire.push_back(static_cast<std::byte>(base >> (8 * i)));
        wire.push_back(static_cast<std::byte>(count >> 8));
        wire.push_back(static_cast<std::byte>(count));
        if (count != mold_end_of_session_count) {
            for (uint16_t i = 0; i < count; ++i) {
                wire.push_back(std::byte{0});
                wire.push_back(std::byte{1});
                wire.push_back(static_cast<std::byte>((base + i) & 0xff));
            }
        }
        mold_packet packet;
        if (parse_moldudp64(wire, packet) != mold_status::ok) std::abort();
        seq.on_packet(packet, line, now, emit);
    }
    seq.expire(now + std::chrono::seconds(1), emit);
    if (seq.held_messages() != 0) std::abort();
    return 0;
}
