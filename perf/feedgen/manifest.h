// What a feed_generator produced, for tests that check a decoder exactly:
// per session the sequences, the packets each line lost (gaps), duplicated
// and reordered, hence the sequences each line carried and the union a
// receiver of every line should deliver; the key bytes of every message and
// the value bytes of some (or all). Written as JSON (format in README.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "perf/feedgen/frame.h"

namespace tl::feedgen {

constexpr size_t max_lines = 2;
constexpr size_t value_sample_messages = 8;  // per session, without --manifest-values

// One data packet's messages: sequences [first_sequence, first_sequence + message_count).
struct packet_record {
    uint64_t packet_index = 0;  // over every session, before faults, from 0
    uint64_t first_sequence = 0;
    uint32_t message_count = 0;
};

// Closed interval of sequence numbers.
struct sequence_range {
    uint64_t first = 0;
    uint64_t last = 0;
    bool operator==(const sequence_range&) const = default;
};

struct session_manifest {
    std::string name;  // MoldUDP64 session; raw flows: "flow" + source port
    uint16_t source_port = 0;
    uint64_t next_sequence = 1;
    uint64_t data_packets = 0;
    uint64_t heartbeats = 0;
    uint64_t end_of_session_packets = 0;
    std::array<std::vector<packet_record>, max_lines> gaps;  // lost on that line only
    std::vector<packet_record> common_gaps;                  // lost on every line
    std::vector<packet_record> duplicates;                   // sent twice on every line
    std::vector<packet_record> reorders;                     // sent after the session's next packet
    std::array<uint64_t, 256> messages_by_type{};            // by first byte (ITCH type); raw: 0
    std::string keys;                  // key_length bytes per message, by sequence - 1
    std::string values;                // message bytes, concatenated, from sequence 1
    std::vector<uint64_t> value_ends;  // end offset in `values` of each message kept

    uint64_t messages() const noexcept { return next_sequence - 1; }
};

struct line_manifest {
    std::string name;         // "A", "B"
    udp_endpoints endpoints;  // source port of flow 0
    std::string sink;
    uint64_t frames = 0;
    uint64_t bytes = 0;  // frame bytes
    uint64_t data_frames = 0;
    uint64_t duplicate_frames = 0;
    uint64_t heartbeat_frames = 0;
    uint64_t end_of_session_frames = 0;
};

struct feed_manifest {
    std::string feed;  // "moldudp64" or "raw"
    std::string body;  // "itch", "opaque", or "raw"
    uint64_t seed = 0;
    uint32_t key_offset = 0;
    uint32_t key_length = 0;
    bool all_values = false;
    bool complete = false;  // every planned packet was generated
    uint64_t data_packets = 0;
    std::vector<line_manifest> lines;
    std::vector<session_manifest> sessions;
};

// Sequences carried by line `line` (all minus its gaps and the common gaps).
std::vector<sequence_range> line_ranges(const session_manifest& session, size_t line);
// Sequences carried by at least one of `lines` lines (what A/B arbitration delivers).
std::vector<sequence_range> delivered_ranges(const session_manifest& session, size_t lines);

result<void, std::string> write_manifest_json(const feed_manifest& manifest,
                                              const std::string& path);

}  // namespace tl::feedgen
