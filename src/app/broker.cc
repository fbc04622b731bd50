#include "app/broker.h"

#include <algorithm>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tl::app {

broker::broker(const broker_config& config) : _config(config) {}

broker::~broker() {
    if (_state == state::running) (void)stop();
    // A helper thread may still be inside run_on() with `this`: returning
    // from here would free what it uses.
    TL_ASSERT(_state != state::abandoned,
              "broker destroyed after a timed-out stop(); the process must _exit instead");
}

void broker::add_service(service_factory factory) {
    TL_ASSERT(_state == state::created, "add_service() after start()");
    TL_ASSERT(factory != nullptr);
    _factories.push_back(std::move(factory));
}

result<void, std::string> broker::start() {
    TL_ASSERT(_state == state::created, "start() called twice");
    auto started = reactor::smp::start(to_reactor_options(_config));
    if (!started) return failure{fmt::format("reactor: {}", started.error())};
    _smp = std::move(*started);
    _services.resize(_smp->shard_count());
    _state = state::running;

    // Layer by layer: a service may rely on the ones added before it running
    // on every shard (the Kafka listener routes to every shard's partitions).
    for (size_t layer = 0; layer < _factories.size(); ++layer) {
        for (unsigned id = 0; id < _smp->shard_count(); ++id) {
            auto on_shard =
                _smp->run_on(id, [this, id, layer] { return start_on_shard(id, layer); });
            if (!on_shard) {
                // Nothing of the failed instance is left; undo what started.
                if (stop() == stop_outcome::timed_out) {
                    return failure{fmt::format("{}; then stopping the started services timed out",
                                               on_shard.error())};
                }
                return failure{on_shard.error()};
            }
        }
    }
    spdlog::debug("broker: {} services started on {} shards", _factories.size(),
                  _smp->shard_count());
    return {};
}

task<result<void, std::string>> broker::start_on_shard(unsigned shard_id, size_t layer) {
    std::unique_ptr<service> instance = _factories[layer](shard_id);
    TL_ASSERT(instance != nullptr, "service factory returned nothing");
    auto started = co_await instance->start();
    if (!started) {
        // A service whose start() failed cleaned up after itself.
        const std::string message =
            fmt::format("service {} on shard {}: {}", instance->name(), shard_id, started.error());
        instance.reset();
        co_return failure{message};
    }
    _services[shard_id].push_back(std::move(instance));
    co_return result<void, std::string>{};
}

task<void> broker::stop_on_shard(unsigned shard_id, size_t layer) {
    shard_services& mine = _services[shard_id];
    if (mine.size() <= layer) co_return;
    co_await mine.back()->stop();
    mine.pop_back();
    if (mine.empty()) mine = shard_services{};  // free the vector's storage here, on its shard
}

bool broker::stop_services_before(std::chrono::steady_clock::time_point deadline) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    std::thread helper([this, done] {
        // The reverse of start(): the last layer first, on every shard.
        for (size_t layer = _factories.size(); layer-- > 0;) {
            for (unsigned id = _smp->shard_count(); id-- > 0;) {
                _smp->run_on(id, [this, id, layer] { return stop_on_shard(id, layer); });
            }
        }
        done->set_value();
    });
    if (finished.wait_until(deadline) == std::future_status::ready) {
        helper.join();
        return true;
    }
    // Still blocked in run_on() behind a service that does not stop; the
    // caller exits the process, which ends this thread too.
    helper.detach();
    return false;
}

stop_outcome broker::stop() {
    if (_state != state::running) {
        TL_ASSERT(_state != state::abandoned, "stop() after a timed-out stop()");
        return stop_outcome::stopped;
    }
    const auto timeout = std::chrono::milliseconds(_config.shutdown_timeout_ms);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!stop_services_before(deadline)) {
        _state = state::abandoned;
        return stop_outcome::timed_out;
    }
    _smp->request_stop();
    const auto remaining = std::max(std::chrono::steady_clock::duration::zero(),
                                    deadline - std::chrono::steady_clock::now());
    if (!_smp->join(remaining)) {
        _state = state::abandoned;
        return stop_outcome::timed_out;
    }
    _smp.reset();
    _services.clear();
    _state = state::stopped;
    return stop_outcome::stopped;
}

}  // namespace tl::app
