// See admin_server.h. civetweb (Debian's libcivetweb) does the HTTP; this
// file only maps paths to handlers and writes their answers.
#include "metrics/admin_server.h"

#include <civetweb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string_view>

#include <fmt/format.h>

#include "base/assert.h"

namespace tl::metrics {
namespace {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 503:
            return "Service Unavailable";
        default:
            return status < 500 ? "Client Error" : "Server Error";
    }
}

void write_response(mg_connection* connection, const http_response& response, bool head_only) {
    const std::string header = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status, reason_phrase(response.status), response.content_type,
        response.body.size());
    mg_write(connection, header.data(), header.size());
    if (!head_only && !response.body.empty()) {
        mg_write(connection, response.body.data(), response.body.size());
    }
}

constexpr auto stop_knock_interval = std::chrono::milliseconds(5);
constexpr auto stop_knock_limit = std::chrono::seconds(5);

// Opens and closes one TCP connection to `address` ("IP:PORT" or "[IPv6]:PORT").
void knock(const std::string& address) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) return;
    std::string host = address.substr(0, colon);
    const int port = std::atoi(address.c_str() + colon + 1);
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (host.size() >= 2 && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) return;
        if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) v6->sin6_addr = in6addr_loopback;
        length = sizeof(sockaddr_in6);
    } else {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) return;
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof(sockaddr_in);
    }
    const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    (void)::connect(fd, reinterpret_cast<const sockaddr*>(&storage), length);
    ::close(fd);
}

// civetweb logs through this; keep its messages off stderr's data path.
int ignore_log(const mg_connection*, const char*) { return 1; }

}  // namespace

result<std::unique_ptr<admin_server>, std::string> admin_server::start(
    const admin_options& options, routes handlers) {
    TL_ASSERT(options.worker_threads >= 1);
    std::unique_ptr<admin_server> server(new admin_server(std::move(handlers)));
    const std::string threads = std::to_string(options.worker_threads);
    const std::string timeout = std::to_string(options.request_timeout_ms);
    // No document_root: civetweb serves no files, only the routes.
    std::array<const char*, 7> settings{
        "listening_ports", options.listen.c_str(),
        "num_threads", threads.c_str(),
        "request_timeout_ms", timeout.c_str(),
        nullptr,
    };
    mg_callbacks callbacks{};
    callbacks.log_message = ignore_log;
    // mg_init_library is reference counted; the first call sets civetweb up.
    mg_init_library(0);
    char error_text[256] = {};
    mg_init_data init{};
    init.callbacks = &callbacks;
    init.user_data = server.get();
    init.configuration_options = settings.data();
    mg_error_data error{};
    error.text = error_text;
    error.text_buffer_size = sizeof error_text;
    server->_context = mg_start2(&init, &error);
    if (server->_context == nullptr) {
        mg_exit_library();
        return failure{fmt::format("admin HTTP on {}: {}", options.listen,
                                   error_text[0] != 0 ? error_text : "civetweb failed to start")};
    }
    mg_server_port ports[1] = {};
    if (mg_get_server_ports(server->_context, 1, ports) >= 1) {
        server->_port = static_cast<uint16_t>(ports[0].port);
    }
    const size_t colon = options.listen.rfind(':');
    server->_listen_address =
        options.listen.substr(0, colon == std::string::npos ? 0 : colon) + ":" +
        std::to_string(server->_port);
    // One handler for every path: exact matches are looked up in _routes.
    mg_set_request_handler(server->_context, "/", &admin_server::on_request, server.get());
    return server;
}

admin_server::~admin_server() {
    if (_context == nullptr) return;
    // mg_stop() raises a flag and joins civetweb's threads, but its master
    // thread only looks at the flag between polls of the listening socket,
    // 2 s apart. A connection wakes that poll: knock until the stop is done
    // (each knock is closed at once, so a worker that accepts it is free
    // again as soon as it reads the end of the stream).
    auto stopped = std::async(std::launch::async, [context = _context] { mg_stop(context); });
    const auto deadline = std::chrono::steady_clock::now() + stop_knock_limit;
    while (stopped.wait_for(stop_knock_interval) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline) {
        knock(_listen_address);
    }
    stopped.wait();
    mg_exit_library();
}

int admin_server::on_request(mg_connection* connection, void* self) {
    return static_cast<admin_server*>(self)->serve(connection);
}

int admin_server::serve(mg_connection* connection) {
    const mg_request_info* request = mg_get_request_info(connection);
    const std::string_view method = request->request_method;
    const bool head_only = method == "HEAD";
    const auto found = _routes.find(std::string_view(request->local_uri));
    http_response response;
    if (found == _routes.end()) {
        response = http_response::text(404, "not found\n");
    } else if (method != "GET" && !head_only) {
        response = http_response::text(405, "only GET and HEAD\n");
    } else {
        response = found->second();
    }
    write_response(connection, response, head_only);
    return response.status;  // handled; civetweb logs the status and closes
}

}  // namespace tl::metrics
