// group_bench: consumer-group benchmarks against a running broker, spoken with
// our generated codecs over blocking loopback connections (the tests'
// support/kafka_client), so that client-side timers (librdkafka's coordinator
// query and join backoffs) do not hide the coordinator's own time.
//
//   group_bench rebalance --port P [--members 1,10,50] [--runs 5] [--heartbeat-ms 100]
//   group_bench commit    --port P [--seconds 5] [--connections 4] [--partitions 1] [--runs 3]
//   group_bench fetch     --port P [--seconds 5] [--partitions 8] [--runs 3]
//   common: --topic NAME (created with --topic-partitions, default 8, unless
//   --create no), --json-out FILE
//
// rebalance: N members, one thread and one connection each, released together
// into a fresh group; each joins (JoinGroup v5, MEMBER_ID_REQUIRED handled),
// the leader assigns the topic's partitions round-robin, everyone syncs
// (SyncGroup v3) and heartbeats every --heartbeat-ms, rejoining on
// REBALANCE_IN_PROGRESS as clients do. Measured: release to the moment the last
// of the N members holds its assignment in a generation with all N members
// ("join to all assigned"), plus the number of generations it took. Then all
// leave (LeaveGroup v3).
// commit: simple-consumer commits (OffsetCommit v7, generation -1) of
// --partitions offsets each, one synchronous request at a time on each of
// --connections connections: commits/s. fetch: OffsetFetch v5 of --partitions
// committed offsets on one connection, one at a time: latency p50/p99/max.
//
// Every run prints a line; a summary line per case gives the median and the
// spread [min-max] over runs. Benchmarks never assert a time.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kafka/messages/create_topics.h"
#include "kafka/messages/heartbeat.h"
#include "kafka/messages/join_group.h"
#include "kafka/messages/leave_group.h"
#include "kafka/messages/offset_commit.h"
#include "kafka/messages/offset_fetch.h"
#include "kafka/messages/sync_group.h"
#include "support/kafka_client.h"

namespace {

using clock_type = std::chrono::steady_clock;
using tl::testing_support::kafka_client;
namespace kafka = tl::kafka;

constexpr int16_t member_id_required = 79;
constexpr int16_t rebalance_in_progress = 27;
constexpr int16_t topic_already_exists = 36;
// Bounds: a run that does not finish in this time is reported as failed.
constexpr std::chrono::seconds rebalance_run_limit{120};
constexpr int members_max = 1000;

struct options {
    std::string mode;
    uint16_t port = 9092;
    std::string topic = "group-bench";
    int32_t topic_partitions = 8;
    std::vector<int> members = {1, 10, 50};
    int runs = 5;
    int heartbeat_ms = 100;
    int session_timeout_ms = 30000;
    double seconds = 5;
    int connections = 4;
    int32_t partitions = 1;  // per commit; for fetch, partitions read per request
    bool partitions_set = false;
    bool create_topic = true;
    std::string json_out;
    std::vector<std::string> tags;
};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::ranges::sort(v);
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const size_t at = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
    return sorted[at];
}

std::string spread_text(const std::vector<double>& v, std::string_view unit) {
    if (v.empty()) return "no runs";
    return fmt::format("{:.2f} {} [{:.2f}-{:.2f}] over {} runs", median(v), unit,
                       *std::ranges::min_element(v), *std::ranges::max_element(v), v.size());
}

class json_sink {
public:
    explicit json_sink(const options& o) : _tags(o.tags) {
        if (!o.json_out.empty()) _out.open(o.json_out, std::ios::app);
    }
    // fields: a JSON object body without braces ("\"a\":1,\"b\":2").
    void write(std::string_view type, std::string_view mode, const std::string& fields) {
        if (!_out.is_open()) return;
        std::string tags;
        for (const std::string& t : _tags) {
            const size_t eq = t.find('=');
            tags += fmt::format(",\"{}\":\"{}\"", t.substr(0, eq),
                                eq == std::string::npos ? "" : t.substr(eq + 1));
        }
        _out << fmt::format("{{\"type\":\"{}\",\"tool\":\"group_bench\",\"mode\":\"{}\"{},{}}}\n",
                            type, mode, tags, fields);
        _out.flush();
    }

private:
    std::vector<std::string> _tags;
    std::ofstream _out;
};

std::optional<kafka_client> connect_or_report(uint16_t port) {
    auto client = kafka_client::connect(port);
    if (!client) std::fprintf(stderr, "group_bench: cannot connect to 127.0.0.1:%u\n", port);
    return client;
}

bool ensure_topic(const options& o) {
    auto client = connect_or_report(o.port);
    if (!client) return false;
    kafka::create_topics_request request;
    request.timeout_ms = 30000;
    auto& topic = request.topics.emplace_back();
    topic.name = o.topic;
    topic.num_partitions = o.topic_partitions;
    topic.replication_factor = 1;
    auto answer = client->call<kafka::create_topics_response>(request, 4);
    if (!answer) {
        std::fprintf(stderr, "group_bench: CreateTopics: %s\n", client->last_error().c_str());
        return false;
    }
    const int16_t error = answer->body.topics.empty() ? 0 : answer->body.topics[0].error_code;
    if (error != 0 && error != topic_already_exists) {
        std::fprintf(stderr, "group_bench: CreateTopics %s: error %d\n", o.topic.c_str(), error);
        return false;
    }
    return true;
}

// ---- rebalance -------------------------------------------------------------------

// The consumer protocol's subscription and assignment bytes (version 0).
void put16(std::string& out, int16_t v) {
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}
void put32(std::string& out, int32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
std::string subscription_bytes(const std::string& topic) {
    std::string out;
    put16(out, 0);
    put32(out, 1);
    put16(out, static_cast<int16_t>(topic.size()));
    out += topic;
    put32(out, -1);
    return out;
}
std::string assignment_bytes(const std::string& topic, const std::vector<int32_t>& partitions) {
    std::string out;
    put16(out, 0);
    put32(out, 1);
    put16(out, static_cast<int16_t>(topic.size()));
    out += topic;
    put32(out, static_cast<int32_t>(partitions.size()));
    for (const int32_t p : partitions) put32(out, p);
    put32(out, -1);
    return out;
}

// What the members of one run share: the release, and per member the last
// generation it completed SyncGroup in.
struct rebalance_run {
    std::mutex mutex;
    std::condition_variable changed;
    bool released = false;
    std::atomic<bool> stop{false};
    clock_type::time_point start;
    std::map<int, int32_t> synced_generation;  // member index -> generation
    std::map<int32_t, clock_type::time_point> last_sync_in_generation;
    std::map<int32_t, int> generations_seen;
    std::optional<std::pair<int32_t, clock_type::time_point>> done;
    std::string error;
    int members = 0;
};

void member_thread(const options& o, const std::string& group, int index, rebalance_run& run) {
    auto client = kafka_client::connect(o.port);
    const auto fail = [&run](std::string what) {
        std::lock_guard lock(run.mutex);
        if (run.error.empty()) run.error = std::move(what);
        run.changed.notify_all();
    };
    if (!client) return fail("connect failed");
    const std::string subscription = subscription_bytes(o.topic);
    {
        std::unique_lock lock(run.mutex);
        run.changed.wait(lock, [&run] { return run.released; });
    }
    std::string member_id;
    while (!run.stop) {
        // Join (twice when the broker asks for a member id first).
        kafka::join_group_request join;
        join.group_id = group;
        join.session_timeout_ms = o.session_timeout_ms;
        join.rebalance_timeout_ms = o.session_timeout_ms;
        join.protocol_type = "consumer";
        join.protocols.push_back(
            {.name = "range", .metadata = kafka::bytes_view::of_text(subscription)});
        join.member_id = member_id;
        auto joined = client->call<kafka::join_group_response>(join, 5);
        if (!joined) return fail("JoinGroup: " + client->last_error());
        member_id = std::string(joined->body.member_id);
        if (joined->body.error_code == member_id_required) continue;
        if (joined->body.error_code != 0) {
            return fail(fmt::format("JoinGroup error {}", joined->body.error_code));
        }
        const int32_t generation = joined->body.generation_id;
        kafka::sync_group_request sync;
        sync.group_id = group;
        sync.generation_id = generation;
        sync.member_id = member_id;
        // Owned here: the request's views point into them until it is sent.
        std::vector<std::string> assignments;
        std::vector<std::string> ids;
        if (joined->body.leader == joined->body.member_id) {
            for (const auto& m : joined->body.members) ids.emplace_back(m.member_id);
            std::ranges::sort(ids);
            std::vector<std::vector<int32_t>> owned(ids.size());
            for (int32_t p = 0; p < o.topic_partitions; ++p) {
                owned[static_cast<size_t>(p) % ids.size()].push_back(p);
            }
            assignments.reserve(ids.size());
            for (size_t i = 0; i < ids.size(); ++i) {
                assignments.push_back(assignment_bytes(o.topic, owned[i]));
            }
            for (size_t i = 0; i < ids.size(); ++i) {
                sync.assignments.push_back(
                    {.member_id = ids[i], .assignment = kafka::bytes_view::of_text(assignments[i])});
            }
        }
        auto synced = client->call<kafka::sync_group_response>(sync, 3);
        if (!synced) return fail("SyncGroup: " + client->last_error());
        if (synced->body.error_code == rebalance_in_progress) continue;
        if (synced->body.error_code != 0) {
            return fail(fmt::format("SyncGroup error {}", synced->body.error_code));
        }
        {
            std::lock_guard lock(run.mutex);
            const auto now = clock_type::now();
            run.synced_generation[index] = generation;
            run.last_sync_in_generation[generation] = now;
            run.generations_seen[generation] += 1;
            const bool everyone =
                static_cast<int>(run.synced_generation.size()) == run.members &&
                std::ranges::all_of(run.synced_generation,
                                    [generation](const auto& m) { return m.second == generation; });
            if (everyone && !run.done) run.done = std::pair{generation, now};
            run.changed.notify_all();
        }
        // Heartbeat until told to stop or to rejoin.
        bool rejoin = false;
        while (!run.stop && !rejoin) {
            std::this_thread::sleep_for(std::chrono::milliseconds(o.heartbeat_ms));
            kafka::heartbeat_request beat;
            beat.group_id = group;
            beat.generation_id = generation;
            beat.member_id = member_id;
            auto answer = client->call<kafka::heartbeat_response>(beat, 3);
            if (!answer) return fail("Heartbeat: " + client->last_error());
            if (answer->body.error_code == rebalance_in_progress) rejoin = true;
            else if (answer->body.error_code != 0) {
                return fail(fmt::format("Heartbeat error {}", answer->body.error_code));
            }
        }
    }
    // Leave (LeaveGroup v3, this member only).
    kafka::leave_group_request leave;
    leave.group_id = group;
    leave.members.push_back({.member_id = member_id, .group_instance_id = std::nullopt});
    (void)client->call<kafka::leave_group_response>(leave, 3);
}

int run_rebalance(const options& o, json_sink& sink) {
    int status = 0;
    for (const int members : o.members) {
        std::vector<double> times_ms;
        std::vector<double> generations;
        for (int r = 1; r <= o.runs; ++r) {
            const std::string group = fmt::format(
                "group-bench-{}-{}-{}", members, r,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                        .count() %
                    1000000);
            rebalance_run run;
            run.members = members;
            std::vector<std::thread> threads;
            threads.reserve(static_cast<size_t>(members));
            for (int i = 0; i < members; ++i) {
                threads.emplace_back(member_thread, std::cref(o), std::cref(group), i,
                                     std::ref(run));
            }
            // Connections are made before the clock starts.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            {
                std::lock_guard lock(run.mutex);
                run.released = true;
                run.start = clock_type::now();
            }
            run.changed.notify_all();
            {
                std::unique_lock lock(run.mutex);
                run.changed.wait_for(lock, rebalance_run_limit,
                                     [&run] { return run.done || !run.error.empty(); });
            }
            run.stop = true;
            for (auto& t : threads) t.join();
            if (!run.done) {
                std::fprintf(stderr, "rebalance members=%d run %d: FAILED: %s\n", members, r,
                             run.error.empty() ? "not all assigned within the limit"
                                               : run.error.c_str());
                sink.write("run", "rebalance",
                           fmt::format("\"members\":{},\"run\":{},\"ok\":false", members, r));
                status = 1;
                continue;
            }
            const double ms =
                std::chrono::duration<double, std::milli>(run.done->second - run.start).count();
            times_ms.push_back(ms);
            generations.push_back(static_cast<double>(run.generations_seen.size()));
            std::printf("rebalance members=%d run %d: %.2f ms to all assigned (generation %d, "
                        "%zu generations)\n",
                        members, r, ms, run.done->first, run.generations_seen.size());
            sink.write("run", "rebalance",
                       fmt::format("\"members\":{},\"run\":{},\"ok\":true,\"ms\":{:.3f},"
                                   "\"generations\":{}",
                                   members, r, ms, run.generations_seen.size()));
        }
        std::printf("rebalance members=%d: %s, generations median %.0f\n", members,
                    spread_text(times_ms, "ms").c_str(), median(generations));
        if (!times_ms.empty()) {
            sink.write("summary", "rebalance",
                       fmt::format("\"members\":{},\"runs\":{},\"median_ms\":{:.3f},"
                                   "\"min_ms\":{:.3f},\"max_ms\":{:.3f},\"heartbeat_ms\":{}",
                                   members, times_ms.size(), median(times_ms),
                                   *std::ranges::min_element(times_ms),
                                   *std::ranges::max_element(times_ms), o.heartbeat_ms));
        }
    }
    return status;
}

// ---- commit and fetch -----------------------------------------------------------

kafka::offset_commit_request commit_request(const options& o, const std::string& group,
                                            int64_t offset) {
    kafka::offset_commit_request request;
    request.group_id = group;
    request.generation_id_or_member_epoch = -1;
    auto& topic = request.topics.emplace_back();
    topic.name = o.topic;
    for (int32_t p = 0; p < o.partitions; ++p) {
        topic.partitions.push_back({.partition_index = p % o.topic_partitions,
                                    .committed_offset = offset,
                                    .committed_metadata = std::string_view{}});
    }
    return request;
}

int run_commit(const options& o, json_sink& sink) {
    std::vector<double> rates;
    int status = 0;
    for (int r = 1; r <= o.runs; ++r) {
        std::atomic<int64_t> commits{0};
        std::atomic<bool> failed{false};
        const auto deadline =
            clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                    std::chrono::duration<double>(o.seconds));
        const auto start = clock_type::now();
        std::vector<std::thread> threads;
        for (int c = 0; c < o.connections; ++c) {
            threads.emplace_back([&, c] {
                auto client = connect_or_report(o.port);
                if (!client) {
                    failed = true;
                    return;
                }
                const std::string group = fmt::format("group-bench-commit-{}-{}", r, c);
                int64_t offset = 0;
                while (clock_type::now() < deadline) {
                    auto answer = client->call<kafka::offset_commit_response>(
                        commit_request(o, group, ++offset), 7);
                    bool ok = answer.has_value();
                    if (ok) {
                        for (const auto& t : answer->body.topics) {
                            for (const auto& p : t.partitions) ok = ok && p.error_code == 0;
                        }
                    }
                    if (!ok) {
                        failed = true;
                        return;
                    }
                    commits.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
        for (auto& t : threads) t.join();
        const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
        if (failed) {
            std::fprintf(stderr, "commit run %d: FAILED (a commit failed)\n", r);
            status = 1;
            continue;
        }
        const double rate = static_cast<double>(commits) / elapsed;
        rates.push_back(rate);
        std::printf("commit run %d: %.0f commits/s (%d connections, %d partitions a commit)\n", r,
                    rate, o.connections, o.partitions);
        sink.write("run", "commit",
                   fmt::format("\"run\":{},\"commits_per_s\":{:.1f},\"connections\":{},"
                               "\"partitions\":{}",
                               r, rate, o.connections, o.partitions));
    }
    std::printf("commit: %s\n", spread_text(rates, "commits/s").c_str());
    if (!rates.empty()) {
        sink.write("summary", "commit",
                   fmt::format("\"runs\":{},\"median_commits_per_s\":{:.1f},\"min\":{:.1f},"
                               "\"max\":{:.1f},\"connections\":{},\"partitions\":{}",
                               rates.size(), median(rates), *std::ranges::min_element(rates),
                               *std::ranges::max_element(rates), o.connections, o.partitions));
    }
    return status;
}

int run_fetch(const options& o, json_sink& sink) {
    auto client = connect_or_report(o.port);
    if (!client) return 1;
    const std::string group = "group-bench-fetch";
    auto committed = client->call<kafka::offset_commit_response>(commit_request(o, group, 42), 7);
    if (!committed) {
        std::fprintf(stderr, "fetch: the setup commit failed: %s\n", client->last_error().c_str());
        return 1;
    }
    for (const auto& t : committed->body.topics) {
        for (const auto& p : t.partitions) {
            if (p.error_code != 0) {
                std::fprintf(stderr, "fetch: the setup commit failed: error %d\n", p.error_code);
                return 1;
            }
        }
    }
    kafka::offset_fetch_request request;
    request.group_id = group;
    request.topics.emplace();
    auto& topic = request.topics->emplace_back();
    topic.name = o.topic;
    for (int32_t p = 0; p < std::min(o.partitions, o.topic_partitions); ++p) {
        topic.partition_indexes.push_back(p);
    }
    std::vector<double> p50s;
    std::vector<double> p99s;
    for (int r = 1; r <= o.runs; ++r) {
        std::vector<double> latencies_us;
        const auto deadline =
            clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                    std::chrono::duration<double>(o.seconds));
        while (clock_type::now() < deadline) {
            const auto sent = clock_type::now();
            auto answer = client->call<kafka::offset_fetch_response>(request, 5);
            const auto received = clock_type::now();
            if (!answer || answer->body.error_code != 0) {
                std::fprintf(stderr, "fetch run %d: FAILED: %s\n", r,
                             answer ? fmt::format("error {}", answer->body.error_code).c_str()
                                    : client->last_error().c_str());
                return 1;
            }
            latencies_us.push_back(std::chrono::duration<double, std::micro>(received - sent).count());
        }
        std::ranges::sort(latencies_us);
        const double p50 = percentile(latencies_us, 0.50);
        const double p99 = percentile(latencies_us, 0.99);
        p50s.push_back(p50);
        p99s.push_back(p99);
        std::printf("fetch run %d: %zu OffsetFetch, p50 %.1f us, p99 %.1f us, max %.1f us\n", r,
                    latencies_us.size(), p50, p99, latencies_us.back());
        sink.write("run", "fetch",
                   fmt::format("\"run\":{},\"requests\":{},\"p50_us\":{:.1f},\"p99_us\":{:.1f},"
                               "\"max_us\":{:.1f},\"partitions\":{}",
                               r, latencies_us.size(), p50, p99, latencies_us.back(),
                               topic.partition_indexes.size()));
    }
    std::printf("fetch p50: %s\nfetch p99: %s\n", spread_text(p50s, "us").c_str(),
                spread_text(p99s, "us").c_str());
    sink.write("summary", "fetch",
               fmt::format("\"runs\":{},\"median_p50_us\":{:.1f},\"median_p99_us\":{:.1f},"
                           "\"min_p50_us\":{:.1f},\"max_p50_us\":{:.1f},\"min_p99_us\":{:.1f},"
                           "\"max_p99_us\":{:.1f}",
                           p50s.size(), median(p50s), median(p99s),
                           *std::ranges::min_element(p50s), *std::ranges::max_element(p50s),
                           *std::ranges::min_element(p99s), *std::ranges::max_element(p99s)));
    return 0;
}

// ---- command line ----------------------------------------------------------------

constexpr std::string_view usage_text =
    "usage: group_bench rebalance|commit|fetch --port P [--topic T] [--topic-partitions N]\n"
    "         [--members 1,10,50] [--heartbeat-ms 100] [--session-timeout-ms 30000]\n"
    "         [--seconds S] [--connections C] [--partitions K] [--runs R]\n"
    "         [--create yes|no] [--json-out FILE] [--tag KEY=VALUE]...\n";

template <typename T>
std::optional<T> number(std::string_view text, T low) {
    T value{};
    const auto [end, errc] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (errc != std::errc{} || end != text.data() + text.size() || value < low) return std::nullopt;
    return value;
}

std::optional<options> parse(int argc, char** argv) {
    if (argc < 2) return std::nullopt;
    options o;
    o.mode = argv[1];
    if (o.mode != "rebalance" && o.mode != "commit" && o.mode != "fetch") return std::nullopt;
    if (o.mode != "rebalance") o.runs = 3;
    for (int i = 2; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (i + 1 >= argc) return std::nullopt;
        const std::string_view value = argv[++i];
        bool ok = true;
        if (flag == "--port") {
            auto v = number<int>(value, 1);
            ok = v && *v < 65536;
            if (ok) o.port = static_cast<uint16_t>(*v);
        } else if (flag == "--topic") {
            o.topic = value;
        } else if (flag == "--topic-partitions") {
            auto v = number<int32_t>(value, 1);
            ok = v.has_value();
            if (ok) o.topic_partitions = *v;
        } else if (flag == "--members") {
            o.members.clear();
            size_t start = 0;
            while (ok && start <= value.size()) {
                const size_t comma = std::min(value.find(',', start), value.size());
                auto v = number<int>(value.substr(start, comma - start), 1);
                ok = v && *v <= members_max;
                if (ok) o.members.push_back(*v);
                start = comma + 1;
            }
        } else if (flag == "--runs") {
            auto v = number<int>(value, 1);
            ok = v.has_value();
            if (ok) o.runs = *v;
        } else if (flag == "--heartbeat-ms") {
            auto v = number<int>(value, 1);
            ok = v.has_value();
            if (ok) o.heartbeat_ms = *v;
        } else if (flag == "--session-timeout-ms") {
            auto v = number<int>(value, 1);
            ok = v.has_value();
            if (ok) o.session_timeout_ms = *v;
        } else if (flag == "--seconds") {
            o.seconds = std::atof(std::string(value).c_str());
            ok = o.seconds > 0;
        } else if (flag == "--connections") {
            auto v = number<int>(value, 1);
            ok = v.has_value();
            if (ok) o.connections = *v;
        } else if (flag == "--partitions") {
            auto v = number<int32_t>(value, 1);
            ok = v.has_value();
            if (ok) o.partitions = *v;
            o.partitions_set = true;
        } else if (flag == "--create") {
            ok = value == "yes" || value == "no";
            o.create_topic = value == "yes";
        } else if (flag == "--json-out") {
            o.json_out = value;
        } else if (flag == "--tag") {
            o.tags.emplace_back(value);
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "group_bench: bad %.*s '%.*s'\n", static_cast<int>(flag.size()),
                         flag.data(), static_cast<int>(value.size()), value.data());
            return std::nullopt;
        }
    }
    if (o.mode == "fetch" && !o.partitions_set) o.partitions = o.topic_partitions;
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help") {
            std::fputs(std::string(usage_text).c_str(), stdout);
            return 0;
        }
    }
    const auto o = parse(argc, argv);
    if (!o) {
        std::fputs(std::string(usage_text).c_str(), stderr);
        return 2;
    }
    if (o->create_topic && !ensure_topic(*o)) return 1;
    json_sink sink(*o);
    if (o->mode == "rebalance") return run_rebalance(*o, sink);
    if (o->mode == "commit") return run_commit(*o, sink);
    return run_fetch(*o, sink);
}
