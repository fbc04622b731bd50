// Proves the DPDK-free feed core in src/feed:
// - parse_udp_frame on frames built byte by byte here (plain, 802.1Q, QinQ,
//   IPv4 options, Ethernet padding): fields and payload exact; every
//   truncation of a good frame refused; fragments, other protocols and
//   inconsistent lengths refused with their status; the filter;
// - parse_moldudp64: data, heartbeat, end of session, and every malformed
//   length; the cursor yields each message;
// - murmur2 against Kafka's UtilsTest and librdkafka's rdmurmur2.c vectors;
// - batch_encoder: batches pass storage::validate_batch (strict), read back
//   exactly (keys, values, headers, timestamps), equal record_batch_builder's
//   bytes for the same input, and refuse what does not fit without change;
// - the sequencer on hand-written scenarios (tests/sim covers random ones);
// - every error path of the feeds: and dpdk: config with its key path.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "feed/batch_encoder.h"
#include "feed/feed_config.h"
#include "feed/moldudp64.h"
#include "base/murmur2.h"
#include "feed/packet.h"
#include "feed/sequencer.h"
#include "storage/record_batch.h"

namespace tl::feed {
namespace {

using bytes = std::vector<std::byte>;

std::span<const std::byte> text(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}
void put16(bytes& b, uint16_t v) {
    b.push_back(std::byte(v >> 8));
    b.push_back(std::byte(v));
}
void put32(bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
void put64(bytes& b, uint64_t v) {
    put32(b, static_cast<uint32_t>(v >> 32));
    put32(b, static_cast<uint32_t>(v));
}
void append(bytes& b, std::span<const std::byte> s) { b.insert(b.end(), s.begin(), s.end()); }

struct frame_spec {
    std::vector<uint16_t> tags;  // TPIDs of VLAN tags, outer first
    size_t ip_option_bytes = 0;
    uint16_t flags_fragment = 0x4000;  // DF
    uint8_t protocol = 17;
    size_t padding = 0;
    std::string payload = "hello, feed";
};

bytes make_frame(const frame_spec& spec) {
    bytes f;
    for (int i = 0; i < 12; ++i) f.push_back(std::byte(0x10 + i));  // MACs
    for (uint16_t tpid : spec.tags) {
        put16(f, tpid);
        put16(f, 0x0064);  // TCI: VLAN 100
    }
    put16(f, 0x0800);
    const size_t ip_header = 20 + spec.ip_option_bytes;
    const size_t udp_length = 8 + spec.payload.size();
    f.push_back(std::byte(0x40 | (ip_header / 4)));
    f.push_back(std::byte{0});
    put16(f, static_cast<uint16_t>(ip_header + udp_length));
    put16(f, 0x1234);
    put16(f, spec.flags_fragment);
    f.push_back(std::byte{64});
    f.push_back(std::byte{spec.protocol});
    put16(f, 0);  // checksum: not verified
    put32(f, 0x0a000001);  // 10.0.0.1
    put32(f, 0xef010101);  // 239.1.1.1
    for (size_t i = 0; i < spec.ip_option_bytes; ++i) f.push_back(std::byte{1});  // NOP
    put16(f, 40000);
    put16(f, 30001);
    put16(f, static_cast<uint16_t>(udp_length));
    put16(f, 0);
    append(f, text(spec.payload));
    for (size_t i = 0; i < spec.padding; ++i) f.push_back(std::byte{0});
    return f;
}

void expect_good(const bytes& frame, const frame_spec& spec) {
    udp_datagram d;
    ASSERT_EQ(parse_udp_frame(frame, d), frame_status::ok);
    EXPECT_EQ(d.source_address, 0x0a000001u);
    EXPECT_EQ(d.destination_address, 0xef010101u);
    EXPECT_EQ(d.source_port, 40000);
    EXPECT_EQ(d.destination_port, 30001);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(d.payload.data()), d.payload.size()),
              spec.payload);
}

TEST(Packet, ParsesPlainTaggedAndOptionFrames) {
    const frame_spec specs[] = {
        {},
        {.tags = {0x8100}},
        {.tags = {0x88a8, 0x8100}},
        {.tags = {0x9100, 0x8100}},
        {.ip_option_bytes = 8},
        {.tags = {0x8100}, .ip_option_bytes = 40},
        {.payload = ""},
    };
    for (const frame_spec& spec : specs) expect_good(make_frame(spec), spec);
}

TEST(Packet, EthernetPaddingIsIgnored) {
    frame_spec spec{.payload = "ab"};
    spec.padding = 20;
    expect_good(make_frame(spec), spec);
}

TEST(Packet, EveryTruncationIsRefused) {
    for (const frame_spec& spec : {frame_spec{}, frame_spec{.tags = {0x88a8, 0x8100},
                                                            .ip_option_bytes = 12}}) {
        const bytes frame = make_frame(spec);
        for (size_t size = 0; size < frame.size(); ++size) {
            udp_datagram d;
            EXPECT_EQ(parse_udp_frame(std::span(frame).first(size), d), frame_status::truncated)
                << "size " << size;
        }
    }
}

TEST(Packet, RefusesFragmentsOtherProtocolsAndBadHeaders) {
    udp_datagram d;
    EXPECT_EQ(parse_udp_frame(make_frame({.flags_fragment = 0x2000}), d), frame_status::fragment);
    EXPECT_EQ(parse_udp_frame(make_frame({.flags_fragment = 0x0010}), d), frame_status::fragment);
    EXPECT_EQ(parse_udp_frame(make_frame({.protocol = 6}), d), frame_status::not_udp);
    EXPECT_EQ(parse_udp_frame(make_frame({.tags = {0x88a8, 0x8100, 0x8100}}), d),
              frame_status::not_ipv4);
    bytes arp = make_frame({});
    arp[12] = std::byte{0x08};
    arp[13] = std::byte{0x06};
    EXPECT_EQ(parse_udp_frame(arp, d), frame_status::not_ipv4);

    const size_t ip = 14;
    bytes version6 = make_frame({});
    version6[ip] = std::byte{0x65};
    EXPECT_EQ(parse_udp_frame(version6, d), frame_status::bad_header);
    bytes short_ihl = make_frame({});
    short_ihl[ip] = std::byte{0x44};
    EXPECT_EQ(parse_udp_frame(short_ihl, d), frame_status::bad_header);
    bytes short_total = make_frame({});
    short_total[ip + 2] = std::byte{0};
    short_total[ip + 3] = std::byte{19};
    EXPECT_EQ(parse_udp_frame(short_total, d), frame_status::bad_header);
    bytes long_total = make_frame({});
    long_total[ip + 3] = std::byte(std::to_integer<uint8_t>(long_total[ip + 3]) + 1);
    EXPECT_EQ(parse_udp_frame(long_total, d), frame_status::truncated);
    bytes long_udp = make_frame({});
    long_udp[ip + 20 + 5] = std::byte(std::to_integer<uint8_t>(long_udp[ip + 20 + 5]) + 1);
    EXPECT_EQ(parse_udp_frame(long_udp, d), frame_status::bad_header);
    bytes tiny_udp = make_frame({});
    tiny_udp[ip + 20 + 4] = std::byte{0};
    tiny_udp[ip + 20 + 5] = std::byte{7};
    EXPECT_EQ(parse_udp_frame(tiny_udp, d), frame_status::bad_header);
    // A UDP length shorter than the IPv4 payload: the UDP length wins.
    bytes short_udp = make_frame({.payload = "abcdef"});
    short_udp[ip + 20 + 5] = std::byte{8 + 3};
    ASSERT_EQ(parse_udp_frame(short_udp, d), frame_status::ok);
    EXPECT_EQ(d.payload.size(), 3u);
}

TEST(Packet, Filter) {
    udp_datagram d{.destination_address = 0xef010101, .destination_port = 30001};
    EXPECT_TRUE(udp_filter{}.matches(d));
    EXPECT_TRUE((udp_filter{0xef010101, 30001}.matches(d)));
    EXPECT_TRUE((udp_filter{std::nullopt, 30001}.matches(d)));
    EXPECT_FALSE((udp_filter{0xef010102, std::nullopt}.matches(d)));
    EXPECT_FALSE((udp_filter{0xef010101, 30002}.matches(d)));
}

// --- MoldUDP64 ------------------------------------------------------------------------

bytes mold(std::string_view session, uint64_t sequence, uint16_t count,
           const std::vector<std::string>& messages) {
    bytes b;
    append(b, text(session));
    put64(b, sequence);
    put16(b, count);
    for (const std::string& m : messages) {
        put16(b, static_cast<uint16_t>(m.size()));
        append(b, text(m));
    }
    return b;
}

TEST(MoldUdp64, ParsesDataHeartbeatAndEnd) {
    const bytes data = mold("SESSION001", 42, 3, {"a", "", "xyz"});
    mold_packet p;
    ASSERT_EQ(parse_moldudp64(data, p), mold_status::ok);
    EXPECT_EQ(std::string_view(p.session.data(), 10), "SESSION001");
    EXPECT_EQ(p.sequence, 42u);
    EXPECT_EQ(p.message_count(), 3);
    std::vector<std::pair<uint64_t, std::string>> seen;
    for_each_message(p, [&](uint64_t seq, std::span<const std::byte> m) {
        seen.emplace_back(seq, std::string(reinterpret_cast<const char*>(m.data()), m.size()));
    });
    EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, std::string>>{{42, "a"}, {43, ""}, {44, "xyz"}}));

    ASSERT_EQ(parse_moldudp64(mold("SESSION001", 45, 0, {}), p), mold_status::ok);
    EXPECT_TRUE(p.is_heartbeat());
    EXPECT_EQ(p.message_count(), 0);
    ASSERT_EQ(parse_moldudp64(mold("SESSION001", 45, 0xFFFF, {}), p), mold_status::ok);
    EXPECT_TRUE(p.is_end_of_session());
    EXPECT_EQ(p.message_count(), 0);
}

TEST(MoldUdp64, RefusesBadLengths) {
    mold_packet p;
    const bytes data = mold("SESSION001", 1, 2, {"abc", "de"});
    for (size_t size = 0; size < data.size(); ++size) {
        EXPECT_NE(parse_moldudp64(std::span(data).first(size), p), mold_status::ok) << size;
    }
    EXPECT_EQ(parse_moldudp64(std::span(data).first(19), p), mold_status::truncated);
    EXPECT_EQ(parse_moldudp64(std::span(data).first(21), p), mold_status::truncated);
    EXPECT_EQ(parse_moldudp64(std::span(data).first(22), p), mold_status::bad_message_length);
    EXPECT_EQ(parse_moldudp64(mold("SESSION001", 1, 3, {"abc", "de"}), p), mold_status::truncated);
    EXPECT_EQ(parse_moldudp64(mold("SESSION001", 1, 1, {"abc", "de"}), p),
              mold_status::trailing_bytes);
    EXPECT_EQ(parse_moldudp64(mold("SESSION001", 1, 0, {"x"}), p), mold_status::trailing_bytes);
    EXPECT_EQ(parse_moldudp64(mold("SESSION001", 1, 0xFFFF, {"x"}), p),
              mold_status::trailing_bytes);
}

// --- murmur2 --------------------------------------------------------------------------

TEST(Murmur2, MatchesJavaAndLibrdkafka) {
    // Kafka's UtilsTest.testMurmur2.
    EXPECT_EQ(murmur2(text("21")), -973932308);
    EXPECT_EQ(murmur2(text("foobar")), -790332482);
    EXPECT_EQ(murmur2(text("a-little-bit-long-string")), -985981536);
    EXPECT_EQ(murmur2(text("a-little-bit-longer-string")), -1486304829);
    EXPECT_EQ(murmur2(text("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")), -58897971);
    EXPECT_EQ(murmur2(text("abc")), 479470107);
    // librdkafka's rdmurmur2.c unittest (hex as int32).
    const std::pair<std::string_view, uint32_t> rd[] = {
        {"kafka", 0xd067cf64},
        {"giberish123456789", 0x8f552b0c},
        {"1234", 0x9fc97b14},
        {"234", 0xe7c009ca},
        {"34", 0x873930da},
        {"4", 0x5a4b5ca1},
        {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
        {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},
        {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
        {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
        {"", 0x106e08d9},
    };
    for (const auto& [key, expected] : rd) {
        EXPECT_EQ(murmur2(text(key)), static_cast<int32_t>(expected)) << key;
    }
    EXPECT_EQ(murmur2_partition(text("foobar"), 50), 16);  // (-790332482 & 0x7fffffff) % 50
    for (int32_t n = 1; n < 40; ++n) {
        const int32_t p = murmur2_partition(text("abc"), n);
        EXPECT_GE(p, 0);
        EXPECT_LT(p, n);
    }
}

// --- batch_encoder ----------------------------------------------------------------------

struct input_record {
    int64_t timestamp_ms;
    std::optional<std::string> key;
    std::string value;
    std::optional<int64_t> sequence;
    std::optional<std::string> session;
    int64_t receive_ns;
};

bytes be64(int64_t v) {
    bytes b;
    put64(b, static_cast<uint64_t>(v));
    return b;
}

bytes build_reference(const std::vector<input_record>& records) {
    storage::record_batch_builder builder;
    std::vector<bytes> keep;
    keep.reserve(records.size() * 2);  // the headers point into it
    for (const input_record& r : records) {
        std::vector<storage::record_header> headers;
        keep.push_back(be64(r.sequence.value_or(0)));
        const bytes& seq = keep.back();
        keep.push_back(be64(r.receive_ns));
        const bytes& rx = keep.back();
        if (r.sequence) headers.push_back({text(header_sequence), std::span<const std::byte>(seq)});
        if (r.session) headers.push_back({text(header_session), text(*r.session)});
        headers.push_back({text(header_receive_ns), std::span<const std::byte>(rx)});
        storage::record_input in;
        in.timestamp_ms = r.timestamp_ms;
        if (r.key) in.key = text(*r.key);
        in.value = text(r.value);
        in.headers = headers;
        builder.add_record(in);
    }
    return builder.build();
}

bool add(batch_encoder& e, const input_record& r) {
    feed_headers h;
    h.sequence = r.sequence;
    if (r.session) h.session = std::span<const char>(r.session->data(), r.session->size());
    h.receive_ns = r.receive_ns;
    std::optional<std::span<const std::byte>> key;
    if (r.key) key = text(*r.key);
    return e.add(r.timestamp_ms, key, text(r.value), h);
}

TEST(BatchEncoder, MatchesTheBuilderAndValidates) {
    std::vector<input_record> records = {
        {1'700'000'000'123, std::nullopt, "first", 1, "SESSION001", 1'700'000'000'123'456'789},
        {1'700'000'000'120, std::string("key"), "", 2, "SESSION001", 5},
        {1'700'000'000'500, std::string(""), std::string(300, 'v'), std::nullopt, std::nullopt, -1},
        {1'700'000'000'499, std::nullopt, "x", -7, "SPACE     ", 0},
    };
    batch_encoder encoder(batch_encoder_min_capacity_bytes, 1000);
    // Twice: reset() must give an identical batch.
    for (int round = 0; round < 2; ++round) {
        encoder.reset();
        for (const input_record& r : records) ASSERT_TRUE(add(encoder, r));
        EXPECT_EQ(encoder.record_count(), 4);
        const auto batch = encoder.finish();
        EXPECT_EQ(batch.size(), encoder.size_bytes());
        auto header = storage::validate_batch(batch, {});
        ASSERT_TRUE(header.ok()) << storage::name(header.error());
        EXPECT_EQ(header->base_timestamp_ms, records[0].timestamp_ms);
        EXPECT_EQ(header->max_timestamp_ms, records[2].timestamp_ms);
        EXPECT_EQ(header->producer_id, -1);
        const bytes reference = build_reference(records);
        EXPECT_EQ(bytes(batch.begin(), batch.end()), reference);

        size_t i = 0;
        auto walked = storage::for_each_record(batch, [&](const storage::record_view& rv) {
            const input_record& r = records[i++];
            EXPECT_EQ(storage::record_timestamp_ms(*header, rv), r.timestamp_ms);
            EXPECT_EQ(rv.key.has_value(), r.key.has_value());
            EXPECT_EQ(rv.value->size(), r.value.size());
            EXPECT_EQ(rv.header_count, 1 + (r.sequence ? 1 : 0) + (r.session ? 1 : 0));
        });
        EXPECT_TRUE(walked.ok());
        EXPECT_EQ(i, records.size());
    }
}

TEST(BatchEncoder, RefusesWhatDoesNotFitWithoutChange) {
    batch_encoder encoder(batch_encoder_min_capacity_bytes, 3);
    const input_record small{1, std::nullopt, "v", 1, std::nullopt, 0};
    const input_record huge{1, std::nullopt, std::string(batch_encoder_min_capacity_bytes, 'x'), 1,
                            std::nullopt, 0};
    EXPECT_FALSE(add(encoder, huge));
    EXPECT_EQ(encoder.record_count(), 0);
    EXPECT_EQ(encoder.size_bytes(), storage::batch_header_size_bytes);
    ASSERT_TRUE(add(encoder, small));
    const size_t size = encoder.size_bytes();
    EXPECT_FALSE(add(encoder, huge));
    EXPECT_EQ(encoder.size_bytes(), size);
    ASSERT_TRUE(add(encoder, small));
    ASSERT_TRUE(add(encoder, small));
    EXPECT_FALSE(add(encoder, small));  // max_records
    EXPECT_TRUE(storage::validate_batch(encoder.finish(), {}).ok());

    // Fill to the byte: the last record that fits is accepted, the batch valid.
    batch_encoder full(batch_encoder_min_capacity_bytes, 100000);
    const input_record medium{1, std::string("k"), std::string(100, 'm'), 9, "SESSION001", 1};
    while (add(full, medium)) {
    }
    EXPECT_LE(full.size_bytes(), batch_encoder_min_capacity_bytes);
    EXPECT_TRUE(storage::validate_batch(full.finish(), {}).ok());
}

// --- sequencer scenarios ----------------------------------------------------------------

struct emitted {
    uint64_t sequence;
    std::string message;
    unsigned line;
    bool operator==(const emitted&) const = default;
};

struct harness {
    explicit harness(sequencer_options o) : seq(o) {}
    sequencer seq;
    std::vector<emitted> out;
    steady_time now{};

    auto sink() {
        return [this](uint32_t, const mold_session&, uint64_t s, std::span<const std::byte> m,
                      unsigned l, int64_t) {
            out.push_back({s, std::string(reinterpret_cast<const char*>(m.data()), m.size()), l});
        };
    }
    void send(unsigned line, uint64_t first, std::vector<std::string> messages,
              std::string_view session = "SESSION001") {
        bytes b = mold(session, first, static_cast<uint16_t>(messages.size()), messages);
        packet(line, b);
    }
    void control(unsigned line, uint64_t sequence, uint16_t count) {
        bytes b = mold("SESSION001", sequence, count, {});
        packet(line, b);
    }
    void packet(unsigned line, const bytes& b) {
        mold_packet p;
        ASSERT_EQ(parse_moldudp64(b, p), mold_status::ok);
        seq.on_packet(p, line, now, sink());
    }
    void expire() { seq.expire(now, sink()); }
    std::vector<uint64_t> sequences() const {
        std::vector<uint64_t> s;
        for (const emitted& e : out) s.push_back(e.sequence);
        return s;
    }
};

TEST(Sequencer, OneLineGapsDuplicatesAndLateFills) {
    harness h({.lines = 1});
    h.send(0, 10, {"a", "b"});
    h.send(0, 11, {"b", "c"});       // overlaps: only c is new
    h.send(0, 15, {"f"});            // gap 13-14
    h.send(0, 13, {"d"});            // late fill
    h.send(0, 13, {"d"});            // duplicate
    h.control(0, 20, 0);             // heartbeat: 16-19 lost
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{10, 11, 12, 15, 13}));
    const auto& st = h.seq.stats();
    EXPECT_EQ(st.gap_messages, 2u + 4u);
    EXPECT_EQ(st.gap_events, 2u);
    EXPECT_EQ(st.gap_filled_messages, 1u);
    EXPECT_EQ(st.duplicate_messages, 2u);
    EXPECT_EQ(st.out_of_order_packets, 1u);
    EXPECT_EQ(st.heartbeats, 1u);
    EXPECT_EQ(h.seq.session(0).next_expected, 20u);
    h.control(0, 21, 0xFFFF);
    EXPECT_EQ(st.end_of_session, 1u);
    EXPECT_EQ(st.gap_messages, 7u);
    h.send(0, 21, {"late"});
    EXPECT_EQ(st.after_end_of_session, 1u);
    EXPECT_EQ(h.out.size(), 5u);
}

TEST(Sequencer, ArbitrationHoldsUntilTheOtherLineFills) {
    harness h({.lines = 2, .hold_timeout = std::chrono::milliseconds(1)});
    h.send(0, 1, {"1", "2"});
    h.send(1, 1, {"1", "2"});
    h.send(0, 5, {"5", "6"});  // A lost 3-4: held
    EXPECT_EQ(h.out.size(), 2u);
    h.send(1, 3, {"3", "4", "5"});  // B fills; 5 from B is an arbitration duplicate
    h.send(1, 6, {"6"});
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(h.out[4].line, 0u);
    const auto& st = h.seq.stats();
    EXPECT_EQ(st.gap_messages, 0u);
    EXPECT_EQ(st.lines[1].arbitration_duplicates, 4u);
    EXPECT_EQ(st.lines[0].arbitration_duplicates, 0u);
    EXPECT_EQ(st.duplicate_messages, 0u);
    EXPECT_EQ(h.seq.held_messages(), 0u);
}

TEST(Sequencer, HeldMessagesKeepTheirOwnReceiveTime) {
    // Line A delivers 1, skips 2, delivers 3 (held); line B brings 2 later.
    // Each message comes out with the receive time of the packet that carried it.
    sequencer seq({.lines = 2});
    std::vector<std::pair<uint64_t, int64_t>> out;
    const auto sink = [&](uint32_t, const mold_session&, uint64_t sequence,
                          std::span<const std::byte>, unsigned, int64_t receive_ns) {
        out.emplace_back(sequence, receive_ns);
    };
    const auto feed = [&](unsigned line, uint64_t sequence, int64_t receive_ns) {
        const bytes b = mold("SESSION001", sequence, 1, {"m" + std::to_string(sequence)});
        mold_packet p;
        ASSERT_EQ(parse_moldudp64(b, p), mold_status::ok);
        seq.on_packet(p, line, steady_time{}, sink, receive_ns);
    };
    feed(0, 1, 100);
    feed(0, 3, 300);
    feed(1, 2, 200);
    const std::vector<std::pair<uint64_t, int64_t>> want = {{1, 100}, {2, 200}, {3, 300}};
    EXPECT_EQ(out, want);
}

TEST(Sequencer, ArbitrationGapWhenBothLinesLost) {
    harness h({.lines = 2});
    h.send(0, 1, {"1"});
    h.send(0, 4, {"4"});  // held
    h.send(1, 1, {"1"});
    h.send(1, 3, {"3"});  // B lost 2 too, fills 3, then 4 from hold
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{1, 3, 4}));
    EXPECT_EQ(h.seq.stats().gap_messages, 1u);
    EXPECT_EQ(h.seq.stats().gap_events, 1u);
}

TEST(Sequencer, ArbitrationTimeoutReleases) {
    harness h({.lines = 2, .hold_timeout = std::chrono::microseconds(100)});
    h.send(0, 1, {"1"});
    h.send(0, 3, {"3", "4"});
    h.now += std::chrono::microseconds(99);
    h.expire();
    EXPECT_EQ(h.out.size(), 1u);
    h.now += std::chrono::microseconds(1);
    h.expire();
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{1, 3, 4}));
    EXPECT_EQ(h.seq.stats().hold_timeouts, 1u);
    EXPECT_EQ(h.seq.stats().gap_messages, 1u);
    h.send(1, 1, {"1", "2"});  // B was only slow: 2 is emitted late
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{1, 3, 4, 2}));
    EXPECT_EQ(h.seq.stats().gap_filled_messages, 1u);
}

TEST(Sequencer, HoldOverflowReleases) {
    harness h({.lines = 2, .window_messages = 64});
    h.send(0, 1, {"1"});
    h.send(0, 3, {"3"});
    h.send(0, 100, {"100"});  // beyond the window: overflow
    EXPECT_EQ(h.sequences(), (std::vector<uint64_t>{1, 3, 100}));
    EXPECT_EQ(h.seq.stats().hold_overflows, 1u);
    EXPECT_EQ(h.seq.stats().gap_messages, 1u + 96u);
}

TEST(Sequencer, SessionsBeyondTheBoundAreDropped) {
    harness h({.lines = 1, .max_sessions = 2});
    h.send(0, 1, {"a"}, "SESSION001");
    h.send(0, 1, {"a"}, "SESSION002");
    h.send(0, 1, {"a"}, "SESSION003");
    EXPECT_EQ(h.out.size(), 2u);
    EXPECT_EQ(h.seq.stats().sessions_dropped, 1u);
    EXPECT_EQ(h.seq.session_count(), 2u);
}

// --- config -------------------------------------------------------------------------------

result<std::vector<feed_config>, feed_config_error> feeds(std::string_view yaml) {
    return parse_feeds(YAML::Load(std::string(yaml)));
}

constexpr std::string_view good_feeds = R"(
- name: itch
  ports: ["net_pcap0,rx_pcap=/x.pcap", "0000:3b:00.1"]
  queues: 2
  filter: { address: 239.1.1.1, port: 30001 }
  decoder: moldudp64
  topic: itch
  partitions: 4
  partitioning: { by: key, key_offset: 3, key_length: 8 }
  arbitration: { hold_us: 500 }
  batch_bytes: 65536
  max_in_flight: 8
- name: raw.feed
  ports: [net_null0]
  topic: raw-topic
)";

TEST(FeedConfig, ParsesEveryField) {
    auto parsed = feeds(good_feeds);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    ASSERT_EQ(parsed->size(), 2u);
    const feed_config& f = (*parsed)[0];
    EXPECT_EQ(f.name, "itch");
    EXPECT_EQ(f.ports, (std::vector<std::string>{"net_pcap0,rx_pcap=/x.pcap", "0000:3b:00.1"}));
    EXPECT_EQ(f.queues, 2u);
    EXPECT_EQ(f.filter, (udp_filter{0xef010101, 30001}));
    EXPECT_EQ(f.decoder, decoder_kind::moldudp64);
    EXPECT_EQ(f.topic, "itch");
    EXPECT_EQ(f.partitions, 4);
    EXPECT_EQ(f.partitioning, partition_rule::key);
    EXPECT_EQ(f.key_offset, 3u);
    EXPECT_EQ(f.key_length, 8u);
    EXPECT_EQ(f.arbitration_hold, duration_ns(std::chrono::microseconds(500)));
    EXPECT_EQ(f.batch_bytes, 65536u);
    EXPECT_EQ(f.max_in_flight, 8u);
    const feed_config& r = (*parsed)[1];
    EXPECT_EQ(r.decoder, decoder_kind::raw);
    EXPECT_EQ(r.partitioning, partition_rule::queue);
    EXPECT_FALSE(r.filter);
    EXPECT_FALSE(r.partitions);
    EXPECT_FALSE(r.arbitrated());
    EXPECT_EQ(r.batch_bytes, default_batch_bytes);
    EXPECT_TRUE(feeds("").ok());
    EXPECT_TRUE(feeds("[]").ok());
}

void expect_feed_error(std::string_view yaml, std::string_view key, std::string_view message_part) {
    auto parsed = feeds(yaml);
    ASSERT_FALSE(parsed.ok()) << yaml;
    EXPECT_EQ(parsed.error().key, key) << yaml << " -> " << parsed.error().to_string();
    EXPECT_NE(parsed.error().message.find(message_part), std::string::npos)
        << parsed.error().to_string();
}

TEST(FeedConfig, EveryErrorNamesItsKey) {
    const std::string base = "- {name: a, ports: [net_null0], topic: t, ";
    const auto one = [&](std::string_view extra) { return base + std::string(extra) + "}"; };
    expect_feed_error("{a: 1}", "feeds", "expected a list");
    expect_feed_error("- 3", "feeds[0]", "expected a map");
    expect_feed_error(one("topik: x"), "feeds[0].topik", "did you mean 'topic'?");
    expect_feed_error(one("bogus: x"), "feeds[0].bogus", "unknown key");
    expect_feed_error("- {ports: [net_null0], topic: t}", "feeds[0].name", "required");
    expect_feed_error("- {name: a, topic: t}", "feeds[0].ports", "required");
    expect_feed_error("- {name: a, ports: [net_null0]}", "feeds[0].topic", "required");
    expect_feed_error("- {name: 'a b', ports: [net_null0], topic: t}", "feeds[0].name", "[A-Za-z");
    expect_feed_error("- {name: a, ports: net_null0, topic: t}", "feeds[0].ports", "expected a list");
    expect_feed_error("- {name: a, ports: [], topic: t}", "feeds[0].ports", "got 0");
    expect_feed_error("- {name: a, ports: [net_a, net_b, net_c], topic: t}", "feeds[0].ports",
                      "got 3");
    expect_feed_error("- {name: a, ports: [eth0], topic: t}", "feeds[0].ports[0]", "neither");
    expect_feed_error("- {name: a, ports: [net_], topic: t}", "feeds[0].ports[0]", "driver name");
    expect_feed_error("- {name: a, ports: ['0000:3b:00.9'], topic: t}", "feeds[0].ports[0]",
                      "neither");
    expect_feed_error("- {name: a, ports: [[x]], topic: t}", "feeds[0].ports[0]", "expected a string");
    expect_feed_error(
        "- {name: a, ports: [net_a, 'net_a,x=1'], topic: t, decoder: moldudp64, arbitration: {}}",
        "feeds[0].ports[1]", "same port twice");
    expect_feed_error("- {name: a, ports: [net_a, net_b], topic: t, decoder: moldudp64}",
                      "feeds[0].ports", "arbitration");
    expect_feed_error(one("queues: 0"), "feeds[0].queues", "between 1 and 64");
    expect_feed_error(one("queues: 65"), "feeds[0].queues", "between 1 and 64");
    expect_feed_error(one("queues: x"), "feeds[0].queues", "expected an integer");
    expect_feed_error(one("queues: -1"), "feeds[0].queues", "expected an integer");
    expect_feed_error(one("queues: 99999999999999999999999"), "feeds[0].queues", "between");
    expect_feed_error(one("filter: {adress: 1.2.3.4}"), "feeds[0].filter.adress",
                      "did you mean 'address'?");
    expect_feed_error(one("filter: {address: 1.2.3}"), "feeds[0].filter.address", "not an IPv4");
    expect_feed_error(one("filter: {address: 1.2.3.256}"), "feeds[0].filter.address",
                      "not an IPv4");
    expect_feed_error(one("filter: {address: 1.2.3.4.5}"), "feeds[0].filter.address",
                      "not an IPv4");
    expect_feed_error(one("filter: {address: '::1'}"), "feeds[0].filter.address", "not an IPv4");
    expect_feed_error(one("filter: {port: 0}"), "feeds[0].filter.port", "between 1 and 65535");
    expect_feed_error(one("filter: 3"), "feeds[0].filter", "expected a map");
    expect_feed_error(one("decoder: itch"), "feeds[0].decoder", "raw or moldudp64");
    expect_feed_error("- {name: a, ports: [net_null0], topic: 'bad topic'}", "feeds[0].topic",
                      "topic name");
    expect_feed_error("- {name: a, ports: [net_null0], topic: '..'}", "feeds[0].topic", "'..'");
    expect_feed_error("- {name: a, ports: [net_null0], topic: " + std::string(250, 't') + "}",
                      "feeds[0].topic", "249");
    expect_feed_error(one("partitions: 0"), "feeds[0].partitions", "between");
    expect_feed_error(one("partitioning: {}"), "feeds[0].partitioning.by", "required");
    expect_feed_error(one("partitioning: {by: hash}"), "feeds[0].partitioning.by",
                      "queue, session or key");
    expect_feed_error(one("partitioning: {by: session}"), "feeds[0].partitioning.by",
                      "moldudp64");
    expect_feed_error(one("partitioning: {by: key}"), "feeds[0].partitioning.key_offset",
                      "required");
    expect_feed_error(one("partitioning: {by: key, key_offset: 1}"),
                      "feeds[0].partitioning.key_length", "required");
    expect_feed_error(one("partitioning: {by: key, key_offset: 1, key_length: 0}"),
                      "feeds[0].partitioning.key_length", "between 1 and 64");
    expect_feed_error(one("partitioning: {by: key, key_offset: 1, key_length: 65}"),
                      "feeds[0].partitioning.key_length", "between 1 and 64");
    expect_feed_error(one("partitioning: {by: key, key_offset: 70000, key_length: 1}"),
                      "feeds[0].partitioning.key_offset", "between");
    expect_feed_error(one("partitioning: {by: queue, key_offset: 1}"),
                      "feeds[0].partitioning.key_offset", "only with 'by: key'");
    expect_feed_error(one("partitioning: {by: key, key_ofset: 1}"),
                      "feeds[0].partitioning.key_ofset", "did you mean 'key_offset'?");
    expect_feed_error(one("arbitration: {hold_us: 5}"), "feeds[0].arbitration", "two ports");
    expect_feed_error("- {name: a, ports: [net_a, net_b], topic: t, arbitration: {}}",
                      "feeds[0].arbitration", "moldudp64");
    expect_feed_error(
        "- {name: a, ports: [net_a, net_b], topic: t, decoder: moldudp64, arbitration: "
        "{hold_us: 0}}",
        "feeds[0].arbitration.hold_us", "between");
    expect_feed_error(
        "- {name: a, ports: [net_a, net_b], topic: t, decoder: moldudp64, arbitration: "
        "{hold_uss: 1}}",
        "feeds[0].arbitration.hold_uss", "did you mean 'hold_us'?");
    expect_feed_error(one("batch_bytes: 1000"), "feeds[0].batch_bytes", "between 16384 and 1048576");
    expect_feed_error(one("batch_bytes: 2000000"), "feeds[0].batch_bytes", "between");
    expect_feed_error(one("max_in_flight: 0"), "feeds[0].max_in_flight", "between 1 and 64");
    expect_feed_error(one("max_in_flight: 65"), "feeds[0].max_in_flight", "between 1 and 64");
    expect_feed_error("- {name: a, ports: [net_a], topic: t}\n- {name: a, ports: [net_b], topic: t}",
                      "feeds[1].name", "defined twice");
    expect_feed_error("- {name: a, ports: [net_a], topic: t}\n- {name: b, ports: ['net_a,x=y'], "
                      "topic: t}",
                      "feeds[1].ports[0]", "already used by feed 'a'");
}

TEST(DpdkConfig, DefaultsFieldsAndErrors) {
    auto defaults = parse_dpdk_settings(YAML::Node());
    ASSERT_TRUE(defaults.ok());
    EXPECT_EQ(*defaults, dpdk_settings{});
    auto parsed = parse_dpdk_settings(YAML::Load(
        "{memory_mb: 1024, hugepages: true, file_prefix: tl1, mbufs_per_queue: 4095, "
        "rx_descriptors: 512, burst_size: 64, idle_sleep_us: 0}"));
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_EQ(parsed->memory_mb, 1024u);
    EXPECT_TRUE(parsed->hugepages);
    EXPECT_EQ(parsed->file_prefix, "tl1");
    EXPECT_EQ(parsed->mbufs_per_queue, 4095u);
    EXPECT_EQ(parsed->rx_descriptors, 512u);
    EXPECT_EQ(parsed->burst_size, 64u);
    EXPECT_EQ(parsed->idle_sleep_us, 0u);

    const std::pair<std::string_view, std::string_view> errors[] = {
        {"[1]", "dpdk"},
        {"{burst_sise: 3}", "dpdk.burst_sise"},
        {"{burst_size: 65}", "dpdk.burst_size"},
        {"{burst_size: 0}", "dpdk.burst_size"},
        {"{memory_mb: 1}", "dpdk.memory_mb"},
        {"{rx_descriptors: 8}", "dpdk.rx_descriptors"},
        {"{mbufs_per_queue: 100}", "dpdk.mbufs_per_queue"},
        {"{mbufs_per_queue: 600, rx_descriptors: 1024}", "dpdk.mbufs_per_queue"},
        {"{idle_sleep_us: 1000000}", "dpdk.idle_sleep_us"},
        {"{hugepages: yes please}", "dpdk.hugepages"},
        {"{file_prefix: x}", "dpdk.file_prefix"},
        {"{hugepages: true, file_prefix: 'a/b'}", "dpdk.file_prefix"},
    };
    for (const auto& [yaml, key] : errors) {
        auto bad = parse_dpdk_settings(YAML::Load(std::string(yaml)));
        ASSERT_FALSE(bad.ok()) << yaml;
        EXPECT_EQ(bad.error().key, key) << yaml << " -> " << bad.error().to_string();
    }
    EXPECT_NE(parse_dpdk_settings(YAML::Load("{burst_sise: 3}")).error().message.find(
                  "did you mean 'burst_size'?"),
              std::string::npos);
}

TEST(FeedConfig, ExtractKey) {
    const auto message = text("0123456789");
    EXPECT_EQ(extract_key(message, 2, 3)->size(), 3u);
    EXPECT_TRUE(extract_key(message, 2, 8));
    EXPECT_FALSE(extract_key(message, 2, 9));
}

}  // namespace
}  // namespace tl::feed
