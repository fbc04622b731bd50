// The broker's configuration: one struct, built from built-in defaults, then a
// YAML file, then command-line flags, each layer validated key by key.
//
//   auto config = load_config(path_or_empty, flags);   // what tidelogd does
//   if (!config) print(config.error().to_string());      // one line, exit 2
//
// Every key is described once, in the table behind `config_keys()`: its
// name, its flag, its meaning, how to parse and bound it, how to print it.
// The YAML parser, the flag overlay, `--help`, `tidectl config defaults` and
// the tests all read that table, so a key cannot be known to one and not the
// others. Nothing here touches the data directory: that is host state, checked
// by data_directory.h when the daemon starts.
//
// Called only from the control thread at start-up (addresses are resolved
// synchronously).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "feed/feed_config.h"
#include "reactor/shard.h"
#include "storage/log_config.h"
#include "uring/socket.h"

namespace tl::app {

enum class log_level : uint8_t { trace, debug, info, warn, error };

// A local address as the operator wrote it, and what it resolved to at load time.
struct network_address {
    std::string text;  // "127.0.0.1:9092", "[::1]:9092", "localhost:9092"
    uring::socket_address resolved;
};

// An address clients dial. Never resolved by the broker: the name only has to
// resolve where the clients are (another network, another DNS view).
struct advertised_address {
    std::string text;  // "broker1.example.com:9092", "10.0.0.5:9092"; empty = unset
    std::string host;  // without brackets for IPv6
    uint16_t port = 0;

    bool is_set() const noexcept { return !text.empty(); }
};

// One voter of the controller quorum: its node id and its controller listener.
struct controller_voter {
    int32_t id = 0;
    std::string text;  // "127.0.0.1:9093"
    uring::socket_address resolved;
};

struct broker_config {
    static constexpr unsigned max_smp = reactor::reactor_options::max_shards;
    static constexpr int32_t max_node_id = INT32_MAX;  // Kafka broker ids are int32 >= 0
    static constexpr unsigned min_mailbox_capacity = 2;
    static constexpr unsigned max_mailbox_capacity = reactor::reactor_options::max_mailbox_capacity;
    static constexpr uint32_t max_idle_spin_us = 1'000'000;
    static constexpr uint32_t min_stall_threshold_us = 1;
    static constexpr uint32_t max_stall_threshold_us = 10'000'000;
    static constexpr uint32_t min_shutdown_timeout_ms = 1;
    static constexpr uint32_t max_shutdown_timeout_ms = 600'000;

    // Relative paths are relative to the daemon's working directory (not to
    // the config file), as for every other Unix daemon.
    std::string data_dir = "./tidelog-data";
    network_address kafka_addr;
    // What clients are told to connect to; unset = kafka_addr.
    advertised_address advertised_kafka_addr;
    network_address admin_addr;
    bool metrics_per_partition = true;  // per-partition series on /metrics
    unsigned smp = 1;  // default_config() sets the CPU count
    int32_t node_id = 0;
    // The controller quorum ("1@127.0.0.1:9093,2@..."); empty = this node
    // alone (no controller listener).
    std::string controller_voters_text;
    std::vector<controller_voter> controller_voters;
    reactor::poll_mode poll_mode = reactor::poll_mode::adaptive;
    uint32_t idle_spin_us = 50;
    unsigned mailbox_capacity = 1024;
    reactor::cpu_pinning cpu_pinning = reactor::cpu_pinning::pinned;
    uint32_t reactor_stall_threshold_us = 500;  // longer loop iterations count as stalls
    uint32_t shutdown_timeout_ms = 10'000;
    app::log_level log_level = app::log_level::info;

    // ---- Kafka API ----
    bool auto_create_topics = true;       // auto.create.topics.enable
    int32_t num_partitions = 1;           // num.partitions (auto-created topics, CreateTopics -1)
    uint32_t socket_request_max_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
    uint64_t connection_memory_bytes = 64 * 1024 * 1024;    // per-connection budget
    uint32_t connections_max_idle_ms = 600'000;             // connections.max.idle.ms

    // ---- Consumer groups ----
    int32_t offsets_topic_num_partitions = 50;  // offsets.topic.num.partitions
    uint32_t offsets_topic_segment_bytes = 8 << 20;     // offsets.topic.segment.bytes
    uint32_t group_initial_rebalance_delay_ms = 3'000;  // group.initial.rebalance.delay.ms
    uint32_t group_min_session_timeout_ms = 6'000;      // group.min.session.timeout.ms
    uint32_t group_max_session_timeout_ms = 1'800'000;  // group.max.session.timeout.ms
    uint32_t offsets_retention_minutes = 10'080;        // offsets.retention.minutes
    uint32_t offsets_retention_check_interval_ms = 600'000;  // offsets.retention.check.interval.ms

    // ---- Storage ----
    storage::flush_mode flush_mode = storage::flush_mode::group;
    uint32_t flush_interval_ms = 100;            // flush_mode interval
    uint64_t cache_bytes_per_shard = 256 * 1024 * 1024;  // read cache of each shard
    uint64_t min_free_bytes = 1024 * 1024 * 1024;        // appends refused below this
    uint32_t retention_check_interval_ms = 300'000;      // log.retention.check.interval.ms
    uint32_t producer_id_expiration_ms = 86'400'000;     // producer.id.expiration.ms
    uint32_t producer_id_expiration_check_interval_ms = 600'000;  // ...check.interval.ms
    // Broker-wide defaults of topic configs that the operator set, in
    // topic-config naming ("retention.ms"): from log_retention_ms and friends.
    std::map<std::string, std::string, std::less<>> topic_defaults;

    // ---- Feed ingest (DESIGN.md §7; src/feed/feed_config.h) ----
    // Sections of the YAML file only (no flags): lists and maps.
    std::vector<feed::feed_config> feeds;
    feed::dpdk_settings dpdk;

    // key -> the file path or flag that last set it; keys left at their
    // built-in default are absent. Only for error messages.
    std::map<std::string, std::string, std::less<>> sources;

    std::string_view source_of(std::string_view key) const;
};

// One rejected setting. `to_string()` is the single line printed on stderr:
//   "smp: must be between 1 and 256, got 0 (from /etc/tidelog.yaml)"
struct config_error {
    std::string key;  // a config key, a flag ("--smpp"), a path, or "yaml"
    std::string message;
    std::string source;  // where the value came from; empty when not meaningful

    std::string to_string() const;
};

template <typename T>
using config_result = result<T, config_error>;

// One `--flag value` from the command line, before validation.
struct flag_setting {
    std::string key;   // config key, e.g. "data_dir"
    std::string flag;  // as typed, e.g. "--data-dir"
    std::string value;
};

// A value as a source presented it, before it is checked against its key.
struct raw_value {
    enum class shape : uint8_t { scalar, null, sequence, map };
    shape form = shape::scalar;
    std::string text;  // for scalars
};

struct config_key {
    std::string_view name;        // YAML key, e.g. "data_dir"
    std::string_view flag;        // "--data-dir"
    std::string_view value_name;  // "DIR", for --help
    std::string_view meaning;     // one line for --help and the YAML comments
    // Parses and bounds `value`; on failure returns the message without key or source.
    std::function<result<void, std::string>(broker_config&, const raw_value&)> assign;
    // The value as YAML text that `assign` accepts back.
    std::function<std::string(const broker_config&)> render;
};

// Every key, in the order they are documented.
std::span<const config_key> config_keys();
const config_key* find_config_key(std::string_view name);

// Built-in defaults; smp = the CPUs this process may run on (at most max_smp).
broker_config default_config();

// Reads YAML text (a map of keys; an empty document means "no changes") on top
// of `base`. `source_name` (usually the file path) is quoted in errors.
config_result<broker_config> parse_config(std::string_view yaml_text, std::string_view source_name,
                                          broker_config base);
// Same, on top of default_config().
config_result<broker_config> parse_config(std::string_view yaml_text, std::string_view source_name);

// Applies command-line flags on top of `base`, in order (a later flag wins).
config_result<broker_config> overlay_flags(broker_config base, std::span<const flag_setting> flags);

// Checks that keys agree with each other (run once, after the last layer).
config_result<void> check_config(const broker_config& config);

// Defaults, then the file at `path` (if not empty), then `flags`, then
// check_config(): exactly what tidelogd and `tidectl config check` do.
config_result<broker_config> load_config(const std::string& path,
                                         std::span<const flag_setting> flags);

// The configuration as commented YAML that load_config() reads back unchanged.
std::string render_config_yaml(const broker_config& config);

reactor::reactor_options to_reactor_options(const broker_config& config);

std::string_view to_string(log_level level);
std::string_view to_string(reactor::poll_mode mode);
std::string_view to_string(reactor::cpu_pinning pinning);
std::string_view to_string(storage::flush_mode mode);

}  // namespace tl::app
