// Proves src/cluster/metadata_store on the simulated disk (deterministic,
// seeded): snapshots round-trip through encode/decode and save/load; a power
// cut at every step of a save leaves the old snapshot or the new one, never
// a corrupt or empty one; every single-bit flip and every truncation of the
// file is refused with a clear error; an unknown format version says so; a
// leftover metadata.tmp is removed and ignored; ids and topic names follow
// Kafka's rules; a version-1 file (before producer ids) still loads, as a
// snapshot that never issued one, and is rewritten as version 2. The crash test runs
// TIDELOG_SIM_SEEDS seeds (20 in the unit suite, more in the sim suite).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>

#include "base/crc32c.h"
#include "cluster/metadata_store.h"
#include "sim/sim_disk.h"

namespace tl::cluster {
namespace {

using sim::sim_disk;
using sim::sim_executor;

const std::string data = "data";
const std::string metadata_path = "data/cluster/metadata";

topic_id id_from(uint64_t seed) {
    std::mt19937_64 random(seed);
    return topic_id::random(random);
}

metadata_snapshot sample(int64_t version, int topics, int64_t next_producer_id = 0) {
    metadata_snapshot s{.version = version, .cluster_id = "", .topics = {}};
    std::mt19937_64 random(42);
    s.cluster_id = make_cluster_id(random);
    s.next_producer_id = next_producer_id;
    for (int i = 0; i < topics; ++i) {
        topic_record t{.name = "topic-" + std::to_string(i),
                       .id = id_from(static_cast<uint64_t>(1000 + i)),
                       .partition_count = i + 1,
                       .configs = {}};
        if (i % 2 == 0) {
            t.configs["retention.ms"] = std::to_string(1000 * (i + 1));
            t.configs["cleanup.policy"] = "compact,delete";
        }
        s.topics.push_back(std::move(t));
    }
    return s;
}

// `s` as the controller log leaves it (format 3): two brokers, every topic
// placed on both with replication factor 2.
metadata_snapshot placed(metadata_snapshot s) {
    s.brokers = {{.node_id = 1, .host = "a.example", .port = 9092, .rack = {}, .incarnation = 3},
                 {.node_id = 7, .host = "b", .port = 1, .rack = "r1", .incarnation = -1}};
    for (auto& t : s.topics) {
        t.replication_factor = 2;
        for (int32_t p = 0; p < t.partition_count; ++p) {
            t.assignments.push_back(p % 2 == 0 ? replica_list{1, 7} : replica_list{7, 1});
        }
    }
    return s;
}

struct fixture {
    explicit fixture(uint64_t seed = 1) : executor(seed), disk(executor) {
        auto made = executor.run_task(disk.make_directory(data));
        TL_ASSERT(made.ok());
    }
    store_result<void> save(const metadata_snapshot& s) {
        return executor.run_task(save_metadata(disk, data, s));
    }
    store_result<std::optional<metadata_snapshot>> load() {
        return executor.run_task(load_metadata(disk, data));
    }
    // Replaces the file's durable image with `bytes`.
    void write_file(const std::string& path, std::span<const std::byte> bytes) {
        executor.run_task([](sim_disk& d, std::string p, std::vector<std::byte> b) -> task<void> {
            auto opened =
                co_await d.open(p, uring::open_mode::create_read_write, storage::direct_io::never);
            TL_ASSERT(opened.ok());
            TL_ASSERT((co_await (*opened)->truncate(0)).ok());
            TL_ASSERT((co_await (*opened)->write_at(0, std::span<const std::byte>(b))).ok());
            TL_ASSERT((co_await (*opened)->sync()).ok());
            TL_ASSERT((co_await (*opened)->close()).ok());
        }(disk, path, std::vector<std::byte>(bytes.begin(), bytes.end())));
    }
    sim_executor executor;
    sim_disk disk;
};

std::vector<std::byte> encoded(const metadata_snapshot& s,
                               uint16_t format = metadata_format_version) {
    auto bytes = encode_metadata(s, format);
    TL_ASSERT(bytes.ok());
    return std::move(*bytes);
}

constexpr size_t header_bytes = 16;
// Where next_producer_id sits in a version-2 or 3 file: after the header, the
// snapshot version and the cluster id (2 + 22 bytes).
constexpr size_t next_producer_id_at = header_bytes + 8 + 2 + 22;

void put_u32(std::vector<std::byte>& bytes, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::byte>(v >> (8 * (3 - i)));
}

// Recomputes content_length and the CRC after a test edited the file.
void reseal(std::vector<std::byte>& bytes) {
    put_u32(bytes, 8, static_cast<uint32_t>(bytes.size() - header_bytes));
    const std::span<const std::byte> all(bytes);
    put_u32(bytes, 12, crc32c(all.subspan(header_bytes), crc32c(all.subspan(4, 8))));
}

// The file an older build (format version 1) wrote for `s`, which must not
// have issued producer ids: version 2 without next_producer_id. Built by hand
// from version 2 to check that encode_metadata(s, 1) writes the same.
std::vector<std::byte> encoded_version_1(const metadata_snapshot& s) {
    TL_ASSERT(s.next_producer_id == 0);
    auto bytes = encoded(s, 2);
    bytes[4] = std::byte{0};
    bytes[5] = std::byte{1};
    bytes.erase(bytes.begin() + next_producer_id_at, bytes.begin() + next_producer_id_at + 8);
    reseal(bytes);
    TL_ASSERT(bytes == encoded(s, 1));
    return bytes;
}

TEST(MetadataStore, EncodeDecodeRoundTrip) {
    for (int topics : {0, 1, 7}) {
        const auto s = sample(topics + 5, topics);
        auto decoded = decode_metadata(encoded(s));
        ASSERT_TRUE(decoded.ok()) << decoded.error().message();
        EXPECT_EQ(*decoded, s);
    }
    for (int64_t next_producer_id : {int64_t{1}, int64_t{1000}, int64_t{1} << 40}) {
        const auto s = sample(3, 2, next_producer_id);
        auto decoded = decode_metadata(encoded(s));
        ASSERT_TRUE(decoded.ok()) << decoded.error().message();
        EXPECT_EQ(*decoded, s);
    }
    metadata_snapshot extreme = sample(std::numeric_limits<int64_t>::min(), 1);
    extreme.next_producer_id = std::numeric_limits<int64_t>::max();
    extreme.topics[0].name = std::string(249, 'x');
    extreme.topics[0].partition_count = std::numeric_limits<int32_t>::max();
    extreme.topics[0].configs["big"] = std::string(max_config_value_bytes, 'v');
    extreme.topics[0].configs["empty"] = "";
    auto decoded = decode_metadata(encoded(extreme));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message();
    EXPECT_EQ(*decoded, extreme);
    for (int topics : {0, 1, 7}) {
        const auto s = placed(sample(topics + 5, topics, 12));
        auto back = decode_metadata(encoded(s));
        ASSERT_TRUE(back.ok()) << back.error().message();
        EXPECT_EQ(*back, s);
    }
    metadata_snapshot uninitialised;  // a controller log before its first record
    auto empty = decode_metadata(encoded(uninitialised));
    ASSERT_TRUE(empty.ok()) << empty.error().message();
    EXPECT_EQ(*empty, uninitialised);
    EXPECT_FALSE(encode_metadata(uninitialised, 2).ok()) << "version 2 needs a cluster id";
}

TEST(MetadataStore, Version2FilesLoadUnplaced) {
    for (int topics : {0, 1, 7}) {
        const auto s = sample(topics + 2, topics, 77);
        auto decoded = decode_metadata(encoded(s, 2));
        ASSERT_TRUE(decoded.ok()) << decoded.error().message();
        EXPECT_EQ(*decoded, s) << "replication factor 1, no assignments, no brokers";
    }
    EXPECT_FALSE(encode_metadata(placed(sample(1, 1)), 2).ok())
        << "version 2 cannot hold brokers or assignments";
}

TEST(MetadataStore, Version2StoresNextProducerIdAfterTheClusterId) {
    const auto bytes = encoded(sample(1, 1, 0x0102030405060708), 2);
    EXPECT_EQ(bytes[5], std::byte{2}) << "format version";
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(bytes[next_producer_id_at + i], static_cast<std::byte>(i + 1)) << i;
    }
    EXPECT_EQ(bytes.size(), encoded_version_1(sample(1, 1)).size() + 8);
    auto negative = bytes;
    negative[next_producer_id_at] = std::byte{0x80};
    reseal(negative);
    auto decoded = decode_metadata(negative, "m");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, store_errc::corrupt);
    EXPECT_NE(decoded.error().message().find("next producer id"), std::string::npos)
        << decoded.error().message();
}

TEST(MetadataStore, Version1FilesLoadWithoutProducerIds) {
    for (int topics : {0, 1, 7}) {
        const auto s = sample(topics + 2, topics);
        auto decoded = decode_metadata(encoded_version_1(s));
        ASSERT_TRUE(decoded.ok()) << decoded.error().message();
        EXPECT_EQ(*decoded, s) << "next_producer_id 0: an older build issued none";
    }
    // From disk; the next save writes version 2, which loads the same.
    fixture f;
    ASSERT_TRUE(f.save(sample(1, 1)).ok());
    f.write_file(metadata_path, encoded_version_1(sample(5, 3)));
    auto loaded = f.load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    EXPECT_EQ(**loaded, sample(5, 3));
    auto next = **loaded;
    next.version = 6;
    next.next_producer_id = 1000;
    ASSERT_TRUE(f.save(next).ok());
    EXPECT_EQ(**f.load(), next);
    EXPECT_EQ((*f.disk.contents(metadata_path))[5], std::byte{3});
    // Version 1 is checked as strictly as version 2.
    auto truncated = encoded_version_1(sample(1, 2));
    truncated.pop_back();
    reseal(truncated);
    EXPECT_FALSE(decode_metadata(truncated).ok());
}

TEST(MetadataStore, SaveLoadAndReplace) {
    fixture f;
    auto nothing = f.load();
    ASSERT_TRUE(nothing.ok());
    EXPECT_FALSE(nothing->has_value()) << "a new data directory has no metadata";
    ASSERT_TRUE(f.save(sample(1, 3)).ok());
    auto first = f.load();
    ASSERT_TRUE(first.ok()) << first.error().message();
    EXPECT_EQ(**first, sample(1, 3));
    ASSERT_TRUE(f.save(sample(2, 1)).ok());
    EXPECT_EQ(**f.load(), sample(2, 1));
    ASSERT_TRUE(f.save(sample(3, 0)).ok());
    EXPECT_EQ(**f.load(), sample(3, 0)) << "an empty topic list is a real snapshot";
    EXPECT_EQ(f.disk.contents("data/cluster/metadata.tmp"), nullptr);
}

TEST(MetadataStore, LeftoverTemporaryFileIsRemovedAndIgnored) {
    fixture f;
    ASSERT_TRUE(f.save(sample(1, 2)).ok());
    const std::vector<std::byte> garbage(100, std::byte{0x5a});
    f.write_file("data/cluster/metadata.tmp", garbage);
    auto loaded = f.load();
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(**loaded, sample(1, 2));
    EXPECT_EQ(f.disk.contents("data/cluster/metadata.tmp"), nullptr);
}

TEST(MetadataStore, FailedWriteKeepsTheOldSnapshot) {
    fixture f;
    ASSERT_TRUE(f.save(sample(1, 2)).ok());
    f.disk.set_full(true);
    auto refused = f.save(sample(2, 3));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, store_errc::io_failure);
    EXPECT_NE(refused.error().message().find("metadata.tmp"), std::string::npos);
    f.disk.set_full(false);
    EXPECT_EQ(**f.load(), sample(1, 2));
}

int crash_seeds() {
    const char* text = std::getenv("TIDELOG_SIM_SEEDS");
    return text == nullptr ? 20 : std::max(1, std::atoi(text));
}

// A power cut after each step of a save (first save and replacement), with
// the seed choosing the interleaving and what the cut keeps of unsynced writes.
TEST(MetadataStoreCrash, PowerCutAtEveryStepLeavesOldOrNew) {
    const int seeds = crash_seeds();
    // What the cuts left: nothing, the old snapshot, the new one before and
    // after the save returned. Each must be seen, or the test proves nothing.
    std::array<int, 4> outcomes{};
    for (int seed = 1; seed <= seeds; ++seed) {
        for (bool first_save : {true, false}) {
            const auto old_snapshot = sample(1, 2);
            const auto new_snapshot = sample(2, 3);
            bool finished = false;
            for (uint64_t steps = 0; !finished; ++steps) {
                SCOPED_TRACE(testing::Message() << "seed " << seed << " first_save " << first_save
                                                << " steps " << steps);
                fixture f(static_cast<uint64_t>(seed) * 1000 + steps);
                if (!first_save) ASSERT_TRUE(f.save(old_snapshot).ok());
                f.executor.spawn([](sim_disk& d, metadata_snapshot s, bool& done) -> task<void> {
                    auto saved = co_await save_metadata(d, data, std::move(s));
                    TL_ASSERT(saved.ok());
                    done = true;
                }(f.disk, new_snapshot, finished));
                f.executor.run(steps);
                const bool acknowledged = finished;
                f.executor.abandon_all();
                f.disk.crash();
                auto loaded = f.load();
                ASSERT_TRUE(loaded.ok()) << loaded.error().message();
                const bool is_new = loaded->has_value() && **loaded == new_snapshot;
                ++outcomes[!loaded->has_value() ? 0 : !is_new ? 1 : acknowledged ? 3 : 2];
                if (acknowledged) {
                    ASSERT_TRUE(loaded->has_value());
                    EXPECT_EQ(**loaded, new_snapshot) << "an acknowledged save was lost";
                } else if (!loaded->has_value()) {
                    EXPECT_TRUE(first_save) << "the old snapshot vanished";
                } else {
                    EXPECT_TRUE(**loaded == new_snapshot ||
                                (!first_save && **loaded == old_snapshot));
                }
                ASSERT_LT(steps, 1000u) << "save never finished";
            }
        }
    }
    for (int count : outcomes) EXPECT_GT(count, 0);
    std::printf("cuts leaving nothing %d, old %d, new before ack %d, new after ack %d\n",
                outcomes[0], outcomes[1], outcomes[2], outcomes[3]);
}

TEST(MetadataStoreCorruption, EveryBitFlipIsRefused) {
    for (const auto& bytes : {encoded(sample(9, 3)), encoded(placed(sample(9, 3)))}) {
        for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
            auto flipped = bytes;
            flipped[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
            auto decoded = decode_metadata(flipped);
            ASSERT_FALSE(decoded.ok()) << "bit " << bit;
            const auto code = decoded.error().code;
            EXPECT_TRUE(code == store_errc::corrupt || code == store_errc::unsupported_version);
            EXPECT_EQ(decoded.error().message().find('\n'), std::string::npos);
        }
    }
}

TEST(MetadataStoreCorruption, FlippedBitsOnDiskAreRefusedByLoad) {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
        fixture f(seed);
        ASSERT_TRUE(f.save(sample(4, 3)).ok());
        f.disk.flip_bits(1 + seed % 3, "cluster/metadata");
        auto loaded = f.load();
        ASSERT_FALSE(loaded.ok()) << "seed " << seed;
        EXPECT_NE(loaded.error().message().find(metadata_path), std::string::npos)
            << loaded.error().message();
    }
}

TEST(MetadataStoreCorruption, EveryTruncationIsRefused) {
    for (const auto& placed_bytes : {encoded(placed(sample(9, 3))), encoded(sample(9, 3), 2)}) {
        for (size_t length = 0; length < placed_bytes.size(); ++length) {
            auto decoded = decode_metadata(std::span(placed_bytes).first(length));
            ASSERT_FALSE(decoded.ok()) << "length " << length;
        }
    }
    const auto bytes = encoded(sample(9, 3));
    for (size_t length = 0; length < bytes.size(); ++length) {
        auto decoded = decode_metadata(std::span(bytes).first(length));
        ASSERT_FALSE(decoded.ok()) << "length " << length;
        EXPECT_EQ(decoded.error().code, store_errc::corrupt);
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode_metadata(longer).ok());

    fixture f;
    ASSERT_TRUE(f.save(sample(1, 1)).ok());
    f.write_file(metadata_path, std::span(bytes).first(bytes.size() / 2));
    auto loaded = f.load();
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code, store_errc::corrupt);
    EXPECT_NE(loaded.error().message().find("content bytes"), std::string::npos)
        << loaded.error().message();
    f.write_file(metadata_path, {});
    loaded = f.load();
    ASSERT_FALSE(loaded.ok()) << "an empty file is not an empty topic list";
    EXPECT_NE(loaded.error().message().find("truncated"), std::string::npos);
}

TEST(MetadataStoreCorruption, UnknownFormatVersionSaysSo) {
    auto bytes = encoded(sample(1, 1));
    bytes[5] = std::byte{0};  // format version 0
    reseal(bytes);
    auto decoded = decode_metadata(bytes, "m");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, store_errc::unsupported_version);
    EXPECT_EQ(decoded.error().message(),
              "unsupported_version: m: format version 0; this build reads versions 1 to 3");
    bytes[5] = std::byte{4};  // format version 4: a newer build
    reseal(bytes);
    decoded = decode_metadata(bytes, "m");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().message(),
              "unsupported_version: m: format version 4; this build reads versions 1 to 3");
    bytes[0] = std::byte{'X'};
    EXPECT_EQ(decode_metadata(bytes, "m").error().message(),
              "corrupt: m: not a Tidelog metadata file (bad magic)");
}

TEST(MetadataStore, EncodeRefusesSnapshotsTheFormatCannotHold) {
    auto check = [](auto mutate) {
        auto s = sample(1, 2);
        mutate(s);
        auto bytes = encode_metadata(s);
        EXPECT_FALSE(bytes.ok());
        if (!bytes.ok()) EXPECT_EQ(bytes.error().code, store_errc::invalid_snapshot);
    };
    check([](metadata_snapshot& s) { s.cluster_id = "short"; });
    check([](metadata_snapshot& s) { s.next_producer_id = -1; });
    check([](metadata_snapshot& s) { s.topics[0].name = "bad/name"; });
    check([](metadata_snapshot& s) { s.topics[1].name = s.topics[0].name; });
    check([](metadata_snapshot& s) { s.topics[1].id = s.topics[0].id; });
    check([](metadata_snapshot& s) { s.topics[0].id = topic_id{}; });
    check([](metadata_snapshot& s) { s.topics[0].partition_count = 0; });
    check([](metadata_snapshot& s) { s.topics[0].replication_factor = 0; });
    check([](metadata_snapshot& s) { s.topics[0].assignments = {{0}, {0}}; });  // 1 partition
    check([](metadata_snapshot& s) { s.topics[1].assignments = {{0}, {-1}}; });
    check([](metadata_snapshot& s) {
        s.topics[1].replication_factor = 2;
        s.topics[1].assignments = {{0, 0}, {0, 1}};
    });
    check([](metadata_snapshot& s) {
        s = placed(s);
        s.brokers[1].node_id = 1;
    });
    check([](metadata_snapshot& s) {
        s = placed(s);
        s.brokers[0].host = "";
    });
    check([](metadata_snapshot& s) {
        s = placed(s);
        s.brokers[0].port = 0;
    });
    check([](metadata_snapshot& s) {
        s = placed(s);
        s.brokers[0].rack = "";
    });
    check([](metadata_snapshot& s) { s.topics[0].configs[""] = "x"; });
    check([](metadata_snapshot& s) {
        s.topics[0].configs["x"] = std::string(max_config_value_bytes + 1, 'v');
    });
    fixture f;
    auto s = sample(1, 1);
    s.topics[0].name = "..";
    auto saved = f.save(s);
    ASSERT_FALSE(saved.ok());
    EXPECT_EQ(saved.error().code, store_errc::invalid_snapshot);
    EXPECT_FALSE(f.load()->has_value()) << "nothing written";
}

TEST(TopicNames, KafkaRules) {
    EXPECT_TRUE(validate_topic_name("a").ok());
    EXPECT_TRUE(validate_topic_name("Orders_v2.eu-west-1").ok());
    EXPECT_TRUE(validate_topic_name(std::string(249, 'a')).ok());
    EXPECT_TRUE(validate_topic_name("...").ok());
    EXPECT_EQ(validate_topic_name("").error(), "Topic name is illegal, it can't be empty");
    EXPECT_EQ(validate_topic_name(".").error(), "Topic name cannot be \".\" or \"..\"");
    EXPECT_FALSE(validate_topic_name("..").ok());
    EXPECT_NE(validate_topic_name(std::string(250, 'a')).error().find("longer than 249"),
              std::string::npos);
    for (std::string bad : {"a b", "a/b", "a:b", "é", "a\nb", "a*"}) {
        auto r = validate_topic_name(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().find("character other than ASCII alphanumerics"), std::string::npos);
        EXPECT_EQ(r.error().find('\n'), std::string::npos);
    }
    EXPECT_TRUE(topic_names_collide("a.b", "a_b"));
    EXPECT_TRUE(topic_names_collide("a.b", "a.b"));
    EXPECT_FALSE(topic_names_collide("a.b", "a-b"));
    EXPECT_FALSE(topic_names_collide("a.b", "a.bc"));
}

TEST(Uuid, KafkaTextAndRandomVersion4) {
    EXPECT_EQ(uuid{}.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");  // Uuid.ZERO_UUID
    uuid one;
    one.bytes[15] = std::byte{1};
    EXPECT_EQ(one.to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");  // Uuid.METADATA_TOPIC_ID
    EXPECT_EQ(uuid::from_string("AAAAAAAAAAAAAAAAAAAAAQ"), one);
    EXPECT_EQ(uuid::from_string("AAAAAAAAAAAAAAAAAAAAAR"), std::nullopt) << "stray low bits";
    EXPECT_EQ(uuid::from_string("AAAAAAAAAAAAAAAAAAAAA"), std::nullopt);
    EXPECT_EQ(uuid::from_string("AAAAAAAAAAAAAAAAAAAAA+"), std::nullopt) << "not base64url";
    std::mt19937_64 random(7);
    for (int i = 0; i < 1000; ++i) {
        const auto id = uuid::random(random);
        EXPECT_FALSE(id.is_zero());
        EXPECT_EQ(std::to_integer<int>(id.bytes[6]) >> 4, 4);
        EXPECT_EQ(std::to_integer<int>(id.bytes[8]) >> 6, 2);
        const auto text = id.to_string();
        ASSERT_EQ(text.size(), 22u);
        EXPECT_NE(text.front(), '-');
        EXPECT_EQ(uuid::from_string(text), id);
    }
    const auto cluster = make_cluster_id(random);
    EXPECT_EQ(cluster.size(), 22u);
    EXPECT_TRUE(uuid::from_string(cluster).has_value());
}

}  // namespace
}  // namespace tl::cluster
