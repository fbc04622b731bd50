#include "support/kafka_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace tl::testing_support {
namespace {

// Bounds every send and receive; generous for a loaded machine.
constexpr int socket_timeout_seconds = 60;
constexpr size_t response_frame_size_max = size_t{64} * 1024 * 1024;

}  // namespace

std::optional<kafka_client> kafka_client::connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    const timeval timeout{.tv_sec = socket_timeout_seconds, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    return kafka_client(fd);
}

kafka_client::kafka_client(kafka_client&& other) noexcept
    : _fd(other._fd),
      _next_correlation_id(other._next_correlation_id),
      _last_error(std::move(other._last_error)) {
    other._fd = -1;
}

kafka_client::~kafka_client() {
    if (_fd >= 0) ::close(_fd);
}

std::nullopt_t kafka_client::fail(std::string what) {
    _last_error = std::move(what);
    return std::nullopt;
}

std::optional<std::vector<std::byte>> kafka_client::exchange(std::span<const std::byte> request) {
    size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(_fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(std::string("send: ") + std::strerror(errno));
        sent += static_cast<size_t>(n);
    }
    const auto read_exactly = [this](std::byte* out, size_t size) {
        size_t got = 0;
        while (got < size) {
            const ssize_t n = ::recv(_fd, out + got, size - got, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                _last_error = "the broker closed the connection";
                return false;
            }
            if (n < 0) {
                _last_error = std::string("recv: ") + std::strerror(errno);
                return false;
            }
            got += static_cast<size_t>(n);
        }
        return true;
    };
    std::array<std::byte, 4> prefix{};
    if (!read_exactly(prefix.data(), prefix.size())) return std::nullopt;
    uint32_t size_be = 0;
    std::memcpy(&size_be, prefix.data(), sizeof size_be);
    const size_t size = ntohl(size_be);
    if (size > response_frame_size_max) return fail("response frame too large");
    std::vector<std::byte> frame(size);
    if (!read_exactly(frame.data(), size)) return std::nullopt;
    return frame;
}

}  // namespace tl::testing_support
