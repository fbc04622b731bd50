// TCP through io_uring: listeners (SO_REUSEPORT, one per shard), accepted and
// connected sockets with receive/send that handle short transfers.
//
// Sockets belong to the shard whose ring they use. close() cancels whatever
// is in flight on the descriptor first, so a coroutine blocked in accept() or
// receive() wakes with io_errc::canceled.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/task.h"
#include "uring/io_error.h"
#include "uring/ring.h"

namespace tl::uring {

class socket_address {
public:
    // "127.0.0.1:9092", "[::1]:9092", "0.0.0.0:0", "localhost:9092".
    // Names are resolved synchronously: call this at start-up, not on a shard's hot path.
    static result<socket_address, std::string> parse(std::string_view host_port);

    socket_address() = default;
    socket_address(const sockaddr* address, socklen_t length);

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&_storage); }
    socklen_t length() const noexcept { return _length; }
    int family() const noexcept { return _storage.ss_family; }
    uint16_t port() const noexcept;
    std::string to_string() const;

private:
    sockaddr_storage _storage{};
    socklen_t _length = 0;
};

class socket {
public:
    socket() = default;
    socket(ring& r, int fd) : _ring(&r), _fd(fd) {}
    socket(socket&& other) noexcept : _ring(other._ring), _fd(std::exchange(other._fd, -1)) {}
    socket& operator=(socket&& other) noexcept;
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    ~socket();

    bool is_open() const noexcept { return _fd >= 0; }
    int descriptor() const noexcept { return _fd; }

    // Receives at least one byte into `buffer`; end_of_file when the peer closed.
    task<io_result<size_t>> receive_some(std::span<std::byte> buffer);
    // Receives exactly buffer.size() bytes.
    task<io_result<void>> receive_exactly(std::span<std::byte> buffer);
    // Sends all of `buffer`.
    task<io_result<void>> send_all(std::span<const std::byte> buffer);
    // Cancels operations in flight on this socket; they complete with canceled.
    void cancel() noexcept;
    task<io_result<void>> close();

    socket_address peer_address() const;
    socket_address local_address() const;

private:
    ring* _ring = nullptr;
    int _fd = -1;
};

struct listen_options {
    // Several listeners (one per shard) may bind the same address; the kernel
    // spreads incoming connections over them.
    enum class port_sharing : uint8_t { exclusive, reuse_port } sharing = port_sharing::reuse_port;
    int backlog = 1024;
};

class listener {
public:
    // Binds and listens synchronously (start-up path).
    static io_result<listener> bind(ring& r, const socket_address& address,
                                    listen_options options = {});

    listener() = default;
    listener(listener&& other) noexcept
        : _ring(other._ring), _fd(std::exchange(other._fd, -1)) {}
    listener& operator=(listener&& other) noexcept;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener();

    task<io_result<socket>> accept();
    void cancel() noexcept;
    task<io_result<void>> close();
    socket_address local_address() const;

private:
    listener(ring& r, int fd) : _ring(&r), _fd(fd) {}

    ring* _ring = nullptr;
    int _fd = -1;
};

task<io_result<socket>> connect(ring& r, socket_address address);

}  // namespace tl::uring
