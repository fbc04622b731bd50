// perf/feedgen, the feed traffic generator: what it proves and how.
//  - Frames parse back with a strict parser: lengths, the IPv4 header checksum
//    (also against RFC 1071's worked header), the UDP checksum when computed,
//    multicast MACs; a flipped byte is caught.
//  - MoldUDP64 packets have BE header fields, sequences from 1 per session
//    without holes, length prefixes that cover the payload exactly, and ITCH
//    messages of their true sizes with stock locates in 1..instruments.
//  - Injected gaps, duplicates, reorders, heartbeats and end-of-session
//    packets are exactly what the manifest says, per line; A and B carry the
//    same payloads at the same times and differ only in their gaps.
//  - The same seed gives byte-identical pcap files; libpcap reads them back
//    (when libpcap is installed) with the frames' bytes and timestamps.
//  - Raw datagrams carry their per-flow sequence and time; the UDP socket
//    sink delivers every payload over loopback.
// Everything is generated in memory or in a temporary directory; no test
// takes more than a few milliseconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#if FEEDGEN_TEST_HAVE_LIBPCAP
#include <pcap/pcap.h>
#endif

#include "perf/feedgen/bytes.h"
#include "perf/feedgen/frame.h"
#include "perf/feedgen/generator.h"
#include "perf/feedgen/itch.h"
#include "perf/feedgen/manifest.h"
#include "perf/feedgen/moldudp64.h"
#include "perf/feedgen/sink.h"

namespace tl::feedgen {
namespace {

using bytes = std::vector<std::byte>;

struct captured_frame {
    int64_t time_ns;
    bytes frame;
};

struct generated {
    std::array<std::vector<captured_frame>, max_lines> lines;
    feed_manifest manifest;
};

udp_endpoints default_endpoints(uint16_t destination_port) {
    udp_endpoints e;
    e.source_mac = {{0x02, 0, 0, 0, 0, 0x01}};
    e.source_address = *parse_ipv4("198.18.0.1");
    e.destination_address = *parse_ipv4("239.1.1.1");
    e.destination_mac = multicast_mac_of(e.destination_address);
    e.source_port = 40000;
    e.destination_port = destination_port;
    e.ttl = 1;
    return e;
}

feed_config small_config() {
    feed_config config;
    config.sessions = 3;
    config.messages_per_packet_min = 1;
    config.messages_per_packet_max = 5;
    config.instruments = 20;
    config.packets = 300;
    config.endpoints = {default_endpoints(30001), default_endpoints(30002)};
    config.start_time_ns = 1'704'205'800LL * 1'000'000'000;
    config.interval_ns = 1000;
    config.seed = 7;
    return config;
}

generated generate(const feed_config& config) {
    EXPECT_TRUE(validate(config).ok()) << validate(config).error();
    auto plan = plan_faults(config.packets.value(), config.sessions, config.faults, config.seed);
    EXPECT_TRUE(plan.ok()) << plan.error();
    feed_generator generator(config, std::move(*plan));
    frame_batch batch;
    generated out;
    while (generator.next_batch(batch)) {
        for (size_t line = 0; line < config.lines; ++line) {
            for (const timed_frame& f : batch.frames(line)) {
                out.lines[line].push_back({f.time_ns, bytes(f.bytes.begin(), f.bytes.end())});
            }
        }
    }
    EXPECT_TRUE(generator.done());
    out.manifest = generator.manifest();
    return out;
}

std::span<const std::byte> payload_of(const bytes& frame) {
    auto parsed = parse_udp_frame(frame);
    EXPECT_TRUE(parsed.ok()) << parsed.error();
    return parsed.ok() ? parsed->payload : std::span<const std::byte>{};
}

mold_packet mold_of(const bytes& frame) {
    auto packet = parse_mold_packet(payload_of(frame));
    EXPECT_TRUE(packet.ok()) << packet.error();
    return packet.ok() ? *packet : mold_packet{};
}

std::string temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "feedgen_test.XXXXXX").string();
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    return pattern;
}

bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

// ---- frames -------------------------------------------------------------------------

TEST(feedgen_frame, checksum_of_the_rfc_1071_style_worked_example) {
    // The IPv4 header of Wikipedia's "IPv4 header checksum" example: checksum 0xb861.
    const uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                              0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(internet_checksum(std::as_bytes(std::span(header))), 0xb861);
}

TEST(feedgen_frame, frames_parse_back_with_correct_checksums_and_lengths) {
    for (const udp_checksum_mode mode : {udp_checksum_mode::compute, udp_checksum_mode::zero}) {
        for (const size_t payload_bytes : {size_t{0}, size_t{1}, size_t{22}, size_t{1001}}) {
            bytes frame(max_frame_bytes);
            for (size_t i = 0; i < payload_bytes; ++i) {
                frame[frame_header_bytes + i] = static_cast<std::byte>(i * 7 + 3);
            }
            const udp_endpoints e = default_endpoints(30001);
            const size_t length = write_udp_headers(frame, payload_bytes, e, 4242, mode);
            ASSERT_EQ(length, 42 + payload_bytes);
            frame.resize(length);
            auto parsed = parse_udp_frame(frame);
            ASSERT_TRUE(parsed.ok()) << parsed.error();
            EXPECT_EQ(parsed->payload.size(), payload_bytes);
            EXPECT_EQ(parsed->endpoints.destination_mac, (mac_address{{1, 0, 0x5e, 1, 1, 1}}));
            EXPECT_EQ(parsed->endpoints.source_address, e.source_address);
            EXPECT_EQ(parsed->endpoints.destination_address, e.destination_address);
            EXPECT_EQ(parsed->endpoints.source_port, 40000);
            EXPECT_EQ(parsed->endpoints.destination_port, 30001);
            EXPECT_EQ(parsed->endpoints.ttl, 1);
            EXPECT_EQ(parsed->ip_identification, 4242);
            EXPECT_EQ(parsed->udp_checksum != 0, mode == udp_checksum_mode::compute);
            // The wire fields themselves.
            EXPECT_EQ(load_be<2>(&frame[12]), 0x0800u);
            EXPECT_EQ(load_be<2>(&frame[16]), 28 + payload_bytes);  // IPv4 total length
            EXPECT_EQ(load_be<2>(&frame[38]), 8 + payload_bytes);   // UDP length
            EXPECT_EQ(internet_checksum({&frame[14], 20}), 0);
            if (payload_bytes > 0) {
                frame[frame_header_bytes] ^= std::byte{0x10};
                EXPECT_EQ(parse_udp_frame(frame).ok(), mode == udp_checksum_mode::zero);
            }
            frame[20] ^= std::byte{0x01};  // IPv4 flags/fragment field
            EXPECT_FALSE(parse_udp_frame(frame).ok());
        }
    }
}

TEST(feedgen_frame, addresses_parse_and_print) {
    EXPECT_EQ(parse_ipv4("198.18.0.1")->value, 0xc6120001u);
    EXPECT_FALSE(parse_ipv4("198.18.0").has_value());
    EXPECT_FALSE(parse_ipv4("198.18.0.256").has_value());
    EXPECT_EQ(to_string(*parse_ipv4("239.1.1.1")), "239.1.1.1");
    EXPECT_EQ(parse_socket_address("239.1.1.1:30001")->port, 30001);
    EXPECT_FALSE(parse_socket_address("239.1.1.1:0").has_value());
    EXPECT_EQ(to_string(multicast_mac_of(*parse_ipv4("239.129.2.3"))), "01:00:5e:01:02:03");
    EXPECT_EQ(to_string(*parse_mac("02:00:00:0a:bb:ff")), "02:00:00:0a:bb:ff");
    EXPECT_FALSE(parse_mac("02:00:00:0a:bb").has_value());
}

// ---- ITCH and MoldUDP64 -------------------------------------------------------------

TEST(feedgen_itch, message_sizes_and_layouts_are_itch_5_0) {
    EXPECT_EQ(itch_message_bytes(itch_type::add_order), 36u);
    EXPECT_EQ(itch_message_bytes(itch_type::order_executed), 31u);
    EXPECT_EQ(itch_message_bytes(itch_type::order_cancel), 23u);
    EXPECT_EQ(itch_message_bytes(itch_type::order_delete), 19u);
    EXPECT_EQ(itch_message_bytes(itch_type::trade), 44u);
    EXPECT_EQ(std::string(itch_symbol_of(1).data(), 8), "AAAA    ");
    EXPECT_EQ(std::string(itch_symbol_of(28).data(), 8), "AABB    ");

    itch_source source(10);
    std::mt19937_64 random(3);
    std::map<char, size_t> seen;
    std::set<uint64_t> live;  // order references added and not yet deleted
    for (int i = 0; i < 5000; ++i) {
        std::array<std::byte, itch_max_message_bytes> message{};
        const uint64_t timestamp_ns = 34'200'000'000'000 + static_cast<uint64_t>(i);
        const size_t length = source.next(message, timestamp_ns, random);
        const auto type = static_cast<char>(message[0]);
        ASSERT_EQ(length, itch_message_bytes(static_cast<itch_type>(type))) << type;
        const uint64_t locate = load_be<2>(&message[1]);
        ASSERT_GE(locate, 1u);
        ASSERT_LE(locate, 10u);
        ASSERT_EQ(load_be<6>(&message[5]), timestamp_ns);
        const uint64_t reference = load_be<8>(&message[11]);
        if (type == 'A') {
            EXPECT_TRUE(live.insert(reference).second);
            EXPECT_TRUE(message[19] == std::byte{'B'} || message[19] == std::byte{'S'});
            const auto symbol = itch_symbol_of(static_cast<uint16_t>(locate));
            EXPECT_EQ(std::memcmp(&message[24], symbol.data(), 8), 0);
        } else if (type == 'D') {
            EXPECT_EQ(live.erase(reference), 1u);
        } else if (type == 'E' || type == 'X') {
            EXPECT_TRUE(live.contains(reference));
        } else {
            EXPECT_EQ(type, 'P');
            EXPECT_EQ(reference, 0u);
        }
        ++seen[type];
    }
    for (const char type : {'A', 'E', 'X', 'D', 'P'}) EXPECT_GT(seen[type], 0u) << type;
}

TEST(feedgen_moldudp64, packets_have_sessions_sequences_and_length_prefixed_itch) {
    const feed_config config = small_config();
    const generated out = generate(config);
    ASSERT_EQ(out.lines[0].size(), 300u);
    std::map<std::string, uint64_t> next;  // by session
    uint64_t messages = 0;
    for (size_t i = 0; i < out.lines[0].size(); ++i) {
        const bytes& frame = out.lines[0][i].frame;
        EXPECT_EQ(out.lines[0][i].time_ns, config.start_time_ns + static_cast<int64_t>(i) * 1000);
        const mold_packet packet = mold_of(frame);
        // Header fields, big-endian, at their offsets.
        const std::span<const std::byte> payload = payload_of(frame);
        EXPECT_EQ(packet.session, fmt::format("SESSION{:03}", i % 3 + 1));
        EXPECT_EQ(load_be<8>(&payload[10]), packet.sequence);
        EXPECT_EQ(load_be<2>(&payload[18]), packet.message_count);
        uint64_t& expected = next.try_emplace(packet.session, 1).first->second;
        EXPECT_EQ(packet.sequence, expected);
        ASSERT_GE(packet.message_count, 1);
        ASSERT_LE(packet.message_count, 5);
        ASSERT_EQ(packet.messages.size(), packet.message_count);
        for (const auto message : packet.messages) {
            ASSERT_EQ(message.size(), itch_message_bytes(static_cast<itch_type>(message[0])));
            const uint64_t locate = load_be<2>(&message[1]);
            EXPECT_GE(locate, 1u);
            EXPECT_LE(locate, 20u);
        }
        expected += packet.message_count;
        messages += packet.message_count;
    }
    uint64_t manifest_messages = 0;
    for (const session_manifest& s : out.manifest.sessions) {
        EXPECT_EQ(next[s.name], s.next_sequence);
        manifest_messages += s.messages();
        EXPECT_EQ(s.keys.size(), s.messages() * 2);
    }
    EXPECT_EQ(messages, manifest_messages);
}

TEST(feedgen_moldudp64, opaque_messages_have_the_requested_size) {
    feed_config config = small_config();
    config.body = message_body::opaque;
    config.message_bytes = 100;
    config.messages_per_packet_min = config.messages_per_packet_max = 4;
    const generated out = generate(config);
    for (const captured_frame& f : out.lines[0]) {
        const mold_packet packet = mold_of(f.frame);
        ASSERT_EQ(packet.messages.size(), 4u);
        for (size_t i = 0; i < 4; ++i) {
            ASSERT_EQ(packet.messages[i].size(), 100u);
            EXPECT_EQ(packet.messages[i][0], std::byte{'Z'});
            EXPECT_EQ(load_be<8>(&packet.messages[i][3]), packet.sequence + i);
        }
        EXPECT_EQ(f.frame.size(), 42u + 20 + 4 * 102);
    }
}

// ---- faults, A/B ----------------------------------------------------------------------

struct line_view {
    std::vector<std::pair<std::string, uint64_t>> data;  // (session, first sequence), in order
    size_t heartbeats = 0, end_of_session = 0;
};

line_view view_of(const std::vector<captured_frame>& frames) {
    line_view view;
    for (const captured_frame& f : frames) {
        const mold_packet packet = mold_of(f.frame);
        if (packet.message_count == mold_heartbeat_count) {
            ++view.heartbeats;
        } else if (packet.message_count == mold_end_of_session_count) {
            ++view.end_of_session;
        } else {
            view.data.emplace_back(packet.session, packet.sequence);
        }
    }
    return view;
}

feed_config faulty_config() {
    feed_config config = small_config();
    config.lines = 2;
    config.faults = {.gaps_a = 4, .gaps_b = 3, .common_gaps = 2, .duplicates = 3, .reorders = 2};
    config.heartbeat_every = 10;
    config.end_of_session = end_of_session_mode::send;
    return config;
}

TEST(feedgen_faults, every_line_carries_exactly_what_the_manifest_says) {
    const feed_config config = faulty_config();
    const generated out = generate(config);
    const feed_manifest& m = out.manifest;
    ASSERT_TRUE(m.complete);
    size_t gaps_a = 0, gaps_b = 0, common = 0, duplicates = 0, reorders = 0;
    for (const session_manifest& s : m.sessions) {
        gaps_a += s.gaps[0].size();
        gaps_b += s.gaps[1].size();
        common += s.common_gaps.size();
        duplicates += s.duplicates.size();
        reorders += s.reorders.size();
    }
    EXPECT_EQ(gaps_a, 4u);
    EXPECT_EQ(gaps_b, 3u);
    EXPECT_EQ(common, 2u);
    EXPECT_EQ(duplicates, 3u);
    EXPECT_EQ(reorders, 2u);

    for (size_t line = 0; line < 2; ++line) {
        const line_view view = view_of(out.lines[line]);
        EXPECT_EQ(view.end_of_session, 3u);
        EXPECT_EQ(view.heartbeats, 30u);  // 100 data packets per session, one every 10
        EXPECT_EQ(m.lines[line].frames, out.lines[line].size());
        EXPECT_EQ(m.lines[line].duplicate_frames, 3u);
        EXPECT_EQ(m.lines[line].data_frames, 300u - (line == 0 ? 4 : 3) - 2);
        for (const session_manifest& s : m.sessions) {
            // The sequences this line carried, each message once, are the manifest's ranges.
            std::map<uint64_t, int> copies;  // first sequence → frames
            std::vector<uint64_t> order;
            for (const auto& [session, sequence] : view.data) {
                if (session != s.name) continue;
                ++copies[sequence];
                order.push_back(sequence);
            }
            std::set<uint64_t> lost;
            for (const auto& r : s.gaps[line]) lost.insert(r.first_sequence);
            for (const auto& r : s.common_gaps) lost.insert(r.first_sequence);
            for (const auto& r : s.gaps[1 - line]) EXPECT_EQ(copies[r.first_sequence], 1);
            for (const uint64_t sequence : lost) EXPECT_FALSE(copies.contains(sequence));
            for (const auto& r : s.duplicates) EXPECT_EQ(copies[r.first_sequence], 2);
            for (const auto& r : s.reorders) {
                // Sent once, right after the session's next packet.
                EXPECT_EQ(copies[r.first_sequence], 1);
                const auto at = std::find(order.begin(), order.end(), r.first_sequence);
                ASSERT_NE(at, order.begin());
                EXPECT_GT(*(at - 1), r.first_sequence);
            }
            uint64_t carried = 0;
            for (const sequence_range& r : line_ranges(s, line)) carried += r.last - r.first + 1;
            uint64_t counted = 0;
            for (const auto& r : s.gaps[line]) counted += r.message_count;
            for (const auto& r : s.common_gaps) counted += r.message_count;
            EXPECT_EQ(carried, s.messages() - counted);
        }
    }
    // A receiver of both lines misses only the common gaps.
    for (const session_manifest& s : m.sessions) {
        std::vector<sequence_range> expected;
        uint64_t next = 1;
        std::vector<packet_record> common_gaps = s.common_gaps;
        for (const packet_record& r : common_gaps) {
            if (r.first_sequence > next) expected.push_back({next, r.first_sequence - 1});
            next = r.first_sequence + r.message_count;
        }
        expected.push_back({next, s.messages()});
        EXPECT_EQ(delivered_ranges(s, 2), expected) << s.name;
    }
}

TEST(feedgen_faults, lines_a_and_b_differ_only_in_their_gaps) {
    const generated out = generate(faulty_config());
    std::array<std::set<std::pair<std::string, uint64_t>>, 2> lost_on;
    for (const session_manifest& s : out.manifest.sessions) {
        for (size_t line = 0; line < 2; ++line) {
            for (const auto& r : s.gaps[line]) lost_on[line].emplace(s.name, r.first_sequence);
        }
    }
    // Each line without the packets only the other line lost: equal payloads and times.
    std::array<std::vector<std::pair<int64_t, bytes>>, 2> kept;
    for (size_t line = 0; line < 2; ++line) {
        for (const captured_frame& f : out.lines[line]) {
            const mold_packet packet = mold_of(f.frame);
            if (lost_on[1 - line].contains({packet.session, packet.sequence}) &&
                packet.message_count != mold_heartbeat_count) {
                continue;
            }
            const auto payload = payload_of(f.frame);
            kept[line].emplace_back(f.time_ns, bytes(payload.begin(), payload.end()));
            auto parsed = parse_udp_frame(f.frame);
            EXPECT_EQ(parsed->endpoints.destination_port, 30001 + line);
        }
    }
    EXPECT_EQ(kept[0], kept[1]);
}

TEST(feedgen_faults, plans_spread_faults_and_refuse_impossible_ones) {
    const fault_counts counts{
        .gaps_a = 10, .gaps_b = 10, .common_gaps = 5, .duplicates = 5, .reorders = 5};
    auto plan = plan_faults(1000, 4, counts, 11);
    ASSERT_TRUE(plan.ok()) << plan.error();
    ASSERT_EQ(plan->size(), 35u);
    std::set<uint64_t> packets;
    for (const planned_fault& f : *plan) {
        EXPECT_GE(f.packet_index, 4u);    // never a session's first packet
        EXPECT_LT(f.packet_index, 996u);  // nor its last
        EXPECT_TRUE(packets.insert(f.packet_index).second);
    }
    // Spread: each kind's faults sit in distinct tenths of the run, roughly.
    std::set<uint64_t> tenths;
    for (const planned_fault& f : *plan) {
        if (f.kind == fault_kind::gap_a) tenths.insert(f.packet_index / 100);
    }
    EXPECT_GE(tenths.size(), 8u);
    EXPECT_FALSE(plan_faults(10, 4, {.gaps_a = 3}, 1).ok());  // only packets 4, 5 qualify
    EXPECT_TRUE(plan_faults(10, 4, {.gaps_a = 2}, 1).ok());
    EXPECT_TRUE(plan_faults(10, 4, {}, 1)->empty());
}

// ---- pcap files and determinism -------------------------------------------------------

void write_pcap(const feed_config& config, const std::string& path_a, const std::string& path_b,
                pcap_precision precision) {
    auto plan = plan_faults(config.packets.value(), config.sessions, config.faults, config.seed);
    ASSERT_TRUE(plan.ok());
    feed_generator generator(config, std::move(*plan));
    auto a = open_pcap_file_sink(path_a, precision);
    ASSERT_TRUE(a.ok()) << a.error();
    std::unique_ptr<frame_sink> b;
    if (config.lines == 2) {
        auto opened = open_pcap_file_sink(path_b, precision);
        ASSERT_TRUE(opened.ok()) << opened.error();
        b = std::move(*opened);
    }
    frame_batch batch;
    while (generator.next_batch(batch)) {
        ASSERT_TRUE((*a)->write(batch.frames(0)).ok());
        if (b) ASSERT_TRUE(b->write(batch.frames(1)).ok());
    }
    ASSERT_TRUE((*a)->finish().ok());
    if (b) ASSERT_TRUE(b->finish().ok());
}

TEST(feedgen_pcap, the_same_seed_gives_the_same_bytes) {
    const std::string dir = temp_dir();
    feed_config config = faulty_config();
    write_pcap(config, dir + "/a1.pcap", dir + "/b1.pcap", pcap_precision::nanoseconds);
    write_pcap(config, dir + "/a2.pcap", dir + "/b2.pcap", pcap_precision::nanoseconds);
    config.seed = 8;
    write_pcap(config, dir + "/a3.pcap", dir + "/b3.pcap", pcap_precision::nanoseconds);
    EXPECT_GT(read_file(dir + "/a1.pcap").size(), 10'000u);
    EXPECT_EQ(read_file(dir + "/a1.pcap"), read_file(dir + "/a2.pcap"));
    EXPECT_EQ(read_file(dir + "/b1.pcap"), read_file(dir + "/b2.pcap"));
    EXPECT_NE(read_file(dir + "/a1.pcap"), read_file(dir + "/a3.pcap"));
    EXPECT_NE(read_file(dir + "/a1.pcap"), read_file(dir + "/b1.pcap"));
    std::filesystem::remove_all(dir);
}

TEST(feedgen_pcap, libpcap_reads_the_files_back) {
#if FEEDGEN_TEST_HAVE_LIBPCAP
    const std::string dir = temp_dir();
    const feed_config config = faulty_config();
    const generated expected = generate(config);
    for (const pcap_precision precision :
         {pcap_precision::nanoseconds, pcap_precision::microseconds}) {
        write_pcap(config, dir + "/a.pcap", dir + "/b.pcap", precision);
        for (size_t line = 0; line < 2; ++line) {
            char error[PCAP_ERRBUF_SIZE] = {};
            pcap_t* pcap = pcap_open_offline_with_tstamp_precision(
                (dir + (line == 0 ? "/a.pcap" : "/b.pcap")).c_str(), PCAP_TSTAMP_PRECISION_NANO,
                error);
            ASSERT_NE(pcap, nullptr) << error;
            EXPECT_EQ(pcap_datalink(pcap), DLT_EN10MB);
            pcap_pkthdr* header = nullptr;
            const u_char* data = nullptr;
            size_t i = 0;
            while (pcap_next_ex(pcap, &header, &data) == 1) {
                ASSERT_LT(i, expected.lines[line].size());
                const captured_frame& want = expected.lines[line][i++];
                ASSERT_EQ(header->caplen, want.frame.size());
                ASSERT_EQ(header->len, want.frame.size());
                EXPECT_EQ(std::memcmp(data, want.frame.data(), header->caplen), 0);
                const int64_t time_ns =
                    header->ts.tv_sec * 1'000'000'000LL + header->ts.tv_usec;  // ns: NANO
                const int64_t want_ns = precision == pcap_precision::nanoseconds
                                            ? want.time_ns
                                            : want.time_ns / 1000 * 1000;
                EXPECT_EQ(time_ns, want_ns);
            }
            EXPECT_EQ(i, expected.lines[line].size());
            pcap_close(pcap);
        }
    }
    std::filesystem::remove_all(dir);
#else
    GTEST_SKIP() << "libpcap not installed";
#endif
}

// ---- raw UDP and the socket sink ----------------------------------------------------

feed_config raw_config() {
    feed_config config = small_config();
    config.kind = feed_kind::raw_udp;
    config.payload_bytes = 22;  // 64-byte frames
    config.key_offset = 0;
    config.key_length = 8;
    return config;
}

TEST(feedgen_raw, datagrams_carry_their_flow_sequence_and_time) {
    const generated out = generate(raw_config());
    std::map<uint16_t, uint64_t> next;  // by source port
    for (const captured_frame& f : out.lines[0]) {
        ASSERT_EQ(f.frame.size(), 64u);
        auto parsed = parse_udp_frame(f.frame);
        ASSERT_TRUE(parsed.ok()) << parsed.error();
        const uint16_t port = parsed->endpoints.source_port;
        EXPECT_GE(port, 40000);
        EXPECT_LT(port, 40003);
        uint64_t& expected = next.try_emplace(port, 1).first->second;
        EXPECT_EQ(load_be<8>(&parsed->payload[0]), expected++);
        EXPECT_EQ(load_be<8>(&parsed->payload[8]), static_cast<uint64_t>(f.time_ns));
    }
    EXPECT_EQ(out.manifest.sessions[1].name, "flow40001");
    EXPECT_EQ(out.manifest.sessions[1].messages(), 100u);
    EXPECT_EQ(out.manifest.sessions[1].keys.size(), 800u);
}

TEST(feedgen_socket, every_payload_arrives_over_loopback) {
    const int receiver = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(receiver, 0);
    const int buffer = 4 << 20;
    ::setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    socklen_t length = sizeof local;
    ASSERT_EQ(::getsockname(receiver, reinterpret_cast<sockaddr*>(&local), &length), 0);

    feed_config config = raw_config();
    config.payload_bytes = 100;
    for (udp_endpoints& e : config.endpoints) {
        e.source_address = e.destination_address = *parse_ipv4("127.0.0.1");
        e.destination_port = ntohs(local.sin_port);
    }
    const generated expected = generate(config);
    auto sink = open_udp_socket_sink({parse_ipv4("127.0.0.1"), 1, source_port_binding::any_port});
    ASSERT_TRUE(sink.ok());
    std::vector<timed_frame> frames;
    for (const captured_frame& f : expected.lines[0]) frames.push_back({f.frame, f.time_ns});
    ASSERT_TRUE((*sink)->write(frames).ok());

    std::multiset<bytes> received;
    std::array<std::byte, 2048> datagram{};
    while (received.size() < frames.size()) {
        pollfd ready{receiver, POLLIN, 0};
        ASSERT_EQ(::poll(&ready, 1, 5000), 1) << "received " << received.size();
        const ssize_t n = ::recv(receiver, datagram.data(), datagram.size(), 0);
        ASSERT_GT(n, 0);
        received.emplace(datagram.begin(), datagram.begin() + n);
    }
    std::multiset<bytes> sent;
    for (const captured_frame& f : expected.lines[0]) {
        const auto payload = payload_of(f.frame);
        sent.emplace(payload.begin(), payload.end());
    }
    EXPECT_EQ(received, sent);
    ASSERT_TRUE((*sink)->finish().ok());
    ::close(receiver);
}

TEST(feedgen_manifest, json_file_is_written) {
    const std::string dir = temp_dir();
    const generated out = generate(faulty_config());
    ASSERT_TRUE(write_manifest_json(out.manifest, dir + "/m.json").ok());
    const bytes text = read_file(dir + "/m.json");
    const std::string json(reinterpret_cast<const char*>(text.data()), text.size());
    for (const char* field : {"\"delivered\":{\"ranges\":", "\"common_gaps\":[{", "\"keys\":[\"00",
                              "\"delivered_by_key\":{", "\"name\":\"SESSION003\""}) {
        EXPECT_NE(json.find(field), std::string::npos) << field;
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tl::feedgen
