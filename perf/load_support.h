// What the load tools (kafka_load, peer_load) share, so that they measure
// and report alike: the clock, flag parsing helpers, the latency histogram,
// medians and spreads, the JSON lines, payloads and the latency records'
// header. Not product code: it reads the real clock (see bench_support.h).
// Thread safety: none; each object belongs to one thread at a time.
#pragma once

#include "base/json.h"

#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/result.h"

namespace tl::perf {

constexpr int64_t ns_per_s = 1'000'000'000;
constexpr int64_t ns_per_ms = 1'000'000;

inline int64_t monotonic_ns() noexcept {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * ns_per_s + now.tv_nsec;
}

inline void sleep_until_ns(int64_t deadline_ns) noexcept {
    const timespec deadline{static_cast<time_t>(deadline_ns / ns_per_s),
                            static_cast<long>(deadline_ns % ns_per_s)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
    }
}

struct key_value {
    std::string key;
    std::string value;
};

template <typename T>
result<T, std::string> parse_number(std::string_view flag, std::string_view text, T low, T high) {
    T value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
        return failure{
            fmt::format("{}: expected an integer in [{}, {}], got '{}'", flag, low, high, text)};
    }
    return value;
}

inline result<key_value, std::string> parse_key_value(std::string_view flag,
                                                      std::string_view text) {
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) {
        return failure{fmt::format("{}: expected KEY=VALUE, got '{}'", flag, text)};
    }
    return key_value{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

// ---- statistics --------------------------------------------------------------

// Log-linear histogram of non-negative integers (nanoseconds here), in the
// manner of HdrHistogram: values below 256 are exact; above, every power of
// two is split into 128 buckets, so a reported value is at most 1/128
// (0.8 %) above the true one. Fixed size (7,424 counters), no allocation
// while recording.
class log_linear_histogram {
public:
    static constexpr int exact_bits = 8;
    static constexpr int sub_buckets = 128;  // per power of two above 2^exact_bits
    static constexpr size_t bucket_count = (1u << exact_bits) + (64 - exact_bits) * sub_buckets;

    log_linear_histogram() : _counts(bucket_count, 0) {}

    void record(int64_t value) noexcept {
        const uint64_t v = value < 0 ? 0 : static_cast<uint64_t>(value);
        const size_t index = index_of(v);
        TL_ASSERT(index < bucket_count);
        ++_counts[index];
        ++_total;
        _sum += static_cast<double>(v);
        _min = std::min(_min, v);
        _max = std::max(_max, v);
    }

    // Adds every value of `other` (histograms of several threads, after they ended).
    void merge(const log_linear_histogram& other) noexcept {
        for (size_t index = 0; index < bucket_count; ++index)
            _counts[index] += other._counts[index];
        _total += other._total;
        _sum += other._sum;
        _min = std::min(_min, other._min);
        _max = std::max(_max, other._max);
    }

    uint64_t count() const noexcept { return _total; }
    uint64_t min() const noexcept { return _total == 0 ? 0 : _min; }
    uint64_t max() const noexcept { return _max; }
    double mean() const noexcept { return _total == 0 ? 0.0 : _sum / static_cast<double>(_total); }

    // The smallest bucket bound with at least `quantile` of the values at or
    // below it (nearest rank), capped at the exact maximum.
    uint64_t quantile(double quantile) const noexcept {
        if (_total == 0) return 0;
        const auto rank = std::max<uint64_t>(
            1, static_cast<uint64_t>(std::ceil(quantile * static_cast<double>(_total))));
        uint64_t seen = 0;
        for (size_t index = 0; index < bucket_count; ++index) {
            seen += _counts[index];
            if (seen >= rank) return std::min(upper_bound_of(index), _max);
        }
        return _max;
    }

private:
    static size_t index_of(uint64_t v) noexcept {
        if (v < (1u << exact_bits)) return static_cast<size_t>(v);
        const int shift = std::bit_width(v) - exact_bits;  // >= 1; v >> shift in [128, 256)
        const uint64_t mantissa = v >> shift;
        return (1u << exact_bits) + static_cast<size_t>(shift - 1) * sub_buckets +
               static_cast<size_t>(mantissa - sub_buckets);
    }

    static uint64_t upper_bound_of(size_t index) noexcept {
        if (index < (1u << exact_bits)) return index;
        const size_t above = index - (1u << exact_bits);
        const int shift = static_cast<int>(above / sub_buckets) + 1;
        const uint64_t mantissa = sub_buckets + above % sub_buckets;
        return ((mantissa + 1) << shift) - 1;
    }

    std::vector<uint64_t> _counts;
    uint64_t _total = 0;
    double _sum = 0;
    uint64_t _min = UINT64_MAX;
    uint64_t _max = 0;
};

struct latency_summary_us {
    double p50 = 0, p99 = 0, p99_9 = 0, max = 0, mean = 0;
};

inline latency_summary_us summarize_us(const log_linear_histogram& histogram) {
    auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    return {us(histogram.quantile(0.50)), us(histogram.quantile(0.99)),
            us(histogram.quantile(0.999)), us(histogram.max()), histogram.mean() / 1000.0};
}

// Median and spread of one metric over the runs (as perf/summarize.py's stats_of).
struct spread {
    double median = 0, min = 0, max = 0;
};

inline spread spread_of(std::vector<double> samples) {
    TL_ASSERT(!samples.empty());
    std::sort(samples.begin(), samples.end());
    const size_t n = samples.size();
    const double median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
    return {median, samples.front(), samples.back()};
}

// ---- output ------------------------------------------------------------------

inline std::string json_number(double value) {
    return std::isfinite(value) ? fmt::format("{}", value) : "null";  // shortest exact
}

// One JSON object per line: fields are appended in order, then written.
class json_line {
public:
    json_line& field(std::string_view key, std::string_view raw_json) {
        _text += fmt::format("{}{}:{}", _text.size() > 1 ? "," : "", json_string(key), raw_json);
        return *this;
    }
    json_line& text(std::string_view key, std::string_view value) {
        return field(key, json_string(value));
    }
    json_line& number(std::string_view key, double value) { return field(key, json_number(value)); }
    json_line& integer(std::string_view key, int64_t value) {
        return field(key, std::to_string(value));
    }
    std::string finish() const { return _text + "}"; }

private:
    std::string _text = "{";
};

inline std::string json_spread(const spread& s) {
    return fmt::format("{{\"median\":{},\"min\":{},\"max\":{}}}", json_number(s.median),
                       json_number(s.min), json_number(s.max));
}

// A latency mode's summary over its runs: each percentile's spread across the
// runs (`Run` has `latency_ns`, a histogram, and `failures()`).
struct latency_spreads {
    spread p50, p99, p99_9, max;
    int64_t failures = 0;
};

template <typename Run>
latency_spreads latency_spreads_of(const std::vector<std::unique_ptr<Run>>& runs) {
    std::vector<double> p50, p99, p99_9, max;
    latency_spreads out;
    for (const auto& run : runs) {
        const latency_summary_us l = summarize_us(run->latency_ns);
        p50.push_back(l.p50);
        p99.push_back(l.p99);
        p99_9.push_back(l.p99_9);
        max.push_back(l.max);
        out.failures += run->failures();
    }
    out.p50 = spread_of(p50);
    out.p99 = spread_of(p99);
    out.p99_9 = spread_of(p99_9);
    out.max = spread_of(max);
    return out;
}

// The summary line's fields for it.
inline void add_latency_spreads(json_line& line, size_t runs, const latency_spreads& s) {
    line.integer("runs", static_cast<int64_t>(runs))
        .integer("failures", s.failures)
        .field("latency_p50_us", json_spread(s.p50))
        .field("latency_p99_us", json_spread(s.p99))
        .field("latency_p99_9_us", json_spread(s.p99_9))
        .field("latency_max_us", json_spread(s.max));
}

inline std::string json_latency(const latency_summary_us& l) {
    return fmt::format("{{\"p50\":{},\"p99\":{},\"p99_9\":{},\"max\":{},\"mean\":{}}}",
                       json_number(l.p50), json_number(l.p99), json_number(l.p99_9),
                       json_number(l.max), json_number(l.mean));
}

class result_sink {
public:
    explicit result_sink(FILE* file) : _file(file) {}
    result_sink(const result_sink&) = delete;
    result_sink& operator=(const result_sink&) = delete;
    ~result_sink() {
        if (_file != nullptr) std::fclose(_file);
    }

    void write(const json_line& line) {
        if (_file == nullptr) return;
        std::fputs((line.finish() + "\n").c_str(), _file);
        std::fflush(_file);
    }

private:
    FILE* _file;
};

inline std::string human_count(double value) {
    if (value >= 1e6) return fmt::format("{:.2f} M", value / 1e6);
    if (value >= 1e3) return fmt::format("{:.1f} k", value / 1e3);
    return fmt::format("{:.0f}", value);
}

// Random capital letters, as kafka-producer-perf-test sends: some entropy,
// so that compression is not flattered by zeros.
inline std::vector<std::byte> make_payload_pool(size_t bytes) {
    std::vector<std::byte> pool(bytes);
    std::mt19937_64 random(42);
    for (std::byte& b : pool) b = static_cast<std::byte>('A' + random() % 26);
    return pool;
}

// The first bytes of every latency record (native byte order: one process).
struct record_header {
    uint64_t run_id;
    int64_t scheduled_send_ns;  // CLOCK_MONOTONIC
    uint64_t sequence;          // per partition, from 0
    int32_t partition;
    uint32_t unused;
};
static_assert(sizeof(record_header) == 32);

// What the consumer saw of one partition.
struct partition_check {
    std::vector<bool> seen;  // by sequence
    uint64_t highest_plus_one = 0;
};

}  // namespace tl::perf
