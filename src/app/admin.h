// tidelogd's admin HTTP endpoint on admin_addr: /metrics, /healthz, /ready
// and /v1/status, plus the node-wide series (build, uptime, readiness, disk).
//
//   node_state state(config);
//   auto admin = admin_endpoint::start(state);   // before broker::start(): /ready says 503
//   ... broker starts; state.started = true ...  // /ready says 200 once groups are replayed
//   admin.reset();                               // after the broker stopped
//
// Requests are served by the admin server's own threads: they read the
// metric registries and atomics that the shards publish, never a shard's
// state, so a scrape never waits for a shard nor stalls one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/node.h"
#include "base/result.h"
#include "metrics/admin_server.h"
#include "metrics/registry.h"

namespace tl::app {

class admin_endpoint {
public:
    static result<std::unique_ptr<admin_endpoint>, std::string> start(node_state& state);
    ~admin_endpoint();
    admin_endpoint(const admin_endpoint&) = delete;
    admin_endpoint& operator=(const admin_endpoint&) = delete;

    uint16_t port() const noexcept { return _server->port(); }

    // The bodies of the routes (for tests and tidectl).
    std::string metrics_text() const;
    std::string status_json() const;
    std::string controller_json() const;

private:
    explicit admin_endpoint(node_state& state) : _state(state) {}
    void register_node_metrics();

    node_state& _state;
    std::vector<metrics::registration> _registrations;
    std::unique_ptr<metrics::admin_server> _server;
};

}  // namespace tl::app
