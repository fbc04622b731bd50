#include "uring/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <absl/strings/str_format.h>

#include "uring/operation.h"

namespace tl::uring {
namespace {

void set_no_delay(int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

socket_address address_of(int fd, bool peer) {
    sockaddr_storage storage{};
    socklen_t length = sizeof(storage);
    auto* raw = reinterpret_cast<sockaddr*>(&storage);
    const int rc = peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length);
    if (rc != 0) return {};
    return socket_address(raw, length);
}

}  // namespace

result<socket_address, std::string> socket_address::parse(std::string_view host_port) {
    std::string_view host;
    std::string_view port_text;
    if (!host_port.empty() && host_port.front() == '[') {
        const auto close = host_port.find(']');
        if (close == std::string_view::npos || close + 1 >= host_port.size() ||
            host_port[close + 1] != ':') {
            return failure{std::string("expected [IPv6]:PORT")};
        }
        host = host_port.substr(1, close - 1);
        port_text = host_port.substr(close + 2);
    } else {
        const auto colon = host_port.rfind(':');
        if (colon == std::string_view::npos) return failure{std::string("expected HOST:PORT")};
        host = host_port.substr(0, colon);
        port_text = host_port.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
        port_text.empty()) {
        return failure{absl::StrFormat("invalid port '%s'", port_text)};
    }
    if (host.empty()) return failure{std::string("missing host")};

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string host_string(host);
    const std::string port_string(port_text);
    const int rc = ::getaddrinfo(host_string.c_str(), port_string.c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
        return failure{absl::StrFormat("cannot resolve host '%s': %s", host, gai_strerror(rc))};
    }
    socket_address address(found->ai_addr, found->ai_addrlen);
    ::freeaddrinfo(found);
    return address;
}

socket_address::socket_address(const sockaddr* address, socklen_t length) : _length(length) {
    TL_ASSERT(length <= sizeof(_storage));
    std::memcpy(&_storage, address, length);
}

uint16_t socket_address::port() const noexcept {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&_storage)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_port);
    }
    return 0;
}

std::string socket_address::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&_storage)->sin_addr, text,
                    sizeof(text));
        return absl::StrFormat("%s:%d", text, port());
    }
    if (family() == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_addr, text,
                    sizeof(text));
        return absl::StrFormat("[%s]:%d", text, port());
    }
    return "unspecified";
}

// ---- socket ----

socket& socket::operator=(socket&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _ring = other._ring;
        _fd = std::exchange(other._fd, -1);
    }
    return *this;
}

socket::~socket() {
    if (_fd >= 0) ::close(_fd);
}

task<io_result<size_t>> socket::receive_some(std::span<std::byte> buffer) {
    TL_ASSERT(is_open() && !buffer.empty());
    for (;;) {
        const int32_t res = co_await operation(*_ring, [&](completion* c) {
            _ring->receive(_fd, buffer, c);
        });
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res < 0) co_return failure{error_from_errno(-res)};
        if (res == 0) co_return failure{io_error{io_errc::end_of_file, 0}};
        co_return static_cast<size_t>(res);
    }
}

task<io_result<void>> socket::receive_exactly(std::span<std::byte> buffer) {
    size_t done = 0;
    while (done < buffer.size()) {
        auto got = co_await receive_some(buffer.subspan(done));
        if (!got) co_return failure{got.error()};
        done += *got;
    }
    co_return io_result<void>{};
}

task<io_result<void>> socket::send_all(std::span<const std::byte> buffer) {
    TL_ASSERT(is_open());
    size_t done = 0;
    while (done < buffer.size()) {
        auto rest = buffer.subspan(done);
        const int32_t res = co_await operation(*_ring, [&](completion* c) {
            _ring->send(_fd, rest, c);
        });
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res < 0) co_return failure{error_from_errno(-res)};
        done += static_cast<size_t>(res);
    }
    co_return io_result<void>{};
}

void socket::cancel() noexcept {
    if (_fd >= 0) _ring->cancel_fd(_fd);
}

task<io_result<void>> socket::close() {
    if (_fd < 0) co_return io_result<void>{};
    const int fd = std::exchange(_fd, -1);
    const int32_t res = co_await operation(*_ring, [&](completion* c) { _ring->close(fd, c); });
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return io_result<void>{};
}

socket_address socket::peer_address() const { return address_of(_fd, true); }
socket_address socket::local_address() const { return address_of(_fd, false); }

// ---- listener ----

io_result<listener> listener::bind(ring& r, const socket_address& address,
                                   listen_options options) {
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return failure{error_from_errno(errno)};
    listener result_listener(r, fd);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (options.sharing == listen_options::port_sharing::reuse_port &&
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        return failure{error_from_errno(errno)};
    }
    if (::bind(fd, address.data(), address.length()) != 0) return failure{error_from_errno(errno)};
    if (::listen(fd, options.backlog) != 0) return failure{error_from_errno(errno)};
    return result_listener;
}

listener& listener::operator=(listener&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _ring = other._ring;
        _fd = std::exchange(other._fd, -1);
    }
    return *this;
}

listener::~listener() {
    if (_fd >= 0) ::close(_fd);
}

task<io_result<socket>> listener::accept() {
    TL_ASSERT(_fd >= 0);
    for (;;) {
        const int32_t res = co_await operation(*_ring, [&](completion* c) { _ring->accept(_fd, c); });
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res < 0) co_return failure{error_from_errno(-res)};
        set_no_delay(res);
        co_return socket(*_ring, res);
    }
}

void listener::cancel() noexcept {
    if (_fd >= 0) _ring->cancel_fd(_fd);
}

task<io_result<void>> listener::close() {
    if (_fd < 0) co_return io_result<void>{};
    const int fd = std::exchange(_fd, -1);
    const int32_t res = co_await operation(*_ring, [&](completion* c) { _ring->close(fd, c); });
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return io_result<void>{};
}

socket_address listener::local_address() const { return address_of(_fd, false); }

task<io_result<socket>> connect(ring& r, socket_address address) {
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) co_return failure{error_from_errno(errno)};
    socket connected(r, fd);
    const int32_t res = co_await operation(r, [&](completion* c) {
        r.connect(fd, address.data(), address.length(), c);
    });
    if (res < 0) co_return failure{error_from_errno(-res)};
    set_no_delay(fd);
    co_return std::move(connected);
}

}  // namespace tl::uring
