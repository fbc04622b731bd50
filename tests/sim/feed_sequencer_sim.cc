// Deterministic simulation of the MoldUDP64 sequencer (src/feed/sequencer.h).
//
// Each seed generates 1-3 sessions' message streams, cut into packets with
// heartbeats in between, and sends every packet over 1 or 2 lines. Each line
// loses, duplicates and delays packets at its own seeded rates; in some seeds
// a line also reorders its own packets, goes silent for a while (so holds
// time out) or the hold is tiny (so it overflows). Arrivals drive on_packet in
// time order with expire() before each, on a simulated clock; at the end each
// line delivers an end of session and time runs out. Checked after each run:
//   - every message that arrived on at least one line is emitted exactly
//     once, with its own bytes; nothing else is emitted;
//   - without timeout, overflow or reordering within a line, messages at or
//     above each session's start come out in strict sequence order;
//   - gap_messages - gap_filled_messages = messages lost on every line (at or
//     above the session start);
//   - duplicate_messages = copies a line repeated; arbitration_duplicates =
//     copies that arrived on the second line; every session ended, nothing held.
// A failure prints its seed; `feed_sequencer_sim --seed N` replays it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "feed/moldudp64.h"
#include "feed/sequencer.h"

namespace tl::feed {
namespace {

using bytes = std::vector<std::byte>;

struct failure_report {
    std::string what;
};

#define SIM_CHECK(condition, ...)                                 \
    do {                                                          \
        if (!(condition)) {                                       \
            char message[512];                                    \
            std::snprintf(message, sizeof(message), __VA_ARGS__); \
            return failure_report{message};                       \
        }                                                         \
    } while (false)

struct totals_t {
    uint64_t messages = 0, emitted = 0, gaps = 0, filled = 0, duplicates = 0, arbitration = 0,
             timeouts = 0, overflows = 0, held = 0;
} totals;

void put(bytes& b, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
}

struct sim_packet {
    int session;
    uint64_t first;
    uint16_t count;  // 0 heartbeat, 0xFFFF end
    bytes wire;
};

std::string session_name(int session) { return "SIMSESS" + std::to_string(100 + session); }
std::string message_text(int session, uint64_t sequence) {
    return std::to_string(session) + ":" + std::to_string(sequence);
}

sim_packet make_packet(int session, uint64_t first, uint16_t count) {
    sim_packet p{session, first, count, {}};
    const std::string name = session_name(session);
    for (char c : name) p.wire.push_back(static_cast<std::byte>(c));
    put(p.wire, first, 8);
    put(p.wire, count, 2);
    if (count != 0 && count != 0xFFFF) {
        for (uint64_t s = first; s < first + count; ++s) {
            const std::string m = message_text(session, s);
            put(p.wire, m.size(), 2);
            for (char c : m) p.wire.push_back(static_cast<std::byte>(c));
        }
    }
    return p;
}

struct arrival {
    int64_t at_ns;
    uint64_t order;  // tie-break: deterministic
    unsigned line;
    size_t packet;
};

struct message_key {
    int session;
    uint64_t sequence;
    auto operator<=>(const message_key&) const = default;
};

std::optional<failure_report> run_seed(uint64_t seed) {
    std::mt19937_64 random(seed * 0x9e3779b97f4a7c15ULL + 17);
    const auto uniform = [&](double p) { return std::uniform_real_distribution<>(0, 1)(random) < p; };
    const auto between = [&](uint64_t lo, uint64_t hi) { return lo + random() % (hi - lo + 1); };

    sequencer_options options;
    options.lines = 1 + static_cast<unsigned>(random() % 2);
    options.max_sessions = 4;
    options.hold_timeout = std::chrono::microseconds(between(50, 500));
    const bool tiny_hold = uniform(0.1);
    options.hold_messages = tiny_hold ? static_cast<uint32_t>(between(1, 32)) : 4096;
    options.hold_bytes = min_hold_bytes;
    const bool reorder = uniform(0.2);
    const bool silence = uniform(0.2);

    // Streams and packets, in send order, sessions interleaved.
    const int sessions = static_cast<int>(between(1, 3));
    std::vector<sim_packet> packets;
    std::vector<uint64_t> next(sessions), last(sessions);
    for (int s = 0; s < sessions; ++s) {
        next[s] = between(1, 1000);
        last[s] = next[s] + between(50, 1500);
    }
    std::vector<int> live;
    for (int s = 0; s < sessions; ++s) live.push_back(s);
    while (!live.empty()) {
        const size_t pick = random() % live.size();
        const int s = live[pick];
        if (uniform(0.05)) {
            packets.push_back(make_packet(s, next[s], 0));
            continue;
        }
        const uint64_t count = std::min<uint64_t>(between(1, 6), last[s] - next[s]);
        packets.push_back(make_packet(s, next[s], static_cast<uint16_t>(count)));
        next[s] += count;
        if (next[s] == last[s]) live.erase(live.begin() + static_cast<long>(pick));
    }

    // Each line's fate for each packet.
    std::vector<arrival> arrivals;
    uint64_t order = 0;
    std::map<message_key, std::array<int, max_lines>> copies;
    for (unsigned line = 0; line < options.lines; ++line) {
        const double loss = std::uniform_real_distribution<>(0, 0.2)(random);
        const double duplicate = std::uniform_real_distribution<>(0, 0.05)(random);
        const int64_t base_delay = static_cast<int64_t>(between(1'000, 60'000));
        int64_t previous = 0;
        const size_t silent_from = silence ? random() % packets.size() : packets.size();
        const size_t silent_to = std::min(packets.size(), silent_from + between(1, 200));
        for (size_t i = 0; i < packets.size(); ++i) {
            const int64_t sent = static_cast<int64_t>(i) * 2'000;  // a packet every 2 us
            const int copies_sent = uniform(loss) ? 0 : (uniform(duplicate) ? 2 : 1);
            for (int c = 0; c < copies_sent; ++c) {
                int64_t at = sent + base_delay + static_cast<int64_t>(between(0, 20'000));
                if (line == 1 && i >= silent_from && i < silent_to) at += 2'000'000;  // 2 ms late
                if (!reorder) at = std::max(at, previous);
                previous = std::max(previous, at);
                arrivals.push_back({at, order++, line, i});
                const sim_packet& p = packets[i];
                if (p.count != 0 && p.count != 0xFFFF) {
                    for (uint64_t q = p.first; q < p.first + p.count; ++q) {
                        copies[{p.session, q}][line] += 1;
                    }
                }
            }
        }
    }
    std::sort(arrivals.begin(), arrivals.end(), [](const arrival& a, const arrival& b) {
        return a.at_ns != b.at_ns ? a.at_ns < b.at_ns : a.order < b.order;
    });

    sequencer seq(options);
    std::map<message_key, int> emitted;
    std::vector<std::vector<uint64_t>> in_order(sessions);
    std::optional<failure_report> bad;
    const auto emit = [&](uint32_t, const mold_session& name, uint64_t sequence,
                          std::span<const std::byte> message, unsigned, int64_t) {
        const int s = std::atoi(std::string(name.data() + 7, 3).c_str()) - 100;
        const std::string got(reinterpret_cast<const char*>(message.data()), message.size());
        if (s < 0 || s >= sessions || got != message_text(s, sequence)) {
            if (!bad) bad = failure_report{"emitted a message with the wrong bytes: " + got};
            return;
        }
        emitted[{s, sequence}] += 1;
        in_order[s].push_back(sequence);
    };
    const auto deliver = [&](const sim_packet& p, unsigned line, steady_time now) {
        mold_packet parsed;
        if (parse_moldudp64(p.wire, parsed) != mold_status::ok) std::abort();
        seq.on_packet(parsed, line, now, emit);
    };
    int64_t now_ns = 0;
    for (const arrival& a : arrivals) {
        now_ns = a.at_ns;
        const steady_time now{duration_ns(now_ns)};
        seq.expire(now, emit);
        deliver(packets[a.packet], a.line, now);
        if (bad) return bad;
    }
    // The end of each session reaches every line; then time runs out.
    now_ns += 10'000'000;
    for (int s = 0; s < sessions; ++s) {
        for (unsigned line = 0; line < options.lines; ++line) {
            deliver(make_packet(s, last[s], 0xFFFF), line, steady_time(duration_ns(now_ns)));
        }
    }
    seq.expire(steady_time(duration_ns(now_ns + 1'000'000'000)), emit);
    if (bad) return bad;

    const sequencer_stats& st = seq.stats();
    const bool ordered = !reorder && st.hold_timeouts == 0 && st.hold_overflows == 0;
    std::map<int, uint64_t> start;
    for (uint32_t i = 0; i < seq.session_count(); ++i) {
        const auto view = seq.session(i);
        const int s = std::atoi(std::string(view.session.data() + 7, 3).c_str()) - 100;
        start[s] = view.start_sequence;
        SIM_CHECK(view.ended, "session %d not ended (next %llu)", s,
                  static_cast<unsigned long long>(view.next_expected));
    }
    uint64_t lost = 0, same_line_duplicates = 0, cross_line = 0;
    for (const auto& [key, per_line] : copies) {
        int lines_arrived = 0;
        for (unsigned l = 0; l < options.lines; ++l) {
            if (per_line[l] > 0) ++lines_arrived;
            if (per_line[l] > 1) same_line_duplicates += static_cast<uint64_t>(per_line[l] - 1);
        }
        if (lines_arrived > 1) cross_line += static_cast<uint64_t>(lines_arrived - 1);
        const int got = emitted.count(key) ? emitted.at(key) : 0;
        SIM_CHECK(got == (lines_arrived > 0 ? 1 : 0),
                  "session %d sequence %llu arrived on %d lines, emitted %d times", key.session,
                  static_cast<unsigned long long>(key.sequence), lines_arrived, got);
    }
    // Messages that never arrived anywhere (not in `copies` at all, or zero copies).
    std::map<int, uint64_t> first_sent;
    for (const sim_packet& p : packets) {
        if (p.count == 0 || p.count == 0xFFFF) continue;
        if (!first_sent.count(p.session)) first_sent[p.session] = p.first;
    }
    for (int s = 0; s < sessions; ++s) {
        if (!start.count(s)) continue;
        for (uint64_t q = std::max(first_sent[s], start[s]); q < last[s]; ++q) {
            const auto it = copies.find({s, q});
            if (it == copies.end()) ++lost;
        }
    }
    for (const auto& [key, count] : emitted) {
        SIM_CHECK(copies.count(key), "emitted session %d sequence %llu that never arrived",
                  key.session, static_cast<unsigned long long>(key.sequence));
    }
    SIM_CHECK(st.gap_messages - st.gap_filled_messages == lost,
              "gap_messages %llu - filled %llu != lost %llu",
              static_cast<unsigned long long>(st.gap_messages),
              static_cast<unsigned long long>(st.gap_filled_messages),
              static_cast<unsigned long long>(lost));
    SIM_CHECK(st.duplicate_messages == same_line_duplicates, "duplicates %llu != injected %llu",
              static_cast<unsigned long long>(st.duplicate_messages),
              static_cast<unsigned long long>(same_line_duplicates));
    uint64_t arbitration = 0;
    for (const line_stats& l : st.lines) arbitration += l.arbitration_duplicates;
    SIM_CHECK(arbitration == cross_line, "arbitration duplicates %llu != second copies %llu",
              static_cast<unsigned long long>(arbitration),
              static_cast<unsigned long long>(cross_line));
    SIM_CHECK(seq.held_messages() == 0, "%u messages still held", seq.held_messages());
    SIM_CHECK(st.stale_messages == 0 && st.after_end_of_session == 0,
              "stale %llu, after end %llu", static_cast<unsigned long long>(st.stale_messages),
              static_cast<unsigned long long>(st.after_end_of_session));
    if (ordered) {
        for (int s = 0; s < sessions; ++s) {
            uint64_t previous = 0;
            bool any = false;
            for (uint64_t q : in_order[s]) {
                if (q < start[s]) continue;
                SIM_CHECK(!any || q > previous,
                          "session %d: %llu emitted after %llu (lines %u, no timeout/overflow)", s,
                          static_cast<unsigned long long>(q),
                          static_cast<unsigned long long>(previous), options.lines);
                previous = q;
                any = true;
            }
        }
    }
    totals.messages += copies.size() + lost;
    totals.emitted += emitted.size();
    totals.gaps += st.gap_messages;
    totals.filled += st.gap_filled_messages;
    totals.duplicates += st.duplicate_messages;
    totals.arbitration += arbitration;
    totals.timeouts += st.hold_timeouts;
    totals.overflows += st.hold_overflows;
    totals.held += st.held_messages;
    return std::nullopt;
}

}  // namespace
}  // namespace tl::feed

int main(int argc, char** argv) {
    uint64_t first = 0;
    uint64_t count = 2000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
            count = 1;
        } else if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--first-seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: %s [--seed N | --seeds COUNT [--first-seed N]]\n",
                         argv[0]);
            return 2;
        }
    }
    for (uint64_t seed = first; seed < first + count; ++seed) {
        auto failed = tl::feed::run_seed(seed);
        if (failed) {
            std::printf("FAILED seed %llu: %s\nreplay: %s --seed %llu\n",
                        static_cast<unsigned long long>(seed), failed->what.c_str(), argv[0],
                        static_cast<unsigned long long>(seed));
            return 1;
        }
    }
    const auto& t = tl::feed::totals;
    std::printf("%llu seeds passed (first %llu): %llu messages, %llu emitted, %llu gap (%llu filled "
                "late), %llu duplicates, %llu arbitration duplicates, %llu held, %llu hold "
                "timeouts, %llu overflows\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(t.messages),
                static_cast<unsigned long long>(t.emitted), static_cast<unsigned long long>(t.gaps),
                static_cast<unsigned long long>(t.filled),
                static_cast<unsigned long long>(t.duplicates),
                static_cast<unsigned long long>(t.arbitration),
                static_cast<unsigned long long>(t.held), static_cast<unsigned long long>(t.timeouts),
                static_cast<unsigned long long>(t.overflows));
    return 0;
}
