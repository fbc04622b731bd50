// Connection handling against a real loopback socket, with a dispatcher whose
// handlers the test controls: ordering of pipelined responses when handlers
// finish out of order, the memory budget that stops reading, frame size
// limits, malformed headers, "no response" requests and idle timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "kafka/messages/api_table.h"
#include "kafka/server/server.h"
#include "reactor/condition.h"
#include "reactor/smp.h"

namespace tl::kafka {
namespace {

using namespace std::chrono_literals;

// Correlation ids choose what the handler does:
//   id % 1000 == 999: no response;   id >= 1'000'000: waits for release().
class test_dispatcher final : public request_dispatcher {
public:
    bool serves(int16_t api_key, int16_t api_version) const noexcept override {
        return api_key == api_keys::metadata && api_version <= 12;
    }
    task<response> handle(request_context& request) override {
        const int32_t id = request.correlation_id();
        started.fetch_add(1);
        if (id >= 1'000'000) {
            while (!_released) co_await _release.wait();
        } else {
            // Later requests finish first: replies must still go out in order.
            co_await reactor::sleep_for(std::chrono::microseconds(200 * (id % 10)));
        }
        if (id % 1000 == 999) co_return response::no_response();
        co_return response::of(frame_for(id, 16));
    }
    std::vector<std::byte> unsupported_api_versions(int32_t correlation_id) const override {
        return frame_for(correlation_id, 2);
    }
    void release() {
        _released = true;
        _release.notify_all();
    }
    static std::vector<std::byte> frame_for(int32_t correlation_id, size_t payload) {
        std::vector<std::byte> out(8 + payload, std::byte{0x5a});
        const uint32_t size = htonl(static_cast<uint32_t>(4 + payload));
        const uint32_t id = htonl(static_cast<uint32_t>(correlation_id));
        std::memcpy(out.data(), &size, 4);
        std::memcpy(out.data() + 4, &id, 4);
        return out;
    }
    std::atomic<int> started{0};

private:
    bool _released = false;
    reactor::condition _release;
};

struct fixture {
    explicit fixture(connection_limits limits) {
        reactor::reactor_options options;
        options.shard_count = 1;
        options.pinning = reactor::cpu_pinning::floating;
        auto started = reactor::smp::start(options);
        TL_ASSERT(started.ok());
        shards = std::move(*started);
        port = shards->run_on(0, [&] {
            server.emplace(dispatcher, limits);
            auto address = uring::socket_address::parse("127.0.0.1:0");
            TL_ASSERT(address.ok());
            TL_ASSERT(server->listen(reactor::shard::local().io(), *address).ok());
            server->start();
            return server->local_address().port();
        });
    }
    ~fixture() {
        shards->run_on(0, [&]() -> task<void> {
            co_await server->stop();
            server.reset();
        });
    }
    int connect_client() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        TL_ASSERT(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        return fd;
    }
    test_dispatcher dispatcher;
    std::unique_ptr<reactor::smp> shards;
    std::optional<server> server;
    uint16_t port = 0;
};

std::vector<std::byte> request(int32_t correlation_id, int16_t api_key = api_keys::metadata,
                               int16_t version = 0, size_t body_bytes = 0) {
    std::vector<std::byte> out(4 + 10 + body_bytes, std::byte{0});
    const uint32_t size = htonl(static_cast<uint32_t>(10 + body_bytes));
    const uint16_t key = htons(static_cast<uint16_t>(api_key));
    const uint16_t ver = htons(static_cast<uint16_t>(version));
    const uint32_t id = htonl(static_cast<uint32_t>(correlation_id));
    const uint16_t null_client = htons(0xffff);
    std::memcpy(out.data(), &size, 4);
    std::memcpy(out.data() + 4, &key, 2);
    std::memcpy(out.data() + 6, &ver, 2);
    std::memcpy(out.data() + 8, &id, 4);
    std::memcpy(out.data() + 12, &null_client, 2);
    return out;
}

void send_all(int fd, std::span<const std::byte> bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        ASSERT_GT(n, 0);
        sent += static_cast<size_t>(n);
    }
}

// Reads exactly `bytes`, or fewer if the peer closes first; waits at most 10 s.
std::vector<std::byte> receive(int fd, size_t bytes) {
    std::vector<std::byte> out(bytes);
    size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (got < bytes && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::recv(fd, out.data() + got, bytes - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
}

int32_t correlation_of(std::span<const std::byte> frame) {
    uint32_t id = 0;
    std::memcpy(&id, frame.data() + 4, 4);
    return static_cast<int32_t>(ntohl(id));
}

bool closed_by_peer(int fd) {
    return receive(fd, 1).empty();
}

TEST(kafka_connection, pipelined_responses_keep_request_order_when_handlers_finish_out_of_order) {
    fixture f({});
    const int fd = f.connect_client();
    std::vector<std::byte> burst;
    for (int32_t id = 0; id < 200; ++id) {
        const auto r = request(id);
        burst.insert(burst.end(), r.begin(), r.end());
    }
    send_all(fd, burst);
    for (int32_t id = 0; id < 200; ++id) {
        const auto frame = receive(fd, 8 + 16);
        ASSERT_EQ(frame.size(), 24u) << "response " << id;
        EXPECT_EQ(correlation_of(frame), id);
    }
    ::close(fd);
}

TEST(kafka_connection, a_request_without_response_is_skipped_not_answered) {
    fixture f({});
    const int fd = f.connect_client();
    for (int32_t id : {998, 999, 1000}) send_all(fd, request(id));
    EXPECT_EQ(correlation_of(receive(fd, 24)), 998);
    EXPECT_EQ(correlation_of(receive(fd, 24)), 1000);
    ::close(fd);
}

TEST(kafka_connection, memory_budget_stops_reading_until_responses_drain) {
    connection_limits limits;
    limits.memory_budget_bytes = 64 * 1024;
    fixture f(limits);
    const int fd = f.connect_client();
    constexpr int requests = 20;
    std::vector<std::byte> burst;
    for (int i = 0; i < requests; ++i) {
        const auto r = request(1'000'000 + i, api_keys::metadata, 0, 20 * 1024);
        burst.insert(burst.end(), r.begin(), r.end());
    }
    send_all(fd, burst);  // the socket buffers absorb what the broker does not read
    // Wait until the reader has stopped on the budget, then check how much it took.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (f.shards->run_on(0, [&] { return f.server->open_connection_stats().budget_waits; }) ==
               0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    const int taken = f.shards->run_on(0, [&] { return f.dispatcher.started.load(); });
    EXPECT_GE(taken, 3);
    EXPECT_LE(taken, 4) << "64 KiB of budget holds at most 4 requests of 20 KiB";
    f.shards->run_on(0, [&] { f.dispatcher.release(); });
    for (int i = 0; i < requests; ++i) {
        const auto frame = receive(fd, 24);
        ASSERT_EQ(frame.size(), 24u);
        EXPECT_EQ(correlation_of(frame), 1'000'000 + i);
    }
    ::close(fd);
}

TEST(kafka_connection, oversized_or_negative_frames_close_only_their_connection) {
    connection_limits limits;
    limits.max_request_bytes = 4096;
    fixture f(limits);
    for (uint32_t bad : {uint32_t{4097}, uint32_t{0x80000000}, uint32_t{3}}) {
        const int fd = f.connect_client();
        const uint32_t size = htonl(bad);
        send_all(fd, std::as_bytes(std::span(&size, 1)));
        EXPECT_TRUE(closed_by_peer(fd)) << bad;
        ::close(fd);
    }
    const int good = f.connect_client();
    send_all(good, request(7));
    EXPECT_EQ(correlation_of(receive(good, 24)), 7);
    ::close(good);
}

TEST(kafka_connection, unknown_api_closes_after_the_responses_already_due) {
    fixture f({});
    const int fd = f.connect_client();
    auto frames = request(1);
    const auto unknown = request(2, 9999);
    frames.insert(frames.end(), unknown.begin(), unknown.end());
    send_all(fd, frames);
    EXPECT_EQ(correlation_of(receive(fd, 24)), 1);
    EXPECT_TRUE(closed_by_peer(fd));
    ::close(fd);
}

TEST(kafka_connection, unsupported_api_versions_version_is_answered_not_closed) {
    fixture f({});
    const int fd = f.connect_client();
    send_all(fd, request(5, api_keys::api_versions, 9));
    send_all(fd, request(6));
    EXPECT_EQ(correlation_of(receive(fd, 10)), 5);  // the v0 error body
    EXPECT_EQ(correlation_of(receive(fd, 24)), 6);
    ::close(fd);
}

TEST(kafka_connection, idle_connections_are_closed_after_the_timeout) {
    connection_limits limits;
    limits.idle_timeout = 100ms;
    fixture f(limits);
    const int fd = f.connect_client();
    send_all(fd, request(1));
    EXPECT_EQ(correlation_of(receive(fd, 24)), 1);
    EXPECT_TRUE(closed_by_peer(fd));  // receive() waits up to 10 s
    ::close(fd);
}

TEST(kafka_connection, a_client_vanishing_mid_request_leaves_the_server_serving) {
    fixture f({});
    {
        const int fd = f.connect_client();
        auto partial = request(1, api_keys::metadata, 0, 1000);
        partial.resize(partial.size() / 2);
        send_all(fd, partial);
        ::close(fd);
    }
    const int fd = f.connect_client();
    send_all(fd, request(2));
    EXPECT_EQ(correlation_of(receive(fd, 24)), 2);
    ::close(fd);
}

}  // namespace
}  // namespace tl::kafka
