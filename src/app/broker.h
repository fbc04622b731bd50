// The broker's lifecycle: shards up, services started on every shard, and the
// reverse on the way down, within a deadline.
//
//   broker b(config);
//   b.add_service(factory);          // before start(); one instance per shard
//   if (auto started = b.start(); !started) ...;
//   ... wait for SIGTERM ...
//   if (b.stop() == stop_outcome::timed_out) _exit(1);   // see stop()
//
// A service instance is created, started, stopped and destroyed on its own
// shard (memory made on a shard is freed there). Services start in the order
// they were added, each on every shard (shard 0 first) before the next one,
// so a service may use those added before it on any shard; they stop in the
// reverse order.
//
// Called from the control thread (main), never from a shard: start() and
// stop() block on smp::run_on().
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "base/result.h"
#include "base/task.h"
#include "reactor/smp.h"

namespace tl::app {

// Something that runs on every shard (the Kafka listener, metrics, ...).
class service {
public:
    virtual ~service() = default;
    virtual std::string_view name() const noexcept = 0;
    // On the owning shard. An error aborts start-up: services already started
    // are stopped again and broker::start() returns the message. An instance
    // whose start() failed is destroyed without stop(): it cleans up itself.
    virtual task<result<void, std::string>> start() = 0;
    // On the owning shard; must finish whatever start() began (close
    // listeners, drain connections) so that the shard can leave its loop.
    virtual task<void> stop() = 0;
};

// Makes the instance of a service for one shard; called on that shard.
using service_factory = std::function<std::unique_ptr<service>(unsigned shard_id)>;

enum class stop_outcome : uint8_t {
    stopped,    // every service stopped and every shard thread joined
    timed_out,  // the deadline passed: threads may still run, see broker::stop()
};

class broker {
public:
    explicit broker(const broker_config& config);
    // Stops if still running. After a timed-out stop() the reactor is
    // deliberately leaked: destroying it would wait for threads that hang.
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    void add_service(service_factory factory);

    // Starts the shards (smp::start with options from the config), then every
    // service on every shard. On failure, whatever started is stopped again
    // (check is_abandoned(): that stop may have timed out).
    result<void, std::string> start();

    // Asks every shard to stop its services (via run_on), then the reactor to
    // stop and drain, all within shutdown_timeout_ms. On timed_out the caller
    // must leave the process without running destructors (`_exit`): shard
    // threads and a helper thread may still be running and use this object.
    stop_outcome stop();

    bool is_running() const noexcept { return _state == state::running; }
    // After a timed-out stop (also inside a failed start()): the process must
    // `_exit` without destroying this object.
    bool is_abandoned() const noexcept { return _state == state::abandoned; }
    unsigned shard_count() const noexcept { return _smp ? _smp->shard_count() : 0; }
    const broker_config& config() const noexcept { return _config; }

private:
    enum class state : uint8_t { created, running, stopped, abandoned };
    using shard_services = std::vector<std::unique_ptr<service>>;

    task<result<void, std::string>> start_on_shard(unsigned shard_id, size_t layer);
    // Stops the shard's instance of service `layer` if it is running.
    task<void> stop_on_shard(unsigned shard_id, size_t layer);
    // Stops the services of every shard from a helper thread, so that a hung
    // service cannot hold the caller past `deadline`; false on timeout.
    bool stop_services_before(std::chrono::steady_clock::time_point deadline);

    const broker_config _config;
    std::vector<service_factory> _factories;
    std::unique_ptr<reactor::smp> _smp;
    // Indexed by shard; entry k is touched only on shard k.
    std::vector<shard_services> _services;
    state _state = state::created;
};

}  // namespace tl::app
