#include "kafka/server/connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "reactor/shard.h"

namespace tl::kafka {
namespace {

// Frames up to this size are read through the read-ahead buffer, several per
// receive when the client pipelines; larger ones are received in place.
constexpr size_t read_ahead_bytes = 64 * 1024;
// Ready responses up to this size go out in one send.
constexpr size_t coalesce_bytes = 64 * 1024;
// The smallest request a header can describe: api key, version, correlation
// id and a client id length.
constexpr size_t min_request_bytes = 10;

int32_t read_be32(const std::byte* p) noexcept {
    uint32_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return static_cast<int32_t>(__builtin_bswap32(v));
}

}  // namespace

connection::connection(uring::socket socket, request_dispatcher& dispatcher,
                       connection_limits limits)
    : _socket(std::move(socket)),
      _dispatcher(dispatcher),
      _limits(limits),
      _peer(_socket.peer_address().to_string()),
      _input(read_ahead_bytes),
      _idle_timer([this] { on_idle_timer(); }) {}

connection::~connection() {
    TL_ASSERT(_handlers.running() == 0, "connection destroyed with requests running");
}

task<void> connection::run() {
    touch();
    _idle_timer.arm_at(_last_activity + _limits.idle_timeout);
    reactor::gate writer;
    writer.spawn(write_loop());
    co_await read_loop();
    _reading_done = true;
    _slot_ready.notify_all();
    co_await _handlers.wait();
    _slot_ready.notify_all();
    co_await writer.wait();
    _idle_timer.cancel();
    _slots.clear();
    (void)co_await _socket.close();
}

void connection::abort() noexcept {
    if (_aborted) return;
    _aborted = true;
    _socket.cancel();
    for (reactor::condition* c : _abort_listeners) c->notify_all();
    _slot_ready.notify_all();
    _budget_freed.notify_all();
}

void connection::touch() noexcept { _last_activity = reactor::shard::local().now(); }

void connection::on_idle_timer() {
    const steady_time now = reactor::shard::local().now();
    if (_slots.empty() && now - _last_activity >= _limits.idle_timeout) {
        spdlog::debug("kafka: closing idle connection from {}", _peer);
        abort();
        return;
    }
    _idle_timer.arm_at(std::max(now, _last_activity) + _limits.idle_timeout);
}

void connection::close_after_pending(std::string_view reason) {
    spdlog::info("kafka: closing connection from {}: {}", _peer, reason);
    _closing = true;
}

void connection::release(size_t bytes) noexcept {
    TL_ASSERT(bytes <= _charged_bytes, "connection budget released twice");
    _charged_bytes -= bytes;
    _budget_freed.notify_all();
}

task<bool> connection::fill(size_t bytes) {
    if (_input_end - _input_start >= bytes) co_return true;
    if (_input_start > 0) {
        std::memmove(_input.data(), _input.data() + _input_start, _input_end - _input_start);
        _input_end -= _input_start;
        _input_start = 0;
    }
    TL_ASSERT(bytes <= _input.size());
    while (_input_end < bytes) {
        auto got = co_await _socket.receive_some(std::span(_input).subspan(_input_end));
        if (!got) co_return false;
        _input_end += *got;
        _stats.bytes_received += *got;
        touch();
    }
    co_return true;
}

task<bool> connection::wait_for_budget(size_t bytes) {
    while (!_aborted && !_slots.empty() &&
           (_charged_bytes + bytes > _limits.memory_budget_bytes ||
            _slots.size() >= _limits.max_in_flight_requests)) {
        ++_stats.budget_waits;
        co_await _budget_freed.wait();
    }
    co_return !_aborted;
}

task<void> connection::read_loop() {
    while (!_aborted && !_closing) {
        if (!co_await fill(frame_size_prefix_bytes)) {
            abort();  // the peer closed, or the socket failed
            break;
        }
        const int32_t size = read_be32(_input.data() + _input_start);
        if (size < 0 || static_cast<size_t>(size) < min_request_bytes ||
            static_cast<size_t>(size) > _limits.max_request_bytes) {
            close_after_pending(fmt::format("request size {} outside [{}, {}]", size,
                                            min_request_bytes, _limits.max_request_bytes));
            break;
        }
        const size_t frame_bytes = static_cast<size_t>(size);
        if (!co_await wait_for_budget(frame_bytes)) break;

        _input_start += frame_size_prefix_bytes;
        // Not zeroed: every byte is about to be received into it.
        request_bytes frame{std::unique_ptr<std::byte[]>(new std::byte[frame_bytes]),
                            frame_bytes};
        const size_t buffered = std::min(frame_bytes, _input_end - _input_start);
        std::memcpy(frame.data.get(), _input.data() + _input_start, buffered);
        _input_start += buffered;
        if (buffered < frame_bytes) {
            auto rest = co_await _socket.receive_exactly(frame.span().subspan(buffered));
            if (!rest) {
                abort();
                break;
            }
            _stats.bytes_received += frame_bytes - buffered;
            touch();
        }
        ++_stats.requests;

        auto id = peek_request_id(frame.span());
        if (!id) {
            close_after_pending("request header truncated");
            break;
        }
        if (!_dispatcher.serves(id->api_key, id->api_version)) {
            if (id->api_key == api_keys::api_versions) {
                slot& s = _slots.emplace_back();
                s.reply = response::of(_dispatcher.unsupported_api_versions(id->correlation_id));
                s.charged_bytes = s.reply.bytes.size();
                charge(s.charged_bytes);
                s.ready = true;
                _slot_ready.notify_all();
                continue;
            }
            close_after_pending(fmt::format("unsupported API key {} version {}", id->api_key,
                                            id->api_version));
            break;
        }
        slot& s = _slots.emplace_back();
        s.charged_bytes = frame_bytes;
        charge(frame_bytes);
        _handlers.spawn(handle(s, std::move(frame)));
    }
}

task<void> connection::handle(slot& s, request_bytes frame) {
    response reply;
    {
        auto parsed = parse_request_frame(frame.span());
        if (!parsed) {
            reply = response::close_connection();
        } else {
            request_context context{*parsed, *this};
            reply = co_await _dispatcher.handle(context);
        }
    }
    frame.data.reset();
    release(s.charged_bytes);
    s.charged_bytes = reply.bytes.size();
    charge(s.charged_bytes);
    s.reply = std::move(reply);
    s.ready = true;
    _slot_ready.notify_all();
}

task<void> connection::write_loop() {
    std::vector<std::byte> batch;
    for (;;) {
        while (!_aborted && !_slots.empty() && _slots.front().ready) {
            slot& front = _slots.front();
            if (front.reply.what == response::kind::close) {
                // A request whose body did not parse: nothing after it is sent.
                close_after_pending("malformed request body");
                _socket.cancel();  // the reader may be waiting for more bytes
                release(front.charged_bytes);
                _slots.pop_front();
                abort();
                break;
            }
            // Coalesce the ready responses at the front into one send.
            batch.clear();
            size_t taken = 0;
            size_t released = 0;
            for (slot& s : _slots) {
                if (!s.ready || s.reply.what == response::kind::close) break;
                if (taken > 0 && batch.size() + s.reply.bytes.size() > coalesce_bytes) break;
                released += s.charged_bytes;
                ++taken;
                if (s.reply.what == response::kind::none) continue;
                if (taken == 1 && s.reply.bytes.size() > coalesce_bytes) {
                    batch = std::move(s.reply.bytes);
                    break;
                }
                batch.insert(batch.end(), s.reply.bytes.begin(), s.reply.bytes.end());
            }
            if (!batch.empty()) {
                auto sent = co_await _socket.send_all(batch);
                if (!sent) {
                    abort();
                    break;
                }
                _stats.bytes_sent += batch.size();
                touch();
            }
            for (size_t i = 0; i < taken; ++i) _slots.pop_front();
            release(released);
        }
        if (_aborted) break;
        if (_slots.empty() && (_reading_done || _closing)) break;
        co_await _slot_ready.wait();
    }
}

}  // namespace tl::kafka
