// The admin HTTP listener (admin_addr): a few GET routes served by
// civetweb's own threads, never by a shard.
//
//   admin_server::routes routes{{"/healthz", [] { return http_response::text(200, "ok\n"); }}};
//   auto server = admin_server::start({.listen = "127.0.0.1:9644"}, std::move(routes));
//   server->port();     // the bound port (admin_addr may ask for port 0)
//   server.reset();     // stops: waits for requests being served to finish
//
// A route handler runs on one of civetweb's worker threads, possibly several
// at once: it may only read what is safe to read from any thread (metric
// registries, atomics the shards publish). Only exact paths match; anything
// else is 404, a method other than GET or HEAD 405.
#pragma once

#include "base/json.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/result.h"

struct mg_context;
struct mg_connection;

namespace tl::metrics {

struct http_response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;

    static http_response text(int status, std::string body) {
        return {status, "text/plain; charset=utf-8", std::move(body)};
    }
    static http_response json(int status, std::string body) {
        return {status, "application/json", std::move(body)};
    }
};

struct admin_options {
    // "IP:PORT" or "[IPv6]:PORT", numeric (resolved by the caller).
    std::string listen = "127.0.0.1:9644";
    unsigned worker_threads = 2;
    unsigned request_timeout_ms = 10'000;
};

class admin_server {
public:
    using handler = std::function<http_response()>;
    using routes = std::map<std::string, handler, std::less<>>;

    static result<std::unique_ptr<admin_server>, std::string> start(const admin_options& options,
                                                                    routes handlers);
    ~admin_server();
    admin_server(const admin_server&) = delete;
    admin_server& operator=(const admin_server&) = delete;

    uint16_t port() const noexcept { return _port; }

private:
    explicit admin_server(routes handlers) : _routes(std::move(handlers)) {}
    static int on_request(mg_connection* connection, void* self);
    int serve(mg_connection* connection);

    const routes _routes;
    mg_context* _context = nullptr;
    uint16_t _port = 0;
    std::string _listen_address;  // with the bound port
};

// `s` as a JSON string literal, quotes included (base/json.h).
using tl::json_string;

}  // namespace tl::metrics
