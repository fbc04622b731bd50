// Kernel UDP sender: the frames' UDP payloads through ordinary sockets, so
// that a test can send multicast from a network namespace into a veth that
// DPDK's af_packet PMD reads. The kernel builds its own headers; the frames'
// destination address and port choose where each payload goes, the frames'
// source port which socket sends it (one socket per source port, bound to it
// unless asked otherwise).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "perf/feedgen/bytes.h"
#include "perf/feedgen/sink.h"

namespace tl::feedgen {
namespace {

constexpr int socket_send_buffer_bytes = 4 << 20;
constexpr size_t max_sockets = 4096;  // one per source port: the raw flows
constexpr long enobufs_backoff_ns = 20'000;

struct flow_socket {
    int fd = -1;
    std::vector<mmsghdr> messages;
    std::vector<iovec> vectors;
    std::vector<sockaddr_in> destinations;
    size_t staged = 0;
};

class udp_socket_sink final : public frame_sink {
public:
    explicit udp_socket_sink(const udp_socket_options& options)
        : _options(options), _socket_of_port(65536, -1) {}
    ~udp_socket_sink() override {
        for (flow_socket& s : _sockets) {
            if (s.fd >= 0) ::close(s.fd);
        }
    }

    result<void, std::string> write(std::span<const timed_frame> frames) override {
        for (const timed_frame& frame : frames) {
            // Our own frames: fixed offsets, checked cheaply (the tests parse them fully).
            TL_ASSERT(frame.bytes.size() >= frame_header_bytes &&
                      load_be<2>(&frame.bytes[12]) == 0x0800 && frame.bytes[14] == std::byte{0x45});
            const std::byte* ip = frame.bytes.data() + ethernet_header_bytes;
            const std::byte* udp = ip + ipv4_header_bytes;
            const auto source_port = static_cast<uint16_t>(load_be<2>(udp));
            auto socket = socket_for(source_port);
            if (!socket) return failure{socket.error()};
            flow_socket& s = **socket;
            if (s.staged == s.messages.size()) {
                if (auto flushed = flush(s); !flushed) return flushed;
            }
            sockaddr_in& destination = s.destinations[s.staged];
            destination = {};
            destination.sin_family = AF_INET;
            destination.sin_addr.s_addr = htonl(static_cast<uint32_t>(load_be<4>(ip + 16)));
            destination.sin_port = htons(static_cast<uint16_t>(load_be<2>(udp + 2)));
            iovec& vector = s.vectors[s.staged];
            vector.iov_base = const_cast<std::byte*>(udp + udp_header_bytes);
            vector.iov_len = frame.bytes.size() - frame_header_bytes;
            mmsghdr& message = s.messages[s.staged];
            message = {};
            message.msg_hdr.msg_name = &destination;
            message.msg_hdr.msg_namelen = sizeof destination;
            message.msg_hdr.msg_iov = &vector;
            message.msg_hdr.msg_iovlen = 1;
            ++s.staged;
        }
        for (flow_socket& s : _sockets) {
            if (auto flushed = flush(s); !flushed) return flushed;
        }
        return {};
    }

    result<void, std::string> finish() override { return {}; }

    std::string describe() const override {
        return "udp:" + (_options.interface_address ? to_string(*_options.interface_address)
                                                    : std::string("0.0.0.0"));
    }

private:
    static constexpr size_t messages_per_send = 64;

    result<flow_socket*, std::string> socket_for(uint16_t source_port) {
        if (const int index = _socket_of_port[source_port]; index >= 0) {
            return &_sockets[static_cast<size_t>(index)];
        }
        if (_sockets.size() == max_sockets) {
            return failure{fmt::format("more than {} source ports", max_sockets)};
        }
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return failure{fmt::format("socket: {}", std::strerror(errno))};
        flow_socket s;
        s.fd = fd;
        s.messages.resize(messages_per_send);
        s.vectors.resize(messages_per_send);
        s.destinations.resize(messages_per_send);
        _sockets.reserve(max_sockets);  // pointers into _sockets stay valid
        _sockets.push_back(std::move(s));
        _socket_of_port[source_port] = static_cast<int>(_sockets.size() - 1);

        const int one = 1, ttl = _options.ttl, buffer = socket_send_buffer_bytes;
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr =
            htonl(_options.interface_address ? _options.interface_address->value : INADDR_ANY);
        local.sin_port =
            htons(_options.binding == source_port_binding::frame_port ? source_port : 0);
        auto fail = [&](std::string_view what) -> failure<std::string> {
            return failure{
                fmt::format("{} (source port {}): {}", what, source_port, std::strerror(errno))};
        };
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);  // best effort
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
            return fail("SO_REUSEADDR");
        }
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
            return fail("bind");
        }
        if (::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0) return fail("IP_TTL");
        if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0) {
            return fail("IP_MULTICAST_TTL");
        }
        if (_options.interface_address) {
            in_addr interface { htonl(_options.interface_address->value) };
            if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof interface) != 0) {
                return fail("IP_MULTICAST_IF");
            }
        }
        return &_sockets.back();
    }

    // Sends everything staged; a full device queue (ENOBUFS) is waited out.
    result<void, std::string> flush(flow_socket& s) {
        size_t sent = 0;
        while (sent < s.staged) {
            const int n = ::sendmmsg(s.fd, s.messages.data() + sent,
                                     static_cast<unsigned>(s.staged - sent), 0);
            if (n > 0) {
                sent += static_cast<size_t>(n);
            } else if (n < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
                const timespec pause{0, enobufs_backoff_ns};
                ::nanosleep(&pause, nullptr);
            } else if (n < 0 && errno != EINTR) {
                return failure{fmt::format("sendmmsg: {}", std::strerror(errno))};
            }
        }
        s.staged = 0;
        return {};
    }

    udp_socket_options _options;
    std::vector<flow_socket> _sockets;
    std::vector<int> _socket_of_port;  // index into _sockets, -1: none yet
};

}  // namespace

result<std::unique_ptr<frame_sink>, std::string> open_udp_socket_sink(
    const udp_socket_options& options) {
    return std::unique_ptr<frame_sink>(std::make_unique<udp_socket_sink>(options));
}

}  // namespace tl::feedgen
