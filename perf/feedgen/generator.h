// The feed generator: MoldUDP64 packets (ITCH-like or opaque messages) or raw
// UDP datagrams, over N sessions (raw: flows), on one or two lines (A/B
// copies), with seeded faults — gaps per line or on both, duplicates,
// reorders — heartbeats and end-of-session packets, and a manifest of it all.
//
// Packet i (from 0, over every session) belongs to session i % sessions.
// Every line carries the same payloads at the same times; lines differ only
// in their destination (port) and in the packets each line lost. Content
// comes from one random stream and faults from another, both from the seed,
// so the same seed gives the same bytes whatever the faults.
//
// Thread safety: a generator and its batches belong to one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "perf/feedgen/frame.h"
#include "perf/feedgen/itch.h"
#include "perf/feedgen/manifest.h"
#include "perf/feedgen/sink.h"

namespace tl::feedgen {

enum class feed_kind { moldudp64, raw_udp };
enum class message_body { itch, opaque };
enum class end_of_session_mode { none, send };
enum class manifest_detail {
    none,        // counters and faults only (long runs)
    keys,        // + every message's key bytes and a sample of values
    all_values,  // + every message's value bytes
};

struct fault_counts {
    uint64_t gaps_a = 0;       // packets lost on line A only
    uint64_t gaps_b = 0;       // on line B only
    uint64_t common_gaps = 0;  // on every line
    uint64_t duplicates = 0;   // sent again (every line) after the session's next packet
    uint64_t reorders = 0;     // sent (every line) after the session's next packet
    uint64_t total() const noexcept {
        return gaps_a + gaps_b + common_gaps + duplicates + reorders;
    }
};

enum class fault_kind : uint8_t { gap_a, gap_b, common_gap, duplicate, reorder };

struct planned_fault {
    uint64_t packet_index = 0;
    fault_kind kind = fault_kind::gap_a;
};

// Chooses the faulted packets, spread over the run (evenly spaced with a
// seeded jitter, each kind at its own phase): never a session's first or
// last packet, one fault per packet, and no fault next (in its session) to
// a reordered packet, so that every fault shows as itself. Sorted by packet.
result<std::vector<planned_fault>, std::string> plan_faults(uint64_t packets, uint32_t sessions,
                                                            const fault_counts& counts,
                                                            uint64_t seed);

constexpr uint32_t max_sessions = 4096;
constexpr size_t frames_per_batch_max = 64;  // per line

struct feed_config {
    feed_kind kind = feed_kind::moldudp64;
    message_body body = message_body::itch;
    uint32_t sessions = 1;
    std::string session_prefix = "SESSION";  // + zero-padded number to 10 characters
    uint16_t messages_per_packet_min = 1;
    uint16_t messages_per_packet_max = 1;
    uint32_t message_bytes = 32;  // opaque bodies
    uint32_t payload_bytes = 64;  // raw datagrams, >= raw_min_payload_bytes
    uint16_t instruments = 16;
    size_t lines = 1;
    // Per line; source_port is flow 0's (raw flow f uses source_port + f).
    std::array<udp_endpoints, max_lines> endpoints{};
    udp_checksum_mode checksum = udp_checksum_mode::compute;
    std::optional<uint64_t> packets;  // data packets over all sessions; none: unbounded
    fault_counts faults;
    uint64_t heartbeat_every = 0;  // a heartbeat after every N data packets of a session
    end_of_session_mode end_of_session = end_of_session_mode::none;
    uint64_t seed = 1;
    int64_t start_time_ns = 0;  // since the epoch: the first frame's time
    int64_t interval_ns = 0;    // between emissions (1e9 / rate)
    size_t frames_per_batch = frames_per_batch_max;
    manifest_detail detail = manifest_detail::keys;
    uint32_t key_offset = 1;  // in each message (raw: the payload)
    uint32_t key_length = 2;
};

constexpr uint32_t raw_min_payload_bytes = 16;  // sequence u64 BE + timestamp ns u64 BE

// Checks a configuration; the generator asserts what this accepts.
result<void, std::string> validate(const feed_config& config);

// Frames of every line for one batch. Storage is allocated once; the frames'
// spans are valid until the next next_batch() on it.
class frame_batch {
public:
    frame_batch();
    std::span<const timed_frame> frames(size_t line) const {
        return {_lines[line].frames.data(), _lines[line].frames.size()};
    }
    bool empty() const noexcept;

private:
    friend class feed_generator;
    struct line_frames {
        std::vector<std::byte> arena;  // frames_per_batch_max * max_frame_bytes
        size_t used = 0;
        std::vector<timed_frame> frames;  // capacity frames_per_batch_max
    };
    void clear() noexcept;
    std::array<line_frames, max_lines> _lines;
};

class feed_generator {
public:
    // `config` must have passed validate().
    feed_generator(const feed_config& config, std::vector<planned_fault> plan);

    // Fills `batch` with the next frames (at most config.frames_per_batch per
    // line). Returns false, with an empty batch, once everything is generated.
    bool next_batch(frame_batch& batch);

    // With interval_ns 0 (as fast as possible), the caller's clock dates the
    // frames: the next emission is at `now_ns`.
    void set_next_time_ns(int64_t now_ns) noexcept;

    bool done() const noexcept { return _done; }
    uint64_t data_packets() const noexcept { return _next_packet; }
    feed_manifest& manifest() noexcept { return _manifest; }

private:
    struct held_packet {
        uint64_t release_after;  // packet index
        uint32_t session;
        bool duplicate;
        std::vector<std::byte> payload;
    };
    enum class frame_role { data, duplicate, heartbeat, end_of_session };

    void step(frame_batch& batch);
    size_t build_data_payload(session_manifest& session, uint32_t session_index, int64_t time_ns);
    size_t build_mold_control(uint32_t session_index, uint16_t count);
    void record_message(session_manifest& session, std::span<const std::byte> message);
    void emit(frame_batch& batch, size_t line, uint32_t session_index,
              std::span<const std::byte> payload, int64_t time_ns, frame_role role);
    int64_t take_slot() noexcept;
    std::optional<fault_kind> fault_of(uint64_t packet_index) noexcept;

    feed_config _config;
    std::vector<planned_fault> _plan;
    size_t _plan_cursor = 0;
    std::mt19937_64 _random;
    itch_source _itch;
    std::vector<std::string> _session_names;
    std::deque<held_packet> _held;    // sorted by release_after; at most the faults planned
    std::vector<std::byte> _payload;  // max_udp_payload_bytes
    uint64_t _next_packet = 0;
    uint32_t _end_of_session_sent = 0;
    uint64_t _slot = 0;
    uint64_t _time_base_slot = 0;
    int64_t _time_base_ns = 0;
    bool _done = false;
    feed_manifest _manifest;
};

}  // namespace tl::feedgen
