// The Kafka layer's metrics on one shard: requests, errors and latency by
// API, connections and their memory.
//
//   kafka_probe probe(shard_registry, shard_id, implemented_apis());
//   probe.request_handled(api_key, latency);         // the dispatcher
//   probe.error_returned(api_key, error);            // make_response, per error_code
//   probe.connection_opened(); probe.connection_closed();   // the listener
//
// Owned by its shard's Kafka service; every verb is called on that shard and
// costs an array index and a relaxed store or two (API keys and error codes
// map to slots fixed at construction: no lookup by name, no allocation).
// Series are registered once, for the APIs the dispatcher serves and every
// error code Kafka's error_code.h names ("other" for the rest); the families
// with a slot per error omit zero series from the scrape.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/clock.h"
#include "kafka/protocol/api_support.h"
#include "kafka/protocol/error_code.h"
#include "metrics/registry.h"

namespace tl::kafka {

class kafka_probe {
public:
    static constexpr size_t api_key_slots = 128;  // Kafka's API keys are below this
    // One per named error code except `none`, plus "other".
    static constexpr size_t error_slots = error_code_names.size();

    kafka_probe(metrics::registry& registry, unsigned shard_id,
                std::span<const api_version_range> apis);
    kafka_probe(const kafka_probe&) = delete;
    kafka_probe& operator=(const kafka_probe&) = delete;

    void request_handled(int16_t api_key, duration_ns latency) noexcept {
        if (api* a = find(api_key)) {
            a->requests.add();
            a->latency.record(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())));
        }
    }
    // `error` as found in a response (0 is not an error and is ignored).
    void error_returned(int16_t api_key, int16_t error) noexcept {
        if (error == 0) return;
        if (api* a = find(api_key)) a->errors[error_slot(error)].add();
    }
    void connection_opened() noexcept {
        _accepted.add();
        _open_connections.set(static_cast<int64_t>(++_open));
    }
    void connection_closed() noexcept { _open_connections.set(static_cast<int64_t>(--_open)); }
    // Request and response bytes held by this shard's connections.
    void connection_memory(uint64_t bytes) noexcept { _connection_bytes.set(bytes); }

    // For tests: requests counted for `api_key` on this shard.
    uint64_t requests(int16_t api_key) const noexcept;

private:
    struct api {
        metrics::counter requests;
        metrics::histogram latency{metrics::latency_layout};
        std::array<metrics::counter, error_slots> errors;
    };

    api* find(int16_t api_key) noexcept {
        if (api_key < 0 || static_cast<size_t>(api_key) >= api_key_slots) return nullptr;
        return _apis[static_cast<size_t>(api_key)].get();
    }
    static size_t error_slot(int16_t error) noexcept;

    std::array<std::unique_ptr<api>, api_key_slots> _apis;
    metrics::gauge _open_connections;
    metrics::counter _accepted;
    metrics::gauge _connection_bytes;
    uint64_t _open = 0;
    // Last: removed before the values they point at.
    std::vector<metrics::registration> _registrations;
};

}  // namespace tl::kafka
