// Storage engine benchmarks (Google Benchmark, manual time, one shard):
//
//   append/<record bytes>/<batch KiB>/<flush mode>/<appenders>
//       appends --append_mib of batches through partition_log on io_uring
//       (O_DIRECT, registered buffers) with that many concurrent appenders,
//       timed from the first append to the last acknowledgement. Counters:
//       bytes/s, records/s, fdatasyncs/s, appends per fdatasync.
//   read/<source>   reads a filled log sequentially, 1 MiB per read, from the
//       shard's cache (source 0) or from disk (source 1, the cache disabled).
//   recovery/<active fill %>  opens a log of --recovery_gib full segments plus
//       an active segment filled that far, after a simulated crash (no
//       clean-shutdown marker, the active segment's indexes gone, its last
//       batch torn): the time to recover, which scans the active segment.
//
// perf/run.sh runs this next to fio on the same file system. Benchmarks
// never assert a time.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "bench_support.h"
#include "reactor/shard_executor.h"
#include "storage/partition_log.h"

namespace tl::perf {
namespace {

namespace fs = std::filesystem;
using storage::flush_mode;
using storage::partition_log;

int64_t append_mib = 512;
int64_t recovery_gib = 10;
std::string bench_dir = "/var/tmp/tidelog-perf";

std::string fresh_directory(const std::string& name) {
    const std::string path = bench_dir + "/" + name;
    fs::remove_all(path);
    fs::create_directories(bench_dir);
    return path;
}

std::vector<std::byte> make_batch(size_t record_bytes, size_t batch_bytes, int32_t* records) {
    storage::record_batch_builder builder;
    const std::string value(record_bytes, 'v');
    size_t size = storage::batch_header_size_bytes;
    int32_t count = 0;
    while (size + record_bytes + 16 <= batch_bytes || count == 0) {
        builder.add_record(1'700'000'000'000 + count, "", value);
        size += record_bytes + 16;
        ++count;
    }
    *records = count;
    return builder.build();
}

storage::log_config bench_config(flush_mode mode) {
    storage::log_config config;
    config.flush = mode;
    config.min_free_bytes = 0;
    config.retention_check_interval = std::chrono::milliseconds(0);
    return config;
}

struct append_run {
    int64_t elapsed_ns = 0;
    uint64_t bytes = 0;
    uint64_t records = 0;
    uint64_t syncs = 0;
    uint64_t appends = 0;
    std::string error;
};

// Stamps an idempotent producer's fields (or none: producer id -1) and the
// CRC, as a client does for each batch it sends: both variants of the append
// benchmark pay the same CRC, so they differ only by the producer-state check.
void stamp_batch(std::vector<std::byte>& batch, int64_t producer_id, int32_t sequence) {
    auto put = [&](size_t at, uint64_t value, size_t bytes) {
        for (size_t i = 0; i < bytes; ++i) {
            batch[at + i] = static_cast<std::byte>((value >> (8 * (bytes - 1 - i))) & 0xff);
        }
    };
    const bool idempotent = producer_id >= 0;
    put(storage::batch_field::producer_id, static_cast<uint64_t>(producer_id), 8);
    put(storage::batch_field::producer_epoch, idempotent ? 0 : 0xffff, 2);
    put(storage::batch_field::base_sequence,
        idempotent ? static_cast<uint32_t>(sequence) : 0xffffffffu, 4);
    storage::recompute_crc(batch);
}

task<append_run> run_appends(std::string directory, flush_mode mode, size_t record_bytes,
                             size_t batch_bytes, int appenders, bool idempotent = false) {
    reactor::shard_executor executor;
    auto& ring = reactor::shard::local().io();
    auto pool = uring::registered_buffer_pool::create(ring, 4 << 20, 8);
    if (!pool) co_return append_run{.error = pool.error().message()};
    storage::uring_disk disk(ring, pool->get());
    auto opened = co_await partition_log::open(disk, executor, directory, bench_config(mode));
    if (!opened) co_return append_run{.error = opened.error().message()};
    auto& log = **opened;
    int32_t records_per_batch = 0;
    const auto batch = make_batch(record_bytes, batch_bytes, &records_per_batch);
    const uint64_t total_batches =
        std::max<uint64_t>(1, (static_cast<uint64_t>(append_mib) << 20) / batch.size());

    uint64_t issued = 0;
    countdown done(static_cast<size_t>(appenders));
    std::string error;
    auto appender = [&](int64_t producer_id) -> task<void> {
        std::vector<std::byte> mine = batch;
        int32_t sequence = 0;
        while (issued < total_batches && error.empty()) {
            ++issued;
            stamp_batch(mine, idempotent ? producer_id : -1, sequence);
            sequence += records_per_batch;
            auto appended = co_await log.append(mine);
            if (!appended) error = appended.error().message();
        }
        done.arrive();
    };
    const auto start = bench_clock::now();
    for (int a = 0; a < appenders; ++a) executor.spawn(appender(1000 + a));
    co_await done.wait();
    append_run run;
    run.elapsed_ns = elapsed_ns(start);
    run.bytes = total_batches * batch.size();
    run.records = total_batches * static_cast<uint64_t>(records_per_batch);
    run.syncs = log.stats().syncs;
    run.appends = log.stats().appends_acknowledged;
    run.error = error;
    co_await log.close();
    co_return run;
}

void bm_append(benchmark::State& state) {
    const auto record_bytes = static_cast<size_t>(state.range(0));
    const auto batch_bytes = static_cast<size_t>(state.range(1)) * 1024;
    const auto mode = static_cast<flush_mode>(state.range(2));
    const auto appenders = static_cast<int>(state.range(3));
    // append_idempotence: each appender an idempotent producer (1) or not (0).
    const bool idempotent = state.range(4) == 1;
    reactor::reactor_options options;
    options.polling = reactor::poll_mode::adaptive;
    auto group = start_shards(state, options);
    if (!group) return;
    double bytes_per_s = 0;
    double records_per_s = 0;
    double syncs_per_s = 0;
    double appends_per_sync = 0;
    for (auto _ : state) {
        const std::string directory = fresh_directory("append");
        const append_run run = group->run_on(0, [&] {
            return run_appends(directory, mode, record_bytes, batch_bytes, appenders, idempotent);
        });
        if (!run.error.empty()) {
            state.SkipWithError(run.error.c_str());
            return;
        }
        const double seconds = static_cast<double>(run.elapsed_ns) / 1e9;
        state.SetIterationTime(seconds);
        bytes_per_s += static_cast<double>(run.bytes) / seconds;
        records_per_s += static_cast<double>(run.records) / seconds;
        syncs_per_s += static_cast<double>(run.syncs) / seconds;
        appends_per_sync += run.syncs ? static_cast<double>(run.appends) / run.syncs : 0;
        fs::remove_all(directory);
    }
    state.counters["bytes_per_s"] = per_iteration_mean(bytes_per_s);
    state.counters["records_per_s"] = per_iteration_mean(records_per_s);
    state.counters["fdatasyncs_per_s"] = per_iteration_mean(syncs_per_s);
    state.counters["appends_per_fdatasync"] = per_iteration_mean(appends_per_sync);
    const char* names[] = {"group", "interval", "none"};
    std::string label = names[state.range(2)];
    if (state.range(4) >= 0) label += state.range(4) == 1 ? " idempotent" : " plain";
    state.SetLabel(label);
}

struct read_run {
    int64_t elapsed_ns = 0;
    uint64_t bytes = 0;
    std::string error;
};

task<read_run> run_reads(std::string directory, bool from_disk) {
    reactor::shard_executor executor;
    auto& ring = reactor::shard::local().io();
    storage::uring_disk disk(ring);
    auto config = bench_config(flush_mode::none);
    const uint64_t fill_bytes = static_cast<uint64_t>(std::min<int64_t>(append_mib, 256)) << 20;
    config.cache_bytes = from_disk ? 0 : fill_bytes + (64 << 20);
    auto opened = co_await partition_log::open(disk, executor, directory, config);
    if (!opened) co_return read_run{.error = opened.error().message()};
    auto& log = **opened;
    int32_t records = 0;
    const auto batch = make_batch(1024, 256 * 1024, &records);
    for (uint64_t written = 0; written < fill_bytes; written += batch.size()) {
        auto appended = co_await log.append(batch);
        if (!appended) co_return read_run{.error = appended.error().message()};
    }
    read_run run;
    const auto start = bench_clock::now();
    int64_t offset = 0;
    while (offset < log.high_watermark()) {
        auto read = co_await log.read({.start_offset = offset, .max_bytes = 1 << 20});
        if (!read) co_return read_run{.error = read.error().message()};
        run.bytes += read->batches.size();
        // Step over what came back.
        std::span<const std::byte> rest(read->batches);
        while (!rest.empty()) {
            auto header = storage::read_batch_header(rest);
            offset = header->last_offset() + 1;
            rest = rest.subspan(header->size_bytes());
        }
    }
    run.elapsed_ns = elapsed_ns(start);
    co_await log.close();
    co_return run;
}

void bm_read(benchmark::State& state) {
    const bool from_disk = state.range(0) == 1;
    reactor::reactor_options options;
    auto group = start_shards(state, options);
    if (!group) return;
    double bytes_per_s = 0;
    for (auto _ : state) {
        const std::string directory = fresh_directory("read");
        const read_run run = group->run_on(0, [&] { return run_reads(directory, from_disk); });
        if (!run.error.empty()) {
            state.SkipWithError(run.error.c_str());
            return;
        }
        const double seconds = static_cast<double>(run.elapsed_ns) / 1e9;
        state.SetIterationTime(seconds);
        bytes_per_s += static_cast<double>(run.bytes) / seconds;
        fs::remove_all(directory);
    }
    state.counters["bytes_per_s"] = per_iteration_mean(bytes_per_s);
    state.SetLabel(from_disk ? "disk" : "cache");
}

// Writes the log once (untimed), then times recovery after a simulated crash.
task<std::string> fill_for_recovery(std::string directory, uint64_t bytes) {
    reactor::shard_executor executor;
    auto& ring = reactor::shard::local().io();
    auto pool = uring::registered_buffer_pool::create(ring, 4 << 20, 8);
    storage::uring_disk disk(ring, pool ? pool->get() : nullptr);
    auto opened = co_await partition_log::open(disk, executor, directory,
                                               bench_config(flush_mode::none));
    if (!opened) co_return opened.error().message();
    auto& log = **opened;
    int32_t records = 0;
    const auto batch = make_batch(1024, 1 << 20, &records);
    countdown done(4);
    uint64_t issued = 0;
    std::string error;
    auto appender = [&]() -> task<void> {
        while (issued < bytes / batch.size() && error.empty()) {
            ++issued;
            auto appended = co_await log.append(batch);
            if (!appended) error = appended.error().message();
        }
        done.arrive();
    };
    for (int a = 0; a < 4; ++a) executor.spawn(appender());
    co_await done.wait();
    co_await log.close();
    co_return error;
}

void make_it_a_crash(const std::string& directory) {
    // What a crash leaves: no clean-shutdown marker, no index files for the
    // active segment, and a torn last batch.
    fs::remove(directory + "/clean-shutdown");
    std::string last;
    for (const auto& entry : fs::directory_iterator(directory)) {
        if (entry.path().extension() == ".log" && entry.path().string() > last) {
            last = entry.path().string();
        }
    }
    const std::string stem = last.substr(0, last.size() - 4);
    fs::remove(stem + ".index");
    fs::remove(stem + ".timeindex");
    fs::resize_file(last, fs::file_size(last) - 1000);
}

task<std::pair<int64_t, std::string>> time_recovery(std::string directory) {
    reactor::shard_executor executor;
    storage::uring_disk disk(reactor::shard::local().io());
    const auto start = bench_clock::now();
    auto opened = co_await partition_log::open(disk, executor, directory,
                                               bench_config(flush_mode::group));
    const int64_t elapsed = elapsed_ns(start);
    if (!opened) co_return std::pair{elapsed, opened.error().message()};
    if (!(*opened)->recovery().tail_error) co_return std::pair{elapsed, std::string("no torn tail")};
    co_await (*opened)->close();
    co_return std::pair{elapsed, std::string()};
}

void bm_recovery(benchmark::State& state) {
    // recovery_gib of full segments, plus an active segment filled to
    // state.range(0) percent of segment.bytes (1 GiB): its scan is the cost.
    const uint64_t segment_bytes = storage::log_config{}.segment_bytes;
    const uint64_t bytes = (static_cast<uint64_t>(recovery_gib) << 30) +
                           segment_bytes * static_cast<uint64_t>(state.range(0)) / 100;
    reactor::reactor_options options;
    auto group = start_shards(state, options);
    if (!group) return;
    const std::string directory = fresh_directory("recovery");
    const std::string filled = group->run_on(0, [&] { return fill_for_recovery(directory, bytes); });
    if (!filled.empty()) {
        state.SkipWithError(filled.c_str());
        return;
    }
    for (auto _ : state) {
        make_it_a_crash(directory);
        const auto [elapsed, error] = group->run_on(0, [&] { return time_recovery(directory); });
        if (!error.empty()) {
            state.SkipWithError(error.c_str());
            return;
        }
        state.SetIterationTime(static_cast<double>(elapsed) / 1e9);
    }
    state.counters["log_bytes"] = static_cast<double>(bytes);
    state.counters["active_segment_fill_pct"] = static_cast<double>(state.range(0));
    fs::remove_all(directory);
}

void register_benchmarks() {
    // record bytes, batch KiB, flush mode (0 group, 1 interval, 2 none), appenders,
    // idempotent (-1: plain batches as they are built, 0/1: see append_idempotence)
    auto* append = benchmark::RegisterBenchmark("append", bm_append);
    for (int64_t record : {100, 1024}) {
        for (int64_t batch_kib : {16, 64, 256, 1024}) {
            // The last argument -1: not the idempotence comparison.
            for (int64_t mode : {0, 1, 2}) append->Args({record, batch_kib, mode, 8, -1});
            append->Args({record, batch_kib, 0, 32, -1});  // group commit with more producers
        }
    }
    append->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    // The producer-state check's cost: the same appends as plain batches and as
    // idempotent producers' batches (8 producers; both stamp and CRC each
    // batch as a client would). Small batches show a per-batch cost most.
    auto* idempotence = benchmark::RegisterBenchmark("append_idempotence", bm_append);
    for (int64_t record : {100, 1024}) {
        for (int64_t batch_kib : {16, 256}) {
            for (int64_t mode : {0, 2}) {
                for (int64_t idempotent : {0, 1}) {
                    idempotence->Args({record, batch_kib, mode, 8, idempotent});
                }
            }
        }
    }
    idempotence->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(3)
        ->Iterations(1);
    benchmark::RegisterBenchmark("read", bm_read)
        ->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    benchmark::RegisterBenchmark("recovery", bm_recovery)
        ->Arg(1)->Arg(50)->Arg(95)
        ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
}

}  // namespace
}  // namespace tl::perf

int main(int argc, char** argv) {
    // Our flags first: --append_mib=N --recovery_gib=N --dir=PATH.
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.starts_with("--append_mib=")) {
            tl::perf::append_mib = std::stoll(arg.substr(13));
        } else if (arg.starts_with("--recovery_gib=")) {
            tl::perf::recovery_gib = std::stoll(arg.substr(15));
        } else if (arg.starts_with("--dir=")) {
            tl::perf::bench_dir = arg.substr(6);
        } else {
            rest.push_back(argv[i]);
        }
    }
    int count = static_cast<int>(rest.size());
    benchmark::Initialize(&count, rest.data());
    tl::perf::register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
