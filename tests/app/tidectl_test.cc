// Proves that tidectl's Kafka commands work against a real tidelogd: records
// produced with keys come back in order with their keys, offsets and
// headers; keyed records land on the partition Kafka's default partitioner
// picks; topic list and describe show an auto-created topic with its
// partitions and watermarks; cluster info shows the broker's cluster id;
// an unreachable or malformed bootstrap address and unknown commands or
// flags fail with one stderr line and exit 1 or 2. The admin commands
// (topic create/delete/alter-config, configs in describe) are checked too;
// each test skips while the broker does not advertise the APIs it needs.
// group list/describe/delete: a member spoken with our codecs joins, takes
// two partitions and commits; list shows the group, describe its state,
// protocol, member with decoded partitions, and per partition the committed
// offset, log end offset and lag (text and JSON); delete refuses a group with
// members (NON_EMPTY_GROUP) and deletes it after LeaveGroup.
// How: each test starts the tidelogd that meson names in TIDELOGD on free
// loopback ports (bound to port 0, read, closed) and a fresh data directory,
// waits for its ready line, then runs the tidectl in TIDECTL with captured
// output (stdin through /bin/sh when a command reads it). Every wait has a
// deadline; no timing is asserted.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "kafka/messages/join_group.h"
#include "kafka/messages/leave_group.h"
#include "kafka/messages/offset_commit.h"
#include "kafka/messages/sync_group.h"
#include "support/child_process.h"
#include "support/kafka_client.h"

namespace tl::app::testing {
namespace {

using testing_support::child_process;
using testing_support::run;
using testing_support::run_result;

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Guards against hangs, generous for a loaded machine; not a timing claim.
constexpr std::chrono::seconds wait_limit{60};

std::string from_environment(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

// A loopback port nothing listens on right now (bound to port 0 and closed).
uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

size_t line_count(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class tidectl_test : public ::testing::Test {
protected:
    void SetUp() override {
        _tidelogd = from_environment("TIDELOGD");
        _tidectl = from_environment("TIDECTL");
        ASSERT_FALSE(_tidelogd.empty() || _tidectl.empty())
            << "TIDELOGD and TIDECTL must be set (meson test sets them)";
        std::string pattern = ::testing::TempDir() + "tidelog_tidectl_XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        _root = pattern;
    }
    void TearDown() override {
        // After every tidectl conversation the daemon still stops cleanly.
        if (_daemon) {
            _daemon->send_signal(SIGTERM);
            const auto exit = _daemon->wait_for_exit(wait_limit);
            EXPECT_TRUE(exit.has_value() && exit->exited && exit->code == 0)
                << _daemon->stderr_text();
            _daemon.reset();
        }
        std::error_code ignored;
        if (!_root.empty()) std::filesystem::remove_all(_root, ignored);
    }

    // Starts tidelogd and waits for its ready line.
    void start_broker(const std::vector<std::string>& extra = {}) {
        _kafka_port = free_port();
        const uint16_t admin_port = free_port();
        std::vector<std::string> flags = {
            "--data-dir",
            _root + "/data",
            "--kafka-addr",
            "127.0.0.1:" + std::to_string(_kafka_port),
            "--admin-addr",
            "127.0.0.1:" + std::to_string(admin_port),
            "--min-free-bytes",
            "0",
            "--smp",
            "2",
            "--cpu-pinning",
            "floating",
        };
        flags.insert(flags.end(), extra.begin(), extra.end());
        _daemon = std::make_unique<child_process>(_tidelogd, flags);
        ASSERT_TRUE(_daemon->wait_for_output("tidelogd ready", wait_limit))
            << "no ready line; stderr:\n"
            << _daemon->stderr_text();
    }

    std::string bootstrap() const { return "127.0.0.1:" + std::to_string(_kafka_port); }

    // tidectl ARGUMENTS --bootstrap <the broker>.
    run_result tidectl(std::vector<std::string> arguments) const {
        arguments.push_back("--bootstrap");
        arguments.push_back(bootstrap());
        return run(_tidectl, arguments);
    }
    // printf INPUT | tidectl ARGUMENTS --bootstrap <the broker>.
    run_result tidectl_with_input(const std::string& input,
                                  std::vector<std::string> arguments) const {
        std::vector<std::string> shell = {"-c", "printf '%s' \"$1\" | \"$0\" \"${@:2}\"", _tidectl,
                                          input};
        arguments.push_back("--bootstrap");
        arguments.push_back(bootstrap());
        shell.insert(shell.end(), arguments.begin(), arguments.end());
        return run("/bin/bash", shell);
    }

    static void expect_success(const run_result& result) {
        ASSERT_TRUE(result.status.has_value()) << "did not exit before the deadline";
        EXPECT_TRUE(result.status->exited);
        EXPECT_EQ(result.status->code, 0) << result.stderr_text;
    }
    // Exit `code` and exactly one stderr line, starting with "tidectl: ".
    static void expect_failure(const run_result& result, int code) {
        ASSERT_TRUE(result.status.has_value()) << "did not exit before the deadline";
        EXPECT_TRUE(result.status->exited);
        EXPECT_EQ(result.status->code, code) << result.stderr_text;
        EXPECT_THAT(result.stderr_text, StartsWith("tidectl: "));
        EXPECT_EQ(line_count(result.stderr_text), 1u) << result.stderr_text;
    }

    // Whether the broker advertises `api_key` in ApiVersions.
    bool broker_serves(int api_key) const {
        const run_result info = tidectl({"cluster", "info", "--json"});
        return info.stdout_text.find("{\"api_key\":" + std::to_string(api_key) + ",") !=
               std::string::npos;
    }

    std::string _tidelogd;
    std::string _tidectl;
    std::string _root;
    uint16_t _kafka_port = 0;
    std::unique_ptr<child_process> _daemon;
};

TEST_F(tidectl_test, produced_records_come_back_in_order_with_keys) {
    start_broker();
    const run_result produced = tidectl_with_input("k1:one\nk2:two\nk3:three\n",
                                                   {"produce", "orders", "--key-separator", ":"});
    expect_success(produced);
    EXPECT_EQ(produced.stdout_text, "0@0\n");  // one partition, one batch

    const run_result consumed = tidectl({"consume", "orders", "--count", "3", "--format",
                                         "%k=%v@%o p%p %t", "--timeout-ms", "20000"});
    expect_success(consumed);
    EXPECT_EQ(consumed.stdout_text,
              "k1=one@0 p0 orders\nk2=two@1 p0 orders\nk3=three@2 p0 orders\n");

    // A single record with --value, --key and headers, read from its offset.
    expect_success(tidectl({"produce", "orders", "--value", "four", "--key", "k4", "--header",
                            "h1=a", "--header", "h2=b", "--acks", "1"}));
    const run_result fourth = tidectl(
        {"consume", "orders", "--offset", "3", "--count", "1", "--format", "%o %k %v [%h]"});
    expect_success(fourth);
    EXPECT_EQ(fourth.stdout_text, "3 k4 four [h1=a,h2=b]\n");

    // The default format is the value alone.
    const run_result values = tidectl({"consume", "orders", "--count", "4"});
    expect_success(values);
    EXPECT_EQ(values.stdout_text, "one\ntwo\nthree\nfour\n");
}

TEST_F(tidectl_test, consume_fails_when_count_records_do_not_arrive_in_time) {
    start_broker();
    expect_success(tidectl({"produce", "sparse", "--value", "only"}));
    const run_result consumed =
        tidectl({"consume", "sparse", "--count", "2", "--timeout-ms", "300"});
    expect_failure(consumed, 1);
    EXPECT_EQ(consumed.stdout_text, "only\n");
    EXPECT_THAT(consumed.stderr_text, HasSubstr("1 of 2 records from sparse-0"));

    const run_result from_latest =
        tidectl({"consume", "sparse", "--offset", "latest", "--timeout-ms", "300"});
    expect_success(from_latest);
    EXPECT_EQ(from_latest.stdout_text, "");
}

TEST_F(tidectl_test, keyed_records_land_where_kafkas_partitioner_puts_them) {
    start_broker({"--num-partitions", "3"});
    // toPositive(murmur2(key)) % 3, as Kafka's Java producer computes it:
    // key-0 -> 1, key-1 -> 0, key-2 -> 2, key-3 -> 2, key-4 -> 0, key-5 -> 2.
    const run_result produced =
        tidectl_with_input("key-0 a\nkey-1 b\nkey-2 c\nkey-3 d\nkey-4 e\nkey-5 f\n",
                           {"produce", "spread", "--key-separator", " "});
    expect_success(produced);
    EXPECT_EQ(produced.stdout_text, "0@0\n1@0\n2@0\n");

    const std::vector<std::string> expected = {"key-1 b\nkey-4 e\n", "key-0 a\n",
                                               "key-2 c\nkey-3 d\nkey-5 f\n"};
    for (size_t p = 0; p < expected.size(); ++p) {
        const run_result consumed =
            tidectl({"consume", "spread", "--partition", std::to_string(p), "--count",
                     std::to_string(line_count(expected[p])), "--format", "%k %v"});
        expect_success(consumed);
        EXPECT_EQ(consumed.stdout_text, expected[p]) << "partition " << p;
    }

    // --partition overrides the key.
    const run_result pinned =
        tidectl({"produce", "spread", "--partition", "2", "--key", "key-1", "--value", "g"});
    expect_success(pinned);
    EXPECT_EQ(pinned.stdout_text, "2@3\n");
    expect_failure(tidectl({"produce", "spread", "--partition", "3", "--value", "x"}), 1);
}

TEST_F(tidectl_test, topic_list_and_describe_show_an_auto_created_topic) {
    start_broker();
    expect_success(tidectl_with_input("a\nb\n", {"produce", "auto-created"}));

    const run_result list = tidectl({"topic", "list"});
    expect_success(list);
    EXPECT_THAT(list.stdout_text, StartsWith("TOPIC"));
    EXPECT_TRUE(std::regex_search(list.stdout_text, std::regex("\nauto-created +1\n")))
        << list.stdout_text;
    const run_result json = tidectl({"topic", "list", "--json"});
    expect_success(json);
    EXPECT_THAT(json.stdout_text,
                HasSubstr("{\"name\":\"auto-created\",\"partitions\":1,\"internal\":false}"));

    const run_result described = tidectl({"topic", "describe", "auto-created", "--json"});
    expect_success(described);
    EXPECT_THAT(described.stdout_text,
                HasSubstr("{\"partition\":0,\"leader\":0,\"replicas\":[0],\"isr\":[0],"
                          "\"earliest_offset\":0,\"latest_offset\":2}"));
    const run_result text = tidectl({"topic", "describe", "auto-created"});
    expect_success(text);
    EXPECT_THAT(text.stdout_text, HasSubstr("topic: auto-created\npartitions: 1\n"));

    const run_result missing = tidectl({"topic", "describe", "never-made"});
    expect_failure(missing, 1);
    EXPECT_THAT(missing.stderr_text, HasSubstr("UNKNOWN_TOPIC_OR_PARTITION (3)"));
}

TEST_F(tidectl_test, cluster_info_shows_the_cluster_id) {
    start_broker();
    // "cluster <id>: ..." is the daemon's first metadata line.
    std::smatch match;
    const std::string log = _daemon->stderr_text();
    ASSERT_TRUE(std::regex_search(log, match, std::regex("cluster ([A-Za-z0-9_-]+):"))) << log;
    const std::string cluster_id = match[1];

    const run_result info = tidectl({"cluster", "info"});
    expect_success(info);
    EXPECT_THAT(info.stdout_text, StartsWith("cluster id: " + cluster_id + "\n"));
    EXPECT_THAT(info.stdout_text, HasSubstr("  0  127.0.0.1:" + std::to_string(_kafka_port)));
    EXPECT_THAT(info.stdout_text, Not(HasSubstr("api versions")));

    const run_result verbose = tidectl({"cluster", "info", "--verbose"});
    expect_success(verbose);
    EXPECT_TRUE(std::regex_search(verbose.stdout_text, std::regex("  produce +key  0  v3-")))
        << verbose.stdout_text;

    const run_result json = tidectl({"cluster", "info", "--json"});
    expect_success(json);
    EXPECT_THAT(json.stdout_text, StartsWith("{\"cluster_id\":\"" + cluster_id + "\""));
}

TEST_F(tidectl_test, topics_are_created_and_deleted) {
    start_broker();
    if (!broker_serves(19) || !broker_serves(20)) {
        GTEST_SKIP() << "the broker does not serve CreateTopics and DeleteTopics yet";
    }
    const run_result created =
        tidectl({"topic", "create", "managed", "--partitions", "3", "--replication-factor", "1",
                 "--config", "retention.ms=3600000"});
    expect_success(created);
    EXPECT_EQ(created.stdout_text, "created topic managed (3 partitions, replication factor 1)\n");

    const run_result again = tidectl({"topic", "create", "managed"});
    expect_failure(again, 1);
    EXPECT_THAT(again.stderr_text,
                HasSubstr("cannot create topic managed: TOPIC_ALREADY_EXISTS (36)"));

    const run_result described = tidectl({"topic", "describe", "managed"});
    expect_success(described);
    EXPECT_THAT(described.stdout_text, HasSubstr("partitions: 3\n"));
    const run_result produced = tidectl({"produce", "managed", "--key", "key-2", "--value", "v"});
    expect_success(produced);
    EXPECT_EQ(produced.stdout_text, "2@0\n");

    // One unknown name: the known one is still deleted, and the exit is 1.
    const run_result deleted = tidectl({"topic", "delete", "managed", "never-made"});
    expect_failure(deleted, 1);
    EXPECT_EQ(deleted.stdout_text, "deleted topic managed\n");
    EXPECT_THAT(deleted.stderr_text,
                HasSubstr("cannot delete topic never-made: UNKNOWN_TOPIC_OR_PARTITION (3)"));
    const run_result list = tidectl({"topic", "list"});
    expect_success(list);
    EXPECT_THAT(list.stdout_text, Not(HasSubstr("managed")));
}

TEST_F(tidectl_test, topic_configs_are_described_and_altered) {
    start_broker();
    if (!broker_serves(19) || !broker_serves(32) || !broker_serves(44)) {
        GTEST_SKIP() << "the broker does not serve CreateTopics, DescribeConfigs and "
                        "IncrementalAlterConfigs yet";
    }
    expect_success(tidectl({"topic", "create", "configured", "--config", "retention.ms=3600000"}));
    const run_result described = tidectl({"topic", "describe", "configured"});
    expect_success(described);
    EXPECT_THAT(described.stdout_text, HasSubstr("  retention.ms=3600000  (DYNAMIC_TOPIC_CONFIG)"));

    const run_result altered = tidectl({"topic", "alter-config", "configured", "--set",
                                        "retention.ms=7200000", "--set", "cleanup.policy=compact"});
    expect_success(altered);
    EXPECT_EQ(altered.stdout_text,
              "altered topic configured: set retention.ms=7200000, set cleanup.policy=compact\n");
    const run_result after_set = tidectl({"topic", "describe", "configured"});
    EXPECT_THAT(after_set.stdout_text, HasSubstr("  retention.ms=7200000  (DYNAMIC_TOPIC_CONFIG)"));
    EXPECT_THAT(after_set.stdout_text,
                HasSubstr("  cleanup.policy=compact  (DYNAMIC_TOPIC_CONFIG)"));

    expect_success(tidectl({"topic", "alter-config", "configured", "--delete", "cleanup.policy"}));
    const run_result after_delete = tidectl({"topic", "describe", "configured", "--json"});
    EXPECT_THAT(after_delete.stdout_text,
                HasSubstr("{\"name\":\"cleanup.policy\",\"value\":\"delete\""));
    EXPECT_THAT(after_delete.stdout_text, Not(HasSubstr("\"value\":\"compact\"")));

    const run_result unknown = tidectl({"topic", "alter-config", "never-made", "--set", "a=b"});
    expect_failure(unknown, 1);
    EXPECT_THAT(unknown.stderr_text, HasSubstr("cannot alter configs of topic never-made"));
}

// Builds the consumer-protocol bytes a range member sends and gets:
// subscription (version, [topic], user_data) and assignment (version,
// [topic, [partition]], user_data), big-endian.
std::string consumer_bytes(const std::string& topic, const std::vector<int32_t>& partitions,
                           bool assignment) {
    std::string out;
    const auto put16 = [&out](int16_t v) {
        out += static_cast<char>((v >> 8) & 0xff);
        out += static_cast<char>(v & 0xff);
    };
    const auto put32 = [&out](int32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
    };
    put16(0);
    put32(1);
    put16(static_cast<int16_t>(topic.size()));
    out += topic;
    if (assignment) {
        put32(static_cast<int32_t>(partitions.size()));
        for (const int32_t p : partitions) put32(p);
    }
    put32(-1);  // user_data: null
    return out;
}

// A group member spoken with our codecs: joins `group` alone (JoinGroup v5,
// twice for MEMBER_ID_REQUIRED), takes `topic` partitions 0 and 1 (SyncGroup
// v3) and commits `offsets` (OffsetCommit v7). Returns its member id.
std::string join_and_commit(uint16_t port, const std::string& group, const std::string& topic,
                            const std::vector<int64_t>& offsets) {
    using namespace tl::kafka;
    auto client = tl::testing_support::kafka_client::connect(port);
    EXPECT_TRUE(client.has_value());
    if (!client) return "";
    const std::string subscription = consumer_bytes(topic, {}, false);
    const std::string assignment = consumer_bytes(topic, {0, 1}, true);
    join_group_request join;
    join.group_id = group;
    join.session_timeout_ms = 30000;
    join.rebalance_timeout_ms = 30000;
    join.protocol_type = "consumer";
    join.protocols.push_back({.name = "range", .metadata = bytes_view::of_text(subscription)});
    std::string member_id;
    int32_t generation = -1;
    const auto deadline = std::chrono::steady_clock::now() + wait_limit;
    while (std::chrono::steady_clock::now() < deadline) {
        join.member_id = member_id;
        auto joined = client->call<join_group_response>(join, 5);
        EXPECT_TRUE(joined.has_value()) << client->last_error();
        if (!joined) return "";
        member_id = std::string(joined->body.member_id);
        if (joined->body.error_code == 0) {
            generation = joined->body.generation_id;
            break;
        }
        // MEMBER_ID_REQUIRED (79), then coordinator errors while it loads.
        EXPECT_TRUE(joined->body.error_code == 79 || joined->body.error_code == 14 ||
                    joined->body.error_code == 15)
            << joined->body.error_code;
        if (joined->body.error_code != 79)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GE(generation, 1);
    sync_group_request sync;
    sync.group_id = group;
    sync.generation_id = generation;
    sync.member_id = member_id;
    sync.assignments.push_back(
        {.member_id = member_id, .assignment = bytes_view::of_text(assignment)});
    auto synced = client->call<sync_group_response>(sync, 3);
    EXPECT_TRUE(synced.has_value() && synced->body.error_code == 0) << client->last_error();
    offset_commit_request commit;
    commit.group_id = group;
    commit.generation_id_or_member_epoch = generation;
    commit.member_id = member_id;
    auto& t = commit.topics.emplace_back();
    t.name = topic;
    for (size_t p = 0; p < offsets.size(); ++p) {
        t.partitions.push_back({.partition_index = static_cast<int32_t>(p),
                                .committed_offset = offsets[p],
                                .committed_metadata = std::string_view{}});
    }
    auto committed = client->call<offset_commit_response>(commit, 7);
    EXPECT_TRUE(committed.has_value()) << client->last_error();
    if (committed) {
        for (const auto& ct : committed->body.topics) {
            for (const auto& cp : ct.partitions) EXPECT_EQ(cp.error_code, 0) << cp.partition_index;
        }
    }
    return member_id;
}

void leave(uint16_t port, const std::string& group, const std::string& member_id) {
    using namespace tl::kafka;
    auto client = tl::testing_support::kafka_client::connect(port);
    ASSERT_TRUE(client.has_value());
    leave_group_request request;
    request.group_id = group;
    request.members.push_back({.member_id = member_id, .group_instance_id = std::nullopt});
    auto left = client->call<leave_group_response>(request, 3);
    ASSERT_TRUE(left.has_value()) << client->last_error();
    EXPECT_EQ(left->body.error_code, 0);
}

TEST_F(tidectl_test, group_list_describe_and_delete_show_members_offsets_and_lag) {
    start_broker({"--num-partitions", "2"});
    for (const int key : {8, 11, 13, 14, 15, 16, 42}) {
        if (!broker_serves(key)) GTEST_SKIP() << "the broker does not serve group API " << key;
    }
    // 3 records on partition 0, 2 on partition 1; commits 2 and 2: lag 1 and 0.
    expect_success(tidectl_with_input("a\nb\nc\n", {"produce", "orders", "--partition", "0"}));
    expect_success(tidectl_with_input("d\ne\n", {"produce", "orders", "--partition", "1"}));
    const std::string member = join_and_commit(_kafka_port, "billing", "orders", {2, 2});
    ASSERT_FALSE(member.empty());

    const run_result list = tidectl({"group", "list"});
    expect_success(list);
    EXPECT_THAT(list.stdout_text, StartsWith("GROUP"));
    EXPECT_TRUE(
        std::regex_search(list.stdout_text, std::regex("\nbilling +consumer +(Stable|-)\n")))
        << list.stdout_text;
    const run_result list_json = tidectl({"group", "list", "--json"});
    expect_success(list_json);
    EXPECT_THAT(list_json.stdout_text,
                HasSubstr("{\"group\":\"billing\",\"protocol_type\":\"consumer\","));

    const run_result described = tidectl({"group", "describe", "billing"});
    expect_success(described);
    EXPECT_THAT(
        described.stdout_text,
        StartsWith("group: billing\nstate: Stable\nprotocol: consumer/range\nmembers: 1\n"));
    EXPECT_THAT(described.stdout_text, HasSubstr(member));
    EXPECT_THAT(described.stdout_text, HasSubstr("orders:0,1"));
    EXPECT_TRUE(std::regex_search(described.stdout_text,
                                  std::regex("\norders +0 +2 +3 +1 +" + member + "\n")))
        << described.stdout_text;
    EXPECT_TRUE(std::regex_search(described.stdout_text,
                                  std::regex("\norders +1 +2 +2 +0 +" + member + "\n")))
        << described.stdout_text;
    EXPECT_THAT(described.stdout_text, HasSubstr("total lag: 1\n"));
    const run_result json = tidectl({"group", "describe", "billing", "--json"});
    expect_success(json);
    EXPECT_THAT(json.stdout_text,
                StartsWith("{\"group\":\"billing\",\"state\":\"Stable\",\"protocol_type\":"
                           "\"consumer\",\"protocol\":\"range\",\"members\":[{\"member_id\":\"" +
                           member + "\""));
    EXPECT_THAT(json.stdout_text,
                HasSubstr("\"assignment\":[{\"topic\":\"orders\",\"partitions\":[0,1]}]"));
    EXPECT_THAT(json.stdout_text,
                HasSubstr("{\"topic\":\"orders\",\"partition\":0,\"committed_offset\":2,"
                          "\"log_end_offset\":3,\"lag\":1,\"member_id\":\"" +
                          member + "\"}"));

    // A group with a member cannot be deleted; once it left, it can.
    const run_result busy = tidectl({"group", "delete", "billing"});
    expect_failure(busy, 1);
    EXPECT_THAT(busy.stderr_text, HasSubstr("cannot delete group billing: NON_EMPTY_GROUP (68)"));
    leave(_kafka_port, "billing", member);
    // Kafka answers the last LeaveGroup with the group already Empty; wait for
    // Empty all the same, so that this test is about tidectl (the coordinator's
    // timing is checked in groups_protocol_test.py).
    const auto empty_by = std::chrono::steady_clock::now() + wait_limit;
    while (tidectl({"group", "describe", "billing", "--json"})
                   .stdout_text.find("\"state\":\"Empty\"") == std::string::npos &&
           std::chrono::steady_clock::now() < empty_by) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const run_result deleted = tidectl({"group", "delete", "billing"});
    expect_success(deleted);
    EXPECT_EQ(deleted.stdout_text, "deleted group billing\n");
    const run_result gone = tidectl({"group", "describe", "billing"});
    expect_failure(gone, 1);
    EXPECT_THAT(gone.stderr_text, HasSubstr("group billing does not exist"));
    const run_result never = tidectl({"group", "delete", "never-made"});
    expect_failure(never, 1);
    EXPECT_THAT(never.stderr_text,
                HasSubstr("cannot delete group never-made: GROUP_ID_NOT_FOUND (69)"));
}

// No broker needed below: addresses and arguments are checked before or
// while connecting.
class tidectl_offline_test : public ::testing::Test {
protected:
    void SetUp() override {
        _tidectl = from_environment("TIDECTL");
        ASSERT_FALSE(_tidectl.empty()) << "TIDECTL must be set (meson test sets them)";
    }
    std::string _tidectl;
};

TEST_F(tidectl_offline_test, an_unreachable_bootstrap_fails_with_one_line_and_exit_1) {
    const uint16_t port = free_port();
    const std::string address = "127.0.0.1:" + std::to_string(port);
    for (const std::vector<std::string>& command :
         std::vector<std::vector<std::string>>{{"cluster", "info"},
                                               {"topic", "list"},
                                               {"produce", "t", "--value", "v"},
                                               {"consume", "t", "--count", "1"}}) {
        std::vector<std::string> arguments = command;
        arguments.insert(arguments.end(), {"--bootstrap", address});
        const run_result result = run(_tidectl, arguments);
        ASSERT_TRUE(result.status.has_value());
        EXPECT_EQ(result.status->code, 1) << ::testing::PrintToString(command);
        EXPECT_EQ(result.stderr_text,
                  "tidectl: cannot connect to " + address + ": Connection refused\n");
    }
}

TEST_F(tidectl_offline_test, usage_errors_exit_2) {
    const std::vector<std::vector<std::string>> mistakes = {
        {"frobnicate"},
        {"topic"},
        {"topic", "shred", "x"},
        {"topic", "list", "--bogus"},
        {"topic", "create"},
        {"topic", "describe", "a", "b"},
        {"topic", "create", "x", "--partitions", "zero"},
        {"topic", "create", "x", "--config", "novalue"},
        {"topic", "alter-config", "x"},
        {"cluster", "info", "--json=yes"},
        {"produce", "t", "--acks", "2"},
        {"produce", "t", "--key", "k", "--key-separator", ":"},
        {"consume", "t", "--offset", "soon"},
        {"consume", "t", "--count"},
        {"cluster", "info", "--bootstrap", "no-port"},
        {"cluster", "info", "--bootstrap", "host:99999"},
        {"group"},
        {"group", "describe"},
        {"group", "describe", "a", "b"},
        {"group", "delete"},
        {"group", "list", "extra"},
    };
    for (const auto& arguments : mistakes) {
        const run_result result = run(_tidectl, arguments);
        ASSERT_TRUE(result.status.has_value());
        EXPECT_EQ(result.status->code, 2) << ::testing::PrintToString(arguments);
        EXPECT_THAT(result.stderr_text, StartsWith("tidectl: "));
        EXPECT_THAT(result.stderr_text, HasSubstr("see tidectl --help"));
        EXPECT_EQ(line_count(result.stderr_text), 1u) << result.stderr_text;
    }
    const run_result flag = run(_tidectl, {"topic", "list", "--bogus"});
    EXPECT_EQ(flag.stderr_text,
              "tidectl: unknown flag '--bogus' for 'topic list'; see tidectl --help\n");
}

}  // namespace
}  // namespace tl::app::testing
