// Proves that the admin APIs (CreateTopics, DeleteTopics, CreatePartitions,
// DeleteRecords, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
// DescribeCluster, OffsetForLeaderEpoch) answer as Kafka does, at their
// lowest and highest versions, with Kafka's error codes for bad requests, and
// that what they change survives a broker restart. InitProducerId at every
// version 0-5: fresh ids never repeat (across connections, so across
// shards), v3+ bumps an epoch, bad id/epoch pairs and transactional ids are
// INVALID_REQUEST, and after a restart (SIGTERM, then SIGKILL) every new id
// is larger than every id issued before.
// How: start the real tidelogd (meson names it in TIDELOGD) on a fresh data
// directory and a free loopback port (its listener is read back from the
// ready line), and
// speak Kafka to it over TCP with our generated codecs
// (support/kafka_client.h). One broker serves the suite; each test uses its
// own topic names. The restart test runs its own broker. Every wait is a
// deadline on output or a socket timeout; nothing sleeps, no timing is asserted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kafka/messages/alter_configs.h"
#include "kafka/messages/api_versions.h"
#include "kafka/messages/create_partitions.h"
#include "kafka/messages/create_topics.h"
#include "kafka/messages/delete_records.h"
#include "kafka/messages/delete_topics.h"
#include "kafka/messages/describe_cluster.h"
#include "kafka/messages/describe_configs.h"
#include "kafka/messages/incremental_alter_configs.h"
#include "kafka/messages/init_producer_id.h"
#include "kafka/messages/list_offsets.h"
#include "kafka/messages/metadata.h"
#include "kafka/messages/offset_for_leader_epoch.h"
#include "kafka/messages/produce.h"
#include "storage/record_batch.h"
#include "support/child_process.h"
#include "support/kafka_client.h"

namespace tl::kafka {
namespace {

using namespace std::chrono_literals;
using testing_support::child_process;
using testing_support::kafka_client;

// Guards against hangs on a loaded machine; not a timing claim.
constexpr std::chrono::seconds wait_limit{60};
constexpr int32_t node_id = 3;            // not 0: broker ids are really checked
constexpr int32_t broker_partitions = 2;  // --num-partitions

// Kafka codes the tests expect, by name.
constexpr int16_t none = 0;
constexpr int16_t offset_out_of_range = 1;
constexpr int16_t unknown_topic_or_partition = 3;
constexpr int16_t invalid_topic_exception = 17;
constexpr int16_t topic_already_exists = 36;
constexpr int16_t invalid_partitions = 37;
constexpr int16_t invalid_replication_factor = 38;
constexpr int16_t invalid_replica_assignment = 39;
constexpr int16_t invalid_config = 40;
constexpr int16_t invalid_request = 42;
constexpr int16_t policy_violation = 44;
constexpr int16_t fenced_leader_epoch = 74;
constexpr int16_t unknown_leader_epoch = 75;
constexpr int16_t unknown_topic_id = 100;
constexpr int16_t mismatched_endpoint_type = 114;
constexpr int16_t unsupported_endpoint_type = 115;

// ConfigSource values.
constexpr int8_t dynamic_topic_config = 1;
constexpr int8_t static_broker_config = 4;
constexpr int8_t default_config = 5;

// A running tidelogd and where it listens.
struct broker_process {
    std::unique_ptr<child_process> process;
    uint16_t port = 0;
    std::string advertised_host;
    int32_t advertised_port = 0;
};

// A loopback port nobody listens on right now (bound to port 0, then closed):
// tidelogd needs its Kafka port up front, since it advertises it.
std::optional<uint16_t> free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    std::optional<uint16_t> port;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port = ntohs(address.sin_port);
    }
    ::close(fd);
    return port;
}

// Starts tidelogd on `data_dir`; nullopt (with the reason in `why`) if it
// does not print its ready line.
std::optional<broker_process> start_broker(const std::string& data_dir, std::string& why) {
    const char* program = std::getenv("TIDELOGD");
    if (program == nullptr) {
        why = "TIDELOGD must name the tidelogd binary (meson test sets it)";
        return std::nullopt;
    }
    const std::optional<uint16_t> port = free_port();
    if (!port.has_value()) {
        why = "no free loopback port";
        return std::nullopt;
    }
    broker_process broker;
    broker.process = std::make_unique<child_process>(
        program, std::vector<std::string>{
                     "--smp=2", "--cpu-pinning=floating", "--data-dir=" + data_dir,
                     "--kafka-addr=127.0.0.1:" + std::to_string(*port), "--admin-addr=127.0.0.1:0",
                     "--min-free-bytes=0", "--node-id=" + std::to_string(node_id),
                     "--num-partitions=" + std::to_string(broker_partitions),
                     "--auto-create-topics-enable=false"});
    if (!broker.process->wait_for_output("tidelogd ready:", wait_limit)) {
        why = "no ready line; stderr:\n" + broker.process->stderr_text();
        return std::nullopt;
    }
    // "... kafka 127.0.0.1:0 (port N), advertised HOST:PORT"
    const std::string text = broker.process->stdout_text() + broker.process->stderr_text();
    const size_t ready = text.find("tidelogd ready:");
    const size_t port_at = text.find("(port ", ready);
    const size_t advertised_at = text.find("advertised ", ready);
    if (port_at == std::string::npos || advertised_at == std::string::npos) {
        why = "unexpected ready line: " + text.substr(ready);
        return std::nullopt;
    }
    broker.port = static_cast<uint16_t>(std::stoi(text.substr(port_at + 6)));
    const std::string address = text.substr(advertised_at + 11);
    const size_t colon = address.find(':');
    broker.advertised_host = address.substr(0, colon);
    broker.advertised_port = std::stoi(address.substr(colon + 1));
    return broker;
}

std::string fresh_directory(const std::string& tag) {
    std::string pattern = ::testing::TempDir() + "tidelog_" + tag + "_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return {};
    return pattern;
}

// InitProducerId's answer: error, producer id, epoch.
struct producer_identity {
    int16_t error = -999;  // -999: no answer
    int64_t id = 0;
    int16_t epoch = 0;
};

// InitProducerId at `version`; transactional_id null unless given.
producer_identity init_producer_id(kafka_client& client, int16_t version,
                                   std::optional<std::string_view> transactional_id = std::nullopt,
                                   int64_t producer_id = -1, int16_t producer_epoch = -1) {
    init_producer_id_request request;
    request.transactional_id = transactional_id;
    request.transaction_timeout_ms = 60'000;
    request.producer_id = producer_id;
    request.producer_epoch = producer_epoch;
    auto answer = client.call<init_producer_id_response>(request, version);
    if (!answer) {
        ADD_FAILURE() << "InitProducerId v" << version << ": " << client.last_error();
        return {};
    }
    return {answer->body.error_code, answer->body.producer_id, answer->body.producer_epoch};
}

// Fresh ids over `connections` connections (the broker spreads them over its
// shards), `per_connection` on each, every version in turn.
std::vector<int64_t> fresh_producer_ids(uint16_t port, int connections, int per_connection) {
    std::vector<int64_t> ids;
    for (int c = 0; c < connections; ++c) {
        auto client = kafka_client::connect(port);
        if (!client) {
            ADD_FAILURE() << "cannot connect to port " << port;
            return ids;
        }
        for (int i = 0; i < per_connection; ++i) {
            const auto got = init_producer_id(*client, static_cast<int16_t>(i % 6));
            EXPECT_EQ(got.error, 0);
            EXPECT_EQ(got.epoch, 0);
            ids.push_back(got.id);
        }
    }
    return ids;
}

// Config name -> (value, source) as DescribeConfigs v1 reports a topic's.
struct described_config {
    std::optional<std::string> value;
    int8_t source = -1;
    bool read_only = false;
};
using described_configs = std::map<std::string, described_config>;

class admin_api_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        _root = fresh_directory("admin");
        std::string why;
        auto started = start_broker(_root + "/data", why);
        if (!started) {
            _start_failure = why;
            return;
        }
        _broker = std::move(*started);
    }
    static void TearDownTestSuite() {
        if (_broker.process != nullptr) {
            _broker.process->send_signal(SIGTERM);
            (void)_broker.process->wait_for_exit(wait_limit);
            _broker.process.reset();
        }
        std::error_code ignored;
        if (!_root.empty()) std::filesystem::remove_all(_root, ignored);
    }
    void SetUp() override {
        ASSERT_NE(_broker.process, nullptr) << _start_failure;
        auto connected = kafka_client::connect(_broker.port);
        ASSERT_TRUE(connected.has_value()) << "cannot connect to port " << _broker.port;
        _client.emplace(std::move(*connected));
    }

    kafka_client& client() { return *_client; }

    // CreateTopics v4 for one topic; the error code (-999: no answer).
    int16_t create(const std::string& name, int32_t partitions,
                   const std::vector<std::pair<std::string, std::string>>& configs = {}) {
        create_topics_request request;
        auto& topic = request.topics.emplace_back();
        topic.name = name;
        topic.num_partitions = partitions;
        topic.replication_factor = 1;
        for (const auto& [key, value] : configs) topic.configs.push_back({key, value});
        auto answer = client().call<create_topics_response>(request, 4);
        if (!answer || answer->body.topics.size() != 1) {
            ADD_FAILURE() << "CreateTopics: " << client().last_error();
            return -999;
        }
        return answer->body.topics[0].error_code;
    }

    // Partitions of `name` by Metadata v4 (no auto-creation); nullopt if unknown.
    std::optional<int32_t> partition_count(const std::string& name) {
        metadata_request request;
        request.topics.emplace().push_back({.topic_id = {}, .name = name});
        request.allow_auto_topic_creation = false;
        auto answer = client().call<metadata_response>(request, 4);
        if (!answer || answer->body.topics.size() != 1) {
            ADD_FAILURE() << "Metadata: " << client().last_error();
            return std::nullopt;
        }
        const auto& topic = answer->body.topics[0];
        if (topic.error_code != none) return std::nullopt;
        return static_cast<int32_t>(topic.partitions.size());
    }

    // Produces `records` records to one partition (v7, acks -1); the error code.
    int16_t produce(const std::string& name, int32_t partition, int records) {
        storage::record_batch_builder builder;
        for (int i = 0; i < records; ++i) builder.add_record(1'000 + i, "key", "value");
        const std::vector<std::byte> batch = builder.build();
        produce_request request;
        request.acks = -1;
        request.timeout_ms = 30'000;
        auto& topic = request.topic_data.emplace_back();
        topic.name = name;
        topic.partition_data.push_back({.index = partition, .records = bytes_view(batch)});
        auto answer = client().call<produce_response>(request, 7);
        if (!answer || answer->body.responses.size() != 1 ||
            answer->body.responses[0].partition_responses.size() != 1) {
            ADD_FAILURE() << "Produce: " << client().last_error();
            return -999;
        }
        return answer->body.responses[0].partition_responses[0].error_code;
    }

    // ListOffsets v1 for one partition (-1 latest, -2 earliest); -999 on error.
    int64_t list_offset(const std::string& name, int32_t partition, int64_t timestamp) {
        list_offsets_request request;
        request.replica_id = -1;
        auto& topic = request.topics.emplace_back();
        topic.name = name;
        topic.partitions.push_back({.partition_index = partition, .timestamp = timestamp});
        auto answer = client().call<list_offsets_response>(request, 1);
        if (!answer || answer->body.topics.size() != 1 ||
            answer->body.topics[0].partitions.size() != 1 ||
            answer->body.topics[0].partitions[0].error_code != none) {
            ADD_FAILURE() << "ListOffsets: " << client().last_error();
            return -999;
        }
        return answer->body.topics[0].partitions[0].offset;
    }

    // Every config of a topic by DescribeConfigs v1.
    described_configs describe_topic(const std::string& name) {
        describe_configs_request request;
        request.resources.push_back(
            {.resource_type = 2, .resource_name = name, .configuration_keys = std::nullopt});
        auto answer = client().call<describe_configs_response>(request, 1);
        described_configs out;
        if (!answer || answer->body.results.size() != 1 ||
            answer->body.results[0].error_code != none) {
            ADD_FAILURE() << "DescribeConfigs " << name << ": " << client().last_error();
            return out;
        }
        for (const auto& c : answer->body.results[0].configs) {
            out[std::string(c.name)] = {
                c.value.has_value() ? std::optional<std::string>(*c.value) : std::nullopt,
                c.config_source, c.read_only};
        }
        return out;
    }

    static inline std::string _root;
    static inline std::string _start_failure;
    static inline broker_process _broker;
    std::optional<kafka_client> _client;
};

// Sends `request` at `version` and binds the decoded answer's body to `name`.
#define CALL(name, response_type, request, version)                      \
    auto name##_answer = client().call<response_type>(request, version); \
    ASSERT_TRUE(name##_answer.has_value()) << client().last_error();     \
    const response_type& name = name##_answer->body

TEST_F(admin_api_test, api_versions_lists_all_twenty_six_apis) {
    const std::map<int16_t, std::pair<int16_t, int16_t>> expected = {
        {0, {3, 11}}, {1, {4, 16}}, {2, {0, 8}},  {3, {0, 12}}, {8, {0, 9}},
        {9, {0, 9}},  {10, {0, 5}}, {11, {0, 9}}, {12, {0, 4}}, {13, {0, 5}},
        {14, {0, 5}}, {15, {0, 5}}, {16, {0, 5}}, {18, {0, 3}}, {19, {0, 7}},
        {20, {0, 6}}, {21, {0, 2}}, {22, {0, 5}}, {23, {0, 4}}, {32, {0, 4}},
        {33, {0, 2}}, {37, {0, 3}}, {42, {0, 2}}, {44, {0, 1}}, {47, {0, 0}},
        {60, {0, 1}},
    };
    for (int16_t version : {0, 3}) {
        api_versions_request request;
        request.client_software_name = "tidelog-test";
        request.client_software_version = "1";
        CALL(answer, api_versions_response, request, version);
        EXPECT_EQ(answer.error_code, none);
        std::map<int16_t, std::pair<int16_t, int16_t>> listed;
        for (const auto& api : answer.api_keys) {
            listed[api.api_key] = {api.min_version, api.max_version};
        }
        EXPECT_EQ(listed, expected) << "ApiVersions v" << version;
    }
}

TEST_F(admin_api_test, create_topics_v0_and_v7) {
    create_topics_request v0;
    v0.topics.push_back({.name = "ct-v0",
                         .num_partitions = 3,
                         .replication_factor = 1,
                         .assignments = {},
                         .configs = {}});
    {
        CALL(answer, create_topics_response, v0, 0);
        ASSERT_EQ(answer.topics.size(), 1u);
        EXPECT_EQ(answer.topics[0].name, "ct-v0");
        EXPECT_EQ(answer.topics[0].error_code, none);
    }
    EXPECT_EQ(partition_count("ct-v0"), 3);

    // v7: broker defaults (-1, -1) and a config; the answer describes the topic.
    create_topics_request v7;
    v7.topics.push_back({.name = "ct-v7",
                         .num_partitions = -1,
                         .replication_factor = -1,
                         .assignments = {},
                         .configs = {{"retention.ms", "+01234"}}});
    CALL(answer, create_topics_response, v7, 7);
    ASSERT_EQ(answer.topics.size(), 1u);
    const auto& created = answer.topics[0];
    EXPECT_EQ(created.error_code, none);
    EXPECT_FALSE(created.error_message.has_value());
    EXPECT_EQ(created.num_partitions, broker_partitions);
    EXPECT_EQ(created.replication_factor, 1);
    EXPECT_FALSE(created.topic_id == uuid{});
    ASSERT_TRUE(created.configs.has_value());
    std::map<std::string, std::pair<std::string, int8_t>> configs;
    for (const auto& c : *created.configs) {
        EXPECT_FALSE(c.read_only);
        EXPECT_FALSE(c.is_sensitive);
        configs[std::string(c.name)] = {std::string(c.value.value_or("<null>")), c.config_source};
    }
    EXPECT_EQ(configs["retention.ms"], std::make_pair(std::string("1234"), dynamic_topic_config));
    EXPECT_EQ(configs["cleanup.policy"], std::make_pair(std::string("delete"), default_config));
    EXPECT_EQ(partition_count("ct-v7"), broker_partitions);

    // The same topic id through Metadata v10.
    metadata_request by_id;
    by_id.topics.emplace().push_back({.topic_id = created.topic_id, .name = std::nullopt});
    by_id.allow_auto_topic_creation = false;
    CALL(described, metadata_response, by_id, 10);
    ASSERT_EQ(described.topics.size(), 1u);
    EXPECT_EQ(described.topics[0].name, "ct-v7");
}

TEST_F(admin_api_test, create_topics_refuses_what_kafka_refuses) {
    ASSERT_EQ(create("ct-exists", 1), none);
    create_topics_request request;
    request.validate_only = false;
    const auto add = [&](std::string_view name, int32_t partitions, int16_t factor) -> auto& {
        auto& t = request.topics.emplace_back();
        t.name = name;
        t.num_partitions = partitions;
        t.replication_factor = factor;
        return t;
    };
    add("ct-rf3", 1, 3);                                                     // 0
    add("ct-rf0", 1, 0);                                                     // 1
    add("ct-zero", 0, 1);                                                    // 2
    add("ct-dup", 1, 1);                                                     // 3
    add("ct-dup", 1, 1);                                                     // 4
    add("bad/name", 1, 1);                                                   // 5
    add("ct-exists", 1, 1);                                                  // 6
    add("ct-bad-value", 1, 1).configs.push_back({"retention.ms", "soon"});   // 7
    add("ct-bad-name", 1, 1).configs.push_back({"no.such.config", "1"});     // 8
    add("ct-null", 1, 1).configs.push_back({"retention.ms", std::nullopt});  // 9
    auto& manual = add("ct-manual", -1, -1);                                 // 10
    manual.assignments = {{0, {node_id}}, {1, {node_id}}};
    auto& elsewhere = add("ct-elsewhere", -1, -1);  // 11
    elsewhere.assignments = {{0, {node_id + 1}}};
    auto& gap = add("ct-gap", -1, -1);  // 12
    gap.assignments = {{0, {node_id}}, {2, {node_id}}};
    auto& both = add("ct-both", 2, -1);  // 13
    both.assignments = {{0, {node_id}}};
    auto& twice = add("ct-twice", -1, -1);  // 14
    twice.assignments = {{0, {node_id, node_id}}};

    CALL(answer, create_topics_response, request, 7);
    ASSERT_EQ(answer.topics.size(), request.topics.size());
    const std::vector<int16_t> expected = {
        invalid_replication_factor,
        invalid_replication_factor,
        invalid_partitions,
        invalid_request,
        invalid_request,
        invalid_topic_exception,
        topic_already_exists,
        invalid_config,
        invalid_config,
        invalid_config,
        none,
        invalid_replica_assignment,
        invalid_replica_assignment,
        invalid_request,
        invalid_replica_assignment,
    };
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(answer.topics[i].name, request.topics[i].name);
        EXPECT_EQ(answer.topics[i].error_code, expected[i]) << request.topics[i].name;
        if (expected[i] != none) {
            EXPECT_TRUE(answer.topics[i].error_message.has_value() &&
                        !answer.topics[i].error_message->empty())
                << request.topics[i].name;
            EXPECT_EQ(answer.topics[i].num_partitions, -1);
        }
    }
    EXPECT_NE(answer.topics[7].error_message->find("retention.ms"), std::string_view::npos);
    EXPECT_EQ(answer.topics[10].num_partitions, 2);
    EXPECT_EQ(partition_count("ct-manual"), 2);
    EXPECT_EQ(partition_count("ct-rf3"), std::nullopt);
    EXPECT_EQ(partition_count("ct-dup"), std::nullopt);

    // validate_only (v1): checked, answered, not created.
    create_topics_request check;
    check.validate_only = true;
    check.topics.push_back({.name = "ct-validate",
                            .num_partitions = 4,
                            .replication_factor = 1,
                            .assignments = {},
                            .configs = {}});
    check.topics.push_back({.name = "ct-validate-bad",
                            .num_partitions = 1,
                            .replication_factor = 2,
                            .assignments = {},
                            .configs = {}});
    CALL(checked, create_topics_response, check, 1);
    ASSERT_EQ(checked.topics.size(), 2u);
    EXPECT_EQ(checked.topics[0].error_code, none);
    EXPECT_EQ(checked.topics[1].error_code, invalid_replication_factor);
    EXPECT_EQ(partition_count("ct-validate"), std::nullopt);
    EXPECT_EQ(create("ct-validate", 4), none);
    EXPECT_EQ(partition_count("ct-validate"), 4);
}

TEST_F(admin_api_test, delete_topics_by_name_and_by_id) {
    ASSERT_EQ(create("dt-a", 1), none);
    ASSERT_EQ(create("dt-b", 1), none);
    ASSERT_EQ(produce("dt-a", 0, 5), none);

    delete_topics_request v0;
    v0.topic_names = {"dt-a", "dt-unknown"};
    {
        CALL(answer, delete_topics_response, v0, 0);
        ASSERT_EQ(answer.responses.size(), 2u);
        EXPECT_EQ(answer.responses[0].name, "dt-a");
        EXPECT_EQ(answer.responses[0].error_code, none);
        EXPECT_EQ(answer.responses[1].error_code, unknown_topic_or_partition);
    }
    EXPECT_EQ(partition_count("dt-a"), std::nullopt);
    // The same name again: a new, empty topic.
    ASSERT_EQ(create("dt-a", 1), none);
    EXPECT_EQ(list_offset("dt-a", 0, -1), 0);
    EXPECT_EQ(list_offset("dt-a", 0, -2), 0);

    // v6: by id; unknown ids, both name and id, duplicates.
    metadata_request lookup;
    lookup.topics.emplace().push_back({.topic_id = {}, .name = "dt-b"});
    lookup.allow_auto_topic_creation = false;
    CALL(found, metadata_response, lookup, 10);
    ASSERT_EQ(found.topics.size(), 1u);
    const uuid id_b = found.topics[0].topic_id;
    uuid unknown_id;
    unknown_id.bytes[0] = std::byte{0x42};
    delete_topics_request v6;
    v6.topics = {
        {.name = std::nullopt, .topic_id = id_b}, {.name = std::nullopt, .topic_id = unknown_id},
        {.name = "dt-a", .topic_id = id_b},       {.name = "dt-c", .topic_id = {}},
        {.name = "dt-c", .topic_id = {}},         {.name = std::nullopt, .topic_id = {}}};
    CALL(answer, delete_topics_response, v6, 6);
    ASSERT_EQ(answer.responses.size(), 6u);
    EXPECT_EQ(answer.responses[0].error_code, none);
    EXPECT_EQ(answer.responses[0].name, "dt-b");
    EXPECT_EQ(answer.responses[0].topic_id, id_b);
    EXPECT_EQ(answer.responses[1].error_code, unknown_topic_id);
    EXPECT_FALSE(answer.responses[1].name.has_value());
    EXPECT_EQ(answer.responses[2].error_code, invalid_request);
    EXPECT_EQ(answer.responses[3].error_code, invalid_request);
    EXPECT_EQ(answer.responses[4].error_code, invalid_request);
    EXPECT_EQ(answer.responses[5].error_code, invalid_request);
    EXPECT_TRUE(answer.responses[5].error_message.has_value());
    EXPECT_EQ(partition_count("dt-b"), std::nullopt);
    EXPECT_EQ(partition_count("dt-a"), 1);
}

TEST_F(admin_api_test, create_partitions_only_increases) {
    ASSERT_EQ(create("cp", 2), none);
    create_partitions_request v0;
    v0.topics.push_back({.name = "cp", .count = 4, .assignments = std::nullopt});
    {
        CALL(answer, create_partitions_response, v0, 0);
        ASSERT_EQ(answer.results.size(), 1u);
        EXPECT_EQ(answer.results[0].error_code, none);
        EXPECT_FALSE(answer.results[0].error_message.has_value());
    }
    EXPECT_EQ(partition_count("cp"), 4);
    ASSERT_EQ(produce("cp", 3, 2), none);

    create_partitions_request checks;
    checks.validate_only = true;
    checks.topics.push_back({.name = "cp", .count = 6, .assignments = std::nullopt});
    {
        CALL(answer, create_partitions_response, checks, 3);
        ASSERT_EQ(answer.results.size(), 1u);
        EXPECT_EQ(answer.results[0].error_code, none);
    }
    EXPECT_EQ(partition_count("cp"), 4);

    ASSERT_EQ(create("cp-other", 1), none);
    create_partitions_request v3;
    v3.topics = {
        {.name = "cp-missing", .count = 2, .assignments = std::nullopt},
        {.name = "cp-other", .count = 1, .assignments = std::nullopt},
        {.name = "cp", .count = 3, .assignments = std::nullopt},
        {.name = "cp", .count = 8, .assignments = std::nullopt},
    };
    {
        CALL(answer, create_partitions_response, v3, 3);
        ASSERT_EQ(answer.results.size(), 4u);
        EXPECT_EQ(answer.results[0].error_code, unknown_topic_or_partition);
        EXPECT_EQ(answer.results[1].error_code, invalid_partitions);
        EXPECT_EQ(answer.results[2].error_code, invalid_request);  // cp named twice
        EXPECT_EQ(answer.results[3].error_code, invalid_request);
    }
    create_partitions_request assigned;
    using assignment = create_partitions_request::create_partitions_assignment;
    assigned.topics = {
        {.name = "cp-other",
         .count = 3,
         .assignments = std::vector<assignment>{{{node_id}}, {{node_id}}}},
        {.name = "cp", .count = 6, .assignments = std::vector<assignment>{{{node_id}}}},
    };
    CALL(answer, create_partitions_response, assigned, 2);
    ASSERT_EQ(answer.results.size(), 2u);
    EXPECT_EQ(answer.results[0].error_code, none);
    EXPECT_EQ(answer.results[1].error_code, invalid_replica_assignment);
    EXPECT_EQ(partition_count("cp-other"), 3);
    EXPECT_EQ(partition_count("cp"), 4);
    EXPECT_EQ(list_offset("cp", 3, -1), 2) << "data of the old partitions stays";
}

// __consumer_offsets exists from the start, is internal, cannot be deleted
// (INVALID_REQUEST) and cannot be created again (TOPIC_ALREADY_EXISTS).
TEST_F(admin_api_test, the_offsets_topic_is_internal_and_kept) {
    metadata_request lookup;
    lookup.topics.emplace().push_back({.topic_id = {}, .name = "__consumer_offsets"});
    lookup.allow_auto_topic_creation = false;
    {
        CALL(found, metadata_response, lookup, 4);
        ASSERT_EQ(found.topics.size(), 1u);
        EXPECT_EQ(found.topics[0].error_code, none);
        EXPECT_TRUE(found.topics[0].is_internal);
        EXPECT_GT(found.topics[0].partitions.size(), 0u);
    }
    delete_topics_request drop;
    drop.topic_names = {"__consumer_offsets"};
    {
        CALL(answer, delete_topics_response, drop, 5);
        ASSERT_EQ(answer.responses.size(), 1u);
        EXPECT_EQ(answer.responses[0].error_code, invalid_request);
    }
    EXPECT_EQ(create("__consumer_offsets", 1), topic_already_exists);
    CALL(still, metadata_response, lookup, 4);
    ASSERT_EQ(still.topics.size(), 1u);
    EXPECT_EQ(still.topics[0].error_code, none);
}

TEST_F(admin_api_test, delete_records_moves_the_log_start) {
    ASSERT_EQ(create("dr", 2), none);
    ASSERT_EQ(produce("dr", 0, 10), none);
    ASSERT_EQ(produce("dr", 1, 3), none);

    delete_records_request v0;
    auto& topic = v0.topics.emplace_back();
    topic.name = "dr";
    topic.partitions = {{.partition_index = 0, .offset = 4}, {.partition_index = 7, .offset = 1}};
    {
        CALL(answer, delete_records_response, v0, 0);
        ASSERT_EQ(answer.topics.size(), 1u);
        ASSERT_EQ(answer.topics[0].partitions.size(), 2u);
        EXPECT_EQ(answer.topics[0].partitions[0].error_code, none);
        EXPECT_EQ(answer.topics[0].partitions[0].low_watermark, 4);
        EXPECT_EQ(answer.topics[0].partitions[1].error_code, unknown_topic_or_partition);
    }
    EXPECT_EQ(list_offset("dr", 0, -2), 4);
    EXPECT_EQ(list_offset("dr", 0, -1), 10);

    delete_records_request v2;
    auto& again = v2.topics.emplace_back();
    again.name = "dr";
    again.partitions = {{.partition_index = 0, .offset = 11},
                        {.partition_index = 1, .offset = -1},
                        {.partition_index = 0, .offset = 2}};
    {
        CALL(answer, delete_records_response, v2, 2);
        ASSERT_EQ(answer.topics[0].partitions.size(), 3u);
        EXPECT_EQ(answer.topics[0].partitions[0].error_code, offset_out_of_range);
        EXPECT_EQ(answer.topics[0].partitions[0].low_watermark, -1);
        EXPECT_EQ(answer.topics[0].partitions[1].error_code, none);
        EXPECT_EQ(answer.topics[0].partitions[1].low_watermark, 3);
        EXPECT_EQ(answer.topics[0].partitions[2].error_code, none);
        EXPECT_EQ(answer.topics[0].partitions[2].low_watermark, 4) << "never moves back";
    }
    EXPECT_EQ(list_offset("dr", 1, -2), 3);

    // A compacted topic keeps its records: POLICY_VIOLATION.
    ASSERT_EQ(create("dr-compact", 1, {{"cleanup.policy", "compact"}}), none);
    delete_records_request compacted;
    auto& c = compacted.topics.emplace_back();
    c.name = "dr-compact";
    c.partitions = {{.partition_index = 0, .offset = -1}};
    CALL(answer, delete_records_response, compacted, 1);
    EXPECT_EQ(answer.topics[0].partitions[0].error_code, policy_violation);
}

TEST_F(admin_api_test, describe_configs_of_topics_and_the_broker) {
    ASSERT_EQ(create("dc", 1, {{"retention.ms", "5000"}}), none);
    describe_configs_request v0;
    v0.resources.push_back(
        {.resource_type = 2, .resource_name = "dc", .configuration_keys = std::nullopt});
    {
        CALL(answer, describe_configs_response, v0, 0);
        ASSERT_EQ(answer.results.size(), 1u);
        EXPECT_EQ(answer.results[0].error_code, none);
        std::map<std::string, bool> is_default;
        for (const auto& c : answer.results[0].configs) {
            is_default[std::string(c.name)] = c.is_default;
        }
        EXPECT_FALSE(is_default.at("retention.ms"));
        EXPECT_TRUE(is_default.at("segment.bytes"));
    }

    const std::string broker_name = std::to_string(node_id);
    describe_configs_request v4;
    v4.include_synonyms = true;
    v4.include_documentation = true;
    v4.resources = {
        {.resource_type = 2,
         .resource_name = "dc",
         .configuration_keys = std::vector<std::string_view>{"retention.ms", "no.such.key"}},
        {.resource_type = 4, .resource_name = broker_name, .configuration_keys = std::nullopt},
        {.resource_type = 4, .resource_name = "", .configuration_keys = std::nullopt},
        {.resource_type = 4, .resource_name = "99", .configuration_keys = std::nullopt},
        {.resource_type = 4, .resource_name = "x", .configuration_keys = std::nullopt},
        {.resource_type = 2, .resource_name = "dc-missing", .configuration_keys = std::nullopt},
        {.resource_type = 8, .resource_name = broker_name, .configuration_keys = std::nullopt},
        {.resource_type = 2, .resource_name = "bad/name", .configuration_keys = std::nullopt},
    };
    CALL(answer, describe_configs_response, v4, 4);
    ASSERT_EQ(answer.results.size(), v4.resources.size());

    const auto& topic = answer.results[0];
    EXPECT_EQ(topic.error_code, none);
    ASSERT_EQ(topic.configs.size(), 1u) << "unknown keys are skipped";
    const auto& retention = topic.configs[0];
    EXPECT_EQ(retention.name, "retention.ms");
    EXPECT_EQ(retention.value, "5000");
    EXPECT_EQ(retention.config_source, dynamic_topic_config);
    EXPECT_EQ(retention.config_type, 5);  // LONG
    EXPECT_TRUE(retention.documentation.has_value() && !retention.documentation->empty());
    ASSERT_EQ(retention.synonyms.size(), 2u);
    EXPECT_EQ(retention.synonyms[0].name, "retention.ms");
    EXPECT_EQ(retention.synonyms[0].source, dynamic_topic_config);
    EXPECT_EQ(retention.synonyms[1].name, "log.retention.ms");
    EXPECT_EQ(retention.synonyms[1].source, default_config);

    const auto& broker = answer.results[1];
    EXPECT_EQ(broker.error_code, none);
    std::map<std::string, std::pair<std::string, int8_t>> broker_configs;
    for (const auto& c : broker.configs) {
        EXPECT_TRUE(c.read_only) << c.name;
        broker_configs[std::string(c.name)] = {std::string(c.value.value_or("<null>")),
                                               c.config_source};
    }
    for (const char* name : {"log.retention.ms", "log.segment.bytes", "message.max.bytes",
                             "log.cleanup.policy", "log.message.timestamp.type"}) {
        EXPECT_TRUE(broker_configs.contains(name)) << name;
    }
    EXPECT_EQ(broker_configs["num.partitions"],
              std::make_pair(std::to_string(broker_partitions), static_broker_config));
    EXPECT_EQ(broker_configs["auto.create.topics.enable"],
              std::make_pair(std::string("false"), static_broker_config));
    EXPECT_EQ(broker_configs["node.id"].first, std::to_string(node_id));

    EXPECT_EQ(answer.results[2].error_code, none);
    EXPECT_TRUE(answer.results[2].configs.empty()) << "no dynamic cluster-wide defaults";
    EXPECT_EQ(answer.results[3].error_code, invalid_request);
    EXPECT_EQ(answer.results[4].error_code, invalid_request);
    EXPECT_EQ(answer.results[5].error_code, unknown_topic_or_partition);
    EXPECT_EQ(answer.results[6].error_code, invalid_request);
    EXPECT_EQ(answer.results[7].error_code, invalid_topic_exception);
    for (size_t i = 3; i < answer.results.size(); ++i) {
        EXPECT_TRUE(answer.results[i].error_message.has_value()) << i;
    }
}

TEST_F(admin_api_test, alter_configs_replaces_the_whole_set) {
    ASSERT_EQ(create("ac", 1, {{"retention.ms", "5000"}, {"segment.ms", "60000"}}), none);
    alter_configs_request v0;
    v0.resources.push_back(
        {.resource_type = 2, .resource_name = "ac", .configs = {{"cleanup.policy", "compact"}}});
    {
        CALL(answer, alter_configs_response, v0, 0);
        ASSERT_EQ(answer.responses.size(), 1u);
        EXPECT_EQ(answer.responses[0].error_code, none);
        EXPECT_EQ(answer.responses[0].resource_name, "ac");
    }
    auto configs = describe_topic("ac");
    EXPECT_EQ(configs["cleanup.policy"].value, "compact");
    EXPECT_EQ(configs["cleanup.policy"].source, dynamic_topic_config);
    EXPECT_EQ(configs["retention.ms"].value, "604800000");
    EXPECT_EQ(configs["retention.ms"].source, default_config);
    EXPECT_EQ(configs["segment.ms"].source, default_config);

    ASSERT_EQ(create("ac-other", 1), none);
    alter_configs_request v2;
    v2.validate_only = true;
    v2.resources = {
        {.resource_type = 2, .resource_name = "ac", .configs = {{"retention.ms", "1"}}},
        {.resource_type = 2, .resource_name = "ac-other", .configs = {{"retention.ms", "x"}}},
        {.resource_type = 2, .resource_name = "ac-missing", .configs = {}},
        {.resource_type = 4, .resource_name = "3", .configs = {{"log.retention.ms", "1"}}},
        {.resource_type = 2, .resource_name = "ac-dup", .configs = {}},
        {.resource_type = 2, .resource_name = "ac-dup", .configs = {}},
        {.resource_type = 2,
         .resource_name = "ac-null",
         .configs = {{"retention.ms", std::nullopt}}},
    };
    {
        CALL(answer, alter_configs_response, v2, 2);
        ASSERT_EQ(answer.responses.size(), v2.resources.size());
        EXPECT_EQ(answer.responses[0].error_code, none);
        EXPECT_EQ(answer.responses[1].error_code, invalid_config);
        EXPECT_NE(answer.responses[1].error_message.value_or("").find("retention.ms"),
                  std::string_view::npos);
        EXPECT_EQ(answer.responses[2].error_code, unknown_topic_or_partition);
        EXPECT_EQ(answer.responses[3].error_code, invalid_request);
        EXPECT_EQ(answer.responses[4].error_code, invalid_request);
        EXPECT_EQ(answer.responses[5].error_code, invalid_request);
        EXPECT_EQ(answer.responses[6].error_code, invalid_request);
    }
    EXPECT_EQ(describe_topic("ac")["retention.ms"].source, default_config)
        << "validate_only changes nothing";
}

TEST_F(admin_api_test, incremental_alter_configs_each_operation) {
    ASSERT_EQ(create("iac", 1), none);
    using config = incremental_alter_configs_request::alterable_config;
    incremental_alter_configs_request v0;
    v0.resources.push_back(
        {.resource_type = 2,
         .resource_name = "iac",
         .configs = {config{"retention.ms", 0, "7000"}, config{"cleanup.policy", 2, "compact"},
                     config{"segment.ms", 0, "70000"}}});
    {
        CALL(answer, incremental_alter_configs_response, v0, 0);
        ASSERT_EQ(answer.responses.size(), 1u);
        EXPECT_EQ(answer.responses[0].error_code, none);
    }
    auto configs = describe_topic("iac");
    EXPECT_EQ(configs["retention.ms"].value, "7000");
    EXPECT_EQ(configs["cleanup.policy"].value, "delete,compact");
    EXPECT_EQ(configs["segment.ms"].value, "70000");

    incremental_alter_configs_request v1;
    v1.resources.push_back({.resource_type = 2,
                            .resource_name = "iac",
                            .configs = {config{"cleanup.policy", 3, "delete"},
                                        config{"segment.ms", 1, std::nullopt}}});
    {
        CALL(answer, incremental_alter_configs_response, v1, 1);
        EXPECT_EQ(answer.responses[0].error_code, none);
    }
    configs = describe_topic("iac");
    EXPECT_EQ(configs["cleanup.policy"].value, "compact");
    EXPECT_EQ(configs["segment.ms"].source, default_config);
    EXPECT_EQ(configs["retention.ms"].source, dynamic_topic_config);

    ASSERT_EQ(create("iac-other", 1), none);
    incremental_alter_configs_request bad;
    bad.validate_only = true;
    bad.resources = {
        {.resource_type = 2, .resource_name = "iac", .configs = {config{"retention.ms", 0, "1"}}},
        {.resource_type = 2,
         .resource_name = "iac-other",
         .configs = {config{"retention.ms", 0, "-7"}}},
        {.resource_type = 2,
         .resource_name = "iac-other",
         .configs = {config{"retention.ms", 2, "1"}}},  // APPEND to a non-list: INVALID_CONFIG
    };
    {
        CALL(answer, incremental_alter_configs_response, bad, 1);
        ASSERT_EQ(answer.responses.size(), 3u);
        // iac-other is named twice: INVALID_REQUEST for both.
        EXPECT_EQ(answer.responses[0].error_code, none);
        EXPECT_EQ(answer.responses[1].error_code, invalid_request);
        EXPECT_EQ(answer.responses[2].error_code, invalid_request);
    }
    EXPECT_EQ(describe_topic("iac")["retention.ms"].value, "7000") << "validate_only";

    const auto one = [&](int8_t type, std::string_view name, config c) {
        incremental_alter_configs_request request;
        request.resources.push_back({.resource_type = type, .resource_name = name, .configs = {c}});
        auto answer = client().call<incremental_alter_configs_response>(request, 1);
        if (!answer || answer->body.responses.size() != 1) return int16_t{-999};
        EXPECT_TRUE(answer->body.responses[0].error_code == none ||
                    answer->body.responses[0].error_message.has_value());
        return answer->body.responses[0].error_code;
    };
    EXPECT_EQ(one(2, "iac-other", {"retention.ms", 0, "-7"}), invalid_config);
    EXPECT_EQ(one(2, "iac-other", {"retention.ms", 2, "1"}), invalid_config);
    EXPECT_EQ(one(2, "iac-other", {"no.such.config", 0, "1"}), invalid_config);
    EXPECT_EQ(one(2, "iac-other", {"no.such.config", 1, std::nullopt}), none);
    EXPECT_EQ(one(2, "iac-other", {"retention.ms", 0, std::nullopt}), invalid_request);
    EXPECT_EQ(one(2, "iac-other", {"retention.ms", 9, "1"}), invalid_request);
    EXPECT_EQ(one(2, "iac-missing", {"retention.ms", 0, "1"}), unknown_topic_or_partition);
    const std::string broker_name = std::to_string(node_id);
    EXPECT_EQ(one(4, broker_name, {"log.retention.ms", 0, "1"}), invalid_request);
    EXPECT_EQ(one(2, "iac", {"cleanup.policy", 0, "compact,bogus"}), invalid_config);
    EXPECT_EQ(describe_topic("iac")["cleanup.policy"].value, "compact");
}

TEST_F(admin_api_test, describe_cluster_v0_and_v1) {
    metadata_request everything;
    everything.topics = std::nullopt;
    CALL(metadata, metadata_response, everything, 4);
    ASSERT_TRUE(metadata.cluster_id.has_value());

    describe_cluster_request v0;
    {
        CALL(answer, describe_cluster_response, v0, 0);
        EXPECT_EQ(answer.error_code, none);
        EXPECT_EQ(answer.cluster_id, *metadata.cluster_id);
        EXPECT_EQ(answer.controller_id, node_id);
        ASSERT_EQ(answer.brokers.size(), 1u);
        EXPECT_EQ(answer.brokers[0].broker_id, node_id);
        EXPECT_EQ(answer.brokers[0].host, _broker.advertised_host);
        EXPECT_EQ(answer.brokers[0].port, _broker.advertised_port);
        EXPECT_EQ(answer.cluster_authorized_operations, std::numeric_limits<int32_t>::min());
    }
    describe_cluster_request v1;
    v1.include_cluster_authorized_operations = true;
    v1.endpoint_type = 1;
    {
        CALL(answer, describe_cluster_response, v1, 1);
        EXPECT_EQ(answer.error_code, none);
        EXPECT_EQ(answer.endpoint_type, 1);
        EXPECT_EQ(answer.brokers.size(), 1u);
        EXPECT_EQ(answer.cluster_authorized_operations, 8096);
    }
    v1.endpoint_type = 2;
    {
        CALL(answer, describe_cluster_response, v1, 1);
        EXPECT_EQ(answer.error_code, mismatched_endpoint_type);
        EXPECT_TRUE(answer.error_message.has_value());
    }
    v1.endpoint_type = 7;
    CALL(answer, describe_cluster_response, v1, 1);
    EXPECT_EQ(answer.error_code, unsupported_endpoint_type);
}

TEST_F(admin_api_test, offset_for_leader_epoch_v0_and_v4) {
    ASSERT_EQ(create("ofle", 2), none);
    ASSERT_EQ(produce("ofle", 0, 5), none);
    offset_for_leader_epoch_request v0;
    auto& topic = v0.topics.emplace_back();
    topic.topic = "ofle";
    topic.partitions = {{.partition = 0, .current_leader_epoch = -1, .leader_epoch = 0},
                        {.partition = 1, .current_leader_epoch = -1, .leader_epoch = 0},
                        {.partition = 9, .current_leader_epoch = -1, .leader_epoch = 0}};
    {
        CALL(answer, offset_for_leader_epoch_response, v0, 0);
        ASSERT_EQ(answer.topics.size(), 1u);
        const auto& p = answer.topics[0].partitions;
        ASSERT_EQ(p.size(), 3u);
        EXPECT_EQ(p[0].error_code, none);
        EXPECT_EQ(p[0].end_offset, 5);
        EXPECT_EQ(p[1].error_code, none);
        EXPECT_EQ(p[1].end_offset, -1) << "no record yet: no epoch";
        EXPECT_EQ(p[2].error_code, unknown_topic_or_partition);
    }
    offset_for_leader_epoch_request v4;
    v4.replica_id = -1;
    auto& t4 = v4.topics.emplace_back();
    t4.topic = "ofle";
    t4.partitions = {{.partition = 0, .current_leader_epoch = 0, .leader_epoch = 0},
                     {.partition = 0, .current_leader_epoch = -1, .leader_epoch = 1},
                     {.partition = 0, .current_leader_epoch = 1, .leader_epoch = 0},
                     {.partition = 0, .current_leader_epoch = -1, .leader_epoch = -1},
                     {.partition = 0, .current_leader_epoch = -3, .leader_epoch = 0}};
    CALL(answer, offset_for_leader_epoch_response, v4, 4);
    const auto& p = answer.topics[0].partitions;
    ASSERT_EQ(p.size(), 5u);
    EXPECT_EQ(p[0].error_code, none);
    EXPECT_EQ(p[0].leader_epoch, 0);
    EXPECT_EQ(p[0].end_offset, 5);
    EXPECT_EQ(p[1].error_code, none);
    EXPECT_EQ(p[1].leader_epoch, -1);
    EXPECT_EQ(p[1].end_offset, -1);
    EXPECT_EQ(p[2].error_code, unknown_leader_epoch);
    EXPECT_EQ(p[3].error_code, none);
    EXPECT_EQ(p[3].end_offset, -1);
    EXPECT_EQ(p[4].error_code, fenced_leader_epoch);
}

TEST_F(admin_api_test, init_producer_id_every_version) {
    constexpr int16_t invalid = invalid_request;
    std::set<int64_t> seen;
    for (int16_t version = 0; version <= 5; ++version) {
        SCOPED_TRACE(testing::Message() << "InitProducerId v" << version);
        const auto first = init_producer_id(client(), version);
        const auto second = init_producer_id(client(), version);
        for (const auto& got : {first, second}) {
            EXPECT_EQ(got.error, none);
            EXPECT_GE(got.id, 0);
            EXPECT_EQ(got.epoch, 0);
            EXPECT_TRUE(seen.insert(got.id).second) << "id " << got.id << " issued twice";
        }
        // A transactional id: "" as Kafka, any other because Tidelog has no
        // transaction coordinator. Both INVALID_REQUEST, with no id.
        for (std::string_view transactional_id : {"", "orders-txn"}) {
            const auto refused = init_producer_id(client(), version, transactional_id);
            EXPECT_EQ(refused.error, invalid) << '"' << transactional_id << '"';
            EXPECT_EQ(refused.id, -1);
            EXPECT_EQ(refused.epoch, -1);
        }
        if (version < 3) continue;
        // KIP-360: the same id, the next epoch.
        const auto bumped = init_producer_id(client(), version, std::nullopt, first.id, 0);
        EXPECT_EQ(bumped.error, none);
        EXPECT_EQ(bumped.id, first.id);
        EXPECT_EQ(bumped.epoch, 1);
        const auto last = init_producer_id(client(), version, std::nullopt, first.id, 32765);
        EXPECT_EQ(last.error, none);
        EXPECT_EQ(last.id, first.id);
        EXPECT_EQ(last.epoch, 32766);
        // Epoch 32767 (Short.MAX_VALUE) is never issued: a fresh id instead.
        const auto renewed = init_producer_id(client(), version, std::nullopt, first.id, 32766);
        EXPECT_EQ(renewed.error, none);
        EXPECT_EQ(renewed.epoch, 0);
        EXPECT_TRUE(seen.insert(renewed.id).second) << "id " << renewed.id << " issued twice";
        // Exactly one of the pair given, or a negative one: INVALID_REQUEST.
        const std::vector<std::pair<int64_t, int16_t>> bad = {
            {first.id, -1}, {-1, 0}, {-5, 3}, {first.id, -7}};
        for (const auto& [id, epoch] : bad) {
            const auto refused = init_producer_id(client(), version, std::nullopt, id, epoch);
            EXPECT_EQ(refused.error, invalid) << id << "/" << epoch;
            EXPECT_EQ(refused.id, -1);
            EXPECT_EQ(refused.epoch, -1);
        }
        // A transactional id with a pair is still refused, not bumped.
        EXPECT_EQ(init_producer_id(client(), version, "orders-txn", first.id, 0).error, invalid);
    }
    // More connections: the broker's other shard has its own block.
    for (int64_t id : fresh_producer_ids(_broker.port, 6, 4)) {
        EXPECT_TRUE(seen.insert(id).second) << "id " << id << " issued twice";
    }
}

// Its own broker: ids issued before a SIGTERM and before a SIGKILL are never
// issued again; every id after a restart is larger than all before it (each
// shard starts a new block after the controller's persisted counter).
TEST(admin_api_restart, producer_ids_only_grow_across_restarts) {
    const std::string root = fresh_directory("producer_ids");
    ASSERT_FALSE(root.empty());
    const std::string data_dir = root + "/data";
    std::string why;
    int64_t largest = -1;
    size_t issued = 0;
    for (int stop_signal : {SIGTERM, SIGKILL, SIGTERM}) {
        SCOPED_TRACE(testing::Message() << "before signal " << stop_signal);
        auto broker = start_broker(data_dir, why);
        ASSERT_TRUE(broker.has_value()) << why;
        const auto ids = fresh_producer_ids(broker->port, 6, 5);
        ASSERT_EQ(ids.size(), 30u);
        issued += ids.size();
        EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size());
        for (int64_t id : ids) EXPECT_GT(id, largest) << "an id from before the restart";
        largest = std::max(largest, *std::max_element(ids.begin(), ids.end()));
        broker->process->send_signal(stop_signal);
        const auto status = broker->process->wait_for_exit(wait_limit);
        ASSERT_TRUE(status.has_value());
        if (stop_signal == SIGTERM) {
            EXPECT_TRUE(status->exited && status->code == 0) << broker->process->stderr_text();
        }
    }
    EXPECT_EQ(issued, 90u);
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
}

// Its own broker: SIGTERM, then a new process on the same data directory.
TEST(admin_api_restart, topics_partitions_and_configs_survive_a_restart) {
    const std::string root = fresh_directory("admin_restart");
    ASSERT_FALSE(root.empty());
    const std::string data_dir = root + "/data";
    std::string why;
    {
        auto broker = start_broker(data_dir, why);
        ASSERT_TRUE(broker.has_value()) << why;
        auto client = kafka_client::connect(broker->port);
        ASSERT_TRUE(client.has_value());

        create_topics_request create;
        create.topics.push_back({.name = "kept",
                                 .num_partitions = 3,
                                 .replication_factor = 1,
                                 .assignments = {},
                                 .configs = {{"segment.ms", "123456"}}});
        create.topics.push_back({.name = "gone",
                                 .num_partitions = 1,
                                 .replication_factor = 1,
                                 .assignments = {},
                                 .configs = {}});
        auto created = client->call<create_topics_response>(create, 7);
        ASSERT_TRUE(created.has_value()) << client->last_error();
        EXPECT_EQ(created->body.topics[0].error_code, none);
        EXPECT_EQ(created->body.topics[1].error_code, none);

        create_partitions_request grow;
        grow.topics.push_back({.name = "kept", .count = 5, .assignments = std::nullopt});
        auto grown = client->call<create_partitions_response>(grow, 3);
        ASSERT_TRUE(grown.has_value() && grown->body.results[0].error_code == none);

        using config = incremental_alter_configs_request::alterable_config;
        incremental_alter_configs_request alter;
        alter.resources.push_back({.resource_type = 2,
                                   .resource_name = "kept",
                                   .configs = {config{"retention.ms", 0, "777"}}});
        auto altered = client->call<incremental_alter_configs_response>(alter, 1);
        ASSERT_TRUE(altered.has_value() && altered->body.responses[0].error_code == none);

        delete_topics_request drop;
        drop.topic_names = {"gone"};
        auto dropped = client->call<delete_topics_response>(drop, 5);
        ASSERT_TRUE(dropped.has_value() && dropped->body.responses[0].error_code == none);

        broker->process->send_signal(SIGTERM);
        const auto status = broker->process->wait_for_exit(wait_limit);
        ASSERT_TRUE(status.has_value() && status->exited && status->code == 0)
            << broker->process->stderr_text();
    }
    auto broker = start_broker(data_dir, why);
    ASSERT_TRUE(broker.has_value()) << why;
    auto client = kafka_client::connect(broker->port);
    ASSERT_TRUE(client.has_value());

    metadata_request everything;
    everything.topics = std::nullopt;
    auto metadata = client->call<metadata_response>(everything, 4);
    ASSERT_TRUE(metadata.has_value()) << client->last_error();
    // "kept" and the internal __consumer_offsets (sorted: '_' < 'k').
    ASSERT_EQ(metadata->body.topics.size(), 2u);
    EXPECT_EQ(metadata->body.topics[0].name, "__consumer_offsets");
    EXPECT_TRUE(metadata->body.topics[0].is_internal);
    EXPECT_EQ(metadata->body.topics[1].name, "kept");
    EXPECT_FALSE(metadata->body.topics[1].is_internal);
    EXPECT_EQ(metadata->body.topics[1].partitions.size(), 5u);

    describe_configs_request describe;
    describe.resources.push_back(
        {.resource_type = 2,
         .resource_name = "kept",
         .configuration_keys = std::vector<std::string_view>{"retention.ms", "segment.ms"}});
    auto described = client->call<describe_configs_response>(describe, 4);
    ASSERT_TRUE(described.has_value()) << client->last_error();
    ASSERT_EQ(described->body.results.size(), 1u);
    const auto& configs = described->body.results[0].configs;
    ASSERT_EQ(configs.size(), 2u);
    EXPECT_EQ(configs[0].name, "retention.ms");
    EXPECT_EQ(configs[0].value, "777");
    EXPECT_EQ(configs[0].config_source, dynamic_topic_config);
    EXPECT_EQ(configs[1].name, "segment.ms");
    EXPECT_EQ(configs[1].value, "123456");

    broker->process->send_signal(SIGTERM);
    const auto status = broker->process->wait_for_exit(wait_limit);
    EXPECT_TRUE(status.has_value() && status->exited && status->code == 0);
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
}

}  // namespace
}  // namespace tl::kafka
