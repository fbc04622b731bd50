// See exposition.h.
#include "metrics/exposition.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace tl::metrics {
namespace {

std::string_view type_name(metric_type type) {
    switch (type) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
    }
    TL_UNREACHABLE("metric type");
}

std::string escape_help(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void merge_into(sample& into, const sample& from) {
    if (into.family->type != metric_type::histogram) {
        into.value += from.value;
        return;
    }
    TL_ASSERT(from.layout != nullptr && into.layout != nullptr);
    TL_ASSERT(into.histogram_value.buckets.size() == from.histogram_value.buckets.size(),
              "one histogram family with two bucket layouts");
    for (size_t i = 0; i < from.histogram_value.buckets.size(); ++i) {
        into.histogram_value.buckets[i] += from.histogram_value.buckets[i];
    }
    into.histogram_value.sum += from.histogram_value.sum;
}

bool is_zero(const sample& s) {
    if (s.family->type != metric_type::histogram) return s.value == 0;
    return std::ranges::all_of(s.histogram_value.buckets, [](uint64_t b) { return b == 0; });
}

void write_series(std::string& out, std::string_view name, std::string_view suffix,
                  std::string_view labels, std::string_view extra_label, double value) {
    out.append(name);
    out.append(suffix);
    if (!labels.empty() || !extra_label.empty()) {
        out += '{';
        out.append(labels);
        if (!labels.empty() && !extra_label.empty()) out += ',';
        out.append(extra_label);
        out += '}';
    }
    out += ' ';
    out += format_value(value);
    out += '\n';
}

void write_histogram(std::string& out, const sample& s) {
    const histogram_layout& layout = *s.layout;
    const auto& buckets = s.histogram_value.buckets;
    uint64_t cumulative = 0;
    for (unsigned i = 0; i < layout.bucket_count(); ++i) {
        cumulative += buckets[i];
        const double bound = static_cast<double>(layout.upper_bound(i)) * layout.unit_seconds;
        write_series(out, s.family->name, "_bucket", s.labels,
                     fmt::format("le=\"{}\"", format_value(bound)),
                     static_cast<double>(cumulative));
    }
    cumulative += buckets[layout.bucket_count()];
    write_series(out, s.family->name, "_bucket", s.labels, "le=\"+Inf\"",
                 static_cast<double>(cumulative));
    write_series(out, s.family->name, "_sum", s.labels, "",
                 static_cast<double>(s.histogram_value.sum) * layout.unit_seconds);
    write_series(out, s.family->name, "_count", s.labels, "", static_cast<double>(cumulative));
}

}  // namespace

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::trunc(value) && std::fabs(value) < 1e15) {
        return fmt::format("{}", static_cast<int64_t>(value));
    }
    return fmt::format("{}", value);  // shortest text that reads back exactly
}

std::string render_text(std::vector<sample> samples) {
    // family name -> label text -> merged sample. Families are keyed by name:
    // two descriptors of one name must agree on type (asserted below).
    std::map<std::string_view, std::map<std::string, sample>> families;
    for (sample& s : samples) {
        TL_ASSERT(s.family != nullptr);
        auto& series = families[s.family->name];
        if (!series.empty()) {
            TL_ASSERT(series.begin()->second.family->type == s.family->type,
                      "one metric name registered with two types");
        }
        auto [it, inserted] = series.try_emplace(s.labels);
        if (inserted) {
            it->second = std::move(s);
        } else {
            merge_into(it->second, s);
        }
    }
    std::string out;
    for (const auto& [name, series] : families) {
        const descriptor& family = *series.begin()->second.family;
        bool header_written = false;
        for (const auto& [labels, s] : series) {
            if (family.omit_zero && is_zero(s)) continue;
            if (!header_written) {
                out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(family.help),
                                   name, type_name(family.type));
                header_written = true;
            }
            if (family.type == metric_type::histogram) {
                write_histogram(out, s);
            } else {
                write_series(out, name, "", labels, "", s.value);
            }
        }
    }
    return out;
}

std::string render_text(std::span<const registry* const> registries) {
    std::vector<sample> all;
    for (const registry* r : registries) {
        auto samples = r->collect();
        all.insert(all.end(), std::make_move_iterator(samples.begin()),
                   std::make_move_iterator(samples.end()));
    }
    return render_text(std::move(all));
}

}  // namespace tl::metrics
