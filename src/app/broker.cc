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

    for (unsigned id = 0; id < _smp->shard_count(); ++id) {
        auto on_shard = _smp->run_on(id, [this, id] { return start_on_shard(id); });
        if (!on_shard) {
            // Shard `id` has already stopped what it had started; undo the rest.
            if (stop() == stop_outcome::timed_out) {
                return failure{fmt::format("{}; then stopping the started services timed out",
                                           on_shard.error())};
            }
            return failure{on_shard.error()};
        }
    }
    spdlog::debug("broker: {} services started on {} shards", _factories.size(),
                  _smp->shard_count());
    return {};
}

task<result<void, std::string>> broker::start_on_shard(unsigned shard_id) {
    shard_services& mine = _services[shard_id];
    for (const service_factory& factory : _factories) {
        std::unique_ptr<service> instance = factory(shard_id);
        TL_ASSERT(instance != nullptr, "service factory returned nothing");
        auto started = co_await instance->start();
        if (!started) {
            // A service whose start() failed cleaned up after itself; the
            // ones before it are running and must stop.
            const std::string message = fmt::format("service {} on shard {}: {}", instance->name(),
                                                    shard_id, started.error());
            instance.reset();
            co_await stop_on_shard(shard_id);
            co_return failure{message};
        }
        mine.push_back(std::move(instance));
    }
    co_return result<void, std::string>{};
}

task<void> broker::stop_on_shard(unsigned shard_id) {
    shard_services& mine = _services[shard_id];
    while (!mine.empty()) {
        co_await mine.back()->stop();
        mine.pop_back();
    }
    mine = shard_services{};  // free the vector's storage here, on its shard
}

bool broker::stop_services_before(std::chrono::steady_clock::time_point deadline) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    std::thread helper([this, done] {
        for (unsigned id = _smp->shard_count(); id-- > 0;) {
            _smp->run_on(id, [this, id] { return stop_on_shard(id); });
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
