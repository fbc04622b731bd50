#include "app/kafka_commands.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "app/exit_status.h"
#include "app/kafka_client.h"
#include "base/json.h"
#include "base/murmur2.h"
#include "kafka/messages/api_table.h"
#include "kafka/messages/create_topics.h"
#include "kafka/messages/delete_groups.h"
#include "kafka/messages/delete_topics.h"
#include "kafka/messages/describe_cluster.h"
#include "kafka/messages/describe_configs.h"
#include "kafka/messages/describe_groups.h"
#include "kafka/messages/fetch.h"
#include "kafka/messages/incremental_alter_configs.h"
#include "kafka/messages/list_groups.h"
#include "kafka/messages/list_offsets.h"
#include "kafka/messages/metadata.h"
#include "kafka/messages/offset_fetch.h"
#include "kafka/messages/produce.h"
#include "kafka/protocol/error_code.h"
#include "kafka/protocol/reader.h"
#include "storage/compression.h"
#include "storage/record_batch.h"

namespace tl::app {
namespace {

// Why a command stopped: exit status 2 (a bad argument) or 1 (everything
// else), and one line for stderr.
struct command_failure {
    exit_status status = exit_status::failure;
    std::string message;
};
using outcome = result<void, command_failure>;
template <typename T>
using command_result = result<T, command_failure>;

failure<command_failure> usage(std::string message) {
    return failure{command_failure{exit_status::config_error, std::move(message)}};
}
failure<command_failure> failed(std::string message) {
    return failure{command_failure{exit_status::failure, std::move(message)}};
}

int finish(const outcome& done) {
    if (done) return to_int(exit_status::ok);
    if (done.error().status == exit_status::config_error) {
        return report_usage_error(done.error().message);
    }
    std::fprintf(stderr, "tidectl: %s\n", done.error().message.c_str());
    return to_int(done.error().status);
}

// Kafka's resource type and config operation codes.
constexpr int8_t resource_type_topic = 2;
constexpr int8_t config_operation_set = 0;
constexpr int8_t config_operation_delete = 1;
// ListOffsets' special timestamps.
constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;
// How long admin requests give the broker to finish (CreateTopics, DeleteTopics).
constexpr int32_t admin_timeout_ms = 30000;
// Metadata retries while an auto-created topic gets its leaders.
constexpr int metadata_attempts_max = 20;
constexpr std::chrono::milliseconds metadata_retry_pause{100};
// Produce: one batch holds at most this many records or bytes of input.
constexpr size_t produce_batch_records_max = 1000;
constexpr size_t produce_batch_bytes_max = size_t{512} * 1024;
constexpr int32_t produce_timeout_ms = 30000;
// Consume: how much one Fetch may return, and how long it may wait for data.
constexpr int32_t fetch_partition_bytes_max = 1024 * 1024;
constexpr int32_t fetch_wait_ms_max = 500;
constexpr int64_t consume_timeout_ms_default = 5000;

std::span<const std::byte> as_bytes(std::string_view text) {
    return std::as_bytes(std::span(text.data(), text.size()));
}
std::string_view as_text(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string json_optional(std::optional<std::string_view> text) {
    return text ? json_string(*text) : "null";
}

template <typename T>
command_result<T> parse_number(std::string_view flag, std::string_view text, T minimum) {
    T value{};
    const auto [end, errc] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (errc != std::errc{} || end != text.data() + text.size() || value < minimum) {
        return usage(
            fmt::format("--{}: expected a whole number >= {}, got '{}'", flag, minimum, text));
    }
    return value;
}

// "k=v" into its halves; the key must not be empty.
command_result<std::pair<std::string_view, std::string_view>> split_setting(std::string_view flag,
                                                                            std::string_view text) {
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) {
        return usage(fmt::format("--{}: expected KEY=VALUE, got '{}'", flag, text));
    }
    return std::pair{text.substr(0, equals), text.substr(equals + 1)};
}

// --bootstrap, else $TIDELOG_BOOTSTRAP, else 127.0.0.1:9092.
command_result<kafka_client> connect(const command_arguments& arguments) {
    std::string text(default_bootstrap);
    const std::string variable(bootstrap_environment_variable);
    if (const char* value = std::getenv(variable.c_str()); value != nullptr && *value != '\0') {
        text = value;
    }
    if (auto flag = arguments.last("bootstrap")) text = std::string(*flag);
    auto address = parse_broker_address(text);
    if (!address) return usage(fmt::format("--bootstrap: {}", address.error()));
    auto client = kafka_client::connect(*address, client_options{});
    if (!client) return failed(client.error().message);
    return std::move(*client);
}

using metadata_response = decoded_response<kafka::metadata_response>;

// Metadata for `topics` (nullopt: every topic).
command_result<metadata_response> fetch_metadata(
    kafka_client& client, const std::optional<std::vector<std::string>>& topics,
    bool allow_auto_topic_creation) {
    kafka::metadata_request request;
    if (topics) {
        request.topics.emplace();
        for (const std::string& name : *topics) request.topics->push_back({.name = name});
    } else {
        request.topics = std::nullopt;
    }
    request.allow_auto_topic_creation = allow_auto_topic_creation;
    auto answer = client.call<kafka::metadata_response>(request);
    if (!answer) return failed(answer.error().message);
    return std::move(*answer);
}

// The partition count of `topic`, creating it if the broker auto-creates
// topics; retries while a new topic has no leaders yet.
command_result<int32_t> partition_count(kafka_client& client, const std::string& topic) {
    int16_t last_error = 0;
    for (int attempt = 0; attempt < metadata_attempts_max; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(metadata_retry_pause);
        auto metadata = fetch_metadata(client, std::vector{topic}, true);
        if (!metadata) return failure{metadata.error()};
        for (const auto& t : metadata->body.topics) {
            if (t.name != topic) continue;
            last_error = t.error_code;
            const bool retriable =
                t.error_code == kafka::code(kafka::error_code::leader_not_available);
            if (t.error_code == 0 && !t.partitions.empty()) {
                return static_cast<int32_t>(t.partitions.size());
            }
            if (!retriable && t.error_code != 0) {
                return failed(fmt::format("{}: {}", topic, describe_kafka_error(t.error_code)));
            }
        }
    }
    return failed(fmt::format("{}: no partition leaders after {} attempts (last error {})", topic,
                              metadata_attempts_max, describe_kafka_error(last_error)));
}

// --- topic ------------------------------------------------------------------------

outcome topic_create(const command_arguments& arguments) {
    const std::string_view name = arguments.positional[0];
    std::optional<int32_t> partitions;
    std::optional<int16_t> replication_factor;
    if (auto text = arguments.last("partitions")) {
        auto parsed = parse_number<int32_t>("partitions", *text, 1);
        if (!parsed) return failure{parsed.error()};
        partitions = *parsed;
    }
    if (auto text = arguments.last("replication-factor")) {
        auto parsed = parse_number<int16_t>("replication-factor", *text, 1);
        if (!parsed) return failure{parsed.error()};
        replication_factor = *parsed;
    }
    kafka::create_topics_request request;
    request.timeout_ms = admin_timeout_ms;
    auto& topic = request.topics.emplace_back();
    topic.name = name;
    for (const std::string_view setting : arguments.all("config")) {
        auto pair = split_setting("config", setting);
        if (!pair) return failure{pair.error()};
        topic.configs.push_back({.name = pair->first, .value = pair->second});
    }
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    // v4+ take -1 for "the broker's default"; older versions need a number.
    const bool defaults_allowed =
        client->version_for(kafka::api_keys::create_topics).value_or(0) >= 4;
    topic.num_partitions = partitions.value_or(defaults_allowed ? -1 : 1);
    topic.replication_factor = replication_factor.value_or(defaults_allowed ? -1 : 1);
    auto answer = client->call<kafka::create_topics_response>(request, admin_timeout_ms);
    if (!answer) return failed(answer.error().message);
    for (const auto& result : answer->body.topics) {
        if (result.error_code != 0) {
            return failed(
                fmt::format("cannot create topic {}: {}", result.name,
                            describe_kafka_error(result.error_code, result.error_message)));
        }
        std::string details;
        if (result.num_partitions > 0) {
            details = fmt::format(" ({} partitions, replication factor {})", result.num_partitions,
                                  result.replication_factor);
        }
        std::printf("created topic %.*s%s\n", static_cast<int>(result.name.size()),
                    result.name.data(), details.c_str());
    }
    return {};
}

outcome topic_delete(const command_arguments& arguments) {
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    kafka::delete_topics_request request;
    request.timeout_ms = admin_timeout_ms;
    const bool by_state = client->version_for(kafka::api_keys::delete_topics).value_or(0) >= 6;
    for (const std::string_view name : arguments.positional) {
        if (by_state) {
            request.topics.push_back({.name = name});
        } else {
            request.topic_names.push_back(name);
        }
    }
    auto answer = client->call<kafka::delete_topics_response>(request, admin_timeout_ms);
    if (!answer) return failed(answer.error().message);
    std::string errors;
    for (const auto& result : answer->body.responses) {
        const std::string_view name = result.name.value_or("?");
        if (result.error_code == 0) {
            std::printf("deleted topic %.*s\n", static_cast<int>(name.size()), name.data());
            continue;
        }
        if (!errors.empty()) errors += "; ";
        errors += fmt::format("cannot delete topic {}: {}", name,
                              describe_kafka_error(result.error_code, result.error_message));
    }
    if (!errors.empty()) return failed(std::move(errors));
    return {};
}

outcome topic_list(const command_arguments& arguments) {
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto metadata = fetch_metadata(*client, std::nullopt, false);
    if (!metadata) return failure{metadata.error()};
    auto topics = metadata->body.topics;
    std::ranges::sort(topics, {}, [](const auto& t) { return t.name.value_or(""); });
    if (arguments.has("json")) {
        std::string out = "{\"topics\":[";
        for (size_t i = 0; i < topics.size(); ++i) {
            const auto& t = topics[i];
            out += fmt::format("{}{{\"name\":{},\"partitions\":{},\"internal\":{}}}",
                               i == 0 ? "" : ",", json_optional(t.name), t.partitions.size(),
                               t.is_internal);
        }
        std::printf("%s]}\n", out.c_str());
        return {};
    }
    size_t width = 5;
    for (const auto& t : topics) width = std::max(width, t.name.value_or("").size());
    std::printf("%s\n", fmt::format("{:<{}}  PARTITIONS", "TOPIC", width).c_str());
    for (const auto& t : topics) {
        std::printf(
            "%s\n",
            fmt::format("{:<{}}  {}", t.name.value_or(""), width, t.partitions.size()).c_str());
    }
    return {};
}

// The offsets ListOffsets gives for `timestamp` per partition; -1 where it failed.
command_result<std::map<int32_t, int64_t>> list_offsets(kafka_client& client,
                                                        std::string_view topic,
                                                        const std::vector<int32_t>& partitions,
                                                        int64_t timestamp) {
    kafka::list_offsets_request request;
    request.replica_id = -1;  // a consumer, not a follower
    auto& t = request.topics.emplace_back();
    t.name = topic;
    for (const int32_t p : partitions) {
        t.partitions.push_back({.partition_index = p, .timestamp = timestamp});
    }
    auto answer = client.call<kafka::list_offsets_response>(request);
    if (!answer) return failed(answer.error().message);
    std::map<int32_t, int64_t> offsets;
    for (const auto& topic_response : answer->body.topics) {
        for (const auto& p : topic_response.partitions) {
            if (p.error_code != 0) {
                return failed(fmt::format("listing offsets of {}-{}: {}", topic, p.partition_index,
                                          describe_kafka_error(p.error_code)));
            }
            offsets[p.partition_index] = p.offset;
        }
    }
    return offsets;
}

std::string_view config_source_name(int8_t source) {
    switch (source) {
        case 1:
            return "DYNAMIC_TOPIC_CONFIG";
        case 2:
            return "DYNAMIC_BROKER_CONFIG";
        case 3:
            return "DYNAMIC_DEFAULT_BROKER_CONFIG";
        case 4:
            return "STATIC_BROKER_CONFIG";
        case 5:
            return "DEFAULT_CONFIG";
        case 6:
            return "DYNAMIC_BROKER_LOGGER_CONFIG";
        default:
            return "UNKNOWN";
    }
}

std::string join_ints(const std::vector<int32_t>& values, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) {
        out += fmt::format("{}{}", i == 0 ? "" : separator, values[i]);
    }
    return out;
}

struct config_entry {
    std::string name;
    std::optional<std::string> value;
    std::string_view source;
    bool sensitive = false;
};

// The topic's configs, or nullopt when the broker does not serve DescribeConfigs.
command_result<std::optional<std::vector<config_entry>>> describe_topic_configs(
    kafka_client& client, std::string_view topic) {
    if (!client.version_for(kafka::api_keys::describe_configs)) {
        return std::optional<std::vector<config_entry>>{};
    }
    kafka::describe_configs_request request;
    request.resources.push_back({.resource_type = resource_type_topic,
                                 .resource_name = topic,
                                 .configuration_keys = std::nullopt});
    auto answer = client.call<kafka::describe_configs_response>(request);
    if (!answer) return failed(answer.error().message);
    std::vector<config_entry> entries;
    for (const auto& r : answer->body.results) {
        if (r.error_code != 0) {
            return failed(fmt::format("describing configs of {}: {}", topic,
                                      describe_kafka_error(r.error_code, r.error_message)));
        }
        for (const auto& c : r.configs) {
            entries.push_back({std::string(c.name),
                               c.value ? std::optional<std::string>(*c.value) : std::nullopt,
                               config_source_name(c.config_source), c.is_sensitive});
        }
    }
    std::ranges::sort(entries, {}, &config_entry::name);
    return std::optional{std::move(entries)};
}

void print_topic_json(const kafka::metadata_response::metadata_response_topic& topic,
                      const std::map<int32_t, int64_t>& earliest,
                      const std::map<int32_t, int64_t>& latest,
                      const std::optional<std::vector<config_entry>>& configs) {
    std::string out = fmt::format("{{\"name\":{},\"partitions\":[", json_optional(topic.name));
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
        const auto& p = topic.partitions[i];
        out += fmt::format(
            "{}{{\"partition\":{},\"leader\":{},\"replicas\":[{}],\"isr\":[{}],"
            "\"earliest_offset\":{},\"latest_offset\":{}}}",
            i == 0 ? "" : ",", p.partition_index, p.leader_id, join_ints(p.replica_nodes, ","),
            join_ints(p.isr_nodes, ","),
            earliest.contains(p.partition_index) ? earliest.at(p.partition_index) : -1,
            latest.contains(p.partition_index) ? latest.at(p.partition_index) : -1);
    }
    out += "],\"configs\":";
    if (!configs) {
        out += "null";
    } else {
        out += "[";
        for (size_t i = 0; i < configs->size(); ++i) {
            const config_entry& c = (*configs)[i];
            out += fmt::format("{}{{\"name\":{},\"value\":{},\"source\":{},\"sensitive\":{}}}",
                               i == 0 ? "" : ",", json_string(c.name), json_optional(c.value),
                               json_string(c.source), c.sensitive);
        }
        out += "]";
    }
    std::printf("%s}\n", out.c_str());
}

void print_topic_text(const kafka::metadata_response::metadata_response_topic& topic,
                      const std::map<int32_t, int64_t>& earliest,
                      const std::map<int32_t, int64_t>& latest,
                      const std::optional<std::vector<config_entry>>& configs) {
    std::printf("topic: %s\npartitions: %zu\n", std::string(topic.name.value_or("")).c_str(),
                topic.partitions.size());
    std::printf("%s\n", fmt::format("{:>9}  {:>6}  {:<10}  {:<10}  {:>14}  {:>14}", "PARTITION",
                                    "LEADER", "REPLICAS", "ISR", "EARLIEST", "LATEST")
                            .c_str());
    for (const auto& p : topic.partitions) {
        const auto offset = [&p](const std::map<int32_t, int64_t>& m) {
            return m.contains(p.partition_index) ? std::to_string(m.at(p.partition_index)) : "-";
        };
        std::printf("%s\n",
                    fmt::format("{:>9}  {:>6}  {:<10}  {:<10}  {:>14}  {:>14}", p.partition_index,
                                p.leader_id, join_ints(p.replica_nodes, ","),
                                join_ints(p.isr_nodes, ","), offset(earliest), offset(latest))
                        .c_str());
    }
    if (!configs) {
        std::printf("configs: not shown: the broker does not serve DescribeConfigs\n");
        return;
    }
    std::printf("configs:\n");
    for (const config_entry& c : *configs) {
        const std::string value = c.sensitive ? "(sensitive)" : c.value.value_or("(null)");
        std::printf("  %s=%s  (%.*s)\n", c.name.c_str(), value.c_str(),
                    static_cast<int>(c.source.size()), c.source.data());
    }
}

outcome topic_describe(const command_arguments& arguments) {
    const std::string name(arguments.positional[0]);
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto metadata = fetch_metadata(*client, std::vector{name}, false);
    if (!metadata) return failure{metadata.error()};
    const auto& topics = metadata->body.topics;
    const auto topic = std::ranges::find_if(topics, [&](const auto& t) { return t.name == name; });
    if (topic == topics.end()) return failed(fmt::format("{}: not in the broker's metadata", name));
    if (topic->error_code != 0) {
        return failed(fmt::format("{}: {}", name, describe_kafka_error(topic->error_code)));
    }
    std::vector<int32_t> partitions;
    for (const auto& p : topic->partitions) partitions.push_back(p.partition_index);
    auto earliest = list_offsets(*client, name, partitions, earliest_timestamp);
    if (!earliest) return failure{earliest.error()};
    auto latest = list_offsets(*client, name, partitions, latest_timestamp);
    if (!latest) return failure{latest.error()};
    auto configs = describe_topic_configs(*client, name);
    if (!configs) return failure{configs.error()};
    if (arguments.has("json")) {
        print_topic_json(*topic, *earliest, *latest, *configs);
    } else {
        print_topic_text(*topic, *earliest, *latest, *configs);
    }
    return {};
}

outcome topic_alter_config(const command_arguments& arguments) {
    const std::string_view name = arguments.positional[0];
    kafka::incremental_alter_configs_request request;
    auto& resource = request.resources.emplace_back();
    resource.resource_type = resource_type_topic;
    resource.resource_name = name;
    std::vector<std::string> changes;
    for (const std::string_view setting : arguments.all("set")) {
        auto pair = split_setting("set", setting);
        if (!pair) return failure{pair.error()};
        resource.configs.push_back(
            {.name = pair->first, .config_operation = config_operation_set, .value = pair->second});
        changes.push_back(fmt::format("set {}", setting));
    }
    for (const std::string_view key : arguments.all("delete")) {
        resource.configs.push_back(
            {.name = key, .config_operation = config_operation_delete, .value = std::nullopt});
        changes.push_back(fmt::format("deleted {}", key));
    }
    if (resource.configs.empty()) return usage("topic alter-config needs --set K=V or --delete K");
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto answer = client->call<kafka::incremental_alter_configs_response>(request);
    if (!answer) return failed(answer.error().message);
    for (const auto& r : answer->body.responses) {
        if (r.error_code != 0) {
            return failed(fmt::format("cannot alter configs of topic {}: {}", name,
                                      describe_kafka_error(r.error_code, r.error_message)));
        }
    }
    std::string summary;
    for (const std::string& change : changes) summary += (summary.empty() ? "" : ", ") + change;
    std::printf("altered topic %.*s: %s\n", static_cast<int>(name.size()), name.data(),
                summary.c_str());
    return {};
}

// --- cluster ----------------------------------------------------------------------

struct cluster_broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
};
struct cluster_description {
    std::optional<std::string> cluster_id;
    int32_t controller_id = -1;
    std::vector<cluster_broker> brokers;
};

template <typename Broker>
cluster_broker to_cluster_broker(const Broker& b, int32_t node_id) {
    return {node_id, std::string(b.host), b.port,
            b.rack ? std::optional<std::string>(*b.rack) : std::nullopt};
}

// DescribeCluster when the broker serves it, else Metadata for no topics.
command_result<cluster_description> describe_cluster(kafka_client& client) {
    cluster_description out;
    if (client.version_for(kafka::api_keys::describe_cluster)) {
        auto answer =
            client.call<kafka::describe_cluster_response>(kafka::describe_cluster_request{});
        if (!answer) return failed(answer.error().message);
        const auto& body = answer->body;
        if (body.error_code != 0) {
            return failed(fmt::format("DescribeCluster failed: {}",
                                      describe_kafka_error(body.error_code, body.error_message)));
        }
        out.cluster_id = std::string(body.cluster_id);
        out.controller_id = body.controller_id;
        for (const auto& b : body.brokers) out.brokers.push_back(to_cluster_broker(b, b.broker_id));
        return out;
    }
    auto metadata = fetch_metadata(client, std::vector<std::string>{}, false);
    if (!metadata) return failure{metadata.error()};
    const auto& body = metadata->body;
    if (body.cluster_id) out.cluster_id = std::string(*body.cluster_id);
    out.controller_id = body.controller_id;
    for (const auto& b : body.brokers) out.brokers.push_back(to_cluster_broker(b, b.node_id));
    return out;
}

std::string api_name(int16_t api_key) {
    if (const kafka::api_schema* schema = kafka::find_api_schema(api_key)) {
        return std::string(schema->name);
    }
    return fmt::format("api_{}", api_key);
}

outcome cluster_info(const command_arguments& arguments) {
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto cluster = describe_cluster(*client);
    if (!cluster) return failure{cluster.error()};
    std::ranges::sort(cluster->brokers, {}, &cluster_broker::node_id);
    const bool verbose = arguments.has("verbose");
    if (arguments.has("json")) {
        std::string out = fmt::format("{{\"cluster_id\":{},\"controller_id\":{},\"brokers\":[",
                                      json_optional(cluster->cluster_id), cluster->controller_id);
        for (size_t i = 0; i < cluster->brokers.size(); ++i) {
            const cluster_broker& b = cluster->brokers[i];
            out += fmt::format("{}{{\"node_id\":{},\"host\":{},\"port\":{},\"rack\":{}}}",
                               i == 0 ? "" : ",", b.node_id, json_string(b.host), b.port,
                               json_optional(b.rack));
        }
        out += "],\"api_versions\":[";
        const auto apis = client->broker_versions();
        for (size_t i = 0; i < apis.size(); ++i) {
            out += fmt::format(
                "{}{{\"api_key\":{},\"name\":{},\"min_version\":{},\"max_version\":{}}}",
                i == 0 ? "" : ",", apis[i].api_key, json_string(api_name(apis[i].api_key)),
                apis[i].min_version, apis[i].max_version);
        }
        std::printf("%s]}\n", out.c_str());
        return {};
    }
    std::printf("cluster id: %s\ncontroller: %d\nbrokers:\n",
                cluster->cluster_id.value_or("(none)").c_str(), cluster->controller_id);
    for (const cluster_broker& b : cluster->brokers) {
        const std::string rack = b.rack ? fmt::format("  rack {}", *b.rack) : "";
        std::printf("  %d  %s:%d%s\n", b.node_id, b.host.c_str(), b.port, rack.c_str());
    }
    if (verbose) {
        std::printf("api versions served by %s:\n", client->address().to_string().c_str());
        for (const auto& api : client->broker_versions()) {
            std::printf("%s\n", fmt::format("  {:<26} key {:>2}  v{}-{}", api_name(api.api_key),
                                            api.api_key, api.min_version, api.max_version)
                                    .c_str());
        }
    }
    return {};
}

// --- produce ----------------------------------------------------------------------

struct produce_settings {
    std::string topic;
    std::optional<int32_t> partition;
    int16_t acks = -1;
    std::optional<std::string> key;
    std::optional<std::string> key_separator;
    std::vector<std::pair<std::string, std::string>> headers;
};

command_result<produce_settings> parse_produce_settings(const command_arguments& arguments) {
    produce_settings s;
    s.topic = std::string(arguments.positional[0]);
    if (auto text = arguments.last("partition")) {
        auto parsed = parse_number<int32_t>("partition", *text, 0);
        if (!parsed) return failure{parsed.error()};
        s.partition = *parsed;
    }
    if (auto text = arguments.last("acks")) {
        if (*text == "all" || *text == "-1") {
            s.acks = -1;
        } else if (*text == "0" || *text == "1") {
            s.acks = static_cast<int16_t>((*text)[0] - '0');
        } else {
            return usage(fmt::format("--acks: expected 0, 1 or all, got '{}'", *text));
        }
    }
    if (auto key = arguments.last("key")) s.key = std::string(*key);
    if (auto separator = arguments.last("key-separator")) {
        if (separator->empty()) return usage("--key-separator: must not be empty");
        if (s.key) return usage("--key and --key-separator exclude each other");
        if (arguments.has("value")) return usage("--key-separator applies to stdin, not --value");
        s.key_separator = std::string(*separator);
    }
    for (const std::string_view header : arguments.all("header")) {
        auto pair = split_setting("header", header);
        if (!pair) return failure{pair.error()};
        s.headers.emplace_back(pair->first, pair->second);
    }
    return s;
}

struct pending_record {
    std::optional<std::string> key;
    std::string value;
};

// Sends one batch and prints partition@base_offset.
outcome send_batch(kafka_client& client, const produce_settings& settings, int32_t partition,
                   const std::vector<pending_record>& records) {
    std::vector<storage::record_header> headers;
    for (const auto& [k, v] : settings.headers) {
        headers.push_back({.key = as_bytes(k), .value = as_bytes(v)});
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    storage::record_batch_builder builder;
    for (const pending_record& r : records) {
        storage::record_input input{.timestamp_ms = now_ms,
                                    .key = std::nullopt,
                                    .value = as_bytes(r.value),
                                    .headers = headers};
        if (r.key) input.key = as_bytes(*r.key);
        builder.add_record(input);
    }
    const std::vector<std::byte> batch = builder.build();
    kafka::produce_request request;
    request.acks = settings.acks;
    request.timeout_ms = produce_timeout_ms;
    auto& topic = request.topic_data.emplace_back();
    topic.name = settings.topic;
    topic.partition_data.push_back({.index = partition, .records = kafka::bytes_view(batch)});
    if (settings.acks == 0) {
        if (auto sent = client.send_only(request); !sent) return failed(sent.error().message);
        std::printf("%d@? (%zu records, acks=0: no offset)\n", partition, records.size());
        return {};
    }
    auto answer = client.call<kafka::produce_response>(request, produce_timeout_ms);
    if (!answer) return failed(answer.error().message);
    for (const auto& t : answer->body.responses) {
        for (const auto& p : t.partition_responses) {
            if (p.error_code != 0) {
                return failed(fmt::format("produce to {}-{}: {}", settings.topic, p.index,
                                          describe_kafka_error(p.error_code, p.error_message)));
            }
            std::printf("%d@%lld\n", p.index, static_cast<long long>(p.base_offset));
        }
    }
    return {};
}

outcome produce(const command_arguments& arguments) {
    auto settings = parse_produce_settings(arguments);
    if (!settings) return failure{settings.error()};
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto partitions = partition_count(*client, settings->topic);
    if (!partitions) return failure{partitions.error()};
    if (settings->partition && *settings->partition >= *partitions) {
        return failed(fmt::format("{} has {} partitions; there is no partition {}", settings->topic,
                                  *partitions, *settings->partition));
    }
    const auto choose = [&](const std::optional<std::string>& key) {
        if (settings->partition) return *settings->partition;
        return key ? murmur2_partition(as_bytes(*key), *partitions) : 0;
    };
    // Records wait per partition until a batch is full or the input ends.
    std::map<int32_t, std::vector<pending_record>> pending;
    std::map<int32_t, size_t> pending_bytes;
    const auto add = [&](pending_record record) -> outcome {
        const int32_t partition = choose(record.key);
        pending_bytes[partition] += record.value.size() + (record.key ? record.key->size() : 0);
        pending[partition].push_back(std::move(record));
        if (pending[partition].size() < produce_batch_records_max &&
            pending_bytes[partition] < produce_batch_bytes_max) {
            return {};
        }
        auto sent = send_batch(*client, *settings, partition, pending[partition]);
        pending[partition].clear();
        pending_bytes[partition] = 0;
        return sent;
    };
    if (auto value = arguments.last("value")) {
        if (auto added = add({settings->key, std::string(*value)}); !added) return added;
    } else {
        std::string line;
        while (std::getline(std::cin, line)) {
            pending_record record{settings->key, line};
            if (settings->key_separator) {
                const size_t at = line.find(*settings->key_separator);
                if (at != std::string::npos) {
                    record.key = line.substr(0, at);
                    record.value = line.substr(at + settings->key_separator->size());
                }
            }
            if (auto added = add(std::move(record)); !added) return added;
        }
    }
    for (const auto& [partition, records] : pending) {
        if (records.empty()) continue;
        if (auto sent = send_batch(*client, *settings, partition, records); !sent) return sent;
    }
    return {};
}

// --- consume ----------------------------------------------------------------------

struct consume_settings {
    std::string topic;
    int32_t partition = 0;
    std::string offset = "earliest";  // earliest, latest or a number
    std::optional<int64_t> count;
    int64_t timeout_ms = consume_timeout_ms_default;
    std::string format = "%v";
};

command_result<consume_settings> parse_consume_settings(const command_arguments& arguments) {
    consume_settings s;
    s.topic = std::string(arguments.positional[0]);
    if (auto text = arguments.last("partition")) {
        auto parsed = parse_number<int32_t>("partition", *text, 0);
        if (!parsed) return failure{parsed.error()};
        s.partition = *parsed;
    }
    if (auto text = arguments.last("offset")) {
        if (*text != "earliest" && *text != "latest") {
            auto parsed = parse_number<int64_t>("offset", *text, 0);
            if (!parsed) return failure{parsed.error()};
        }
        s.offset = std::string(*text);
    }
    if (auto text = arguments.last("count")) {
        auto parsed = parse_number<int64_t>("count", *text, 1);
        if (!parsed) return failure{parsed.error()};
        s.count = *parsed;
    }
    if (auto text = arguments.last("timeout-ms")) {
        auto parsed = parse_number<int64_t>("timeout-ms", *text, 0);
        if (!parsed) return failure{parsed.error()};
        s.timeout_ms = *parsed;
    }
    if (auto text = arguments.last("format")) s.format = std::string(*text);
    return s;
}

// One record through --format: %t topic, %p partition, %o offset, %k key,
// %v value, %T timestamp (ms), %h headers (k=v,...), %% a percent sign; \n
// and \t are a newline and a tab. A line break follows each record.
std::string format_record(std::string_view format, const consume_settings& settings, int64_t offset,
                          int64_t timestamp_ms, const storage::record_view& record) {
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if ((c != '%' && c != '\\') || i + 1 == format.size()) {
            out += c;
            continue;
        }
        const char next = format[++i];
        if (c == '\\') {
            out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
            continue;
        }
        switch (next) {
            case 't':
                out += settings.topic;
                break;
            case 'p':
                out += std::to_string(settings.partition);
                break;
            case 'o':
                out += std::to_string(offset);
                break;
            case 'T':
                out += std::to_string(timestamp_ms);
                break;
            case 'k':
                if (record.key) out += as_text(*record.key);
                break;
            case 'v':
                if (record.value) out += as_text(*record.value);
                break;
            case 'h': {
                storage::header_reader headers = record.headers();
                storage::record_header h;
                bool first = true;
                while (headers.next(h)) {
                    out += fmt::format("{}{}={}", first ? "" : ",", as_text(h.key),
                                       h.value ? as_text(*h.value) : "");
                    first = false;
                }
                break;
            }
            case '%':
                out += '%';
                break;
            default:
                out += '%';
                out += next;
        }
    }
    return out + "\n";
}

std::string_view codec_name(storage::compression_codec codec) {
    switch (codec) {
        case storage::compression_codec::none:
            return "none";
        case storage::compression_codec::gzip:
            return "gzip";
        case storage::compression_codec::snappy:
            return "snappy";
        case storage::compression_codec::lz4:
            return "lz4";
        case storage::compression_codec::zstd:
            return "zstd";
    }
    return "unknown";
}

// Prints the records at or after `next_offset` from the batches in `records`,
// up to `remaining`; advances next_offset past each whole batch. A partial
// batch at the end (the fetch size cut it) is left for the next Fetch.
command_result<int64_t> print_batches(std::span<const std::byte> records,
                                      const consume_settings& settings, int64_t& next_offset,
                                      int64_t remaining) {
    int64_t printed = 0;
    while (!records.empty() && printed < remaining) {
        auto size = storage::peek_batch_size(records, std::numeric_limits<int32_t>::max());
        if (!size || *size > records.size()) break;
        const auto batch = records.first(*size);
        records = records.subspan(*size);
        auto header = storage::validate_batch(
            batch, {.max_batch_size_bytes = *size,
                    .offset_deltas = storage::offset_delta_policy::allow_gaps,
                    .record_count = storage::record_count_policy::allow_empty});
        if (!header) {
            return failed(fmt::format("{}-{}: bad batch at offset >= {}: {}", settings.topic,
                                      settings.partition, next_offset,
                                      storage::name(header.error())));
        }
        if (!header->is_control()) {
            // Compressed or not: both snappy framings and every codec decode.
            auto walked = storage::for_each_decoded_record(
                batch, [&](const storage::decoded_record& r) {
                    if (r.offset < next_offset) return true;
                    std::fputs(format_record(settings.format, settings, r.offset, r.timestamp_ms,
                                             *r.record)
                                   .c_str(),
                               stdout);
                    next_offset = r.offset + 1;
                    return ++printed < remaining;
                });
            if (!walked) {
                return failed(fmt::format("{}-{}: bad record in the {} batch at offset {}: {}",
                                          settings.topic, settings.partition,
                                          codec_name(header->compression()), header->base_offset,
                                          storage::name(walked.error())));
            }
            if (printed >= remaining) break;
        }
        next_offset = std::max(next_offset, header->last_offset() + 1);
    }
    std::fflush(stdout);
    return printed;
}

command_result<int64_t> start_offset(kafka_client& client, const consume_settings& settings) {
    if (settings.offset != "earliest" && settings.offset != "latest") {
        return std::stoll(settings.offset);
    }
    const int64_t timestamp = settings.offset == "earliest" ? earliest_timestamp : latest_timestamp;
    auto offsets = list_offsets(client, settings.topic, {settings.partition}, timestamp);
    if (!offsets) return failure{offsets.error()};
    if (!offsets->contains(settings.partition)) {
        return failed(fmt::format("{}-{}: no offset in the ListOffsets answer", settings.topic,
                                  settings.partition));
    }
    return offsets->at(settings.partition);
}

outcome consume(const command_arguments& arguments) {
    using clock = std::chrono::steady_clock;
    auto settings = parse_consume_settings(arguments);
    if (!settings) return failure{settings.error()};
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto offset = start_offset(*client, *settings);
    if (!offset) return failure{offset.error()};
    int64_t next_offset = *offset;
    int64_t printed = 0;
    const int64_t wanted = settings->count.value_or(std::numeric_limits<int64_t>::max());
    // The timeout counts from the last record printed (or the start).
    auto quiet_until = clock::now() + std::chrono::milliseconds(settings->timeout_ms);
    while (printed < wanted) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(quiet_until - clock::now());
        if (left.count() <= 0) break;
        kafka::fetch_request request;
        request.replica_id = -1;
        request.max_wait_ms =
            static_cast<int32_t>(std::min<int64_t>(left.count(), fetch_wait_ms_max));
        request.min_bytes = 1;
        request.max_bytes = fetch_partition_bytes_max;
        auto& topic = request.topics.emplace_back();
        topic.topic = settings->topic;
        topic.partitions.push_back({.partition = settings->partition,
                                    .fetch_offset = next_offset,
                                    .partition_max_bytes = fetch_partition_bytes_max});
        auto answer = client->call<kafka::fetch_response>(
            request, static_cast<uint32_t>(request.max_wait_ms));
        if (!answer) return failed(answer.error().message);
        if (answer->body.error_code != 0) {
            return failed(
                fmt::format("fetch failed: {}", describe_kafka_error(answer->body.error_code)));
        }
        for (const auto& t : answer->body.responses) {
            for (const auto& p : t.partitions) {
                if (p.error_code != 0) {
                    return failed(fmt::format("fetch from {}-{} at offset {}: {}", settings->topic,
                                              p.partition_index, next_offset,
                                              describe_kafka_error(p.error_code)));
                }
                if (!p.records) continue;
                auto got =
                    print_batches(p.records->span(), *settings, next_offset, wanted - printed);
                if (!got) return failure{got.error()};
                if (*got > 0) {
                    printed += *got;
                    quiet_until = clock::now() + std::chrono::milliseconds(settings->timeout_ms);
                }
            }
        }
    }
    if (settings->count && printed < *settings->count) {
        return failed(fmt::format("consume: {} of {} records from {}-{} before the {} ms timeout",
                                  printed, *settings->count, settings->topic, settings->partition,
                                  settings->timeout_ms));
    }
    return {};
}

// --- group ------------------------------------------------------------------------

// A member's partitions, decoded from its consumer-protocol assignment:
// version int16, [topic string, [partition int32]], user_data bytes (v1+
// adds nothing we show). Classic groups only: other protocol types are not
// decoded and show no partitions.
using topic_partitions = std::map<std::string, std::vector<int32_t>>;

std::optional<topic_partitions> decode_consumer_assignment(std::span<const std::byte> bytes) {
    topic_partitions out;
    if (bytes.empty()) return out;
    kafka::reader r(bytes, 0);
    const int16_t version = r.read_int16();
    const int32_t topics = r.read_int32();
    if (!r.ok() || version < 0 || topics < 0) return std::nullopt;
    for (int32_t t = 0; t < topics && r.ok(); ++t) {
        const std::string topic(r.read_string(false));
        const int32_t count = r.read_int32();
        if (!r.ok() || count < 0 || static_cast<size_t>(count) > r.remaining() / 4) {
            return std::nullopt;
        }
        auto& partitions = out[topic];
        for (int32_t i = 0; i < count; ++i) partitions.push_back(r.read_int32());
        std::ranges::sort(partitions);
    }
    if (!r.ok()) return std::nullopt;
    return out;
}

std::string assignment_text(const topic_partitions& assignment) {
    std::string out;
    for (const auto& [topic, partitions] : assignment) {
        out += fmt::format("{}{}:{}", out.empty() ? "" : " ", topic, join_ints(partitions, ","));
    }
    return out.empty() ? "-" : out;
}

struct group_member {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    std::optional<topic_partitions> assignment;  // nullopt: not a consumer assignment
};

struct partition_offsets {
    int64_t committed = -1;  // -1: none
    int64_t log_end = -1;    // -1: unknown
    std::string owner;       // member id, or empty
};

struct group_description {
    std::string group_id;
    std::string state;
    std::string protocol_type;
    std::string protocol;
    std::vector<group_member> members;
    std::map<std::pair<std::string, int32_t>, partition_offsets> offsets;
};

constexpr int16_t coordinator_load_in_progress = code(kafka::error_code::coordinator_load_in_progress);
constexpr int16_t group_id_not_found = code(kafka::error_code::group_id_not_found);

command_result<group_description> describe_group(kafka_client& client, const std::string& group) {
    kafka::describe_groups_request describe;
    describe.groups.push_back(group);
    // A coordinator that is replaying __consumer_offsets after a restart
    // answers COORDINATOR_LOAD_IN_PROGRESS for a moment: retry, bounded.
    auto described = client.call<kafka::describe_groups_response>(describe);
    for (int attempt = 1;
         attempt < metadata_attempts_max && described && described->body.groups.size() == 1 &&
         described->body.groups[0].error_code == coordinator_load_in_progress;
         ++attempt) {
        std::this_thread::sleep_for(metadata_retry_pause);
        described = client.call<kafka::describe_groups_response>(describe);
    }
    if (!described) return failed(described.error().message);
    if (described->body.groups.size() != 1) {
        return failed(fmt::format("DescribeGroups answered {} groups for one",
                                  described->body.groups.size()));
    }
    const auto& g = described->body.groups[0];
    if (g.error_code == group_id_not_found) {
        return failed(fmt::format("group {} does not exist", group));
    }
    if (g.error_code != 0) {
        return failed(
            fmt::format("describing group {}: {}", group, describe_kafka_error(g.error_code)));
    }
    group_description out{std::string(g.group_id),
                          std::string(g.group_state),
                          std::string(g.protocol_type),
                          std::string(g.protocol_data),
                          {},
                          {}};
    for (const auto& m : g.members) {
        group_member member{
            std::string(m.member_id),
            m.group_instance_id ? std::optional<std::string>(*m.group_instance_id) : std::nullopt,
            std::string(m.client_id), std::string(m.client_host), std::nullopt};
        if (g.protocol_type == "consumer") {
            member.assignment = decode_consumer_assignment(m.member_assignment.span());
        }
        if (member.assignment) {
            for (const auto& [topic, partitions] : *member.assignment) {
                for (const int32_t p : partitions) out.offsets[{topic, p}].owner = member.member_id;
            }
        }
        out.members.push_back(std::move(member));
    }
    std::ranges::sort(out.members, {}, &group_member::member_id);

    kafka::offset_fetch_request fetch;
    fetch.group_id = group;
    fetch.topics = std::nullopt;  // every committed partition (v2+)
    auto fetched = client.call<kafka::offset_fetch_response>(fetch);
    for (int attempt = 1; attempt < metadata_attempts_max && fetched &&
                          fetched->body.error_code == coordinator_load_in_progress;
         ++attempt) {
        std::this_thread::sleep_for(metadata_retry_pause);
        fetched = client.call<kafka::offset_fetch_response>(fetch);
    }
    if (!fetched) return failed(fetched.error().message);
    if (fetched->body.error_code != 0) {
        return failed(fmt::format("fetching the offsets of group {}: {}", group,
                                  describe_kafka_error(fetched->body.error_code)));
    }
    for (const auto& t : fetched->body.topics) {
        for (const auto& p : t.partitions) {
            if (p.error_code != 0) {
                return failed(fmt::format("committed offset of {}-{} in group {}: {}", t.name,
                                          p.partition_index, group,
                                          describe_kafka_error(p.error_code)));
            }
            if (p.committed_offset < 0) continue;
            out.offsets[{std::string(t.name), p.partition_index}].committed = p.committed_offset;
        }
    }
    if (out.state == "Dead" && out.members.empty() && out.offsets.empty()) {
        return failed(fmt::format("group {} does not exist", group));
    }
    // Log end offsets, one ListOffsets per topic.
    std::map<std::string, std::vector<int32_t>> by_topic;
    for (const auto& [key, _] : out.offsets) by_topic[key.first].push_back(key.second);
    for (const auto& [topic, partitions] : by_topic) {
        auto latest = list_offsets(client, topic, partitions, latest_timestamp);
        if (!latest) return failure{latest.error()};
        for (const auto& [p, offset] : *latest) out.offsets[{topic, p}].log_end = offset;
    }
    return out;
}

// Lag: log end - committed; unknown (nullopt) without a commit or an end.
std::optional<int64_t> lag_of(const partition_offsets& o) {
    if (o.committed < 0 || o.log_end < 0) return std::nullopt;
    return std::max<int64_t>(0, o.log_end - o.committed);
}

void print_group_json(const group_description& g) {
    std::string out = fmt::format(
        "{{\"group\":{},\"state\":{},\"protocol_type\":{},\"protocol\":{},\"members\":[",
        json_string(g.group_id), json_string(g.state), json_string(g.protocol_type),
        json_string(g.protocol));
    for (size_t i = 0; i < g.members.size(); ++i) {
        const group_member& m = g.members[i];
        out += fmt::format(
            "{}{{\"member_id\":{},\"instance_id\":{},\"client_id\":{},\"client_host\":{},"
            "\"assignment\":",
            i == 0 ? "" : ",", json_string(m.member_id), json_optional(m.instance_id),
            json_string(m.client_id), json_string(m.client_host));
        if (!m.assignment) {
            out += "null}";
            continue;
        }
        out += "[";
        bool first = true;
        for (const auto& [topic, partitions] : *m.assignment) {
            out += fmt::format("{}{{\"topic\":{},\"partitions\":[{}]}}", first ? "" : ",",
                               json_string(topic), join_ints(partitions, ","));
            first = false;
        }
        out += "]}";
    }
    out += "],\"offsets\":[";
    bool first = true;
    for (const auto& [key, o] : g.offsets) {
        const auto lag = lag_of(o);
        out += fmt::format(
            "{}{{\"topic\":{},\"partition\":{},\"committed_offset\":{},\"log_end_offset\":{},"
            "\"lag\":{},\"member_id\":{}}}",
            first ? "" : ",", json_string(key.first), key.second,
            o.committed >= 0 ? std::to_string(o.committed) : "null",
            o.log_end >= 0 ? std::to_string(o.log_end) : "null",
            lag ? std::to_string(*lag) : "null", o.owner.empty() ? "null" : json_string(o.owner));
        first = false;
    }
    std::printf("%s]}\n", out.c_str());
}

void print_group_text(const group_description& g) {
    std::printf("group: %s\nstate: %s\nprotocol: %s%s%s\nmembers: %zu\n", g.group_id.c_str(),
                g.state.c_str(), g.protocol_type.empty() ? "-" : g.protocol_type.c_str(),
                g.protocol.empty() ? "" : "/", g.protocol.c_str(), g.members.size());
    if (!g.members.empty()) {
        // Columns as wide as their longest value (member ids run to ~60 characters).
        size_t member_width = 6;
        size_t instance_width = 8;
        size_t client_width = 6;
        size_t host_width = 4;
        for (const group_member& m : g.members) {
            member_width = std::max(member_width, m.member_id.size());
            instance_width = std::max(instance_width, m.instance_id.value_or("-").size());
            client_width = std::max(client_width, m.client_id.size());
            host_width = std::max(host_width, m.client_host.size());
        }
        const auto row = [&](std::string_view member, std::string_view instance,
                             std::string_view client, std::string_view host,
                             std::string_view partitions) {
            std::printf("%s\n", fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}", member,
                                            member_width, instance, instance_width, client,
                                            client_width, host, host_width, partitions)
                                    .c_str());
        };
        row("MEMBER", "INSTANCE", "CLIENT", "HOST", "PARTITIONS");
        for (const group_member& m : g.members) {
            row(m.member_id, m.instance_id.value_or("-"), m.client_id, m.client_host,
                m.assignment ? assignment_text(*m.assignment) : "?");
        }
    }
    size_t width = 5;
    for (const auto& [key, _] : g.offsets) width = std::max(width, key.first.size());
    std::printf("%s\n", fmt::format("{:<{}}  {:>9}  {:>14}  {:>14}  {:>10}  {}", "TOPIC", width,
                                    "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER")
                            .c_str());
    int64_t total_lag = 0;
    for (const auto& [key, o] : g.offsets) {
        const auto lag = lag_of(o);
        total_lag += lag.value_or(0);
        std::printf("%s\n",
                    fmt::format("{:<{}}  {:>9}  {:>14}  {:>14}  {:>10}  {}", key.first, width,
                                key.second, o.committed >= 0 ? std::to_string(o.committed) : "-",
                                o.log_end >= 0 ? std::to_string(o.log_end) : "-",
                                lag ? std::to_string(*lag) : "-", o.owner.empty() ? "-" : o.owner)
                        .c_str());
    }
    std::printf("total lag: %lld\n", static_cast<long long>(total_lag));
}

outcome group_describe(const command_arguments& arguments) {
    const std::string group(arguments.positional[0]);
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto described = describe_group(*client, group);
    if (!described) return failure{described.error()};
    if (arguments.has("json")) {
        print_group_json(*described);
    } else {
        print_group_text(*described);
    }
    return {};
}

outcome group_list(const command_arguments& arguments) {
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    auto answer = client->call<kafka::list_groups_response>(kafka::list_groups_request{});
    if (!answer) return failed(answer.error().message);
    if (answer->body.error_code != 0) {
        return failed(
            fmt::format("listing groups: {}", describe_kafka_error(answer->body.error_code)));
    }
    auto listed = answer->body.groups;
    std::ranges::sort(listed, {}, &kafka::list_groups_response::listed_group::group_id);
    // ListGroups has states from v4; older brokers show "-".
    const bool has_state = answer->version >= 4;
    if (arguments.has("json")) {
        std::string out = "{\"groups\":[";
        for (size_t i = 0; i < listed.size(); ++i) {
            out += fmt::format("{}{{\"group\":{},\"protocol_type\":{},\"state\":{}}}",
                               i == 0 ? "" : ",", json_string(listed[i].group_id),
                               json_string(listed[i].protocol_type),
                               has_state ? json_string(listed[i].group_state) : "null");
        }
        std::printf("%s]}\n", out.c_str());
        return {};
    }
    size_t width = 5;
    for (const auto& g : listed) width = std::max(width, g.group_id.size());
    std::printf("%s\n",
                fmt::format("{:<{}}  {:<13}  STATE", "GROUP", width, "PROTOCOL-TYPE").c_str());
    for (const auto& g : listed) {
        std::printf("%s\n", fmt::format("{:<{}}  {:<13}  {}", g.group_id, width,
                                        g.protocol_type.empty() ? "-" : g.protocol_type,
                                        has_state ? g.group_state : "-")
                                .c_str());
    }
    return {};
}

outcome group_delete(const command_arguments& arguments) {
    auto client = connect(arguments);
    if (!client) return failure{client.error()};
    kafka::delete_groups_request request;
    for (const std::string_view name : arguments.positional) request.groups_names.push_back(name);
    auto answer = client->call<kafka::delete_groups_response>(request);
    if (!answer) return failed(answer.error().message);
    std::string errors;
    for (const auto& result : answer->body.results) {
        if (result.error_code == 0) {
            std::printf("deleted group %.*s\n", static_cast<int>(result.group_id.size()),
                        result.group_id.data());
            continue;
        }
        if (!errors.empty()) errors += "; ";
        errors += fmt::format("cannot delete group {}: {}", result.group_id,
                              describe_kafka_error(result.error_code));
    }
    if (!errors.empty()) return failed(std::move(errors));
    return {};
}

}  // namespace

std::optional<std::string_view> command_arguments::last(std::string_view name) const {
    std::optional<std::string_view> found;
    for (const auto& [flag, value] : flags) {
        if (flag == name) found = value;
    }
    return found;
}

std::vector<std::string_view> command_arguments::all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const auto& [flag, value] : flags) {
        if (flag == name) values.push_back(value);
    }
    return values;
}

int report_usage_error(std::string_view message) {
    std::fprintf(stderr, "tidectl: %.*s; see tidectl --help\n", static_cast<int>(message.size()),
                 message.data());
    return to_int(exit_status::config_error);
}

int run_topic_create(const command_arguments& arguments) {
    return finish(topic_create(arguments));
}
int run_topic_delete(const command_arguments& arguments) {
    return finish(topic_delete(arguments));
}
int run_topic_list(const command_arguments& arguments) {
    return finish(topic_list(arguments));
}
int run_topic_describe(const command_arguments& arguments) {
    return finish(topic_describe(arguments));
}
int run_topic_alter_config(const command_arguments& arguments) {
    return finish(topic_alter_config(arguments));
}
int run_cluster_info(const command_arguments& arguments) {
    return finish(cluster_info(arguments));
}
int run_produce(const command_arguments& arguments) {
    return finish(produce(arguments));
}
int run_consume(const command_arguments& arguments) {
    return finish(consume(arguments));
}
int run_group_list(const command_arguments& arguments) {
    return finish(group_list(arguments));
}
int run_group_describe(const command_arguments& arguments) {
    return finish(group_describe(arguments));
}
int run_group_delete(const command_arguments& arguments) {
    return finish(group_delete(arguments));
}

}  // namespace tl::app
