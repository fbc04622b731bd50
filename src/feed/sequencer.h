// MoldUDP64 sequence tracking for one feed: gaps, duplicates, end of session,
// and optional A/B line arbitration.
//
// Per session (bounded by max_sessions) the sequencer knows next_expected:
// every sequence below it was either emitted or declared a gap. The first
// packet of a session sets the start; nothing before it is a gap.
//
// One line: a packet past next_expected declares the hole a gap at once
// (gap_messages += hole, gap_events += 1) and delivery goes on. A message
// arriving later for a hole already declared a gap is still emitted (it is
// not lost, only late), out of sequence order: out_of_order_packets and
// gap_filled_messages count it, and its "seq" header tells readers where it
// belongs. The sequencer knows what it emitted for the last window_messages
// sequence numbers (a bitmap per session); older stragglers are dropped and
// counted as stale_messages.
//
// Two lines (A = 0, B = 1): the first copy of a sequence wins, the other copy
// is counted as that line's arbitration_duplicates. A message past a hole is
// held (copied into a hold buffer preallocated at construction) until the
// hole is filled by either line, or every line has passed it (what both lost:
// a gap), or hold_timeout passed since the hole showed up (a line is silent:
// gap, hold_timeouts), or the hold is full (gap, hold_overflows). So output is
// in strict sequence order, and a gap is only what every line lost, as long
// as each line delivers its own packets in order and no timeout or overflow
// released a hole (late copies after that are emitted out of order, as with
// one line).
//
// A heartbeat (count 0) carries the next sequence its line will send: it
// passes the line over everything below, which reveals gaps. End of session
// (count 0xFFFF) carries one past the last message: messages at or after it
// are dropped (after_end_of_session counts such packets); the session counts
// as ended (end_of_session) once everything before it was emitted or gapped.
// Copies of earlier messages still arriving on the other line are handled as
// usual. Session slots are never reused.
//
// Output goes through `emit`, called in order for each message to write. A
// message passed straight through points into the caller's packet; a held one
// into the hold buffer: either is valid only during the call.
//
// Owned by one shard; time is passed in (on_packet, expire), never read. No
// allocation, lock or syscall after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <absl/functional/function_ref.h>

#include "base/clock.h"
#include "feed/moldudp64.h"

namespace tl::feed {

inline constexpr unsigned max_lines = 2;
inline constexpr uint32_t max_sequencer_sessions = 1024;
inline constexpr uint32_t min_window_messages = 64;
inline constexpr uint32_t max_window_messages = uint32_t{1} << 20;
// The hold must take at least one largest message with its bookkeeping.
inline constexpr size_t min_hold_bytes = size_t{128} * 1024;
inline constexpr size_t max_hold_bytes = size_t{1} << 30;
inline constexpr uint32_t max_hold_messages = uint32_t{1} << 22;
// Sequences above this are refused (invalid_packets): the arithmetic on
// sequence + count + window then never wraps.
inline constexpr uint64_t max_sequence = uint64_t{1} << 62;

struct sequencer_options {
    unsigned lines = 1;                     // 1, or 2 for A/B arbitration
    uint32_t max_sessions = 64;             // sessions beyond are dropped (sessions_dropped)
    uint32_t window_messages = 65536;       // power of two; per-session memory: (lines + 1) *
                                            // 2 * window_messages bits
    size_t hold_bytes = size_t{4} << 20;    // A/B hold buffer, all sessions together
    uint32_t hold_messages = 65536;         // most messages held at once, all sessions
    duration_ns hold_timeout = std::chrono::milliseconds(1);
};

struct line_stats {
    uint64_t packets = 0;                 // every packet of this line (heartbeats included)
    uint64_t messages = 0;                // messages carried by its data packets
    uint64_t arbitration_wins = 0;        // messages this line delivered first
    uint64_t arbitration_duplicates = 0;  // messages the other line had delivered or held
};

struct sequencer_stats {
    std::array<line_stats, max_lines> lines{};
    uint64_t gap_messages = 0;           // messages declared lost
    uint64_t gap_events = 0;             // holes declared lost
    uint64_t gap_filled_messages = 0;    // of gap_messages, those that arrived later after all
    uint64_t duplicate_messages = 0;     // a line repeating a message it had already sent
    uint64_t stale_messages = 0;         // older than the window: cannot tell, dropped
    uint64_t out_of_order_packets = 0;   // packets that delivered a message below next_expected
    uint64_t heartbeats = 0;
    uint64_t end_of_session = 0;         // sessions ended
    uint64_t end_of_session_packets = 0;
    uint64_t after_end_of_session = 0;   // packets with messages at or past the end
    uint64_t sessions_dropped = 0;       // packets of sessions beyond max_sessions
    uint64_t invalid_packets = 0;        // sequence beyond max_sequence
    uint64_t held_messages = 0;          // messages that went through the hold
    uint64_t hold_overflows = 0;
    uint64_t hold_timeouts = 0;          // holes released by hold_timeout
};

// Called for each message to write, in output order. `receive_ns` is what
// on_packet was given with the packet that carried the message (a held
// message keeps its own).
using sequencer_emit = absl::FunctionRef<void(uint32_t session_index, const mold_session& session,
                                              uint64_t sequence, std::span<const std::byte> message,
                                              unsigned line, int64_t receive_ns)>;

// What the sequencer knows of one session, for metrics and tests.
struct sequencer_session_view {
    mold_session session{};
    uint64_t start_sequence = 0;
    uint64_t next_expected = 0;
    uint32_t held_messages = 0;
    bool ended = false;
};

class sequencer {
public:
    explicit sequencer(const sequencer_options& options);
    ~sequencer();
    sequencer(const sequencer&) = delete;
    sequencer& operator=(const sequencer&) = delete;

    // One parsed MoldUDP64 packet (parse_moldudp64 accepted it) from `line`
    // (< options.lines), received at `receive_ns` (opaque here: handed back
    // with each of its messages).
    void on_packet(const mold_packet& packet, unsigned line, steady_time now,
                   sequencer_emit emit, int64_t receive_ns = 0) noexcept;

    // Releases holes whose hold_timeout has passed. Cheap when nothing is held;
    // the runtime calls it every loop iteration.
    void expire(steady_time now, sequencer_emit emit) noexcept;

    [[nodiscard]] const sequencer_stats& stats() const noexcept { return _stats; }
    [[nodiscard]] uint32_t session_count() const noexcept { return _session_count; }
    [[nodiscard]] sequencer_session_view session(uint32_t index) const noexcept;
    [[nodiscard]] uint32_t held_messages() const noexcept { return _held_total; }
    [[nodiscard]] const sequencer_options& options() const noexcept { return _options; }

private:
    struct session_state;
    struct hold_entry;

    session_state* find_session(const mold_session& name, uint64_t sequence) noexcept;
    void on_data(session_state& s, const mold_packet& packet, unsigned line, steady_time now,
                 sequencer_emit emit) noexcept;
    void on_late(session_state& s, uint64_t sequence, std::span<const std::byte> message,
                 unsigned line, bool& out_of_order, sequencer_emit emit) noexcept;
    void emit_now(session_state& s, uint64_t sequence, std::span<const std::byte> message,
                  unsigned line, sequencer_emit emit) noexcept;
    bool hold(session_state& s, uint64_t sequence, std::span<const std::byte> message,
              unsigned line, steady_time now) noexcept;
    void settle(session_state& s, steady_time now, bool force, sequencer_emit emit) noexcept;
    void release_all(steady_time now, sequencer_emit emit) noexcept;
    void declare_gap(session_state& s, uint64_t to) noexcept;
    void move_next(session_state& s, uint64_t to) noexcept;
    void note_end(session_state& s) noexcept;
    uint64_t next_held(const session_state& s, uint64_t after) const noexcept;
    steady_time held_deadline(const session_state& s, uint64_t sequence) const noexcept;

    // Bitmaps: per session, bitmap 0 = emitted, 1 + line = seen on that line;
    // bit of sequence q at q & (2 * window - 1), valid for
    // [next_expected - window, next_expected + window).
    uint64_t* bitmap(const session_state& s, unsigned which) noexcept;
    const uint64_t* bitmap(const session_state& s, unsigned which) const noexcept;
    bool test_bit(const session_state& s, unsigned which, uint64_t sequence) const noexcept;
    void set_bit(const session_state& s, unsigned which, uint64_t sequence) noexcept;

    // Hold index: (session, sequence) -> offset of the held record in _hold.
    size_t probe_start(uint32_t session_index, uint64_t sequence) const noexcept;
    void index_insert(uint32_t session_index, uint64_t sequence, uint32_t offset) noexcept;
    uint32_t index_take(uint32_t session_index, uint64_t sequence) noexcept;
    const hold_entry* index_find(uint32_t session_index, uint64_t sequence) const noexcept;

    sequencer_options _options;
    sequencer_stats _stats;
    uint64_t _window_mask;  // 2 * window - 1
    size_t _bitmap_words;   // words of one bitmap
    std::vector<session_state> _sessions;
    uint32_t _session_count = 0;
    uint32_t _last_session = 0;  // the session of the previous packet: usually the next one's
    std::vector<uint64_t> _bits;
    // A/B only: the hold buffer (bump allocated, reset when nothing is held)
    // and its index (open addressing, linear probing).
    std::unique_ptr<std::byte[]> _hold;
    size_t _hold_used = 0;
    std::vector<hold_entry> _index;
    size_t _index_mask = 0;
    uint32_t _held_total = 0;
    int64_t _receive_ns = 0;  // of the packet on_packet is handling
};

}  // namespace tl::feed
