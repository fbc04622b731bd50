// The Prometheus text format (version 0.0.4) of a set of registries.
//
//   std::string body = metrics::render_text({&node_registry, &shard0, &shard1});
//
// Samples from every registry are merged: series with the same family and
// label text are summed (counters and gauges added, histogram buckets and
// sums added), which is how per-shard values become node-wide ones. Output
// is sorted by family name, then label text, so two scrapes list series in
// the same order. Histograms are written as cumulative `_bucket{le=...}`
// lines (le in seconds), `_sum` and `_count`.
//
// Runs on the scrape thread; takes each registry's mutex in turn.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "metrics/registry.h"

namespace tl::metrics {

inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

std::string render_text(std::span<const registry* const> registries);
// The same, over samples already collected (for tests).
std::string render_text(std::vector<sample> samples);

// A value as the text format writes it: integers without a fraction,
// +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace tl::metrics
