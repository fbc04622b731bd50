// The Kafka listener of one shard: accepts connections on its own
// SO_REUSEPORT socket (the kernel spreads clients over the shards) and serves
// each with a `connection`.
//
//   server s(dispatcher, limits);
//   if (auto bound = s.listen(shard.io(), address); !bound) ...;
//   s.start();
//   ...
//   co_await s.stop();   // closes the listener, aborts connections, waits
#pragma once

#include <list>
#include <memory>
#include <string>

#include "base/result.h"
#include "base/task.h"
#include "kafka/server/connection.h"
#include "kafka/server/probe.h"
#include "reactor/condition.h"
#include "uring/socket.h"

namespace tl::kafka {

class server {
public:
    // `probe` (may be null) counts connections.
    server(request_dispatcher& dispatcher, connection_limits limits, kafka_probe* probe = nullptr);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    // Binds synchronously (start-up path).
    result<void, std::string> listen(uring::ring& ring, const uring::socket_address& address);
    void start();
    task<void> stop();

    [[nodiscard]] uring::socket_address local_address() const { return _listener.local_address(); }
    [[nodiscard]] size_t connection_count() const noexcept { return _connections.size(); }
    [[nodiscard]] uint64_t connections_accepted() const noexcept { return _accepted; }
    // Summed over the open connections.
    [[nodiscard]] connection_stats open_connection_stats() const noexcept;
    // Bytes the open connections hold: their read-ahead buffers, requests
    // being handled and responses waiting.
    [[nodiscard]] uint64_t connection_memory_bytes() const noexcept;

private:
    task<void> accept_loop();
    task<void> serve(std::list<std::unique_ptr<connection>>::iterator it);

    request_dispatcher& _dispatcher;
    const connection_limits _limits;
    kafka_probe* _probe;
    uring::listener _listener;
    std::list<std::unique_ptr<connection>> _connections;
    reactor::gate _tasks;
    bool _stopping = false;
    uint64_t _accepted = 0;
};

}  // namespace tl::kafka
