// Memory copy bandwidth of this machine: the ceiling under every figure that
// moves bytes through user space (a broker copying a record from a socket
// buffer into a batch, a client filling a payload). perf/peers.sh measures it
// in the same run as the brokers it compares, next to fio and iperf3.
//
// Each of --threads threads owns a source and a destination of --mib MiB
// (page-aligned, touched before the clock starts) and memcpy()s the one into
// the other until --seconds have passed; the figure is bytes copied (counted
// once, as glibc's and most tools' "copy bandwidth") over the wall time from
// the common start to the last thread's end. Buffers larger than the last-level
// cache measure DRAM; the default 256 MiB does. Repeated --runs times; one JSON
// object per run and a summary (median [min-max]) per thread count on stdout.
//
// A measurement tool: it reads the real clock and may exit.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"

namespace tl::perf {
namespace {

constexpr int64_t ns_per_s = 1'000'000'000;
constexpr int64_t max_threads = 64;
constexpr int64_t max_mib = 16 * 1024;
constexpr int64_t max_runs = 100;
constexpr int64_t max_seconds = 600;
constexpr size_t page_bytes = 4096;

int64_t monotonic_ns() noexcept {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * ns_per_s + now.tv_nsec;
}

struct copy_options {
    std::vector<int64_t> threads{1, 2};
    int64_t mib = 256;
    int64_t seconds = 2;
    int64_t runs = 3;
};

constexpr std::string_view usage_text =
    "usage: memcpy_bandwidth [--threads 1,2] [--mib 256] [--seconds 2] [--runs 3]\n"
    "  one JSON object per run and per thread count on stdout (bytes_per_s)\n";

[[noreturn]] void usage(std::string_view message) {
    std::fprintf(stderr, "memcpy_bandwidth: %.*s\n%.*s", static_cast<int>(message.size()),
                 message.data(), static_cast<int>(usage_text.size()), usage_text.data());
    std::exit(2);
}

int64_t parse_integer(std::string_view flag, std::string_view text, int64_t low, int64_t high) {
    int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
        usage(fmt::format("{}: expected an integer in [{}, {}], got '{}'", flag, low, high, text));
    }
    return value;
}

copy_options parse_options(int argc, char** argv) {
    copy_options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") usage("");
        if (i + 1 >= argc) usage(fmt::format("{} needs a value", flag));
        const std::string_view value = argv[++i];
        if (flag == "--threads") {
            options.threads.clear();
            for (std::string_view rest = value; !rest.empty();) {
                const size_t comma = rest.find(',');
                options.threads.push_back(
                    parse_integer(flag, rest.substr(0, comma), 1, max_threads));
                rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
            }
        } else if (flag == "--mib") {
            options.mib = parse_integer(flag, value, 1, max_mib);
        } else if (flag == "--seconds") {
            options.seconds = parse_integer(flag, value, 1, max_seconds);
        } else if (flag == "--runs") {
            options.runs = parse_integer(flag, value, 1, max_runs);
        } else {
            usage(fmt::format("unknown flag {}", flag));
        }
    }
    if (options.threads.empty()) usage("--threads: at least one count");
    return options;
}

struct page_deleter {
    void operator()(std::byte* bytes) const noexcept { std::free(bytes); }
};
using page_buffer = std::unique_ptr<std::byte, page_deleter>;

page_buffer touched_buffer(size_t bytes, int fill) {
    auto* raw = static_cast<std::byte*>(std::aligned_alloc(page_bytes, bytes));
    TL_ASSERT(raw != nullptr, "out of memory for a copy buffer");
    std::memset(raw, fill, bytes);  // fault every page in before the clock starts
    return page_buffer(raw);
}

// One run with `thread_count` threads: bytes copied per second, all threads.
double run_once(int64_t thread_count, const copy_options& options) {
    const size_t bytes = static_cast<size_t>(options.mib) << 20;
    std::vector<page_buffer> sources, destinations;
    for (int64_t t = 0; t < thread_count; ++t) {
        sources.push_back(touched_buffer(bytes, 0x5a));
        destinations.push_back(touched_buffer(bytes, 0));
    }
    std::atomic<int64_t> ready{0};
    std::atomic<bool> go{false};
    std::vector<int64_t> copied(static_cast<size_t>(thread_count), 0);
    const int64_t duration_ns = options.seconds * ns_per_s;
    int64_t start_ns = 0;
    std::vector<std::thread> workers;
    for (int64_t t = 0; t < thread_count; ++t) {
        workers.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) {
            }
            const int64_t deadline_ns = start_ns + duration_ns;
            int64_t total = 0;
            do {
                std::memcpy(destinations[t].get(), sources[t].get(), bytes);
                total += static_cast<int64_t>(bytes);
            } while (monotonic_ns() < deadline_ns);
            copied[static_cast<size_t>(t)] = total;
        });
    }
    while (ready.load() < thread_count) {
    }
    start_ns = monotonic_ns();
    go.store(true, std::memory_order_release);
    for (std::thread& worker : workers) worker.join();
    const int64_t elapsed_ns = monotonic_ns() - start_ns;
    int64_t total = 0;
    for (int64_t c : copied) total += c;
    // The copy must not be optimised away: read one byte of every destination.
    for (const page_buffer& destination : destinations) {
        TL_ASSERT(destination.get()[bytes - 1] == std::byte{0x5a}, "copy did not happen");
    }
    return static_cast<double>(total) * ns_per_s / static_cast<double>(elapsed_ns);
}

int run(const copy_options& options) {
    for (int64_t thread_count : options.threads) {
        std::vector<double> samples;
        for (int64_t r = 1; r <= options.runs; ++r) {
            const double bytes_per_s = run_once(thread_count, options);
            samples.push_back(bytes_per_s);
            std::printf("{\"tool\":\"memcpy_bandwidth\",\"type\":\"run\",\"threads\":%lld,"
                        "\"mib\":%lld,\"run\":%lld,\"bytes_per_s\":%.0f}\n",
                        static_cast<long long>(thread_count), static_cast<long long>(options.mib),
                        static_cast<long long>(r), bytes_per_s);
            std::fflush(stdout);
        }
        std::sort(samples.begin(), samples.end());
        const size_t n = samples.size();
        const double median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
        std::printf("{\"tool\":\"memcpy_bandwidth\",\"type\":\"summary\",\"threads\":%lld,"
                    "\"mib\":%lld,\"runs\":%zu,\"bytes_per_s\":{\"median\":%.0f,\"min\":%.0f,"
                    "\"max\":%.0f}}\n",
                    static_cast<long long>(thread_count), static_cast<long long>(options.mib), n,
                    median, samples.front(), samples.back());
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace
}  // namespace tl::perf

int main(int argc, char** argv) {
    return tl::perf::run(tl::perf::parse_options(argc, argv));
}
