// One client connection: reads request frames, runs a handler per request,
// and writes the responses back in request order.
//
// Pipelining: the reader keeps reading while earlier requests run; each
// request gets a slot in a FIFO, its handler fills the slot whenever it
// finishes (handlers for one connection may finish out of order when their
// partitions live on other shards), and the writer sends slots from the front
// as they become ready. Produce with acks=0 fills its slot with "no response".
//
// Bounds: a frame larger than max_request_bytes (socket.request.max.bytes)
// closes the connection, as in Kafka. Request bytes being handled plus
// response bytes waiting to be sent are charged to the connection's memory
// budget; while the budget is spent the reader stops reading (TCP pushes back
// on the client) instead of buffering. An idle connection (no request in
// flight, nothing read or written for idle_timeout) is closed.
//
// A malformed frame (bad size, header that does not parse, unknown API key or
// an unsupported version of an API other than ApiVersions) closes this
// connection only, after the responses already due have been sent.
//
// Lives on the shard that accepted the socket; everything here runs there.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/task.h"
#include "kafka/protocol/frame.h"
#include "reactor/condition.h"
#include "reactor/timer.h"
#include "uring/socket.h"

namespace tl::kafka {

struct connection_limits {
    size_t max_request_bytes = request_frame_size_max;        // socket.request.max.bytes
    size_t memory_budget_bytes = size_t{64} * 1024 * 1024;     // per connection
    size_t max_in_flight_requests = 4096;
    std::chrono::milliseconds idle_timeout{10 * 60 * 1000};   // connections.max.idle.ms
};

// What a handler produced for one request.
struct response {
    enum class kind : uint8_t { frame, none, close };
    kind what = kind::frame;
    std::vector<std::byte> bytes;  // a whole response frame, for kind::frame

    static response of(std::vector<std::byte> frame) { return {kind::frame, std::move(frame)}; }
    static response no_response() { return {kind::none, {}}; }
    static response close_connection() { return {kind::close, {}}; }
};

class connection;
class kafka_probe;

// Handed to handlers: the parsed request and ways to learn that the
// connection went away (long-polling handlers wait on `aborted` too).
struct request_context {
    const request_frame& frame;
    connection& conn;
    // Set by the dispatcher: make_response() counts the response's error codes.
    kafka_probe* probe = nullptr;
    [[nodiscard]] int16_t api_key() const noexcept { return frame.header.request_api_key; }
    [[nodiscard]] int16_t api_version() const noexcept {
        return frame.header.request_api_version;
    }
    [[nodiscard]] int32_t correlation_id() const noexcept { return frame.header.correlation_id; }
};

// Routes a request to its handler. One per shard, shared by its connections.
class request_dispatcher {
public:
    virtual ~request_dispatcher() = default;
    // Whether `version` of `api_key` is served; connections close on
    // anything else (except ApiVersions, which answers UNSUPPORTED_VERSION).
    [[nodiscard]] virtual bool serves(int16_t api_key, int16_t api_version) const noexcept = 0;
    // The response to a served request (or kind::close for a body that does
    // not parse). Must not throw; runs on the connection's shard.
    virtual task<response> handle(request_context& context) = 0;
    // The frame that answers an ApiVersions request of an unsupported
    // version: a v0 body with UNSUPPORTED_VERSION and our ranges (KIP-511).
    [[nodiscard]] virtual std::vector<std::byte> unsupported_api_versions(
        int32_t correlation_id) const = 0;
};

struct connection_stats {
    uint64_t requests = 0;
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t budget_waits = 0;
};

class connection {
public:
    connection(uring::socket socket, request_dispatcher& dispatcher, connection_limits limits);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    // Serves the connection until the peer closes it, it misbehaves, it idles
    // out or abort() is called; returns once every request has finished and
    // the socket is closed.
    task<void> run();

    // Stops reading and writing at once and wakes long-polling handlers.
    void abort() noexcept;
    [[nodiscard]] bool aborted() const noexcept { return _aborted; }
    // Long-polling handlers register the condition they wait on, so that
    // abort() wakes them (they then see aborted() and answer at once).
    void add_abort_listener(reactor::condition& c) { _abort_listeners.push_back(&c); }
    void remove_abort_listener(reactor::condition& c) noexcept {
        std::erase(_abort_listeners, &c);
    }

    [[nodiscard]] const std::string& peer() const noexcept { return _peer; }
    [[nodiscard]] const connection_stats& stats() const noexcept { return _stats; }
    // The read-ahead buffer plus the bytes charged to the budget.
    [[nodiscard]] size_t memory_bytes() const noexcept { return _input.size() + _charged_bytes; }

private:
    // One request frame, without its size prefix.
    struct request_bytes {
        std::unique_ptr<std::byte[]> data;
        size_t size = 0;
        std::span<std::byte> span() const noexcept { return {data.get(), size}; }
    };
    struct slot {
        response reply;
        size_t charged_bytes = 0;
        bool ready = false;
    };

    task<void> read_loop();
    task<void> write_loop();
    task<void> handle(slot& s, request_bytes frame);
    // Fills `_input` until it holds at least `bytes` unread bytes; false on EOF/error.
    task<bool> fill(size_t bytes);
    task<bool> wait_for_budget(size_t bytes);
    void charge(size_t bytes) noexcept { _charged_bytes += bytes; }
    void release(size_t bytes) noexcept;
    void close_after_pending(std::string_view reason);
    void on_idle_timer();
    void touch() noexcept;

    uring::socket _socket;
    request_dispatcher& _dispatcher;
    const connection_limits _limits;
    std::string _peer;

    std::vector<std::byte> _input;  // read-ahead buffer for small frames
    size_t _input_start = 0;
    size_t _input_end = 0;

    std::deque<slot> _slots;  // requests in flight, in arrival order
    size_t _charged_bytes = 0;
    reactor::condition _budget_freed;
    reactor::condition _slot_ready;
    std::vector<reactor::condition*> _abort_listeners;
    reactor::gate _handlers;

    bool _reading_done = false;  // no more requests will be queued
    bool _aborted = false;
    bool _closing = false;       // close once the queued responses are sent
    steady_time _last_activity{};
    reactor::timer _idle_timer;
    connection_stats _stats;
};

}  // namespace tl::kafka
