#include "feed/feed_config.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <set>

#include <fmt/format.h>

#include "base/edit_distance.h"

namespace tl::feed {

std::string_view name(decoder_kind kind) noexcept {
    switch (kind) {
        case decoder_kind::raw: return "raw";
        case decoder_kind::moldudp64: return "moldudp64";
    }
    return "unknown";
}

std::string_view name(partition_rule rule) noexcept {
    switch (rule) {
        case partition_rule::queue: return "queue";
        case partition_rule::session: return "session";
        case partition_rule::key: return "key";
    }
    return "unknown";
}

namespace {

constexpr size_t max_suggestion_distance = 2;
constexpr size_t max_topic_name_bytes = 249;  // Kafka's limit

template <typename T>
using parsed = result<T, feed_config_error>;

feed_config_error error(std::string key, std::string message) {
    return feed_config_error{std::move(key), std::move(message)};
}

std::string child(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string_view shape(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar: return "a scalar";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: return "nothing";
    }
    return "nothing";
}

// Checks that `node` is a map whose keys are all in `known`, each once.
std::optional<feed_config_error> check_map(const YAML::Node& node, std::string_view path,
                                           std::initializer_list<std::string_view> known) {
    if (!node.IsMap()) {
        return error(std::string(path), fmt::format("expected a map, got {}", shape(node)));
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
        if (!entry.first.IsScalar()) return error(std::string(path), "keys must be plain names");
        const std::string& key = entry.first.Scalar();
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string message = "unknown key";
            size_t best = max_suggestion_distance + 1;
            for (std::string_view candidate : known) {
                const size_t distance = edit_distance(key, candidate);
                if (distance < best) {
                    best = distance;
                    message = fmt::format("unknown key; did you mean '{}'?", candidate);
                }
            }
            return error(child(path, key), std::move(message));
        }
        if (!seen.insert(key).second) return error(child(path, key), "set twice");
    }
    return std::nullopt;
}

parsed<std::string> parse_string(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
        return failure{error(path, fmt::format("expected a string, got {}", shape(node)))};
    }
    return node.Scalar();
}

parsed<uint64_t> parse_uint(const YAML::Node& node, const std::string& path, uint64_t min,
                            uint64_t max) {
    if (!node.IsScalar()) {
        return failure{error(path, fmt::format("expected an integer, got {}", shape(node)))};
    }
    const std::string& text = node.Scalar();
    uint64_t value = 0;
    const auto [end, errc] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (errc == std::errc::result_out_of_range) {
        return failure{error(path, fmt::format("must be between {} and {}, got {}", min, max, text))};
    }
    if (errc != std::errc() || end != text.data() + text.size() || text.empty()) {
        return failure{error(path, fmt::format("expected an integer, got '{}'", text))};
    }
    if (value < min || value > max) {
        return failure{error(path, fmt::format("must be between {} and {}, got {}", min, max, text))};
    }
    return value;
}

parsed<bool> parse_bool(const YAML::Node& node, const std::string& path) {
    if (node.IsScalar()) {
        if (node.Scalar() == "true") return true;
        if (node.Scalar() == "false") return false;
    }
    return failure{error(path, fmt::format("expected true or false, got {}",
                                           node.IsScalar() ? "'" + node.Scalar() + "'"
                                                           : std::string(shape(node))))};
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

std::optional<std::string> check_topic_name(std::string_view name) {
    if (name.empty()) return "a topic name cannot be empty";
    if (name == "." || name == "..") return "a topic name cannot be '.' or '..'";
    if (name.size() > max_topic_name_bytes) {
        return fmt::format("a topic name has at most {} characters", max_topic_name_bytes);
    }
    if (!std::all_of(name.begin(), name.end(), is_name_char)) {
        return fmt::format("'{}': a topic name may only hold ASCII letters, digits, '.', '_' and '-'",
                           name);
    }
    return std::nullopt;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// DDDD:BB:DD.F
bool is_pci_address(std::string_view text) {
    constexpr std::string_view pattern = "hhhh:hh:hh.h";
    if (text.size() != pattern.size()) return false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == 'h' ? !is_hex(text[i]) : text[i] != pattern[i]) return false;
    }
    return text.back() >= '0' && text.back() <= '7';  // PCI functions 0-7
}

// The device a port string names: a vdev's name (before its arguments) or the
// PCI address, lower-cased.
std::string port_device(std::string_view port) {
    std::string device(port.substr(0, port.find(',')));
    std::transform(device.begin(), device.end(), device.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return device;
}

std::optional<std::string> check_port(std::string_view port) {
    if (port.starts_with("net_")) {
        const std::string_view device = port.substr(0, port.find(','));
        if (device.size() == 4) return "a vdev needs a driver name after 'net_'";
        if (!std::all_of(device.begin(), device.end(), is_name_char)) {
            return fmt::format("'{}' is not a vdev name", device);
        }
        return std::nullopt;
    }
    if (is_pci_address(port)) return std::nullopt;
    return fmt::format("'{}' is neither a vdev (net_...) nor a PCI address (DDDD:BB:DD.F)", port);
}

parsed<uint32_t> parse_ipv4(const YAML::Node& node, const std::string& path) {
    auto text = parse_string(node, path);
    if (!text) return failure{text.error()};
    uint32_t address = 0;
    const char* at = text->data();
    const char* const end = at + text->size();
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (at == end || *at != '.') break;
            ++at;
        }
        unsigned value = 0;
        const auto [next, errc] = std::from_chars(at, end, value);
        if (errc != std::errc() || value > 255 || next - at > 3) {
            return failure{error(path, fmt::format("'{}' is not an IPv4 address", *text))};
        }
        at = next;
        address = (address << 8) | value;
        if (part == 3 && at == end) return address;
    }
    return failure{error(path, fmt::format("'{}' is not an IPv4 address", *text))};
}

parsed<udp_filter> parse_filter(const YAML::Node& node, const std::string& path) {
    if (auto bad = check_map(node, path, {"address", "port"})) return failure{*bad};
    udp_filter filter;
    if (node["address"]) {
        auto address = parse_ipv4(node["address"], child(path, "address"));
        if (!address) return failure{address.error()};
        filter.destination_address = *address;
    }
    if (node["port"]) {
        auto port = parse_uint(node["port"], child(path, "port"), 1, 65535);
        if (!port) return failure{port.error()};
        filter.destination_port = static_cast<uint16_t>(*port);
    }
    return filter;
}

std::optional<feed_config_error> parse_partitioning(const YAML::Node& node,
                                                    const std::string& path, feed_config& feed) {
    if (auto bad = check_map(node, path, {"by", "key_offset", "key_length"})) return bad;
    if (!node["by"]) return error(child(path, "by"), "required: queue, session or key");
    auto by = parse_string(node["by"], child(path, "by"));
    if (!by) return by.error();
    if (*by == "queue") {
        feed.partitioning = partition_rule::queue;
    } else if (*by == "session") {
        feed.partitioning = partition_rule::session;
    } else if (*by == "key") {
        feed.partitioning = partition_rule::key;
    } else {
        return error(child(path, "by"),
                     fmt::format("expected queue, session or key, got '{}'", *by));
    }
    const bool keyed = feed.partitioning == partition_rule::key;
    for (std::string_view key : {"key_offset", "key_length"}) {
        if (!keyed && node[std::string(key)]) {
            return error(child(path, key), "only with 'by: key'");
        }
        if (keyed && !node[std::string(key)]) {
            return error(child(path, key), "required with 'by: key'");
        }
    }
    if (keyed) {
        auto offset = parse_uint(node["key_offset"], child(path, "key_offset"), 0, max_key_offset);
        if (!offset) return offset.error();
        auto length = parse_uint(node["key_length"], child(path, "key_length"), 1, max_key_length);
        if (!length) return length.error();
        feed.key_offset = static_cast<uint32_t>(*offset);
        feed.key_length = static_cast<uint32_t>(*length);
    }
    return std::nullopt;
}

parsed<feed_config> parse_feed(const YAML::Node& node, const std::string& path) {
    if (auto bad = check_map(node, path,
                             {"name", "ports", "queues", "filter", "decoder", "topic",
                              "partitions", "partitioning", "arbitration", "batch_bytes",
                              "max_in_flight"})) {
        return failure{*bad};
    }
    feed_config feed;
    for (std::string_view required : {"name", "ports", "topic"}) {
        if (!node[std::string(required)]) return failure{error(child(path, required), "required")};
    }
    auto name_text = parse_string(node["name"], child(path, "name"));
    if (!name_text) return failure{name_text.error()};
    if (name_text->empty() || name_text->size() > max_feed_name_bytes ||
        !std::all_of(name_text->begin(), name_text->end(), is_name_char)) {
        return failure{error(child(path, "name"),
                             fmt::format("'{}': 1 to {} characters of [A-Za-z0-9._-]", *name_text,
                                         max_feed_name_bytes))};
    }
    feed.name = *name_text;

    const std::string ports_path = child(path, "ports");
    const YAML::Node& ports = node["ports"];
    if (!ports.IsSequence()) {
        return failure{error(ports_path, fmt::format("expected a list of 1 or 2 ports, got {}",
                                                     shape(ports)))};
    }
    if (ports.size() < 1 || ports.size() > max_ports_per_feed) {
        return failure{error(ports_path, fmt::format("1 port, or 2 for A/B lines; got {}",
                                                     ports.size()))};
    }
    for (size_t i = 0; i < ports.size(); ++i) {
        const std::string port_path = fmt::format("{}[{}]", ports_path, i);
        auto port = parse_string(ports[i], port_path);
        if (!port) return failure{port.error()};
        if (auto bad = check_port(*port)) return failure{error(port_path, *bad)};
        for (const std::string& other : feed.ports) {
            if (port_device(other) == port_device(*port)) {
                return failure{error(port_path, "the same port twice")};
            }
        }
        feed.ports.push_back(*port);
    }

    if (node["queues"]) {
        auto queues = parse_uint(node["queues"], child(path, "queues"), 1, max_queues_per_port);
        if (!queues) return failure{queues.error()};
        feed.queues = static_cast<uint32_t>(*queues);
    }
    if (node["filter"]) {
        auto filter = parse_filter(node["filter"], child(path, "filter"));
        if (!filter) return failure{filter.error()};
        feed.filter = *filter;
    }
    if (node["decoder"]) {
        auto decoder = parse_string(node["decoder"], child(path, "decoder"));
        if (!decoder) return failure{decoder.error()};
        if (*decoder == "raw") {
            feed.decoder = decoder_kind::raw;
        } else if (*decoder == "moldudp64") {
            feed.decoder = decoder_kind::moldudp64;
        } else {
            return failure{error(child(path, "decoder"),
                                 fmt::format("expected raw or moldudp64, got '{}'", *decoder))};
        }
    }
    auto topic = parse_string(node["topic"], child(path, "topic"));
    if (!topic) return failure{topic.error()};
    if (auto bad = check_topic_name(*topic)) return failure{error(child(path, "topic"), *bad)};
    feed.topic = *topic;
    if (node["partitions"]) {
        auto partitions =
            parse_uint(node["partitions"], child(path, "partitions"), 1, max_feed_partitions);
        if (!partitions) return failure{partitions.error()};
        feed.partitions = static_cast<int32_t>(*partitions);
    }
    if (node["partitioning"]) {
        if (auto bad = parse_partitioning(node["partitioning"], child(path, "partitioning"), feed)) {
            return failure{*bad};
        }
        if (feed.partitioning == partition_rule::session && feed.decoder != decoder_kind::moldudp64) {
            return failure{error(child(child(path, "partitioning"), "by"),
                                 "'session' needs decoder moldudp64 (raw datagrams have none)")};
        }
    }
    if (node["arbitration"]) {
        const std::string arbitration_path = child(path, "arbitration");
        const YAML::Node& arbitration = node["arbitration"];
        if (auto bad = check_map(arbitration, arbitration_path, {"hold_us"})) return failure{*bad};
        if (feed.ports.size() != 2) {
            return failure{error(arbitration_path, "needs two ports (line A and line B)")};
        }
        if (feed.decoder != decoder_kind::moldudp64) {
            return failure{error(arbitration_path, "needs decoder moldudp64 (raw has no sequence)")};
        }
        uint64_t hold_us = default_hold_us;
        if (arbitration["hold_us"]) {
            auto parsed_hold =
                parse_uint(arbitration["hold_us"], child(arbitration_path, "hold_us"), 1, max_hold_us);
            if (!parsed_hold) return failure{parsed_hold.error()};
            hold_us = *parsed_hold;
        }
        feed.arbitration_hold = std::chrono::microseconds(hold_us);
    } else if (feed.ports.size() == 2) {
        return failure{error(ports_path, "two ports are A/B lines: add 'arbitration:'")};
    }
    if (node["batch_bytes"]) {
        auto bytes =
            parse_uint(node["batch_bytes"], child(path, "batch_bytes"), min_batch_bytes, max_batch_bytes);
        if (!bytes) return failure{bytes.error()};
        feed.batch_bytes = static_cast<uint32_t>(*bytes);
    }
    if (node["max_in_flight"]) {
        auto in_flight =
            parse_uint(node["max_in_flight"], child(path, "max_in_flight"), 1, max_in_flight_bound);
        if (!in_flight) return failure{in_flight.error()};
        feed.max_in_flight = static_cast<uint32_t>(*in_flight);
    }
    return feed;
}

}  // namespace

result<std::vector<feed_config>, feed_config_error> parse_feeds(const YAML::Node& feeds) {
    std::vector<feed_config> out;
    if (!feeds || feeds.IsNull()) return out;
    if (!feeds.IsSequence()) {
        return failure{error("feeds", fmt::format("expected a list of feeds, got {}", shape(feeds)))};
    }
    for (size_t i = 0; i < feeds.size(); ++i) {
        const std::string path = fmt::format("feeds[{}]", i);
        auto feed = parse_feed(feeds[i], path);
        if (!feed) return failure{feed.error()};
        for (const feed_config& other : out) {
            if (other.name == feed->name) {
                return failure{error(path + ".name", fmt::format("feed '{}' is defined twice",
                                                                 feed->name))};
            }
            for (size_t p = 0; p < feed->ports.size(); ++p) {
                for (const std::string& used : other.ports) {
                    if (port_device(used) == port_device(feed->ports[p])) {
                        return failure{error(fmt::format("{}.ports[{}]", path, p),
                                             fmt::format("port already used by feed '{}'",
                                                         other.name))};
                    }
                }
            }
        }
        out.push_back(std::move(*feed));
    }
    return out;
}

result<dpdk_settings, feed_config_error> parse_dpdk_settings(const YAML::Node& dpdk) {
    dpdk_settings settings;
    if (!dpdk || dpdk.IsNull()) return settings;
    if (auto bad = check_map(dpdk, "dpdk",
                             {"memory_mb", "hugepages", "file_prefix", "mbufs_per_queue",
                              "rx_descriptors", "burst_size", "idle_sleep_us"})) {
        return failure{*bad};
    }
    struct bounded {
        std::string_view key;
        uint32_t* field;
        uint32_t min;
        uint32_t max;
    };
    const bounded numbers[] = {
        {"memory_mb", &settings.memory_mb, min_memory_mb, max_memory_mb},
        {"mbufs_per_queue", &settings.mbufs_per_queue, min_mbufs_per_queue, max_mbufs_per_queue},
        {"rx_descriptors", &settings.rx_descriptors, min_rx_descriptors, max_rx_descriptors},
        {"burst_size", &settings.burst_size, 1, max_burst_size},
        {"idle_sleep_us", &settings.idle_sleep_us, 0, max_idle_sleep_us},
    };
    for (const bounded& number : numbers) {
        const std::string key(number.key);
        if (!dpdk[key]) continue;
        auto value = parse_uint(dpdk[key], child("dpdk", key), number.min, number.max);
        if (!value) return failure{value.error()};
        *number.field = static_cast<uint32_t>(*value);
    }
    if (settings.mbufs_per_queue < settings.rx_descriptors) {
        return failure{error("dpdk.mbufs_per_queue",
                             fmt::format("must be at least rx_descriptors ({}), got {}",
                                         settings.rx_descriptors, settings.mbufs_per_queue))};
    }
    if (dpdk["hugepages"]) {
        auto hugepages = parse_bool(dpdk["hugepages"], "dpdk.hugepages");
        if (!hugepages) return failure{hugepages.error()};
        settings.hugepages = *hugepages;
    }
    if (dpdk["file_prefix"]) {
        auto prefix = parse_string(dpdk["file_prefix"], "dpdk.file_prefix");
        if (!prefix) return failure{prefix.error()};
        if (prefix->size() > max_file_prefix_bytes ||
            !std::all_of(prefix->begin(), prefix->end(),
                         [](char c) { return is_name_char(c) && c != '.'; })) {
            return failure{error("dpdk.file_prefix",
                                 fmt::format("at most {} characters of [A-Za-z0-9_-]",
                                             max_file_prefix_bytes))};
        }
        if (!prefix->empty() && !settings.hugepages) {
            return failure{error("dpdk.file_prefix", "only with 'hugepages: true'")};
        }
        settings.file_prefix = *prefix;
    }
    return settings;
}

}  // namespace tl::feed
