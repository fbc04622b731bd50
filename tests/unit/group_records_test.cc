// Proves that group and offset records are Kafka's own bytes: each record
// kind is encoded and compared with bytes written out by hand from Kafka's
// OffsetCommitKey/Value and GroupMetadataKey/Value schemas, older versions
// Kafka may have left in a log decode, replaying batches keeps the last
// value of each key (tombstones delete), and a group lands on the partition
// Java's String.hashCode puts it on.
#include <gtest/gtest.h>

#include <climits>
#include <initializer_list>

#include "kafka/groups/group_records.h"
#include "storage/record_batch.h"

namespace tl::kafka::groups {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

void append(std::vector<std::byte>& out, const std::vector<std::byte>& more) {
    out.insert(out.end(), more.begin(), more.end());
}

TEST(group_records, offset_key_is_version_1_group_topic_partition) {
    const auto encoded = encode_key(offset_key{"g", "t", 1});
    EXPECT_EQ(encoded, bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1}));
    auto decoded = decode_key(encoded);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<offset_key>(*decoded), (offset_key{"g", "t", 1}));
}

TEST(group_records, version_0_offset_key_decodes) {
    auto decoded = decode_key(bytes({0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 7}));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<offset_key>(*decoded).partition, 7);
}

TEST(group_records, offset_value_is_version_3) {
    offset_value v{.offset = 5, .leader_epoch = -1, .metadata = "m", .commit_timestamp_ms = 1000,
                   .expire_timestamp_ms = std::nullopt};
    const auto encoded = encode_offset_value(v);
    EXPECT_EQ(encoded, bytes({0, 3,                              // version
                              0, 0, 0, 0, 0, 0, 0, 5,            // offset
                              0xff, 0xff, 0xff, 0xff,            // leader epoch
                              0, 1, 'm',                         // metadata
                              0, 0, 0, 0, 0, 0, 0x03, 0xe8}));   // commit timestamp
    auto decoded = decode_offset_value(encoded);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, v);
}

TEST(group_records, offset_value_with_expiry_is_version_1) {
    offset_value v{.offset = 2, .leader_epoch = -1, .metadata = "", .commit_timestamp_ms = 1,
                   .expire_timestamp_ms = 9};
    const auto encoded = encode_offset_value(v);
    EXPECT_EQ(encoded, bytes({0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                              0, 0, 0, 0, 0, 9}));
    auto decoded = decode_offset_value(encoded);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, v);
}

TEST(group_records, group_key_and_value_are_versions_2_and_3) {
    EXPECT_EQ(encode_key(group_key{"g"}), bytes({0, 2, 0, 1, 'g'}));
    group_value v;
    v.protocol_type = "consumer";
    v.generation = 3;
    v.protocol = "range";
    v.leader = "m";
    v.current_state_timestamp_ms = 16;
    v.members.push_back(member_record{.member_id = "m",
                                      .group_instance_id = std::nullopt,
                                      .client_id = "c",
                                      .client_host = "/h",
                                      .rebalance_timeout_ms = 300,
                                      .session_timeout_ms = 10,
                                      .subscription = bytes({1, 2}),
                                      .assignment = bytes({3})});
    std::vector<std::byte> want = bytes({0, 3});
    append(want, bytes({0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r'}));
    append(want, bytes({0, 0, 0, 3}));                      // generation
    append(want, bytes({0, 5, 'r', 'a', 'n', 'g', 'e'}));  // protocol
    append(want, bytes({0, 1, 'm'}));                       // leader
    append(want, bytes({0, 0, 0, 0, 0, 0, 0, 16}));         // current_state_timestamp
    append(want, bytes({0, 0, 0, 1}));                      // one member
    append(want, bytes({0, 1, 'm'}));                       // member_id
    append(want, bytes({0xff, 0xff}));                      // group_instance_id: null
    append(want, bytes({0, 1, 'c'}));                       // client_id
    append(want, bytes({0, 2, '/', 'h'}));                  // client_host
    append(want, bytes({0, 0, 0x01, 0x2c}));                // rebalance timeout 300
    append(want, bytes({0, 0, 0, 10}));                     // session timeout
    append(want, bytes({0, 0, 0, 2, 1, 2}));                // subscription
    append(want, bytes({0, 0, 0, 1, 3}));                   // assignment
    EXPECT_EQ(encode_group_value(v), want);
    auto decoded = decode_group_value(want);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, v);
}

TEST(group_records, version_0_group_value_decodes) {
    const std::vector<std::byte> v0 =
        bytes({0, 0, 0, 1, 'x', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1, 'm', 0, 1,
               'c', 0, 1, 'h', 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0});
    auto decoded = decode_group_value(v0);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->protocol_type, "x");
    EXPECT_EQ(decoded->protocol, std::nullopt);
    ASSERT_EQ(decoded->members.size(), 1u);
    EXPECT_EQ(decoded->members[0].session_timeout_ms, 5);
    EXPECT_EQ(decoded->members[0].rebalance_timeout_ms, 5);
}

TEST(group_records, bad_input_is_refused) {
    EXPECT_FALSE(decode_key(bytes({0})).ok());
    EXPECT_EQ(decode_key(bytes({0, 9, 0, 0})).error(), record_errc::unknown_key_version);
    EXPECT_EQ(decode_offset_value(bytes({0, 3, 0})).error(), record_errc::truncated);
    auto key = encode_key(group_key{"g"});
    key.push_back(std::byte{0});
    EXPECT_EQ(decode_key(key).error(), record_errc::trailing_bytes);
}

TEST(group_records, partition_follows_java_string_hash_code) {
    EXPECT_EQ(java_string_hash(""), 0);
    EXPECT_EQ(java_string_hash("hello"), 99162322);
    EXPECT_EQ(java_string_hash("Aa"), java_string_hash("BB"));
    EXPECT_EQ(java_string_hash("\xc3\xa9"), 0xe9);                          // é: one code unit
    EXPECT_EQ(java_string_hash("\xf0\x9f\x98\x80"), 0xd83d * 31 + 0xde00);  // a surrogate pair
    // Integer.MIN_VALUE: Utils.abs masks it to 0 (Math.abs would stay negative).
    EXPECT_EQ(java_string_hash("polygenelubricants"), INT32_MIN);
    EXPECT_EQ(partition_for_group("polygenelubricants", 50), 0);
    EXPECT_EQ(partition_for_group("hello", 50), 99162322 % 50);
}

storage::record_input record(const std::vector<std::byte>& key,
                             const std::optional<std::vector<std::byte>>& value) {
    storage::record_input r;
    r.timestamp_ms = 1;
    r.key = storage::byte_span(key);
    if (value) r.value = storage::byte_span(*value);
    return r;
}

TEST(group_records, replay_keeps_the_last_value_and_honours_tombstones) {
    const auto k1 = encode_key(offset_key{"g", "t", 0});
    const auto k2 = encode_key(offset_key{"g", "t", 1});
    const auto gk = encode_key(group_key{"g"});
    const auto gone = encode_key(group_key{"gone"});
    offset_value one;
    one.offset = 1;
    offset_value two;
    two.offset = 2;
    const auto v1 = encode_offset_value(one);
    const auto v2 = encode_offset_value(two);
    group_value g;
    g.protocol_type = "consumer";
    g.generation = 4;
    const auto gv = encode_group_value(g);
    storage::record_batch_builder first;
    first.add_record(record(k1, v1)).add_record(record(k2, v1)).add_record(record(gone, gv));
    storage::record_batch_builder second;
    second.set_base_offset(3);
    second.add_record(record(k1, v2))
        .add_record(record(k2, std::nullopt))
        .add_record(record(gk, gv))
        .add_record(record(gone, std::nullopt));
    replayed_partition state;
    ASSERT_TRUE(replay_batch(first.build(), 0, state));
    ASSERT_TRUE(replay_batch(second.build(), 0, state));
    ASSERT_EQ(state.offsets.size(), 1u);
    EXPECT_EQ(state.offsets.begin()->second.offset, 2);
    ASSERT_EQ(state.groups.size(), 1u);
    EXPECT_EQ(state.groups.at("g").generation, 4);
    EXPECT_EQ(state.skipped_records, 0u);
}

}  // namespace
}  // namespace tl::kafka::groups
