// Controller (Raft) benchmark of issue 9, at the driver level with the real
// pieces: one raft::driver per server, each on its own shard with its own
// log_store directory on a real disk (uring_disk, fdatasync) and a transport
// on loopback, and cluster::metadata_state_machine as the state machine,
// applying real encoded metadata records.
//
//   commits  --voters 1|3 --clients N --seconds S [--warmup-seconds W]
//            N concurrent proposers on the leader's shard, each proposing
//            allocate_producer_ids records (a block of 1 id each, proposed in
//            order so that every one applies) or, with --record create_topic,
//            create_topic records with unique names (1 partition). A commit's
//            latency is from propose() to its completion (committed and
//            applied on the leader). Reports commits/s, p50/p99/p99.9/max,
//            and fdatasyncs per commit (the leader's, and all servers'),
//            counted by a disk wrapper around every file's sync().
//   election --voters 3 --rounds R
//            Kills the leader as a crash (its transport is stopped first, so
//            nothing more leaves it, then its driver; no leadership
//            transfer), measures the time until a surviving server is leader
//            of a newer term, and until a proposal through it commits;
//            restarts the killed server from its directory; waits until every
//            server has caught up; repeats. Reports each round and the
//            median and spread, next to the configured election timeout
//            (tick interval x [election_ticks, 2 x election_ticks)).
//
// One invocation is one run (perf/run.sh repeats and alternates); stdout is
// human-readable, --json-out FILE appends one JSON object per run (and per
// election round). A fresh data directory per run under --data-dir (default
// $TIDELOG_PERF_DIR or /var/tmp/tidelog-perf), removed afterwards unless
// --keep. Exit status 0, 1 when a proposal failed, 2 on usage or setup errors.
//
// A measurement tool, not product code: it reads the real clock directly.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "cluster/metadata_records.h"
#include "cluster/metadata_state_machine.h"
#include "perf/load_support.h"
#include "raft/driver.h"
#include "reactor/shard_executor.h"
#include "reactor/smp.h"
#include "storage/disk.h"

namespace {

using namespace std::chrono_literals;
using tl::task;
using tl::reactor::shard;
namespace fs = std::filesystem;
namespace raft = tl::raft;
namespace cluster = tl::cluster;
namespace storage = tl::storage;

// ---- fdatasync counting ------------------------------------------------------

// Counts sync() (fdatasync) of every file and directory syncs; delegates the rest.
struct sync_counts {
    std::atomic<uint64_t> file_syncs{0};
    std::atomic<uint64_t> directory_syncs{0};
};

class counting_file final : public storage::disk_file {
public:
    counting_file(std::unique_ptr<storage::disk_file> inner, sync_counts& counts)
        : _inner(std::move(inner)), _counts(counts) {}
    bool direct() const noexcept override { return _inner->direct(); }
    task<storage::io_result<void>> write_at(uint64_t offset, std::span<const std::byte> bytes) override {
        return _inner->write_at(offset, bytes);
    }
    task<storage::io_result<void>> write_at(uint64_t offset, const storage::io_buffer& buffer) override {
        return _inner->write_at(offset, buffer);
    }
    task<storage::io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer) override {
        return _inner->read_at(offset, buffer);
    }
    task<storage::io_result<size_t>> read_at(uint64_t offset, storage::io_buffer& buffer) override {
        return _inner->read_at(offset, buffer);
    }
    task<storage::io_result<void>> sync() override {
        _counts.file_syncs.fetch_add(1, std::memory_order_relaxed);
        return _inner->sync();
    }
    task<storage::io_result<void>> allocate(uint64_t offset, uint64_t length) override {
        return _inner->allocate(offset, length);
    }
    task<storage::io_result<void>> truncate(uint64_t length) override { return _inner->truncate(length); }
    task<storage::io_result<uint64_t>> size() override { return _inner->size(); }
    task<storage::io_result<void>> close() override { return _inner->close(); }

private:
    std::unique_ptr<storage::disk_file> _inner;
    sync_counts& _counts;
};

class counting_disk final : public storage::disk {
public:
    counting_disk(std::unique_ptr<storage::disk> inner, sync_counts& counts)
        : _inner(std::move(inner)), _counts(counts) {}
    task<storage::io_result<std::unique_ptr<storage::disk_file>>> open(std::string path,
                                                                 tl::uring::open_mode mode,
                                                                 storage::direct_io direct) override {
        auto opened = co_await _inner->open(std::move(path), mode, direct);
        if (!opened) co_return tl::failure{opened.error()};
        co_return std::unique_ptr<storage::disk_file>(
            std::make_unique<counting_file>(std::move(*opened), _counts));
    }
    task<storage::io_result<void>> make_directory(std::string path) override {
        return _inner->make_directory(std::move(path));
    }
    task<storage::io_result<void>> remove_file(std::string path) override {
        return _inner->remove_file(std::move(path));
    }
    task<storage::io_result<void>> remove_directory(std::string path) override {
        return _inner->remove_directory(std::move(path));
    }
    task<storage::io_result<void>> rename(std::string from, std::string to) override {
        return _inner->rename(std::move(from), std::move(to));
    }
    task<storage::io_result<void>> sync_directory(std::string path) override {
        _counts.directory_syncs.fetch_add(1, std::memory_order_relaxed);
        return _inner->sync_directory(std::move(path));
    }
    storage::io_result<std::vector<std::string>> list_directory(const std::string& path) override {
        return _inner->list_directory(path);
    }
    storage::io_result<uint64_t> free_bytes(const std::string& path) override {
        return _inner->free_bytes(path);
    }
    storage::io_buffer write_buffer(size_t length) override { return _inner->write_buffer(length); }

private:
    std::unique_ptr<storage::disk> _inner;
    sync_counts& _counts;
};

// ---- the state machine -------------------------------------------------------

// metadata_state_machine wants every index (configuration and no-op entries
// only advance it); the driver hands over normal entries only, so the gaps
// are filled with no-op entries here, as the controller's integration must.
class metadata_machine final : public raft::state_machine {
public:
    explicit metadata_machine(int32_t local_node)
        : machine(cluster::image_options{.local_node = local_node}, nullptr) {}
    void apply(const raft::entry& e) override {
        while (machine.last_applied() + 1 < e.index) {
            raft::entry gap;
            gap.index = machine.last_applied() + 1;
            gap.term = e.term;
            gap.kind = raft::entry_kind::no_op;
            machine.apply(gap);
        }
        machine.apply(e);
    }
    std::vector<std::byte> take_snapshot() override { return machine.take_snapshot(); }
    void restore(const raft::snapshot& s) override { machine.restore(s); }
    cluster::metadata_state_machine machine;
};

// ---- options -----------------------------------------------------------------

struct options {
    std::string mode;
    unsigned voters = 3;
    unsigned clients = 1;
    double seconds = 10;
    double warmup_seconds = 1;
    unsigned rounds = 20;
    std::string record = "allocate_producer_ids";
    int64_t tick_ms = 50;       // driver_options' default
    uint32_t election_ticks = 10;  // raft::options' default
    std::string data_dir;
    std::string json_out;
    std::vector<tl::perf::key_value> tags;
    bool keep = false;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "%s\nusage: controller_bench commits --voters 1|3 --clients N --seconds S\n"
                 "                        [--warmup-seconds W] [--record allocate_producer_ids|create_topic]\n"
                 "       controller_bench election --voters 3 --rounds R\n"
                 "  common: [--tick-ms 50] [--election-ticks 10] [--data-dir DIR] [--keep]\n"
                 "          [--json-out FILE] [--tag KEY=VALUE]...\n",
                 why.c_str());
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    if (const char* dir = std::getenv("TIDELOG_PERF_DIR"); dir != nullptr && *dir != '\0')
        o.data_dir = dir;
    else
        o.data_dir = "/var/tmp/tidelog-perf";
    if (argc < 2) usage("no mode");
    o.mode = argv[1];
    if (o.mode == "--help" || o.mode == "-h") usage("");
    if (o.mode != "commits" && o.mode != "election") usage("unknown mode " + o.mode);
    for (int i = 2; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--keep") {
            o.keep = true;
            continue;
        }
        if (i + 1 >= argc) usage(fmt::format("{} needs a value", flag));
        const std::string_view value = argv[++i];
        auto number = [&](auto low, auto high) {
            auto parsed = tl::perf::parse_number<decltype(low)>(flag, value, low, high);
            if (!parsed) usage(parsed.error());
            return *parsed;
        };
        if (flag == "--voters") o.voters = number(1u, 7u);
        else if (flag == "--clients") o.clients = number(1u, 4096u);
        else if (flag == "--seconds") o.seconds = static_cast<double>(number(1, 3600));
        else if (flag == "--warmup-seconds") o.warmup_seconds = static_cast<double>(number(0, 600));
        else if (flag == "--rounds") o.rounds = number(1u, 10000u);
        else if (flag == "--tick-ms") o.tick_ms = number(int64_t{1}, int64_t{10000});
        else if (flag == "--election-ticks") o.election_ticks = number(2u, 1000u);
        else if (flag == "--record") {
            o.record = value;
            if (o.record != "allocate_producer_ids" && o.record != "create_topic")
                usage("unknown --record " + o.record);
        } else if (flag == "--data-dir") o.data_dir = value;
        else if (flag == "--json-out") o.json_out = value;
        else if (flag == "--tag") {
            auto kv = tl::perf::parse_key_value(flag, value);
            if (!kv) usage(kv.error());
            o.tags.push_back(*kv);
        } else usage(fmt::format("unknown flag {}", flag));
    }
    if (o.mode == "election" && o.voters < 3) usage("election needs --voters 3 or more");
    return o;
}

// ---- the cluster -------------------------------------------------------------

// Everything of one server; lives on (and is touched only by) its shard.
struct server {
    std::unique_ptr<tl::reactor::shard_executor> executor;
    std::unique_ptr<storage::disk> disk;
    std::unique_ptr<tl::transport::transport> net;
    std::unique_ptr<raft::log_store> store;
    std::unique_ptr<metadata_machine> machine;
    std::unique_ptr<raft::driver> raft;
    bool run_finished = false;
    sync_counts syncs;
    uint64_t next_sequence = 1;  // request ids of this origin
};

class bench_cluster {
public:
    bench_cluster(const options& o, tl::reactor::smp& group, std::string root)
        : _o(o), _group(group), _root(std::move(root)), _servers(o.voters),
          _addresses(o.voters) {}

    unsigned size() const { return static_cast<unsigned>(_servers.size()); }
    server& at(unsigned s) { return _servers[s]; }
    tl::reactor::smp& group() { return _group; }

    void start(unsigned s, uint16_t port = 0) {
        _group.run_on(s, [this, s, port]() -> task<void> {
            server& v = _servers[s];
            v.executor = std::make_unique<tl::reactor::shard_executor>();
            v.disk = std::make_unique<counting_disk>(
                std::make_unique<storage::uring_disk>(shard::local().io()), v.syncs);
            tl::transport::transport_options net_options;
            net_options.self = s + 1;
            net_options.reconnect_backoff_max = 200ms;
            v.net = std::make_unique<tl::transport::transport>(shard::local().io(), *v.executor,
                                                               net_options);
            auto where = *tl::uring::socket_address::parse("127.0.0.1:" + std::to_string(port));
            auto listening = v.net->listen(where);
            TL_ASSERT(listening.ok(), "listen failed");
            auto opened = co_await raft::log_store::open(*v.disk, _root + "/node" + std::to_string(s));
            if (!opened) {
                std::fprintf(stderr, "log_store open: %s\n", opened.error().c_str());
                std::exit(2);
            }
            v.store = std::move(*opened);
            raft::configuration voters;
            for (unsigned p = 0; p < size(); ++p) voters.voters.push_back(p + 1);
            auto booted = co_await raft::bootstrap(*v.store, voters);
            TL_ASSERT(booted.ok(), "bootstrap failed");
            v.machine = std::make_unique<metadata_machine>(static_cast<int32_t>(s + 1));
            raft::driver_options options;
            options.raft.id = s + 1;
            options.raft.random_seed = static_cast<uint64_t>(monotonic()) + s;
            options.raft.election_ticks = _o.election_ticks;
            options.tick_interval = std::chrono::milliseconds(_o.tick_ms);
            v.raft = std::make_unique<raft::driver>(options, *v.store, *v.net, *v.machine,
                                                    *v.executor);
            v.run_finished = false;
            shard::local().spawn([](server& me) -> task<void> {
                co_await me.raft->run();
                me.run_finished = true;
            }(v));
        });
        _addresses[s] = _group.run_on(s, [this, s] { return _servers[s].net->local_address(); });
    }

    void connect_all() {
        for (unsigned s = 0; s < size(); ++s) {
            _group.run_on(s, [this, s] {
                if (!_servers[s].net) return;
                for (unsigned p = 0; p < size(); ++p)
                    if (p != s) _servers[s].net->add_peer(p + 1, _addresses[p]);
            });
        }
    }

    // crash: the transport goes first (nothing more leaves the server), then
    // the driver; no leadership transfer. Otherwise the driver first.
    void stop(unsigned s, bool crash) {
        _group.run_on(s, [this, s, crash]() -> task<void> {
            server& v = _servers[s];
            if (!v.raft) co_return;
            if (crash) co_await v.net->stop();
            co_await v.raft->stop();
            while (!v.run_finished) co_await v.executor->sleep(1ms);
            if (!crash) co_await v.net->stop();
            co_await v.store->close();
            v.raft.reset();
            v.machine.reset();
            v.store.reset();
            v.net.reset();
            v.disk.reset();
            v.executor.reset();
        });
    }
    void stop_all() {
        for (unsigned s = 0; s < size(); ++s) stop(s, false);
    }
    bool running(unsigned s) const { return _servers[s].raft != nullptr; }
    raft::status status_of(unsigned s) {
        return _group.run_on(s, [this, s] { return _servers[s].raft->get_status(); });
    }
    uint16_t port_of(unsigned s) const { return _addresses[s].port(); }

    // A running server that is leader, with every running server agreeing.
    std::optional<unsigned> agreed_leader() {
        std::optional<raft::node_id> leader;
        for (unsigned s = 0; s < size(); ++s) {
            if (!running(s)) continue;
            const auto st = status_of(s);
            if (st.leader == raft::no_node || (leader && *leader != st.leader)) return std::nullopt;
            leader = st.leader;
        }
        if (!leader || !running(static_cast<unsigned>(*leader - 1))) return std::nullopt;
        if (status_of(static_cast<unsigned>(*leader - 1)).role != raft::role::leader)
            return std::nullopt;
        return static_cast<unsigned>(*leader - 1);
    }
    unsigned wait_for_leader(std::chrono::seconds limit = 60s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (auto l = agreed_leader()) return *l;
            std::this_thread::sleep_for(2ms);
        }
        std::fprintf(stderr, "no leader elected within %lld s\n",
                     static_cast<long long>(limit.count()));
        std::exit(2);
    }

    // Encodes the next record of server s's origin (on its shard).
    std::vector<std::byte> next_record(unsigned s, uint64_t& topic_counter) {
        server& v = _servers[s];
        cluster::metadata_record r;
        r.request = {.origin_node = static_cast<int32_t>(s + 1), .sequence = v.next_sequence++};
        if (_o.record == "create_topic") {
            cluster::create_topic_record t;
            const uint64_t n = topic_counter++;
            t.name = fmt::format("bench-{}-{}", _run_id, n);
            const uint64_t halves[2] = {(static_cast<uint64_t>(_run_id) << 32) | 1, n + 1};
            std::memcpy(t.id.bytes.data(), halves, sizeof halves);
            t.partitions = 1;
            t.replication_factor = 1;
            t.assignments = {cluster::replica_list{static_cast<int32_t>(s + 1)}};
            r.body = std::move(t);
        } else {
            // In proposal order each block starts where the previous one ends,
            // so every record applies (none is refused as a lost race).
            r.body = cluster::allocate_producer_ids_record{
                .node_id = static_cast<int32_t>(s + 1), .first = _next_producer_id++, .count = 1};
        }
        return cluster::encode_record(r);
    }
    // Where the next allocation must start: the leader's applied state (call
    // on its shard with nothing in flight).
    void sync_producer_ids(unsigned s) {
        _next_producer_id = _servers[s].machine->machine.state().next_producer_id;
    }
    void set_run_id(uint32_t id) { _run_id = id; }

    static int64_t monotonic() { return tl::perf::monotonic_ns(); }

private:
    const options& _o;
    tl::reactor::smp& _group;
    std::string _root;
    std::vector<server> _servers;
    std::vector<tl::uring::socket_address> _addresses;
    int64_t _next_producer_id = 0;
    uint32_t _run_id = 1;
};

void add_common(tl::perf::json_line& line, const options& o) {
    line.text("tool", "controller_bench").text("mode", o.mode);
    tl::perf::json_line tags;
    for (const auto& kv : o.tags) tags.text(kv.key, kv.value);
    line.field("tags", tags.finish());
    line.integer("voters", o.voters)
        .integer("tick_ms", o.tick_ms)
        .integer("election_ticks", o.election_ticks);
}

// ---- commits -----------------------------------------------------------------

int run_commits(const options& o, bench_cluster& c, tl::perf::result_sink& sink) {
    for (unsigned s = 0; s < c.size(); ++s) c.start(s);
    c.connect_all();
    const unsigned leader = c.wait_for_leader();
    // Every server has the leader's no-op before the clock starts.
    for (unsigned s = 0; s < c.size(); ++s) {
        while (c.status_of(s).applied < c.status_of(leader).commit)
            std::this_thread::sleep_for(2ms);
    }

    struct shared_state {
        std::vector<tl::perf::log_linear_histogram> histograms;
        uint64_t commits = 0, failures = 0;
        uint64_t syncs_leader_begin = 0, syncs_all_begin = 0;
        int64_t measure_begin = 0, measure_end = 0;
        uint64_t topics = 0;
        std::string first_error;
    } st;
    st.histograms.resize(o.clients);
    auto all_syncs = [&] {
        uint64_t n = 0;
        for (unsigned s = 0; s < c.size(); ++s)
            n += c.at(s).syncs.file_syncs.load() + c.at(s).syncs.directory_syncs.load();
        return n;
    };
    auto leader_syncs = [&] {
        return c.at(leader).syncs.file_syncs.load() + c.at(leader).syncs.directory_syncs.load();
    };
    std::atomic<uint64_t> applied_before{0}, applied_after{0};

    c.group().run_on(leader, [&]() -> task<void> {
        c.sync_producer_ids(leader);
        server& v = c.at(leader);
        const int64_t start = bench_cluster::monotonic();
        const int64_t warm_end = start + static_cast<int64_t>(o.warmup_seconds * 1e9);
        const int64_t end = warm_end + static_cast<int64_t>(o.seconds * 1e9);
        st.measure_begin = warm_end;
        unsigned finished = 0;
        bool measuring = false;
        for (unsigned client = 0; client < o.clients; ++client) {
            shard::local().spawn([](bench_cluster& c, shared_state& st, server& v, unsigned leader,
                                    unsigned client, int64_t warm_end, int64_t end,
                                    unsigned& finished) -> task<void> {
                for (;;) {
                    const int64_t begin = bench_cluster::monotonic();
                    if (begin >= end) break;
                    auto data = c.next_record(leader, st.topics);
                    auto done = co_await v.raft->propose(std::move(data), std::chrono::seconds(10));
                    const int64_t now = bench_cluster::monotonic();
                    if (!done) {
                        ++st.failures;
                        if (st.first_error.empty())
                            st.first_error = std::string(raft::to_string(done.error().code));
                        if (done.error().code == raft::errc::not_leader ||
                            done.error().code == raft::errc::stopped)
                            break;
                        continue;
                    }
                    if (begin >= warm_end && now <= end) {
                        st.histograms[client].record(now - begin);
                        ++st.commits;
                    }
                }
                ++finished;
            }(c, st, v, leader, client, warm_end, end, finished));
        }
        // Mark the measured window's fdatasync counters.
        while (finished < o.clients) {
            const int64_t now = bench_cluster::monotonic();
            if (!measuring && now >= warm_end) {
                measuring = true;
                st.syncs_leader_begin = leader_syncs();
                st.syncs_all_begin = all_syncs();
                applied_before = v.raft->get_status().applied;
            }
            if (measuring && st.measure_end == 0 && now >= end) {
                st.measure_end = now;
                st.syncs_leader_begin = leader_syncs() - st.syncs_leader_begin;
                st.syncs_all_begin = all_syncs() - st.syncs_all_begin;
                applied_after = v.raft->get_status().applied;
            }
            co_await v.executor->sleep(1ms);
        }
        if (st.measure_end == 0) {
            st.measure_end = bench_cluster::monotonic();
            st.syncs_leader_begin = leader_syncs() - st.syncs_leader_begin;
            st.syncs_all_begin = all_syncs() - st.syncs_all_begin;
            applied_after = v.raft->get_status().applied;
        }
    });
    // Outcomes: every record must have applied without a refusal.
    const uint64_t refused = c.group().run_on(leader, [&] {
        uint64_t n = 0;
        for (const auto& [id, outcome] : c.at(leader).machine->machine.outcomes())
            if (outcome.error.code != cluster::controller_errc::none) ++n;
        return n;
    });
    const auto driver_stats = c.group().run_on(leader, [&] { return c.at(leader).raft->stats(); });
    c.stop_all();

    tl::perf::log_linear_histogram merged;
    for (const auto& h : st.histograms) merged.merge(h);
    const double window_s = static_cast<double>(st.measure_end - st.measure_begin) / 1e9;
    const double rate = static_cast<double>(st.commits) / window_s;
    const auto lat = tl::perf::summarize_us(merged);
    const uint64_t applied = applied_after - applied_before;
    const double syncs_leader = applied == 0 ? 0 : static_cast<double>(st.syncs_leader_begin) /
                                                     static_cast<double>(applied);
    const double syncs_all = applied == 0 ? 0 : static_cast<double>(st.syncs_all_begin) /
                                                  static_cast<double>(applied);
    std::printf(
        "commits voters=%u clients=%u record=%s: %.0f commits/s over %.2f s; latency us p50 %.0f "
        "p99 %.0f p99.9 %.0f max %.0f mean %.0f; fdatasync/commit leader %.3f all %.3f; "
        "failures %llu refused %llu readies %llu\n",
        o.voters, o.clients, o.record.c_str(), rate, window_s, lat.p50, lat.p99, lat.p99_9,
        lat.max, lat.mean, syncs_leader, syncs_all, static_cast<unsigned long long>(st.failures),
        static_cast<unsigned long long>(refused),
        static_cast<unsigned long long>(driver_stats.readies));
    if (!st.first_error.empty()) std::printf("first error: %s\n", st.first_error.c_str());
    tl::perf::json_line line;
    add_common(line, o);
    line.text("type", "run")
        .integer("clients", o.clients)
        .text("record", o.record)
        .number("seconds", window_s)
        .integer("commits", static_cast<int64_t>(st.commits))
        .number("commits_per_s", rate)
        .field("latency_us", tl::perf::json_latency(lat))
        .integer("fdatasyncs_leader", static_cast<int64_t>(st.syncs_leader_begin))
        .integer("fdatasyncs_all", static_cast<int64_t>(st.syncs_all_begin))
        .integer("entries_applied", static_cast<int64_t>(applied))
        .number("fdatasyncs_per_commit_leader", syncs_leader)
        .number("fdatasyncs_per_commit_all", syncs_all)
        .integer("failures", static_cast<int64_t>(st.failures))
        .integer("refused", static_cast<int64_t>(refused));
    sink.write(line);
    return st.failures == 0 && refused == 0 ? 0 : 1;
}

// ---- election ----------------------------------------------------------------

int run_election(const options& o, bench_cluster& c, tl::perf::result_sink& sink) {
    for (unsigned s = 0; s < c.size(); ++s) c.start(s);
    c.connect_all();
    uint64_t topics = 0;
    std::vector<double> elected_ms, committed_ms;
    int status = 0;
    // One proposal through `leader`, retried on not_leader/dropped until `deadline`.
    auto propose_on = [&](unsigned leader) {
        return c.group().run_on(leader, [&, leader]() -> task<tl::result<raft::index_t, raft::error>> {
            c.sync_producer_ids(leader);
            co_return co_await c.at(leader).raft->propose(c.next_record(leader, topics), 5s);
        });
    };
    for (unsigned round = 1; round <= o.rounds; ++round) {
        const unsigned old_leader = c.wait_for_leader();
        // A commit in the current term, and every server caught up, first.
        while (!propose_on(old_leader)) std::this_thread::sleep_for(5ms);
        for (unsigned s = 0; s < c.size(); ++s) {
            while (c.status_of(s).applied < c.status_of(old_leader).commit)
                std::this_thread::sleep_for(2ms);
        }
        const raft::term_t old_term = c.status_of(old_leader).term;
        std::this_thread::sleep_for(std::chrono::milliseconds(o.tick_ms * 3));  // steady heartbeats

        const int64_t kill = bench_cluster::monotonic();
        c.stop(old_leader, true);
        const int64_t killed = bench_cluster::monotonic();
        std::optional<unsigned> next;
        int64_t elected = 0;
        const int64_t give_up = kill + 60'000'000'000;
        while (!next && bench_cluster::monotonic() < give_up) {
            for (unsigned s = 0; s < c.size(); ++s) {
                if (!c.running(s)) continue;
                const auto st = c.status_of(s);
                if (st.role == raft::role::leader && st.term > old_term) {
                    next = s;
                    elected = bench_cluster::monotonic();
                    break;
                }
            }
            if (!next) std::this_thread::sleep_for(1ms);
        }
        if (!next) {
            std::fprintf(stderr, "round %u: no new leader within 60 s\n", round);
            return 2;
        }
        int64_t committed = 0;
        unsigned attempts = 0;
        while (bench_cluster::monotonic() < give_up) {
            ++attempts;
            auto r = propose_on(*next);
            if (r) {
                committed = bench_cluster::monotonic();
                break;
            }
            std::this_thread::sleep_for(1ms);
            if (auto l = c.agreed_leader()) next = *l;
        }
        if (committed == 0) status = 1;
        const double e_ms = static_cast<double>(elected - kill) / 1e6;
        const double c_ms = committed == 0 ? NAN : static_cast<double>(committed - kill) / 1e6;
        elected_ms.push_back(e_ms);
        if (committed != 0) committed_ms.push_back(c_ms);
        const auto new_term = c.status_of(*next).term;
        std::printf("round %u: killed server %u (term %llu, stop took %.1f ms); server %u leads "
                    "term %llu after %.1f ms; first commit after %.1f ms (%u attempts)\n",
                    round, old_leader + 1, static_cast<unsigned long long>(old_term),
                    static_cast<double>(killed - kill) / 1e6, *next + 1,
                    static_cast<unsigned long long>(new_term), e_ms, c_ms, attempts);
        tl::perf::json_line line;
        add_common(line, o);
        line.text("type", "round")
            .integer("round", round)
            .number("elected_ms", e_ms)
            .number("committed_ms", c_ms)
            .number("stop_ms", static_cast<double>(killed - kill) / 1e6)
            .integer("terms_advanced", static_cast<int64_t>(new_term - old_term));
        sink.write(line);
        // Restart the killed server from its directory, on its old port.
        c.start(old_leader, c.port_of(old_leader));
        c.connect_all();
    }
    c.stop_all();
    const auto e = tl::perf::spread_of(elected_ms);
    const double timeout_min = static_cast<double>(o.tick_ms * o.election_ticks);
    std::printf("election: %zu rounds; new leader after %.1f ms median [%.1f-%.1f]", elected_ms.size(),
                e.median, e.min, e.max);
    tl::perf::json_line line;
    add_common(line, o);
    line.text("type", "summary")
        .integer("rounds", static_cast<int64_t>(elected_ms.size()))
        .field("elected_ms", tl::perf::json_spread(e))
        .number("election_timeout_min_ms", timeout_min)
        .number("election_timeout_max_ms", 2 * timeout_min);
    if (!committed_ms.empty()) {
        const auto cm = tl::perf::spread_of(committed_ms);
        std::printf("; first commit after %.1f ms median [%.1f-%.1f]", cm.median, cm.min, cm.max);
        line.field("committed_ms", tl::perf::json_spread(cm));
    }
    std::printf("; election timeout %.0f-%.0f ms (tick %lld ms x [%u, %u) ticks)\n", timeout_min,
                2 * timeout_min, static_cast<long long>(o.tick_ms), o.election_ticks,
                2 * o.election_ticks);
    sink.write(line);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::error_code ec;
    fs::create_directories(o.data_dir, ec);
    const std::string pattern_text = o.data_dir + "/controller-bench-XXXXXX";
    std::vector<char> pattern(pattern_text.begin(), pattern_text.end());
    pattern.push_back('\0');
    if (::mkdtemp(pattern.data()) == nullptr) {
        std::fprintf(stderr, "mkdtemp %s failed\n", pattern_text.c_str());
        return 2;
    }
    const std::string root = pattern.data();

    tl::reactor::reactor_options reactor_options;
    reactor_options.shard_count = o.voters;
    reactor_options.pinning = tl::reactor::cpu_pinning::floating;
    auto started = tl::reactor::smp::start(reactor_options);
    if (!started) {
        std::fprintf(stderr, "reactor: %s\n", started.error().c_str());
        return 2;
    }
    FILE* out = nullptr;
    if (!o.json_out.empty()) {
        out = std::fopen(o.json_out.c_str(), "a");
        if (out == nullptr) {
            std::fprintf(stderr, "cannot open %s\n", o.json_out.c_str());
            return 2;
        }
    }
    tl::perf::result_sink sink(out);
    int status = 0;
    {
        bench_cluster c(o, **started, root);
        c.set_run_id(static_cast<uint32_t>(bench_cluster::monotonic() & 0x7fffffff));
        status = o.mode == "commits" ? run_commits(o, c, sink) : run_election(o, c, sink);
    }
    started->reset();
    if (!o.keep) fs::remove_all(root, ec);
    return status;
}
