// Kafka topic configuration as the admin APIs see it (CreateTopics configs,
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs), and what the
// storage engine opens a partition with.
//
//   auto defaults = topic_defaults::from_settings(yaml_topic_defaults);  // broker-wide
//   auto topic = topic_config::from_overrides(create_request_configs);  // per topic
//   storage::log_config config = topic->resolve(*defaults, storage_base);
//
// Every Kafka 3.8 topic-level config is known (`topic_config_definitions()`):
// its type, its validator as Kafka defines it (narrowed where our storage
// accepts less: segment.bytes, segment.index.bytes), its broker-level synonym
// and default. Values are stored in canonical form (what Kafka's
// DescribeConfigs prints: "7" for "+007", "compact,delete" for
// " compact , delete"). Configs Tidelog does not honour are accepted, stored
// and described all the same (see src/cluster/README.md for the list).
//
// Pure values: any shard may call anything here; nothing allocates on a data
// path because nothing here is on one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "storage/log_config.h"

namespace tl::cluster {

// Both map to Kafka INVALID_CONFIG (40) at the edge (kafka_error_code).
enum class config_errc : uint8_t { unknown_name, invalid_value };

struct config_error {
    config_errc code = config_errc::invalid_value;
    std::string name;     // the config key
    std::string message;  // one line naming the key and the rule, in Kafka's words
};

inline constexpr int16_t kafka_invalid_config = 40;
[[nodiscard]] constexpr int16_t kafka_error_code(config_errc) noexcept {
    return kafka_invalid_config;
}

// Where a described value comes from.
enum class config_source : uint8_t {
    topic_override,    // set on the topic (CreateTopics, AlterConfigs)
    broker_default,    // set by the operator in tidelog.yaml
    built_in_default,  // Kafka's default
};
// DescribeConfigs v1+ ConfigSource: DYNAMIC_TOPIC_CONFIG 1, STATIC_BROKER_CONFIG 4,
// DEFAULT_CONFIG 5.
[[nodiscard]] constexpr int8_t kafka_config_source(config_source source) noexcept {
    switch (source) {
        case config_source::topic_override:
            return 1;
        case config_source::broker_default:
            return 4;
        case config_source::built_in_default:
            return 5;
    }
    return 0;  // UNKNOWN
}

// The enumerators' values are DescribeConfigs v3+ ConfigType numbers
// (UNKNOWN 0 is never used): static_cast<int8_t>(type) goes on the wire.
enum class config_type : uint8_t {
    boolean = 1,
    string = 2,
    int_ = 3,
    short_ = 4,
    long_ = 5,
    double_ = 6,
    list = 7,
    class_ = 8,
    password = 9,
};
[[nodiscard]] constexpr int8_t kafka_config_type(config_type type) noexcept {
    return static_cast<int8_t>(type);
}

// Whether setting a config changes what Tidelog does.
enum class config_support : uint8_t {
    honoured,     // resolve() carries it into storage::log_config
    stored_only,  // accepted, validated, stored and described; no effect yet
};

// One row of the table of topic configs.
struct config_definition {
    std::string_view name;  // topic-level name, e.g. "retention.ms"
    config_type type;
    std::string_view default_value;   // Kafka's built-in default, canonical form
    std::string_view broker_synonym;  // e.g. "log.retention.ms"; empty: none (the
                                      // default is then described under `name`)
    config_support support;
    std::string_view documentation;  // one sentence, for DescribeConfigs
};

// Every Kafka 3.8 topic-level config, sorted by name.
[[nodiscard]] std::span<const config_definition> topic_config_definitions() noexcept;
// nullptr for a name Kafka does not know as a topic config.
[[nodiscard]] const config_definition* find_topic_config(std::string_view name) noexcept;

// Checks `value` against the named config's type and validator. Returns its
// canonical form, or the error to send back (unknown_name, invalid_value).
[[nodiscard]] result<std::string, config_error> validate_topic_config(std::string_view name,
                                                                      std::string_view value);

// ---- Kafka's value syntax (ConfigDef.parseType): surrounding whitespace
// (chars <= ' ', as Java's String.trim) is ignored. ----
[[nodiscard]] std::optional<bool> parse_boolean(std::string_view text);  // true/false, any case
[[nodiscard]] std::optional<int64_t> parse_long(std::string_view text);  // [+-]digits, no overflow
[[nodiscard]] std::optional<int32_t> parse_int(std::string_view text);
[[nodiscard]] std::optional<double> parse_double(std::string_view text);  // finite only
// "" -> {}; otherwise split at commas, whitespace around each item dropped;
// empty items are kept ("a," -> {"a", ""}) so that validators reject them.
[[nodiscard]] std::vector<std::string> parse_list(std::string_view text);
[[nodiscard]] std::string join_list(std::span<const std::string> items);

// Broker-wide defaults for topic configs: what the operator set in
// tidelog.yaml, in topic-config naming ("retention.ms", not
// "log.retention.ms"), validated like overrides. Anything not set is Kafka's
// built-in default. Built once at start-up; cheap to copy.
class topic_defaults {
public:
    topic_defaults() = default;  // Kafka's defaults for everything

    template <typename Map>
    static result<topic_defaults, config_error> from_settings(const Map& settings) {
        topic_defaults out;
        for (const auto& [name, value] : settings) {
            if (auto set = out.set(name, value); !set) return failure{set.error()};
        }
        return out;
    }

    [[nodiscard]] result<void, config_error> set(std::string_view name, std::string_view value);
    // The operator's value, else the built-in default. `name` must be known.
    [[nodiscard]] std::string_view value(std::string_view name) const;
    [[nodiscard]] bool is_set(std::string_view name) const { return _settings.contains(name); }
    // Operator-set values only, canonical.
    [[nodiscard]] const std::map<std::string, std::string, std::less<>>& settings() const noexcept {
        return _settings;
    }

private:
    std::map<std::string, std::string, std::less<>> _settings;
};

// A synonym of a described config, highest precedence first (DescribeConfigs
// v1+ synonyms carry a value).
struct config_synonym {
    std::string name;
    std::string value;
    config_source source;

    friend bool operator==(const config_synonym&, const config_synonym&) = default;
};

struct config_entry {
    std::string name;
    std::string value;  // in effect for the topic
    config_source source;
    config_type type;
    bool read_only = false;                // topic configs never are
    bool sensitive = false;                // no topic config is a password
    std::string documentation;             // empty unless asked for
    std::vector<config_synonym> synonyms;  // empty unless asked for
};

struct describe_options {
    bool include_synonyms = false;
    bool include_documentation = false;
};

// One topic's overrides, validated and canonical. A value type.
class topic_config {
public:
    topic_config() = default;

    // CreateTopics configs (or a stored topic_record's): the first bad one is
    // the error.
    template <typename Map>
    static result<topic_config, config_error> from_overrides(const Map& overrides) {
        topic_config out;
        for (const auto& [name, value] : overrides) {
            if (auto set = out.set(name, value); !set) return failure{set.error()};
        }
        return out;
    }

    // AlterConfigs / IncrementalAlterConfigs SET.
    [[nodiscard]] result<void, config_error> set(std::string_view name, std::string_view value);
    // IncrementalAlterConfigs DELETE: back to the default. As in Kafka (KRaft
    // ConfigurationControlManager), deleting a name that is not set, known or
    // not, changes nothing and is not an error.
    void remove(std::string_view name);
    // IncrementalAlterConfigs APPEND (2) and SUBTRACT (3), as Kafka does them:
    // only for list configs (else invalid_value, "Can't APPEND to key ... because
    // its type is not LIST."); `value` is split at commas; APPEND adds items
    // not present, SUBTRACT removes them; the base is the current override,
    // else the default in effect (the operator's, then Kafka's — Kafka itself
    // takes its built-in default here, which ignores the broker's setting).
    // The result is validated as a SET.
    [[nodiscard]] result<void, config_error> append(std::string_view name, std::string_view value,
                                                    const topic_defaults& defaults = {});
    [[nodiscard]] result<void, config_error> subtract(std::string_view name, std::string_view value,
                                                      const topic_defaults& defaults = {});

    [[nodiscard]] const std::map<std::string, std::string, std::less<>>& overrides()
        const noexcept {
        return _overrides;
    }
    // The override, else the broker default, else Kafka's. `name` must be known.
    [[nodiscard]] std::string_view value(std::string_view name,
                                         const topic_defaults& defaults) const;

    // What storage opens the partition with: `base` (the broker's storage
    // settings: flush mode, cache, free-space floor...) with every topic-level
    // field taken from this topic's values over `defaults`. The two layers are
    // merged before mapping because one config affects another's field: with a
    // cleanup.policy without "delete" (compact only, or empty) nothing is deleted
    // by age or size, so retention_ms and retention_bytes become -1.
    [[nodiscard]] storage::log_config resolve(const topic_defaults& defaults,
                                              const storage::log_config& base = {}) const;

    // Every known config, sorted by name (DescribeConfigs with no keys).
    [[nodiscard]] std::vector<config_entry> describe(const topic_defaults& defaults,
                                                     describe_options options = {}) const;
    // One config; nullopt for an unknown name (DescribeConfigs skips it).
    [[nodiscard]] std::optional<config_entry> describe(std::string_view name,
                                                       const topic_defaults& defaults,
                                                       describe_options options = {}) const;

    friend bool operator==(const topic_config&, const topic_config&) = default;

private:
    result<void, config_error> edit_list(std::string_view name, std::string_view value,
                                         const topic_defaults& defaults, bool append);

    std::map<std::string, std::string, std::less<>> _overrides;
};

// cleanup.policy contains "compact".
[[nodiscard]] bool is_compacted(const topic_config& topic, const topic_defaults& defaults);
// cleanup.policy contains "delete": retention applies.
[[nodiscard]] bool deletes_by_retention(const topic_config& topic, const topic_defaults& defaults);
[[nodiscard]] storage::timestamp_type timestamp_type_of(const topic_config& topic,
                                                        const topic_defaults& defaults);

}  // namespace tl::cluster
