// A blocking Kafka client for integration tests: one TCP connection to a
// broker on loopback, one request at a time, each encoded and each answer
// decoded with the generated codecs (kafka/messages/*.h), so a test speaks
// exactly the protocol the broker's handlers see.
//
//   auto client = kafka_client::connect(port);
//   auto answer = client->call<create_topics_response>(request_body, 7);
//   EXPECT_EQ(answer->body.topics[0].error_code, 0);
//
// Every socket operation has a timeout (a stuck broker fails the test, never
// hangs it). An answer's body views its frame; keep the answer alive while
// reading the body, and do not copy it (moving is fine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kafka/protocol/frame.h"

namespace tl::testing_support {

template <typename M>
struct kafka_answer {
    std::vector<std::byte> frame;  // the response, after its size prefix
    M body;                        // views `frame`
};

class kafka_client {
public:
    // Connects to 127.0.0.1:`port`; nullopt if the broker does not accept.
    static std::optional<kafka_client> connect(uint16_t port);
    kafka_client(kafka_client&& other) noexcept;
    kafka_client& operator=(kafka_client&&) = delete;
    kafka_client(const kafka_client&) = delete;
    kafka_client& operator=(const kafka_client&) = delete;
    ~kafka_client();

    // Sends `body` as version `version` and decodes the answer as `Response`
    // in that version. nullopt if the request does not encode, the
    // connection fails or closes, or the answer does not decode exactly
    // (`last_error()` says which).
    template <typename Response, typename Request>
    std::optional<kafka_answer<Response>> call(const Request& body, int16_t version) {
        static_assert(Request::api_key == Response::api_key);
        kafka::writer w;
        const int32_t correlation_id = _next_correlation_id++;
        kafka::encode_request_frame(w, correlation_id, "tidelog-test", version, body);
        if (!w.ok()) return fail("request does not encode");
        auto frame = exchange(w.data());
        if (!frame.has_value()) return std::nullopt;
        kafka_answer<Response> answer{.frame = std::move(*frame), .body = {}};
        kafka::reader r(answer.frame);
        auto header = kafka::response_header::decode(
            r, kafka::response_header_version(Response::api_key, version));
        if (!header) return fail("response header does not decode");
        if (header->correlation_id != correlation_id) return fail("wrong correlation id");
        auto decoded = Response::decode(r, version);
        if (!decoded) return fail("response body does not decode");
        r.expect_end();
        if (!r.ok()) return fail("bytes after the response body");
        answer.body = std::move(*decoded);
        return answer;
    }

    [[nodiscard]] const std::string& last_error() const noexcept { return _last_error; }

private:
    explicit kafka_client(int fd) noexcept : _fd(fd) {}
    // Writes a frame and reads one back (without its size prefix).
    std::optional<std::vector<std::byte>> exchange(std::span<const std::byte> request);
    std::nullopt_t fail(std::string what);

    int _fd = -1;
    int32_t _next_correlation_id = 1;
    std::string _last_error;
};

}  // namespace tl::testing_support
