// Proves the metrics core (src/metrics): counter, gauge and histogram
// semantics; the log-linear bucket boundaries (every bound is inclusive and
// each value lands in the first bucket whose bound is >= it); merging of the
// same series from several registries (shards) at scrape; escaping of label
// values and help text; a stable order of families and series; that a
// registration's destruction removes its series; and that a writer thread
// and a scraping thread can run at once (the values only grow).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "metrics/exposition.h"
#include "metrics/metric.h"
#include "metrics/registry.h"

namespace tl::metrics {
namespace {

constexpr descriptor requests_family{"test_requests_total", "Requests.", metric_type::counter};
constexpr descriptor depth_family{"test_depth", "Depth of a queue.", metric_type::gauge};
constexpr descriptor latency_family{"test_latency_seconds", "Latency.", metric_type::histogram};
constexpr descriptor sparse_family{"test_sparse_total", "Zero series omitted.",
                                   metric_type::counter, true};

TEST(metric, counter_adds_and_gauge_sets) {
    counter c;
    EXPECT_EQ(c.value(), 0u);
    c.add();
    c.add(41);
    EXPECT_EQ(c.value(), 42u);
    gauge g;
    g.set(0.25);
    EXPECT_DOUBLE_EQ(g.value(), 0.25);
    g.set(int64_t{-3});
    EXPECT_DOUBLE_EQ(g.value(), -3.0);
}

TEST(histogram_layout, bounds_are_inclusive_and_log_linear) {
    constexpr histogram_layout layout{.min_exponent = 4, .max_exponent = 6,
                                      .sub_buckets_log2 = 2, .unit_seconds = 1};
    ASSERT_TRUE(layout.valid());
    // 16, then 20 24 28 32, then 40 48 56 64.
    const std::vector<uint64_t> expected{16, 20, 24, 28, 32, 40, 48, 56, 64};
    ASSERT_EQ(layout.bucket_count(), expected.size());
    for (unsigned i = 0; i < expected.size(); ++i) EXPECT_EQ(layout.upper_bound(i), expected[i]);
    EXPECT_EQ(layout.bucket_of(0), 0u);
    EXPECT_EQ(layout.bucket_of(16), 0u);
    EXPECT_EQ(layout.bucket_of(17), 1u);
    EXPECT_EQ(layout.bucket_of(20), 1u);
    EXPECT_EQ(layout.bucket_of(21), 2u);
    EXPECT_EQ(layout.bucket_of(32), 4u);
    EXPECT_EQ(layout.bucket_of(33), 5u);
    EXPECT_EQ(layout.bucket_of(64), 8u);
    EXPECT_EQ(layout.bucket_of(65), 9u);  // +Inf
    EXPECT_EQ(layout.bucket_of(UINT64_MAX), 9u);
    // Every value: its bucket's bound is >= it and the previous bound < it.
    for (uint64_t v = 0; v <= 70; ++v) {
        const unsigned b = layout.bucket_of(v);
        if (b < layout.bucket_count()) EXPECT_GE(layout.upper_bound(b), v) << v;
        if (b > 0) EXPECT_LT(layout.upper_bound(b - 1), v) << v;
    }
}

TEST(histogram_layout, latency_layout_spans_microseconds_to_seconds) {
    ASSERT_TRUE(latency_layout.valid());
    EXPECT_EQ(latency_layout.upper_bound(0), 1024u);
    EXPECT_GT(static_cast<double>(latency_layout.upper_bound(latency_layout.bucket_count() - 1)) *
                  latency_layout.unit_seconds,
              30.0);
    // Within 25%: neighbouring bounds differ by at most a quarter.
    for (unsigned i = 1; i < latency_layout.bucket_count(); ++i) {
        const double ratio = static_cast<double>(latency_layout.upper_bound(i)) /
                             static_cast<double>(latency_layout.upper_bound(i - 1));
        EXPECT_LE(ratio, 1.25 + 1e-9) << i;
    }
}

TEST(histogram, records_counts_and_sum) {
    constexpr histogram_layout layout{.min_exponent = 4, .max_exponent = 6,
                                      .sub_buckets_log2 = 2, .unit_seconds = 1};
    histogram h(layout);
    h.record(1);
    h.record(17);
    h.record(1000);
    const auto s = h.snapshot();
    ASSERT_EQ(s.buckets.size(), layout.bucket_count() + 1);
    EXPECT_EQ(s.buckets[0], 1u);
    EXPECT_EQ(s.buckets[1], 1u);
    EXPECT_EQ(s.buckets.back(), 1u);
    EXPECT_EQ(s.sum, 1018u);
}

TEST(exposition, histogram_is_cumulative_in_seconds) {
    constexpr histogram_layout layout{.min_exponent = 4, .max_exponent = 5,
                                      .sub_buckets_log2 = 1, .unit_seconds = 0.5};
    registry r;
    histogram h(layout);
    auto keep = r.add(latency_family, render_labels({{"api", "produce"}}), h);
    h.record(10);   // le 16 (8 s)
    h.record(20);   // le 24 (12 s)
    h.record(100);  // +Inf
    const registry* all[] = {&r};
    EXPECT_EQ(render_text(all),
              "# HELP test_latency_seconds Latency.\n"
              "# TYPE test_latency_seconds histogram\n"
              "test_latency_seconds_bucket{api=\"produce\",le=\"8\"} 1\n"
              "test_latency_seconds_bucket{api=\"produce\",le=\"12\"} 2\n"
              "test_latency_seconds_bucket{api=\"produce\",le=\"16\"} 2\n"
              "test_latency_seconds_bucket{api=\"produce\",le=\"+Inf\"} 3\n"
              "test_latency_seconds_sum{api=\"produce\"} 65\n"
              "test_latency_seconds_count{api=\"produce\"} 3\n");
}

TEST(exposition, same_series_of_several_shards_are_summed) {
    registry shard0;
    registry shard1;
    counter a;
    counter b;
    counter other;
    histogram ha;
    histogram hb;
    auto r1 = shard0.add(requests_family, render_labels({{"api", "fetch"}}), a);
    auto r2 = shard1.add(requests_family, render_labels({{"api", "fetch"}}), b);
    auto r3 = shard1.add(requests_family, render_labels({{"api", "produce"}}), other);
    auto r4 = shard0.add(latency_family, render_labels({{"api", "fetch"}}), ha);
    auto r5 = shard1.add(latency_family, render_labels({{"api", "fetch"}}), hb);
    a.add(2);
    b.add(3);
    other.add(7);
    ha.record(2000);
    hb.record(3000);
    const registry* all[] = {&shard0, &shard1};
    const std::string text = render_text(all);
    EXPECT_NE(text.find("test_requests_total{api=\"fetch\"} 5\n"), std::string::npos) << text;
    EXPECT_NE(text.find("test_requests_total{api=\"produce\"} 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("test_latency_seconds_count{api=\"fetch\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("test_latency_seconds_sum{api=\"fetch\"} 5e-06\n"), std::string::npos)
        << text;
    // One HELP/TYPE per family however many registries hold it.
    EXPECT_EQ(text.find("# TYPE test_requests_total"), text.rfind("# TYPE test_requests_total"));
}

TEST(exposition, label_values_and_help_are_escaped) {
    constexpr descriptor odd{"test_odd", "Help with \\ and\nnewline.", metric_type::gauge};
    registry r;
    gauge g;
    g.set(1.5);
    auto keep = r.add(odd, render_labels({{"topic", "a\"b\\c\nd"}, {"partition", "0"}}), g);
    const registry* all[] = {&r};
    EXPECT_EQ(render_text(all),
              "# HELP test_odd Help with \\\\ and\\nnewline.\n"
              "# TYPE test_odd gauge\n"
              "test_odd{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 1.5\n");
}

TEST(exposition, order_is_stable_and_sorted) {
    registry r;
    gauge g1;
    gauge g2;
    counter c;
    // Registered out of order.
    auto k1 = r.add(depth_family, render_labels({{"shard", "1"}}), g1);
    auto k2 = r.add(requests_family, render_labels({{"api", "produce"}}), c);
    auto k3 = r.add(depth_family, render_labels({{"shard", "0"}}), g2);
    const registry* all[] = {&r};
    const std::string first = render_text(all);
    EXPECT_EQ(first,
              "# HELP test_depth Depth of a queue.\n"
              "# TYPE test_depth gauge\n"
              "test_depth{shard=\"0\"} 0\n"
              "test_depth{shard=\"1\"} 0\n"
              "# HELP test_requests_total Requests.\n"
              "# TYPE test_requests_total counter\n"
              "test_requests_total{api=\"produce\"} 0\n");
    EXPECT_EQ(render_text(all), first);
}

TEST(exposition, omit_zero_families_show_only_moved_series) {
    registry r;
    counter quiet;
    counter busy;
    auto k1 = r.add(sparse_family, render_labels({{"error", "none_yet"}}), quiet);
    auto k2 = r.add(sparse_family, render_labels({{"error", "offset_out_of_range"}}), busy);
    const registry* all[] = {&r};
    EXPECT_EQ(render_text(all), "");
    busy.add();
    EXPECT_EQ(render_text(all),
              "# HELP test_sparse_total Zero series omitted.\n"
              "# TYPE test_sparse_total counter\n"
              "test_sparse_total{error=\"offset_out_of_range\"} 1\n");
}

TEST(registry, registration_removes_its_series_and_publish_replaces) {
    registry r;
    counter c;
    {
        auto keep = r.add(requests_family, "", c);
        EXPECT_EQ(r.size(), 1u);
        registration moved = std::move(keep);
        EXPECT_EQ(r.size(), 1u);
    }
    EXPECT_EQ(r.size(), 0u);
    auto f = r.add(depth_family, render_labels({{"shard", "0"}}), [] { return 4.0; });
    r.publish(depth_family, {{render_labels({{"shard", "9"}}), 9.0}});
    r.publish(depth_family, {{render_labels({{"shard", "8"}}), 8.0}});
    const registry* all[] = {&r};
    EXPECT_EQ(render_text(all),
              "# HELP test_depth Depth of a queue.\n"
              "# TYPE test_depth gauge\n"
              "test_depth{shard=\"0\"} 4\n"
              "test_depth{shard=\"8\"} 8\n");
}

TEST(registry, scrape_while_the_owner_writes) {
    registry r;
    counter c;
    histogram h;
    auto k1 = r.add(requests_family, "", c);
    auto k2 = r.add(latency_family, "", h);
    constexpr uint64_t updates = 200'000;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (uint64_t i = 0; i < updates; ++i) {
            c.add();
            h.record(i);
        }
        done.store(true);
    });
    double last = 0;
    while (!done.load()) {
        for (const sample& s : r.collect()) {
            if (s.family == &requests_family) {
                EXPECT_GE(s.value, last);
                last = s.value;
            }
        }
    }
    writer.join();
    for (const sample& s : r.collect()) {
        if (s.family == &requests_family) EXPECT_EQ(s.value, static_cast<double>(updates));
        if (s.family == &latency_family) {
            uint64_t count = 0;
            for (uint64_t b : s.histogram_value.buckets) count += b;
            EXPECT_EQ(count, updates);
        }
    }
}

TEST(exposition, values_format_as_the_text_format_wants) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(12345678901.0), "12345678901");
    EXPECT_EQ(format_value(0.5), "0.5");
    EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace tl::metrics
