// Load tool for Tidelog's peers (issue 10): Redis Streams (hiredis) and NATS
// JetStream (libnats), with kafka_load's modes, flag names and JSON lines, so
// that perf/run.sh drives the three systems with the same record sizes,
// counts and batching. Each mode is repeated --runs times:
//
//   produce   --producers threads, one connection each, send --records (or
//             for --seconds) records of --record-bytes, round-robin over the
//             --partitions streams (Redis) or subjects (NATS), in windows of
//             --batch records: Redis pipelines --batch XADDs and reads their
//             replies; NATS publishes --batch messages asynchronously and
//             waits for every ack (js_PublishAsyncComplete). Timed from the
//             first send to the last ack: MB/s (10^6 bytes of payload),
//             records/s, ack latency (window handed to the client to the
//             record's reply or ack).
//
//   latency   one thread sends --rate records/s on a fixed schedule (redis:
//             XADDs written without waiting for replies, read as they come;
//             nats: async publishes), each stamped with its *scheduled* send
//             time; one consumer in the same process (XREAD BLOCK; an
//             ephemeral push consumer without acks) reads them back: latency
//             percentiles from the scheduled time, missing, duplicated and
//             reordered records per partition, as kafka_load.
//
//   consume   reads the topic from its start, --batch records per round trip
//             (redis: XREAD COUNT over every stream; nats: an ephemeral pull
//             consumer without acks), until the records there were when the
//             run began (or --records) are read, or --seconds passed. Timed
//             from the first fetch to the last record; --fill-records N first
//             produces N records with the produce path (not timed).
//
// Durability is the server's: Redis acknowledges an XADD after its
// appendfsync policy, JetStream after its sync_interval (see README.md).
// Exit status: 0 on success, 1 when a check failed, 2 on a usage error, an
// unreachable server or an error reply (the message says which).
//
// A measurement tool, not product code: it reads the real clock directly
// (see load_support.h) and exits on the first server error.
#include <hiredis/hiredis.h>
#include <nats/nats.h>
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
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
constexpr int max_producers = 256;
constexpr int64_t max_record_bytes = 64 * 1024 * 1024;
constexpr int64_t max_rate_per_s = 10'000'000;
constexpr int64_t max_seconds = 24 * 3600;
constexpr int64_t max_batch = 1'000'000;
constexpr size_t payload_pool_bytes = 4 * 1024 * 1024;
constexpr int connect_timeout_s = 5;
constexpr int64_t nats_timeout_ms = 30'000;  // an ack window or a JetStream API call

// ---- failures ----------------------------------------------------------------

// An unreachable server or an error reply ends the tool: its figures would
// not mean anything. Any thread may call this.
[[noreturn]] void fail(std::string_view what) {
    std::fflush(stdout);
    fmt::print(stderr, "peer_load: {}\n", what);
    std::fflush(stderr);
    std::_Exit(2);
}

// ---- options -----------------------------------------------------------------

enum class peer_system { redis, nats };
enum class load_mode { produce, consume, latency };

const char* system_name(peer_system system) noexcept {
    return system == peer_system::redis ? "redis" : "nats";
}

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
    peer_system system = peer_system::redis;
    bool system_given = false;
    load_mode mode = load_mode::produce;
    std::string target;  // HOST:PORT; default per system
    std::string topic;   // default per mode
    int32_t partitions = 1;
    int producers = 1;
    int64_t record_bytes = 1024;
    std::optional<int64_t> records;
    std::optional<int64_t> seconds;  // produce and latency: 10 if not given
    int runs = 3;
    int64_t batch = 256;
    int64_t rate_per_s = 10'000;  // latency only
    int64_t warmup_seconds = 2;   // latency only, within --seconds
    int64_t drain_timeout_ms = 10'000;
    std::optional<int64_t> fill_records;  // consume only
    std::vector<key_value> tags;
    std::string json_out;

    std::string host;
    int port = 0;
};

constexpr std::string_view usage_text =
    "usage: peer_load produce|consume|latency --system redis|nats [options]\n"
    "\n"
    "  --system redis|nats     the peer to drive\n"
    "  --target HOST:PORT      (127.0.0.1:6379 for redis, 127.0.0.1:4222 for nats)\n"
    "  --topic NAME            redis: stream key prefix (keys NAME:0 .. NAME:N-1);\n"
    "                          nats: stream name, subjects NAME.0 .. NAME.N-1\n"
    "                          (peer-load-produce, -consume, -latency)\n"
    "  --partitions N          streams (redis) or subjects (nats); records are\n"
    "                          spread round-robin (1)\n"
    "  --producers N           produce: threads, one connection each (1)\n"
    "  --record-bytes N        payload bytes per record (1024; latency: >= 32)\n"
    "  --records N             produce: records per run over all producers;\n"
    "                          consume: records per run (default: all there are)\n"
    "  --seconds N             produce: per run when no --records (10); latency:\n"
    "                          per run, with the warm-up (10); consume: at most\n"
    "  --batch N               produce: XADDs per pipelined round trip (redis),\n"
    "                          async publishes per ack wait (nats); consume:\n"
    "                          XREAD COUNT (redis), pull fetch batch (nats) (256)\n"
    "  --runs N                repetitions; summary = median [min-max] (3)\n"
    "  --rate N                latency: records/s on a fixed schedule (10000)\n"
    "  --warmup-seconds N      latency: first seconds not measured (2)\n"
    "  --drain-timeout-ms N    latency: wait for the last records (10000)\n"
    "  --fill-records N        consume: first produce N records (produce path)\n"
    "  --tag KEY=VALUE         label copied into the JSON lines (repeatable)\n"
    "  --json-out PATH         append one JSON object per run and per summary\n";

result<void, std::string> apply_flag(load_options& options, std::string_view flag,
                                     std::string_view value) {
    auto number = [&](auto& field, auto low, auto high) -> result<void, std::string> {
        using T = std::remove_reference_t<decltype(field)>;
        auto parsed = parse_number<T>(flag, value, static_cast<T>(low), static_cast<T>(high));
        if (!parsed) return failure{parsed.error()};
        field = *parsed;
        return {};
    };
    auto optional_number = [&](std::optional<int64_t>& field, int64_t low,
                               int64_t high) -> result<void, std::string> {
        auto parsed = parse_number<int64_t>(flag, value, low, high);
        if (!parsed) return failure{parsed.error()};
        field = *parsed;
        return {};
    };
    if (flag == "--system") {
        if (value != "redis" && value != "nats") {
            return failure{fmt::format("--system: expected redis or nats, got '{}'", value)};
        }
        options.system = value == "redis" ? peer_system::redis : peer_system::nats;
        options.system_given = true;
    } else if (flag == "--target") {
        options.target = value;
    } else if (flag == "--topic") {
        options.topic = value;
    } else if (flag == "--partitions") {
        return number(options.partitions, 1, max_partitions);
    } else if (flag == "--producers") {
        return number(options.producers, 1, max_producers);
    } else if (flag == "--record-bytes") {
        return number(options.record_bytes, 1, max_record_bytes);
    } else if (flag == "--records") {
        return optional_number(options.records, 1, INT64_MAX / 2);
    } else if (flag == "--seconds") {
        return optional_number(options.seconds, 1, max_seconds);
    } else if (flag == "--batch") {
        return number(options.batch, 1, max_batch);
    } else if (flag == "--runs") {
        return number(options.runs, 1, max_runs);
    } else if (flag == "--rate") {
        return number(options.rate_per_s, 1, max_rate_per_s);
    } else if (flag == "--warmup-seconds") {
        return number(options.warmup_seconds, 0, max_seconds);
    } else if (flag == "--drain-timeout-ms") {
        return number(options.drain_timeout_ms, 0, max_seconds * 1000);
    } else if (flag == "--fill-records") {
        return optional_number(options.fill_records, 1, INT64_MAX / 2);
    } else if (flag == "--json-out") {
        options.json_out = value;
    } else if (flag == "--tag") {
        auto parsed = parse_key_value(flag, value);
        if (!parsed) return failure{parsed.error()};
        options.tags.push_back(std::move(*parsed));
    } else {
        return failure{fmt::format("unknown flag '{}'", flag)};
    }
    return {};
}

result<void, std::string> split_target(load_options& options) {
    if (options.target.empty()) {
        options.target = options.system == peer_system::redis ? "127.0.0.1:6379" : "127.0.0.1:4222";
    }
    const size_t colon = options.target.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return failure{fmt::format("--target: expected HOST:PORT, got '{}'", options.target)};
    }
    auto port = parse_number<int>("--target port",
                                  std::string_view(options.target).substr(colon + 1), 1, 65535);
    if (!port) return failure{port.error()};
    options.host = options.target.substr(0, colon);
    options.port = *port;
    return {};
}

result<load_options, std::string> parse_command_line(std::span<char*> arguments) {
    load_options options;
    if (arguments.empty())
        return failure{std::string("missing mode (produce, consume or latency)")};
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
    if (!options.system_given) return failure{std::string("--system redis|nats is required")};
    auto split = split_target(options);
    if (!split) return failure{split.error()};
    if (options.topic.empty()) options.topic = fmt::format("peer-load-{}", mode_name(options.mode));
    if (options.system == peer_system::nats &&
        options.topic.find_first_of(".*> \t") != std::string::npos) {
        return failure{fmt::format("--topic: '{}' is not a JetStream stream name", options.topic)};
    }
    if (options.mode == load_mode::produce) {
        if (!options.records && !options.seconds) options.seconds = 10;
        if (options.records && *options.records < options.producers) {
            return failure{std::string("--records: fewer than --producers")};
        }
    }
    if (options.mode != load_mode::consume && options.fill_records) {
        return failure{std::string("--fill-records: consume mode only")};
    }
    if (options.mode != load_mode::produce && options.producers != 1 && !options.fill_records) {
        return failure{std::string("--producers: produce mode (or consume's fill) only")};
    }
    if (options.mode == load_mode::latency) {
        if (options.records) return failure{std::string("--records: not in latency mode")};
        options.seconds = options.seconds.value_or(10);
        if (options.record_bytes < static_cast<int64_t>(sizeof(record_header))) {
            return failure{std::string("--record-bytes: latency mode needs at least 32")};
        }
        if (options.warmup_seconds >= *options.seconds) {
            return failure{std::string("--warmup-seconds must be less than --seconds")};
        }
    }
    return options;
}

// ---- output ------------------------------------------------------------------

// The fields every line of one invocation shares: what was measured, how.
json_line json_header(const load_options& options, std::string_view type) {
    json_line line;
    line.text("tool", "peer_load")
        .text("system", system_name(options.system))
        .text("mode", mode_name(options.mode))
        .text("type", type);
    std::string tags = "{";
    for (const key_value& tag : options.tags) {
        tags += fmt::format("{}{}:{}", tags.size() > 1 ? "," : "", json_string(tag.key),
                            json_string(tag.value));
    }
    line.field("tags", tags + "}");
    line.text("target", options.target)
        .text("topic", options.topic)
        .integer("partitions", options.partitions)
        .integer("producers", options.producers)
        .integer("record_bytes", options.record_bytes)
        .integer("batch", options.batch);
    if (options.mode == load_mode::latency) {
        line.integer("rate_per_s", options.rate_per_s)
            .integer("seconds", *options.seconds)
            .integer("warmup_seconds", options.warmup_seconds);
    } else {
        if (options.records) line.integer("records_per_run", *options.records);
        if (options.seconds) line.integer("seconds", *options.seconds);
    }
    return line;
}

// ---- Redis -------------------------------------------------------------------

struct redis_deleter {
    void operator()(redisContext* context) const noexcept { redisFree(context); }
    void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using redis_context_ptr = std::unique_ptr<redisContext, redis_deleter>;
using redis_reply_ptr = std::unique_ptr<redisReply, redis_deleter>;

std::string redis_key(const load_options& options, int32_t partition) {
    return fmt::format("{}:{}", options.topic, partition);
}

// One connection, checked with a PING.
redis_context_ptr redis_connect(const load_options& options) {
    const timeval timeout{connect_timeout_s, 0};
    redis_context_ptr context(redisConnectWithTimeout(options.host.c_str(), options.port, timeout));
    if (!context) fail(fmt::format("redis {}: cannot allocate a context", options.target));
    if (context->err != 0) fail(fmt::format("redis {}: {}", options.target, context->errstr));
    redis_reply_ptr reply(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    if (!reply) fail(fmt::format("redis {}: PING: {}", options.target, context->errstr));
    if (reply->type == REDIS_REPLY_ERROR) {
        fail(fmt::format("redis {}: PING: {}", options.target, reply->str));
    }
    return context;
}

// The next reply; an I/O failure or an error reply ends the tool.
redis_reply_ptr redis_next_reply(redisContext* context, std::string_view command) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
        fail(fmt::format("redis: {}: {}", command, context->errstr));
    }
    redis_reply_ptr reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR) fail(fmt::format("redis: {}: {}", command, reply->str));
    return reply;
}

// Appends XADD KEY * d PAYLOAD (no MAXLEN: the stream keeps everything).
void redis_append_xadd(redisContext* context, const std::string& key, const std::byte* payload,
                       size_t bytes) {
    const char* argv[] = {"XADD", key.c_str(), "*", "d", reinterpret_cast<const char*>(payload)};
    const size_t lengths[] = {4, key.size(), 1, 1, bytes};
    if (redisAppendCommandArgv(context, 5, argv, lengths) != REDIS_OK) {
        fail(fmt::format("redis: XADD: {}", context->errstr));
    }
}

// ---- NATS --------------------------------------------------------------------

std::string nats_subject(const load_options& options, int32_t partition) {
    return fmt::format("{}.{}", options.topic, partition);
}

[[noreturn]] void fail_nats(std::string_view what, natsStatus status,
                            jsErrCode code = jsErrCode{}) {
    const char* last = nats_GetLastError(nullptr);
    fail(fmt::format("nats: {}: {}{}{}", what, natsStatus_GetText(status),
                     code != 0 ? fmt::format(" (JetStream error {})", static_cast<int>(code)) : "",
                     last != nullptr && *last != '\0' ? fmt::format(": {}", last) : ""));
}

// A connection and its JetStream context; ack callbacks run on the
// library's thread of this connection.
class nats_client {
public:
    nats_client(const load_options& options, jsPubAckHandler on_ack, void* ack_closure,
                int64_t max_pending) {
        natsOptions* raw_options = nullptr;
        natsStatus status = natsOptions_Create(&raw_options);
        if (status != NATS_OK) fail_nats("options", status);
        const std::string url = fmt::format("nats://{}", options.target);
        natsOptions_SetURL(raw_options, url.c_str());
        natsOptions_SetTimeout(raw_options, connect_timeout_s * 1000);
        natsOptions_SetAllowReconnect(raw_options, false);
        // A latency consumer may hold many records: no drops in the client.
        natsOptions_SetMaxPendingMsgs(raw_options, 10'000'000);
        status = natsConnection_Connect(&_connection, raw_options);
        natsOptions_Destroy(raw_options);
        if (status != NATS_OK) fail_nats(fmt::format("connect {}", options.target), status);
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = nats_timeout_ms;
        js_options.PublishAsync.MaxPending = max_pending;
        js_options.PublishAsync.AckHandler = on_ack;
        js_options.PublishAsync.AckHandlerClosure = ack_closure;
        status = natsConnection_JetStream(&_context, _connection, &js_options);
        if (status != NATS_OK) fail_nats("JetStream context", status);
    }
    nats_client(const nats_client&) = delete;
    nats_client& operator=(const nats_client&) = delete;
    ~nats_client() {
        jsCtx_Destroy(_context);
        natsConnection_Destroy(_connection);
    }

    jsCtx* context() const noexcept { return _context; }

    // Waits for every outstanding async publish's ack.
    void complete() {
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = nats_timeout_ms;
        const natsStatus status = js_PublishAsyncComplete(_context, &options);
        if (status != NATS_OK) fail_nats("waiting for publish acks", status);
    }

private:
    natsConnection* _connection = nullptr;
    jsCtx* _context = nullptr;
};

// Creates the stream (file storage, subjects TOPIC.>) unless it exists;
// returns the number of messages it holds.
uint64_t nats_ensure_stream(const load_options& options, nats_client& client) {
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    natsStatus status =
        js_GetStreamInfo(&info, client.context(), options.topic.c_str(), nullptr, &code);
    if (status == NATS_NOT_FOUND) {
        const std::string subjects = options.topic + ".>";
        const char* subject_list[] = {subjects.c_str()};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = options.topic.c_str();
        config.Subjects = subject_list;
        config.SubjectsLen = 1;
        config.Storage = js_FileStorage;
        config.Replicas = 1;
        status = js_AddStream(&info, client.context(), &config, nullptr, &code);
        if (status != NATS_OK)
            fail_nats(fmt::format("create stream {}", options.topic), status, code);
    } else if (status != NATS_OK) {
        fail_nats(fmt::format("stream {}", options.topic), status, code);
    }
    const uint64_t messages = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    return messages;
}

// ---- produce mode ------------------------------------------------------------

// One producer thread's results; read by the main thread after the join.
struct producer_tally {
    int64_t records_acked = 0;
    int64_t bytes_acked = 0;
    int64_t finished_ns = 0;
    log_linear_histogram ack_latency_ns;
};

struct produce_run {
    int64_t records_sent = 0;
    int64_t records_acked = 0;
    int64_t bytes_acked = 0;
    double elapsed_s = 0;
    log_linear_histogram ack_latency_ns;

    double bytes_per_s() const { return static_cast<double>(bytes_acked) / elapsed_s; }
    double records_per_s() const { return static_cast<double>(records_acked) / elapsed_s; }
};

// What one producer sends: records first, first + stride, ... (global
// numbering, so that the partition of record i is i % partitions as in
// kafka_load), until `limit` or the deadline.
struct producer_share {
    int64_t first = 0;
    int64_t stride = 1;
    int64_t limit = INT64_MAX;
    int64_t end_ns = INT64_MAX;
};

const std::byte* pool_payload(std::span<const std::byte> pool, int64_t record_bytes, int64_t i) {
    const size_t offsets = pool.size() - static_cast<size_t>(record_bytes) + 1;
    return pool.data() + (static_cast<size_t>(i) * 7919) % offsets;
}

// Redis: windows of --batch pipelined XADDs, each reply read in order.
void redis_produce(const load_options& options, redisContext* context,
                   std::span<const std::byte> pool, const producer_share& share,
                   producer_tally& tally) {
    std::vector<std::string> keys;
    for (int32_t p = 0; p < options.partitions; ++p) keys.push_back(redis_key(options, p));
    const auto bytes = static_cast<size_t>(options.record_bytes);
    int64_t i = share.first;
    while (i < share.limit && monotonic_ns() < share.end_ns) {
        int64_t window = 0;
        for (; window < options.batch && i < share.limit; ++window, i += share.stride) {
            redis_append_xadd(context, keys[static_cast<size_t>(i % options.partitions)],
                              pool_payload(pool, options.record_bytes, i), bytes);
        }
        const int64_t window_start_ns = monotonic_ns();  // the first read sends it
        for (int64_t r = 0; r < window; ++r) {
            const redis_reply_ptr reply = redis_next_reply(context, "XADD");
            tally.ack_latency_ns.record(monotonic_ns() - window_start_ns);
        }
        tally.records_acked += window;
        tally.bytes_acked += window * options.record_bytes;
    }
    tally.finished_ns = monotonic_ns();
}

// The ack callback's state of one NATS producer.
struct nats_ack_state {
    std::atomic<int64_t> window_start_ns{0};
    producer_tally* tally = nullptr;
    std::atomic<int64_t> errors{0};
    std::string first_error;  // written with the first error only
};

void on_nats_ack(jsCtx*, natsMsg* message, jsPubAck*, jsPubAckErr* error, void* closure) {
    auto& state = *static_cast<nats_ack_state*>(closure);
    if (error != nullptr) {
        if (state.errors.fetch_add(1) == 0) {
            state.first_error =
                fmt::format("{} (JetStream error {}){}", natsStatus_GetText(error->Err),
                            static_cast<int>(error->ErrCode),
                            error->ErrText ? fmt::format(": {}", error->ErrText) : "");
        }
    } else {
        state.tally->ack_latency_ns.record(monotonic_ns() - state.window_start_ns.load());
        ++state.tally->records_acked;
        state.tally->bytes_acked += natsMsg_GetDataLength(message);
    }
    natsMsg_Destroy(message);
}

// NATS: windows of --batch async publishes, then a wait for all their acks.
void nats_produce(const load_options& options, nats_client& client, nats_ack_state& acks,
                  std::span<const std::byte> pool, const producer_share& share) {
    std::vector<std::string> subjects;
    for (int32_t p = 0; p < options.partitions; ++p) subjects.push_back(nats_subject(options, p));
    const auto bytes = static_cast<int>(options.record_bytes);
    int64_t i = share.first;
    while (i < share.limit && monotonic_ns() < share.end_ns) {
        acks.window_start_ns.store(monotonic_ns());
        for (int64_t window = 0; window < options.batch && i < share.limit;
             ++window, i += share.stride) {
            const natsStatus status = js_PublishAsync(
                client.context(), subjects[static_cast<size_t>(i % options.partitions)].c_str(),
                pool_payload(pool, options.record_bytes, i), bytes, nullptr);
            if (status != NATS_OK) fail_nats("publish", status);
        }
        client.complete();
        if (acks.errors.load() > 0) fail(fmt::format("nats: publish ack: {}", acks.first_error));
    }
    acks.tally->finished_ns = monotonic_ns();
}

// Runs --producers threads; each connects before the common start time.
produce_run run_produce(const load_options& options, std::span<const std::byte> pool,
                        std::optional<int64_t> records, std::optional<int64_t> seconds) {
    const int producers = options.producers;
    std::vector<producer_tally> tallies(static_cast<size_t>(producers));
    std::atomic<int> connected{0};
    std::atomic<int64_t> start_ns{0};
    auto wait_for_start = [&] {
        connected.fetch_add(1);
        while (start_ns.load() == 0) std::this_thread::yield();
        sleep_until_ns(start_ns.load());
        return start_ns.load();
    };
    std::vector<std::thread> threads;
    for (int k = 0; k < producers; ++k) {
        threads.emplace_back([&, k] {
            producer_tally& tally = tallies[static_cast<size_t>(k)];
            producer_share share{k, producers, records.value_or(INT64_MAX), INT64_MAX};
            if (options.system == peer_system::redis) {
                const redis_context_ptr context = redis_connect(options);
                const int64_t start = wait_for_start();
                if (seconds) share.end_ns = start + *seconds * ns_per_s;
                redis_produce(options, context.get(), pool, share, tally);
            } else {
                nats_ack_state acks;
                acks.tally = &tally;
                nats_client client(options, on_nats_ack, &acks, options.batch);
                const int64_t start = wait_for_start();
                if (seconds) share.end_ns = start + *seconds * ns_per_s;
                nats_produce(options, client, acks, pool, share);
            }
        });
    }
    while (connected.load() < producers) std::this_thread::yield();
    const int64_t start = monotonic_ns() + 10 * ns_per_ms;
    start_ns.store(start);
    for (std::thread& thread : threads) thread.join();

    produce_run run;
    int64_t finished_ns = start;
    for (const producer_tally& tally : tallies) {
        run.records_acked += tally.records_acked;
        run.bytes_acked += tally.bytes_acked;
        run.ack_latency_ns.merge(tally.ack_latency_ns);
        finished_ns = std::max(finished_ns, tally.finished_ns);
    }
    run.records_sent = run.records_acked;  // a failed record ends the tool
    run.elapsed_s = static_cast<double>(finished_ns - start) / ns_per_s;
    return run;
}

void report_produce_run(const load_options& options, int run_number, const produce_run& run,
                        result_sink& sink) {
    const latency_summary_us ack = summarize_us(run.ack_latency_ns);
    fmt::print(
        "{} produce run {}/{}: {} B x {} records in {:.2f} s: {:.1f} MB/s, {} records/s; "
        "ack latency p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us\n",
        system_name(options.system), run_number, options.runs, options.record_bytes,
        run.records_acked, run.elapsed_s, run.bytes_per_s() / 1e6, human_count(run.records_per_s()),
        ack.p50, ack.p99, ack.max);
    std::fflush(stdout);
    json_line line = json_header(options, "run");
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_sent", run.records_sent)
        .integer("records_delivered", run.records_acked)
        .integer("bytes_delivered", run.bytes_acked)
        .integer("delivery_errors", 0)
        .number("elapsed_s", run.elapsed_s)
        .number("bytes_per_s", run.bytes_per_s())
        .number("records_per_s", run.records_per_s())
        .field("ack_latency_us", json_latency(ack));
    sink.write(line);
}

void report_produce_summary(const load_options& options, const std::vector<produce_run>& runs,
                            result_sink& sink) {
    std::vector<double> bytes_per_s, records_per_s, ack_p99_us;
    for (const produce_run& run : runs) {
        bytes_per_s.push_back(run.bytes_per_s());
        records_per_s.push_back(run.records_per_s());
        ack_p99_us.push_back(summarize_us(run.ack_latency_ns).p99);
    }
    const spread mb = spread_of(bytes_per_s), records = spread_of(records_per_s),
                 ack = spread_of(ack_p99_us);
    fmt::print(
        "{} produce summary ({} runs, {} B, {} partitions, {} producers, batch {}): MB/s median "
        "{:.1f} [{:.1f}-{:.1f}], records/s median {} [{}-{}], ack p99 median {:.0f} us\n",
        system_name(options.system), runs.size(), options.record_bytes, options.partitions,
        options.producers, options.batch, mb.median / 1e6, mb.min / 1e6, mb.max / 1e6,
        human_count(records.median), human_count(records.min), human_count(records.max),
        ack.median);
    json_line line = json_header(options, "summary");
    line.integer("runs", static_cast<int64_t>(runs.size()))
        .integer("delivery_errors", 0)
        .field("bytes_per_s", json_spread(mb))
        .field("records_per_s", json_spread(records))
        .field("ack_latency_p99_us", json_spread(ack));
    sink.write(line);
}

// ---- latency mode ------------------------------------------------------------

// Outstanding acks the latency sender may have (a bound, not a window).
constexpr int64_t latency_max_pending = 1'000'000;
constexpr int64_t latency_reply_timeout_ns = 30 * ns_per_s;
constexpr int64_t consumer_wait_ms = 100;

// The latency run's shared state. The sender thread writes the sender
// fields, the consumer (main) thread the consumer fields; `expected_records`
// hands over the end (the acked count, known after the last ack).
struct latency_run {
    uint64_t run_id = 0;
    int64_t start_ns = 0;
    int64_t warmup_end_ns = 0;
    int64_t end_ns = 0;

    // sender
    int64_t records_sent = 0;
    int64_t records_acked = 0;
    log_linear_histogram send_lag_ns;     // scheduled time to handed to the client
    log_linear_histogram ack_latency_ns;  // handed to the client to the reply or ack
    std::vector<int64_t> sent_ns;         // nats: by record number, for the ack callback
    std::atomic<int64_t> expected_records{-1};

    // consumer
    int64_t received = 0;
    int64_t measured = 0;
    int64_t duplicated = 0;
    int64_t reordered = 0;
    int64_t foreign = 0;  // not ours (another run or writer)
    std::vector<partition_check> partitions;
    log_linear_histogram latency_ns;  // scheduled send time to received

    int64_t unique_received() const { return received - duplicated; }
    // Acked but not read back before the drain deadline.
    int64_t missing() const {
        return std::max<int64_t>(0, expected_records.load() - unique_received());
    }
    int64_t failures() const { return missing() + duplicated + reordered; }
};

int64_t scheduled_send_ns(const load_options& options, const latency_run& run, int64_t i) {
    return run.start_ns +
           static_cast<int64_t>(static_cast<__int128>(i) * ns_per_s / options.rate_per_s);
}

// Stamps record i (partition i % partitions) into `payload`.
void stamp(std::vector<std::byte>& payload, const latency_run& run, int64_t scheduled_ns,
           std::vector<uint64_t>& next_sequence, int32_t partition) {
    const record_header header{run.run_id, scheduled_ns,
                               next_sequence[static_cast<size_t>(partition)]++, partition, 0};
    std::memcpy(payload.data(), &header, sizeof header);
}

void check_record(latency_run& run, int32_t partition, const void* data, size_t bytes,
                  int64_t now_ns) {
    record_header header{};
    if (bytes < sizeof header) {
        ++run.foreign;
        return;
    }
    std::memcpy(&header, data, sizeof header);
    if (header.run_id != run.run_id || header.partition != partition || partition < 0 ||
        static_cast<size_t>(partition) >= run.partitions.size()) {
        ++run.foreign;
        return;
    }
    ++run.received;
    partition_check& check = run.partitions[static_cast<size_t>(partition)];
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

// The number after the last `separator` of a key or subject, or -1.
int32_t partition_of(std::string_view name, char separator) {
    const size_t at = name.rfind(separator);
    if (at == std::string_view::npos) return -1;
    auto parsed = parse_number<int32_t>("partition", name.substr(at + 1), 0, max_partitions);
    return parsed ? *parsed : -1;
}

// Redis sender: one connection, XADDs written on the schedule without
// waiting for replies, which are read whenever the socket has some (so the
// schedule never waits for a round trip).
class redis_pipelined_sender {
public:
    redis_pipelined_sender(redisContext* context, latency_run& run)
        : _context(context), _run(run) {}

    void sent() { _in_flight_ns.push_back(monotonic_ns()); }

    void flush() {
        int done = 0;
        while (done == 0) {
            if (redisBufferWrite(_context, &done) != REDIS_OK) {
                fail(fmt::format("redis: XADD: {}", _context->errstr));
            }
        }
    }

    // Reads replies until `deadline_ns` (now: only what is there already).
    void serve_until(int64_t deadline_ns) {
        for (;;) {
            const int64_t wait_ns = std::max<int64_t>(0, deadline_ns - monotonic_ns());
            const timespec timeout{static_cast<time_t>(wait_ns / ns_per_s),
                                   static_cast<long>(wait_ns % ns_per_s)};
            pollfd descriptor{_context->fd, POLLIN, 0};
            const int ready = ppoll(&descriptor, 1, &timeout, nullptr);
            if (ready < 0 && errno != EINTR) fail(fmt::format("ppoll: {}", std::strerror(errno)));
            if (ready > 0) read_replies();
            if (wait_ns == 0 || monotonic_ns() >= deadline_ns) return;
        }
    }

    void drain() {
        const int64_t deadline_ns = monotonic_ns() + latency_reply_timeout_ns;
        while (!_in_flight_ns.empty()) {
            if (monotonic_ns() > deadline_ns) fail("redis: XADD: no reply within 30 s");
            serve_until(std::min(deadline_ns, monotonic_ns() + 100 * ns_per_ms));
        }
    }

private:
    void read_replies() {
        if (redisBufferRead(_context) != REDIS_OK) {
            fail(fmt::format("redis: XADD: {}", _context->errstr));
        }
        for (;;) {
            void* raw = nullptr;
            if (redisGetReplyFromReader(_context, &raw) != REDIS_OK) {
                fail(fmt::format("redis: XADD: {}", _context->errstr));
            }
            if (raw == nullptr) return;
            const redis_reply_ptr reply(static_cast<redisReply*>(raw));
            if (reply->type == REDIS_REPLY_ERROR) fail(fmt::format("redis: XADD: {}", reply->str));
            TL_ASSERT(!_in_flight_ns.empty(), "a reply without a command");
            _run.ack_latency_ns.record(monotonic_ns() - _in_flight_ns.front());
            _in_flight_ns.pop_front();
            ++_run.records_acked;
        }
    }

    redisContext* _context;
    latency_run& _run;
    std::deque<int64_t> _in_flight_ns;
};

// Sends on the schedule start + i / rate. When behind, it sends at once
// without skipping: the lag stays in the latency, measured from the
// scheduled time (no coordinated omission).
void redis_send_on_schedule(const load_options& options, latency_run& run) {
    const redis_context_ptr context = redis_connect(options);
    std::vector<std::string> keys;
    for (int32_t p = 0; p < options.partitions; ++p) keys.push_back(redis_key(options, p));
    std::vector<std::byte> payload = make_payload_pool(static_cast<size_t>(options.record_bytes));
    std::vector<uint64_t> next_sequence(static_cast<size_t>(options.partitions), 0);
    redis_pipelined_sender sender(context.get(), run);
    for (int64_t i = 0;; ++i) {
        const int64_t scheduled_ns = scheduled_send_ns(options, run, i);
        if (scheduled_ns >= run.end_ns) break;
        sender.serve_until(scheduled_ns);
        const auto partition = static_cast<int32_t>(i % options.partitions);
        stamp(payload, run, scheduled_ns, next_sequence, partition);
        redis_append_xadd(context.get(), keys[static_cast<size_t>(partition)], payload.data(),
                          payload.size());
        sender.sent();
        sender.flush();
        run.send_lag_ns.record(monotonic_ns() - scheduled_ns);
        ++run.records_sent;
    }
    sender.drain();
    run.expected_records.store(run.records_acked);
}

// The last entry ID of each stream ("0-0" when empty or missing): the
// consumer reads only what is added after.
std::vector<std::string> redis_last_ids(const load_options& options, redisContext* context) {
    std::vector<std::string> ids;
    for (int32_t p = 0; p < options.partitions; ++p) {
        const std::string key = redis_key(options, p);
        const redis_reply_ptr reply(static_cast<redisReply*>(
            redisCommand(context, "XREVRANGE %b + - COUNT 1", key.data(), key.size())));
        if (!reply) fail(fmt::format("redis: XREVRANGE: {}", context->errstr));
        if (reply->type == REDIS_REPLY_ERROR) fail(fmt::format("redis: XREVRANGE: {}", reply->str));
        const bool empty = reply->type != REDIS_REPLY_ARRAY || reply->elements == 0;
        ids.push_back(empty ? "0-0"
                            : std::string(reply->element[0]->element[0]->str,
                                          reply->element[0]->element[0]->len));
    }
    return ids;
}

// XREAD [BLOCK ms] COUNT n STREAMS keys... ids...; calls on_entry(partition,
// data, bytes) for every entry's first value and moves the IDs on. Returns
// the number of entries.
template <typename on_entry_fn>
int64_t redis_xread(const load_options& options, redisContext* context,
                    const std::vector<std::string>& keys, std::vector<std::string>& ids,
                    std::optional<int64_t> block_ms, int64_t count, on_entry_fn&& on_entry) {
    std::vector<std::string> words = {"XREAD"};
    if (block_ms) {
        words.emplace_back("BLOCK");
        words.push_back(std::to_string(*block_ms));
    }
    words.emplace_back("COUNT");
    words.push_back(std::to_string(count));
    words.emplace_back("STREAMS");
    words.insert(words.end(), keys.begin(), keys.end());
    words.insert(words.end(), ids.begin(), ids.end());
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& word : words) {
        argv.push_back(word.data());
        lengths.push_back(word.size());
    }
    const redis_reply_ptr reply(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) fail(fmt::format("redis: XREAD: {}", context->errstr));
    if (reply->type == REDIS_REPLY_ERROR) fail(fmt::format("redis: XREAD: {}", reply->str));
    if (reply->type != REDIS_REPLY_ARRAY) return 0;  // nil: nothing (within BLOCK)
    int64_t entries = 0;
    for (size_t s = 0; s < reply->elements; ++s) {
        const redisReply* stream = reply->element[s];
        const int32_t partition =
            partition_of(std::string_view(stream->element[0]->str, stream->element[0]->len), ':');
        if (partition < 0 || partition >= options.partitions) fail("redis: XREAD: unknown key");
        const redisReply* list = stream->element[1];
        for (size_t e = 0; e < list->elements; ++e) {
            const redisReply* entry = list->element[e];
            const redisReply* fields = entry->element[1];
            if (fields->elements < 2) fail("redis: XREAD: an entry without a value");
            on_entry(partition, fields->element[1]->str, fields->element[1]->len);
            ++entries;
        }
        if (list->elements > 0) {
            const redisReply* last_id = list->element[list->elements - 1]->element[0];
            ids[static_cast<size_t>(partition)].assign(last_id->str, last_id->len);
        }
    }
    return entries;
}

// NATS sender: async publishes on the schedule; acks arrive on the
// connection's thread.
void on_latency_ack(jsCtx*, natsMsg* message, jsPubAck*, jsPubAckErr* error, void* closure) {
    auto& run = *static_cast<latency_run*>(closure);
    if (error != nullptr) {
        fail(fmt::format("nats: publish ack: {} (JetStream error {}){}",
                         natsStatus_GetText(error->Err), static_cast<int>(error->ErrCode),
                         error->ErrText ? fmt::format(": {}", error->ErrText) : ""));
    }
    record_header header{};
    TL_ASSERT(natsMsg_GetDataLength(message) >= static_cast<int>(sizeof header));
    std::memcpy(&header, natsMsg_GetData(message), sizeof header);
    const auto number =
        static_cast<size_t>(header.sequence) * static_cast<size_t>(run.partitions.size()) +
        static_cast<size_t>(header.partition);
    TL_ASSERT(number < run.sent_ns.size());
    run.ack_latency_ns.record(monotonic_ns() - run.sent_ns[number]);
    ++run.records_acked;
    natsMsg_Destroy(message);
}

void nats_send_on_schedule(const load_options& options, latency_run& run) {
    nats_client client(options, on_latency_ack, &run, latency_max_pending);
    std::vector<std::string> subjects;
    for (int32_t p = 0; p < options.partitions; ++p) subjects.push_back(nats_subject(options, p));
    std::vector<std::byte> payload = make_payload_pool(static_cast<size_t>(options.record_bytes));
    std::vector<uint64_t> next_sequence(static_cast<size_t>(options.partitions), 0);
    for (int64_t i = 0;; ++i) {
        const int64_t scheduled_ns = scheduled_send_ns(options, run, i);
        if (scheduled_ns >= run.end_ns) break;
        sleep_until_ns(scheduled_ns);
        const auto partition = static_cast<int32_t>(i % options.partitions);
        stamp(payload, run, scheduled_ns, next_sequence, partition);
        run.sent_ns[static_cast<size_t>(i)] = monotonic_ns();
        const natsStatus status =
            js_PublishAsync(client.context(), subjects[static_cast<size_t>(partition)].c_str(),
                            payload.data(), static_cast<int>(payload.size()), nullptr);
        if (status != NATS_OK) fail_nats("publish", status);
        run.send_lag_ns.record(monotonic_ns() - scheduled_ns);
        ++run.records_sent;
    }
    client.complete();
    run.expected_records.store(run.records_acked);
}

// An ephemeral push consumer of TOPIC.> from the stream's end, without acks.
struct nats_subscription_deleter {
    void operator()(natsSubscription* subscription) const noexcept {
        natsSubscription_Unsubscribe(subscription);
        natsSubscription_Destroy(subscription);
    }
};
using nats_subscription_ptr = std::unique_ptr<natsSubscription, nats_subscription_deleter>;

nats_subscription_ptr nats_subscribe_new(const load_options& options, nats_client& client) {
    jsSubOptions subscribe_options;
    jsSubOptions_Init(&subscribe_options);
    subscribe_options.Stream = options.topic.c_str();
    subscribe_options.Config.DeliverPolicy = js_DeliverNew;
    subscribe_options.Config.AckPolicy = js_AckNone;
    const std::string subjects = options.topic + ".>";
    natsSubscription* raw = nullptr;
    jsErrCode code{};
    const natsStatus status = js_SubscribeSync(&raw, client.context(), subjects.c_str(), nullptr,
                                               &subscribe_options, &code);
    if (status != NATS_OK) fail_nats("subscribe", status, code);
    nats_subscription_ptr subscription(raw);
    natsSubscription_SetPendingLimits(raw, 100'000'000, INT32_MAX);
    return subscription;
}

// Receives until every acked record is back or the drain deadline passed.
template <typename receive_fn>
void consume_until_drained(const load_options& options, latency_run& run, receive_fn&& receive) {
    int64_t drain_deadline_ns = INT64_MAX;
    for (;;) {
        receive();
        const int64_t expected = run.expected_records.load();
        if (expected < 0) continue;
        if (run.unique_received() >= expected) return;
        const int64_t now_ns = monotonic_ns();
        if (drain_deadline_ns == INT64_MAX) {
            drain_deadline_ns = now_ns + options.drain_timeout_ms * ns_per_ms;
        } else if (now_ns > drain_deadline_ns) {
            return;
        }
    }
}

std::unique_ptr<latency_run> run_latency(const load_options& options, uint64_t run_id) {
    auto run = std::make_unique<latency_run>();
    run->run_id = run_id;
    run->partitions.resize(static_cast<size_t>(options.partitions));
    auto set_schedule = [&] {
        // The consumer is subscribed; the sender connects in the first 500 ms.
        run->start_ns = monotonic_ns() + 500 * ns_per_ms;
        run->warmup_end_ns = run->start_ns + options.warmup_seconds * ns_per_s;
        run->end_ns = run->start_ns + *options.seconds * ns_per_s;
    };
    if (options.system == peer_system::redis) {
        const redis_context_ptr context = redis_connect(options);
        std::vector<std::string> keys;
        for (int32_t p = 0; p < options.partitions; ++p) keys.push_back(redis_key(options, p));
        std::vector<std::string> ids = redis_last_ids(options, context.get());
        set_schedule();
        std::thread sender([&] { redis_send_on_schedule(options, *run); });
        consume_until_drained(options, *run, [&] {
            (void)redis_xread(options, context.get(), keys, ids, consumer_wait_ms, options.batch,
                              [&](int32_t partition, const char* data, size_t bytes) {
                                  check_record(*run, partition, data, bytes, monotonic_ns());
                              });
        });
        sender.join();
    } else {
        nats_client client(options, nullptr, nullptr, 1);
        const nats_subscription_ptr subscription = nats_subscribe_new(options, client);
        set_schedule();
        run->sent_ns.resize(
            static_cast<size_t>(*options.seconds * options.rate_per_s + options.partitions + 1));
        std::thread sender([&] { nats_send_on_schedule(options, *run); });
        consume_until_drained(options, *run, [&] {
            natsMsg* raw = nullptr;
            const natsStatus status =
                natsSubscription_NextMsg(&raw, subscription.get(), consumer_wait_ms);
            if (status == NATS_TIMEOUT) return;
            if (status != NATS_OK) fail_nats("receive", status);
            const int64_t now_ns = monotonic_ns();
            check_record(*run, partition_of(natsMsg_GetSubject(raw), '.'), natsMsg_GetData(raw),
                         static_cast<size_t>(natsMsg_GetDataLength(raw)), now_ns);
            natsMsg_Destroy(raw);
        });
        sender.join();
    }
    return run;
}

void report_latency_run(const load_options& options, int run_number, const latency_run& run,
                        result_sink& sink) {
    const latency_summary_us latency = summarize_us(run.latency_ns);
    const latency_summary_us lag = summarize_us(run.send_lag_ns);
    const latency_summary_us ack = summarize_us(run.ack_latency_ns);
    const double sent_per_s =
        static_cast<double>(run.records_sent) / static_cast<double>(*options.seconds);
    fmt::print(
        "{} latency run {}/{}: {} records/s x {} B (sent {}/s): p50 {:.0f} us, p99 {:.0f} us, "
        "p99.9 {:.0f} us, max {:.0f} us over {} records; send lag p99 {:.0f} us; ack p50 {:.0f} "
        "us, p99 {:.0f} us; missing {}, duplicated {}, reordered {}\n",
        system_name(options.system), run_number, options.runs,
        human_count(static_cast<double>(options.rate_per_s)), options.record_bytes,
        human_count(sent_per_s), latency.p50, latency.p99, latency.p99_9, latency.max, run.measured,
        lag.p99, ack.p50, ack.p99, run.missing(), run.duplicated, run.reordered);
    if (run.foreign > 0) {
        fmt::print(stderr, "peer_load: {} records not from this run ignored\n", run.foreign);
    }
    std::fflush(stdout);
    json_line line = json_header(options, "run");
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_sent", run.records_sent)
        .integer("records_delivered", run.records_acked)
        .integer("records_received", run.received)
        .integer("records_measured", run.measured)
        .number("sent_per_s", sent_per_s)
        .integer("missing", run.missing())
        .integer("duplicated", run.duplicated)
        .integer("reordered", run.reordered)
        .integer("delivery_errors", 0)
        .integer("consume_errors", 0)
        .field("latency_us", json_latency(latency))
        .field("send_lag_us", json_latency(lag))
        .field("ack_latency_us", json_latency(ack));
    sink.write(line);
}

void report_latency_summary(const load_options& options,
                            const std::vector<std::unique_ptr<latency_run>>& runs,
                            result_sink& sink) {
    const latency_spreads s = latency_spreads_of(runs);
    const spread &s50 = s.p50, &s99 = s.p99, &s999 = s.p99_9, &smax = s.max;
    const int64_t failures = s.failures;
    fmt::print(
        "{} latency summary ({} runs, {} records/s, {} B, {} partitions), us, median "
        "[min-max]: p50 {:.0f} [{:.0f}-{:.0f}], p99 {:.0f} [{:.0f}-{:.0f}], p99.9 {:.0f} "
        "[{:.0f}-{:.0f}], max {:.0f} [{:.0f}-{:.0f}]; {} failures\n",
        system_name(options.system), runs.size(),
        human_count(static_cast<double>(options.rate_per_s)), options.record_bytes,
        options.partitions, s50.median, s50.min, s50.max, s99.median, s99.min, s99.max, s999.median,
        s999.min, s999.max, smax.median, smax.min, smax.max, failures);
    json_line line = json_header(options, "summary");
    add_latency_spreads(line, runs.size(), s);
    sink.write(line);
}

// ---- consume mode ------------------------------------------------------------

constexpr int64_t fetch_timeout_ms = 5'000;

struct consume_run {
    int64_t records_expected = 0;
    int64_t records = 0;
    int64_t bytes = 0;
    int64_t fetches = 0;
    double elapsed_s = 0;

    int64_t short_records() const { return std::max<int64_t>(0, records_expected - records); }
    double bytes_per_s() const { return static_cast<double>(bytes) / elapsed_s; }
    double records_per_s() const { return static_cast<double>(records) / elapsed_s; }
};

// Redis: XREAD COUNT --batch over every stream from ID 0, one round trip per
// batch, until the records there were at the start (or --records) are read.
consume_run redis_consume(const load_options& options) {
    const redis_context_ptr context = redis_connect(options);
    std::vector<std::string> keys;
    std::vector<std::string> ids(static_cast<size_t>(options.partitions), "0-0");
    consume_run run;
    for (int32_t p = 0; p < options.partitions; ++p) {
        keys.push_back(redis_key(options, p));
        const redis_reply_ptr reply(static_cast<redisReply*>(
            redisCommand(context.get(), "XLEN %b", keys.back().data(), keys.back().size())));
        if (!reply) fail(fmt::format("redis: XLEN: {}", context->errstr));
        if (reply->type == REDIS_REPLY_ERROR) fail(fmt::format("redis: XLEN: {}", reply->str));
        run.records_expected += reply->integer;
    }
    if (options.records) run.records_expected = *options.records;
    // COUNT is per stream: a round trip carries at most --batch records, as
    // a NATS fetch does.
    const int64_t count = (options.batch + options.partitions - 1) / options.partitions;
    const int64_t start_ns = monotonic_ns();
    const int64_t end_ns = options.seconds ? start_ns + *options.seconds * ns_per_s : INT64_MAX;
    while (run.records < run.records_expected && monotonic_ns() < end_ns) {
        const int64_t entries = redis_xread(options, context.get(), keys, ids, std::nullopt, count,
                                            [&](int32_t, const char*, size_t bytes) {
                                                ++run.records;
                                                run.bytes += static_cast<int64_t>(bytes);
                                            });
        ++run.fetches;
        if (entries == 0) break;  // the streams hold fewer records
    }
    run.elapsed_s = static_cast<double>(monotonic_ns() - start_ns) / ns_per_s;
    return run;
}

// NATS: an ephemeral pull consumer of TOPIC.> from the first message,
// without acks, fetching --batch messages per request.
consume_run nats_consume(const load_options& options) {
    nats_client client(options, nullptr, nullptr, 1);
    consume_run run;
    run.records_expected = static_cast<int64_t>(nats_ensure_stream(options, client));
    if (options.records) run.records_expected = *options.records;
    jsSubOptions subscribe_options;
    jsSubOptions_Init(&subscribe_options);
    subscribe_options.Stream = options.topic.c_str();
    subscribe_options.Config.DeliverPolicy = js_DeliverAll;
    subscribe_options.Config.AckPolicy = js_AckNone;
    const std::string subjects = options.topic + ".>";
    natsSubscription* raw = nullptr;
    jsErrCode code{};
    natsStatus status = js_PullSubscribe(&raw, client.context(), subjects.c_str(), nullptr, nullptr,
                                         &subscribe_options, &code);
    if (status != NATS_OK) fail_nats("pull subscribe", status, code);
    const nats_subscription_ptr subscription(raw);
    const int64_t start_ns = monotonic_ns();
    const int64_t end_ns = options.seconds ? start_ns + *options.seconds * ns_per_s : INT64_MAX;
    while (run.records < run.records_expected && monotonic_ns() < end_ns) {
        natsMsgList list{};
        const int batch =
            static_cast<int>(std::min<int64_t>(options.batch, run.records_expected - run.records));
        status = natsSubscription_Fetch(&list, subscription.get(), batch, fetch_timeout_ms, &code);
        ++run.fetches;
        if (status == NATS_TIMEOUT && list.Count == 0) break;  // the stream holds fewer
        if (status != NATS_OK && status != NATS_TIMEOUT) fail_nats("fetch", status, code);
        for (int m = 0; m < list.Count; ++m) {
            ++run.records;
            run.bytes += natsMsg_GetDataLength(list.Msgs[m]);
        }
        natsMsgList_Destroy(&list);
    }
    run.elapsed_s = static_cast<double>(monotonic_ns() - start_ns) / ns_per_s;
    return run;
}

void report_consume_run(const load_options& options, int run_number, const consume_run& run,
                        result_sink& sink) {
    fmt::print(
        "{} consume run {}/{}: {} records ({} B) in {:.2f} s, {} fetches: {:.1f} MB/s, {} "
        "records/s{}\n",
        system_name(options.system), run_number, options.runs, run.records, run.bytes,
        run.elapsed_s, run.fetches, run.bytes_per_s() / 1e6, human_count(run.records_per_s()),
        run.short_records() > 0 ? fmt::format("; {} short", run.short_records()) : "");
    std::fflush(stdout);
    json_line line = json_header(options, "run");
    line.integer("run", run_number)
        .integer("runs", options.runs)
        .integer("records_expected", run.records_expected)
        .integer("records_received", run.records)
        .integer("bytes_received", run.bytes)
        .integer("records_short", run.short_records())
        .integer("fetches", run.fetches)
        .number("elapsed_s", run.elapsed_s)
        .number("bytes_per_s", run.bytes_per_s())
        .number("records_per_s", run.records_per_s());
    sink.write(line);
}

void report_consume_summary(const load_options& options, const std::vector<consume_run>& runs,
                            result_sink& sink) {
    std::vector<double> bytes_per_s, records_per_s;
    int64_t short_records = 0;
    for (const consume_run& run : runs) {
        bytes_per_s.push_back(run.bytes_per_s());
        records_per_s.push_back(run.records_per_s());
        short_records += run.short_records();
    }
    const spread mb = spread_of(bytes_per_s), records = spread_of(records_per_s);
    fmt::print(
        "{} consume summary ({} runs, {} partitions, batch {}): MB/s median {:.1f} "
        "[{:.1f}-{:.1f}], records/s median {} [{}-{}]; {} short\n",
        system_name(options.system), runs.size(), options.partitions, options.batch,
        mb.median / 1e6, mb.min / 1e6, mb.max / 1e6, human_count(records.median),
        human_count(records.min), human_count(records.max), short_records);
    json_line line = json_header(options, "summary");
    line.integer("runs", static_cast<int64_t>(runs.size()))
        .integer("records_short", short_records)
        .field("bytes_per_s", json_spread(mb))
        .field("records_per_s", json_spread(records));
    sink.write(line);
}

// ---- main --------------------------------------------------------------------

// Checks that the server answers (and, for NATS, that the stream exists)
// before any thread starts.
void prepare(const load_options& options) {
    if (options.system == peer_system::redis) {
        (void)redis_connect(options);
    } else {
        nats_client client(options, nullptr, nullptr, 1);
        (void)nats_ensure_stream(options, client);
    }
}

int run_mode(const load_options& options) {
    FILE* json_file = nullptr;
    if (!options.json_out.empty()) {
        json_file = std::fopen(options.json_out.c_str(), "a");
        if (json_file == nullptr) {
            fail(fmt::format("{}: {}", options.json_out, std::strerror(errno)));
        }
    }
    result_sink sink(json_file);
    prepare(options);
    const std::vector<std::byte> pool = make_payload_pool(
        std::max(payload_pool_bytes, static_cast<size_t>(options.record_bytes) * 2));
    if (options.mode == load_mode::consume) {
        if (options.fill_records) {
            const produce_run fill = run_produce(options, pool, options.fill_records, std::nullopt);
            fmt::print("{} fill: {} records of {} B in {:.2f} s ({:.1f} MB/s)\n",
                       system_name(options.system), fill.records_acked, options.record_bytes,
                       fill.elapsed_s, fill.bytes_per_s() / 1e6);
        }
        std::vector<consume_run> runs;
        int64_t short_records = 0;
        for (int r = 1; r <= options.runs; ++r) {
            runs.push_back(options.system == peer_system::redis ? redis_consume(options)
                                                                : nats_consume(options));
            report_consume_run(options, r, runs.back(), sink);
            short_records += runs.back().short_records();
        }
        report_consume_summary(options, runs, sink);
        return short_records == 0 ? 0 : 1;
    }
    if (options.mode == load_mode::latency) {
        std::vector<std::unique_ptr<latency_run>> runs;
        std::random_device entropy;
        int64_t failures = 0;
        for (int r = 1; r <= options.runs; ++r) {
            const uint64_t run_id = (uint64_t{entropy()} << 32) ^ entropy() ^ uint64_t(r);
            runs.push_back(run_latency(options, run_id));
            report_latency_run(options, r, *runs.back(), sink);
            failures += runs.back()->failures();
        }
        report_latency_summary(options, runs, sink);
        return failures == 0 ? 0 : 1;
    }
    std::vector<produce_run> runs;
    for (int r = 1; r <= options.runs; ++r) {
        runs.push_back(run_produce(options, pool, options.records, options.seconds));
        report_produce_run(options, r, runs.back(), sink);
    }
    report_produce_summary(options, runs, sink);
    return 0;
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
        fmt::print(stderr, "peer_load: {}\n{}", options.error(), tl::perf::usage_text);
        return 2;
    }
    return tl::perf::run_mode(*options);
}
