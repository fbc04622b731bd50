// See probe.h. The metric names are the ones docs/architecture.md lists and
// the Grafana dashboards query: change them only together.
#include "kafka/server/probe.h"

#include <string>

#include "kafka/messages/api_table.h"

namespace tl::kafka {
namespace {

using metrics::descriptor;
using metrics::metric_type;

constexpr descriptor requests_family{"tidelog_kafka_requests_total",
                                     "Kafka requests handled, by API.", metric_type::counter,
                                     true};
constexpr descriptor errors_family{
    "tidelog_kafka_request_errors_total",
    "Error codes returned in Kafka responses (top level and per partition), by API and error.",
    metric_type::counter, true};
constexpr descriptor latency_family{"tidelog_kafka_request_latency_seconds",
                                    "Time from a request's parse to its encoded response, by API.",
                                    metric_type::histogram, true};
constexpr descriptor connections_family{"tidelog_kafka_connections",
                                        "Open Kafka client connections, by shard.",
                                        metric_type::gauge};
constexpr descriptor accepted_family{"tidelog_kafka_connections_accepted_total",
                                     "Kafka client connections accepted, by shard.",
                                     metric_type::counter};
constexpr descriptor connection_bytes_family{
    "tidelog_memory_connection_bytes",
    "Request and response bytes held by Kafka connections, by shard.", metric_type::gauge};

// error code + 1 -> slot; codes outside [-1, 254] and unnamed ones: the last slot.
constexpr size_t error_code_range = 256;
constexpr std::array<uint8_t, error_code_range> make_error_slots() {
    std::array<uint8_t, error_code_range> slots{};
    for (auto& s : slots) s = static_cast<uint8_t>(kafka_probe::error_slots - 1);
    size_t next = 0;
    for (const auto& entry : error_code_names) {
        if (entry.value == error_code::none) continue;
        slots[static_cast<size_t>(code(entry.value) + 1)] = static_cast<uint8_t>(next++);
    }
    return slots;
}
constexpr auto error_slots_by_code = make_error_slots();
static_assert(kafka_probe::error_slots < 256);

std::string_view slot_error_name(size_t slot) {
    size_t next = 0;
    for (const auto& entry : error_code_names) {
        if (entry.value == error_code::none) continue;
        if (next++ == slot) return entry.name;
    }
    return "other";
}

}  // namespace

size_t kafka_probe::error_slot(int16_t error) noexcept {
    const int index = error + 1;
    if (index < 0 || static_cast<size_t>(index) >= error_code_range) return error_slots - 1;
    return error_slots_by_code[static_cast<size_t>(index)];
}

kafka_probe::kafka_probe(metrics::registry& registry, unsigned shard_id,
                         std::span<const api_version_range> apis) {
    for (const api_version_range& range : apis) {
        TL_ASSERT(range.api_key >= 0 && static_cast<size_t>(range.api_key) < api_key_slots);
        const api_schema* schema = find_api_schema(range.api_key);
        TL_ASSERT(schema != nullptr, "a served API without a schema");
        auto& slot = _apis[static_cast<size_t>(range.api_key)];
        slot = std::make_unique<api>();
        const std::string api_label = metrics::render_labels({{"api", schema->name}});
        _registrations.push_back(registry.add(requests_family, api_label, slot->requests));
        _registrations.push_back(registry.add(latency_family, api_label, slot->latency));
        for (size_t e = 0; e < error_slots; ++e) {
            _registrations.push_back(registry.add(
                errors_family,
                metrics::render_labels({{"api", schema->name}, {"error", slot_error_name(e)}}),
                slot->errors[e]));
        }
    }
    const std::string shard = metrics::render_labels({{"shard", std::to_string(shard_id)}});
    _registrations.push_back(registry.add(connections_family, shard, _open_connections));
    _registrations.push_back(registry.add(accepted_family, shard, _accepted));
    _registrations.push_back(registry.add(connection_bytes_family, shard, _connection_bytes));
}

uint64_t kafka_probe::requests(int16_t api_key) const noexcept {
    if (api_key < 0 || static_cast<size_t>(api_key) >= api_key_slots) return 0;
    const auto& slot = _apis[static_cast<size_t>(api_key)];
    return slot ? slot->requests.value() : 0;
}

}  // namespace tl::kafka
