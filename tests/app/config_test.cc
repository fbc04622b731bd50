// Proves that configuration is read exactly as documented: every class of bad
// input (unknown key or flag, wrong type, out of range, bad address, bad enum,
// non-power-of-two mailbox, duplicate key, broken YAML, keys that disagree) is
// rejected with one message naming the key and where the value came from;
// flags override the file; defaults render to YAML that reads back unchanged;
// and config/tidelog.yaml documents every key and parses to the defaults.
// The feeds/dpdk sections parse into the config with errors naming the full
// key path; a build without DPDK refuses feeds at start-up (prepare_feeds).
// How: parse_config() and overlay_flags() on YAML text and flag lists in
// memory, and the shipped file read from the path meson passes in
// TIDELOG_CONFIG_YAML.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/command_line.h"
#include "app/config.h"
#include "app/feeds.h"
#include "tidelog_build_config.h"

namespace tl::app {
namespace {

using ::testing::HasSubstr;

config_error parse_error(std::string_view yaml) {
    auto parsed = parse_config(yaml, "test.yaml");
    EXPECT_FALSE(parsed.ok()) << "accepted: " << yaml;
    if (parsed.ok()) return {};
    return parsed.error();
}

std::string parse_error_line(std::string_view yaml) {
    return parse_error(yaml).to_string();
}

broker_config parse_ok(std::string_view yaml) {
    auto parsed = parse_config(yaml, "test.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.error().to_string();
    return parsed.ok() ? std::move(parsed).value() : default_config();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string shipped_config_path() {
    const char* path = std::getenv("TIDELOG_CONFIG_YAML");
    return path != nullptr ? path : "";
}

TEST(config_defaults, match_the_documented_values) {
    const broker_config config = default_config();
    EXPECT_EQ(config.data_dir, "./tidelog-data");
    EXPECT_EQ(config.kafka_addr.text, "127.0.0.1:9092");
    EXPECT_EQ(config.kafka_addr.resolved.port(), 9092);
    EXPECT_FALSE(config.advertised_kafka_addr.is_set());
    EXPECT_EQ(config.admin_addr.text, "127.0.0.1:9644");
    EXPECT_TRUE(config.metrics_per_partition);
    EXPECT_EQ(config.reactor_stall_threshold_us, 500u);
    EXPECT_GE(config.smp, 1u);
    EXPECT_LE(config.smp, broker_config::max_smp);
    EXPECT_EQ(config.node_id, 0);
    EXPECT_EQ(config.poll_mode, reactor::poll_mode::adaptive);
    EXPECT_EQ(config.idle_spin_us, 50u);
    EXPECT_EQ(config.mailbox_capacity, 1024u);
    EXPECT_EQ(config.cpu_pinning, reactor::cpu_pinning::pinned);
    EXPECT_EQ(config.shutdown_timeout_ms, 10000u);
    EXPECT_EQ(config.log_level, log_level::info);
    EXPECT_TRUE(config.sources.empty());
    EXPECT_TRUE(check_config(config).ok());
}

TEST(config_defaults, empty_or_comment_only_yaml_changes_nothing) {
    const std::string defaults = render_config_yaml(default_config());
    EXPECT_EQ(render_config_yaml(parse_ok("")), defaults);
    EXPECT_EQ(render_config_yaml(parse_ok("# nothing here\n\n")), defaults);
}

TEST(config_defaults, render_and_parse_round_trip) {
    broker_config odd = parse_ok(
        "data_dir: '/var/lib/tide log/#1'\n"
        "kafka_addr: '[::1]:0'\n"
        "advertised_kafka_addr: 'localhost:19092'\n"
        "smp: 3\n"
        "poll_mode: busy\n"
        "log_level: trace\n");
    for (const broker_config& config : {default_config(), odd}) {
        const std::string rendered = render_config_yaml(config);
        auto reread = parse_config(rendered, "rendered");
        ASSERT_TRUE(reread.ok()) << reread.error().to_string() << "\n" << rendered;
        EXPECT_EQ(render_config_yaml(*reread), rendered);
    }
    EXPECT_EQ(odd.data_dir, "/var/lib/tide log/#1");
}

TEST(config_parse, sets_every_key_and_records_the_source) {
    const broker_config config = parse_ok(
        "data_dir: /srv/tidelog\n"
        "kafka_addr: 0.0.0.0:19092\n"
        "advertised_kafka_addr: broker1.example:19092\n"
        "admin_addr: 127.0.0.1:19644\n"
        "metrics_per_partition: false\n"
        "reactor_stall_threshold_us: 2000\n"
        "smp: 3\n"
        "node_id: 7\n"
        "controller_voters: \"7@127.0.0.1:19093,8@127.0.0.1:19094\"\n"
        "poll_mode: busy\n"
        "idle_spin_us: 0\n"
        "mailbox_capacity: 64\n"
        "cpu_pinning: floating\n"
        "shutdown_timeout_ms: 2500\n"
        "log_level: warn\n"
        "auto_create_topics_enable: false\n"
        "num_partitions: 6\n"
        "socket_request_max_bytes: 1048576\n"
        "connection_memory_bytes: 1048576\n"
        "connections_max_idle_ms: 5000\n"
        "offsets_topic_num_partitions: 3\n"
        "offsets_topic_segment_bytes: 1048576\n"
        "group_initial_rebalance_delay_ms: 0\n"
        "group_min_session_timeout_ms: 100\n"
        "group_max_session_timeout_ms: 60000\n"
        "offsets_retention_minutes: 5\n"
        "offsets_retention_check_interval_ms: 1000\n"
        "flush_mode: none\n"
        "flush_interval_ms: 50\n"
        "cache_bytes_per_shard: 0\n"
        "min_free_bytes: 0\n"
        "log_retention_check_interval_ms: 1000\n"
        "producer_id_expiration_ms: 120000\n"
        "producer_id_expiration_check_interval_ms: 500\n"
        "log_retention_ms: 3600000\n"
        "log_retention_bytes: 1073741824\n"
        "log_segment_bytes: 1048576\n"
        "log_segment_ms: 60000\n"
        "log_cleanup_policy: compact\n"
        "message_max_bytes: 2097152\n"
        "log_message_timestamp_type: LogAppendTime\n");
    EXPECT_EQ(config.data_dir, "/srv/tidelog");
    EXPECT_EQ(config.kafka_addr.text, "0.0.0.0:19092");
    EXPECT_EQ(config.advertised_kafka_addr.text, "broker1.example:19092");
    EXPECT_EQ(config.admin_addr.resolved.port(), 19644);
    EXPECT_FALSE(config.metrics_per_partition);
    EXPECT_EQ(config.reactor_stall_threshold_us, 2000u);
    EXPECT_EQ(config.smp, 3u);
    EXPECT_EQ(config.node_id, 7);
    ASSERT_EQ(config.controller_voters.size(), 2u);
    EXPECT_EQ(config.controller_voters[0].id, 7);
    EXPECT_EQ(config.controller_voters[1].id, 8);
    EXPECT_EQ(config.controller_voters[1].resolved.port(), 19094);
    EXPECT_EQ(config.poll_mode, reactor::poll_mode::busy);
    EXPECT_EQ(config.idle_spin_us, 0u);
    EXPECT_EQ(config.mailbox_capacity, 64u);
    EXPECT_EQ(config.cpu_pinning, reactor::cpu_pinning::floating);
    EXPECT_EQ(config.shutdown_timeout_ms, 2500u);
    EXPECT_EQ(config.log_level, log_level::warn);
    EXPECT_FALSE(config.auto_create_topics);
    EXPECT_EQ(config.num_partitions, 6);
    EXPECT_EQ(config.socket_request_max_bytes, 1048576u);
    EXPECT_EQ(config.connection_memory_bytes, 1048576u);
    EXPECT_EQ(config.connections_max_idle_ms, 5000u);
    EXPECT_EQ(config.offsets_topic_num_partitions, 3);
    EXPECT_EQ(config.offsets_topic_segment_bytes, 1048576u);
    EXPECT_EQ(config.group_initial_rebalance_delay_ms, 0u);
    EXPECT_EQ(config.group_min_session_timeout_ms, 100u);
    EXPECT_EQ(config.group_max_session_timeout_ms, 60000u);
    EXPECT_EQ(config.offsets_retention_minutes, 5u);
    EXPECT_EQ(config.offsets_retention_check_interval_ms, 1000u);
    EXPECT_EQ(config.flush_mode, storage::flush_mode::none);
    EXPECT_EQ(config.flush_interval_ms, 50u);
    EXPECT_EQ(config.cache_bytes_per_shard, 0u);
    EXPECT_EQ(config.min_free_bytes, 0u);
    EXPECT_EQ(config.retention_check_interval_ms, 1000u);
    EXPECT_EQ(config.producer_id_expiration_ms, 120000u);
    EXPECT_EQ(config.producer_id_expiration_check_interval_ms, 500u);
    // Topic defaults are kept under their topic-config names, canonical.
    EXPECT_EQ(config.topic_defaults.at("retention.ms"), "3600000");
    EXPECT_EQ(config.topic_defaults.at("retention.bytes"), "1073741824");
    EXPECT_EQ(config.topic_defaults.at("segment.bytes"), "1048576");
    EXPECT_EQ(config.topic_defaults.at("segment.ms"), "60000");
    EXPECT_EQ(config.topic_defaults.at("cleanup.policy"), "compact");
    EXPECT_EQ(config.topic_defaults.at("max.message.bytes"), "2097152");
    EXPECT_EQ(config.topic_defaults.at("message.timestamp.type"), "LogAppendTime");
    EXPECT_EQ(config.sources.size(), config_keys().size());
    EXPECT_EQ(config.source_of("smp"), "test.yaml");
    EXPECT_TRUE(check_config(config).ok());

    const reactor::reactor_options options = to_reactor_options(config);
    EXPECT_EQ(options.shard_count, 3u);
    EXPECT_EQ(options.polling, reactor::poll_mode::busy);
    EXPECT_EQ(options.pinning, reactor::cpu_pinning::floating);
    EXPECT_EQ(options.mailbox_capacity, 64u);
    EXPECT_EQ(options.idle_spin, std::chrono::microseconds(0));
    EXPECT_EQ(options.stall_threshold, std::chrono::microseconds(2000));
}

TEST(config_errors, topic_defaults_are_validated_like_topic_configs) {
    EXPECT_THAT(parse_error_line("log_segment_bytes: 100\n"),
                ::testing::StartsWith("log_segment_bytes: "));
    EXPECT_THAT(parse_error_line("log_message_timestamp_type: Sometime\n"),
                ::testing::StartsWith("log_message_timestamp_type: "));
    EXPECT_THAT(parse_error_line("flush_mode: sometimes\n"),
                ::testing::StartsWith("flush_mode: must be one of group, interval, none"));
}

TEST(config_parse, quoted_numbers_are_numbers) {
    // Ansible templates quote everything: `smp: "{{ cores }}"`.
    EXPECT_EQ(parse_ok("smp: \"3\"\n").smp, 3u);
}

TEST(config_errors, out_of_range_names_key_bounds_value_and_file) {
    EXPECT_EQ(parse_error_line("smp: 0\n"),
              "smp: must be between 1 and 256, got 0 (from test.yaml)");
    EXPECT_EQ(parse_error_line("smp: 257\n"),
              "smp: must be between 1 and 256, got 257 (from test.yaml)");
    EXPECT_EQ(parse_error_line("node_id: -1\n"),
              "node_id: must be between 0 and 2147483647, got -1 (from test.yaml)");
    EXPECT_EQ(parse_error("node_id: 99999999999999999999999\n").key, "node_id");
    EXPECT_EQ(parse_error("idle_spin_us: 1000001\n").key, "idle_spin_us");
    EXPECT_EQ(parse_error("reactor_stall_threshold_us: 0\n").key, "reactor_stall_threshold_us");
    EXPECT_EQ(parse_error("metrics_per_partition: maybe\n").key, "metrics_per_partition");
    EXPECT_EQ(parse_error("shutdown_timeout_ms: 0\n").key, "shutdown_timeout_ms");
    EXPECT_EQ(parse_error("shutdown_timeout_ms: 600001\n").key, "shutdown_timeout_ms");
}

TEST(config_errors, wrong_type_names_key_and_what_was_found) {
    EXPECT_EQ(parse_error_line("smp: four\n"),
              "smp: expected an integer between 1 and 256, got 'four' (from test.yaml)");
    EXPECT_THAT(parse_error_line("smp: 2.5\n"), HasSubstr("got '2.5'"));
    EXPECT_THAT(parse_error_line("smp: [1, 2]\n"), HasSubstr("smp: expected an integer"));
    EXPECT_THAT(parse_error_line("smp: [1, 2]\n"), HasSubstr("got a list"));
    EXPECT_THAT(parse_error_line("node_id: {a: 1}\n"), HasSubstr("got a map"));
    EXPECT_THAT(parse_error_line("smp:\n"), HasSubstr("got nothing"));
    EXPECT_THAT(parse_error_line("data_dir: [a]\n"), HasSubstr("data_dir: expected a string"));
    EXPECT_THAT(parse_error_line("data_dir: ''\n"), HasSubstr("data_dir: must not be empty"));
    EXPECT_THAT(parse_error_line("log_level: [info]\n"), HasSubstr("log_level: expected one of"));
}

TEST(config_errors, unknown_key_is_named_with_a_suggestion) {
    EXPECT_EQ(parse_error_line("smpp: 2\n"),
              "smpp: unknown key; did you mean 'smp'? (from test.yaml)");
    EXPECT_EQ(parse_error_line("listeners: x\n"), "listeners: unknown key (from test.yaml)");
}

TEST(config_errors, bad_addresses_are_rejected) {
    EXPECT_THAT(parse_error_line("kafka_addr: 127.0.0.1\n"),
                HasSubstr("kafka_addr: bad address '127.0.0.1': expected HOST:PORT"));
    EXPECT_THAT(parse_error_line("kafka_addr: 127.0.0.1:99999\n"), HasSubstr("invalid port"));
    EXPECT_THAT(parse_error_line("admin_addr: ':9644'\n"), HasSubstr("admin_addr: bad address"));
    EXPECT_THAT(parse_error_line("kafka_addr: '[::1:9092'\n"), HasSubstr("kafka_addr:"));
    EXPECT_THAT(parse_error_line("kafka_addr: ''\n"), HasSubstr("kafka_addr: expected HOST:PORT"));
    // Clients cannot dial a wildcard address or port 0.
    EXPECT_EQ(parse_error_line("advertised_kafka_addr: 0.0.0.0:9092\n"),
              "advertised_kafka_addr: bad address '0.0.0.0:9092': a wildcard address, which "
              "clients cannot dial (from test.yaml)");
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: '[::]:9092'\n"), HasSubstr("wildcard"));
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: 127.0.0.1:0\n"), HasSubstr("port 0"));
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: 'two words:9092'\n"),
                HasSubstr("not a host name or IP address"));
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: '::1:9092'\n"),
                HasSubstr("write IPv6 as [ADDRESS]:PORT"));
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: '[::1:9092'\n"),
                HasSubstr("expected [IPv6]:PORT"));
    EXPECT_THAT(parse_error_line("advertised_kafka_addr: broker:65536\n"),
                HasSubstr("invalid port '65536'"));
}

TEST(config_errors, controller_voters_are_checked) {
    EXPECT_THAT(parse_error_line("controller_voters: '1@127.0.0.1'\n"),
                HasSubstr("controller_voters: '1@127.0.0.1': bad address"));
    EXPECT_THAT(parse_error_line("controller_voters: '127.0.0.1:9093'\n"),
                HasSubstr("expected ID@HOST:PORT"));
    EXPECT_THAT(parse_error_line("controller_voters: 'x@127.0.0.1:9093'\n"),
                HasSubstr("controller_voters: 'x@127.0.0.1:9093'"));
    EXPECT_THAT(parse_error_line("controller_voters: '1@127.0.0.1:9093,1@127.0.0.1:9094'\n"),
                HasSubstr("node 1 listed twice"));
    // Empty: this node alone.
    EXPECT_TRUE(parse_ok("controller_voters: ''\n").controller_voters.empty());
    // The list must name this node.
    const broker_config other = parse_ok("node_id: 3\ncontroller_voters: '1@127.0.0.1:9093'\n");
    auto checked = check_config(other);
    ASSERT_FALSE(checked.ok());
    EXPECT_THAT(checked.error().to_string(), HasSubstr("must include this node's id 3"));
    EXPECT_TRUE(check_config(parse_ok("node_id: 1\ncontroller_voters: '1@127.0.0.1:9093'\n")).ok());
}

TEST(config_parse, advertised_names_are_not_resolved_here) {
    // Only the clients' resolver has to know the name.
    const broker_config config =
        parse_ok("advertised_kafka_addr: kafka-0.brokers.tidelog.invalid:19092\n");
    EXPECT_EQ(config.advertised_kafka_addr.host, "kafka-0.brokers.tidelog.invalid");
    EXPECT_EQ(config.advertised_kafka_addr.port, 19092);
    EXPECT_EQ(parse_ok("advertised_kafka_addr: '[fd00::5]:9092'\n").advertised_kafka_addr.host,
              "fd00::5");
}

TEST(config_errors, bad_enum_values_list_the_choices) {
    EXPECT_EQ(parse_error_line("poll_mode: fast\n"),
              "poll_mode: must be one of busy, adaptive; got 'fast' (from test.yaml)");
    EXPECT_THAT(parse_error_line("cpu_pinning: yes\n"),
                HasSubstr("cpu_pinning: must be one of pinned, floating; got 'yes'"));
    EXPECT_THAT(parse_error_line("log_level: verbose\n"),
                HasSubstr("log_level: must be one of trace, debug, info, warn, error"));
}

TEST(config_errors, mailbox_capacity_must_be_a_power_of_two_in_bounds) {
    EXPECT_EQ(parse_error_line("mailbox_capacity: 1000\n"),
              "mailbox_capacity: must be a power of two between 2 and 65536, got '1000' "
              "(from test.yaml)");
    EXPECT_EQ(parse_error("mailbox_capacity: 1\n").key, "mailbox_capacity");
    EXPECT_EQ(parse_error("mailbox_capacity: 131072\n").key, "mailbox_capacity");
    EXPECT_EQ(parse_error("mailbox_capacity: 0\n").key, "mailbox_capacity");
    EXPECT_EQ(parse_ok("mailbox_capacity: 2\n").mailbox_capacity, 2u);
    EXPECT_EQ(parse_ok("mailbox_capacity: 65536\n").mailbox_capacity, 65536u);
}

TEST(config_errors, duplicate_keys_broken_yaml_and_wrong_shape) {
    EXPECT_EQ(parse_error_line("smp: 2\nnode_id: 1\nsmp: 3\n"),
              "smp: set twice (lines 1 and 3) (from test.yaml)");
    const config_error broken = parse_error("smp: 2\n  node_id: 1\n");
    EXPECT_EQ(broken.key, "test.yaml");
    EXPECT_THAT(broken.message, HasSubstr("line 2"));
    EXPECT_THAT(broken.message, HasSubstr("invalid YAML"));
    EXPECT_THAT(parse_error_line("just a string\n"), HasSubstr("expected a map of keys"));
    EXPECT_THAT(parse_error_line("- smp\n"), HasSubstr("expected a map of keys"));
    EXPECT_THAT(parse_error_line("[a]: 1\n"), HasSubstr("keys must be plain names"));
}

TEST(config_check, keys_that_disagree_are_rejected) {
    const broker_config wildcard = parse_ok("kafka_addr: 0.0.0.0:9092\n");
    auto checked = check_config(wildcard);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.error().key, "advertised_kafka_addr");
    EXPECT_EQ(checked.error().source, "test.yaml");

    EXPECT_FALSE(check_config(parse_ok("kafka_addr: 127.0.0.1:0\n")).ok());
    EXPECT_TRUE(check_config(parse_ok("kafka_addr: 0.0.0.0:9092\n"
                                      "advertised_kafka_addr: 10.0.0.1:9092\n"))
                    .ok());

    auto collision = check_config(parse_ok("admin_addr: 127.0.0.1:9092\n"));
    ASSERT_FALSE(collision.ok());
    EXPECT_EQ(collision.error().key, "admin_addr");
    EXPECT_FALSE(check_config(parse_ok("admin_addr: 0.0.0.0:9092\n")).ok());
    EXPECT_TRUE(check_config(parse_ok("admin_addr: 127.0.0.2:9092\n")).ok());
}

TEST(config_flags, flags_override_yaml_and_a_later_flag_wins) {
    const broker_config from_file = parse_ok("smp: 4\ndata_dir: /from/file\nnode_id: 3\n");
    const std::vector<flag_setting> flags = {
        {"smp", "--smp", "2"},
        {"data_dir", "--data-dir", "/from/flag"},
        {"smp", "--smp", "1"},
    };
    auto overlaid = overlay_flags(from_file, flags);
    ASSERT_TRUE(overlaid.ok()) << overlaid.error().to_string();
    EXPECT_EQ(overlaid->smp, 1u);
    EXPECT_EQ(overlaid->data_dir, "/from/flag");
    EXPECT_EQ(overlaid->node_id, 3);
    EXPECT_EQ(overlaid->source_of("smp"), "--smp");
    EXPECT_EQ(overlaid->source_of("node_id"), "test.yaml");
    EXPECT_EQ(overlaid->source_of("log_level"), "built-in default");
}

TEST(config_flags, bad_flag_values_name_the_key_and_the_flag) {
    const std::vector<flag_setting> flags = {{"smp", "--smp", "0"}};
    auto overlaid = overlay_flags(default_config(), flags);
    ASSERT_FALSE(overlaid.ok());
    EXPECT_EQ(overlaid.error().to_string(), "smp: must be between 1 and 256, got 0 (from --smp)");

    const std::vector<flag_setting> address = {{"kafka_addr", "--kafka-addr", "nowhere"}};
    auto bad_address = overlay_flags(default_config(), address);
    ASSERT_FALSE(bad_address.ok());
    EXPECT_THAT(bad_address.error().to_string(), HasSubstr("kafka_addr: bad address 'nowhere'"));
}

TEST(config_flags, an_advertised_address_flag_fixes_a_wildcard_file) {
    const std::string path = ::testing::TempDir() + "tidelog_wildcard.yaml";
    {
        std::ofstream out(path);
        out << "kafka_addr: 0.0.0.0:9092\n";
    }
    EXPECT_FALSE(load_config(path, {}).ok());
    const std::vector<flag_setting> flags = {
        {"advertised_kafka_addr", "--advertised-kafka-addr", "10.1.2.3:9092"}};
    auto loaded = load_config(path, flags);
    EXPECT_TRUE(loaded.ok()) << loaded.error().to_string();
    std::remove(path.c_str());
}

TEST(config_load, unreadable_files_are_named) {
    auto missing = load_config("/nonexistent/tidelog.yaml", {});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().key, "/nonexistent/tidelog.yaml");
    EXPECT_THAT(missing.error().message, HasSubstr("No such file"));
    auto directory = load_config("/", {});
    ASSERT_FALSE(directory.ok());
    EXPECT_THAT(directory.error().message, HasSubstr("not a regular file"));
}

TEST(command_line, splits_config_flags_and_actions) {
    const std::vector<std::string_view> arguments = {
        "--config", "/etc/t.yaml", "--data-dir=/d", "--smp", "2", "--kafka-addr", "[::1]:9"};
    auto parsed = parse_daemon_command_line(arguments);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_EQ(parsed->action, daemon_action::run);
    EXPECT_EQ(parsed->config_path, "/etc/t.yaml");
    ASSERT_EQ(parsed->flags.size(), 3u);
    EXPECT_EQ(parsed->flags[0].key, "data_dir");
    EXPECT_EQ(parsed->flags[0].value, "/d");
    EXPECT_EQ(parsed->flags[1].flag, "--smp");
    EXPECT_EQ(parsed->flags[2].value, "[::1]:9");

    const std::vector<std::string_view> help = {"--smpp", "--help"};
    EXPECT_EQ(parse_daemon_command_line(help)->action, daemon_action::show_help);
    const std::vector<std::string_view> version = {"--version"};
    EXPECT_EQ(parse_daemon_command_line(version)->action, daemon_action::show_version);
}

TEST(command_line, mistakes_name_the_flag) {
    const auto error_of = [](std::vector<std::string_view> arguments) {
        auto parsed = parse_daemon_command_line(arguments);
        EXPECT_FALSE(parsed.ok());
        return parsed.ok() ? std::string() : parsed.error().to_string();
    };
    EXPECT_EQ(error_of({"--smpp", "2"}), "--smpp: unknown flag; see --help");
    EXPECT_EQ(error_of({"--data_dir", "/d"}), "--data_dir: unknown flag; see --help");
    EXPECT_EQ(error_of({"--smp"}), "--smp: missing value");
    EXPECT_EQ(error_of({"--smp", "--node-id", "1"}), "--smp: missing value");
    EXPECT_EQ(error_of({"--config", "a", "--config", "b"}), "--config: given twice");
    EXPECT_THAT(error_of({"serve"}), HasSubstr("serve: unexpected argument"));
}

TEST(config_keys, every_key_has_a_matching_flag_and_appears_in_help) {
    const std::string help = daemon_usage(default_config());
    for (const config_key& key : config_keys()) {
        std::string flag = "--" + std::string(key.name);
        std::replace(flag.begin(), flag.end(), '_', '-');
        EXPECT_EQ(key.flag, flag);
        EXPECT_THAT(help, HasSubstr(flag + " ")) << key.name;
        EXPECT_EQ(find_config_key(key.name), &key);
    }
}

TEST(shipped_config, documents_every_key_and_parses_to_the_defaults) {
    const std::string path = shipped_config_path();
    ASSERT_FALSE(path.empty()) << "TIDELOG_CONFIG_YAML is not set (meson test sets it)";
    const std::string text = read_file(path);
    ASSERT_FALSE(text.empty()) << path;
    for (const config_key& key : config_keys()) {
        const std::string active = "\n" + std::string(key.name) + ":";
        const std::string commented = "\n# " + std::string(key.name) + ":";
        EXPECT_TRUE(text.find(active) != std::string::npos ||
                    text.find(commented) != std::string::npos)
            << key.name << " is not documented in " << path;
    }
    auto loaded = load_config(path, {});
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    EXPECT_EQ(render_config_yaml(*loaded), render_config_yaml(default_config()));
}

constexpr std::string_view feed_yaml = R"(
dpdk:
  memory_mb: 128
  burst_size: 16
feeds:
  - name: itch
    ports: ["net_pcap0,rx_pcap=/nonexistent/a.pcap", "net_pcap1,rx_pcap=/nonexistent/b.pcap"]
    decoder: moldudp64
    topic: itch
    partitions: 4
    partitioning: {by: key, key_offset: 1, key_length: 2}
    arbitration: {hold_us: 500}
)";

TEST(config_feeds, sections_parse_into_the_config) {
    const broker_config config = parse_ok(feed_yaml);
    ASSERT_EQ(config.feeds.size(), 1u);
    EXPECT_EQ(config.feeds[0].name, "itch");
    EXPECT_EQ(config.feeds[0].ports.size(), 2u);
    EXPECT_EQ(config.feeds[0].partitioning, feed::partition_rule::key);
    EXPECT_EQ(config.feeds[0].key_length, 2u);
    EXPECT_EQ(config.dpdk.memory_mb, 128u);
    EXPECT_EQ(config.dpdk.burst_size, 16u);
    EXPECT_EQ(config.source_of("feeds"), "test.yaml");
}

TEST(config_feeds, errors_name_the_full_key_and_the_file) {
    const std::string bad = std::string(feed_yaml).replace(
        std::string(feed_yaml).find("key_length: 2"), 13, "key_length: 0");
    const config_error error = parse_error(bad);
    EXPECT_EQ(error.key, "feeds[0].partitioning.key_length");
    EXPECT_EQ(error.source, "test.yaml");
    EXPECT_EQ(parse_error("dpdk:\n  burst_size: 65\n").key, "dpdk.burst_size");
}

TEST(config_feeds, no_feeds_means_no_dpdk) {
    auto runtime = prepare_feeds(parse_ok("smp: 1\n"));
    ASSERT_TRUE(runtime.ok());
    EXPECT_EQ(runtime->get(), nullptr);
}

#if !TIDELOG_HAVE_DPDK
// This build has no DPDK (the sanitize build is configured -Ddpdk=disabled):
// a config with feeds must stop start-up, naming the key.
TEST(config_feeds, a_build_without_dpdk_refuses_feeds) {
    auto runtime = prepare_feeds(parse_ok(feed_yaml));
    ASSERT_FALSE(runtime.ok());
    EXPECT_EQ(runtime.error().key, "feeds");
    EXPECT_THAT(runtime.error().message, HasSubstr("without DPDK"));
    EXPECT_EQ(runtime.error().source, "test.yaml");
}
#else
// With DPDK: ports that cannot open stop start-up naming the port's key.
TEST(config_feeds, a_port_that_cannot_open_is_named) {
    auto runtime = prepare_feeds(parse_ok(feed_yaml));
    ASSERT_FALSE(runtime.ok());
    EXPECT_EQ(runtime.error().key, "feeds[0].ports[0]");
    EXPECT_THAT(runtime.error().message, HasSubstr("net_pcap0"));
}
#endif

}  // namespace
}  // namespace tl::app
