#include "transport/transport.h"

#include <algorithm>
#include <cstring>

#include <absl/strings/str_format.h>

#include "base/crc32c.h"

namespace tl::transport {
namespace {

constexpr size_t header_bytes = 8;
constexpr std::array<char, 4> hello_magic{'T', 'L', 'T', 'P'};
constexpr uint8_t hello_version = 1;
constexpr size_t hello_bytes = 4 + 1 + 8;
// How long an idle peer loop sleeps before looking again (send() wakes it).
constexpr duration_ns idle_wait = std::chrono::seconds(1);

void put_u32(std::byte* at, uint32_t v) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<std::byte>(v >> (8 * (3 - i)));
}
uint64_t get(const std::byte* at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | std::to_integer<uint64_t>(at[i]);
    return v;
}

std::vector<std::byte> framed(std::span<const std::byte> payload) {
    std::vector<std::byte> out(header_bytes + payload.size());
    put_u32(out.data(), static_cast<uint32_t>(payload.size()));
    put_u32(out.data() + 4, crc32c(payload));
    std::memcpy(out.data() + header_bytes, payload.data(), payload.size());
    return out;
}

std::vector<std::byte> hello(peer_id self) {
    std::vector<std::byte> payload(hello_bytes);
    for (size_t i = 0; i < 4; ++i) payload[i] = static_cast<std::byte>(hello_magic[i]);
    payload[4] = static_cast<std::byte>(hello_version);
    for (int i = 0; i < 8; ++i) payload[5 + i] = static_cast<std::byte>(self >> (8 * (7 - i)));
    return framed(payload);
}

}  // namespace

transport::transport(uring::ring& ring, executor& executor, transport_options options)
    : _ring(ring), _executor(executor), _options(options) {
    TL_ASSERT(options.self != 0, "a transport needs its own id");
    TL_ASSERT(options.max_queued_frames_per_peer > 0 && options.max_frame_bytes > 0);
    TL_ASSERT(options.reconnect_backoff_min.count() > 0 &&
              options.reconnect_backoff_min <= options.reconnect_backoff_max);
}

transport::~transport() {
    TL_ASSERT(_running == 0, "transport destroyed before stop() completed");
}

result<void, std::string> transport::listen(const uring::socket_address& address) {
    TL_ASSERT(!_listening && !_stopping, "listen() at most once, before stop()");
    auto bound = uring::listener::bind(_ring, address);
    if (!bound) {
        return failure{absl::StrFormat("cannot listen on %s: %s", address.to_string(),
                                       bound.error().message())};
    }
    _listener = std::move(*bound);
    _listening = true;
    start(accept_loop());
    return {};
}

uring::socket_address transport::local_address() const { return _listener.local_address(); }

void transport::add_peer(peer_id id, uring::socket_address address) {
    TL_ASSERT(id != 0 && id != _options.self);
    auto& slot = _peers[id];
    if (!slot) {
        slot = std::make_unique<peer>();
        slot->id = id;
    }
    slot->address = address;
}

size_t transport::queued_frames(peer_id to) const {
    auto it = _peers.find(to);
    return it == _peers.end() ? 0 : it->second->queue.size();
}

bool transport::send(peer_id to, std::span<const std::byte> frame) {
    auto it = _peers.find(to);
    if (it == _peers.end() || _stopping) {
        ++_stats.frames_dropped_unknown_peer;
        return false;
    }
    if (frame.size() > _options.max_frame_bytes) {
        ++_stats.frames_dropped_too_large;
        return false;
    }
    peer& p = *it->second;
    bool dropped = false;
    while (p.queue.size() >= _options.max_queued_frames_per_peer ||
           (!p.queue.empty() &&
            p.queued_bytes + frame.size() + header_bytes > _options.max_queued_bytes_per_peer)) {
        if (_options.overflow == overflow_policy::drop_newest) {
            ++_stats.frames_dropped_queue_full;
            return false;
        }
        p.queued_bytes -= p.queue.front().size();
        p.queue.pop_front();
        ++_stats.frames_dropped_queue_full;
        dropped = true;
    }
    p.queue.push_back(framed(frame));
    p.queued_bytes += p.queue.back().size();
    ++_stats.frames_queued;
    if (!p.running) {
        p.running = true;
        start(run_peer(p));
    } else if (p.wake) {
        p.wake->fire();
    }
    return !dropped;
}

void transport::start(task<void> work) {
    ++_running;
    _executor.spawn(tracked(std::move(work)));
}

task<void> transport::tracked(task<void> work) {
    co_await std::move(work);
    --_running;
}

task<void> transport::wait(peer& p, duration_ns delay) {
    p.wake = std::make_unique<wakeup>();
    co_await _executor.sleep(delay, *p.wake);
}

task<void> transport::run_peer(peer& p) {
    duration_ns backoff = _options.reconnect_backoff_min;
    while (!_stopping) {
        auto connected = co_await uring::connect(_ring, p.address);
        if (_stopping) break;
        if (!connected) {
            ++_stats.connect_failures;
            co_await wait(p, backoff);
            backoff = std::min(backoff * 2, _options.reconnect_backoff_max);
            continue;
        }
        ++_stats.connects;
        p.socket = std::move(*connected);
        auto greeted = co_await p.socket.send_all(hello(_options.self));
        bool healthy = greeted.ok();
        if (healthy) backoff = _options.reconnect_backoff_min;
        std::vector<std::byte> batch;
        while (healthy && !_stopping) {
            if (p.queue.empty()) {
                co_await wait(p, idle_wait);
                continue;
            }
            batch.clear();
            size_t frames = 0;
            while (!p.queue.empty() &&
                   (batch.empty() ||
                    batch.size() + p.queue.front().size() <= _options.max_coalesced_bytes)) {
                auto& front = p.queue.front();
                batch.insert(batch.end(), front.begin(), front.end());
                p.queued_bytes -= front.size();
                p.queue.pop_front();
                ++frames;
            }
            auto sent = co_await p.socket.send_all(batch);
            if (sent) {
                _stats.frames_sent += frames;
            } else {
                _stats.frames_lost_in_flight += frames;
                healthy = false;
            }
        }
        [[maybe_unused]] auto closed = co_await p.socket.close();
        if (!_stopping && !healthy) {
            co_await wait(p, backoff);
            backoff = std::min(backoff * 2, _options.reconnect_backoff_max);
        }
    }
    p.running = false;
}

task<void> transport::accept_loop() {
    while (!_stopping) {
        auto accepted = co_await _listener.accept();
        if (_stopping) {
            if (accepted) {
                [[maybe_unused]] auto closed = co_await accepted->close();
            }
            break;
        }
        if (!accepted) {
            if (accepted.error().code == uring::io_errc::canceled) break;
            // Out of descriptors and the like: try again shortly.
            co_await _executor.sleep(_options.reconnect_backoff_min);
            continue;
        }
        ++_stats.connections_accepted;
        _incoming.push_back(incoming{std::move(*accepted)});
        start(read_connection(std::prev(_incoming.end())));
    }
}

task<void> transport::read_connection(std::list<incoming>::iterator connection) {
    uring::socket& s = connection->socket;
    std::array<std::byte, header_bytes> header{};
    std::vector<std::byte> payload;
    peer_id from = 0;
    while (!_stopping) {
        if (!(co_await s.receive_exactly(header))) break;
        const uint64_t length = get(header.data(), 4);
        const uint32_t stored = static_cast<uint32_t>(get(header.data() + 4, 4));
        if (length > _options.max_frame_bytes) {
            ++_stats.bad_frames;
            break;
        }
        payload.resize(length);
        if (!(co_await s.receive_exactly(payload))) break;
        if (crc32c(payload) != stored) {
            ++_stats.bad_frames;
            break;
        }
        if (from == 0) {
            const bool good = payload.size() == hello_bytes &&
                              std::equal(hello_magic.begin(), hello_magic.end(), payload.begin(),
                                         [](char c, std::byte b) {
                                             return static_cast<std::byte>(c) == b;
                                         }) &&
                              payload[4] == static_cast<std::byte>(hello_version);
            from = good ? get(payload.data() + 5, 8) : 0;
            if (from == 0) {
                ++_stats.bad_frames;
                break;
            }
            continue;
        }
        ++_stats.frames_received;
        if (_handler) _handler(from, payload);
    }
    [[maybe_unused]] auto closed = co_await s.close();
    _incoming.erase(connection);
}

task<void> transport::stop() {
    if (_stopped) co_return;
    _stopping = true;
    if (_listening) _listener.cancel();
    for (auto& [id, p] : _peers) {
        p->socket.cancel();
        if (p->wake) p->wake->fire();
    }
    for (auto& connection : _incoming) connection.socket.cancel();
    while (_running > 0) {
        // Tasks that were between awaits when we cancelled: look again.
        for (auto& [id, p] : _peers) {
            p->socket.cancel();
            if (p->wake) p->wake->fire();
        }
        for (auto& connection : _incoming) connection.socket.cancel();
        co_await _executor.sleep(std::chrono::milliseconds(1));
    }
    if (_listening) {
        [[maybe_unused]] auto closed = co_await _listener.close();
    }
    for (auto& [id, p] : _peers) {
        p->queue.clear();
        p->queued_bytes = 0;
    }
    _stopped = true;
}

}  // namespace tl::transport
