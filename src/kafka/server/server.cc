#include "kafka/server/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace tl::kafka {

server::server(request_dispatcher& dispatcher, connection_limits limits, kafka_probe* probe)
    : _dispatcher(dispatcher), _limits(limits), _probe(probe) {}

server::~server() { TL_ASSERT(_tasks.running() == 0, "server destroyed while running"); }

result<void, std::string> server::listen(uring::ring& ring, const uring::socket_address& address) {
    auto bound = uring::listener::bind(ring, address);
    if (!bound) {
        return failure{fmt::format("listen on {}: {}", address.to_string(),
                                   bound.error().message())};
    }
    _listener = std::move(*bound);
    return {};
}

void server::start() { _tasks.spawn(accept_loop()); }

task<void> server::accept_loop() {
    while (!_stopping) {
        auto accepted = co_await _listener.accept();
        if (!accepted) {
            if (_stopping) break;
            // EMFILE and friends: keep serving the connections we have.
            spdlog::warn("kafka: accept failed: {}", accepted.error().message());
            continue;
        }
        if (_stopping) {
            (void)co_await accepted->close();
            break;
        }
        ++_accepted;
        if (_probe != nullptr) _probe->connection_opened();
        const int one = 1;
        (void)::setsockopt(accepted->descriptor(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        _connections.push_front(
            std::make_unique<connection>(std::move(*accepted), _dispatcher, _limits));
        _tasks.spawn(serve(_connections.begin()));
    }
}

task<void> server::serve(std::list<std::unique_ptr<connection>>::iterator it) {
    co_await (*it)->run();
    _connections.erase(it);
    if (_probe != nullptr) _probe->connection_closed();
}

connection_stats server::open_connection_stats() const noexcept {
    connection_stats sum;
    for (const auto& c : _connections) {
        sum.requests += c->stats().requests;
        sum.bytes_received += c->stats().bytes_received;
        sum.bytes_sent += c->stats().bytes_sent;
        sum.budget_waits += c->stats().budget_waits;
    }
    return sum;
}

uint64_t server::connection_memory_bytes() const noexcept {
    uint64_t sum = 0;
    for (const auto& c : _connections) sum += c->memory_bytes();
    return sum;
}

task<void> server::stop() {
    _stopping = true;
    _listener.cancel();
    for (auto& c : _connections) c->abort();
    co_await _tasks.wait();
    (void)co_await _listener.close();
}

}  // namespace tl::kafka
