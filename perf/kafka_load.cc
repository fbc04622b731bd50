// Kafka load tool on librdkafka, in the manner of rdkafka_performance and
// kafka-producer-perf-test. Three modes, each repeated --runs times:
//
//   produce   --producers producers (one thread each) send --records in all
//             (or for --seconds) records of --record-bytes to the topic,
//             round-robin over its partitions, timed from the first send to
//             the last delivery report: MB/s (10^6 bytes of payload),
//             records/s, ack latency.
//   consume   one consumer reads the topic from its low watermarks: the
//             records there were when the run began (or --records), timed
//             from the assignment to the last record; --fill-records N first
//             produces N records with the produce path (not timed). Whether
//             the broker serves them from its cache or its disk is the
//             caller's choice (--cache-bytes-per-shard 0 on tidelogd).
//   latency   one thread sends --rate records/s on a fixed schedule; one
//             consumer in the same process reads them back. Each payload
//             carries its *scheduled* send time (CLOCK_MONOTONIC ns), so a
//             stalled sender shows up as latency instead of as fewer samples
//             (no coordinated omission). Every record is checked for loss,
//             duplication and reordering per partition ("missing": delivered, not read
//             back within --drain-timeout-ms).
//
// --mock starts librdkafka's built-in mock cluster in this process, so that
// the tool can be run without a broker. The results are human-readable on
// stdout and, with --json-out, one JSON object per line (per run and a
// summary per invocation) for perf/summarize.py. Exit status: 0 when every
// record was delivered (and, in latency mode, read back exactly once and in
// order; in consume mode, read), 1 otherwise, 2 on a usage error or a setup
// failure (no broker answering, a topic that cannot be created or read).
//
// A measurement tool, not product code: it reads the real clock directly
// (see bench_support.h) and may exit.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/result.h"
#include "perf/load_support.h"

namespace tl::perf {
namespace {

// ---- limits ------------------------------------------------------------------

constexpr int max_runs = 1000;
constexpr int32_t max_partitions = 10'000;
constexpr int64_t max_record_bytes = 64 * 1024 * 1024;
constexpr int64_t max_rate_per_s = 10'000'000;
constexpr int64_t max_seconds = 24 * 3600;
constexpr int max_producers = 256;
// Producer queue bounds for the throughput mode: large enough that many
// 1 MiB batches per partition are in flight, small enough (as the Java
// client's 32 MiB buffer.memory) that the ack latency is not seconds of
// queueing inside the client after --seconds of sending faster than the
// broker takes.
constexpr int64_t produce_queue_messages_max = 2'000'000;
constexpr int64_t produce_queue_kib_max = 64 * 1024;
constexpr int64_t batch_messages_max = 1'000'000;  // librdkafka's upper bound
// Payloads of the throughput mode point into one pool (no copy per record).
constexpr size_t payload_pool_bytes = 4 * 1024 * 1024;
constexpr int64_t setup_timeout_ms = 30'000;
constexpr int64_t flush_timeout_ms = 120'000;
constexpr int poll_every_records = 1024;

// ---- options -----------------------------------------------------------------

enum class load_mode { produce, consume, latency };

const char* mode_name(load_mode mode) noexcept {
    switch (mode) {
        case load_mode::produce:
            return "produce";
        case load_mode::consume:
            return "consume";
        case load_mode::latency:
            return "latency";
    }
    return "?";
}

struct load_options {
    load_mode mode = load_mode::produce;
    std::string bootstrap;
    bool mock = false;
    int mock_brokers = 1;
    int mock_produce_errors = 0;  // to check the error accounting
    std::string topic;            // default per mode
    int32_t partitions = 1;
    int replication_factor = 1;
    int64_t record_bytes = 1024;
    std::optional<int64_t> records;  // produce only; else --seconds
    int64_t seconds = 10;
    bool seconds_given = false;  // consume: --seconds caps a run
    int producers = 1;
    std::optional<int64_t> fill_records;  // consume only
    std::string acks = "all";
    std::optional<int64_t> linger_ms;    // default per mode
    std::optional<int64_t> batch_bytes;  // default per mode
    std::string compression = "none";
    int runs = 3;
    int64_t rate_per_s = 10'000;  // latency only
    int64_t warmup_seconds = 2;   // latency only, within --seconds
    int64_t drain_timeout_ms = 10'000;
    bool idempotence = false;
    std::vector<key_value> producer_properties;  // --set
    std::vector<key_value> consumer_properties;  // --consumer-set
    std::vector<key_value> tags;                 // --tag, copied to the JSON lines
    std::string json_out;
};

constexpr std::string_view usage_text =
    "usage: kafka_load produce|consume|latency (--bootstrap HOST:PORT | --mock) [options]\n"
    "\n"
    "  --bootstrap HOST:PORT   broker(s) to connect to (bootstrap.servers)\n"
    "  --mock                  start librdkafka's mock cluster in-process instead\n"
    "  --mock-brokers N        brokers in the mock cluster (1)\n"
    "  --mock-produce-errors N the mock fails the first N Produce requests of\n"
    "                          each run (MSG_SIZE_TOO_LARGE; checks error paths)\n"
    "  --topic NAME            (kafka-load-produce, kafka-load-latency)\n"
    "  --partitions N          created with CreateTopics if missing (1)\n"
    "  --replication-factor N  for a created topic (1)\n"
    "  --record-bytes N        payload bytes per record (1024; latency: >= 32)\n"
    "  --records N             produce: records per run, over all producers (default:\n"
    "                          --seconds); consume: records per run (default: all\n"
    "                          there are from the low watermarks)\n"
    "  --producers N           produce (and consume's fill): producer instances,\n"
    "                          one thread each (1)\n"
    "  --fill-records N        consume: first produce N records (produce settings)\n"
    "  --seconds N             per run (10); latency: includes the warm-up;\n"
    "                          consume: at most (no limit)\n"
    "  --acks 0|1|all          (all)\n"
    "  --linger-ms N           (produce 5, latency 0)\n"
    "  --batch-bytes N         batch.size (produce 1048576, latency librdkafka's)\n"
    "  --compression C         none|gzip|snappy|lz4|zstd (none)\n"
    "  --runs N                repetitions; summary = median [min-max] (3)\n"
    "  --rate N                latency: records/s on a fixed schedule (10000)\n"
    "  --warmup-seconds N      latency: first seconds not measured (2)\n"
    "  --drain-timeout-ms N    latency: wait for the last records; consume: for\n"
    "                          the next record (10000)\n"
    "  --idempotence on|off    enable.idempotence (off)\n"
    "  --set KEY=VALUE         extra librdkafka producer property (repeatable)\n"
    "  --consumer-set KEY=VALUE  latency, consume: extra consumer property (repeatable)\n"
    "  --tag KEY=VALUE         label copied into the JSON lines (repeatable)\n"
    "  --json-out PATH         append one JSON object per run and per summary\n";

// Applies one flag; `value` is empty for the value-less flag --mock.
result<void, std::string> apply_flag(load_options& options, std::string_view flag,
                                     std::string_view value) {
    auto number = [&](auto& field, auto low, auto high) -> result<void, std::string> {
        using T = std::remove_reference_t<decltype(field)>;
        auto parsed = parse_number<T>(flag, value, static_cast<T>(low), static_cast<T>(high));
        if (!parsed) return failure{parsed.error()};
        field = *parsed;
        return {};
    };
    auto optional_number = [&](std::optional<int64_t>& field,
                               int64_t low) -> result<void, std::string> {
        auto parsed = parse_number<int64_t>(flag, value, low, INT64_MAX / ns_per_s);
        if (!parsed) return failure{parsed.error()};
        field = *parsed;
        return {};
    };
    if (flag == "--bootstrap") {
        options.bootstrap = value;
    } else if (flag == "--mock-brokers") {
        return number(options.mock_brokers, 1, 16);
    } else if (flag == "--mock-produce-errors") {
        return number(options.mock_produce_errors, 0, 1000);
    } else if (flag == "--topic") {
        options.topic = value;
    } else if (flag == "--partitions") {
        return number(options.partitions, 1, max_partitions);
    } else if (flag == "--replication-factor") {
        return number(options.replication_factor, 1, 16);
    } else if (flag == "--record-bytes") {
        return number(options.record_bytes, 1, max_record_bytes);
    } else if (flag == "--records") {
        return optional_number(options.records, 1);
    } else if (flag == "--seconds") {
        options.seconds_given = true;
        return number(options.seconds, 1, max_seconds);
    } else if (flag == "--producers") {
        return number(options.producers, 1, max_producers);
    } else if (flag == "--fill-records") {
        return optional_number(options.fill_records, 1);
    } else if (flag == "--linger-ms") {
        return optional_number(options.linger_ms, 0);
    } else if (flag == "--batch-bytes") {
        return optional_number(options.batch_bytes, 1);
    } else if (flag == "--runs") {
        return number(options.runs, 1, max_runs);
    } else if (flag == "--rate") {
        return number(options.rate_per_s, 1, max_rate_per_s);
    } else if (flag == "--warmup-seconds") {
        return number(options.warmup_seconds, 0, max_seconds);
    } else if (flag == "--drain-timeout-ms") {
        return number(options.drain_timeout_ms, 0, max_seconds * 1000);
    } else if (flag == "--json-out") {
        options.json_out = value;
    } else if (flag == "--acks") {
        if (value != "0" && value != "1" && value != "all" && value != "-1") {
            return failure{fmt::format("--acks: expected 0, 1 or all, got '{}'", value)};
        }
        options.acks = value == "-1" ? "all" : std::string(value);
    } else if (flag == "--compression") {
        if (value != "none" && value != "gzip" && value != "snappy" && value != "lz4" &&
            value != "zstd") {
            return failure{fmt::format("--compression: unknown codec '{}'", value)};
        }
        options.compression = value;
    } else if (flag == "--idempotence") {
        if (value != "on" && value != "off") {
            return failure{fmt::format("--idempotence: expected on or off, got '{}'", value)};
        }
        options.idempotence = value == "on";
    } else if (flag == "--set" || flag == "--consumer-set" || flag == "--tag") {
        auto parsed = parse_key_value(flag, value);
        if (!parsed) return failure{parsed.error()};
        (flag == "--set"            ? options.producer_properties
         : flag == "--consumer-set" ? options.consumer_properties
                                    : options.tags)
            .push_back(std::move(*parsed));
    } else {
        return failure{fmt::format("unknown flag '{}'", flag)};
    }
    return {};
}

result<load_options, std::string> parse_command_line(std::span<char*> arguments) {
    load_options options;
    if (arguments.empty()) {
        return failure{std::string("missing mode (produce, consume or latency)")};
    }
    const std::string_view mode = arguments[0];
    if (mode == "produce") {
        options.mode = load_mode::produce;
    } else if (mode == "consume") {
        options.mode = load_mode::consume;
    } else if (mode == "latency") {
        options.mode = load_mode::latency;
    } else {
        return failure{fmt::format("unknown mode '{}' (produce, consume or latency)", mode)};
    }

    for (size_t i = 1; i < arguments.size(); ++i) {
        std::string_view flag = arguments[i];
        if (flag == "--mock") {
            options.mock = true;
            continue;
        }
        std::string_view value;
        const size_t equals = flag.find('=');
        if (flag.starts_with("--") && equals != std::string_view::npos) {
            value = flag.substr(equals + 1);
            flag = flag.substr(0, equals);
        } else if (i + 1 < arguments.size()) {
            value = arguments[++i];
        } else {
            return failure{fmt::format("{}: missing value", flag)};
        }
        auto applied = apply_flag(options, flag, value);
        if (!applied) return failure{applied.error()};
    }

    if (options.mock_produce_errors > 0 && !options.mock) {
        return failure{std::string("--mock-produce-errors needs --mock")};
    }
    if (options.mock == !options.bootstrap.empty()) {
        return failure{std::string("give exactly one of --bootstrap and --mock")};
    }
    if (options.topic.empty()) {
        options.topic = fmt::format("kafka-load-{}", mode_name(options.mode));
    }
    if (options.fill_records && options.mode != load_mode::consume) {
        return failure{std::string("--fill-records: consume mode only")};
    }
    if (options.producers != 1 && options.mode == load_mode::latency) {
        return failure{std::string("--producers: not in latency mode (one sender)")};
    }
    if (options.records && options.mode == load_mode::produce &&
        *options.records < options.producers) {
        return failure{std::string("--records: fewer than --producers")};
    }
    if (options.mode != load_mode::latency) {
        options.linger_ms = options.linger_ms.value_or(5);
        options.batch_bytes = options.batch_bytes.value_or(1024 * 1024);
    } else {
        if (options.records) return failure{std::string("--records: not in latency mode")};
        if (options.record_bytes < 32) {
            return failure{std::string("--record-bytes: latency mode needs at least 32")};
        }
        if (options.warmup_seconds >= options.seconds) {
            return failure{std::string("--warmup-seconds must be less than --seconds")};
        }
        options.linger_ms = options.linger_ms.value_or(0);
    }
    return options;
}

// The fields every line of one invocation shares: what was measured, how.
json_line json_header(const load_options& options, std::string_view type, int32_t partitions) {
    json_line line;
    line.text("tool", "kafka_load").text("mode", mode_name(options.mode)).text("type", type);
    std::string tags = "{";
    for (const key_value& tag : options.tags) {
        tags += fmt::format("{}{}:{}", tags.size() > 1 ? "," : "", json_string(tag.key),
                            json_string(tag.value));
    }
    line.field("tags", tags + "}");
    line.text("bootstrap", options.mock ? "mock" : options.bootstrap)
        .field("mock", options.mock ? "true" : "false")
        .text("topic", options.topic)
        .integer("partitions", partitions)
        .integer("producers", options.producers)
        .integer("record_bytes", options.record_bytes)
        .text("acks", options.acks)
        .integer("linger_ms", *options.linger_ms)
        .integer("batch_bytes", options.batch_bytes.value_or(-1))
        .text("compression", options.compression)
        .field("idempotence", options.idempotence ? "true" : "false");
    if (options.mode == load_mode::latency) {
        line.integer("rate_per_s", options.rate_per_s)
            .integer("seconds", options.seconds)
            .integer("warmup_seconds", options.warmup_seconds);
    } else if (options.mode == load_mode::consume) {
        if (options.records) line.integer("records_per_run", *options.records);
        if (options.seconds_given) line.integer("seconds", options.seconds);
    } else if (options.records) {
        line.integer("records_per_run", *options.records);
    } else {
        line.integer("seconds", options.seconds);
    }
    return line;
}

// ---- librdkafka handles ------------------------------------------------------

struct kafka_deleter {
    void operator()(rd_kafka_t* handle) const noexcept { rd_kafka_destroy(handle); }
    void operator()(rd_kafka_topic_t* topic) const noexcept { rd_kafka_topic_destroy(topic); }
    void operator()(rd_kafka_queue_t* queue) const noexcept { rd_kafka_queue_destroy(queue); }
    void operator()(rd_kafka_event_t* event) const noexcept { rd_kafka_event_destroy(event); }
    void operator()(rd_kafka_message_t* message) const noexcept {
        rd_kafka_message_destroy(message);
    }
    void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
        rd_kafka_topic_partition_list_destroy(list);
    }
    void operator()(const rd_kafka_metadata_t* metadata) const noexcept {
        rd_kafka_metadata_destroy(metadata);
    }
    void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
};
template <typename T>
using kafka_ptr = std::unique_ptr<T, kafka_deleter>;

// A configuration under construction; the first failed property is kept.
class kafka_config {
public:
    kafka_config() : _conf(rd_kafka_conf_new()) {}

    kafka_config& set(std::string_view key, std::string_view value) {
        if (!_error.empty()) return *this;
        char error[512];
        const std::string k(key), v(value);
        if (rd_kafka_conf_set(_conf.get(), k.c_str(), v.c_str(), error, sizeof error) !=
            RD_KAFKA_CONF_OK) {
            _error = fmt::format("{}={}: {}", k, v, error);
        }
        return *this;
    }
    kafka_config& set(std::string_view key, int64_t value) {
        return set(key, std::to_string(value));
    }

    rd_kafka_conf_t* conf() noexcept { return _conf.get(); }

    // Consumes the configuration.
    result<kafka_ptr<rd_kafka_t>, std::string> create(rd_kafka_type_t type) {
        if (!_error.empty()) return failure{_error};
        char error[512];
        rd_kafka_t* handle = rd_kafka_new(type, _conf.get(), error, sizeof error);
        if (handle == nullptr) return failure{std::string(error)};
        (void)_conf.release();  // owned by the handle now
        return kafka_ptr<rd_kafka_t>(handle);
    }

private:
    kafka_ptr<rd_kafka_conf_t> _conf;
    std::string _error;
};

// The mock cluster lives as long as the process; its host handle carries no
// traffic of ours.
struct mock_cluster {
    kafka_ptr<rd_kafka_t> host;
    rd_kafka_mock_cluster_t* cluster = nullptr;

    mock_cluster() = default;
    mock_cluster(mock_cluster&& other) noexcept
        : host(std::move(other.host)), cluster(std::exchange(other.cluster, nullptr)) {}
    mock_cluster& operator=(mock_cluster&&) = delete;
    ~mock_cluster() {
        if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    }
};

result<mock_cluster, std::string> start_mock_cluster(int brokers) {
    kafka_config config;
    config.set("log_level", 3);  // the host handle has no bootstrap.servers: silence that
    auto host = config.create(RD_KAFKA_PRODUCER);
    if (!host) return failure{host.error()};
    mock_cluster mock;
    mock.host = std::move(*host);
    mock.cluster = rd_kafka_mock_cluster_new(mock.host.get(), brokers);
    if (mock.cluster == nullptr) return failure{std::string("rd_kafka_mock_cluster_new failed")};
    return mock;
}

// Settings shared by every client: where, who, and low-latency sockets.
void common_settings(kafka_config& config, const std::string& bootstrap) {
    config.set("bootstrap.servers", bootstrap)
        .set("client.id", "kafka_load")
        .set("socket.nagle.disable", "true");
}

// Waits until the topic's metadata lists every partition with a leader;
// returns the partition count.
result<int32_t, std::string> wait_for_topic(rd_kafka_t* client, const std::string& topic,
                                            int64_t timeout_ms) {
    kafka_ptr<rd_kafka_topic_t> handle(rd_kafka_topic_new(client, topic.c_str(), nullptr));
    const int64_t deadline_ns = monotonic_ns() + timeout_ms * ns_per_ms;
    std::string last_error = "no answer";
    for (;;) {
        const rd_kafka_metadata_t* raw = nullptr;
        const rd_kafka_resp_err_t error = rd_kafka_metadata(client, 0, handle.get(), &raw, 5000);
        kafka_ptr<const rd_kafka_metadata_t> metadata(raw);
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            last_error = rd_kafka_err2str(error);
        } else if (metadata->topic_cnt != 1 || metadata->topics[0].err) {
            last_error = metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err)
                                                  : "topic not listed";
        } else {
            const rd_kafka_metadata_topic_t& t = metadata->topics[0];
            const bool led = t.partition_cnt > 0 &&
                             std::all_of(t.partitions, t.partitions + t.partition_cnt,
                                         [](const auto& p) { return p.leader >= 0 && !p.err; });
            if (led) return t.partition_cnt;
            last_error = "partitions without a leader";
        }
        if (monotonic_ns() > deadline_ns) {
            return failure{fmt::format("topic {}: metadata not ready after {} ms: {}", topic,
                                       timeout_ms, last_error)};
        }
        sleep_until_ns(monotonic_ns() + 100 * ns_per_ms);
    }
}

// Creates the topic with the Admin API (CreateTopics) unless it exists, and
// returns its partition count. librdkafka 2.0's mock cluster does not answer
// CreateTopics, so with --mock the topic is created through the mock API.
result<int32_t, std::string> ensure_topic(const load_options& options, const std::string& bootstrap,
                                          mock_cluster* mock) {
    kafka_config config;
    common_settings(config, bootstrap);
    config.set("allow.auto.create.topics", "false");
    auto admin = config.create(RD_KAFKA_PRODUCER);
    if (!admin) return failure{admin.error()};

    if (mock != nullptr) {
        const rd_kafka_resp_err_t error = rd_kafka_mock_topic_create(
            mock->cluster, options.topic.c_str(), options.partitions, options.replication_factor);
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR &&
            error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            return failure{
                fmt::format("mock topic {}: {}", options.topic, rd_kafka_err2str(error))};
        }
    } else {
        char error[512];
        rd_kafka_NewTopic_t* new_topic =
            rd_kafka_NewTopic_new(options.topic.c_str(), options.partitions,
                                  options.replication_factor, error, sizeof error);
        if (new_topic == nullptr) return failure{fmt::format("CreateTopics: {}", error)};
        rd_kafka_AdminOptions_t* admin_options =
            rd_kafka_AdminOptions_new(admin->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(admin_options, setup_timeout_ms, error,
                                                  sizeof error);
        rd_kafka_AdminOptions_set_operation_timeout(admin_options, setup_timeout_ms, error,
                                                    sizeof error);
        kafka_ptr<rd_kafka_queue_t> queue(rd_kafka_queue_new(admin->get()));
        rd_kafka_CreateTopics(admin->get(), &new_topic, 1, admin_options, queue.get());
        kafka_ptr<rd_kafka_event_t> event(
            rd_kafka_queue_poll(queue.get(), static_cast<int>(setup_timeout_ms + 5000)));
        rd_kafka_NewTopic_destroy(new_topic);
        rd_kafka_AdminOptions_destroy(admin_options);
        if (!event) return failure{std::string("CreateTopics: no answer")};
        if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return failure{
                fmt::format("CreateTopics: {}", rd_kafka_event_error_string(event.get()))};
        }
        size_t count = 0;
        const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(event.get()), &count);
        for (size_t i = 0; i < count; ++i) {
            const rd_kafka_resp_err_t topic_error = rd_kafka_topic_result_error(topics[i]);
            if (topic_error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fmt::print(stderr, "kafka_load: topic {} exists already\n", options.topic);
            } else if (topic_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* message = rd_kafka_topic_result_error_string(topics[i]);
                return failure{fmt::format("CreateTopics {}: {}", options.topic,
                                           message ? message : rd_kafka_err2str(topic_error))};
            }
        }
    }
    auto partitions = wait_for_topic(admin->get(), options.topic, setup_timeout_ms);
    if (partitions && *partitions != options.partitions) {
        fmt::print(stderr, "kafka_load: topic {} has {} partitions, not {}: using {}\n",
                   options.topic, *partitions, options.partitions, *partitions);
    }
    return partitions;
}

// Producer settings of both modes, then the user's --set on top.
kafka_config producer_config(const load_options& options, const std::string& bootstrap,
                             void* opaque) {
    kafka_config config;
    common_settings(config, bootstrap);
    config.set("acks", options.acks)
        .set("linger.ms", *options.linger_ms)
        .set("compression.codec", options.compression)
        .set("enable.idempotence", options.idempotence ? "true" : "false");
    if (options.mode != load_mode::latency) {  // consume's fill produces too
        const int64_t batch_bytes = *options.batch_bytes;
        config.set("batch.size", batch_bytes)
            .set("message.max.bytes", std::max<int64_t>(1'000'000, batch_bytes))
            .set("batch.num.messages",
                 std::clamp<int64_t>(batch_bytes / options.record_bytes + 1, 1, batch_messages_max))
            .set("queue.buffering.max.messages", produce_queue_messages_max)
            .set("queue.buffering.max.kbytes", produce_queue_kib_max);
    } else if (options.batch_bytes) {
        config.set("batch.size", *options.batch_bytes);
    }
    for (const key_value& property : options.producer_properties) {
        config.set(property.key, property.value);
    }
    rd_kafka_conf_set_opaque(config.conf(), opaque);
    return config;
}

// Produces with back-pressure: on a full local queue, serves delivery
// reports and retries. Returns false on any other error (counted by caller).
bool produce_one(rd_kafka_t* producer, rd_kafka_topic_t* topic, int32_t partition, int flags,
                 const std::byte* payload, size_t bytes) {
    for (;;) {
        if (rd_kafka_produce(topic, partition, flags,
                             const_cast<std::byte*>(payload),  // NOLINT: not written (no F_FREE)
                             bytes, nullptr, 0, nullptr) == 0) {
            return true;
        }
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
        rd_kafka_poll(producer, 10);
    }
}

// ---- produce mode ------------------------------------------------------------

// Delivery reports of one run; touched only by the thread that polls.
struct delivery_tally {
    int64_t delivered_records = 0;
    int64_t delivered_bytes = 0;
    int64_t errors = 0;
    std::string first_error;
    log_linear_histogram ack_latency_ns;  // produce() to delivery report
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto& tally = *static_cast<delivery_tally*>(opaque);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (tally.errors++ == 0) tally.first_error = rd_kafka_err2str(message->err);
        return;
    }
    ++tally.delivered_records;
    tally.delivered_bytes += static_cast<int64_t>(message->len);
    tally.ack_latency_ns.record(rd_kafka_message_latency(message) * 1000);
}

struct produce_run {
    int64_t records_sent = 0;
    int64_t produce_errors = 0;  // refused by produce() itself
    int64_t undelivered = 0;     // no report before the flush deadline
    double elapsed_s = 0;
    delivery_tally tally;

    int64_t failed() const { return produce_errors + undelivered + tally.errors; }
    double bytes_per_s() const { return static_cast<double>(tally.delivered_bytes) / elapsed_s; }
    double records_per_s() const {
        return static_cast<double>(tally.delivered_records) / elapsed_s;
    }
};

// What one producer of a run sends: records first, first + stride, ...
// (record i goes to partition i % partitions, whatever the producer count).
struct producer_share {
    int64_t first = 0;
    int64_t stride = 1;
    int64_t limit = INT64_MAX;
};

// One producer's part of a run; returns its end time.
int64_t produce_share(const load_options& options, rd_kafka_t* producer, rd_kafka_topic_t* topic,
                      int32_t partitions, std::span<const std::byte> pool,
                      const producer_share& share, int64_t end_ns, produce_run& run) {
    const auto record_bytes = static_cast<size_t>(options.record_bytes);
    const size_t offsets = pool.size() - record_bytes + 1;
    for (int64_t i = share.first, n = 0; i < share.limit; i += share.stride, ++n) {
        if (n % poll_every_records == 0) {
            rd_kafka_poll(producer, 0);
            if (monotonic_ns() >= end_ns) break;
        }
        // No copy: the pool outlives the producer.
        const std::byte* payload = pool.data() + (static_cast<size_t>(i) * 7919) % offsets;
        if (!produce_one(producer, topic, static_cast<int32_t>(i % partitions), 0, payload,
                         record_bytes)) {
            if (run.produce_errors++ == 0) {
                run.tally.first_error = rd_kafka_err2str(rd_kafka_last_error());
            }
            continue;
        }
        ++run.records_sent;
    }
    rd_kafka_flush(producer, static_cast<int>(flush_timeout_ms));
    run.undelivered = rd_kafka_outq_len(producer);
    return monotonic_ns();
}

// --producers producers, one thread each, all connected before the clock
// starts; `records` in all (else `seconds`). Timed from the common start to
// the last producer's last delivery report.
result<std::unique_ptr<produce_run>, std::string> run_produce(
    const load_options& options, const std::string& bootstrap, int32_t partitions,
    std::span<const std::byte> pool, std::optional<int64_t> records, int64_t seconds) {
    const auto producers = static_cast<size_t>(options.producers);
    std::vector<std::unique_ptr<produce_run>> parts;
    std::vector<kafka_ptr<rd_kafka_t>> handles;
    std::vector<kafka_ptr<rd_kafka_topic_t>> topics;
    for (size_t k = 0; k < producers; ++k) {
        parts.push_back(std::make_unique<produce_run>());
        kafka_config config = producer_config(options, bootstrap, &parts.back()->tally);
        rd_kafka_conf_set_dr_msg_cb(config.conf(), on_delivery);
        auto producer = config.create(RD_KAFKA_PRODUCER);
        if (!producer) return failure{producer.error()};
        topics.emplace_back(rd_kafka_topic_new(producer->get(), options.topic.c_str(), nullptr));
        // Connect before the clock starts.
        auto ready = wait_for_topic(producer->get(), options.topic, setup_timeout_ms);
        if (!ready) return failure{ready.error()};
        handles.push_back(std::move(*producer));
    }
    const int64_t start_ns = monotonic_ns();
    const int64_t end_ns = records ? INT64_MAX : start_ns + seconds * ns_per_s;
    std::vector<int64_t> finished_ns(producers, start_ns);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < producers; ++k) {
        threads.emplace_back([&, k] {
            const producer_share share{static_cast<int64_t>(k), static_cast<int64_t>(producers),
                                       records.value_or(INT64_MAX)};
            finished_ns[k] = produce_share(options, handles[k].get(), topics[k].get(), partitions,
                                           pool, share, end_ns, *parts[k]);
        });
    }
    for (std::thread& thread : threads) thread.join();

    auto run = std::make_unique<produce_run>();
    for (const auto& part : parts) {
        run->records_sent += part->records_sent;
        run->produce_errors += part->produce_errors;
        run->undelivered += part->undelivered;
        run->tally.delivered_records += part->tally.delivered_records;
        run->tally.delivered_bytes += part->tally.delivered_bytes;
        run->tally.errors += part->tally.errors;
        if (run->tally.first_error.empty()) run->tally.first_error = part->tally.first_error;
        run->tally.ack_latency_ns.merge(part->tally.ack_latency_ns);
    }
    run->elapsed_s =
        static_cast<double>(*std::max_element(finished_ns.begin(), finished_ns.end()) - start_ns) /
        ns_per_s;
    return run;
}

void report_produce_run(const load_options& options, int32_t partitions, int run_number,
                        const produce_run& run, result_sink& sink) {
    const latency_summary_us ack = summarize_us(run.tally.ack_latency_ns);
    fmt::print(
        "produce run {}/{}: {} B x {} records in {:.2f} s: {:.1f} MB/s, {} records/s; "
        "ack latency p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us; {} failed{}\n",
        run_number, options.runs, options.record_bytes, run.tally.delivered_records, run.elapsed_s,
        run.bytes_per_s() / 1e6, human_count(run.records_per_s()), ack.p50, ack.p99, ack.max,
        run.failed(), run.failed() ? " (first: " + run.tally.first_error + ")" : "");
    std::fflush(stdout);
    json_line line = json_header(options, "run", partitions);
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_sent", run.records_sent)
        .integer("records_delivered", run.tally.delivered_records)
        .integer("bytes_delivered", run.tally.delivered_bytes)
        .integer("delivery_errors", run.failed())
        .text("first_error", run.tally.first_error)
        .number("elapsed_s", run.elapsed_s)
        .number("bytes_per_s", run.bytes_per_s())
        .number("records_per_s", run.records_per_s())
        .field("ack_latency_us", json_latency(ack));
    sink.write(line);
}

void report_produce_summary(const load_options& options, int32_t partitions,
                            const std::vector<std::unique_ptr<produce_run>>& runs,
                            result_sink& sink) {
    std::vector<double> bytes_per_s, records_per_s, ack_p99_us;
    int64_t failed = 0;
    for (const auto& run : runs) {
        bytes_per_s.push_back(run->bytes_per_s());
        records_per_s.push_back(run->records_per_s());
        ack_p99_us.push_back(summarize_us(run->tally.ack_latency_ns).p99);
        failed += run->failed();
    }
    const spread mb = spread_of(bytes_per_s), records = spread_of(records_per_s),
                 ack = spread_of(ack_p99_us);
    fmt::print(
        "produce summary ({} runs, {} B, acks={}, {} partitions): MB/s median {:.1f} "
        "[{:.1f}-{:.1f}], records/s median {} [{}-{}], ack p99 median {:.0f} us; {} failed\n",
        runs.size(), options.record_bytes, options.acks, partitions, mb.median / 1e6, mb.min / 1e6,
        mb.max / 1e6, human_count(records.median), human_count(records.min),
        human_count(records.max), ack.median, failed);
    json_line line = json_header(options, "summary", partitions);
    line.integer("runs", static_cast<int64_t>(runs.size()))
        .integer("delivery_errors", failed)
        .field("bytes_per_s", json_spread(mb))
        .field("records_per_s", json_spread(records))
        .field("ack_latency_p99_us", json_spread(ack));
    sink.write(line);
}

// ---- latency mode ------------------------------------------------------------

// The latency run's shared state. The sender thread writes the sender
// fields, the consumer (main) thread the consumer fields; `send_done` and
// `expected_records` hand over the end.
struct latency_run {
    uint64_t run_id = 0;
    int64_t start_ns = 0;
    int64_t warmup_end_ns = 0;
    int64_t end_ns = 0;

    // sender
    int64_t records_sent = 0;
    int64_t produce_errors = 0;
    int64_t undelivered = 0;
    delivery_tally tally;
    log_linear_histogram send_lag_ns;           // scheduled time to produce() returning
    std::atomic<int64_t> expected_records{-1};  // delivered, known after the flush

    // consumer
    int64_t received = 0;
    int64_t measured = 0;
    int64_t duplicated = 0;
    int64_t reordered = 0;
    int64_t foreign = 0;  // not ours (another run or writer)
    int64_t consume_errors = 0;
    std::string first_consume_error;
    std::vector<partition_check> partitions;
    log_linear_histogram latency_ns;  // scheduled send time to consumed

    int64_t unique_received() const { return received - duplicated; }
    // Delivered but not read back before the drain deadline.
    int64_t missing() const {
        return std::max<int64_t>(0, expected_records.load() - unique_received());
    }
    int64_t failures() const {
        return produce_errors + undelivered + tally.errors + missing() + duplicated + reordered +
               consume_errors;
    }
};

// Sends on the schedule start + i / rate. When behind (a slow produce(), a
// late wake-up), it sends at once without skipping: the lag stays in the
// measured latency, which counts from the scheduled time.
void send_on_schedule(const load_options& options, rd_kafka_t* producer, rd_kafka_topic_t* topic,
                      int32_t partition_count, latency_run& run) {
    std::vector<std::byte> payload = make_payload_pool(static_cast<size_t>(options.record_bytes));
    std::vector<uint64_t> next_sequence(static_cast<size_t>(partition_count), 0);
    for (int64_t i = 0;; ++i) {
        const int64_t scheduled_ns =
            run.start_ns +
            static_cast<int64_t>(static_cast<__int128>(i) * ns_per_s / options.rate_per_s);
        if (scheduled_ns >= run.end_ns) break;
        if (monotonic_ns() < scheduled_ns) {
            rd_kafka_poll(producer, 0);
            sleep_until_ns(scheduled_ns);
        } else if (i % poll_every_records == 0) {
            rd_kafka_poll(producer, 0);
        }
        const auto partition = static_cast<int32_t>(i % partition_count);
        const record_header header{run.run_id, scheduled_ns,
                                   next_sequence[static_cast<size_t>(partition)], partition, 0};
        std::memcpy(payload.data(), &header, sizeof header);
        if (!produce_one(producer, topic, partition, RD_KAFKA_MSG_F_COPY, payload.data(),
                         payload.size())) {
            if (run.produce_errors++ == 0) {
                run.tally.first_error = rd_kafka_err2str(rd_kafka_last_error());
            }
            continue;
        }
        ++next_sequence[static_cast<size_t>(partition)];
        ++run.records_sent;
        run.send_lag_ns.record(monotonic_ns() - scheduled_ns);
    }
    rd_kafka_flush(producer, static_cast<int>(flush_timeout_ms));
    run.undelivered = rd_kafka_outq_len(producer);
    run.expected_records.store(run.tally.delivered_records);
}

void check_record(latency_run& run, const rd_kafka_message_t& message, int64_t now_ns) {
    record_header header{};
    if (message.len < sizeof header) {
        ++run.foreign;
        return;
    }
    std::memcpy(&header, message.payload, sizeof header);
    if (header.run_id != run.run_id || header.partition != message.partition ||
        header.partition < 0 || static_cast<size_t>(header.partition) >= run.partitions.size()) {
        ++run.foreign;
        return;
    }
    ++run.received;
    partition_check& check = run.partitions[static_cast<size_t>(header.partition)];
    if (header.sequence >= check.seen.size()) {
        check.seen.resize(std::max<size_t>(header.sequence + 1, check.seen.size() * 2), false);
    }
    if (check.seen[header.sequence]) {
        ++run.duplicated;
        return;
    }
    check.seen[header.sequence] = true;
    if (header.sequence + 1 < check.highest_plus_one) ++run.reordered;
    check.highest_plus_one = std::max(check.highest_plus_one, header.sequence + 1);
    if (header.scheduled_send_ns >= run.warmup_end_ns) {
        run.latency_ns.record(now_ns - header.scheduled_send_ns);
        ++run.measured;
    }
}

result<kafka_ptr<rd_kafka_t>, std::string> start_consumer(const load_options& options,
                                                          const std::string& bootstrap,
                                                          int32_t partitions) {
    kafka_config config;
    common_settings(config, bootstrap);
    // assign() needs a group.id in librdkafka; nothing is committed.
    config.set("group.id", "kafka_load")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", 1)
        .set("fetch.min.bytes", 1)
        .set("fetch.error.backoff.ms", 10)
        .set("allow.auto.create.topics", "false")
        // An offset out of range (the log truncated under a lagging
        // consumer) is a consume error, not a silent jump.
        .set("auto.offset.reset", "error");
    for (const key_value& property : options.consumer_properties) {
        config.set(property.key, property.value);
    }
    auto consumer = config.create(RD_KAFKA_CONSUMER);
    if (!consumer) return failure{consumer.error()};
    // Start at the current end of every partition: only this run's records.
    kafka_ptr<rd_kafka_topic_partition_list_t> assignment(
        rd_kafka_topic_partition_list_new(partitions));
    for (int32_t p = 0; p < partitions; ++p) {
        int64_t low = 0, high = 0;
        const rd_kafka_resp_err_t error =
            rd_kafka_query_watermark_offsets(consumer->get(), options.topic.c_str(), p, &low, &high,
                                             static_cast<int>(setup_timeout_ms));
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return failure{
                fmt::format("end offset of {}/{}: {}", options.topic, p, rd_kafka_err2str(error))};
        }
        rd_kafka_topic_partition_list_add(assignment.get(), options.topic.c_str(), p)->offset =
            high;
    }
    const rd_kafka_resp_err_t error = rd_kafka_assign(consumer->get(), assignment.get());
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return failure{fmt::format("assign: {}", rd_kafka_err2str(error))};
    }
    return consumer;
}

result<std::unique_ptr<latency_run>, std::string> run_latency(const load_options& options,
                                                              const std::string& bootstrap,
                                                              int32_t partitions, uint64_t run_id) {
    auto run = std::make_unique<latency_run>();
    run->run_id = run_id;
    run->partitions.resize(static_cast<size_t>(partitions));
    auto consumer = start_consumer(options, bootstrap, partitions);
    if (!consumer) return failure{consumer.error()};

    kafka_config config = producer_config(options, bootstrap, &run->tally);
    rd_kafka_conf_set_dr_msg_cb(config.conf(), on_delivery);
    auto producer = config.create(RD_KAFKA_PRODUCER);
    if (!producer) return failure{producer.error()};
    kafka_ptr<rd_kafka_topic_t> topic(
        rd_kafka_topic_new(producer->get(), options.topic.c_str(), nullptr));
    auto ready = wait_for_topic(producer->get(), options.topic, setup_timeout_ms);
    if (!ready) return failure{ready.error()};

    // The consumer gets half a second to start fetching before the first
    // send (the mock keeps only about 5 MB per partition).
    run->start_ns = monotonic_ns() + 500 * ns_per_ms;
    run->warmup_end_ns = run->start_ns + options.warmup_seconds * ns_per_s;
    run->end_ns = run->start_ns + options.seconds * ns_per_s;
    std::thread sender(
        [&] { send_on_schedule(options, producer->get(), topic.get(), partitions, *run); });

    int64_t drain_deadline_ns = INT64_MAX;
    for (;;) {
        kafka_ptr<rd_kafka_message_t> message(rd_kafka_consumer_poll(consumer->get(), 100));
        const int64_t now_ns = monotonic_ns();
        if (message && message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            check_record(*run, *message, now_ns);
        } else if (message && message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (run->consume_errors++ == 0) {
                run->first_consume_error = rd_kafka_message_errstr(message.get());
            }
        }
        const int64_t expected = run->expected_records.load();
        if (expected < 0) continue;
        if (run->unique_received() >= expected) break;
        if (drain_deadline_ns == INT64_MAX) {
            drain_deadline_ns = now_ns + options.drain_timeout_ms * ns_per_ms;
        } else if (now_ns > drain_deadline_ns) {
            break;
        }
    }
    sender.join();
    rd_kafka_consumer_close(consumer->get());
    return run;
}

void report_latency_run(const load_options& options, int32_t partitions, int run_number,
                        const latency_run& run, result_sink& sink) {
    const latency_summary_us latency = summarize_us(run.latency_ns);
    const latency_summary_us lag = summarize_us(run.send_lag_ns);
    const latency_summary_us ack = summarize_us(run.tally.ack_latency_ns);
    const double sent_per_s =
        static_cast<double>(run.records_sent) / static_cast<double>(options.seconds);
    const int64_t delivery_failed = run.produce_errors + run.undelivered + run.tally.errors;
    fmt::print(
        "latency run {}/{}: {} records/s x {} B (sent {}/s): p50 {:.0f} us, p99 {:.0f} us, "
        "p99.9 {:.0f} us, max {:.0f} us over {} records; send lag p99 {:.0f} us; ack p50 {:.0f} "
        "us, "
        "p99 {:.0f} us; missing {}, duplicated {}, reordered {}, delivery errors {}, consume "
        "errors "
        "{}{}\n",
        run_number, options.runs, human_count(static_cast<double>(options.rate_per_s)),
        options.record_bytes, human_count(sent_per_s), latency.p50, latency.p99, latency.p99_9,
        latency.max, run.measured, lag.p99, ack.p50, ack.p99, run.missing(), run.duplicated,
        run.reordered, delivery_failed, run.consume_errors,
        delivery_failed      ? " (first delivery error: " + run.tally.first_error + ")"
        : run.consume_errors ? " (first consume error: " + run.first_consume_error + ")"
                             : "");
    if (run.foreign > 0) {
        fmt::print(stderr, "kafka_load: {} records not from this run ignored\n", run.foreign);
    }
    std::fflush(stdout);
    json_line line = json_header(options, "run", partitions);
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_sent", run.records_sent)
        .integer("records_delivered", run.tally.delivered_records)
        .integer("records_received", run.received)
        .integer("records_measured", run.measured)
        .number("sent_per_s", sent_per_s)
        .integer("missing", run.missing())
        .integer("duplicated", run.duplicated)
        .integer("reordered", run.reordered)
        .integer("delivery_errors", delivery_failed)
        .integer("consume_errors", run.consume_errors)
        .text("first_error",
              !run.tally.first_error.empty() ? run.tally.first_error : run.first_consume_error)
        .field("latency_us", json_latency(latency))
        .field("send_lag_us", json_latency(lag))
        .field("ack_latency_us", json_latency(ack));
    sink.write(line);
}

void report_latency_summary(const load_options& options, int32_t partitions,
                            const std::vector<std::unique_ptr<latency_run>>& runs,
                            result_sink& sink) {
    const latency_spreads s = latency_spreads_of(runs);
    const spread &s50 = s.p50, &s99 = s.p99, &s999 = s.p99_9, &smax = s.max;
    const int64_t failures = s.failures;
    fmt::print(
        "latency summary ({} runs, {} records/s, {} B, acks={}, {} partitions), us, median "
        "[min-max]: p50 {:.0f} [{:.0f}-{:.0f}], p99 {:.0f} [{:.0f}-{:.0f}], p99.9 {:.0f} "
        "[{:.0f}-{:.0f}], max {:.0f} [{:.0f}-{:.0f}]; {} failures\n",
        runs.size(), human_count(static_cast<double>(options.rate_per_s)), options.record_bytes,
        options.acks, partitions, s50.median, s50.min, s50.max, s99.median, s99.min, s99.max,
        s999.median, s999.min, s999.max, smax.median, smax.min, smax.max, failures);
    json_line line = json_header(options, "summary", partitions);
    add_latency_spreads(line, runs.size(), s);
    sink.write(line);
}

// ---- consume mode ------------------------------------------------------------

struct consume_run {
    int64_t records_expected = 0;
    int64_t records = 0;
    int64_t bytes = 0;
    int64_t consume_errors = 0;
    std::string first_error;
    double elapsed_s = 0;

    int64_t short_records() const { return std::max<int64_t>(0, records_expected - records); }
    int64_t failures() const { return short_records() + consume_errors; }
    double bytes_per_s() const { return static_cast<double>(bytes) / elapsed_s; }
    double records_per_s() const { return static_cast<double>(records) / elapsed_s; }
};

// One consumer assigned every partition from its low watermark reads the
// records there were when the run began (or --records), or for --seconds.
// Timed from the assignment (the first fetch follows it) to the last record;
// a partition that stays silent for --drain-timeout-ms ends the run short.
result<consume_run, std::string> run_consume(const load_options& options,
                                             const std::string& bootstrap, int32_t partitions) {
    kafka_config config;
    common_settings(config, bootstrap);
    config.set("group.id", "kafka_load")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("allow.auto.create.topics", "false")
        .set("auto.offset.reset", "error");
    for (const key_value& property : options.consumer_properties) {
        config.set(property.key, property.value);
    }
    auto consumer = config.create(RD_KAFKA_CONSUMER);
    if (!consumer) return failure{consumer.error()};
    consume_run run;
    kafka_ptr<rd_kafka_topic_partition_list_t> assignment(
        rd_kafka_topic_partition_list_new(partitions));
    for (int32_t p = 0; p < partitions; ++p) {
        int64_t low = 0, high = 0;
        const rd_kafka_resp_err_t error =
            rd_kafka_query_watermark_offsets(consumer->get(), options.topic.c_str(), p, &low, &high,
                                             static_cast<int>(setup_timeout_ms));
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return failure{
                fmt::format("offsets of {}/{}: {}", options.topic, p, rd_kafka_err2str(error))};
        }
        run.records_expected += high - low;
        rd_kafka_topic_partition_list_add(assignment.get(), options.topic.c_str(), p)->offset = low;
    }
    if (options.records) run.records_expected = *options.records;
    const int64_t start_ns = monotonic_ns();
    const rd_kafka_resp_err_t error = rd_kafka_assign(consumer->get(), assignment.get());
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return failure{fmt::format("assign: {}", rd_kafka_err2str(error))};
    }
    const int64_t end_ns =
        options.seconds_given ? start_ns + options.seconds * ns_per_s : INT64_MAX;
    int64_t last_record_ns = start_ns;
    while (run.records < run.records_expected) {
        kafka_ptr<rd_kafka_message_t> message(rd_kafka_consumer_poll(consumer->get(), 100));
        const int64_t now_ns = monotonic_ns();
        if (message && message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++run.records;
            run.bytes += static_cast<int64_t>(message->len);
            last_record_ns = now_ns;
        } else if (message && message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (run.consume_errors++ == 0) run.first_error = rd_kafka_message_errstr(message.get());
        }
        if (now_ns >= end_ns) break;
        if (now_ns - last_record_ns > options.drain_timeout_ms * ns_per_ms) break;
    }
    run.elapsed_s = static_cast<double>(last_record_ns - start_ns) / ns_per_s;
    if (options.seconds_given && run.records < run.records_expected) {
        run.records_expected = run.records;  // the time ran out: not short
    }
    rd_kafka_consumer_close(consumer->get());
    return run;
}

void report_consume_run(const load_options& options, int32_t partitions, int run_number,
                        const consume_run& run, result_sink& sink) {
    fmt::print(
        "consume run {}/{}: {} records ({} B) in {:.2f} s: {:.1f} MB/s, {} records/s; "
        "{} short, {} consume errors{}\n",
        run_number, options.runs, run.records, run.bytes, run.elapsed_s, run.bytes_per_s() / 1e6,
        human_count(run.records_per_s()), run.short_records(), run.consume_errors,
        run.consume_errors ? " (first: " + run.first_error + ")" : "");
    std::fflush(stdout);
    json_line line = json_header(options, "run", partitions);
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_expected", run.records_expected)
        .integer("records_received", run.records)
        .integer("bytes_received", run.bytes)
        .integer("records_short", run.short_records())
        .integer("consume_errors", run.consume_errors)
        .text("first_error", run.first_error)
        .number("elapsed_s", run.elapsed_s)
        .number("bytes_per_s", run.bytes_per_s())
        .number("records_per_s", run.records_per_s());
    sink.write(line);
}

void report_consume_summary(const load_options& options, int32_t partitions,
                            const std::vector<consume_run>& runs, result_sink& sink) {
    std::vector<double> bytes_per_s, records_per_s;
    int64_t failures = 0;
    for (const consume_run& run : runs) {
        bytes_per_s.push_back(run.bytes_per_s());
        records_per_s.push_back(run.records_per_s());
        failures += run.failures();
    }
    const spread mb = spread_of(bytes_per_s), records = spread_of(records_per_s);
    fmt::print(
        "consume summary ({} runs, {} partitions): MB/s median {:.1f} [{:.1f}-{:.1f}], "
        "records/s median {} [{}-{}]; {} failures\n",
        runs.size(), partitions, mb.median / 1e6, mb.min / 1e6, mb.max / 1e6,
        human_count(records.median), human_count(records.min), human_count(records.max), failures);
    json_line line = json_header(options, "summary", partitions);
    line.integer("runs", static_cast<int64_t>(runs.size()))
        .integer("failures", failures)
        .field("bytes_per_s", json_spread(mb))
        .field("records_per_s", json_spread(records));
    sink.write(line);
}

// ---- main --------------------------------------------------------------------

// Makes the mock fail the next Produce requests (API key 0).
void inject_mock_errors(const load_options& options, mock_cluster* mock) {
    if (mock == nullptr || options.mock_produce_errors == 0) return;
    std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(options.mock_produce_errors),
                                            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    constexpr int16_t produce_api_key = 0;
    rd_kafka_mock_push_request_errors_array(mock->cluster, produce_api_key, errors.size(),
                                            errors.data());
}

int run_mode(const load_options& options) {
    std::optional<mock_cluster> mock;
    std::string bootstrap = options.bootstrap;
    if (options.mock) {
        auto started = start_mock_cluster(options.mock_brokers);
        if (!started) {
            fmt::print(stderr, "kafka_load: {}\n", started.error());
            return 2;
        }
        mock.emplace(std::move(*started));
        bootstrap = rd_kafka_mock_cluster_bootstraps(mock->cluster);
    }
    FILE* json_file = nullptr;
    if (!options.json_out.empty()) {
        json_file = std::fopen(options.json_out.c_str(), "a");
        if (json_file == nullptr) {
            fmt::print(stderr, "kafka_load: {}: {}\n", options.json_out, std::strerror(errno));
            return 2;
        }
    }
    result_sink sink(json_file);
    auto partitions = ensure_topic(options, bootstrap, mock ? &*mock : nullptr);
    if (!partitions) {
        fmt::print(stderr, "kafka_load: {}\n", partitions.error());
        return 2;
    }

    int64_t failures = 0;
    if (options.mode == load_mode::consume) {
        if (options.fill_records) {
            const std::vector<std::byte> pool = make_payload_pool(
                std::max(payload_pool_bytes, static_cast<size_t>(options.record_bytes) * 2));
            auto fill = run_produce(options, bootstrap, *partitions, pool, options.fill_records,
                                    options.seconds);
            if (!fill) {
                fmt::print(stderr, "kafka_load: fill: {}\n", fill.error());
                return 2;
            }
            fmt::print("fill: {} records of {} B in {:.2f} s ({:.1f} MB/s), {} failed\n",
                       (*fill)->tally.delivered_records, options.record_bytes, (*fill)->elapsed_s,
                       (*fill)->bytes_per_s() / 1e6, (*fill)->failed());
            if ((*fill)->failed() > 0) return 1;
        }
        std::vector<consume_run> runs;
        for (int r = 1; r <= options.runs; ++r) {
            auto run = run_consume(options, bootstrap, *partitions);
            if (!run) {
                fmt::print(stderr, "kafka_load: run {}: {}\n", r, run.error());
                return 2;
            }
            report_consume_run(options, *partitions, r, *run, sink);
            failures += run->failures();
            runs.push_back(std::move(*run));
        }
        report_consume_summary(options, *partitions, runs, sink);
    } else if (options.mode == load_mode::produce) {
        const std::vector<std::byte> pool = make_payload_pool(
            std::max(payload_pool_bytes, static_cast<size_t>(options.record_bytes) * 2));
        std::vector<std::unique_ptr<produce_run>> runs;
        for (int r = 1; r <= options.runs; ++r) {
            inject_mock_errors(options, mock ? &*mock : nullptr);
            auto run = run_produce(options, bootstrap, *partitions, pool, options.records,
                                   options.seconds);
            if (!run) {
                fmt::print(stderr, "kafka_load: run {}: {}\n", r, run.error());
                return 2;
            }
            report_produce_run(options, *partitions, r, **run, sink);
            failures += (*run)->failed();
            runs.push_back(std::move(*run));
        }
        report_produce_summary(options, *partitions, runs, sink);
    } else {
        std::vector<std::unique_ptr<latency_run>> runs;
        std::random_device entropy;
        for (int r = 1; r <= options.runs; ++r) {
            const uint64_t run_id = (uint64_t{entropy()} << 32) ^ entropy() ^ uint64_t(r);
            inject_mock_errors(options, mock ? &*mock : nullptr);
            auto run = run_latency(options, bootstrap, *partitions, run_id);
            if (!run) {
                fmt::print(stderr, "kafka_load: run {}: {}\n", r, run.error());
                return 2;
            }
            report_latency_run(options, *partitions, r, **run, sink);
            failures += (*run)->failures();
            runs.push_back(std::move(*run));
        }
        report_latency_summary(options, *partitions, runs, sink);
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tl::perf

int main(int argc, char** argv) {
    std::span<char*> arguments(argv + 1, static_cast<size_t>(argc - 1));
    for (const std::string_view argument : arguments) {
        if (argument == "--help" || argument == "-h") {
            std::fputs(tl::perf::usage_text.data(), stdout);
            return 0;
        }
    }
    auto options = tl::perf::parse_command_line(arguments);
    if (!options) {
        fmt::print(stderr, "kafka_load: {}\n{}", options.error(), tl::perf::usage_text);
        return 2;
    }
    return tl::perf::run_mode(*options);
}
