// Where probes register their series, and where a scrape reads them.
//
//   static constexpr metrics::descriptor requests{"tidelog_kafka_requests_total",
//       "Kafka requests handled, by API", metrics::metric_type::counter};
//   _registrations.push_back(shard_registry.add(requests, {{"api", "produce"}}, _produce));
//   ...
//   auto samples = shard_registry.collect();     // the scrape thread
//
// One registry per shard (plus one for the node's process-wide values). The
// series' values live in the probes (metric.h), owned and written by their
// shard; the registry only knows where they are. add() and the removal done
// by a registration's destructor take the registry's mutex — they happen when
// partitions, connections' listeners or probes come and go, never per update
// — and collect() takes it while it reads the values, copying them out, so a
// scrape holds a shard's mutex for one pass over that shard's series and
// never blocks the shard's data path (which does not take it at all).
//
// Labels are rendered (escaped) once, at add(); a series is identified by its
// descriptor and label text, and identical series from several registries
// (the same API on every shard, every partition of a topic) are summed at
// scrape time (exposition.h).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "metrics/metric.h"

namespace tl::metrics {

enum class metric_type : uint8_t { counter, gauge, histogram };

// A metric family: name, help text and type. Lives as long as the program
// (declare them `static constexpr`); the registry keeps a pointer.
struct descriptor {
    std::string_view name;
    std::string_view help;
    metric_type type = metric_type::counter;
    // Series whose (summed) value is 0 — a histogram with no observations —
    // are left out: families with a slot per API and error code.
    bool omit_zero = false;
};

struct label {
    std::string_view name;
    std::string_view value;
};

// `a="x",b="y"`: label values escaped as the text format requires
// (backslash, double quote, newline).
std::string render_labels(std::initializer_list<label> labels);
std::string escape_label_value(std::string_view value);

// One series as a scrape read it.
struct sample {
    const descriptor* family = nullptr;
    std::string labels;                  // rendered, see render_labels()
    double value = 0;                    // counters and gauges
    histogram_snapshot histogram_value;  // histograms
    const histogram_layout* layout = nullptr;
};

class registry;

// Keeps a series registered; removes it when destroyed. Movable. Destroy it
// before the value it refers to.
class registration {
public:
    registration() = default;
    registration(registry* owner, uint64_t id) noexcept : _owner(owner), _id(id) {}
    registration(registration&& other) noexcept
        : _owner(std::exchange(other._owner, nullptr)), _id(other._id) {}
    registration& operator=(registration&& other) noexcept;
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() { reset(); }

    void reset() noexcept;

private:
    registry* _owner = nullptr;
    uint64_t _id = 0;
};

class registry {
public:
    // A value computed by the scrape thread (uptime, disk space): it must be
    // safe to call from any thread while the registry exists.
    using gauge_function = std::function<double()>;

    registry() = default;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;
    // Every registration must have been reset by now.
    ~registry();

    [[nodiscard]] registration add(const descriptor& family, std::string labels,
                                   const counter& value);
    [[nodiscard]] registration add(const descriptor& family, std::string labels,
                                   const gauge& value);
    [[nodiscard]] registration add(const descriptor& family, std::string labels,
                                   const histogram& value);
    [[nodiscard]] registration add(const descriptor& family, std::string labels,
                                   gauge_function value);

    // A family whose series are published as a whole, replacing the last
    // publication (consumer group lag: series come and go with commits).
    // The owning shard calls this; the old samples are freed here, on it.
    void publish(const descriptor& family, std::vector<std::pair<std::string, double>> series);

    // Reads every series (the scrape thread).
    std::vector<sample> collect() const;
    size_t size() const;

private:
    friend class registration;
    using source = std::variant<const counter*, const gauge*, const histogram*, gauge_function>;
    struct entry {
        const descriptor* family;
        std::string labels;
        source value;
    };

    registration insert(entry e);
    void remove(uint64_t id) noexcept;

    mutable std::mutex _mutex;
    uint64_t _next_id = 1;
    std::map<uint64_t, entry> _entries;
    std::map<const descriptor*, std::vector<std::pair<std::string, double>>> _published;
};

}  // namespace tl::metrics
