// Proves the parts of tidectl's Kafka client that need no broker: addresses
// parse as documented, murmur2 and the default partitioner agree with Kafka's
// own test vectors (Utils.murmur2 in UtilsTest.java), error codes have their
// Kafka names, and every way a connection can fail (refused, a listener that
// never answers, a peer that hangs up) ends in its own client_errc with one
// line of text instead of a hang. Version negotiation falls back from
// ApiVersions v3 to v0 when refused, and picks min(ours, the broker's) per
// API, or nothing when the ranges do not meet (and then a call says so).
// How: pure functions on literals, and loopback sockets that the test opens
// itself (a closed port, a listener that never accepts, one that accepts and
// closes, a fake broker thread answering ApiVersions with the generated
// encoder), with short client timeouts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <thread>

#include "app/kafka_client.h"
#include "base/murmur2.h"
#include "kafka/messages/api_table.h"
#include "kafka/messages/api_versions.h"
#include "kafka/messages/create_topics.h"

namespace tl::app {
namespace {

using ::testing::HasSubstr;

std::span<const std::byte> bytes_of(std::string_view text) {
    return std::as_bytes(std::span(text.data(), text.size()));
}

// A loopback TCP socket bound to a free port; listening if asked.
struct loopback_socket {
    explicit loopback_socket(bool listening) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        socklen_t length = sizeof(address);
        EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
        port = ntohs(address.sin_port);
        if (listening) EXPECT_EQ(::listen(fd, 4), 0);
    }
    ~loopback_socket() {
        if (fd >= 0) ::close(fd);
    }
    loopback_socket(const loopback_socket&) = delete;
    loopback_socket& operator=(const loopback_socket&) = delete;

    int fd = -1;
    uint16_t port = 0;
};

client_options short_timeouts() {
    return client_options{.connect_timeout_ms = 2000, .request_timeout_ms = 300};
}

TEST(kafka_client, addresses_parse_as_documented) {
    auto plain = parse_broker_address("127.0.0.1:9092");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->host, "127.0.0.1");
    EXPECT_EQ(plain->port, 9092);
    auto v6 = parse_broker_address("[::1]:19092");
    ASSERT_TRUE(v6.ok());
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->to_string(), "[::1]:19092");
    auto named = parse_broker_address("broker-1.example:1");
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(named->to_string(), "broker-1.example:1");

    for (const char* bad :
         {"localhost", ":9092", "host:", "host:0", "host:65536", "host:9x", "::1:9092"}) {
        auto parsed = parse_broker_address(bad);
        ASSERT_FALSE(parsed.ok()) << bad;
        EXPECT_THAT(parsed.error(), HasSubstr(std::string("bad address '") + bad + "'"));
    }
}

TEST(kafka_client, murmur2_matches_kafkas_test_vectors) {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2, as signed ints.
    EXPECT_EQ(static_cast<int32_t>(murmur2(bytes_of("21"))), -973932308);
    EXPECT_EQ(static_cast<int32_t>(murmur2(bytes_of("foobar"))), -790332482);
    EXPECT_EQ(static_cast<int32_t>(murmur2(bytes_of("a-little-bit-long-string"))), -985981536);
    EXPECT_EQ(static_cast<int32_t>(murmur2(bytes_of("a-little-bit-longer-string"))), -1486304829);
    EXPECT_EQ(
        static_cast<int32_t>(murmur2(bytes_of("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"))),
        -58897971);
    EXPECT_EQ(static_cast<int32_t>(murmur2(bytes_of("abc"))), 479470107);
}

TEST(kafka_client, murmur2_partition_is_positive_murmur2_modulo_count) {
    // toPositive(-973932308) = 1173551340.
    EXPECT_EQ(murmur2_partition(bytes_of("21"), 1), 0);
    EXPECT_EQ(murmur2_partition(bytes_of("21"), 7), 1173551340 % 7);
    EXPECT_EQ(murmur2_partition(bytes_of("abc"), 10), 479470107 % 10);
    for (int32_t count = 1; count < 20; ++count) {
        const int32_t p = murmur2_partition(bytes_of("foobar"), count);
        EXPECT_GE(p, 0);
        EXPECT_LT(p, count);
    }
}

TEST(kafka_client, error_codes_have_kafkas_names) {
    EXPECT_EQ(kafka_error_name(-1), "UNKNOWN_SERVER_ERROR");
    EXPECT_EQ(kafka_error_name(0), "NONE");
    EXPECT_EQ(kafka_error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
    EXPECT_EQ(kafka_error_name(35), "UNSUPPORTED_VERSION");
    EXPECT_EQ(kafka_error_name(36), "TOPIC_ALREADY_EXISTS");
    EXPECT_EQ(kafka_error_name(87), "INVALID_RECORD");
    EXPECT_EQ(kafka_error_name(100), "UNKNOWN_TOPIC_ID");
    EXPECT_EQ(kafka_error_name(9999), "UNKNOWN");
    EXPECT_EQ(describe_kafka_error(36, "exists"), "TOPIC_ALREADY_EXISTS (36): exists");
    EXPECT_EQ(describe_kafka_error(3), "UNKNOWN_TOPIC_OR_PARTITION (3)");
}

TEST(kafka_client, a_closed_port_is_connect_failed) {
    uint16_t port = 0;
    {
        const loopback_socket bound(false);
        port = bound.port;
    }  // closed: nothing listens there now
    auto client = kafka_client::connect({"127.0.0.1", port}, short_timeouts());
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().code, client_errc::connect_failed);
    EXPECT_EQ(client.error().message,
              "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST(kafka_client, a_listener_that_never_answers_times_out) {
    // The kernel completes the handshake from the backlog; nobody reads.
    const loopback_socket silent(true);
    auto client = kafka_client::connect({"127.0.0.1", silent.port}, short_timeouts());
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().code, client_errc::timed_out);
    EXPECT_THAT(client.error().message, HasSubstr("timed out waiting for 127.0.0.1:"));
}

TEST(kafka_client, a_peer_that_hangs_up_is_connection_closed) {
    const loopback_socket listener(true);
    std::thread rude([fd = listener.fd] {
        const int accepted = ::accept(fd, nullptr, nullptr);
        if (accepted >= 0) ::close(accepted);
    });
    auto client = kafka_client::connect({"127.0.0.1", listener.port}, short_timeouts());
    rude.join();
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().code, client_errc::connection_closed) << client.error().message;
}

TEST(kafka_client, an_unresolvable_host_is_resolve_failed) {
    auto client = kafka_client::connect({"no-such-host.invalid", 9092}, short_timeouts());
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().code, client_errc::resolve_failed);
    EXPECT_THAT(client.error().message, HasSubstr("cannot resolve 'no-such-host.invalid'"));
}

// The fake broker's side: whole frames over a blocking accepted socket.
std::vector<std::byte> read_frame(int fd) {
    std::array<std::byte, 4> prefix{};
    if (::recv(fd, prefix.data(), prefix.size(), MSG_WAITALL) != 4) return {};
    uint32_t size = 0;
    for (const std::byte b : prefix) size = (size << 8) | static_cast<uint32_t>(b);
    std::vector<std::byte> frame(size);
    if (::recv(fd, frame.data(), frame.size(), MSG_WAITALL) != static_cast<ssize_t>(size)) {
        return {};
    }
    return frame;
}

void answer_api_versions(int fd, int32_t correlation_id, const kafka::api_versions_response& body) {
    kafka::writer w;
    // A broker answers a version it does not know with a v0 body.
    kafka::encode_response_frame(w, correlation_id, 0, body);
    ASSERT_TRUE(w.ok());
    ASSERT_EQ(::send(fd, w.data().data(), w.size(), MSG_NOSIGNAL), static_cast<ssize_t>(w.size()));
}

TEST(kafka_client, api_versions_falls_back_to_v0_and_versions_meet_in_the_middle) {
    const loopback_socket listener(true);
    std::vector<int16_t> asked_versions;
    std::thread broker([&asked_versions, fd = listener.fd] {
        const int connection = ::accept(fd, nullptr, nullptr);
        ASSERT_GE(connection, 0);
        // Refuses v3 (as a broker that knows only v0-2 does), then answers v0.
        for (const int16_t error : {int16_t{35}, int16_t{0}}) {
            const std::vector<std::byte> frame = read_frame(connection);
            auto id = kafka::peek_request_id(frame);
            ASSERT_TRUE(id.ok());
            asked_versions.push_back(id->api_version);
            kafka::api_versions_response body;
            body.error_code = error;
            body.api_keys = {{kafka::api_keys::produce, 3, 7},
                             {kafka::api_keys::fetch, 0, 3},  // below our v4
                             {kafka::api_keys::metadata, 1, 9},
                             {kafka::api_keys::api_versions, 0, 2}};
            answer_api_versions(connection, id->correlation_id, body);
        }
        ::close(connection);
    });
    auto client = kafka_client::connect({"127.0.0.1", listener.port}, short_timeouts());
    broker.join();
    ASSERT_TRUE(client.ok()) << client.error().message;
    EXPECT_EQ(asked_versions, (std::vector<int16_t>{3, 0}));
    EXPECT_EQ(client->version_for(kafka::api_keys::produce), 7);
    EXPECT_EQ(client->version_for(kafka::api_keys::metadata), 9);
    EXPECT_EQ(client->version_for(kafka::api_keys::api_versions), 2);
    EXPECT_EQ(client->version_for(kafka::api_keys::fetch), std::nullopt);
    EXPECT_EQ(client->version_for(kafka::api_keys::create_topics), std::nullopt);
    EXPECT_EQ(client->broker_versions().size(), 4u);

    // An API the broker does not list fails before anything is sent.
    auto unserved = client->call<kafka::create_topics_response>(kafka::create_topics_request{});
    ASSERT_FALSE(unserved.ok());
    EXPECT_EQ(unserved.error().code, client_errc::unsupported_api);
    EXPECT_EQ(unserved.error().message,
              "the broker at 127.0.0.1:" + std::to_string(listener.port) +
                  " does not serve create_topics (API key 19) in a version tidectl speaks");
}

}  // namespace
}  // namespace tl::app
