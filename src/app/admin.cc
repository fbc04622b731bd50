// See admin.h. The metric names are those docs/architecture.md lists and the
// dashboards query.
#include "app/admin.h"

#include <sys/statvfs.h>

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "metrics/exposition.h"
#include "tidelog_build_config.h"

namespace tl::app {
namespace {

using metrics::descriptor;
using metrics::metric_type;

constexpr descriptor build_info_family{"tidelog_build_info",
                                       "Always 1; the labels say which build runs.",
                                       metric_type::gauge};
constexpr descriptor uptime_family{"tidelog_uptime_seconds", "Seconds since tidelogd started.",
                                   metric_type::gauge};
constexpr descriptor ready_family{"tidelog_ready",
                                  "1 once start-up (recovery, topics, group replay) finished.",
                                  metric_type::gauge};
constexpr descriptor disk_free_family{"tidelog_disk_free_bytes",
                                      "Bytes available to tidelogd on the data directory's disk.",
                                      metric_type::gauge};
constexpr descriptor disk_total_family{"tidelog_disk_total_bytes",
                                       "Size of the data directory's file system.",
                                       metric_type::gauge};
constexpr descriptor disk_full_family{
    "tidelog_disk_full", "1 while free space is below min_free_bytes: appends are refused.",
    metric_type::gauge};

std::string compiler_name() {
#if defined(__clang__)
    return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    return fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    return "unknown";
#endif
}

struct disk_space {
    uint64_t free_bytes = 0;
    uint64_t total_bytes = 0;
    bool known = false;
};

disk_space read_disk_space(const std::string& path) {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) != 0) return {};
    return {.free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize,
            .total_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize,
            .known = true};
}

double uptime_seconds(const node_state& state) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - state.start_time)
        .count();
}

}  // namespace

result<std::unique_ptr<admin_endpoint>, std::string> admin_endpoint::start(node_state& state) {
    std::unique_ptr<admin_endpoint> endpoint(new admin_endpoint(state));
    endpoint->register_node_metrics();
    admin_endpoint* self = endpoint.get();
    metrics::admin_server::routes routes;
    routes["/metrics"] = [self] {
        return metrics::http_response{200, std::string(metrics::text_content_type),
                                      self->metrics_text()};
    };
    routes["/healthz"] = [] { return metrics::http_response::text(200, "ok\n"); };
    routes["/ready"] = [self] {
        return self->_state.ready() ? metrics::http_response::text(200, "ready\n")
                                    : metrics::http_response::text(503, "starting\n");
    };
    routes["/v1/status"] = [self] { return metrics::http_response::json(200, self->status_json()); };
    routes["/v1/controller"] = [self] {
        return metrics::http_response::json(200, self->controller_json());
    };
    auto server = metrics::admin_server::start(
        {.listen = state.config.admin_addr.resolved.to_string()}, std::move(routes));
    if (!server) return failure{server.error()};
    endpoint->_server = std::move(*server);
    return endpoint;
}

admin_endpoint::~admin_endpoint() {
    _server.reset();  // no handler runs after this
    _registrations.clear();
}

void admin_endpoint::register_node_metrics() {
    metrics::registry& r = _state.node_registry;
    const node_state* state = &_state;
    _registrations.push_back(r.add(
        build_info_family,
        metrics::render_labels({{"version", TIDELOG_VERSION}, {"compiler", compiler_name()}}),
        [] { return 1.0; }));
    _registrations.push_back(r.add(uptime_family, "", [state] { return uptime_seconds(*state); }));
    _registrations.push_back(
        r.add(ready_family, "", [state] { return state->ready() ? 1.0 : 0.0; }));
    _registrations.push_back(r.add(disk_free_family, "", [state] {
        return static_cast<double>(read_disk_space(state->config.data_dir).free_bytes);
    }));
    _registrations.push_back(r.add(disk_total_family, "", [state] {
        return static_cast<double>(read_disk_space(state->config.data_dir).total_bytes);
    }));
    // The same test the logs apply before each append (storage's free-space floor).
    _registrations.push_back(r.add(disk_full_family, "", [state] {
        const disk_space disk = read_disk_space(state->config.data_dir);
        return disk.known && disk.free_bytes < state->config.min_free_bytes ? 1.0 : 0.0;
    }));
}

std::string admin_endpoint::metrics_text() const {
    std::vector<const metrics::registry*> all{&_state.node_registry};
    for (const auto& r : _state.registries) all.push_back(r.get());
    return metrics::render_text(all);
}

// The controller quorum as this node sees it: leader and voters are node
// ids (leader -1: none known).
std::string admin_endpoint::controller_json() const {
    cluster::controller_status s;
    {
        std::lock_guard lock(_state.controller_status_mutex);
        s = _state.controller_status;
    }
    return fmt::format(
        "{{\"node_id\":{},\"leader\":{},\"term\":{},\"commit_index\":{},\"applied_index\":{},"
        "\"role\":{},\"voters\":[{}]}}\n",
        _state.config.node_id, s.leader, s.term, s.commit_index, s.applied_index,
        metrics::json_string(s.role.empty() ? "starting" : s.role), fmt::join(s.voters, ","));
}

std::string admin_endpoint::status_json() const {
    uint64_t partitions = 0;
    for (unsigned i = 0; i < _state.config.smp; ++i) {
        partitions += _state.partition_counts[i].load(std::memory_order_relaxed);
    }
    const disk_space disk = read_disk_space(_state.config.data_dir);
    const bool full = disk.known && disk.free_bytes < _state.config.min_free_bytes;
    return fmt::format(
        "{{\"node_id\":{},\"version\":{},\"shards\":{},\"partitions\":{},"
        "\"uptime_seconds\":{:.3f},\"ready\":{},\"disk\":{{\"path\":{},\"free_bytes\":{},"
        "\"total_bytes\":{},\"full\":{}}}}}\n",
        _state.config.node_id, metrics::json_string(TIDELOG_VERSION), _state.config.smp,
        partitions, uptime_seconds(_state), _state.ready(),
        metrics::json_string(_state.config.data_dir), disk.free_bytes, disk.total_bytes, full);
}

}  // namespace tl::app
