// Proves the feed's per-packet path allocates nothing: frame parsing, the
// MoldUDP64 decoder, the sequencer (A/B arbitration, holds, gaps,
// duplicates) and the batch encoder run over 40,000 generated packets with
// every global operator new counted, after their buffers were made. (The
// runtime above adds one append per batch, never per packet.)
// How: perf/feedgen builds A/B frames with gaps and duplicates in memory;
// this binary replaces the global operator new with a counting one.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "feed/batch_encoder.h"
#include "feed/feed_config.h"
#include "feed/moldudp64.h"
#include "feed/packet.h"
#include "feed/sequencer.h"
#include "perf/feedgen/generator.h"

namespace {
std::atomic<uint64_t> allocations{0};
}  // namespace

void* operator new(size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace tl::feed {
namespace {

// Frames of both lines, interleaved one generator batch at a time.
struct captured {
    std::vector<std::vector<std::byte>> frames;
    std::vector<unsigned> lines;
};

captured generate() {
    feedgen::feed_config config;
    config.sessions = 4;
    config.lines = 2;
    config.messages_per_packet_min = 1;
    config.messages_per_packet_max = 5;
    config.packets = 40'000;
    config.faults = {.gaps_a = 50, .gaps_b = 50, .common_gaps = 10, .duplicates = 40};
    config.heartbeat_every = 500;
    config.detail = feedgen::manifest_detail::none;
    EXPECT_TRUE(feedgen::validate(config).ok());
    auto plan = feedgen::plan_faults(*config.packets, config.sessions, config.faults, 7);
    EXPECT_TRUE(plan.ok());
    feedgen::feed_generator generator(config, *plan);
    feedgen::frame_batch batch;
    captured out;
    while (generator.next_batch(batch)) {
        for (unsigned line = 0; line < 2; ++line) {
            for (const auto& frame : batch.frames(line)) {
                out.frames.emplace_back(frame.bytes.begin(), frame.bytes.end());
                out.lines.push_back(line);
            }
        }
    }
    return out;
}

TEST(feed_hot_path, parse_sequence_and_encode_allocate_nothing) {
    const captured input = generate();
    ASSERT_GT(input.frames.size(), 80'000u);

    sequencer seq({.lines = 2, .hold_timeout = std::chrono::milliseconds(1)});
    batch_encoder encoder(256 * 1024, 65536);
    uint64_t records = 0, batches = 0;
    steady_time now{};
    const auto write = [&](uint32_t, const mold_session& session, uint64_t sequence,
                           std::span<const std::byte> message, unsigned, int64_t receive_ns) {
        const feed_headers headers{static_cast<int64_t>(sequence),
                                   std::span<const char>(session), receive_ns};
        const auto key = extract_key(message, 1, 2);
        if (!encoder.add(receive_ns / 1'000'000, key, message, headers)) {
            (void)encoder.finish();
            encoder.reset();
            ++batches;
            ASSERT_TRUE(encoder.add(receive_ns / 1'000'000, key, message, headers));
        }
        ++records;
    };

    const uint64_t before = allocations.load();
    for (size_t i = 0; i < input.frames.size(); ++i) {
        now += std::chrono::microseconds(1);
        udp_datagram datagram;
        ASSERT_EQ(parse_udp_frame(input.frames[i], datagram), frame_status::ok);
        mold_packet packet;
        ASSERT_EQ(parse_moldudp64(datagram.payload, packet), mold_status::ok);
        seq.on_packet(packet, input.lines[i], now, write, static_cast<int64_t>(i));
        seq.expire(now, write);
    }
    const uint64_t during = allocations.load() - before;

    EXPECT_EQ(during, 0u) << "allocations on the packet path";
    EXPECT_GT(records, 40'000u);
    EXPECT_GT(batches, 0u);
    EXPECT_GT(seq.stats().held_messages, 0u) << "the run should exercise the A/B hold";
    EXPECT_GT(seq.stats().gap_messages, 0u);
}

}  // namespace
}  // namespace tl::feed
