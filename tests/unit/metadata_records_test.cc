// Proves the metadata log's record encoding (src/cluster/metadata_records.h):
// every record type round-trips, the encoding is canonical (encode of a
// decoded record gives back the same bytes), and decoding is strict: every
// truncation, every single-bit flip that changes the meaning, trailing
// bytes, unknown versions and types, and values out of range are refused
// with a message, never accepted as something else by accident.
//
// Records are built by hand; bit flips are exhaustive over each sample.
#include <gtest/gtest.h>

#include <random>

#include "cluster/metadata_records.h"

namespace tl::cluster {
namespace {

topic_id id_from(uint64_t seed) {
    std::mt19937_64 random(seed);
    return topic_id::random(random);
}

std::vector<metadata_record> samples() {
    std::vector<metadata_record> out;
    request_id req{.origin_node = 3, .sequence = 0x0102030405060708};
    out.push_back({req, register_broker_record{{.node_id = 3,
                                                .host = "broker-3.example",
                                                .port = 9092,
                                                .rack = "eu-1a",
                                                .incarnation = 17}}});
    out.push_back(
        {req, register_broker_record{
                  {.node_id = 0, .host = "h", .port = 1, .rack = {}, .incarnation = -5}}});
    std::mt19937_64 random(7);
    out.push_back({req, set_cluster_id_record{make_cluster_id(random)}});
    out.push_back({req, create_topic_record{
                            .name = "orders",
                            .id = id_from(1),
                            .partitions = 3,
                            .replication_factor = 2,
                            .assignments = {{1, 2}, {2, 3}, {3, 1}},
                            .configs = {{"cleanup.policy", "compact"}, {"retention.ms", "1000"}}}});
    out.push_back({req, create_topic_record{.name = "t",
                                            .id = id_from(2),
                                            .partitions = 1,
                                            .replication_factor = 1,
                                            .assignments = {{0}},
                                            .configs = {}}});
    out.push_back({req, delete_topic_record{id_from(3)}});
    out.push_back(
        {req,
         create_partitions_record{
             .id = id_from(4), .count = 5, .replication_factor = 1, .assignments = {{0}, {1}}}});
    out.push_back({req, alter_topic_config_record{.id = id_from(5),
                                                  .configs = {{"segment.bytes", "1048576"}}}});
    out.push_back({req, alter_topic_config_record{.id = id_from(6), .configs = {}}});
    out.push_back({req, allocate_producer_ids_record{.node_id = 9, .first = 1000, .count = 1000}});
    return out;
}

TEST(MetadataRecords, EveryTypeRoundTrips) {
    for (const metadata_record& record : samples()) {
        const auto bytes = encode_record(record);
        auto decoded = decode_record(bytes);
        ASSERT_TRUE(decoded.ok()) << decoded.error();
        EXPECT_EQ(*decoded, record);
        EXPECT_EQ(encode_record(*decoded), bytes);
        EXPECT_EQ(static_cast<uint8_t>(bytes[1]), static_cast<uint8_t>(record.type()));
    }
}

TEST(MetadataRecords, EveryTruncationIsRefused) {
    for (const metadata_record& record : samples()) {
        const auto bytes = encode_record(record);
        for (size_t length = 0; length < bytes.size(); ++length) {
            auto decoded = decode_record(std::span(bytes).first(length));
            ASSERT_FALSE(decoded.ok()) << "type " << int(record.type()) << " length " << length;
            EXPECT_FALSE(decoded.error().empty());
        }
        auto longer = bytes;
        longer.push_back(std::byte{0});
        auto decoded = decode_record(longer);
        ASSERT_FALSE(decoded.ok());
        EXPECT_NE(decoded.error().find("after the record"), std::string::npos) << decoded.error();
    }
}

// Without a CRC some flips still decode (a different port, another id): the
// property is that whatever decodes is a well-formed record whose encoding
// is exactly the flipped bytes — no two encodings of one record, no garbage
// accepted silently.
TEST(MetadataRecords, EveryBitFlipIsRefusedOrCanonical) {
    size_t refused = 0;
    size_t total = 0;
    for (const metadata_record& record : samples()) {
        const auto bytes = encode_record(record);
        for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
            auto flipped = bytes;
            flipped[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
            ++total;
            auto decoded = decode_record(flipped);
            if (!decoded.ok()) {
                ++refused;
                continue;
            }
            EXPECT_FALSE(check_record(*decoded).has_value());
            EXPECT_EQ(encode_record(*decoded), flipped) << "bit " << bit;
            EXPECT_NE(*decoded, record);
        }
        // The header's flips are all refused: version and type.
        for (size_t bit = 0; bit < 8; ++bit) {
            auto flipped = bytes;
            flipped[0] ^= static_cast<std::byte>(1u << bit);
            EXPECT_FALSE(decode_record(flipped).ok()) << "version bit " << bit;
        }
    }
    EXPECT_GT(refused, total / 8) << "lengths, counts, flags, names and ranges catch many";
}

TEST(MetadataRecords, UnknownVersionAndTypeSaySo) {
    auto bytes = encode_record(samples()[0]);
    bytes[0] = std::byte{2};
    EXPECT_EQ(decode_record(bytes).error(), "metadata record format 2; this build reads 1");
    bytes[0] = std::byte{1};
    bytes[1] = std::byte{0};
    EXPECT_EQ(decode_record(bytes).error(), "unknown metadata record type 0");
    bytes[1] = std::byte{8};
    EXPECT_EQ(decode_record(bytes).error(), "unknown metadata record type 8");
}

TEST(MetadataRecords, OutOfRangeValuesAreRefusedBothWays) {
    auto refused = [](metadata_record r) {
        EXPECT_TRUE(check_record(r).has_value());
        EXPECT_DEATH((void)encode_record(r), "malformed metadata record");
    };
    const request_id req{.origin_node = 1, .sequence = 1};
    refused({{.origin_node = -1, .sequence = 1}, delete_topic_record{id_from(1)}});
    refused({req, delete_topic_record{topic_id{}}});
    refused({req, set_cluster_id_record{"not-a-uuid"}});
    refused({req, register_broker_record{{.node_id = 1, .host = "", .port = 1}}});
    refused({req, register_broker_record{{.node_id = 1, .host = "h", .port = 0}}});
    refused({req, create_topic_record{.name = "bad/name",
                                      .id = id_from(1),
                                      .partitions = 1,
                                      .replication_factor = 1,
                                      .assignments = {{0}},
                                      .configs = {}}});
    refused({req, create_topic_record{.name = "t",
                                      .id = id_from(1),
                                      .partitions = 2,
                                      .replication_factor = 1,
                                      .assignments = {{0}},
                                      .configs = {}}});
    refused({req, create_topic_record{.name = "t",
                                      .id = id_from(1),
                                      .partitions = 1,
                                      .replication_factor = 2,
                                      .assignments = {{4, 4}},
                                      .configs = {}}});
    refused({req, create_partitions_record{
                      .id = id_from(1), .count = 1, .replication_factor = 1, .assignments = {}}});
    refused({req, allocate_producer_ids_record{
                      .node_id = 1, .first = std::numeric_limits<int64_t>::max(), .count = 1}});
    refused({req, allocate_producer_ids_record{.node_id = 1, .first = 0, .count = 0}});

    // A duplicate replica written by hand decodes to an error.
    auto bytes = encode_record(samples()[3]);  // orders: {1, 2} first
    const size_t first_list = 2 + 4 + 8 + 2 + 6 + 16 + 4 + 2;
    bytes[first_list + 7] = std::byte{1};  // {1, 1}
    auto decoded = decode_record(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().find("listed twice"), std::string::npos) << decoded.error();
}

TEST(MetadataRecords, HugeCountsAreRefusedBeforeAllocating) {
    // create_topic claiming 2^31-1 partitions of 32767 replicas in a few bytes.
    auto bytes = encode_record(samples()[4]);
    const size_t partitions_at = 2 + 4 + 8 + 2 + 1 + 16;
    for (size_t i = 0; i < 4; ++i) bytes[partitions_at + i] = std::byte{0xff};
    bytes[partitions_at] = std::byte{0x7f};
    bytes[partitions_at + 4] = std::byte{0x7f};
    auto decoded = decode_record(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().find("cannot fit"), std::string::npos) << decoded.error();
}

}  // namespace
}  // namespace tl::cluster
