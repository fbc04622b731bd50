#include "feed/sequencer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "base/assert.h"

namespace tl::feed {

struct sequencer::session_state {
    mold_session name{};
    uint32_t index = 0;
    uint64_t start_sequence = 0;
    uint64_t next_expected = 0;
    // Per line: the line has passed (sent or skipped) every sequence below this.
    std::array<uint64_t, max_lines> line_next{};
    uint64_t end_sequence = std::numeric_limits<uint64_t>::max();  // max: not known
    bool ended = false;
    // Held messages, all above next_expected: how many, the lowest (the end of
    // the front hole), one past the highest, and when the front hole times out.
    uint32_t held_count = 0;
    uint64_t front_held = 0;
    uint64_t held_end = 0;
    steady_time front_deadline{};
};

struct sequencer::hold_entry {
    uint64_t sequence = 0;
    uint32_t session_plus_one = 0;  // 0: empty slot
    uint32_t offset = 0;
};

namespace {

// A held message in the hold buffer: this header, then the bytes, 8-aligned.
struct held_record {
    int64_t held_at_ns;
    int64_t receive_ns;
    uint16_t length;
    uint8_t line;
    uint8_t unused[5];
};
static_assert(sizeof(held_record) == 24);
constexpr size_t hold_alignment = 8;

size_t record_bytes(size_t message_bytes) noexcept {
    return (sizeof(held_record) + message_bytes + hold_alignment - 1) & ~(hold_alignment - 1);
}

}  // namespace

sequencer::sequencer(const sequencer_options& options)
    : _options(options),
      _window_mask(uint64_t{options.window_messages} * 2 - 1),
      _bitmap_words(size_t{options.window_messages} * 2 / 64) {
    TL_ASSERT(options.lines >= 1 && options.lines <= max_lines, "1 or 2 lines");
    TL_ASSERT(options.max_sessions >= 1 && options.max_sessions <= max_sequencer_sessions);
    TL_ASSERT(std::has_single_bit(options.window_messages) &&
                  options.window_messages >= min_window_messages &&
                  options.window_messages <= max_window_messages,
              "window_messages: a power of two within bounds");
    TL_ASSERT(options.hold_timeout.count() >= 0);
    _sessions.resize(options.max_sessions);
    _bits.assign(size_t{options.max_sessions} * (options.lines + 1) * _bitmap_words, 0);
    if (options.lines == 2) {
        TL_ASSERT(options.hold_bytes >= min_hold_bytes && options.hold_bytes <= max_hold_bytes);
        TL_ASSERT(options.hold_messages >= 1 && options.hold_messages <= max_hold_messages);
        _hold = std::make_unique_for_overwrite<std::byte[]>(options.hold_bytes);
        // At most half full: probes stay short.
        _index.resize(std::bit_ceil(size_t{options.hold_messages} * 2));
        _index_mask = _index.size() - 1;
    }
}

sequencer::~sequencer() = default;

sequencer_session_view sequencer::session(uint32_t index) const noexcept {
    TL_ASSERT(index < _session_count);
    const session_state& s = _sessions[index];
    return {s.name, s.start_sequence, s.next_expected, s.held_count, s.ended};
}

// --- bitmaps ------------------------------------------------------------------------

uint64_t* sequencer::bitmap(const session_state& s, unsigned which) noexcept {
    const size_t slot = size_t{s.index} * (_options.lines + 1) + which;
    return _bits.data() + slot * _bitmap_words;
}
const uint64_t* sequencer::bitmap(const session_state& s, unsigned which) const noexcept {
    const size_t slot = size_t{s.index} * (_options.lines + 1) + which;
    return _bits.data() + slot * _bitmap_words;
}
bool sequencer::test_bit(const session_state& s, unsigned which, uint64_t sequence) const noexcept {
    const uint64_t position = sequence & _window_mask;
    return (bitmap(s, which)[position >> 6] >> (position & 63) & 1) != 0;
}
void sequencer::set_bit(const session_state& s, unsigned which, uint64_t sequence) noexcept {
    const uint64_t position = sequence & _window_mask;
    bitmap(s, which)[position >> 6] |= uint64_t{1} << (position & 63);
}

// Moves next_expected forward. Sequences [old + window, to + window) enter the
// top of the bitmaps' range and take the positions of those that leave the
// bottom: their bits are cleared.
void sequencer::move_next(session_state& s, uint64_t to) noexcept {
    TL_ASSERT(to >= s.next_expected);
    const uint64_t window = _options.window_messages;
    uint64_t from = s.next_expected + window;
    uint64_t count = std::min<uint64_t>(to - s.next_expected, 2 * window);
    s.next_expected = to;
    while (count > 0) {
        const uint64_t position = from & _window_mask;
        const uint64_t bit = position & 63;
        const uint64_t n = std::min<uint64_t>(64 - bit, count);
        const uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << bit;
        for (unsigned which = 0; which <= _options.lines; ++which) {
            bitmap(s, which)[position >> 6] &= ~mask;
        }
        from += n;
        count -= n;
    }
}

void sequencer::declare_gap(session_state& s, uint64_t to) noexcept {
    TL_ASSERT(to > s.next_expected);
    _stats.gap_messages += to - s.next_expected;
    _stats.gap_events += 1;
    move_next(s, to);
}

// --- sessions -----------------------------------------------------------------------

sequencer::session_state* sequencer::find_session(const mold_session& name,
                                                  uint64_t sequence) noexcept {
    if (_session_count > 0 && _sessions[_last_session].name == name) {
        return &_sessions[_last_session];
    }
    for (uint32_t i = 0; i < _session_count; ++i) {
        if (_sessions[i].name == name) {
            _last_session = i;
            return &_sessions[i];
        }
    }
    if (_session_count == _options.max_sessions) return nullptr;
    session_state& s = _sessions[_session_count];
    s.name = name;
    s.index = _session_count;
    s.start_sequence = sequence;
    s.next_expected = sequence;
    s.line_next.fill(sequence);
    _last_session = _session_count++;
    return &s;
}

void sequencer::note_end(session_state& s) noexcept {
    if (!s.ended && s.next_expected >= s.end_sequence) {
        s.ended = true;
        _stats.end_of_session += 1;
    }
}

// --- packets ------------------------------------------------------------------------

void sequencer::on_packet(const mold_packet& packet, unsigned line, steady_time now,
                          sequencer_emit emit, int64_t receive_ns) noexcept {
    _receive_ns = receive_ns;
    TL_ASSERT(line < _options.lines, "line out of range");
    line_stats& per_line = _stats.lines[line];
    per_line.packets += 1;
    if (packet.sequence > max_sequence) {
        _stats.invalid_packets += 1;
        return;
    }
    session_state* found = find_session(packet.session, packet.sequence);
    if (found == nullptr) {
        _stats.sessions_dropped += 1;
        return;
    }
    session_state& s = *found;
    if (packet.is_heartbeat() || packet.is_end_of_session()) {
        if (packet.is_heartbeat()) {
            _stats.heartbeats += 1;
        } else {
            _stats.end_of_session_packets += 1;
            s.end_sequence = std::min(s.end_sequence, packet.sequence);
        }
        // The line will send `sequence` next: it has passed everything below.
        const uint64_t passed = std::min(packet.sequence, s.end_sequence);
        s.line_next[line] = std::max(s.line_next[line], passed);
        settle(s, now, false, emit);
    } else {
        per_line.messages += packet.count;
        on_data(s, packet, line, now, emit);
    }
    note_end(s);
    if (_held_total == 0) _hold_used = 0;
}

void sequencer::on_data(session_state& s, const mold_packet& packet, unsigned line,
                        steady_time now, sequencer_emit emit) noexcept {
    // Everything below the packet's first sequence was passed by this line.
    const uint64_t first = std::min(packet.sequence, s.end_sequence);
    if (first > s.line_next[line]) {
        s.line_next[line] = first;
        settle(s, now, false, emit);
    }
    bool out_of_order = false;
    bool after_end = false;
    mold_message_cursor cursor(packet);
    std::span<const std::byte> message;
    for (uint64_t sequence = packet.sequence; cursor.next(message); ++sequence) {
        if (sequence >= s.end_sequence) {
            after_end = true;
            break;
        }
        s.line_next[line] = std::max(s.line_next[line], sequence + 1);
        if (sequence < s.next_expected) {
            on_late(s, sequence, message, line, out_of_order, emit);
        } else if (sequence == s.next_expected) {
            emit_now(s, sequence, message, line, emit);
            if (s.held_count > 0 && s.front_held == s.next_expected) settle(s, now, false, emit);
        } else if (test_bit(s, 1 + line, sequence)) {
            _stats.duplicate_messages += 1;  // this line sent it before; it is held
        } else if (_options.lines == 2 && test_bit(s, 2 - line, sequence)) {
            set_bit(s, 1 + line, sequence);
            _stats.lines[line].arbitration_duplicates += 1;  // held from the other line
        } else if (!hold(s, sequence, message, line, now)) {
            // The hold is full or the hole too wide: release everything held,
            // give up on this session's hole up to here, and go on from here.
            _stats.hold_overflows += 1;
            release_all(now, emit);
            if (sequence < s.next_expected) {
                on_late(s, sequence, message, line, out_of_order, emit);
            } else {
                if (sequence > s.next_expected) declare_gap(s, sequence);
                emit_now(s, sequence, message, line, emit);
            }
        }
    }
    if (out_of_order) _stats.out_of_order_packets += 1;
    if (after_end) _stats.after_end_of_session += 1;
}

void sequencer::emit_now(session_state& s, uint64_t sequence, std::span<const std::byte> message,
                         unsigned line, sequencer_emit emit) noexcept {
    TL_ASSERT(sequence == s.next_expected);
    set_bit(s, 1 + line, sequence);
    set_bit(s, 0, sequence);
    move_next(s, sequence + 1);
    _stats.lines[line].arbitration_wins += 1;
    emit(s.index, s.name, sequence, message, line, _receive_ns);
}

// A message below next_expected: a copy of one emitted, or one declared lost.
void sequencer::on_late(session_state& s, uint64_t sequence, std::span<const std::byte> message,
                        unsigned line, bool& out_of_order, sequencer_emit emit) noexcept {
    if (s.next_expected - sequence > _options.window_messages) {
        _stats.stale_messages += 1;
        return;
    }
    if (test_bit(s, 1 + line, sequence)) {
        _stats.duplicate_messages += 1;
        return;
    }
    set_bit(s, 1 + line, sequence);
    if (test_bit(s, 0, sequence)) {
        _stats.lines[line].arbitration_duplicates += 1;
        return;
    }
    // Never emitted: a hole declared lost (or, below the start, never seen).
    set_bit(s, 0, sequence);
    if (sequence >= s.start_sequence) _stats.gap_filled_messages += 1;
    _stats.lines[line].arbitration_wins += 1;
    out_of_order = true;
    emit(s.index, s.name, sequence, message, line, _receive_ns);
}

// --- the hold (A/B) -----------------------------------------------------------------

size_t sequencer::probe_start(uint32_t session_index, uint64_t sequence) const noexcept {
    uint64_t h = (sequence ^ (uint64_t{session_index} << 56)) * 0x9e3779b97f4a7c15ULL;
    return static_cast<size_t>(h >> 20) & _index_mask;
}

void sequencer::index_insert(uint32_t session_index, uint64_t sequence, uint32_t offset) noexcept {
    size_t i = probe_start(session_index, sequence);
    for (size_t probes = 0; _index[i].session_plus_one != 0; ++probes) {
        TL_ASSERT(probes < _index.size(), "hold index full");
        i = (i + 1) & _index_mask;
    }
    _index[i] = {sequence, session_index + 1, offset};
}

const sequencer::hold_entry* sequencer::index_find(uint32_t session_index,
                                                   uint64_t sequence) const noexcept {
    size_t i = probe_start(session_index, sequence);
    for (size_t probes = 0; _index[i].session_plus_one != 0; ++probes) {
        TL_ASSERT(probes < _index.size());
        if (_index[i].sequence == sequence && _index[i].session_plus_one == session_index + 1) {
            return &_index[i];
        }
        i = (i + 1) & _index_mask;
    }
    return nullptr;
}

// Removes the entry and closes the gap behind it (backward-shift deletion, so
// probes never need tombstones).
uint32_t sequencer::index_take(uint32_t session_index, uint64_t sequence) noexcept {
    const hold_entry* found = index_find(session_index, sequence);
    TL_ASSERT(found != nullptr, "held message missing from the hold index");
    const uint32_t offset = found->offset;
    size_t hole = static_cast<size_t>(found - _index.data());
    size_t i = hole;
    while (true) {
        i = (i + 1) & _index_mask;
        if (_index[i].session_plus_one == 0) break;
        const size_t home = probe_start(_index[i].session_plus_one - 1, _index[i].sequence);
        // Move entry i into the hole if its home is not between the hole and i.
        const bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            _index[hole] = _index[i];
            hole = i;
        }
    }
    _index[hole] = hold_entry{};
    return offset;
}

bool sequencer::hold(session_state& s, uint64_t sequence, std::span<const std::byte> message,
                     unsigned line, steady_time now) noexcept {
    // One line never holds: its packet start already declared the hole a gap.
    TL_ASSERT(_options.lines == 2, "only A/B arbitration holds messages");
    const size_t bytes = record_bytes(message.size());
    if (sequence - s.next_expected >= _options.window_messages ||
        _held_total == _options.hold_messages || bytes > _options.hold_bytes - _hold_used) {
        return false;
    }
    TL_ASSERT(message.size() <= std::numeric_limits<uint16_t>::max());
    held_record header{};
    header.held_at_ns = now.time_since_epoch().count();
    header.receive_ns = _receive_ns;
    header.length = static_cast<uint16_t>(message.size());
    header.line = static_cast<uint8_t>(line);
    std::byte* at = _hold.get() + _hold_used;
    std::memcpy(at, &header, sizeof(header));
    if (!message.empty()) std::memcpy(at + sizeof(header), message.data(), message.size());
    index_insert(s.index, sequence, static_cast<uint32_t>(_hold_used));
    _hold_used += bytes;
    set_bit(s, 1 + line, sequence);
    _stats.held_messages += 1;
    _held_total += 1;
    if (s.held_count++ == 0) {
        s.front_held = sequence;
        s.held_end = sequence + 1;
        s.front_deadline = now + _options.hold_timeout;
    } else {
        s.front_held = std::min(s.front_held, sequence);
        s.held_end = std::max(s.held_end, sequence + 1);
    }
    return true;
}

// The lowest held sequence above `after` (held messages are the seen bits
// above next_expected).
uint64_t sequencer::next_held(const session_state& s, uint64_t after) const noexcept {
    uint64_t sequence = after + 1;
    while (sequence < s.held_end) {
        const uint64_t position = sequence & _window_mask;
        uint64_t word = 0;
        for (unsigned l = 0; l < _options.lines; ++l) word |= bitmap(s, 1 + l)[position >> 6];
        word >>= position & 63;
        if (word != 0) return sequence + static_cast<uint64_t>(std::countr_zero(word));
        sequence += 64 - (position & 63);
    }
    TL_UNREACHABLE("held count says more messages are held");
}

steady_time sequencer::held_deadline(const session_state& s, uint64_t sequence) const noexcept {
    const hold_entry* entry = index_find(s.index, sequence);
    TL_ASSERT(entry != nullptr);
    held_record header;
    std::memcpy(&header, _hold.get() + entry->offset, sizeof(header));
    return steady_time(duration_ns(header.held_at_ns)) + _options.hold_timeout;
}

// Emits what can go out in order and resolves holes: lost on every line (gap),
// timed out (gap), or, with `force`, all of them (gap).
void sequencer::settle(session_state& s, steady_time now, bool force,
                       sequencer_emit emit) noexcept {
    while (true) {
        while (s.held_count > 0 && s.front_held == s.next_expected) {
            const uint64_t sequence = s.next_expected;
            const uint32_t offset = index_take(s.index, sequence);
            held_record header;
            std::memcpy(&header, _hold.get() + offset, sizeof(header));
            set_bit(s, 0, sequence);
            move_next(s, sequence + 1);
            s.held_count -= 1;
            _held_total -= 1;
            _stats.lines[header.line].arbitration_wins += 1;
            emit(s.index, s.name, sequence,
                 std::span<const std::byte>(_hold.get() + offset + sizeof(header), header.length),
                 header.line, header.receive_ns);
            if (s.held_count > 0) {
                s.front_held = next_held(s, sequence);
                s.front_deadline = held_deadline(s, s.front_held);
            }
        }
        uint64_t passed = s.line_next[0];
        for (unsigned l = 1; l < _options.lines; ++l) passed = std::min(passed, s.line_next[l]);
        if (s.held_count == 0) {
            if (passed > s.next_expected) declare_gap(s, passed);
            return;
        }
        const uint64_t limit = std::min(passed, s.front_held);
        if (limit > s.next_expected) {
            declare_gap(s, limit);
        } else if (force || now >= s.front_deadline) {
            if (!force) _stats.hold_timeouts += 1;
            declare_gap(s, s.front_held);
        } else {
            return;
        }
    }
}

void sequencer::release_all(steady_time now, sequencer_emit emit) noexcept {
    for (uint32_t i = 0; i < _session_count; ++i) {
        if (_sessions[i].held_count > 0) settle(_sessions[i], now, true, emit);
    }
    TL_ASSERT(_held_total == 0);
    _hold_used = 0;
}

void sequencer::expire(steady_time now, sequencer_emit emit) noexcept {
    if (_held_total == 0) return;
    for (uint32_t i = 0; i < _session_count; ++i) {
        session_state& s = _sessions[i];
        if (s.held_count > 0 && now >= s.front_deadline) {
            settle(s, now, false, emit);
            note_end(s);
        }
    }
    if (_held_total == 0) _hold_used = 0;
}

}  // namespace tl::feed
