// The request dispatcher of one shard: the table of implemented APIs (what
// ApiVersions advertises, exactly) and the handler for each.
#pragma once

#include <span>
#include <vector>

#include "kafka/messages/api_versions.h"
#include "kafka/protocol/api_support.h"
#include "kafka/server/broker_context.h"
#include "kafka/server/connection.h"
#include "kafka/server/probe.h"

namespace tl::kafka {

// Every API the broker serves, with its version range, sorted by key.
[[nodiscard]] std::span<const api_version_range> implemented_apis() noexcept;

class broker_dispatcher final : public request_dispatcher {
public:
    // `probe` (may be null: no metrics) counts requests, latency and errors.
    explicit broker_dispatcher(broker_context& context, kafka_probe* probe = nullptr);

    [[nodiscard]] bool serves(int16_t api_key, int16_t api_version) const noexcept override;
    task<response> handle(request_context& request) override;
    [[nodiscard]] std::vector<std::byte> unsupported_api_versions(
        int32_t correlation_id) const override;

private:
    broker_context& _context;
    kafka_probe* _probe;
};

}  // namespace tl::kafka
