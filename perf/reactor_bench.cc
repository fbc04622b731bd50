// perf_reactor: what one cross-shard call costs.
//
// Two shards, pinned to CPUs 0 and 1. Shard 0 calls submit_to(1, fn) where
// fn returns a small value (the id of the shard it ran on, checked).
//
//   cross_shard_round_trip   one call in flight at a time: latency of a full
//                            request -> run on shard 1 -> reply -> resume trip.
//   cross_shard_throughput   `concurrency` coroutines on shard 0 each loop on
//                            submit_to(1, ...): completed calls per second.
//   cross_shard_after_idle   one call after each `gap_us` of silence, longer
//                            than the adaptive idle_spin: what waking a
//                            sleeping shard adds (each call timed alone;
//                            median and p99 per batch).
//
// Each benchmark iteration is one batch of many calls run on shard 0 and
// timed there (manual time), so the run_on() hop from the benchmark thread,
// tens of microseconds, is not measured. Per-call figures are user counters:
// run with --benchmark_repetitions=N --benchmark_report_aggregates_only=true
// for their median, mean, stddev and cv over N runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/task.h"
#include "perf/bench_support.h"
#include "reactor/shard.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"

namespace tl::perf {
namespace {

using reactor::poll_mode;

constexpr unsigned caller_shard = 0;
constexpr unsigned callee_shard = 1;

reactor::reactor_options two_pinned_shards(poll_mode mode) {
    reactor::reactor_options options;
    options.shard_count = 2;
    options.polling = mode;
    options.pinning = reactor::cpu_pinning::pinned;
    return options;
}

// The function each call runs on the callee: returns the shard id, so the
// caller can check where it ran and the compiler cannot drop the call.
constexpr auto report_shard = [] { return uint64_t{reactor::shard::local().id()}; };

// On the caller shard: `calls` round trips, one at a time. Returns elapsed ns.
task<int64_t> round_trips_one_at_a_time(uint64_t calls) {
    uint64_t answered = 0;
    const auto start = bench_clock::now();
    for (uint64_t i = 0; i < calls; ++i) {
        answered += co_await reactor::submit_to(callee_shard, report_shard);
    }
    const int64_t ns = elapsed_ns(start);
    TL_ASSERT(answered == calls * callee_shard, "a call did not run on the callee shard");
    co_return ns;
}

task<void> calling_loop(uint64_t calls, uint64_t& answered, countdown& done) {
    for (uint64_t i = 0; i < calls; ++i) {
        answered += co_await reactor::submit_to(callee_shard, report_shard);
    }
    done.arrive();
}

// On the caller shard: `concurrency` coroutines share `calls` calls between
// them, all in flight together. Returns elapsed ns until the last reply.
task<int64_t> round_trips_concurrent(uint64_t calls, unsigned concurrency) {
    TL_ASSERT(concurrency > 0 && calls % concurrency == 0);
    uint64_t answered = 0;
    countdown done(concurrency);
    const auto start = bench_clock::now();
    for (unsigned i = 0; i < concurrency; ++i) {
        reactor::shard::local().spawn(calling_loop(calls / concurrency, answered, done));
    }
    co_await done.wait();
    const int64_t ns = elapsed_ns(start);
    TL_ASSERT(answered == calls * callee_shard, "a call did not run on the callee shard");
    co_return ns;
}

struct latency_batch {
    double median_ns = 0;
    double p99_ns = 0;
};

// On the caller shard: `calls` calls, each after `gap` of sleep, each timed.
task<latency_batch> round_trips_after_idle(uint64_t calls, duration_ns gap) {
    std::vector<int64_t> latencies_ns;
    latencies_ns.reserve(calls);
    uint64_t answered = 0;
    for (uint64_t i = 0; i < calls; ++i) {
        co_await reactor::sleep_for(gap);
        const auto start = bench_clock::now();
        answered += co_await reactor::submit_to(callee_shard, report_shard);
        latencies_ns.push_back(elapsed_ns(start));
    }
    TL_ASSERT(answered == calls * callee_shard, "a call did not run on the callee shard");
    std::sort(latencies_ns.begin(), latencies_ns.end());
    co_return latency_batch{
        .median_ns = static_cast<double>(latencies_ns[latencies_ns.size() / 2]),
        .p99_ns = static_cast<double>(latencies_ns[latencies_ns.size() * 99 / 100]),
    };
}

void cross_shard_round_trip(benchmark::State& state, poll_mode mode) {
    const auto calls = static_cast<uint64_t>(state.range(0));
    auto group = start_shards(state, two_pinned_shards(mode));
    if (!group) return;
    // Untimed warm-up batch: first-touch of frames and rings, shards awake.
    (void)group->run_on(caller_shard, [=] { return round_trips_one_at_a_time(calls); });

    double ns_per_call_sum = 0;
    double calls_per_second_sum = 0;
    for (auto _ : state) {
        const int64_t ns =
            group->run_on(caller_shard, [=] { return round_trips_one_at_a_time(calls); });
        state.SetIterationTime(static_cast<double>(ns) / 1e9);
        ns_per_call_sum += static_cast<double>(ns) / static_cast<double>(calls);
        calls_per_second_sum += static_cast<double>(calls) * 1e9 / static_cast<double>(ns);
    }
    state.counters["ns_per_round_trip"] = per_iteration_mean(ns_per_call_sum);
    state.counters["round_trips_per_s"] = per_iteration_mean(calls_per_second_sum);
    state.SetLabel(poll_mode_name(mode));
}

void cross_shard_throughput(benchmark::State& state, poll_mode mode) {
    const auto calls = static_cast<uint64_t>(state.range(0));
    const auto concurrency = static_cast<unsigned>(state.range(1));
    auto group = start_shards(state, two_pinned_shards(mode));
    if (!group) return;
    (void)group->run_on(caller_shard,
                        [=] { return round_trips_concurrent(calls, concurrency); });

    double calls_per_second_sum = 0;
    double ns_per_call_sum = 0;
    for (auto _ : state) {
        const int64_t ns = group->run_on(
            caller_shard, [=] { return round_trips_concurrent(calls, concurrency); });
        state.SetIterationTime(static_cast<double>(ns) / 1e9);
        calls_per_second_sum += static_cast<double>(calls) * 1e9 / static_cast<double>(ns);
        ns_per_call_sum += static_cast<double>(ns) / static_cast<double>(calls);
    }
    state.counters["calls_per_s"] = per_iteration_mean(calls_per_second_sum);
    state.counters["ns_per_call"] = per_iteration_mean(ns_per_call_sum);
    state.SetLabel(poll_mode_name(mode));
}

void cross_shard_after_idle(benchmark::State& state, poll_mode mode) {
    const auto calls = static_cast<uint64_t>(state.range(0));
    const duration_ns gap = std::chrono::microseconds(state.range(1));
    auto group = start_shards(state, two_pinned_shards(mode));
    if (!group) return;

    double median_sum = 0;
    double p99_sum = 0;
    for (auto _ : state) {
        const latency_batch batch =
            group->run_on(caller_shard, [=] { return round_trips_after_idle(calls, gap); });
        // The time of one call, as the benchmark's own time column.
        state.SetIterationTime(batch.median_ns / 1e9);
        median_sum += batch.median_ns;
        p99_sum += batch.p99_ns;
    }
    state.counters["median_ns"] = per_iteration_mean(median_sum);
    state.counters["p99_ns"] = per_iteration_mean(p99_sum);
    state.SetLabel(poll_mode_name(mode));
}

// Calls per timed batch and batches per run: a batch is a few milliseconds,
// long enough to dwarf the clock reads, short enough for many samples.
constexpr int64_t round_trips_per_batch = 10'000;
constexpr int64_t round_trip_batches = 20;
constexpr int64_t concurrent_calls_per_batch = 102'400;
constexpr int64_t concurrent_batches = 10;
// Longer than reactor_options::idle_spin (50 us): the callee is asleep.
constexpr int64_t idle_gap_us = 200;
constexpr int64_t after_idle_calls_per_batch = 500;
constexpr int64_t after_idle_batches = 4;

void register_all() {
    for (poll_mode mode : {poll_mode::busy, poll_mode::adaptive}) {
        const std::string suffix = std::string("/") + poll_mode_name(mode);
        benchmark::RegisterBenchmark(("cross_shard_round_trip" + suffix).c_str(),
                                     cross_shard_round_trip, mode)
            ->ArgNames({"calls"})
            ->Arg(round_trips_per_batch)
            ->Iterations(round_trip_batches)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("cross_shard_throughput" + suffix).c_str(),
                                     cross_shard_throughput, mode)
            ->ArgNames({"calls", "concurrency"})
            ->Args({concurrent_calls_per_batch, 64})
            ->Args({concurrent_calls_per_batch, 256})
            ->Iterations(concurrent_batches)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("cross_shard_after_idle" + suffix).c_str(),
                                     cross_shard_after_idle, mode)
            ->ArgNames({"calls", "gap_us"})
            ->Args({after_idle_calls_per_batch, idle_gap_us})
            ->Iterations(after_idle_batches)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace
}  // namespace tl::perf

int main(int argc, char** argv) {
    tl::perf::register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
