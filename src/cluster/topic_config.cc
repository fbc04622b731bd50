#include "cluster/topic_config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <absl/strings/str_format.h>

namespace tl::cluster {
namespace {

constexpr int64_t long_min = std::numeric_limits<int64_t>::min();
constexpr int64_t long_max = std::numeric_limits<int64_t>::max();
constexpr std::string_view long_max_text = "9223372036854775807";

// Kafka's validators (ConfigDef.Range, ValidString, ValidList and the few
// custom ones), one per row.
enum class rule_kind : uint8_t {
    none,                // any value of the type
    range,               // integers: [min, max]; doubles: [0, 1] (the only double)
    one_of,              // a string among `choices` (case-sensitive, as Kafka)
    list_of,             // every list item among `choices`
    throttled_replicas,  // "*" or items "<partition>:<broker>" (or empty)
    gzip_level,          // [1, 9] or -1
    message_format,      // a Kafka version string such as "3.0-IV1"
};

constexpr std::array<std::string_view, 2> cleanup_policies{"compact", "delete"};
constexpr std::array<std::string_view, 6> compression_types{"uncompressed", "zstd", "lz4",
                                                            "snappy",       "gzip", "producer"};
constexpr std::array<std::string_view, 2> timestamp_types{"CreateTime", "LogAppendTime"};

struct row {
    config_definition definition;
    rule_kind rule = rule_kind::none;
    int64_t min = long_min;
    int64_t max = long_max;
    std::span<const std::string_view> choices{};
    // Why our minimum is above Kafka's, appended to the message.
    std::string_view min_reason{};
};

using enum config_type;
using enum config_support;

// Sorted by name (asserted on first use). Defaults and bounds are Kafka
// 3.8's (LogConfig, ServerLogConfigs); segment.bytes and segment.index.bytes
// are narrowed to what storage::log_config accepts.
constexpr std::array rows{
    row{{"cleanup.policy", list, "delete", "log.cleanup.policy", honoured,
         "Retention policy of old segments: delete (by time and size), compact, or both."},
        rule_kind::list_of,
        long_min,
        long_max,
        cleanup_policies},
    row{{"compression.gzip.level", int_, "-1", "compression.gzip.level", stored_only,
         "Compression level for gzip when compression.type is gzip."},
        rule_kind::gzip_level},
    row{{"compression.lz4.level", int_, "9", "compression.lz4.level", stored_only,
         "Compression level for lz4 when compression.type is lz4."},
        rule_kind::range,
        1,
        17},
    row{{"compression.type", string, "producer", "compression.type", stored_only,
         "Final compression of the topic's batches; producer keeps the producer's codec."},
        rule_kind::one_of,
        long_min,
        long_max,
        compression_types},
    row{{"compression.zstd.level", int_, "3", "compression.zstd.level", stored_only,
         "Compression level for zstd when compression.type is zstd."},
        rule_kind::range,
        -131072,
        22},
    row{{"delete.retention.ms", long_, "86400000", "log.cleaner.delete.retention.ms", stored_only,
         "How long delete tombstones are kept on compacted topics."},
        rule_kind::range,
        0},
    row{{"file.delete.delay.ms", long_, "60000", "log.segment.delete.delay.ms", stored_only,
         "Delay before a deleted segment's file is removed."},
        rule_kind::range,
        0},
    row{{"flush.messages", long_, long_max_text, "log.flush.interval.messages", stored_only,
         "Force an fsync after this many messages."},
        rule_kind::range,
        1},
    row{{"flush.ms", long_, long_max_text, "log.flush.interval.ms", stored_only,
         "Force an fsync after this many milliseconds."},
        rule_kind::range,
        0},
    row{{"follower.replication.throttled.replicas", list, "", "", stored_only,
         "Replicas whose follower-side replication is throttled."},
        rule_kind::throttled_replicas},
    row{{"index.interval.bytes", int_, "4096", "log.index.interval.bytes", honoured,
         "Bytes of batches between two offset index entries."},
        rule_kind::range,
        0},
    row{{"leader.replication.throttled.replicas", list, "", "", stored_only,
         "Replicas whose leader-side replication is throttled."},
        rule_kind::throttled_replicas},
    row{{"local.retention.bytes", long_, "-2", "log.local.retention.bytes", stored_only,
         "Bytes kept locally with tiered storage (-2: retention.bytes)."},
        rule_kind::range,
        -2},
    row{{"local.retention.ms", long_, "-2", "log.local.retention.ms", stored_only,
         "Milliseconds kept locally with tiered storage (-2: retention.ms)."},
        rule_kind::range,
        -2},
    row{{"max.compaction.lag.ms", long_, long_max_text, "log.cleaner.max.compaction.lag.ms",
         stored_only, "Longest time a message stays ineligible for compaction."},
        rule_kind::range,
        1},
    row{{"max.message.bytes", int_, "1048588", "message.max.bytes", honoured,
         "Largest record batch the topic accepts."},
        rule_kind::range,
        0,
        std::numeric_limits<int32_t>::max()},
    row{{"message.downconversion.enable", boolean, "true", "log.message.downconversion.enable",
         stored_only, "Whether fetches by old clients may down-convert messages."}},
    row{{"message.format.version", string, "3.0-IV1", "log.message.format.version", stored_only,
         "Deprecated message format version; ignored since Kafka 3.0."},
        rule_kind::message_format},
    row{{"message.timestamp.after.max.ms", long_, long_max_text,
         "log.message.timestamp.after.max.ms", stored_only,
         "How far after the broker's time a CreateTime timestamp may be."},
        rule_kind::range,
        0},
    row{{"message.timestamp.before.max.ms", long_, long_max_text,
         "log.message.timestamp.before.max.ms", stored_only,
         "How far before the broker's time a CreateTime timestamp may be."},
        rule_kind::range,
        0},
    row{{"message.timestamp.difference.max.ms", long_, long_max_text,
         "log.message.timestamp.difference.max.ms", stored_only,
         "Deprecated: largest difference between a CreateTime timestamp and the broker's time."},
        rule_kind::range,
        0},
    row{{"message.timestamp.type", string, "CreateTime", "log.message.timestamp.type", honoured,
         "Whether batches keep the producer's timestamp or get the broker's append time."},
        rule_kind::one_of,
        long_min,
        long_max,
        timestamp_types},
    row{{"min.cleanable.dirty.ratio", double_, "0.5", "log.cleaner.min.cleanable.ratio",
         stored_only, "Share of the log that must be uncompacted before it is compacted."},
        rule_kind::range,
        0,
        1},
    row{{"min.compaction.lag.ms", long_, "0", "log.cleaner.min.compaction.lag.ms", stored_only,
         "Shortest time a message stays uncompacted."},
        rule_kind::range,
        0},
    row{{"min.insync.replicas", int_, "1", "min.insync.replicas", stored_only,
         "Fewest in-sync replicas that must acknowledge an acks=all produce."},
        rule_kind::range,
        1},
    row{{"preallocate", boolean, "false", "log.preallocate", stored_only,
         "Whether segment files are preallocated (Tidelog always preallocates)."}},
    row{{"remote.storage.enable", boolean, "false", "", stored_only,
         "Whether the topic uses tiered storage."}},
    row{{"retention.bytes", long_, "-1", "log.retention.bytes", honoured,
         "Bytes a partition keeps before old segments are deleted (-1: no limit)."}},
    row{{"retention.ms", long_, "604800000", "log.retention.ms", honoured,
         "How long a segment is kept after its newest batch (-1: forever)."},
        rule_kind::range,
        -1},
    row{{"segment.bytes", int_, "1073741824", "log.segment.bytes", honoured,
         "Size at which a segment is rolled."},
        rule_kind::range,
        static_cast<int64_t>(storage::log_config::min_segment_bytes),
        static_cast<int64_t>(storage::log_config::max_segment_bytes),
        {},
        " (Tidelog's smallest segment; Kafka allows 14)"},
    row{{"segment.index.bytes", int_, "10485760", "log.index.size.max.bytes", honoured,
         "Largest offset index of a segment."},
        // storage/index.cc: a time index must hold one 12-byte entry.
        rule_kind::range,
        12,
        long_max,
        {},
        " (one time index entry; Kafka allows 4)"},
    row{{"segment.jitter.ms", long_, "0", "log.roll.jitter.ms", stored_only,
         "Random jitter subtracted from segment.ms."},
        rule_kind::range,
        0},
    row{{"segment.ms", long_, "604800000", "log.roll.ms", honoured,
         "Time after which a segment is rolled even if not full."},
        rule_kind::range,
        1},
    row{{"unclean.leader.election.enable", boolean, "false", "unclean.leader.election.enable",
         stored_only, "Whether a replica outside the ISR may become leader."}},
};

std::array<config_definition, rows.size()> make_definitions() {
    std::array<config_definition, rows.size()> out{};
    for (size_t i = 0; i < rows.size(); ++i) out[i] = rows[i].definition;
    return out;
}
const std::array<config_definition, rows.size()> definitions = make_definitions();

const row* find_row(std::string_view name) noexcept {
    static const bool sorted = std::is_sorted(
        rows.begin(), rows.end(),
        [](const row& a, const row& b) { return a.definition.name < b.definition.name; });
    TL_ASSERT(sorted, "topic config table must be sorted by name");
    auto found =
        std::lower_bound(rows.begin(), rows.end(), name,
                         [](const row& r, std::string_view n) { return r.definition.name < n; });
    if (found == rows.end() || found->definition.name != name) return nullptr;
    return &*found;
}

std::string_view trim(std::string_view text) {
    // Java's String.trim: every char <= ' '.
    while (!text.empty() && static_cast<unsigned char>(text.front()) <= ' ') text.remove_prefix(1);
    while (!text.empty() && static_cast<unsigned char>(text.back()) <= ' ') text.remove_suffix(1);
    return text;
}

// A value as it may appear in a one-line message: control characters escaped,
// long values cut.
std::string printable(std::string_view value) {
    constexpr size_t max_chars = 100;
    std::string out;
    for (char c : value.substr(0, max_chars)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += absl::StrFormat("\\x%02x", u);
        } else {
            out += c;
        }
    }
    if (value.size() > max_chars) out += "...";
    return out;
}

config_error invalid(std::string_view name, std::string_view value, std::string_view why) {
    return config_error{
        config_errc::invalid_value, std::string(name),
        absl::StrFormat("Invalid value %s for configuration %s: %s", printable(value), name, why)};
}

config_error unknown(std::string_view name) {
    return config_error{config_errc::unknown_name, printable(name),
                        "Unknown topic config name: " + printable(name)};
}

std::string joined_choices(std::span<const std::string_view> choices) {
    std::string out;
    for (auto c : choices) {
        if (!out.empty()) out += ", ";
        out += c;
    }
    return out;
}

bool among(std::span<const std::string_view> choices, std::string_view value) {
    return std::find(choices.begin(), choices.end(), value) != choices.end();
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<partition>:<broker>", or empty (Kafka's regex "([0-9]+:[0-9]+)?").
bool is_replica_item(std::string_view item) {
    if (item.empty()) return true;
    const auto colon = item.find(':');
    return colon != std::string_view::npos && all_digits(item.substr(0, colon)) &&
           all_digits(item.substr(colon + 1));
}

// Kafka versions as MetadataVersion spells them: "2.8", "0.10.2", "3.0-IV1".
bool is_version(std::string_view text) {
    std::string_view release = text;
    if (const auto dash = text.find('-'); dash != std::string_view::npos) {
        release = text.substr(0, dash);
        const std::string_view suffix = text.substr(dash + 1);
        if (!suffix.starts_with("IV") || !all_digits(suffix.substr(2))) return false;
    }
    int parts = 0;
    while (true) {
        const auto dot = release.find('.');
        if (!all_digits(release.substr(0, dot))) return false;
        ++parts;
        if (dot == std::string_view::npos) break;
        release.remove_prefix(dot + 1);
    }
    return parts >= 2 && parts <= 3 && text.front() >= '0' && text.front() <= '3';
}

std::string canonical_double(double value) {
    std::array<char, 64> text{};
    const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), value);
    TL_ASSERT(ec == std::errc{});
    std::string out(text.data(), end);
    // Java prints 1.0, not 1.
    if (out.find_first_of(".e") == std::string::npos) out += ".0";
    return out;
}

result<std::string, config_error> check_integer(const row& r, std::string_view name,
                                                std::string_view raw, int64_t value) {
    if (r.rule == rule_kind::gzip_level) {
        if (value == -1 || (value >= 1 && value <= 9)) return std::to_string(value);
        return failure{invalid(name, raw, "Value must be between 1 and 9, or equal to -1")};
    }
    if (r.rule == rule_kind::range) {
        if (value < r.min) {
            return failure{invalid(
                name, raw, absl::StrFormat("Value must be at least %d%s", r.min, r.min_reason))};
        }
        if (value > r.max) {
            return failure{
                invalid(name, raw, absl::StrFormat("Value must be no more than %d", r.max))};
        }
    }
    return std::to_string(value);
}

result<std::string, config_error> check(const row& r, std::string_view value) {
    const std::string_view name = r.definition.name;
    const std::string_view text = trim(value);
    switch (r.definition.type) {
        case boolean: {
            auto parsed = parse_boolean(text);
            if (!parsed)
                return failure{invalid(name, value, "Expected value to be either true or false")};
            return std::string(*parsed ? "true" : "false");
        }
        case int_: {
            auto parsed = parse_int(text);
            if (!parsed) return failure{invalid(name, value, "Not a number of type INT")};
            return check_integer(r, name, value, *parsed);
        }
        case long_: {
            auto parsed = parse_long(text);
            if (!parsed) return failure{invalid(name, value, "Not a number of type LONG")};
            return check_integer(r, name, value, *parsed);
        }
        case double_: {
            auto parsed = parse_double(text);
            if (!parsed) return failure{invalid(name, value, "Not a number of type DOUBLE")};
            if (r.rule == rule_kind::range && *parsed < static_cast<double>(r.min)) {
                return failure{
                    invalid(name, value, absl::StrFormat("Value must be at least %d", r.min))};
            }
            if (r.rule == rule_kind::range && *parsed > static_cast<double>(r.max)) {
                return failure{
                    invalid(name, value, absl::StrFormat("Value must be no more than %d", r.max))};
            }
            return canonical_double(*parsed);
        }
        case string: {
            if (r.rule == rule_kind::one_of && !among(r.choices, text)) {
                return failure{
                    invalid(name, value, "String must be one of: " + joined_choices(r.choices))};
            }
            if (r.rule == rule_kind::message_format && !is_version(text)) {
                return failure{invalid(name, value, "Not a Kafka version such as 3.0-IV1")};
            }
            return std::string(text);
        }
        case list: {
            const auto items = parse_list(text);
            if (r.rule == rule_kind::list_of) {
                for (const auto& item : items) {
                    if (!among(r.choices, item)) {
                        return failure{invalid(
                            name, item, "String must be one of: " + joined_choices(r.choices))};
                    }
                }
            }
            if (r.rule == rule_kind::throttled_replicas &&
                !(std::all_of(items.begin(), items.end(), is_replica_item) || text == "*")) {
                return failure{invalid(
                    name, value,
                    std::string(name) +
                        " must be the literal '*' or a list of replicas in the following format: "
                        "[partitionId]:[brokerId],[partitionId]:[brokerId],...")};
            }
            return join_list(items);
        }
        case short_:
        case class_:
        case password:
            break;
    }
    TL_UNREACHABLE("no topic config has this type");
}

int64_t long_value(std::string_view canonical) {
    auto parsed = parse_long(canonical);
    TL_ASSERT(parsed.has_value(), "stored values are canonical");
    return *parsed;
}

bool policy_contains(std::string_view policy, std::string_view item) {
    const auto items = parse_list(policy);
    return std::find(items.begin(), items.end(), item) != items.end();
}

}  // namespace

std::span<const config_definition> topic_config_definitions() noexcept {
    return definitions;
}

const config_definition* find_topic_config(std::string_view name) noexcept {
    const row* r = find_row(name);
    return r == nullptr ? nullptr : &definitions[static_cast<size_t>(r - rows.data())];
}

result<std::string, config_error> validate_topic_config(std::string_view name,
                                                        std::string_view value) {
    const row* r = find_row(name);
    if (r == nullptr) return failure{unknown(name)};
    return check(*r, value);
}

std::optional<bool> parse_boolean(std::string_view text) {
    text = trim(text);
    auto equals = [text](std::string_view word) {
        return std::equal(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
            return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
        });
    };
    if (equals("true")) return true;
    if (equals("false")) return false;
    return std::nullopt;
}

std::optional<int64_t> parse_long(std::string_view text) {
    text = trim(text);
    // Java's Long.parseLong takes a leading '+'; from_chars does not.
    if (text.starts_with('+')) {
        text.remove_prefix(1);
        if (text.starts_with('-')) return std::nullopt;
    }
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

std::optional<int32_t> parse_int(std::string_view text) {
    auto value = parse_long(text);
    if (!value || *value < std::numeric_limits<int32_t>::min() ||
        *value > std::numeric_limits<int32_t>::max()) {
        return std::nullopt;
    }
    return static_cast<int32_t>(*value);
}

std::optional<double> parse_double(std::string_view text) {
    text = trim(text);
    if (text.starts_with('+')) {
        text.remove_prefix(1);
        if (text.starts_with('-')) return std::nullopt;
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty() ||
        !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

std::vector<std::string> parse_list(std::string_view text) {
    text = trim(text);
    std::vector<std::string> items;
    if (text.empty()) return items;
    while (true) {
        const auto comma = text.find(',');
        items.emplace_back(trim(text.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return items;
}

std::string join_list(std::span<const std::string> items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += ',';
        out += items[i];
    }
    return out;
}

// ---- topic_defaults ----

result<void, config_error> topic_defaults::set(std::string_view name, std::string_view value) {
    auto canonical = validate_topic_config(name, value);
    if (!canonical) return failure{canonical.error()};
    _settings.insert_or_assign(std::string(name), std::move(*canonical));
    return {};
}

std::string_view topic_defaults::value(std::string_view name) const {
    if (auto found = _settings.find(name); found != _settings.end()) return found->second;
    const row* r = find_row(name);
    TL_ASSERT(r != nullptr, "not a topic config");
    return r->definition.default_value;
}

// ---- topic_config ----

result<void, config_error> topic_config::set(std::string_view name, std::string_view value) {
    auto canonical = validate_topic_config(name, value);
    if (!canonical) return failure{canonical.error()};
    _overrides.insert_or_assign(std::string(name), std::move(*canonical));
    return {};
}

void topic_config::remove(std::string_view name) {
    if (auto found = _overrides.find(name); found != _overrides.end()) _overrides.erase(found);
}

result<void, config_error> topic_config::append(std::string_view name, std::string_view value,
                                                const topic_defaults& defaults) {
    return edit_list(name, value, defaults, true);
}

result<void, config_error> topic_config::subtract(std::string_view name, std::string_view value,
                                                  const topic_defaults& defaults) {
    return edit_list(name, value, defaults, false);
}

result<void, config_error> topic_config::edit_list(std::string_view name, std::string_view value,
                                                   const topic_defaults& defaults, bool append) {
    const row* r = find_row(name);
    if (r == nullptr || r->definition.type != list) {
        // Kafka's words (ConfigurationControlManager), for unknown names too.
        return failure{config_error{
            r == nullptr ? config_errc::unknown_name : config_errc::invalid_value, printable(name),
            absl::StrFormat("Can't %s to key %s because its type is not LIST.",
                            append ? "APPEND" : "SUBTRACT", printable(name))}};
    }
    // Kafka splits both sides at "," without trimming and drops empty items
    // of the current value.
    std::vector<std::string> items;
    for (auto& item : parse_list(this->value(name, defaults))) {
        if (!item.empty()) items.push_back(std::move(item));
    }
    std::string_view rest = value;
    while (true) {
        const auto comma = rest.find(',');
        const std::string item(rest.substr(0, comma));
        const auto found = std::find(items.begin(), items.end(), item);
        if (append && found == items.end()) items.push_back(item);
        if (!append && found != items.end()) items.erase(found);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return set(name, join_list(items));
}

std::string_view topic_config::value(std::string_view name, const topic_defaults& defaults) const {
    if (auto found = _overrides.find(name); found != _overrides.end()) return found->second;
    return defaults.value(name);
}

storage::log_config topic_config::resolve(const topic_defaults& defaults,
                                          const storage::log_config& base) const {
    storage::log_config out = base;
    auto number = [&](std::string_view name) { return long_value(value(name, defaults)); };
    // The validators bound every value to its field's range.
    out.segment_bytes = static_cast<uint64_t>(number("segment.bytes"));
    out.segment_ms = std::chrono::milliseconds(number("segment.ms"));
    out.index_interval_bytes = static_cast<uint32_t>(number("index.interval.bytes"));
    out.max_index_bytes = static_cast<uint32_t>(number("segment.index.bytes"));
    out.retention_ms = number("retention.ms");
    out.retention_bytes = number("retention.bytes");
    out.max_batch_bytes = static_cast<uint32_t>(number("max.message.bytes"));
    out.timestamps = timestamp_type_of(*this, defaults);
    if (!deletes_by_retention(*this, defaults)) {
        out.retention_ms = -1;
        out.retention_bytes = -1;
    }
    TL_ASSERT(out.segment_bytes >= storage::log_config::min_segment_bytes &&
              out.segment_bytes <= storage::log_config::max_segment_bytes);
    return out;
}

std::optional<config_entry> topic_config::describe(std::string_view name,
                                                   const topic_defaults& defaults,
                                                   describe_options options) const {
    const row* r = find_row(name);
    if (r == nullptr) return std::nullopt;
    const config_definition& d = r->definition;
    config_entry entry{.name = std::string(d.name),
                       .value = std::string(value(d.name, defaults)),
                       .source = config_source::built_in_default,
                       .type = d.type};
    const auto override_value = _overrides.find(d.name);
    const bool broker_set = defaults.is_set(d.name);
    if (override_value != _overrides.end()) {
        entry.source = config_source::topic_override;
    } else if (broker_set) {
        entry.source = config_source::broker_default;
    }
    if (options.include_documentation) entry.documentation = std::string(d.documentation);
    if (options.include_synonyms) {
        const std::string broker_name(d.broker_synonym.empty() ? d.name : d.broker_synonym);
        if (override_value != _overrides.end()) {
            entry.synonyms.push_back(
                {std::string(d.name), override_value->second, config_source::topic_override});
        }
        if (broker_set) {
            entry.synonyms.push_back(
                {broker_name, std::string(defaults.value(d.name)), config_source::broker_default});
        }
        entry.synonyms.push_back(
            {broker_name, std::string(d.default_value), config_source::built_in_default});
    }
    return entry;
}

std::vector<config_entry> topic_config::describe(const topic_defaults& defaults,
                                                 describe_options options) const {
    std::vector<config_entry> out;
    out.reserve(rows.size());
    for (const row& r : rows) out.push_back(*describe(r.definition.name, defaults, options));
    return out;
}

bool is_compacted(const topic_config& topic, const topic_defaults& defaults) {
    return policy_contains(topic.value("cleanup.policy", defaults), "compact");
}

bool deletes_by_retention(const topic_config& topic, const topic_defaults& defaults) {
    return policy_contains(topic.value("cleanup.policy", defaults), "delete");
}

storage::timestamp_type timestamp_type_of(const topic_config& topic,
                                          const topic_defaults& defaults) {
    return topic.value("message.timestamp.type", defaults) == "LogAppendTime"
               ? storage::timestamp_type::log_append_time
               : storage::timestamp_type::create_time;
}

}  // namespace tl::cluster
