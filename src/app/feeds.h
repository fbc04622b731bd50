// Feed ingest in the broker (DESIGN.md §7): the `feeds:` of the config become
// DPDK ports opened once per process and, on every shard, a poller for the
// RX queues that shard owns (queue q of a feed is polled by shard q % smp;
// with A/B arbitration queue q of both lines is, so one sequencer sees both).
//
//   auto runtime = prepare_feeds(config);     // control thread, before the shards
//   if (*runtime) daemon.add_service(feed_service(state, **runtime));
//   ... daemon.stop(); runtime->reset();       // ports closed after the shards
//
// Built with or without DPDK: without it, a config with feeds is a start-up
// error naming the key, and nothing else changes.
#pragma once

#include <memory>

#include "app/broker.h"
#include "app/config.h"
#include "app/node.h"
#include "base/result.h"

namespace tl::app {

// The process-wide part of feed ingest: the EAL, the ports, the clock.
struct feed_runtime;
struct feed_runtime_deleter {
    void operator()(feed_runtime* runtime) const noexcept;
};
using feed_runtime_ptr = std::unique_ptr<feed_runtime, feed_runtime_deleter>;

// With no feeds configured: null, and DPDK is never started. Otherwise starts
// the EAL and opens every feed's ports; errors name the key at fault.
result<feed_runtime_ptr, config_error> prepare_feeds(const broker_config& config);

// Per shard: makes sure each feed's topic exists (shard 0, through the
// controller), then polls this shard's queues until stopped, when it drains
// the appends in flight. Add it after the cluster service.
service_factory feed_service(node_state& state, feed_runtime& runtime);

}  // namespace tl::app
