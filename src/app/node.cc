#include "app/node.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kafka/groups/group_coordinator.h"
#include "kafka/server/dispatcher.h"
#include "kafka/server/server.h"
#include "reactor/shard.h"
#include "reactor/shard_executor.h"
#include "reactor/submit_to.h"
#include "storage/disk.h"
#include "uring/buffer_pool.h"

namespace tl::app {

storage::log_config storage_base(const broker_config& config) {
    storage::log_config base;
    base.flush = config.flush_mode;
    base.flush_interval = std::chrono::milliseconds(config.flush_interval_ms);
    base.min_free_bytes = config.min_free_bytes;
    base.retention_check_interval = std::chrono::milliseconds(config.retention_check_interval_ms);
    base.producer_id_expiration = std::chrono::milliseconds(config.producer_id_expiration_ms);
    base.producer_id_expiration_check_interval =
        std::chrono::milliseconds(config.producer_id_expiration_check_interval_ms);
    return base;
}

node_state::node_state(const broker_config& c)
    : config(c),
      managers(c.smp, nullptr),
      coordinators(c.smp, nullptr),
      partition_counts(std::make_unique<std::atomic<uint64_t>[]>(c.smp)) {
    for (unsigned i = 0; i < c.smp; ++i) registries.push_back(std::make_unique<metrics::registry>());
    kafka.node_id = c.node_id;
    if (c.advertised_kafka_addr.is_set()) {
        kafka.advertised_host = c.advertised_kafka_addr.host;
        kafka.advertised_port = c.advertised_kafka_addr.port;
    } else {
        const std::string text = c.kafka_addr.resolved.to_string();
        const size_t colon = text.rfind(':');
        std::string host = text.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
        kafka.advertised_host = host;
        kafka.advertised_port = c.kafka_addr.resolved.port();
    }
    kafka.auto_create_topics = c.auto_create_topics;
    kafka.num_partitions = c.num_partitions;
    kafka.limits.max_request_bytes = c.socket_request_max_bytes;
    kafka.limits.memory_budget_bytes = c.connection_memory_bytes;
    kafka.limits.idle_timeout = std::chrono::milliseconds(c.connections_max_idle_ms);

    controller.data_dir = c.data_dir;
    controller.shard_count = c.smp;
    controller.node_id = c.node_id;
    auto defaults = cluster::topic_defaults::from_settings(c.topic_defaults);
    TL_ASSERT(defaults.ok(), "topic defaults were validated with the config");
    controller.defaults = std::move(*defaults);
    controller.storage_base = storage_base(c);
    controller.offsets_topic_partitions = c.offsets_topic_num_partitions;
    controller.offsets_topic_segment_bytes = c.offsets_topic_segment_bytes;
    for (const auto& v : c.controller_voters) {
        controller.voters.push_back({.node_id = v.id, .address = v.resolved});
    }
    controller.advertised_host = kafka.advertised_host;
    controller.advertised_port = kafka.advertised_port;
    controller.on_status = [this](const cluster::controller_status& s) {
        std::lock_guard lock(controller_status_mutex);
        controller_status = s;
    };
    groups.group.initial_rebalance_delay_ms =
        static_cast<int32_t>(c.group_initial_rebalance_delay_ms);
    groups.group.min_session_timeout_ms = static_cast<int32_t>(c.group_min_session_timeout_ms);
    groups.group.max_session_timeout_ms = static_cast<int32_t>(c.group_max_session_timeout_ms);
    groups.offsets_retention_ms = int64_t{c.offsets_retention_minutes} * 60'000;
    groups.retention_check_interval_ms = c.offsets_retention_check_interval_ms;
}

namespace {

// Partition gauges, shard totals and group lag are refreshed this often.
constexpr auto publish_interval = std::chrono::seconds(1);
// Until a shard's groups are replayed, its Kafka service checks this often.
constexpr auto loading_check_interval = std::chrono::milliseconds(10);

using metrics::descriptor;
using metrics::metric_type;
constexpr descriptor busy_ratio_family{
    "tidelog_reactor_busy_ratio",
    "Share of the last second the shard's loop spent in iterations that did work.",
    metric_type::gauge};
constexpr descriptor stalls_family{
    "tidelog_reactor_stalls_total",
    "Shard loop iterations longer than reactor_stall_threshold_us.", metric_type::counter};
constexpr descriptor queue_depth_family{
    "tidelog_reactor_cross_shard_queue_depth",
    "Cross-shard requests and replies waiting in the shard's inbound rings.",
    metric_type::gauge};
constexpr descriptor backpressure_family{
    "tidelog_reactor_backpressure_events_total",
    "Cross-shard calls that found no credit (a full mailbox) and waited.",
    metric_type::counter};
constexpr descriptor cache_bytes_family{"tidelog_memory_cache_bytes",
                                        "Bytes in the shard's read cache of recent batches.",
                                        metric_type::gauge};
constexpr descriptor segments_family{"tidelog_storage_segments",
                                     "Log segments of the shard's partitions.",
                                     metric_type::gauge};
constexpr descriptor group_lag_family{
    "tidelog_consumer_group_lag",
    "High watermark minus the group's committed offset, per partition.", metric_type::gauge};
constexpr descriptor group_committed_family{"tidelog_consumer_group_committed_offset",
                                            "The group's committed offset, per partition.",
                                            metric_type::gauge};

// Registered write buffers per shard: 8 x 4 MiB (the storage engine's
// largest write); without them (RLIMIT_MEMLOCK) writes pin pages each time.
constexpr size_t pool_chunk_bytes = 4 * 1024 * 1024;
constexpr size_t pool_chunks = 8;

class cluster_shard final : public service {
public:
    cluster_shard(node_state& state, unsigned shard_id) : _state(state), _shard_id(shard_id) {}
    std::string_view name() const noexcept override { return "cluster"; }

    task<result<void, std::string>> start() override {
        auto& ring = reactor::shard::local().io();
        auto pool = uring::registered_buffer_pool::create(ring, pool_chunk_bytes, pool_chunks);
        if (pool) {
            _pool = std::move(*pool);
        } else {
            spdlog::warn("shard {}: no registered write buffers ({}); writes pin pages each time",
                         _shard_id, pool.error().message());
        }
        _disk = std::make_unique<storage::uring_disk>(ring, _pool.get());
        _manager = std::make_unique<cluster::partition_manager>(
            _shard_id, _state.config.data_dir, *_disk, _executor,
            _state.config.cache_bytes_per_shard);
        _manager->set_peers(_state.managers);
        _manager->set_metrics(_state.registries[_shard_id].get(),
                              _state.config.metrics_per_partition);
        _state.managers[_shard_id] = _manager.get();
        if (_shard_id == cluster::controller_shard) {
            _controller = std::make_unique<cluster::controller>(*_disk, _state.controller,
                                                                _state.managers);
            auto started = co_await _controller->start();
            if (!started) {
                co_await cleanup();
                co_return failure{started.error()};
            }
            _state.controller_instance = _controller.get();
        }
        cluster::controller* c = _state.controller_instance;
        auto image = co_await reactor::submit_to(cluster::controller_shard,
                                                 [c]() { return c->image(); });
        auto applied = co_await _manager->apply(std::move(image));
        if (!applied) {
            // That partition answers KAFKA_STORAGE_ERROR; the rest serve.
            spdlog::error("shard {}: {}", _shard_id, applied.error());
        }
        if (_shard_id + 1 == _state.config.smp) {
            // Every shard's partition manager exists: images may flow.
            auto activated = co_await reactor::submit_to(cluster::controller_shard,
                                                         [c]() { return c->activate(); });
            if (!activated) {
                co_await cleanup();
                co_return failure{activated.error()};
            }
        }
        spdlog::debug("shard {}: {} partitions open", _shard_id, _manager->partition_count());
        co_return result<void, std::string>{};
    }

    task<void> stop() override { co_await cleanup(); }

private:
    task<void> cleanup() {
        // The last shard stops first: the controller stops publishing images
        // before any partition manager goes.
        cluster::controller* c = _state.controller_instance;
        if (_shard_id + 1 == _state.config.smp && c != nullptr) {
            co_await reactor::submit_to(cluster::controller_shard, [c]() { return c->stop(); });
        }
        if (_controller != nullptr) co_await _controller->stop();
        if (_manager != nullptr) co_await _manager->stop();
        if (_shard_id == cluster::controller_shard) _state.controller_instance = nullptr;
        _state.managers[_shard_id] = nullptr;
        _controller.reset();
        _manager.reset();
        _disk.reset();
        _pool.reset();
    }

    node_state& _state;
    const unsigned _shard_id;
    reactor::shard_executor _executor;
    std::unique_ptr<uring::registered_buffer_pool> _pool;
    std::unique_ptr<storage::uring_disk> _disk;
    std::unique_ptr<cluster::partition_manager> _manager;
    std::unique_ptr<cluster::controller> _controller;
};

class kafka_shard final : public service {
public:
    kafka_shard(node_state& state, unsigned shard_id)
        : _state(state),
          _producer_ids(
              cluster::producer_id_allocator::from_controller(&state.controller_instance)),
          _context(state.kafka, shard_id, state.managers, &state.controller_instance,
                   state.coordinators, _producer_ids),
          _probe(*state.registries[shard_id], shard_id, kafka::implemented_apis()),
          _dispatcher(_context, &_probe),
          _server(_dispatcher, state.kafka.limits, &_probe),
          _shard_id(shard_id) {}
    std::string_view name() const noexcept override { return "kafka"; }

    task<result<void, std::string>> start() override {
        uring::socket_address address = _state.config.kafka_addr.resolved;
        if (address.port() == 0 && _shard_id != 0) {
            // Shard 0 picked the port; the others share it (SO_REUSEPORT).
            address = with_port(address, _state.kafka_port.load());
        }
        auto bound = _server.listen(reactor::shard::local().io(), address);
        if (!bound) co_return failure{bound.error()};
        _coordinator = std::make_unique<kafka::groups::group_coordinator>(
            _shard_id, *_state.managers[_shard_id], _state.coordinators, _state.groups, _executor);
        _state.coordinators[_shard_id] = _coordinator.get();
        _coordinator->start();
        if (_shard_id == 0) _state.kafka_port.store(_server.local_address().port());
        _server.start();
        register_shard_metrics();
        _background.spawn(publish_loop());
        co_return result<void, std::string>{};
    }

    task<void> stop() override {
        _stopping = true;
        _stop_publishing.fire();
        co_await _background.wait();
        _shard_registrations.clear();
        _state.registries[_shard_id]->publish(group_lag_family, {});
        _state.registries[_shard_id]->publish(group_committed_family, {});
        co_await _server.stop();
        if (_coordinator != nullptr) {
            co_await _coordinator->stop();
            _state.coordinators[_shard_id] = nullptr;
            _coordinator.reset();
        }
    }

private:
    // The reactor's measurements and the values publish() refreshes.
    void register_shard_metrics() {
        metrics::registry& r = *_state.registries[_shard_id];
        reactor::shard& here = reactor::shard::local();
        const std::string labels =
            metrics::render_labels({{"shard", std::to_string(_shard_id)}});
        const reactor::shard_metrics& loop = here.metrics();
        _shard_registrations.push_back(r.add(busy_ratio_family, labels, loop.busy_ratio));
        _shard_registrations.push_back(r.add(stalls_family, labels, loop.stalls));
        _shard_registrations.push_back(
            r.add(backpressure_family, labels, loop.backpressure_events));
        // The ring indexes are atomics: read by the scrape thread directly.
        reactor::shard* shard = &here;
        _shard_registrations.push_back(r.add(queue_depth_family, labels, [shard] {
            return static_cast<double>(shard->inbound_queue_depth());
        }));
        _shard_registrations.push_back(r.add(cache_bytes_family, labels, _cache_bytes));
        _shard_registrations.push_back(r.add(segments_family, labels, _segments));
    }

    // Refreshes what is not updated where it changes: partition offsets and
    // sizes, the shard's totals, readiness and consumer group lag.
    task<void> publish_loop() {
        while (!_stopping) {
            publish();
            if (!_loaded && _coordinator->loaded()) {
                _loaded = true;
                _state.shards_loaded.fetch_add(1, std::memory_order_acq_rel);
            }
            if (_loaded) co_await publish_group_lag();
            if (_stopping) break;
            // Until the groups are replayed, look often: /ready waits for it.
            co_await _executor.sleep(_loaded ? publish_interval : loading_check_interval,
                                     _stop_publishing);
        }
    }

    void publish() {
        const cluster::shard_storage_totals totals = _state.managers[_shard_id]->publish_metrics();
        _cache_bytes.set(totals.cache_bytes);
        _segments.set(totals.segments);
        _probe.connection_memory(_server.connection_memory_bytes());
        _state.partition_counts[_shard_id].store(_state.managers[_shard_id]->partition_count(),
                                                 std::memory_order_relaxed);
    }

    // Lag of the groups this shard coordinates, published as a whole.
    task<void> publish_group_lag() {
        std::vector<kafka::groups::listed_group> groups;
        if (_coordinator->list({}, groups) != 0) co_return;
        std::vector<std::pair<std::string, double>> lag;
        std::vector<std::pair<std::string, double>> committed;
        auto image = _state.managers[_shard_id]->image();
        for (const auto& g : groups) {
            std::vector<kafka::groups::partition_lag> partitions;
            const int16_t error = co_await kafka::groups::consumer_lag(
                _state.coordinators, _state.managers, image, g.group_id, partitions);
            if (error != 0 || _stopping) continue;
            for (const auto& p : partitions) {
                std::string labels = metrics::render_labels(
                    {{"group", g.group_id},
                     {"topic", p.topic},
                     {"partition", std::to_string(p.partition)}});
                committed.emplace_back(labels, static_cast<double>(p.committed_offset));
                if (p.log_end_offset >= 0) {
                    lag.emplace_back(std::move(labels), static_cast<double>(p.lag));
                }
            }
        }
        if (_stopping) co_return;
        _state.registries[_shard_id]->publish(group_lag_family, std::move(lag));
        _state.registries[_shard_id]->publish(group_committed_family, std::move(committed));
    }

    static uring::socket_address with_port(const uring::socket_address& a, uint16_t port) {
        sockaddr_storage storage{};
        std::memcpy(&storage, a.data(), a.length());
        if (a.family() == AF_INET6) {
            reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
        } else {
            reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
        }
        return uring::socket_address(reinterpret_cast<const sockaddr*>(&storage), a.length());
    }

    node_state& _state;
    reactor::shard_executor _executor;
    std::unique_ptr<kafka::groups::group_coordinator> _coordinator;
    // Before _context, which refers to it; outlives every handler (the
    // server stops first).
    cluster::producer_id_allocator _producer_ids;
    kafka::broker_context _context;
    kafka::kafka_probe _probe;  // before the dispatcher and server, which count into it
    kafka::broker_dispatcher _dispatcher;
    kafka::server _server;
    const unsigned _shard_id;
    metrics::gauge _cache_bytes;
    metrics::gauge _segments;
    std::vector<metrics::registration> _shard_registrations;
    reactor::gate _background;
    wakeup _stop_publishing;
    bool _stopping = false;
    bool _loaded = false;
};

}  // namespace

service_factory cluster_service(node_state& state) {
    return [&state](unsigned shard_id) { return std::make_unique<cluster_shard>(state, shard_id); };
}

service_factory kafka_service(node_state& state) {
    return [&state](unsigned shard_id) { return std::make_unique<kafka_shard>(state, shard_id); };
}

}  // namespace tl::app
