#include "perf/feedgen/generator.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "base/assert.h"
#include "perf/feedgen/bytes.h"
#include "perf/feedgen/moldudp64.h"

namespace tl::feedgen {
namespace {

// A data packet, a held packet released after it and a heartbeat.
constexpr size_t max_frames_per_step = 3;
constexpr size_t arena_frames = frames_per_batch_max + max_frames_per_step;
constexpr int64_t ns_per_day = 86'400'000'000'000;
constexpr uint64_t fault_seed_salt = 0x6661756c7473'0001;  // faults draw from their own stream
constexpr uint32_t max_key_bytes = 16;

size_t max_message_bytes(const feed_config& config) {
    return config.body == message_body::itch ? itch_max_message_bytes : config.message_bytes;
}

size_t min_record_bytes(const feed_config& config) {
    if (config.kind == feed_kind::raw_udp) return config.payload_bytes;
    return config.body == message_body::itch ? itch_message_bytes(itch_type::order_delete)
                                             : config.message_bytes;
}

}  // namespace

result<void, std::string> validate(const feed_config& config) {
    if (config.sessions < 1 || config.sessions > max_sessions) {
        return failure{fmt::format("sessions: 1 to {}", max_sessions)};
    }
    if (config.lines < 1 || config.lines > max_lines) return failure{std::string("lines: 1 or 2")};
    if (config.frames_per_batch < 1 || config.frames_per_batch > frames_per_batch_max) {
        return failure{fmt::format("frames per batch: 1 to {}", frames_per_batch_max)};
    }
    if (config.instruments < 1) return failure{std::string("instruments: at least 1")};
    if (config.kind == feed_kind::moldudp64) {
        const size_t digits =
            mold_session_bytes - std::min(config.session_prefix.size(), mold_session_bytes);
        uint64_t names = 1;
        for (size_t i = 0; i < digits; ++i) names *= 10;
        if (digits == 0 || config.sessions >= names) {
            return failure{fmt::format("session prefix '{}' leaves no room for {} session numbers",
                                       config.session_prefix, config.sessions)};
        }
        for (const char c : config.session_prefix) {
            if (c < 0x20 || c > 0x7e)
                return failure{std::string("session prefix: printable ASCII")};
        }
        if (config.messages_per_packet_min < 1 ||
            config.messages_per_packet_max < config.messages_per_packet_min ||
            config.messages_per_packet_max > mold_max_messages_per_packet) {
            return failure{std::string("messages per packet: 1 <= MIN <= MAX <= 65534")};
        }
        if (config.body == message_body::opaque &&
            (config.message_bytes < 1 || config.message_bytes > 0xffff)) {
            return failure{std::string("message bytes: 1 to 65535")};
        }
        const size_t largest =
            mold_header_bytes +
            config.messages_per_packet_max * (mold_length_prefix_bytes + max_message_bytes(config));
        if (largest > max_udp_payload_bytes) {
            return failure{
                fmt::format("packets of up to {} bytes: more than the {} a UDP payload "
                            "may have here",
                            largest, max_udp_payload_bytes)};
        }
    } else {
        if (config.payload_bytes < raw_min_payload_bytes ||
            config.payload_bytes > max_udp_payload_bytes) {
            return failure{fmt::format("payload bytes: {} to {}", raw_min_payload_bytes,
                                       max_udp_payload_bytes)};
        }
        if (config.heartbeat_every > 0 || config.end_of_session != end_of_session_mode::none) {
            return failure{std::string("heartbeats and end of session: MoldUDP64 only")};
        }
        if (static_cast<uint32_t>(config.endpoints[0].source_port) + config.sessions - 1 > 65535) {
            return failure{std::string("raw flows' source ports run past 65535")};
        }
    }
    if (config.key_length > max_key_bytes ||
        config.key_offset + config.key_length > min_record_bytes(config)) {
        return failure{fmt::format(
            "key at offset {} length {}: must lie within every record "
            "({} bytes) and be at most {} bytes",
            config.key_offset, config.key_length, min_record_bytes(config), max_key_bytes)};
    }
    if (config.lines < 2 && config.faults.gaps_b > 0) {
        return failure{std::string("gaps on line B need two lines")};
    }
    if (config.faults.total() > 0 && !config.packets) {
        return failure{
            std::string("faults need a known number of packets (--count, or --rate "
                        "and --duration)")};
    }
    if (config.interval_ns < 0) return failure{std::string("interval: not negative")};
    return {};
}

result<std::vector<planned_fault>, std::string> plan_faults(uint64_t packets, uint32_t sessions,
                                                            const fault_counts& counts,
                                                            uint64_t seed) {
    TL_ASSERT(sessions >= 1);
    std::vector<planned_fault> plan;
    if (counts.total() == 0) return plan;
    std::mt19937_64 random(seed ^ fault_seed_salt);
    std::set<uint64_t> taken;
    std::set<uint64_t> reordered;
    auto acceptable = [&](uint64_t g, fault_kind kind) {
        if (g < sessions || g + sessions >= packets || taken.contains(g)) return false;
        if (reordered.contains(g - sessions)) return false;  // would hide that reorder
        if (kind == fault_kind::reorder) {
            return !taken.contains(g + sessions) && !taken.contains(g - sessions);
        }
        return true;
    };
    // Reorders first: they constrain their neighbours.
    const std::array<std::pair<fault_kind, uint64_t>, 5> categories = {{
        {fault_kind::reorder, counts.reorders},
        {fault_kind::common_gap, counts.common_gaps},
        {fault_kind::gap_a, counts.gaps_a},
        {fault_kind::gap_b, counts.gaps_b},
        {fault_kind::duplicate, counts.duplicates},
    }};
    for (size_t c = 0; c < categories.size(); ++c) {
        const auto [kind, n] = categories[c];
        if (n == 0) continue;
        const double spacing = static_cast<double>(packets) / static_cast<double>(n);
        const double phase =
            static_cast<double>(c + 1) / static_cast<double>(categories.size() + 1);
        std::uniform_real_distribution<double> jitter(-spacing / 4, spacing / 4);
        for (uint64_t i = 0; i < n; ++i) {
            const double wanted = (static_cast<double>(i) + phase) * spacing + jitter(random);
            const auto target =
                static_cast<uint64_t>(std::clamp(wanted, 0.0, static_cast<double>(packets - 1)));
            std::optional<uint64_t> found;
            for (uint64_t d = 0; !found && d < packets; ++d) {
                if (target + d < packets && acceptable(target + d, kind)) {
                    found = target + d;
                } else if (d <= target && acceptable(target - d, kind)) {
                    found = target - d;
                }
            }
            if (!found) {
                return failure{
                    fmt::format("{} packets over {} sessions leave no room for {} "
                                "faults (none on a session's first or last packet)",
                                packets, sessions, counts.total())};
            }
            taken.insert(*found);
            if (kind == fault_kind::reorder) reordered.insert(*found);
            plan.push_back({*found, kind});
        }
    }
    std::sort(plan.begin(), plan.end(), [](const planned_fault& a, const planned_fault& b) {
        return a.packet_index < b.packet_index;
    });
    return plan;
}

frame_batch::frame_batch() {
    for (line_frames& line : _lines) {
        line.arena.resize(arena_frames * max_frame_bytes);
        line.frames.reserve(arena_frames);
    }
}

bool frame_batch::empty() const noexcept {
    return std::all_of(_lines.begin(), _lines.end(),
                       [](const line_frames& l) { return l.frames.empty(); });
}

void frame_batch::clear() noexcept {
    for (line_frames& line : _lines) {
        line.used = 0;
        line.frames.clear();
    }
}

feed_generator::feed_generator(const feed_config& config, std::vector<planned_fault> plan)
    : _config(config),
      _plan(std::move(plan)),
      _random(config.seed),
      _itch(config.instruments),
      _payload(max_udp_payload_bytes),
      _time_base_ns(config.start_time_ns) {
    TL_ASSERT(validate(config).ok());
    const bool mold = config.kind == feed_kind::moldudp64;
    _manifest.feed = mold ? "moldudp64" : "raw";
    _manifest.body = !mold ? "raw" : config.body == message_body::itch ? "itch" : "opaque";
    _manifest.seed = config.seed;
    _manifest.key_offset = config.key_offset;
    _manifest.key_length = config.detail == manifest_detail::none ? 0 : config.key_length;
    _manifest.all_values = config.detail == manifest_detail::all_values;
    for (size_t line = 0; line < config.lines; ++line) {
        _manifest.lines.push_back(line_manifest{line == 0 ? "A" : "B", config.endpoints[line]});
    }
    const size_t digits = mold_session_bytes - config.session_prefix.size();
    for (uint32_t s = 0; s < config.sessions; ++s) {
        session_manifest session;
        session.source_port =
            static_cast<uint16_t>(config.endpoints[0].source_port + (mold ? 0 : s));
        session.name = mold ? fmt::format("{}{:0{}}", config.session_prefix, s + 1, digits)
                            : fmt::format("flow{}", session.source_port);
        _session_names.push_back(session.name);
        _manifest.sessions.push_back(std::move(session));
    }
}

void feed_generator::set_next_time_ns(int64_t now_ns) noexcept {
    _time_base_ns = now_ns;
    _time_base_slot = _slot;
}

int64_t feed_generator::take_slot() noexcept {
    const int64_t time_ns =
        _time_base_ns + static_cast<int64_t>(_slot - _time_base_slot) * _config.interval_ns;
    ++_slot;
    return time_ns;
}

std::optional<fault_kind> feed_generator::fault_of(uint64_t packet_index) noexcept {
    if (_plan_cursor < _plan.size() && _plan[_plan_cursor].packet_index == packet_index) {
        return _plan[_plan_cursor++].kind;
    }
    TL_ASSERT(_plan_cursor >= _plan.size() || _plan[_plan_cursor].packet_index > packet_index);
    return std::nullopt;
}

void feed_generator::record_message(session_manifest& session, std::span<const std::byte> message) {
    if (_config.kind == feed_kind::moldudp64) {
        ++session.messages_by_type[static_cast<uint8_t>(message[0])];
    }
    if (_config.detail == manifest_detail::none) return;
    const auto* bytes = reinterpret_cast<const char*>(message.data());
    session.keys.append(bytes + _config.key_offset, _config.key_length);
    if (_config.detail == manifest_detail::all_values ||
        session.value_ends.size() < value_sample_messages) {
        session.values.append(bytes, message.size());
        session.value_ends.push_back(session.values.size());
    }
}

size_t feed_generator::build_data_payload(session_manifest& session, uint32_t session_index,
                                          int64_t time_ns) {
    std::byte* out = _payload.data();
    if (_config.kind == feed_kind::raw_udp) {
        store_be<8>(out, session.next_sequence);
        store_be<8>(out + 8, static_cast<uint64_t>(time_ns));
        uint64_t word = 0;
        for (size_t i = raw_min_payload_bytes; i < _config.payload_bytes; ++i) {
            if ((i - raw_min_payload_bytes) % 8 == 0) word = _random();
            out[i] = static_cast<std::byte>('a' + (word >> (8 * (i % 8))) % 26);
        }
        record_message(session, {out, _config.payload_bytes});
        ++session.next_sequence;
        return _config.payload_bytes;
    }
    const uint16_t low = _config.messages_per_packet_min, high = _config.messages_per_packet_max;
    const auto count =
        static_cast<uint16_t>(low == high ? low : low + _random() % (high - low + 1u));
    const auto since_midnight_ns = static_cast<uint64_t>(time_ns % ns_per_day);
    size_t offset = mold_header_bytes;
    for (uint16_t i = 0; i < count; ++i) {
        std::byte* message = out + offset + mold_length_prefix_bytes;
        size_t length = 0;
        if (_config.body == message_body::itch) {
            length = _itch.next({message, itch_max_message_bytes}, since_midnight_ns, _random);
        } else {
            length = _config.message_bytes;
            const auto instrument = static_cast<uint16_t>(1 + _random() % _config.instruments);
            write_opaque_message({message, length}, instrument, session.next_sequence + i, _random);
        }
        store_be<2>(out + offset, length);
        record_message(session, {message, length});
        offset += mold_length_prefix_bytes + length;
    }
    TL_ASSERT(offset <= _payload.size());
    write_mold_header(out, _session_names[session_index], session.next_sequence, count);
    session.next_sequence += count;
    return offset;
}

size_t feed_generator::build_mold_control(uint32_t session_index, uint16_t count) {
    write_mold_header(_payload.data(), _session_names[session_index],
                      _manifest.sessions[session_index].next_sequence, count);
    return mold_header_bytes;
}

void feed_generator::emit(frame_batch& batch, size_t line, uint32_t session_index,
                          std::span<const std::byte> payload, int64_t time_ns, frame_role role) {
    frame_batch::line_frames& out = batch._lines[line];
    const size_t frame_bytes = frame_header_bytes + payload.size();
    TL_ASSERT(out.frames.size() < arena_frames && out.used + frame_bytes <= out.arena.size());
    std::byte* frame = out.arena.data() + out.used;
    std::memcpy(frame + frame_header_bytes, payload.data(), payload.size());
    udp_endpoints endpoints = _config.endpoints[line];
    if (_config.kind == feed_kind::raw_udp) {
        endpoints.source_port = static_cast<uint16_t>(endpoints.source_port + session_index);
    }
    // The IPv4 identification is the emission's slot: the same on every line.
    const auto ip_identification = static_cast<uint16_t>(_slot - 1);
    write_udp_headers({frame, frame_bytes}, payload.size(), endpoints, ip_identification,
                      _config.checksum);
    out.frames.push_back({{frame, frame_bytes}, time_ns});
    out.used += frame_bytes;

    line_manifest& stats = _manifest.lines[line];
    ++stats.frames;
    stats.bytes += frame_bytes;
    switch (role) {
        case frame_role::data:
            ++stats.data_frames;
            break;
        case frame_role::duplicate:
            ++stats.duplicate_frames;
            break;
        case frame_role::heartbeat:
            ++stats.heartbeat_frames;
            break;
        case frame_role::end_of_session:
            ++stats.end_of_session_frames;
            break;
    }
}

void feed_generator::step(frame_batch& batch) {
    const uint32_t sessions = _config.sessions;
    if (!_config.packets || _next_packet < *_config.packets) {
        const uint64_t g = _next_packet;
        const auto s = static_cast<uint32_t>(g % sessions);
        session_manifest& session = _manifest.sessions[s];
        const int64_t time_ns = take_slot();
        const std::optional<fault_kind> fault = fault_of(g);
        const uint64_t first_sequence = session.next_sequence;
        const size_t payload_bytes = build_data_payload(session, s, time_ns);
        const packet_record record{g, first_sequence,
                                   static_cast<uint32_t>(session.next_sequence - first_sequence)};
        ++session.data_packets;
        const std::span<const std::byte> payload(_payload.data(), payload_bytes);
        auto hold = [&](bool duplicate) {
            TL_ASSERT(_held.empty() || _held.back().release_after < g + sessions);
            _held.push_back({g + sessions, s, duplicate, {payload.begin(), payload.end()}});
        };
        if (fault == fault_kind::reorder) {
            session.reorders.push_back(record);
            hold(false);
        } else {
            for (size_t line = 0; line < _config.lines; ++line) {
                const bool lost = fault == fault_kind::common_gap ||
                                  (fault == fault_kind::gap_a && line == 0) ||
                                  (fault == fault_kind::gap_b && line == 1);
                if (!lost) emit(batch, line, s, payload, time_ns, frame_role::data);
            }
            if (fault == fault_kind::common_gap) session.common_gaps.push_back(record);
            if (fault == fault_kind::gap_a) session.gaps[0].push_back(record);
            if (fault == fault_kind::gap_b) session.gaps[1].push_back(record);
            if (fault == fault_kind::duplicate) {
                session.duplicates.push_back(record);
                hold(true);
            }
        }
        if (!_held.empty() && _held.front().release_after == g) {
            const held_packet& held = _held.front();
            const int64_t release_ns = take_slot();
            for (size_t line = 0; line < _config.lines; ++line) {
                emit(batch, line, held.session, held.payload, release_ns,
                     held.duplicate ? frame_role::duplicate : frame_role::data);
            }
            _held.pop_front();
        }
        TL_ASSERT(_held.empty() || _held.front().release_after > g);
        if (_config.heartbeat_every > 0 && session.data_packets % _config.heartbeat_every == 0) {
            const size_t bytes = build_mold_control(s, mold_heartbeat_count);
            const int64_t heartbeat_ns = take_slot();
            for (size_t line = 0; line < _config.lines; ++line) {
                emit(batch, line, s, {_payload.data(), bytes}, heartbeat_ns, frame_role::heartbeat);
            }
            ++session.heartbeats;
        }
        ++_next_packet;
        _manifest.data_packets = _next_packet;
        return;
    }
    TL_ASSERT(_held.empty());
    if (_config.end_of_session == end_of_session_mode::send && _end_of_session_sent < sessions) {
        const uint32_t s = _end_of_session_sent++;
        const size_t bytes = build_mold_control(s, mold_end_of_session_count);
        const int64_t time_ns = take_slot();
        for (size_t line = 0; line < _config.lines; ++line) {
            emit(batch, line, s, {_payload.data(), bytes}, time_ns, frame_role::end_of_session);
        }
        ++_manifest.sessions[s].end_of_session_packets;
        return;
    }
    _done = true;
    _manifest.complete = true;
}

bool feed_generator::next_batch(frame_batch& batch) {
    batch.clear();
    auto room = [&] {
        for (size_t line = 0; line < _config.lines; ++line) {
            if (batch.frames(line).size() + max_frames_per_step > _config.frames_per_batch) {
                return false;
            }
        }
        return true;
    };
    do {
        step(batch);
    } while (!_done && room());
    return !batch.empty() || !_done;
}

}  // namespace tl::feedgen
