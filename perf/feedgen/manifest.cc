#include "perf/feedgen/manifest.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/json.h"

namespace tl::feedgen {
namespace {

constexpr std::array<const char*, max_lines> line_names = {"A", "B"};

std::vector<sequence_range> ranges_of(std::vector<packet_record> records) {
    std::sort(records.begin(), records.end(), [](const packet_record& a, const packet_record& b) {
        return a.first_sequence < b.first_sequence;
    });
    std::vector<sequence_range> ranges;
    for (const packet_record& r : records) {
        if (r.message_count == 0) continue;
        const sequence_range range{r.first_sequence, r.first_sequence + r.message_count - 1};
        if (!ranges.empty() && ranges.back().last + 1 >= range.first) {
            ranges.back().last = std::max(ranges.back().last, range.last);
        } else {
            ranges.push_back(range);
        }
    }
    return ranges;
}

std::vector<sequence_range> missing_on(const session_manifest& session, size_t line) {
    std::vector<packet_record> lost = session.common_gaps;
    lost.insert(lost.end(), session.gaps[line].begin(), session.gaps[line].end());
    return ranges_of(std::move(lost));
}

std::vector<sequence_range> intersect(const std::vector<sequence_range>& a,
                                      const std::vector<sequence_range>& b) {
    std::vector<sequence_range> out;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const uint64_t first = std::max(a[i].first, b[j].first);
        const uint64_t last = std::min(a[i].last, b[j].last);
        if (first <= last) out.push_back({first, last});
        (a[i].last < b[j].last ? i : j)++;
    }
    return out;
}

// [1, messages] minus `missing` (sorted, disjoint).
std::vector<sequence_range> complement(const std::vector<sequence_range>& missing,
                                       uint64_t messages) {
    std::vector<sequence_range> out;
    uint64_t next = 1;
    for (const sequence_range& m : missing) {
        if (m.first > next) out.push_back({next, m.first - 1});
        next = m.last + 1;
    }
    if (next <= messages) out.push_back({next, messages});
    return out;
}

std::string hex_of(std::string_view bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += digits[u >> 4];
        out += digits[u & 0xf];
    }
    return out;
}

std::string json_ranges(const std::vector<sequence_range>& ranges) {
    std::string out = "[";
    for (const sequence_range& r : ranges) {
        out += fmt::format("{}[{},{}]", out.size() > 1 ? "," : "", r.first, r.last);
    }
    return out + "]";
}

std::string json_records(const std::vector<packet_record>& records) {
    std::string out = "[";
    for (const packet_record& r : records) {
        out += fmt::format("{}{{\"packet\":{},\"first_sequence\":{},\"messages\":{}}}",
                           out.size() > 1 ? "," : "", r.packet_index, r.first_sequence,
                           r.message_count);
    }
    return out + "]";
}

uint64_t count_of(const std::vector<sequence_range>& ranges) {
    uint64_t total = 0;
    for (const sequence_range& r : ranges) total += r.last - r.first + 1;
    return total;
}

void write_session(std::FILE* out, const feed_manifest& manifest, const session_manifest& session) {
    const size_t lines = manifest.lines.size();
    fmt::print(out,
               "{{\"name\":{},\"source_port\":{},\"first_sequence\":1,\"next_sequence\":{},"
               "\"messages\":{},\"data_packets\":{},\"heartbeats\":{},"
               "\"end_of_session_packets\":{}",
               json_string(session.name), session.source_port, session.next_sequence,
               session.messages(), session.data_packets, session.heartbeats,
               session.end_of_session_packets);
    if (manifest.feed == "moldudp64") {
        std::string types = "{";
        for (size_t type = 0; type < session.messages_by_type.size(); ++type) {
            if (session.messages_by_type[type] == 0) continue;
            types += fmt::format("{}{}:{}", types.size() > 1 ? "," : "",
                                 json_string(std::string(1, static_cast<char>(type))),
                                 session.messages_by_type[type]);
        }
        fmt::print(out, ",\"messages_by_type\":{}}}", types);
    }
    fmt::print(out, ",\"gaps\":{{");
    for (size_t line = 0; line < lines; ++line) {
        fmt::print(out, "{}\"{}\":{}", line > 0 ? "," : "", line_names[line],
                   json_records(session.gaps[line]));
    }
    fmt::print(out, "}},\"common_gaps\":{},\"duplicates\":{},\"reorders\":{}",
               json_records(session.common_gaps), json_records(session.duplicates),
               json_records(session.reorders));
    fmt::print(out, ",\"sent\":{{");
    for (size_t line = 0; line < lines; ++line) {
        const auto ranges = line_ranges(session, line);
        fmt::print(out, "{}\"{}\":{{\"ranges\":{},\"messages\":{}}}", line > 0 ? "," : "",
                   line_names[line], json_ranges(ranges), count_of(ranges));
    }
    const auto delivered = delivered_ranges(session, lines);
    fmt::print(out, "}},\"delivered\":{{\"ranges\":{},\"messages\":{}}}", json_ranges(delivered),
               count_of(delivered));

    const size_t key_length = manifest.key_length;
    if (key_length > 0 && session.keys.size() == session.messages() * key_length) {
        std::map<std::string, uint64_t> by_key;
        for (const sequence_range& r : delivered) {
            for (uint64_t sequence = r.first; sequence <= r.last; ++sequence) {
                ++by_key[session.keys.substr((sequence - 1) * key_length, key_length)];
            }
        }
        fmt::print(out, ",\"delivered_by_key\":{{");
        bool first = true;
        for (const auto& [key, count] : by_key) {
            fmt::print(out, "{}\"{}\":{}", first ? "" : ",", hex_of(key), count);
            first = false;
        }
        fmt::print(out, "}},\"keys\":[");
        for (uint64_t i = 0; i < session.messages(); ++i) {
            fmt::print(out, "{}\"{}\"", i > 0 ? "," : "",
                       hex_of(std::string_view(session.keys).substr(i * key_length, key_length)));
        }
        fmt::print(out, "]");
    }
    fmt::print(out, ",\"values\":{{\"all\":{},\"first_sequence\":1,\"hex\":[",
               manifest.all_values ? "true" : "false");
    uint64_t begin = 0;
    for (size_t i = 0; i < session.value_ends.size(); ++i) {
        const uint64_t end = session.value_ends[i];
        fmt::print(out, "{}\"{}\"", i > 0 ? "," : "",
                   hex_of(std::string_view(session.values).substr(begin, end - begin)));
        begin = end;
    }
    fmt::print(out, "]}}}}");
}

}  // namespace

std::vector<sequence_range> line_ranges(const session_manifest& session, size_t line) {
    TL_ASSERT(line < max_lines);
    return complement(missing_on(session, line), session.messages());
}

std::vector<sequence_range> delivered_ranges(const session_manifest& session, size_t lines) {
    TL_ASSERT(lines >= 1 && lines <= max_lines);
    std::vector<sequence_range> missing = missing_on(session, 0);
    for (size_t line = 1; line < lines; ++line)
        missing = intersect(missing, missing_on(session, line));
    return complement(missing, session.messages());
}

result<void, std::string> write_manifest_json(const feed_manifest& manifest,
                                              const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(path.c_str(), "w"),
                                                        &std::fclose);
    if (!out) return failure{fmt::format("{}: {}", path, std::strerror(errno))};
    std::FILE* f = out.get();
    fmt::print(f,
               "{{\"tool\":\"feedgen\",\"format\":1,\"feed\":{},\"body\":{},\"seed\":{},"
               "\"complete\":{},\"data_packets\":{},\"key\":{{\"offset\":{},\"length\":{}}},"
               "\"lines\":[",
               json_string(manifest.feed), json_string(manifest.body), manifest.seed,
               manifest.complete ? "true" : "false", manifest.data_packets, manifest.key_offset,
               manifest.key_length);
    for (size_t i = 0; i < manifest.lines.size(); ++i) {
        const line_manifest& line = manifest.lines[i];
        const udp_endpoints& e = line.endpoints;
        fmt::print(f,
                   "{}{{\"name\":{},\"source\":\"{}:{}\",\"destination\":\"{}:{}\","
                   "\"source_mac\":\"{}\",\"destination_mac\":\"{}\",\"sink\":{},\"frames\":{},"
                   "\"bytes\":{},\"data_frames\":{},\"duplicate_frames\":{},"
                   "\"heartbeat_frames\":{},\"end_of_session_frames\":{}}}",
                   i > 0 ? "," : "", json_string(line.name), to_string(e.source_address),
                   e.source_port, to_string(e.destination_address), e.destination_port,
                   to_string(e.source_mac), to_string(e.destination_mac), json_string(line.sink),
                   line.frames, line.bytes, line.data_frames, line.duplicate_frames,
                   line.heartbeat_frames, line.end_of_session_frames);
    }
    fmt::print(f, "],\"sessions\":[");
    for (size_t i = 0; i < manifest.sessions.size(); ++i) {
        if (i > 0) fmt::print(f, ",\n");
        write_session(f, manifest, manifest.sessions[i]);
    }
    fmt::print(f, "]}}\n");
    if (std::ferror(f) != 0) return failure{fmt::format("{}: write failed", path)};
    if (std::fclose(out.release()) != 0) {
        return failure{fmt::format("{}: {}", path, std::strerror(errno))};
    }
    return {};
}

}  // namespace tl::feedgen
