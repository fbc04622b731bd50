// perf_uring_write: sequential O_DIRECT write bandwidth through our stack.
//
// One shard (pinned to CPU 0) writes a whole file with file::write_at() from
// a registered_buffer_pool (IORING_OP_WRITE_FIXED), `qd` coroutines keeping
// `qd` writes in flight; each takes the next block offset when its previous
// write completes, as fio's io_uring engine does. The run ends with an
// fdatasync, included in the timing.
//
// The file starts every run in the same state as fio's does in perf/run.sh:
// unlinked (then syncfs, so that the discards of the old blocks are not
// running during the timed part), created and preallocated with fallocate(0)
// (unwritten extents, size set), all before the clock starts. Timed: first
// write submitted -> fdatasync completed.
//
// Options (before the Google Benchmark flags):
//   --file=PATH       file to write (env TIDELOG_PERF_FILE;
//                     default /var/tmp/tidelog-perf/uring_write.dat). Must be
//                     on a file system that does O_DIRECT (not tmpfs).
//   --file_mib=N      bytes per run in MiB (env TIDELOG_PERF_FILE_MIB; 1024).
//   --idle_spin_us=N  reactor_options::idle_spin for poll_mode::adaptive
//                     (default: the reactor's default).
//   --floating        do not pin the shard (default: pinned to CPU 0).
// The last two exist to investigate the reactor's idle path; perf/run.sh
// uses the defaults.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/task.h"
#include "perf/bench_support.h"
#include "reactor/shard.h"
#include "reactor/smp.h"
#include "uring/buffer_pool.h"
#include "uring/file.h"

namespace tl::perf {
namespace {

using reactor::poll_mode;

constexpr uint64_t mib = uint64_t{1} << 20;
constexpr uint64_t max_file_mib = 64 * 1024;
constexpr unsigned max_queue_depth = 256;

struct write_target {
    std::string path = "/var/tmp/tidelog-perf/uring_write.dat";
    uint64_t file_bytes = 1024 * mib;
    std::optional<duration_ns> idle_spin;
    reactor::cpu_pinning pinning = reactor::cpu_pinning::pinned;
};
write_target target;  // set once by main() before any benchmark runs

struct write_run {
    int64_t elapsed_ns = 0;
    std::string error;  // empty on success
    uint64_t sleeps = 0;  // times the shard slept in io_uring during the timed part
};

// Shared by the writers of one run; lives in write_file_once's frame.
struct write_cursor {
    uint64_t next_offset = 0;
    uint64_t end_offset = 0;
    std::string error;
};

task<void> writing_loop(uring::file& file, uring::fixed_buffer buffer, write_cursor& cursor,
                        countdown& done) {
    while (cursor.error.empty() && cursor.next_offset < cursor.end_offset) {
        const uint64_t offset = cursor.next_offset;
        cursor.next_offset += buffer.bytes.size();
        auto written = co_await file.write_at(offset, buffer);
        if (!written) cursor.error = "write: " + written.error().message();
    }
    done.arrive();
}

// On the shard: create + preallocate (untimed), then write the whole file
// with `queue_depth` writes in flight and fdatasync (timed).
task<write_run> write_file_once(std::string path, uint64_t file_bytes, unsigned queue_depth,
                                uring::registered_buffer_pool& pool) {
    uring::ring& ring = reactor::shard::local().io();
    auto opened = co_await uring::file::open(
        ring, path, uring::open_options{.mode = uring::open_mode::create_read_write});
    if (!opened) co_return write_run{0, "open " + path + ": " + opened.error().message()};
    uring::file file = std::move(*opened);
    if (!file.direct()) co_return write_run{0, path + ": the file system refused O_DIRECT"};
    auto allocated = co_await file.allocate(0, file_bytes);
    if (!allocated) co_return write_run{0, "fallocate: " + allocated.error().message()};

    std::vector<uring::fixed_buffer> buffers;
    for (unsigned i = 0; i < queue_depth; ++i) {
        auto buffer = pool.try_acquire();
        TL_ASSERT(buffer.has_value(), "pool sized for the queue depth");
        std::memset(buffer->bytes.data(), 0x5a + static_cast<int>(i), buffer->bytes.size());
        buffers.push_back(*buffer);
    }

    write_cursor cursor{.next_offset = 0, .end_offset = file_bytes, .error = {}};
    countdown done(queue_depth);
    const uint64_t sleeps_before = reactor::shard::local().stats().sleeps;
    const auto start = bench_clock::now();
    for (auto buffer : buffers) {
        reactor::shard::local().spawn(writing_loop(file, buffer, cursor, done));
    }
    co_await done.wait();
    auto synced = co_await file.sync(uring::sync_kind::data_only);
    const int64_t ns = elapsed_ns(start);
    const uint64_t sleeps = reactor::shard::local().stats().sleeps - sleeps_before;

    for (auto buffer : buffers) pool.release(buffer);
    auto closed = co_await file.close();
    if (!cursor.error.empty()) co_return write_run{0, cursor.error};
    if (!synced) co_return write_run{0, "fdatasync: " + synced.error().message()};
    if (!closed) co_return write_run{0, "close: " + closed.error().message()};
    co_return write_run{ns, {}, sleeps};
}

// On the benchmark thread, between runs: drop the previous file and wait for
// its blocks to be released (discard) before the next timed run.
std::string remove_previous_file(const std::string& path) {
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return "unlink " + path + ": " + std::strerror(errno);
    }
    const int directory =
        ::open(std::filesystem::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
    if (directory < 0) return "open directory of " + path + ": " + std::strerror(errno);
    const int synced = ::syncfs(directory);
    ::close(directory);
    if (synced != 0) return std::string("syncfs: ") + std::strerror(errno);
    return {};
}

void uring_write(benchmark::State& state, poll_mode mode) {
    const uint64_t block_bytes = static_cast<uint64_t>(state.range(0)) * 1024;
    const auto queue_depth = static_cast<unsigned>(state.range(1));
    TL_ASSERT(queue_depth > 0 && queue_depth <= max_queue_depth);
    TL_ASSERT(block_bytes % direct_io_alignment == 0 && target.file_bytes % block_bytes == 0);

    reactor::reactor_options options;
    options.shard_count = 1;
    options.polling = mode;
    options.pinning = target.pinning;
    if (target.idle_spin) options.idle_spin = *target.idle_spin;
    auto group = start_shards(state, options);
    if (!group) return;
    auto pool = group->run_on(0, [&] {
        return uring::registered_buffer_pool::create(reactor::shard::local().io(), block_bytes,
                                                     queue_depth);
    });
    if (!pool) {
        state.SkipWithError(("registered_buffer_pool: " + pool.error().message()).c_str());
        return;
    }

    double bytes_per_second_sum = 0;
    double sleeps_per_write_sum = 0;
    for (auto _ : state) {
        if (auto error = remove_previous_file(target.path); !error.empty()) {
            state.SkipWithError(error.c_str());
            break;
        }
        const write_run run = group->run_on(0, [&] {
            return write_file_once(target.path, target.file_bytes, queue_depth, **pool);
        });
        if (!run.error.empty()) {
            state.SkipWithError(run.error.c_str());
            break;
        }
        state.SetIterationTime(static_cast<double>(run.elapsed_ns) / 1e9);
        bytes_per_second_sum +=
            static_cast<double>(target.file_bytes) * 1e9 / static_cast<double>(run.elapsed_ns);
        const double writes = static_cast<double>(target.file_bytes / block_bytes);
        sleeps_per_write_sum += static_cast<double>(run.sleeps) / writes;
    }
    // The pool belongs to shard 0: free it there.
    group->run_on(0, [&] { pool->reset(); });
    (void)::unlink(target.path.c_str());

    state.counters["write_bytes_per_s"] = per_iteration_mean(bytes_per_second_sum);
    state.counters["file_bytes"] = static_cast<double>(target.file_bytes);
    // How often the shard went to sleep (adaptive polling) per write issued.
    state.counters["sleeps_per_write"] = per_iteration_mean(sleeps_per_write_sum);
    state.SetLabel(poll_mode_name(mode));
}

void register_all() {
    for (poll_mode mode : {poll_mode::adaptive, poll_mode::busy}) {
        benchmark::RegisterBenchmark(
            (std::string("uring_write/") + poll_mode_name(mode)).c_str(), uring_write, mode)
            ->ArgNames({"bs_kib", "qd"})
            ->ArgsProduct({{64, 1024}, {1, 16, 32}})
            // One whole file per iteration; spread comes from repetitions.
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
}

// Takes our own options out of argv (Google Benchmark rejects unknown ones).
bool parse_options(int& argc, char** argv) {
    if (const char* path = std::getenv("TIDELOG_PERF_FILE"); path && *path) target.path = path;
    std::string size_mib;
    if (const char* value = std::getenv("TIDELOG_PERF_FILE_MIB"); value && *value) {
        size_mib = value;
    }
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.starts_with("--file=")) {
            target.path = std::string(arg.substr(7));
        } else if (arg.starts_with("--file_mib=")) {
            size_mib = std::string(arg.substr(11));
        } else if (arg.starts_with("--idle_spin_us=")) {
            target.idle_spin = std::chrono::microseconds(std::atoll(argv[i] + 15));
        } else if (arg == "--floating") {
            target.pinning = reactor::cpu_pinning::floating;
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    if (!size_mib.empty()) {
        char* end = nullptr;
        const unsigned long long value = std::strtoull(size_mib.c_str(), &end, 10);
        if (end == size_mib.c_str() || *end != '\0' || value == 0 || value > max_file_mib) {
            std::fprintf(stderr, "--file_mib must be 1..%llu\n",
                         static_cast<unsigned long long>(max_file_mib));
            return false;
        }
        target.file_bytes = value * mib;
    }
    if (target.path.empty() || target.path.starts_with("/dev/shm")) {
        std::fprintf(stderr, "--file must be on a disk file system (not tmpfs)\n");
        return false;
    }
    return true;
}

}  // namespace
}  // namespace tl::perf

int main(int argc, char** argv) {
    if (!tl::perf::parse_options(argc, argv)) return 2;
    tl::perf::register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("file", tl::perf::target.path);
    benchmark::AddCustomContext("file_mib",
                                std::to_string(tl::perf::target.file_bytes / tl::perf::mib));
    if (tl::perf::target.idle_spin) {
        benchmark::AddCustomContext("idle_spin_ns",
                                    std::to_string(tl::perf::target.idle_spin->count()));
    }
    if (tl::perf::target.pinning == tl::reactor::cpu_pinning::floating) {
        benchmark::AddCustomContext("pinning", "floating");
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
