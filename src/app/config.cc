#include "app/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "base/edit_distance.h"
#include "cluster/topic_config.h"

namespace tl::app {
namespace {

// A config file is a page of keys; anything near this size is not one.
constexpr size_t max_config_file_bytes = 1 << 20;
// Suggest a known key for an unknown one at most this many edits away.
constexpr size_t max_suggestion_distance = 2;
// DNS limit on a full name.
constexpr size_t max_host_name_bytes = 253;

using assign_result = result<void, std::string>;

std::string_view describe_shape(const raw_value& value) {
    switch (value.form) {
        case raw_value::shape::scalar:
            return "a scalar";
        case raw_value::shape::null:
            return "nothing (an empty value)";
        case raw_value::shape::sequence:
            return "a list";
        case raw_value::shape::map:
            return "a map";
    }
    TL_UNREACHABLE("raw_value shape");
}

template <typename T>
result<T, std::string> parse_integer(const raw_value& value, T min, T max) {
    static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(int64_t));
    const std::string range = fmt::format("between {} and {}", min, max);
    if (value.form != raw_value::shape::scalar) {
        return failure{fmt::format("expected an integer {}, got {}", range, describe_shape(value))};
    }
    const std::string_view text = value.text;
    int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc::result_out_of_range) {
        return failure{fmt::format("must be {}, got {}", range, text)};
    }
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
        return failure{fmt::format("expected an integer {}, got '{}'", range, text)};
    }
    if (parsed < static_cast<int64_t>(min) || parsed > static_cast<int64_t>(max)) {
        return failure{fmt::format("must be {}, got {}", range, text)};
    }
    return static_cast<T>(parsed);
}

template <typename E>
struct enum_name {
    std::string_view name;
    E value;
};

template <typename E, size_t N>
result<E, std::string> parse_enum(const raw_value& value,
                                  const std::array<enum_name<E>, N>& names) {
    std::vector<std::string_view> choices;
    for (const auto& entry : names) choices.push_back(entry.name);
    const std::string expected = fmt::format("{}", fmt::join(choices, ", "));
    if (value.form != raw_value::shape::scalar) {
        return failure{fmt::format("expected one of {}, got {}", expected, describe_shape(value))};
    }
    for (const auto& entry : names) {
        if (entry.name == value.text) return entry.value;
    }
    return failure{fmt::format("must be one of {}; got '{}'", expected, value.text)};
}

template <typename E, size_t N>
std::string_view enum_to_string(E value, const std::array<enum_name<E>, N>& names) {
    for (const auto& entry : names) {
        if (entry.value == value) return entry.name;
    }
    TL_UNREACHABLE("enum value without a name");
}

constexpr std::array<enum_name<storage::flush_mode>, 3> flush_mode_names{{
    {"group", storage::flush_mode::group},
    {"interval", storage::flush_mode::interval},
    {"none", storage::flush_mode::none},
}};

constexpr std::array<enum_name<bool>, 2> boolean_names{{
    {"true", true},
    {"false", false},
}};

constexpr std::array<enum_name<reactor::poll_mode>, 2> poll_mode_names{{
    {"busy", reactor::poll_mode::busy},
    {"adaptive", reactor::poll_mode::adaptive},
}};
constexpr std::array<enum_name<reactor::cpu_pinning>, 2> cpu_pinning_names{{
    {"pinned", reactor::cpu_pinning::pinned},
    {"floating", reactor::cpu_pinning::floating},
}};
constexpr std::array<enum_name<log_level>, 5> log_level_names{{
    {"trace", log_level::trace},
    {"debug", log_level::debug},
    {"info", log_level::info},
    {"warn", log_level::warn},
    {"error", log_level::error},
}};

result<std::string, std::string> parse_string(const raw_value& value) {
    if (value.form != raw_value::shape::scalar) {
        return failure{fmt::format("expected a string, got {}", describe_shape(value))};
    }
    return value.text;
}

bool is_wildcard(const uring::socket_address& address) {
    if (address.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.data());
        return v4->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    if (address.family() == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.data());
        return IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
    }
    return false;
}

// A local address: resolved now, since the broker binds it.
result<network_address, std::string> parse_listen_address(const raw_value& value) {
    if (value.form != raw_value::shape::scalar) {
        return failure{fmt::format("expected HOST:PORT, got {}", describe_shape(value))};
    }
    if (value.text.empty()) return failure{std::string("expected HOST:PORT, got an empty string")};
    auto parsed = uring::socket_address::parse(value.text);
    if (!parsed) {
        return failure{fmt::format("bad address '{}': {}", value.text, parsed.error())};
    }
    return network_address{value.text, *parsed};
}

bool is_host_name(std::string_view host) {
    if (host.empty() || host.size() > max_host_name_bytes) return false;
    return std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
    });
}

// An address for clients: checked for shape, not resolved (see advertised_address).
result<advertised_address, std::string> parse_advertised_address(const raw_value& value) {
    if (value.form != raw_value::shape::scalar) {
        return failure{fmt::format("expected HOST:PORT, got {}", describe_shape(value))};
    }
    const std::string_view text = value.text;
    if (text.empty()) return advertised_address{};
    const auto bad = [&text](std::string_view why) -> result<advertised_address, std::string> {
        return failure{fmt::format("bad address '{}': {}", text, why)};
    };
    std::string_view host;
    std::string_view port_text;
    bool bracketed = false;
    if (text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return bad("expected [IPv6]:PORT");
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
        bracketed = true;
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad("expected HOST:PORT");
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return bad("write IPv6 as [ADDRESS]:PORT");
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port_text.empty() ||
        port > 65535) {
        return bad(fmt::format("invalid port '{}'", port_text));
    }
    if (port == 0) return bad("port 0, which clients cannot dial");
    if (host.empty()) return bad("missing host");

    const std::string host_text(host);
    in_addr v4{};
    in6_addr v6{};
    if (bracketed) {
        if (::inet_pton(AF_INET6, host_text.c_str(), &v6) != 1) return bad("not an IPv6 address");
        if (IN6_IS_ADDR_UNSPECIFIED(&v6))
            return bad("a wildcard address, which clients cannot dial");
    } else if (::inet_pton(AF_INET, host_text.c_str(), &v4) == 1) {
        if (v4.s_addr == htonl(INADDR_ANY)) {
            return bad("a wildcard address, which clients cannot dial");
        }
    } else if (!is_host_name(host)) {
        return bad("not a host name or IP address");
    }
    return advertised_address{std::string(text), host_text, static_cast<uint16_t>(port)};
}

// YAML double-quoted scalar, so that "[::1]:9092" or "#dir" survive.
std::string quote_yaml(std::string_view text) {
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            quoted += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
            quoted += c;
        }
    }
    return quoted + "\"";
}

std::vector<config_key> build_keys() {
    std::vector<config_key> keys;
    keys.push_back(config_key{
        .name = "data_dir",
        .flag = "--data-dir",
        .value_name = "DIR",
        .meaning = "partition logs and the .lock file; created if missing",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_string(v);
            if (!parsed) return failure{parsed.error()};
            if (parsed->empty()) return failure{std::string("must not be empty")};
            c.data_dir = std::move(*parsed);
            return {};
        },
        .render = [](const broker_config& c) { return quote_yaml(c.data_dir); },
    });
    keys.push_back(config_key{
        .name = "kafka_addr",
        .flag = "--kafka-addr",
        .value_name = "HOST:PORT",
        .meaning = "address the Kafka listener binds (port 0: any free port)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_listen_address(v);
            if (!parsed) return failure{parsed.error()};
            c.kafka_addr = std::move(*parsed);
            return {};
        },
        .render = [](const broker_config& c) { return quote_yaml(c.kafka_addr.text); },
    });
    keys.push_back(config_key{
        .name = "advertised_kafka_addr",
        .flag = "--advertised-kafka-addr",
        .value_name = "HOST:PORT",
        .meaning = "address clients are told to connect to; empty: kafka_addr",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_advertised_address(v);
            if (!parsed) return failure{parsed.error()};
            c.advertised_kafka_addr = std::move(*parsed);
            return {};
        },
        .render = [](const broker_config& c) { return quote_yaml(c.advertised_kafka_addr.text); },
    });
    keys.push_back(config_key{
        .name = "admin_addr",
        .flag = "--admin-addr",
        .value_name = "HOST:PORT",
        .meaning = "address of the admin HTTP listener (/metrics)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_listen_address(v);
            if (!parsed) return failure{parsed.error()};
            c.admin_addr = std::move(*parsed);
            return {};
        },
        .render = [](const broker_config& c) { return quote_yaml(c.admin_addr.text); },
    });
    keys.push_back(config_key{
        .name = "metrics_per_partition",
        .flag = "--metrics-per-partition",
        .value_name = "true|false",
        .meaning = "export per-partition series (offsets, size) on /metrics; false for "
                   "large clusters",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, boolean_names);
            if (!parsed) return failure{parsed.error()};
            c.metrics_per_partition = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return std::string(c.metrics_per_partition ? "true" : "false");
        },
    });
    keys.push_back(config_key{
        .name = "smp",
        .flag = "--smp",
        .value_name = "N",
        .meaning = "shards, one thread each; default: the CPUs this process may use",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<unsigned>(v, 1, broker_config::max_smp);
            if (!parsed) return failure{parsed.error()};
            c.smp = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.smp); },
    });
    keys.push_back(config_key{
        .name = "node_id",
        .flag = "--node-id",
        .value_name = "N",
        .meaning = "this broker's id in the cluster (Kafka broker.id)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<int32_t>(v, 0, broker_config::max_node_id);
            if (!parsed) return failure{parsed.error()};
            c.node_id = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.node_id); },
    });
    keys.push_back(config_key{
        .name = "controller_voters",
        .flag = "--controller-voters",
        .value_name = "ID@HOST:PORT,...",
        .meaning = "the controller quorum's voters and their controller listeners; "
                   "empty: this node alone",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            if (v.form != raw_value::shape::scalar) {
                return failure{fmt::format("expected ID@HOST:PORT,..., got {}", describe_shape(v))};
            }
            std::vector<controller_voter> voters;
            std::string_view rest = v.text;
            while (!rest.empty()) {
                const size_t comma = rest.find(',');
                const std::string_view item = rest.substr(0, comma);
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
                const size_t at = item.find('@');
                if (at == std::string_view::npos || at == 0) {
                    return failure{fmt::format("'{}': expected ID@HOST:PORT", item)};
                }
                auto id = parse_integer<int32_t>(
                    raw_value{raw_value::shape::scalar, std::string(item.substr(0, at))}, 0,
                    broker_config::max_node_id);
                if (!id) return failure{fmt::format("'{}': {}", item, id.error())};
                auto address = parse_listen_address(
                    raw_value{raw_value::shape::scalar, std::string(item.substr(at + 1))});
                if (!address) return failure{fmt::format("'{}': {}", item, address.error())};
                for (const auto& other : voters) {
                    if (other.id == *id) return failure{fmt::format("node {} listed twice", *id)};
                }
                voters.push_back(controller_voter{*id, address->text, address->resolved});
            }
            c.controller_voters_text = v.text;
            c.controller_voters = std::move(voters);
            return {};
        },
        .render = [](const broker_config& c) { return quote_yaml(c.controller_voters_text); },
    });
    keys.push_back(config_key{
        .name = "poll_mode",
        .flag = "--poll-mode",
        .value_name = "busy|adaptive",
        .meaning = "busy: never sleep, burn the cores; adaptive: spin, then sleep when idle",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, poll_mode_names);
            if (!parsed) return failure{parsed.error()};
            c.poll_mode = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return std::string(to_string(c.poll_mode)); },
    });
    keys.push_back(config_key{
        .name = "idle_spin_us",
        .flag = "--idle-spin-us",
        .value_name = "US",
        .meaning = "adaptive mode: microseconds an idle shard spins before it sleeps",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 0, broker_config::max_idle_spin_us);
            if (!parsed) return failure{parsed.error()};
            c.idle_spin_us = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.idle_spin_us); },
    });
    keys.push_back(config_key{
        .name = "mailbox_capacity",
        .flag = "--mailbox-capacity",
        .value_name = "N",
        .meaning = "cross-shard calls in flight per pair of shards (power of two); more wait",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<unsigned>(v, broker_config::min_mailbox_capacity,
                                                  broker_config::max_mailbox_capacity);
            if (!parsed || (*parsed & (*parsed - 1)) != 0) {
                return failure{fmt::format(
                    "must be a power of two between {} and {}, got {}",
                    broker_config::min_mailbox_capacity, broker_config::max_mailbox_capacity,
                    v.form == raw_value::shape::scalar ? fmt::format("'{}'", v.text)
                                                       : std::string(describe_shape(v)))};
            }
            c.mailbox_capacity = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.mailbox_capacity); },
    });
    keys.push_back(config_key{
        .name = "cpu_pinning",
        .flag = "--cpu-pinning",
        .value_name = "pinned|floating",
        .meaning = "pinned: shard N runs on CPU N; floating: the kernel places shards",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, cpu_pinning_names);
            if (!parsed) return failure{parsed.error()};
            c.cpu_pinning = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return std::string(to_string(c.cpu_pinning)); },
    });
    keys.push_back(config_key{
        .name = "reactor_stall_threshold_us",
        .flag = "--reactor-stall-threshold-us",
        .value_name = "US",
        .meaning = "a shard loop iteration longer than this counts as a stall (metrics)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, broker_config::min_stall_threshold_us,
                                                  broker_config::max_stall_threshold_us);
            if (!parsed) return failure{parsed.error()};
            c.reactor_stall_threshold_us = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.reactor_stall_threshold_us);
        },
    });
    keys.push_back(config_key{
        .name = "shutdown_timeout_ms",
        .flag = "--shutdown-timeout-ms",
        .value_name = "MS",
        .meaning = "on SIGTERM/SIGINT, time to stop cleanly before giving up (exit 1)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, broker_config::min_shutdown_timeout_ms,
                                                  broker_config::max_shutdown_timeout_ms);
            if (!parsed) return failure{parsed.error()};
            c.shutdown_timeout_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.shutdown_timeout_ms); },
    });
    keys.push_back(config_key{
        .name = "log_level",
        .flag = "--log-level",
        .value_name = "LEVEL",
        .meaning = "least severe messages logged to stderr: trace, debug, info, warn, error",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, log_level_names);
            if (!parsed) return failure{parsed.error()};
            c.log_level = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return std::string(to_string(c.log_level)); },
    });
    keys.push_back(config_key{
        .name = "auto_create_topics_enable",
        .flag = "--auto-create-topics-enable",
        .value_name = "true|false",
        .meaning = "create a topic when a client asks Metadata for one that does not exist "
                   "(Kafka auto.create.topics.enable)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, boolean_names);
            if (!parsed) return failure{parsed.error()};
            c.auto_create_topics = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return std::string(c.auto_create_topics ? "true" : "false");
        },
    });
    keys.push_back(config_key{
        .name = "num_partitions",
        .flag = "--num-partitions",
        .value_name = "N",
        .meaning = "partitions of auto-created topics and of CreateTopics asking for the "
                   "default, 1 to 100000 (Kafka num.partitions)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<int32_t>(v, 1, 100'000);
            if (!parsed) return failure{parsed.error()};
            c.num_partitions = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.num_partitions); },
    });
    keys.push_back(config_key{
        .name = "offsets_topic_num_partitions",
        .flag = "--offsets-topic-num-partitions",
        .value_name = "N",
        .meaning = "partitions of the internal __consumer_offsets topic when the broker "
                   "creates it (an existing topic keeps its count), 1 to 1000 "
                   "(Kafka offsets.topic.num.partitions)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<int32_t>(v, 1, 1000);
            if (!parsed) return failure{parsed.error()};
            c.offsets_topic_num_partitions = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.offsets_topic_num_partitions);
        },
    });
    keys.push_back(config_key{
        .name = "offsets_topic_segment_bytes",
        .flag = "--offsets-topic-segment-bytes",
        .value_name = "BYTES",
        .meaning = "segment size of __consumer_offsets when the broker creates it; "
                   "segments are preallocated, so this is disk taken per partition "
                   "up front, 65536 to 1073741824 (Kafka offsets.topic.segment.bytes)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 65536, 1u << 30);
            if (!parsed) return failure{parsed.error()};
            c.offsets_topic_segment_bytes = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.offsets_topic_segment_bytes);
        },
    });
    keys.push_back(config_key{
        .name = "group_initial_rebalance_delay_ms",
        .flag = "--group-initial-rebalance-delay-ms",
        .value_name = "MS",
        .meaning = "how long an empty consumer group waits for more members before its first "
                   "rebalance, 0 to 300000 (Kafka group.initial.rebalance.delay.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 0, 300000);
            if (!parsed) return failure{parsed.error()};
            c.group_initial_rebalance_delay_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.group_initial_rebalance_delay_ms);
        },
    });
    keys.push_back(config_key{
        .name = "group_min_session_timeout_ms",
        .flag = "--group-min-session-timeout-ms",
        .value_name = "MS",
        .meaning = "shortest session timeout a group member may ask for, 1 to 2147483647 "
                   "(Kafka group.min.session.timeout.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.group_min_session_timeout_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.group_min_session_timeout_ms);
        },
    });
    keys.push_back(config_key{
        .name = "group_max_session_timeout_ms",
        .flag = "--group-max-session-timeout-ms",
        .value_name = "MS",
        .meaning = "longest session timeout a group member may ask for, 1 to 2147483647 "
                   "(Kafka group.max.session.timeout.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.group_max_session_timeout_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.group_max_session_timeout_ms);
        },
    });
    keys.push_back(config_key{
        .name = "offsets_retention_minutes",
        .flag = "--offsets-retention-minutes",
        .value_name = "MINUTES",
        .meaning = "committed offsets of a group without members are deleted this long after it "
                   "became empty (or after their commit, for groups without a protocol), "
                   "1 to 35791394 (Kafka offsets.retention.minutes)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, 35791394);
            if (!parsed) return failure{parsed.error()};
            c.offsets_retention_minutes = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.offsets_retention_minutes);
        },
    });
    keys.push_back(config_key{
        .name = "offsets_retention_check_interval_ms",
        .flag = "--offsets-retention-check-interval-ms",
        .value_name = "MS",
        .meaning = "how often expired offsets and empty groups are looked for, 1 to 2147483647 "
                   "(Kafka offsets.retention.check.interval.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.offsets_retention_check_interval_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.offsets_retention_check_interval_ms);
        },
    });
    keys.push_back(config_key{
        .name = "socket_request_max_bytes",
        .flag = "--socket-request-max-bytes",
        .value_name = "BYTES",
        .meaning = "largest request a client may send; a larger one closes its connection, "
                   "1024 to 2147483647 (Kafka socket.request.max.bytes)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1024, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.socket_request_max_bytes = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.socket_request_max_bytes);
        },
    });
    keys.push_back(config_key{
        .name = "connection_memory_bytes",
        .flag = "--connection-memory-bytes",
        .value_name = "BYTES",
        .meaning = "requests being handled plus responses not yet sent, per connection; past "
                   "it the broker stops reading from that client until it catches up, "
                   "65536 to 2^40",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint64_t>(v, 65536, uint64_t{1} << 40);
            if (!parsed) return failure{parsed.error()};
            c.connection_memory_bytes = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.connection_memory_bytes);
        },
    });
    keys.push_back(config_key{
        .name = "connections_max_idle_ms",
        .flag = "--connections-max-idle-ms",
        .value_name = "MS",
        .meaning = "close a connection with no request in flight and no traffic for this "
                   "long, 100 to 2147483647 (Kafka connections.max.idle.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 100, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.connections_max_idle_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.connections_max_idle_ms);
        },
    });
    keys.push_back(config_key{
        .name = "flush_mode",
        .flag = "--flush-mode",
        .value_name = "group|interval|none",
        .meaning = "when a produced batch is acknowledged: group (after the fdatasync that "
                   "covers it; a crash loses nothing acknowledged), interval (after the "
                   "write; fdatasync every flush_interval_ms), none (after the write; "
                   "fdatasync only when a segment rolls)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_enum(v, flush_mode_names);
            if (!parsed) return failure{parsed.error()};
            c.flush_mode = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return std::string(to_string(c.flush_mode)); },
    });
    keys.push_back(config_key{
        .name = "flush_interval_ms",
        .flag = "--flush-interval-ms",
        .value_name = "MS",
        .meaning = "flush_mode interval only: the longest a written batch waits for its "
                   "fdatasync, 1 to 3600000",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, 3'600'000);
            if (!parsed) return failure{parsed.error()};
            c.flush_interval_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.flush_interval_ms); },
    });
    keys.push_back(config_key{
        .name = "cache_bytes_per_shard",
        .flag = "--cache-bytes-per-shard",
        .value_name = "BYTES",
        .meaning = "recently written batches each shard keeps in memory for consumers, "
                   "0 to 2^40",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint64_t>(v, 0, uint64_t{1} << 40);
            if (!parsed) return failure{parsed.error()};
            c.cache_bytes_per_shard = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.cache_bytes_per_shard);
        },
    });
    keys.push_back(config_key{
        .name = "min_free_bytes",
        .flag = "--min-free-bytes",
        .value_name = "BYTES",
        .meaning = "produce is refused (KAFKA_STORAGE_ERROR) while the data directory's file "
                   "system has less free space than this; reads go on, 0 to 2^50",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint64_t>(v, 0, uint64_t{1} << 50);
            if (!parsed) return failure{parsed.error()};
            c.min_free_bytes = *parsed;
            return {};
        },
        .render = [](const broker_config& c) { return fmt::format("{}", c.min_free_bytes); },
    });
    keys.push_back(config_key{
        .name = "log_retention_check_interval_ms",
        .flag = "--log-retention-check-interval-ms",
        .value_name = "MS",
        .meaning = "how often each partition deletes segments past retention.ms or "
                   "retention.bytes, 100 to 86400000 (Kafka log.retention.check.interval.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 100, 86'400'000);
            if (!parsed) return failure{parsed.error()};
            c.retention_check_interval_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.retention_check_interval_ms);
        },
    });
    keys.push_back(config_key{
        .name = "producer_id_expiration_ms",
        .flag = "--producer-id-expiration-ms",
        .value_name = "MS",
        .meaning = "a partition forgets an idempotent producer that has not written to it for "
                   "this long, 1 to 2147483647 (Kafka producer.id.expiration.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.producer_id_expiration_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.producer_id_expiration_ms);
        },
    });
    keys.push_back(config_key{
        .name = "producer_id_expiration_check_interval_ms",
        .flag = "--producer-id-expiration-check-interval-ms",
        .value_name = "MS",
        .meaning = "how often each partition looks for expired producer ids, 1 to 2147483647 "
                   "(Kafka producer.id.expiration.check.interval.ms)",
        .assign = [](broker_config& c, const raw_value& v) -> assign_result {
            auto parsed = parse_integer<uint32_t>(v, 1, INT32_MAX);
            if (!parsed) return failure{parsed.error()};
            c.producer_id_expiration_check_interval_ms = *parsed;
            return {};
        },
        .render = [](const broker_config& c) {
            return fmt::format("{}", c.producer_id_expiration_check_interval_ms);
        },
    });
    // Broker-wide defaults of topic configs, under Kafka's broker-level names.
    struct topic_default_key {
        std::string_view name;
        std::string_view flag;
        std::string_view topic_config;
        std::string_view value_name;
        std::string_view meaning;
    };
    static constexpr std::array<topic_default_key, 7> topic_default_keys{{
        {"log_retention_ms", "--log-retention-ms", "retention.ms", "MS",
         "default retention.ms of topics: delete whole segments older than this, -1 keeps "
         "them (Kafka log.retention.ms)"},
        {"log_retention_bytes", "--log-retention-bytes", "retention.bytes", "BYTES",
         "default retention.bytes: delete the oldest segments while a partition is larger, "
         "-1 no limit (Kafka log.retention.bytes)"},
        {"log_segment_bytes", "--log-segment-bytes", "segment.bytes", "BYTES",
         "default segment.bytes: roll to a new segment file past this size (Kafka "
         "log.segment.bytes)"},
        {"log_segment_ms", "--log-segment-ms", "segment.ms", "MS",
         "default segment.ms: roll a segment this long after its first append (Kafka "
         "log.roll.ms)"},
        {"log_cleanup_policy", "--log-cleanup-policy", "cleanup.policy", "POLICY",
         "default cleanup.policy: delete, compact, or compact,delete (Kafka "
         "log.cleanup.policy)"},
        {"message_max_bytes", "--message-max-bytes", "max.message.bytes", "BYTES",
         "default max.message.bytes: the largest record batch a producer may send (Kafka "
         "message.max.bytes)"},
        {"log_message_timestamp_type", "--log-message-timestamp-type", "message.timestamp.type",
         "TYPE",
         "default message.timestamp.type: CreateTime or LogAppendTime (Kafka "
         "log.message.timestamp.type)"},
    }};
    for (const topic_default_key& key : topic_default_keys) {
        const std::string topic_name(key.topic_config);
        keys.push_back(config_key{
            .name = key.name,
            .flag = key.flag,
            .value_name = key.value_name,
            .meaning = key.meaning,
            .assign = [topic_name](broker_config& c, const raw_value& v) -> assign_result {
                auto text = parse_string(v);
                if (!text) return failure{text.error()};
                auto valid = cluster::validate_topic_config(topic_name, *text);
                if (!valid) return failure{valid.error().message};
                c.topic_defaults[topic_name] = *valid;
                return {};
            },
            .render = [topic_name](const broker_config& c) {
                const auto it = c.topic_defaults.find(topic_name);
                if (it != c.topic_defaults.end()) return quote_yaml(it->second);
                return quote_yaml(cluster::find_topic_config(topic_name)->default_value);
            },
        });
    }
    return keys;
}

const std::vector<config_key>& all_keys() {
    static const std::vector<config_key> keys = build_keys();
    return keys;
}

std::string unknown_key_message(std::string_view name) {
    std::string message = "unknown key";
    size_t best = max_suggestion_distance + 1;
    for (const config_key& key : all_keys()) {
        const size_t distance = edit_distance(name, key.name);
        if (distance < best) {
            best = distance;
            message = fmt::format("unknown key; did you mean '{}'?", key.name);
        }
    }
    return message;
}

raw_value to_raw_value(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return {raw_value::shape::scalar, node.Scalar()};
        case YAML::NodeType::Sequence:
            return {raw_value::shape::sequence, {}};
        case YAML::NodeType::Map:
            return {raw_value::shape::map, {}};
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return {raw_value::shape::null, {}};
    }
    return {raw_value::shape::null, {}};
}

result<void, feed::feed_config_error> apply_feed_section(broker_config& config,
                                                        std::string_view name,
                                                        const YAML::Node& node) {
    if (name == "dpdk") {
        auto settings = feed::parse_dpdk_settings(node);
        if (!settings) return failure{std::move(settings.error())};
        config.dpdk = std::move(*settings);
        return {};
    }
    auto feeds = feed::parse_feeds(node);
    if (!feeds) return failure{std::move(feeds.error())};
    config.feeds = std::move(*feeds);
    return {};
}

config_result<broker_config> apply_yaml(const YAML::Node& root, std::string_view source,
                                        broker_config config) {
    const std::string source_name(source);
    if (root.IsNull()) return config;  // empty file, or comments only
    if (!root.IsMap()) {
        return failure{config_error{source_name, "expected a map of keys at the top level", ""}};
    }
    std::map<std::string, int, std::less<>> seen_on_line;
    for (const auto& entry : root) {
        const int line = entry.first.Mark().line + 1;
        if (!entry.first.IsScalar()) {
            return failure{config_error{
                source_name, fmt::format("line {}: keys must be plain names", line), ""}};
        }
        const std::string name = entry.first.Scalar();
        if (name == "feeds" || name == "dpdk") {
            // Nested sections: parsed by the feed library, errors name the
            // full path ("feeds[1].partitioning.key_offset").
            if (auto parsed = apply_feed_section(config, name, entry.second); !parsed) {
                return failure{config_error{parsed.error().key, parsed.error().message,
                                            source_name}};
            }
            config.sources.insert_or_assign(name, source_name);
            continue;
        }
        const config_key* key = find_config_key(name);
        if (key == nullptr) {
            return failure{config_error{name, unknown_key_message(name), source_name}};
        }
        const auto [previous, inserted] = seen_on_line.emplace(name, line);
        if (!inserted) {
            return failure{config_error{
                name, fmt::format("set twice (lines {} and {})", previous->second, line),
                source_name}};
        }
        auto assigned = key->assign(config, to_raw_value(entry.second));
        if (!assigned) return failure{config_error{name, assigned.error(), source_name}};
        config.sources.insert_or_assign(name, source_name);
    }
    return config;
}

config_result<std::string> read_config_file(const std::string& path) {
    const auto fail = [&path](std::string message) -> config_result<std::string> {
        return failure{config_error{path, std::move(message), ""}};
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(fmt::format("cannot open config file: {}", std::strerror(errno)));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        return fail("not a regular file");
    }
    if (static_cast<size_t>(info.st_size) > max_config_file_bytes) {
        ::close(fd);
        return fail(fmt::format("larger than {} bytes: not a config file", max_config_file_bytes));
    }
    std::string text(static_cast<size_t>(info.st_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int saved = errno;
            ::close(fd);
            return fail(fmt::format("cannot read config file: {}", std::strerror(saved)));
        }
        if (n == 0) break;  // shrank while we read: take what is there
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    text.resize(done);
    return text;
}

unsigned usable_cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    int count = 0;
    if (::sched_getaffinity(0, sizeof(set), &set) == 0) count = CPU_COUNT(&set);
    if (count <= 0) count = static_cast<int>(std::thread::hardware_concurrency());
    return std::clamp(static_cast<unsigned>(count), 1u, broker_config::max_smp);
}

}  // namespace

std::string_view broker_config::source_of(std::string_view key) const {
    const auto found = sources.find(key);
    return found == sources.end() ? std::string_view("built-in default") : found->second;
}

std::string config_error::to_string() const {
    if (source.empty()) return fmt::format("{}: {}", key, message);
    return fmt::format("{}: {} (from {})", key, message, source);
}

std::span<const config_key> config_keys() {
    return all_keys();
}

const config_key* find_config_key(std::string_view name) {
    for (const config_key& key : all_keys()) {
        if (key.name == name) return &key;
    }
    return nullptr;
}

broker_config default_config() {
    broker_config config;
    config.smp = usable_cpu_count();
    const auto set_address = [](network_address& address, std::string_view text) {
        auto parsed = uring::socket_address::parse(text);
        TL_ASSERT(parsed.ok(), "built-in default address does not parse");
        address = network_address{std::string(text), *parsed};
    };
    set_address(config.kafka_addr, "127.0.0.1:9092");
    set_address(config.admin_addr, "127.0.0.1:9644");
    return config;
}

config_result<broker_config> parse_config(std::string_view yaml_text, std::string_view source_name,
                                          broker_config base) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& error) {
        // yaml-cpp reports by exception; we turn it into a value right here.
        return failure{
            config_error{std::string(source_name),
                         fmt::format("line {}, column {}: invalid YAML: {}", error.mark.line + 1,
                                     error.mark.column + 1, error.msg),
                         ""}};
    }
    try {
        return apply_yaml(root, source_name, std::move(base));
    } catch (const YAML::Exception& error) {
        return failure{
            config_error{std::string(source_name), fmt::format("invalid YAML: {}", error.msg), ""}};
    }
}

config_result<broker_config> parse_config(std::string_view yaml_text,
                                          std::string_view source_name) {
    return parse_config(yaml_text, source_name, default_config());
}

config_result<broker_config> overlay_flags(broker_config base,
                                           std::span<const flag_setting> flags) {
    for (const flag_setting& flag : flags) {
        const config_key* key = find_config_key(flag.key);
        if (key == nullptr) {
            return failure{config_error{flag.flag, "unknown flag; see --help", ""}};
        }
        // A flag value is always a plain scalar: `--data-dir ''` means empty text.
        auto assigned = key->assign(base, raw_value{raw_value::shape::scalar, flag.value});
        if (!assigned) return failure{config_error{flag.key, assigned.error(), flag.flag}};
        base.sources.insert_or_assign(flag.key, flag.flag);
    }
    return base;
}

config_result<void> check_config(const broker_config& config) {
    if (!config.controller_voters.empty() &&
        std::ranges::none_of(config.controller_voters, [&](const controller_voter& v) {
            return v.id == config.node_id;
        })) {
        return failure{config_error{"controller_voters",
                                    fmt::format("must include this node's id {}", config.node_id),
                                    std::string(config.source_of("controller_voters"))}};
    }
    if (!config.advertised_kafka_addr.is_set()) {
        if (is_wildcard(config.kafka_addr.resolved)) {
            return failure{config_error{"advertised_kafka_addr",
                                        fmt::format("must be set when kafka_addr is a wildcard "
                                                    "address ('{}'): clients cannot dial it",
                                                    config.kafka_addr.text),
                                        std::string(config.source_of("kafka_addr"))}};
        }
        if (config.kafka_addr.resolved.port() == 0) {
            return failure{config_error{
                "advertised_kafka_addr",
                fmt::format(
                    "must be set when kafka_addr has port 0 ('{}'): clients cannot know the port",
                    config.kafka_addr.text),
                std::string(config.source_of("kafka_addr"))}};
        }
    }
    const auto& kafka = config.kafka_addr.resolved;
    const auto& admin = config.admin_addr.resolved;
    const bool same_port = kafka.port() != 0 && kafka.port() == admin.port();
    const bool hosts_overlap =
        kafka.to_string() == admin.to_string() || is_wildcard(kafka) || is_wildcard(admin);
    if (same_port && hosts_overlap) {
        return failure{config_error{"admin_addr",
                                    fmt::format("'{}' collides with kafka_addr '{}'",
                                                config.admin_addr.text, config.kafka_addr.text),
                                    std::string(config.source_of("admin_addr"))}};
    }
    return {};
}

config_result<broker_config> load_config(const std::string& path,
                                         std::span<const flag_setting> flags) {
    broker_config config = default_config();
    if (!path.empty()) {
        auto text = read_config_file(path);
        if (!text) return failure{text.error()};
        auto parsed = parse_config(*text, path, std::move(config));
        if (!parsed) return failure{parsed.error()};
        config = std::move(*parsed);
    }
    auto overlaid = overlay_flags(std::move(config), flags);
    if (!overlaid) return failure{overlaid.error()};
    auto checked = check_config(*overlaid);
    if (!checked) return failure{checked.error()};
    return overlaid;
}

std::string render_config_yaml(const broker_config& config) {
    std::string text;
    for (const config_key& key : all_keys()) {
        text += fmt::format("# {}\n{}: {}\n", key.meaning, key.name, key.render(config));
    }
    return text;
}

reactor::reactor_options to_reactor_options(const broker_config& config) {
    reactor::reactor_options options;
    options.shard_count = config.smp;
    options.polling = config.poll_mode;
    options.pinning = config.cpu_pinning;
    options.mailbox_capacity = config.mailbox_capacity;
    options.idle_spin = std::chrono::microseconds(config.idle_spin_us);
    options.stall_threshold = std::chrono::microseconds(config.reactor_stall_threshold_us);
    return options;
}

std::string_view to_string(log_level level) {
    return enum_to_string(level, log_level_names);
}
std::string_view to_string(reactor::poll_mode mode) {
    return enum_to_string(mode, poll_mode_names);
}
std::string_view to_string(reactor::cpu_pinning pinning) {
    return enum_to_string(pinning, cpu_pinning_names);
}

std::string_view to_string(storage::flush_mode mode) {
    return enum_to_string(mode, flush_mode_names);
}

}  // namespace tl::app
