// Proves the admin HTTP listener (src/metrics/admin_server.h) over real
// loopback HTTP: it binds port 0 and reports the port, routes exact paths to
// their handlers with the handler's status and content type, answers 404 for
// other paths and 405 for other methods, HEAD without a body, serves
// concurrent clients, and frees its port when destroyed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "metrics/admin_server.h"

namespace tl::metrics {
namespace {

// One request, Connection: close; returns the whole answer ("" if no connection).
std::string http(uint16_t port, std::string_view method, std::string_view path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return "";
    }
    const std::string request = std::string(method) + " " + std::string(path) +
                                " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    std::string answer;
    char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got <= 0) break;
        answer.append(buffer, static_cast<size_t>(got));
    }
    ::close(fd);
    return answer;
}

std::unique_ptr<admin_server> start_test_server(std::atomic<int>& ready_calls) {
    admin_server::routes routes;
    routes["/healthz"] = [] { return http_response::text(200, "ok\n"); };
    routes["/ready"] = [&ready_calls] {
        ++ready_calls;
        return http_response::text(503, "starting\n");
    };
    routes["/v1/status"] = [] { return http_response::json(200, "{\"a\":1}"); };
    auto started = admin_server::start({.listen = "127.0.0.1:0"}, std::move(routes));
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error());
    return started.ok() ? std::move(*started) : nullptr;
}

TEST(admin_server, routes_exact_paths_with_status_and_type) {
    std::atomic<int> ready_calls{0};
    auto server = start_test_server(ready_calls);
    ASSERT_NE(server, nullptr);
    ASSERT_NE(server->port(), 0);

    const std::string health = http(server->port(), "GET", "/healthz");
    EXPECT_EQ(health.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << health;
    EXPECT_NE(health.find("Content-Type: text/plain"), std::string::npos);
    EXPECT_NE(health.find("Content-Length: 3\r\n"), std::string::npos);
    EXPECT_EQ(health.substr(health.size() - 5), "\r\nok\n");

    const std::string ready = http(server->port(), "GET", "/ready");
    EXPECT_EQ(ready.rfind("HTTP/1.1 503 ", 0), 0u) << ready;
    EXPECT_EQ(ready_calls.load(), 1);

    const std::string status = http(server->port(), "GET", "/v1/status");
    EXPECT_NE(status.find("Content-Type: application/json"), std::string::npos);
    EXPECT_EQ(status.substr(status.size() - 7), "{\"a\":1}");

    EXPECT_EQ(http(server->port(), "GET", "/healthz/more").rfind("HTTP/1.1 404 ", 0), 0u);
    EXPECT_EQ(http(server->port(), "GET", "/").rfind("HTTP/1.1 404 ", 0), 0u);
    EXPECT_EQ(http(server->port(), "POST", "/healthz").rfind("HTTP/1.1 405 ", 0), 0u);

    const std::string head = http(server->port(), "HEAD", "/healthz");
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << head;
}

TEST(admin_server, serves_concurrent_clients) {
    std::atomic<int> ready_calls{0};
    auto server = start_test_server(ready_calls);
    ASSERT_NE(server, nullptr);
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&] {
            for (int j = 0; j < 10; ++j) {
                if (http(server->port(), "GET", "/healthz").rfind("HTTP/1.1 200", 0) == 0) ++ok;
            }
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), 80);
}

TEST(admin_server, stopping_frees_the_port_and_a_taken_port_fails) {
    std::atomic<int> ready_calls{0};
    auto server = start_test_server(ready_calls);
    ASSERT_NE(server, nullptr);
    const uint16_t port = server->port();
    const std::string taken = "127.0.0.1:" + std::to_string(port);
    auto second = admin_server::start({.listen = taken}, {});
    EXPECT_FALSE(second.ok());
    server.reset();
    EXPECT_EQ(http(port, "GET", "/healthz"), "");
    auto again = admin_server::start({.listen = taken}, {});
    EXPECT_TRUE(again.ok()) << (again.ok() ? "" : again.error());
}

TEST(admin_server, json_strings_are_escaped) {
    EXPECT_EQ(json_string("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

}  // namespace
}  // namespace tl::metrics
