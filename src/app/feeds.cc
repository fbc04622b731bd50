#include "app/feeds.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tidelog_build_config.h"

#if TIDELOG_HAVE_DPDK
#include "cluster/controller.h"
#include "dpdk/eal.h"
#include "dpdk/port.h"
#include "dpdk/tsc_clock.h"
#include "feed/ingest.h"
#include "reactor/condition.h"
#include "reactor/shard.h"
#include "reactor/submit_to.h"
#endif

namespace tl::app {

#if TIDELOG_HAVE_DPDK

namespace {
// Feed counters owned by the sequencer and the ports are copied into the
// metrics this often.
constexpr auto publish_interval = std::chrono::seconds(1);
}  // namespace

struct feed_runtime {
    struct open_feed {
        const feed::feed_config* config = nullptr;
        std::vector<std::unique_ptr<dpdk::port>> lines;  // line A, line B
    };
    feed::dpdk_settings settings;
    std::vector<open_feed> feeds;
    dpdk::tsc_clock clock;
};

void feed_runtime_deleter::operator()(feed_runtime* runtime) const noexcept { delete runtime; }

result<feed_runtime_ptr, config_error> prepare_feeds(const broker_config& config) {
    if (config.feeds.empty()) return feed_runtime_ptr{};
    dpdk::eal_options eal;
    eal.memory_mb = config.dpdk.memory_mb;
    eal.pages = config.dpdk.hugepages ? dpdk::eal_options::hugepages::use
                                      : dpdk::eal_options::hugepages::none;
    eal.file_prefix = config.dpdk.file_prefix;
    if (config.dpdk.hugepages && eal.file_prefix.empty()) {
        // Shared configuration lives under /var/run/dpdk/<prefix>: one per
        // broker on a host, stable across its restarts (no leftovers pile up).
        eal.file_prefix = fmt::format("tidelog-node{}", config.node_id);
    }
    for (const auto& feed : config.feeds) {
        for (const auto& port : feed.ports) {
            if (!dpdk::is_vdev(port)) eal.pci_devices.push_back(port);
        }
    }
    const std::string dpdk_source(config.source_of("dpdk"));
    if (auto started = dpdk::start_eal(eal); !started) {
        return failure{config_error{"dpdk", started.error(), dpdk_source}};
    }
    feed_runtime_ptr runtime(new feed_runtime);
    runtime->settings = config.dpdk;
    for (size_t f = 0; f < config.feeds.size(); ++f) {
        const feed::feed_config& feed = config.feeds[f];
        feed_runtime::open_feed opened{&feed, {}};
        for (size_t line = 0; line < feed.ports.size(); ++line) {
            dpdk::port_options options;
            options.device = feed.ports[line];
            options.rx_queues = feed.queues;
            options.rx_descriptors = config.dpdk.rx_descriptors;
            options.mbufs_per_queue = config.dpdk.mbufs_per_queue;
            auto port = dpdk::port::open(options);
            if (!port) {
                return failure{config_error{fmt::format("feeds[{}].ports[{}]", f, line),
                                            port.error(), std::string(config.source_of("feeds"))}};
            }
            spdlog::info("feed {}: line {} on {} ({} RX queues{}{})", feed.name,
                         line == 0 ? "A" : "B", feed.ports[line], feed.queues,
                         (*port)->rss_enabled() ? ", RSS" : "",
                         (*port)->has_hardware_timestamps() ? ", NIC timestamps" : "");
            opened.lines.push_back(std::move(*port));
        }
        runtime->feeds.push_back(std::move(opened));
    }
    return runtime;
}

namespace {

class feed_shard final : public service {
public:
    feed_shard(node_state& state, feed_runtime& runtime, unsigned shard_id)
        : _state(state), _runtime(runtime), _shard_id(shard_id) {}
    std::string_view name() const noexcept override { return "feeds"; }

    task<result<void, std::string>> start() override {
        if (auto registered = dpdk::register_thread(); !registered) {
            co_return failure{fmt::format("feeds: shard {}: {}", _shard_id, registered.error())};
        }
        if (_shard_id == cluster::controller_shard) {
            if (auto created = co_await create_topics(); !created) co_return created;
        }
        const unsigned shards = reactor::shard::local().count();
        for (const auto& feed : _runtime.feeds) {
            std::vector<feed::queue_binding> bindings;
            for (uint16_t queue = 0; queue < feed.config->queues; ++queue) {
                if (queue % shards != _shard_id) continue;
                for (unsigned line = 0; line < feed.lines.size(); ++line) {
                    bindings.push_back({feed.lines[line].get(), queue, line});
                }
            }
            if (bindings.empty()) continue;
            feed::ingest_environment environment{_shard_id, _state.managers,
                                                 _state.registries[_shard_id].get(),
                                                 &_runtime.clock};
            _ingests.push_back(std::make_unique<feed::feed_ingest>(
                *feed.config, _runtime.settings, std::move(bindings), environment));
            reactor::shard::local().add_poller(_ingests.back().get());
        }
        if (!_ingests.empty()) _background.spawn(publish_loop());
        co_return result<void, std::string>{};
    }

    task<void> stop() override {
        _stopping = true;
        _wake.notify_all();
        for (auto& ingest : _ingests) reactor::shard::local().remove_poller(ingest.get());
        for (auto& ingest : _ingests) co_await ingest->drain();
        co_await _background.wait();
        _ingests.clear();
        dpdk::unregister_thread();
    }

private:
    // Each feed's topic, created with the feed's partition count when it is
    // missing (an existing topic keeps its own).
    task<result<void, std::string>> create_topics() {
        cluster::controller* controller = _state.controller_instance;
        std::vector<cluster::new_topic> missing;
        const auto image = controller->image();
        for (const auto& feed : _runtime.feeds) {
            if (image->find(feed.config->topic) != nullptr) continue;
            const bool listed = std::any_of(missing.begin(), missing.end(), [&](const auto& t) {
                return t.name == feed.config->topic;
            });
            if (listed) continue;
            cluster::new_topic topic;
            topic.name = feed.config->topic;
            topic.partitions = feed.config->partitions.value_or(_state.kafka.num_partitions);
            missing.push_back(std::move(topic));
        }
        if (missing.empty()) co_return result<void, std::string>{};
        const auto outcomes = co_await controller->create_topics(missing, false);
        for (size_t i = 0; i < outcomes.size(); ++i) {
            if (outcomes[i].error.code == cluster::controller_errc::none) {
                spdlog::info("feeds: created topic {} with {} partitions", missing[i].name,
                             missing[i].partitions);
                continue;
            }
            co_return failure{fmt::format("feeds: cannot create topic {}: {}", missing[i].name,
                                          outcomes[i].error.message)};
        }
        co_return result<void, std::string>{};
    }

    task<void> publish_loop() {
        while (!_stopping) {
            for (auto& ingest : _ingests) ingest->publish_metrics();
            co_await _wake.wait_until(reactor::shard::local().now() + publish_interval);
        }
        for (auto& ingest : _ingests) ingest->publish_metrics();
    }

    node_state& _state;
    feed_runtime& _runtime;
    const unsigned _shard_id;
    std::vector<std::unique_ptr<feed::feed_ingest>> _ingests;
    reactor::gate _background;
    reactor::condition _wake;
    bool _stopping = false;
};

}  // namespace

service_factory feed_service(node_state& state, feed_runtime& runtime) {
    return [&state, &runtime](unsigned shard_id) -> std::unique_ptr<service> {
        return std::make_unique<feed_shard>(state, runtime, shard_id);
    };
}

#else  // !TIDELOG_HAVE_DPDK

struct feed_runtime {};

void feed_runtime_deleter::operator()(feed_runtime* runtime) const noexcept { delete runtime; }

result<feed_runtime_ptr, config_error> prepare_feeds(const broker_config& config) {
    if (config.feeds.empty()) return feed_runtime_ptr{};
    return failure{config_error{
        "feeds",
        "this tidelogd was built without DPDK (meson -Ddpdk=disabled, or libdpdk-dev missing), "
        "so it cannot ingest feeds: remove the feeds section or rebuild with DPDK",
        std::string(config.source_of("feeds"))}};
}

service_factory feed_service(node_state&, feed_runtime&) {
    TL_UNREACHABLE("feed_service without DPDK: prepare_feeds refuses feeds");
}

#endif

}  // namespace tl::app
