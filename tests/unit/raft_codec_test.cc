// Proves src/raft/codec.h: every message kind, with entries of each kind and
// with a snapshot, round-trips field for field; the encoding is canonical
// (re-encoding a decoded message gives the same bytes); every truncation,
// trailing bytes, an unknown version, kind or flag are refused with an error
// (never a crash). Entries and snapshots (log_store's records) likewise. The
// fuzz target tests/fuzz/raft_codec_fuzz.cc feeds it arbitrary bytes.
#include <gtest/gtest.h>

#include "raft/codec.h"

namespace tl::raft {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
    auto span = std::as_bytes(std::span(s.data(), s.size()));
    return {span.begin(), span.end()};
}

message sample(message_kind kind) {
    message m{.kind = kind, .from = 1, .to = 0x0102030405060708, .term = 7, .log_term = 6,
              .index = 42, .entries = {}, .commit = 41, .reject = true, .reject_hint = 40,
              .hint_term = 5, .context = 0xfedcba9876543210, .snapshot = std::nullopt};
    m.entries.push_back({.term = 6, .index = 43, .kind = entry_kind::normal, .data = bytes_of("hello")});
    m.entries.push_back({.term = 7, .index = 44, .kind = entry_kind::no_op, .data = {}});
    m.entries.push_back({.term = 7, .index = 45, .kind = entry_kind::configuration,
                         .data = encode_configuration({.voters = {1, 2, 3}, .learners = {4}})});
    if (kind == message_kind::install_snapshot) {
        m.snapshot = snapshot{.meta = {.index = 40, .term = 5,
                                       .configuration = {.voters = {1, 2}, .learners = {9}}},
                              .data = bytes_of("state")};
    }
    return m;
}

void expect_same(const message& a, const message& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.from, b.from);
    EXPECT_EQ(a.to, b.to);
    EXPECT_EQ(a.term, b.term);
    EXPECT_EQ(a.log_term, b.log_term);
    EXPECT_EQ(a.index, b.index);
    EXPECT_EQ(a.entries, b.entries);
    EXPECT_EQ(a.commit, b.commit);
    EXPECT_EQ(a.reject, b.reject);
    EXPECT_EQ(a.reject_hint, b.reject_hint);
    EXPECT_EQ(a.hint_term, b.hint_term);
    EXPECT_EQ(a.context, b.context);
    ASSERT_EQ(a.snapshot.has_value(), b.snapshot.has_value());
    if (a.snapshot) {
        EXPECT_EQ(a.snapshot->meta, b.snapshot->meta);
        EXPECT_EQ(a.snapshot->data, b.snapshot->data);
    }
}

TEST(RaftCodec, EveryKindRoundTrips) {
    for (uint8_t k = 0; k <= static_cast<uint8_t>(message_kind::read_index_response); ++k) {
        const auto m = sample(static_cast<message_kind>(k));
        const auto bytes = encode(m);
        auto decoded = decode(bytes);
        ASSERT_TRUE(decoded.ok()) << decoded.error();
        expect_same(m, *decoded);
        EXPECT_EQ(encode(*decoded), bytes);
    }
    message empty;
    auto decoded = decode(encode(empty));
    ASSERT_TRUE(decoded.ok());
    expect_same(empty, *decoded);
}

TEST(RaftCodec, TruncationsAndTrailingBytesAreRefused) {
    const auto bytes = encode(sample(message_kind::install_snapshot));
    for (size_t length = 0; length < bytes.size(); ++length) {
        auto decoded = decode(std::span(bytes).first(length));
        ASSERT_FALSE(decoded.ok()) << "length " << length;
        EXPECT_FALSE(decoded.error().empty());
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode(longer).ok());
}

TEST(RaftCodec, UnknownVersionKindAndFlagsAreRefused) {
    const auto bytes = encode(sample(message_kind::append));
    auto version = bytes;
    version[0] = std::byte{2};
    ASSERT_FALSE(decode(version).ok());
    EXPECT_NE(decode(version).error().find("version"), std::string::npos);
    auto kind = bytes;
    kind[1] = std::byte{200};
    EXPECT_FALSE(decode(kind).ok());
    auto reject = bytes;
    reject[1 + 1 + 8 * 6] = std::byte{2};
    EXPECT_FALSE(decode(reject).ok());
}

TEST(RaftCodec, EntriesAndSnapshotsRoundTrip) {
    const entry e{.term = 3, .index = 9, .kind = entry_kind::configuration, .data = bytes_of("abc")};
    std::vector<std::byte> out;
    encode_entry(e, out);
    auto decoded = decode_entry(out);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, e);
    out.pop_back();
    EXPECT_FALSE(decode_entry(out).ok());

    const snapshot s{.meta = {.index = 9, .term = 3, .configuration = {.voters = {1}, .learners = {}}},
                     .data = bytes_of("xyz")};
    auto back = decode_snapshot(encode_snapshot(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->meta, s.meta);
    EXPECT_EQ(back->data, s.data);
}

}  // namespace
}  // namespace tl::raft
