// feedgen: MoldUDP64 (ITCH-like or opaque messages) and raw UDP feed traffic
// for the feed-ingest tests and benchmarks, written to pcap files, sent
// through kernel UDP sockets or through a DPDK vdev (when built with DPDK),
// with seeded gaps, duplicates, reorders, A/B lines and a JSON manifest of
// what was generated (README.md).
//
// Exit status: 0 on success, 1 when writing or sending failed, 2 on a usage
// error. A tool, not product code: it reads the real clock and may exit.
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/result.h"
#include "perf/feedgen/generator.h"
#include "perf/feedgen/moldudp64.h"
#include "perf/feedgen/sink.h"
#include "perf/load_support.h"
#include "tidelog_build_config.h"

#if TIDELOG_HAVE_DPDK
#include "perf/feedgen/dpdk_sink.h"
#endif

namespace tl::feedgen {
namespace {

using perf::parse_number;

constexpr int64_t default_start_time_ns = 1'704'205'800LL * 1'000'000'000;  // 2024-01-02 14:30 UTC
constexpr uint64_t default_count = 1000;
constexpr uint64_t default_pcap_rate = 1'000'000;
constexpr uint64_t max_rate = 100'000'000;
constexpr uint64_t max_count = 1ULL << 40;
constexpr uint64_t max_duration_s = 30 * 86'400;
constexpr size_t send_bursts_per_s = 1000;  // paced sends leave in bursts about 1 ms apart

struct cli_options {
    feed_config feed;
    std::string pcap_a, pcap_b;
    pcap_precision precision = pcap_precision::nanoseconds;
    std::optional<socket_address> send;
    std::optional<ipv4_address> interface_address;
    std::optional<socket_address> destination, destination_b, source;
    std::optional<mac_address> destination_mac, destination_mac_b, source_mac;
    uint8_t ttl = 1;
    uint64_t rate = 0;  // 0: pcap default spacing, or unpaced sends
    std::optional<uint64_t> count, duration_s;
    std::optional<int64_t> start_time_ns;
    std::string manifest, json_out;
    bool manifest_values = false;
    bool any_port = false;
    std::string dpdk_vdev;  // empty: no DPDK sink
    bool dpdk_retry = false;
    unsigned dpdk_memory_mb = 256;
};

constexpr std::string_view usage_text =
    "usage: feedgen (--pcap FILE [--pcap-b FILE] | --send ADDR:PORT | --dpdk-vdev DEVICE)\n"
    "               [options]\n"
    "\n"
    "feed:\n"
    "  --feed moldudp64|raw       (moldudp64)\n"
    "  --body itch|opaque         MoldUDP64 message bodies: ITCH 5.0 A/E/X/D/P messages,\n"
    "                             or --message-bytes of 'Z', u16 instrument, u64 sequence,\n"
    "                             filler (itch)\n"
    "  --sessions N               MoldUDP64 sessions; raw: flows, source ports PORT+i (1)\n"
    "  --session-prefix TEXT      names are TEXT + number, 10 characters (SESSION: SESSION001)\n"
    "  --messages-per-packet K|MIN-MAX  MoldUDP64 messages per packet (1)\n"
    "  --message-bytes N          opaque message size (32)\n"
    "  --payload-bytes N          raw datagram payload, >= 16: u64 BE sequence, u64 BE\n"
    "                             time (ns since the epoch), filler (64)\n"
    "  --instruments N            stock locates / instruments 1..N (16)\n"
    "  --count N                  data packets over all sessions, before faults\n"
    "                             (1000, or --rate x --duration)\n"
    "  --duration SECONDS         pcap: --count = rate x SECONDS; send: stop after it\n"
    "  --rate N                   emissions per second per line: pcap timestamp spacing\n"
    "                             (1000000), send pacing (unpaced)\n"
    "  --seed N                   content and fault choice (1)\n"
    "faults (spread over the run; never a session's first or last packet):\n"
    "  --gaps N                   packets lost (line A; same as --gaps-a)\n"
    "  --gaps-a N, --gaps-b N     packets lost on that line only\n"
    "  --common-gaps N            packets lost on every line\n"
    "  --duplicates N             packets sent again after the session's next packet\n"
    "  --reorder N                packets sent after the session's next packet\n"
    "  --heartbeat-every N        a heartbeat after every N data packets of a session\n"
    "  --end-of-session           end each session with an end-of-session packet\n"
    "lines and addresses:\n"
    "  --lines 1|2                A/B copies: same packets, own gaps, own destination (1)\n"
    "  --destination ADDR:PORT    line A (239.1.1.1:30001)\n"
    "  --destination-b ADDR:PORT  line B (line A's address, port + 1)\n"
    "  --source ADDR:PORT         (198.18.0.1:40000; --send: the interface address)\n"
    "  --destination-mac MAC      (multicast: 01:00:5e:...; else 02:00:00:00:00:02)\n"
    "  --destination-mac-b MAC, --source-mac MAC (02:00:00:00:00:01)\n"
    "  --ttl N                    (1)\n"
    "  --udp-checksum on|off      off sends 0, no checksum (on)\n"
    "sinks:\n"
    "  --pcap FILE                line A's frames; --pcap-b FILE line B's\n"
    "  --pcap-precision ns|us     record timestamps (ns)\n"
    "  --start-time-ns N          pcap: first frame's time (2024-01-02 14:30:00 UTC)\n"
    "  --send ADDR:PORT           send line A's payloads there (and line B's to its\n"
    "                             destination) through kernel UDP sockets, sendmmsg\n"
    "  --interface-address ADDR   bind and IP_MULTICAST_IF\n"
    "  --any-source-port          let the kernel choose source ports (default: bind them)\n"
    "  --dpdk-vdev DEVICE         send whole frames through a DPDK vdev, TX queue 0 (e.g.\n"
    "                             net_memif0,role=client,socket=/tmp/x.sock,socket-abstract=no\n"
    "                             or net_pcap0,tx_pcap=out.pcap); EAL without hugepages.\n"
    "                             Paced like --send; frames the port does not take are\n"
    "                             dropped and counted (only in builds with DPDK)\n"
    "  --dpdk-retry               offer frames the port did not take again instead\n"
    "  --dpdk-memory-mb N         EAL memory, -m (256)\n"
    "output:\n"
    "  --manifest FILE.json       what was generated (README.md)\n"
    "  --manifest-values          every message's value in the manifest (default: 8 per\n"
    "                             session)\n"
    "  --key-offset N, --key-length N  manifest key bytes in each message (raw: payload)\n"
    "                             (1, 2: the ITCH stock locate; raw: 0, 0)\n"
    "  --json-out FILE            append one JSON line with counts and rates\n";

template <typename T>
result<void, std::string> set_number(T& field, std::string_view flag, std::string_view value, T low,
                                     T high) {
    auto parsed = parse_number<T>(flag, value, low, high);
    if (!parsed) return failure{parsed.error()};
    field = *parsed;
    return {};
}

result<void, std::string> apply_flag(cli_options& o, std::string_view flag,
                                     std::string_view value) {
    feed_config& f = o.feed;
    auto address = [&](std::optional<socket_address>& field) -> result<void, std::string> {
        field = parse_socket_address(value);
        if (!field) return failure{fmt::format("{}: expected A.B.C.D:PORT, got '{}'", flag, value)};
        return {};
    };
    auto mac = [&](std::optional<mac_address>& field) -> result<void, std::string> {
        field = parse_mac(value);
        if (!field)
            return failure{fmt::format("{}: expected aa:bb:cc:dd:ee:ff, got '{}'", flag, value)};
        return {};
    };
    auto optional = [&](std::optional<uint64_t>& field,
                        uint64_t high) -> result<void, std::string> {
        uint64_t parsed = 0;
        if (auto r = set_number<uint64_t>(parsed, flag, value, 1, high); !r) return r;
        field = parsed;
        return {};
    };
    auto choice =
        [&](std::initializer_list<std::string_view> allowed) -> result<void, std::string> {
        if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return {};
        return failure{fmt::format("{}: unexpected '{}'", flag, value)};
    };
    const uint64_t faults_max = max_count;
    if (flag == "--feed") {
        if (auto r = choice({"moldudp64", "raw"}); !r) return r;
        f.kind = value == "raw" ? feed_kind::raw_udp : feed_kind::moldudp64;
    } else if (flag == "--body") {
        if (auto r = choice({"itch", "opaque"}); !r) return r;
        f.body = value == "itch" ? message_body::itch : message_body::opaque;
    } else if (flag == "--sessions") {
        return set_number<uint32_t>(f.sessions, flag, value, 1, max_sessions);
    } else if (flag == "--session-prefix") {
        f.session_prefix = value;
    } else if (flag == "--messages-per-packet") {
        const size_t dash = value.find('-');
        const std::string_view low = value.substr(0, dash);
        const std::string_view high = dash == std::string_view::npos ? low : value.substr(dash + 1);
        if (auto r = set_number<uint16_t>(f.messages_per_packet_min, flag, low, 1,
                                          mold_max_messages_per_packet);
            !r) {
            return r;
        }
        return set_number<uint16_t>(f.messages_per_packet_max, flag, high,
                                    f.messages_per_packet_min, mold_max_messages_per_packet);
    } else if (flag == "--message-bytes") {
        return set_number<uint32_t>(f.message_bytes, flag, value, 1, 65535);
    } else if (flag == "--payload-bytes") {
        return set_number<uint32_t>(f.payload_bytes, flag, value, raw_min_payload_bytes,
                                    max_udp_payload_bytes);
    } else if (flag == "--instruments") {
        return set_number<uint16_t>(f.instruments, flag, value, 1, itch_max_instruments);
    } else if (flag == "--count") {
        return optional(o.count, max_count);
    } else if (flag == "--duration") {
        return optional(o.duration_s, max_duration_s);
    } else if (flag == "--rate") {
        return set_number<uint64_t>(o.rate, flag, value, 1, max_rate);
    } else if (flag == "--seed") {
        return set_number<uint64_t>(f.seed, flag, value, 0, UINT64_MAX);
    } else if (flag == "--gaps" || flag == "--gaps-a") {
        return set_number<uint64_t>(f.faults.gaps_a, flag, value, 0, faults_max);
    } else if (flag == "--gaps-b") {
        return set_number<uint64_t>(f.faults.gaps_b, flag, value, 0, faults_max);
    } else if (flag == "--common-gaps") {
        return set_number<uint64_t>(f.faults.common_gaps, flag, value, 0, faults_max);
    } else if (flag == "--duplicates") {
        return set_number<uint64_t>(f.faults.duplicates, flag, value, 0, faults_max);
    } else if (flag == "--reorder") {
        return set_number<uint64_t>(f.faults.reorders, flag, value, 0, faults_max);
    } else if (flag == "--heartbeat-every") {
        return set_number<uint64_t>(f.heartbeat_every, flag, value, 0, max_count);
    } else if (flag == "--lines") {
        return set_number<size_t>(f.lines, flag, value, 1, max_lines);
    } else if (flag == "--destination") {
        return address(o.destination);
    } else if (flag == "--destination-b") {
        return address(o.destination_b);
    } else if (flag == "--source") {
        return address(o.source);
    } else if (flag == "--destination-mac") {
        return mac(o.destination_mac);
    } else if (flag == "--destination-mac-b") {
        return mac(o.destination_mac_b);
    } else if (flag == "--source-mac") {
        return mac(o.source_mac);
    } else if (flag == "--ttl") {
        return set_number<uint8_t>(o.ttl, flag, value, 1, 255);
    } else if (flag == "--udp-checksum") {
        if (auto r = choice({"on", "off"}); !r) return r;
        f.checksum = value == "on" ? udp_checksum_mode::compute : udp_checksum_mode::zero;
    } else if (flag == "--pcap") {
        o.pcap_a = value;
    } else if (flag == "--pcap-b") {
        o.pcap_b = value;
    } else if (flag == "--pcap-precision") {
        if (auto r = choice({"ns", "us"}); !r) return r;
        o.precision = value == "ns" ? pcap_precision::nanoseconds : pcap_precision::microseconds;
    } else if (flag == "--start-time-ns") {
        int64_t start = 0;
        if (auto r = set_number<int64_t>(start, flag, value, 0, INT64_MAX / 2); !r) return r;
        o.start_time_ns = start;
    } else if (flag == "--send") {
        return address(o.send);
    } else if (flag == "--interface-address") {
        o.interface_address = parse_ipv4(value);
        if (!o.interface_address) return failure{fmt::format("{}: expected A.B.C.D", flag)};
    } else if (flag == "--dpdk-vdev") {
        o.dpdk_vdev = value;
    } else if (flag == "--dpdk-memory-mb") {
        return set_number<unsigned>(o.dpdk_memory_mb, flag, value, 64, 65536);
    } else if (flag == "--manifest") {
        o.manifest = value;
    } else if (flag == "--key-offset") {
        return set_number<uint32_t>(f.key_offset, flag, value, 0, max_udp_payload_bytes);
    } else if (flag == "--key-length") {
        return set_number<uint32_t>(f.key_length, flag, value, 0, 16);
    } else if (flag == "--json-out") {
        o.json_out = value;
    } else {
        return failure{fmt::format("unknown flag '{}'", flag)};
    }
    return {};
}

udp_endpoints endpoints_for(const cli_options& o, socket_address source, socket_address destination,
                            std::optional<mac_address> mac) {
    udp_endpoints e;
    e.source_mac = o.source_mac.value_or(mac_address{{0x02, 0, 0, 0, 0, 0x01}});
    e.destination_mac =
        mac.value_or(is_multicast(destination.address) ? multicast_mac_of(destination.address)
                                                       : mac_address{{0x02, 0, 0, 0, 0, 0x02}});
    e.source_address = source.address;
    e.source_port = source.port;
    e.destination_address = destination.address;
    e.destination_port = destination.port;
    e.ttl = o.ttl;
    return e;
}

result<cli_options, std::string> parse_command_line(std::span<char*> arguments) {
    cli_options o;
    bool key_given = false;
    for (size_t i = 0; i < arguments.size(); ++i) {
        std::string_view flag = arguments[i];
        if (flag == "--end-of-session") {
            o.feed.end_of_session = end_of_session_mode::send;
            continue;
        }
        if (flag == "--manifest-values") {
            o.manifest_values = true;
            continue;
        }
        if (flag == "--any-source-port") {
            o.any_port = true;
            continue;
        }
        if (flag == "--dpdk-retry") {
            o.dpdk_retry = true;
            continue;
        }
        std::string_view value;
        const size_t equals = flag.find('=');
        if (flag.starts_with("--") && equals != std::string_view::npos) {
            value = flag.substr(equals + 1);
            flag = flag.substr(0, equals);
        } else if (i + 1 < arguments.size()) {
            value = arguments[++i];
        } else {
            return failure{fmt::format("{}: missing value", flag)};
        }
        key_given = key_given || flag == "--key-offset" || flag == "--key-length";
        if (auto applied = apply_flag(o, flag, value); !applied) return failure{applied.error()};
    }

    feed_config& f = o.feed;
    const bool pcap = !o.pcap_a.empty();
    const bool dpdk = !o.dpdk_vdev.empty();
    if (int{pcap} + int{o.send.has_value()} + int{dpdk} != 1) {
        return failure{std::string("give one of --pcap, --send and --dpdk-vdev")};
    }
#if !TIDELOG_HAVE_DPDK
    if (dpdk) return failure{std::string("--dpdk-vdev: this feedgen was built without DPDK")};
#endif
    if (o.dpdk_retry && !dpdk) return failure{std::string("--dpdk-retry needs --dpdk-vdev")};
    if (!o.pcap_b.empty() && (!pcap || f.lines != 2)) {
        return failure{std::string("--pcap-b needs --pcap and --lines 2")};
    }
    if (pcap && f.lines == 2 && o.pcap_b.empty()) {
        return failure{std::string("--lines 2 with --pcap needs --pcap-b")};
    }
    if (!key_given && f.kind == feed_kind::raw_udp) f.key_offset = f.key_length = 0;
    if (o.send && o.destination) return failure{std::string("--send is line A's destination")};

    // Addresses: line B defaults to line A's address, next port.
    const socket_address destination =
        o.send ? *o.send : o.destination.value_or(socket_address{*parse_ipv4("239.1.1.1"), 30001});
    if (!o.destination_b && destination.port == 65535) {
        return failure{std::string("line B's default port (line A's + 1) is past 65535")};
    }
    const socket_address destination_b = o.destination_b.value_or(
        socket_address{destination.address, static_cast<uint16_t>(destination.port + 1)});
    socket_address source = o.source.value_or(socket_address{*parse_ipv4("198.18.0.1"), 40000});
    if (o.send && o.interface_address && !o.source) source.address = *o.interface_address;
    f.endpoints[0] = endpoints_for(o, source, destination, o.destination_mac);
    f.endpoints[1] = endpoints_for(o, source, destination_b, o.destination_mac_b);

    // How many packets, how fast.
    if (pcap) {
        const uint64_t rate = o.rate > 0 ? o.rate : default_pcap_rate;
        f.interval_ns = static_cast<int64_t>(1'000'000'000 / rate);
        if (!o.count && o.duration_s) o.count = rate * *o.duration_s;
        f.packets = o.count.value_or(default_count);
    } else {
        f.interval_ns = o.rate > 0 ? static_cast<int64_t>(1'000'000'000 / o.rate) : 0;
        if (!o.count && o.duration_s && o.rate > 0) o.count = o.rate * *o.duration_s;
        if (o.count) {
            f.packets = o.count;
        } else if (!o.duration_s) {
            f.packets = default_count;
        }  // else unbounded, until --duration
        f.frames_per_batch =
            o.rate > 0 ? std::clamp<size_t>(o.rate / send_bursts_per_s, 1, frames_per_batch_max)
                       : frames_per_batch_max;
    }
    f.detail = o.manifest.empty()  ? manifest_detail::none
               : o.manifest_values ? manifest_detail::all_values
                                   : manifest_detail::keys;
    if (auto valid = validate(f); !valid) return failure{valid.error()};
    return o;
}

int64_t clock_ns(clockid_t clock) {
    timespec now{};
    clock_gettime(clock, &now);
    return now.tv_sec * 1'000'000'000 + now.tv_nsec;
}

int run(cli_options& o) {
    feed_config& f = o.feed;
    const bool send = o.send.has_value();
    const bool dpdk = !o.dpdk_vdev.empty();
    // Live sinks send now, on the real clock; a pcap file is written at once.
    const bool live = send || dpdk;
    f.start_time_ns =
        live ? clock_ns(CLOCK_REALTIME) : o.start_time_ns.value_or(default_start_time_ns);
    // Paced sends sleep between bursts tens of µs apart: the default 50 µs
    // timer slack would make every wake-up late.
    if (live && o.rate > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    std::vector<planned_fault> plan;
    if (f.packets) {
        auto planned = plan_faults(*f.packets, f.sessions, f.faults, f.seed);
        if (!planned) {
            fmt::print(stderr, "feedgen: {}\n", planned.error());
            return 2;
        }
        plan = std::move(*planned);
    }

    std::vector<std::unique_ptr<frame_sink>> sinks;
    std::array<frame_sink*, max_lines> sink_of_line{};
#if TIDELOG_HAVE_DPDK
    dpdk_sink* dpdk_sender = nullptr;
#endif
    auto open = [&](result<std::unique_ptr<frame_sink>, std::string> opened) -> bool {
        if (!opened) {
            fmt::print(stderr, "feedgen: {}\n", opened.error());
            return false;
        }
        sinks.push_back(std::move(*opened));
        return true;
    };
    if (send) {
        if (!open(open_udp_socket_sink(
                {o.interface_address, o.ttl,
                 o.any_port ? source_port_binding::any_port : source_port_binding::frame_port}))) {
            return 1;
        }
        sink_of_line = {sinks[0].get(), sinks[0].get()};
    } else if (dpdk) {
#if TIDELOG_HAVE_DPDK
        dpdk_sink_options options;
        options.device = o.dpdk_vdev;
        options.when_full = o.dpdk_retry ? dpdk_full_policy::retry : dpdk_full_policy::drop;
        options.memory_mb = o.dpdk_memory_mb;
        auto opened = open_dpdk_sink(options);
        if (!opened) {
            fmt::print(stderr, "feedgen: {}\n", opened.error());
            return 1;
        }
        dpdk_sender = opened->get();
        sinks.push_back(std::move(*opened));
        sink_of_line = {sinks[0].get(), sinks[0].get()};
#endif
    } else {
        if (!open(open_pcap_file_sink(o.pcap_a, o.precision))) return 1;
        if (f.lines == 2 && !open(open_pcap_file_sink(o.pcap_b, o.precision))) return 1;
        sink_of_line = {sinks[0].get(), sinks.back().get()};
    }

    feed_generator generator(f, std::move(plan));
    frame_batch batch;
    const int64_t started_ns = perf::monotonic_ns();
    const std::optional<int64_t> deadline_ns =
        live && o.duration_s
            ? std::optional(started_ns + static_cast<int64_t>(*o.duration_s) * 1'000'000'000)
            : std::nullopt;
    int64_t late_ns_max = 0;
    while (true) {
        if (live && f.interval_ns == 0) generator.set_next_time_ns(clock_ns(CLOCK_REALTIME));
        if (!generator.next_batch(batch)) break;
        if (live && f.interval_ns > 0 && !batch.empty()) {
            const int64_t first_ns =
                batch.frames(0).empty() ? batch.frames(1)[0].time_ns : batch.frames(0)[0].time_ns;
            const int64_t due_ns = started_ns + (first_ns - f.start_time_ns);
            const int64_t now_ns = perf::monotonic_ns();
            if (due_ns > now_ns) {
                perf::sleep_until_ns(due_ns);
            } else {
                late_ns_max = std::max(late_ns_max, now_ns - due_ns);
            }
        }
        for (size_t line = 0; line < f.lines; ++line) {
            if (auto written = sink_of_line[line]->write(batch.frames(line)); !written) {
                fmt::print(stderr, "feedgen: {}\n", written.error());
                return 1;
            }
        }
        if (deadline_ns && perf::monotonic_ns() >= *deadline_ns) break;
    }
    for (auto& sink : sinks) {
        if (auto finished = sink->finish(); !finished) {
            fmt::print(stderr, "feedgen: {}\n", finished.error());
            return 1;
        }
    }
    const double seconds = static_cast<double>(perf::monotonic_ns() - started_ns) / 1e9;

    feed_manifest& manifest = generator.manifest();
    for (size_t line = 0; line < f.lines; ++line)
        manifest.lines[line].sink = sink_of_line[line]->describe();
    if (!o.manifest.empty()) {
        if (auto written = write_manifest_json(manifest, o.manifest); !written) {
            fmt::print(stderr, "feedgen: {}\n", written.error());
            return 1;
        }
    }
    uint64_t frames = 0, bytes = 0;
    for (const line_manifest& line : manifest.lines) {
        frames += line.frames;
        bytes += line.bytes;
    }
    const double frames_per_s = seconds > 0 ? static_cast<double>(frames) / seconds : 0;
    // What left the process: every frame, except those a DPDK port did not take.
    uint64_t frames_sent = frames, frames_dropped = 0, full_retries = 0, port_tx_packets = 0;
#if TIDELOG_HAVE_DPDK
    if (dpdk_sender != nullptr) {
        const dpdk_sink_counts counts = dpdk_sender->counts();
        TL_ASSERT(counts.frames_offered == frames, "every generated frame reaches the sink");
        frames_sent = counts.frames_sent;
        frames_dropped = counts.frames_dropped;
        full_retries = counts.full_retries;
        port_tx_packets = counts.port_tx_packets;
    }
#endif
    const double sent_per_s = seconds > 0 ? static_cast<double>(frames_sent) / seconds : 0;
    const std::string what = f.kind == feed_kind::raw_udp
                                 ? fmt::format("raw {}-byte payloads", f.payload_bytes)
                                 : "moldudp64 " + manifest.body;
    fmt::print(
        "feedgen: {}, {} line(s), {} data packets, {} frames ({} bytes) in {:.3f} s: "
        "{} frames/s, {:.1f} MB/s{}\n",
        what, f.lines, manifest.data_packets, frames, bytes, seconds,
        perf::human_count(frames_per_s), static_cast<double>(bytes) / seconds / 1e6,
        late_ns_max > 1'000'000 ? fmt::format(" (sender up to {:.1f} ms behind its rate)",
                                              static_cast<double>(late_ns_max) / 1e6)
                                : "");
    if (dpdk) {
        fmt::print(
            "feedgen: {}: {} frames sent ({} frames/s), {} dropped at the sender "
            "(port full){}, port counted {} transmitted\n",
            o.dpdk_vdev, frames_sent, perf::human_count(sent_per_s), frames_dropped,
            o.dpdk_retry ? fmt::format(", {} retries", full_retries) : "", port_tx_packets);
    }
    if (!o.json_out.empty()) {
        perf::result_sink out(std::fopen(o.json_out.c_str(), "a"));
        perf::json_line line;
        line.text("tool", "feedgen")
            .text("feed", manifest.feed)
            .text("body", manifest.body)
            .text("sink", dpdk   ? "dpdk"
                          : send ? "udp"
                                 : "pcap")
            .integer("lines", static_cast<int64_t>(f.lines))
            .integer("sessions", f.sessions)
            .integer("data_packets", static_cast<int64_t>(manifest.data_packets))
            .integer("frames", static_cast<int64_t>(frames))
            .integer("bytes", static_cast<int64_t>(bytes))
            .text("udp_checksum", f.checksum == udp_checksum_mode::compute ? "on" : "off")
            .number("seconds", seconds)
            .number("frames_per_s", frames_per_s)
            .number("late_ms_max", static_cast<double>(late_ns_max) / 1e6)
            .integer("rate", static_cast<int64_t>(o.rate))
            .integer("frames_sent", static_cast<int64_t>(frames_sent))
            .integer("frames_dropped", static_cast<int64_t>(frames_dropped))
            .number("sent_per_s", sent_per_s);
        if (dpdk) {
            line.text("device", o.dpdk_vdev)
                .text("when_full", o.dpdk_retry ? "retry" : "drop")
                .integer("full_retries", static_cast<int64_t>(full_retries))
                .integer("port_tx_packets", static_cast<int64_t>(port_tx_packets));
        }
        out.write(line);
    }
    return 0;
}

}  // namespace
}  // namespace tl::feedgen

int main(int argc, char** argv) {
    std::span<char*> arguments(argv + 1, static_cast<size_t>(argc - 1));
    for (const std::string_view argument : arguments) {
        if (argument == "--help" || argument == "-h") {
            std::fputs(tl::feedgen::usage_text.data(), stdout);
            return 0;
        }
    }
    auto options = tl::feedgen::parse_command_line(arguments);
    if (!options) {
        fmt::print(stderr, "feedgen: {} (feedgen --help lists the flags)\n", options.error());
        return 2;
    }
    return tl::feedgen::run(*options);
}
