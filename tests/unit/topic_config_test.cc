// Proves src/cluster/topic_config: every Kafka 3.8 topic config is known with
// a default its own validator accepts; each validator takes the good values
// and refuses the bad ones at its bounds, with a one-line message naming the
// key; values are stored canonical; set/remove/append/subtract behave as
// Kafka's IncrementalAlterConfigs; resolve() fills every storage field from
// the right layer; describe() reports sources and synonyms in Kafka's order.
// Pure functions: plain table-driven GoogleTest cases.
#include <gtest/gtest.h>

#include <set>

#include "cluster/topic_config.h"

namespace tl::cluster {
namespace {

struct value_case {
    std::string name;
    std::vector<std::string> good;
    std::vector<std::string> bad;
};

// Good and bad values for every config, at the edges of each rule.
const std::vector<value_case>& value_cases() {
    static const std::vector<value_case> cases{
        {"cleanup.policy",
         {"delete", "compact", "compact,delete", " delete , compact ", ""},
         {"Delete", "compact,", "remove", "delete;compact"}},
        {"compression.gzip.level", {"-1", "1", "9"}, {"0", "10", "-2", "x"}},
        {"compression.lz4.level", {"1", "17"}, {"0", "18"}},
        {"compression.type",
         {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", " gzip "},
         {"none", "GZIP", "", "brotli"}},
        {"compression.zstd.level", {"-131072", "22", "0"}, {"-131073", "23"}},
        {"delete.retention.ms", {"0", "9223372036854775807"}, {"-1", "9223372036854775808"}},
        {"file.delete.delay.ms", {"0", "60000"}, {"-1"}},
        {"flush.messages", {"1", "9223372036854775807"}, {"0", "-1"}},
        {"flush.ms", {"0"}, {"-1"}},
        {"follower.replication.throttled.replicas",
         {"", "*", "0:1", "0:1,1:2", " 0:1 , 1:2 ", "0:1,"},
         {"0", "a:1", "0:1,*", "0:-1"}},
        {"index.interval.bytes", {"0", "4096", "2147483647"}, {"-1", "2147483648"}},
        {"leader.replication.throttled.replicas", {"*", "3:4"}, {"x"}},
        {"local.retention.bytes", {"-2", "0"}, {"-3"}},
        {"local.retention.ms", {"-2", "100"}, {"-3"}},
        {"max.compaction.lag.ms", {"1"}, {"0"}},
        {"max.message.bytes", {"0", "1048588", "2147483647"}, {"-1", "2147483648", "1.5"}},
        {"message.downconversion.enable", {"true", "FALSE", " True "}, {"yes", "1", ""}},
        {"message.format.version", {"3.0-IV1", "2.8", "0.10.2", "3.8"}, {"", "x", "3", "9.0"}},
        {"message.timestamp.after.max.ms", {"0"}, {"-1"}},
        {"message.timestamp.before.max.ms", {"0"}, {"-1"}},
        {"message.timestamp.difference.max.ms", {"0"}, {"-1"}},
        {"message.timestamp.type", {"CreateTime", "LogAppendTime"}, {"createtime", "NoTime", ""}},
        {"min.cleanable.dirty.ratio", {"0", "1", "0.5", "1e-1"}, {"-0.1", "1.01", "nan", "x"}},
        {"min.compaction.lag.ms", {"0"}, {"-1"}},
        {"min.insync.replicas", {"1", "3"}, {"0", "-1"}},
        {"preallocate", {"true", "false"}, {"maybe"}},
        {"remote.storage.enable", {"false"}, {"no"}},
        {"retention.bytes", {"-1", "0", "-9223372036854775808", "1000"}, {"", "1k"}},
        {"retention.ms", {"-1", "0", "+5"}, {"-2", "1 000", "--1", "+-1"}},
        {"segment.bytes", {"65536", "1073741824", "2147483647"}, {"65535", "14", "2147483648"}},
        {"segment.index.bytes", {"12", "10485760"}, {"11", "4"}},
        {"segment.jitter.ms", {"0"}, {"-1"}},
        {"segment.ms", {"1"}, {"0"}},
        {"unclean.leader.election.enable", {"false", "true"}, {"t"}},
    };
    return cases;
}

TEST(TopicConfigTable, KnowsEveryKafkaTopicConfigSortedWithValidDefaults) {
    const auto definitions = topic_config_definitions();
    EXPECT_EQ(definitions.size(), 34u);
    std::set<std::string> tested;
    for (const auto& c : value_cases()) tested.insert(c.name);
    for (size_t i = 0; i < definitions.size(); ++i) {
        const auto& d = definitions[i];
        SCOPED_TRACE(std::string(d.name));
        if (i > 0) EXPECT_LT(definitions[i - 1].name, d.name);
        EXPECT_EQ(find_topic_config(d.name), &d);
        EXPECT_TRUE(tested.contains(std::string(d.name))) << "no validator test";
        auto canonical = validate_topic_config(d.name, d.default_value);
        ASSERT_TRUE(canonical.ok()) << canonical.error().message;
        EXPECT_EQ(*canonical, d.default_value) << "default not canonical";
        EXPECT_FALSE(d.documentation.empty());
    }
    EXPECT_EQ(find_topic_config("log.retention.ms"), nullptr);
}

TEST(TopicConfigValidation, GoodValuesPassBadValuesFailNamingTheKey) {
    for (const auto& c : value_cases()) {
        for (const auto& good : c.good) {
            auto r = validate_topic_config(c.name, good);
            EXPECT_TRUE(r.ok()) << c.name << "=" << good << ": " << r.error().message;
        }
        for (const auto& bad : c.bad) {
            auto r = validate_topic_config(c.name, bad);
            ASSERT_FALSE(r.ok()) << c.name << "=" << bad;
            EXPECT_EQ(r.error().code, config_errc::invalid_value);
            EXPECT_EQ(r.error().name, c.name);
            EXPECT_NE(r.error().message.find(c.name), std::string::npos) << r.error().message;
            EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
        }
    }
}

TEST(TopicConfigValidation, MessagesStateTheRule) {
    auto low = validate_topic_config("retention.ms", "-5");
    EXPECT_EQ(low.error().message,
              "Invalid value -5 for configuration retention.ms: Value must be at least -1");
    auto segment = validate_topic_config("segment.bytes", "1024");
    EXPECT_EQ(segment.error().message,
              "Invalid value 1024 for configuration segment.bytes: Value must be at least 65536 "
              "(Tidelog's smallest segment; Kafka allows 14)");
    auto type = validate_topic_config("compression.type", "brotli");
    EXPECT_EQ(type.error().message,
              "Invalid value brotli for configuration compression.type: String must be one of: "
              "uncompressed, zstd, lz4, snappy, gzip, producer");
    auto policy = validate_topic_config("cleanup.policy", "delete,remove");
    EXPECT_NE(policy.error().message.find("Invalid value remove"), std::string::npos);
    auto number = validate_topic_config("segment.ms", "soon");
    EXPECT_NE(number.error().message.find("Not a number of type LONG"), std::string::npos);
    // A value with a newline still gives a one-line message.
    auto newline = validate_topic_config("segment.ms", "1\n2");
    EXPECT_NE(newline.error().message.find("1\\x0a2"), std::string::npos);
    auto unknown = validate_topic_config("retention.hours", "1");
    EXPECT_EQ(unknown.error().code, config_errc::unknown_name);
    EXPECT_EQ(unknown.error().message, "Unknown topic config name: retention.hours");
    EXPECT_EQ(kafka_error_code(config_errc::unknown_name), 40);
    EXPECT_EQ(kafka_error_code(config_errc::invalid_value), 40);
}

TEST(TopicConfigValidation, ValuesAreStoredCanonical) {
    EXPECT_EQ(*validate_topic_config("retention.ms", " +007 "), "7");
    EXPECT_EQ(*validate_topic_config("cleanup.policy", " compact ,  delete "), "compact,delete");
    EXPECT_EQ(*validate_topic_config("preallocate", "TRUE"), "true");
    EXPECT_EQ(*validate_topic_config("min.cleanable.dirty.ratio", "1"), "1.0");
    EXPECT_EQ(*validate_topic_config("min.cleanable.dirty.ratio", "0.25"), "0.25");
    EXPECT_EQ(*validate_topic_config("message.timestamp.type", " LogAppendTime"), "LogAppendTime");
}

TEST(TopicConfigParse, KafkaValueSyntax) {
    EXPECT_EQ(parse_long("-9223372036854775808"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(parse_long("9223372036854775808"), std::nullopt);
    EXPECT_EQ(parse_long("+1"), 1);
    EXPECT_EQ(parse_long(""), std::nullopt);
    EXPECT_EQ(parse_long("+"), std::nullopt);
    EXPECT_EQ(parse_long("0x10"), std::nullopt);
    EXPECT_EQ(parse_int("2147483648"), std::nullopt);
    EXPECT_EQ(parse_int("-2147483648"), std::numeric_limits<int32_t>::min());
    EXPECT_EQ(parse_boolean("tRuE"), true);
    EXPECT_EQ(parse_boolean("0"), std::nullopt);
    EXPECT_EQ(parse_double("inf"), std::nullopt);
    EXPECT_EQ(parse_double("2.5e1"), 25.0);
    EXPECT_EQ(parse_list(""), std::vector<std::string>{});
    EXPECT_EQ(parse_list("  "), std::vector<std::string>{});
    EXPECT_EQ(parse_list("a, b ,c"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(parse_list("a,"), (std::vector<std::string>{"a", ""}));
    EXPECT_EQ(join_list(std::vector<std::string>{"a", "b"}), "a,b");
}

TEST(TopicConfig, SetRemoveAndFromOverrides) {
    topic_config topic;
    ASSERT_TRUE(topic.set("retention.ms", "1000").ok());
    ASSERT_TRUE(topic.set("retention.ms", "2000").ok());  // replaces
    EXPECT_EQ(topic.overrides().at("retention.ms"), "2000");
    auto bad = topic.set("retention.ms", "-2");
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(topic.overrides().at("retention.ms"), "2000") << "a failed set changes nothing";
    EXPECT_EQ(topic.set("no.such.config", "1").error().code, config_errc::unknown_name);
    topic.remove("retention.ms");
    EXPECT_TRUE(topic.overrides().empty());
    topic.remove("retention.ms");    // not set: nothing happens
    topic.remove("no.such.config");  // unknown: nothing happens (as Kafka's DELETE)

    auto made = topic_config::from_overrides(std::map<std::string, std::string>{
        {"segment.bytes", "1048576"}, {"cleanup.policy", "compact"}});
    ASSERT_TRUE(made.ok());
    EXPECT_EQ(made->overrides().size(), 2u);
    auto refused =
        topic_config::from_overrides(std::map<std::string, std::string>{{"segment.bytes", "100"}});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().name, "segment.bytes");
}

TEST(TopicConfig, AppendAndSubtractListsAsKafka) {
    topic_config topic;
    // No override: the base is the default in effect ("delete").
    ASSERT_TRUE(topic.append("cleanup.policy", "compact").ok());
    EXPECT_EQ(topic.overrides().at("cleanup.policy"), "delete,compact");
    ASSERT_TRUE(topic.append("cleanup.policy", "compact,delete").ok());  // already there
    EXPECT_EQ(topic.overrides().at("cleanup.policy"), "delete,compact");
    ASSERT_TRUE(topic.subtract("cleanup.policy", "delete").ok());
    EXPECT_EQ(topic.overrides().at("cleanup.policy"), "compact");
    ASSERT_TRUE(topic.subtract("cleanup.policy", "compact").ok());
    EXPECT_EQ(topic.overrides().at("cleanup.policy"), "");
    auto invalid = topic.append("cleanup.policy", "shred");
    EXPECT_EQ(invalid.error().code, config_errc::invalid_value);
    EXPECT_EQ(topic.overrides().at("cleanup.policy"), "");

    // The broker's default is the base when the topic has no override.
    topic_defaults defaults;
    ASSERT_TRUE(defaults.set("cleanup.policy", "compact").ok());
    topic_config other;
    ASSERT_TRUE(other.append("cleanup.policy", "delete", defaults).ok());
    EXPECT_EQ(other.overrides().at("cleanup.policy"), "compact,delete");

    ASSERT_TRUE(other.append("leader.replication.throttled.replicas", "0:1,1:2").ok());
    ASSERT_TRUE(other.subtract("leader.replication.throttled.replicas", "0:1").ok());
    EXPECT_EQ(other.overrides().at("leader.replication.throttled.replicas"), "1:2");

    auto not_list = other.append("retention.ms", "5");
    EXPECT_EQ(not_list.error().code, config_errc::invalid_value);
    EXPECT_EQ(not_list.error().message,
              "Can't APPEND to key retention.ms because its type is not LIST.");
    auto unknown = other.subtract("nope", "5");
    EXPECT_EQ(unknown.error().code, config_errc::unknown_name);
}

TEST(TopicConfigResolve, DefaultsMatchStorageDefaults) {
    const storage::log_config resolved = topic_config{}.resolve(topic_defaults{});
    const storage::log_config expected{};
    EXPECT_EQ(resolved.segment_bytes, expected.segment_bytes);
    EXPECT_EQ(resolved.segment_ms, expected.segment_ms);
    EXPECT_EQ(resolved.index_interval_bytes, expected.index_interval_bytes);
    EXPECT_EQ(resolved.max_index_bytes, expected.max_index_bytes);
    EXPECT_EQ(resolved.retention_ms, expected.retention_ms);
    EXPECT_EQ(resolved.retention_bytes, expected.retention_bytes);
    EXPECT_EQ(resolved.max_batch_bytes, expected.max_batch_bytes);
    EXPECT_EQ(resolved.timestamps, expected.timestamps);
}

TEST(TopicConfigResolve, OverridesOverBrokerDefaultsOverBase) {
    storage::log_config base;
    base.flush = storage::flush_mode::none;
    base.cache_bytes = 12345;
    auto defaults = topic_defaults::from_settings(std::map<std::string, std::string>{
        {"retention.ms", "1000"}, {"segment.bytes", "131072"}, {"max.message.bytes", "500"}});
    ASSERT_TRUE(defaults.ok());
    auto topic = topic_config::from_overrides(
        std::map<std::string, std::string>{{"retention.ms", "2000"},
                                           {"retention.bytes", "3000"},
                                           {"segment.ms", "4000"},
                                           {"index.interval.bytes", "5000"},
                                           {"segment.index.bytes", "6000"},
                                           {"message.timestamp.type", "LogAppendTime"},
                                           {"compression.type", "zstd"}});
    ASSERT_TRUE(topic.ok());
    const auto c = topic->resolve(*defaults, base);
    EXPECT_EQ(c.retention_ms, 2000);
    EXPECT_EQ(c.retention_bytes, 3000);
    EXPECT_EQ(c.segment_ms, std::chrono::milliseconds(4000));
    EXPECT_EQ(c.index_interval_bytes, 5000u);
    EXPECT_EQ(c.max_index_bytes, 6000u);
    EXPECT_EQ(c.timestamps, storage::timestamp_type::log_append_time);
    EXPECT_EQ(c.segment_bytes, 131072u);            // broker default
    EXPECT_EQ(c.max_batch_bytes, 500u);             // broker default
    EXPECT_EQ(c.flush, storage::flush_mode::none);  // from base
    EXPECT_EQ(c.cache_bytes, 12345u);
}

TEST(TopicConfigResolve, WithoutDeletePolicyNothingIsDeletedByRetention) {
    topic_defaults defaults;
    ASSERT_TRUE(defaults.set("cleanup.policy", "compact").ok());
    topic_config topic;
    ASSERT_TRUE(topic.set("retention.ms", "1000").ok());
    EXPECT_TRUE(is_compacted(topic, defaults));
    EXPECT_FALSE(deletes_by_retention(topic, defaults));
    auto c = topic.resolve(defaults);
    EXPECT_EQ(c.retention_ms, -1);
    EXPECT_EQ(c.retention_bytes, -1);
    // The topic brings delete back: its retention.ms applies again.
    ASSERT_TRUE(topic.set("cleanup.policy", "compact,delete").ok());
    c = topic.resolve(defaults);
    EXPECT_EQ(c.retention_ms, 1000);
    EXPECT_TRUE(is_compacted(topic, defaults));
    ASSERT_TRUE(topic.set("cleanup.policy", "").ok());
    EXPECT_EQ(topic.resolve(defaults).retention_ms, -1);
    EXPECT_FALSE(is_compacted(topic, defaults));
}

TEST(TopicConfigDescribe, EveryConfigSortedWithSources) {
    topic_defaults defaults;
    ASSERT_TRUE(defaults.set("retention.ms", "1000").ok());
    ASSERT_TRUE(defaults.set("segment.ms", "2000").ok());
    topic_config topic;
    ASSERT_TRUE(topic.set("retention.ms", "3000").ok());
    const auto entries = topic.describe(defaults);
    ASSERT_EQ(entries.size(), topic_config_definitions().size());
    for (size_t i = 1; i < entries.size(); ++i) EXPECT_LT(entries[i - 1].name, entries[i].name);
    for (const auto& e : entries) {
        EXPECT_TRUE(e.synonyms.empty());
        EXPECT_TRUE(e.documentation.empty());
        EXPECT_FALSE(e.read_only);
        EXPECT_FALSE(e.sensitive);
        if (e.name == "retention.ms") {
            EXPECT_EQ(e.value, "3000");
            EXPECT_EQ(e.source, config_source::topic_override);
            EXPECT_EQ(e.type, config_type::long_);
        } else if (e.name == "segment.ms") {
            EXPECT_EQ(e.value, "2000");
            EXPECT_EQ(e.source, config_source::broker_default);
        } else {
            EXPECT_EQ(e.source, config_source::built_in_default) << e.name;
            EXPECT_EQ(e.value, find_topic_config(e.name)->default_value);
        }
    }
    EXPECT_EQ(kafka_config_source(config_source::topic_override), 1);
    EXPECT_EQ(kafka_config_source(config_source::broker_default), 4);
    EXPECT_EQ(kafka_config_source(config_source::built_in_default), 5);
    EXPECT_EQ(kafka_config_type(config_type::boolean), 1);
    EXPECT_EQ(kafka_config_type(config_type::string), 2);
    EXPECT_EQ(kafka_config_type(config_type::int_), 3);
    EXPECT_EQ(kafka_config_type(config_type::short_), 4);
    EXPECT_EQ(kafka_config_type(config_type::long_), 5);
    EXPECT_EQ(kafka_config_type(config_type::double_), 6);
    EXPECT_EQ(kafka_config_type(config_type::list), 7);
    EXPECT_EQ(kafka_config_type(config_type::class_), 8);
    EXPECT_EQ(kafka_config_type(config_type::password), 9);
}

TEST(TopicConfigDescribe, SynonymsInPrecedenceOrder) {
    topic_defaults defaults;
    ASSERT_TRUE(defaults.set("retention.ms", "1000").ok());
    topic_config topic;
    ASSERT_TRUE(topic.set("retention.ms", "3000").ok());
    const describe_options all{.include_synonyms = true, .include_documentation = true};

    auto retention = topic.describe("retention.ms", defaults, all);
    ASSERT_TRUE(retention.has_value());
    EXPECT_FALSE(retention->documentation.empty());
    EXPECT_EQ(retention->synonyms,
              (std::vector<config_synonym>{
                  {"retention.ms", "3000", config_source::topic_override},
                  {"log.retention.ms", "1000", config_source::broker_default},
                  {"log.retention.ms", "604800000", config_source::built_in_default}}));

    auto bytes = topic.describe("max.message.bytes", defaults, all);
    EXPECT_EQ(bytes->synonyms, (std::vector<config_synonym>{{"message.max.bytes", "1048588",
                                                             config_source::built_in_default}}));
    auto policy = topic.describe("cleanup.policy", defaults, all);
    EXPECT_EQ(policy->synonyms.front().name, "log.cleanup.policy");
    auto timestamps = topic.describe("message.timestamp.type", defaults, all);
    EXPECT_EQ(timestamps->synonyms.front().name, "log.message.timestamp.type");
    auto segment = topic.describe("segment.bytes", defaults, all);
    EXPECT_EQ(segment->synonyms.front().name, "log.segment.bytes");
    // No broker synonym: the default is described under the topic name.
    auto throttled = topic.describe("leader.replication.throttled.replicas", defaults, all);
    EXPECT_EQ(throttled->synonyms,
              (std::vector<config_synonym>{
                  {"leader.replication.throttled.replicas", "", config_source::built_in_default}}));
    EXPECT_FALSE(topic.describe("no.such.config", defaults).has_value());
}

TEST(TopicDefaults, ValidatedLikeOverrides) {
    auto bad =
        topic_defaults::from_settings(std::map<std::string, std::string>{{"segment.bytes", "1"}});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().name, "segment.bytes");
    auto unknown = topic_defaults::from_settings(
        std::map<std::string, std::string>{{"log.retention.ms", "1"}});
    EXPECT_EQ(unknown.error().code, config_errc::unknown_name);
    topic_defaults defaults;
    EXPECT_FALSE(defaults.is_set("retention.ms"));
    EXPECT_EQ(defaults.value("retention.ms"), "604800000");
    ASSERT_TRUE(defaults.set("retention.ms", "+1").ok());
    EXPECT_TRUE(defaults.is_set("retention.ms"));
    EXPECT_EQ(defaults.value("retention.ms"), "1");
}

}  // namespace
}  // namespace tl::cluster
