// tidectl's Kafka client: one blocking TCP connection to one broker, one
// request in flight, every wait bounded by a deadline (poll on a non-blocking
// socket; never a blocking call without one). A CLI, not a shard: this is not
// for the reactor, where the broker's own code must never block.
//
// connect() resolves the address, connects, and asks ApiVersions (v3, or v0
// after an UNSUPPORTED_VERSION answer); from then on each API is spoken at
// min(our newest, the broker's newest) as long as that is within both ranges.
// Requests are encoded and responses decoded by the generated codecs
// (kafka/messages/*.h); a decoded response views its frame, which it owns.
//
// Errors are values: a client_error says what failed (refused, timed out,
// not served...) in one line fit for an operator. Kafka error codes inside
// responses are the caller's to read; kafka_error_name() names them.
//
// Lifetime: a kafka_client owns its socket and closes it when destroyed.
// Single-threaded; not for use from more than one thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "kafka/protocol/api_support.h"
#include "kafka/protocol/frame.h"

namespace tl::app {

inline constexpr std::string_view default_bootstrap = "127.0.0.1:9092";
inline constexpr std::string_view bootstrap_environment_variable = "TIDELOG_BOOTSTRAP";
// Bounds what a response may make us buffer (a Fetch answers with at most
// what its max_bytes asked for, far below this).
inline constexpr size_t response_frame_size_max = size_t{256} * 1024 * 1024;

struct broker_address {
    std::string host;
    uint16_t port = 0;

    [[nodiscard]] std::string to_string() const;
};

// "HOST:PORT" or "[IPV6]:PORT"; the error says what is wrong with `text`.
[[nodiscard]] result<broker_address, std::string> parse_broker_address(std::string_view text);

enum class client_errc : uint8_t {
    resolve_failed,     // the host name did not resolve
    connect_failed,     // refused, unreachable...: nothing is listening there
    timed_out,          // connect or a response took longer than its timeout
    connection_closed,  // the broker closed the connection or a send failed
    protocol_error,     // a frame or message we could not decode
    unsupported_api,    // the broker does not serve the API (in a version we speak)
};

struct client_error {
    client_errc code = client_errc::protocol_error;
    std::string message;  // one line, without "tidectl:"
};

template <typename T>
using client_result = result<T, client_error>;

struct client_options {
    uint32_t connect_timeout_ms = 5000;
    // How long a response may take, on top of any wait the request asks the
    // broker for (a Fetch's max_wait_ms is added by the caller).
    uint32_t request_timeout_ms = 30000;
    std::string client_id = "tidectl";
};

// A decoded response and the frame its strings and bytes view. Moving keeps
// the views valid (the vector's buffer moves with it); copying would not.
template <typename M>
struct decoded_response {
    decoded_response(std::vector<std::byte> frame_bytes, int16_t api_version, M message)
        : frame(std::move(frame_bytes)), version(api_version), body(std::move(message)) {}
    decoded_response(decoded_response&&) noexcept = default;
    decoded_response& operator=(decoded_response&&) noexcept = default;
    decoded_response(const decoded_response&) = delete;
    decoded_response& operator=(const decoded_response&) = delete;

    std::vector<std::byte> frame;
    int16_t version = 0;
    M body;
};

class kafka_client {
public:
    // Connects and negotiates versions with ApiVersions.
    [[nodiscard]] static client_result<kafka_client> connect(const broker_address& address,
                                                             const client_options& options);

    kafka_client(kafka_client&& other) noexcept;
    kafka_client& operator=(kafka_client&& other) noexcept;
    kafka_client(const kafka_client&) = delete;
    kafka_client& operator=(const kafka_client&) = delete;
    ~kafka_client();

    // The version we speak `api_key` at, or nullopt if the broker does not
    // serve any version we have (or that tidectl uses) for it.
    [[nodiscard]] std::optional<int16_t> version_for(int16_t api_key) const noexcept;
    // What the broker's ApiVersions listed, sorted by key.
    [[nodiscard]] std::span<const kafka::api_version_range> broker_versions() const noexcept {
        return _broker_versions;
    }
    [[nodiscard]] const broker_address& address() const noexcept { return _address; }

    // Sends `request` at version_for(its key) and waits up to the request
    // timeout plus `extra_wait_ms` for the response with its correlation id.
    template <typename Response, typename Request>
    [[nodiscard]] client_result<decoded_response<Response>> call(const Request& request,
                                                                 uint32_t extra_wait_ms = 0) {
        static_assert(Request::api_key == Response::api_key, "request and response APIs differ");
        auto version = served_version(Request::api_key, Request::message_name);
        if (!version) return failure{version.error()};
        auto frame = encode(request, *version);
        if (!frame) return failure{frame.error()};
        auto answer = exchange(*frame, Request::api_key, *version, extra_wait_ms);
        if (!answer) return failure{answer.error()};
        return decode<Response>(std::move(*answer), *version);
    }

    // Sends `request` without waiting for an answer: for Produce with acks=0,
    // which the broker never answers.
    template <typename Request>
    [[nodiscard]] client_result<void> send_only(const Request& request) {
        auto version = served_version(Request::api_key, Request::message_name);
        if (!version) return failure{version.error()};
        auto frame = encode(request, *version);
        if (!frame) return failure{frame.error()};
        return send_frame(*frame);
    }

private:
    // A response frame without its size prefix, and where its body starts.
    struct response_frame {
        std::vector<std::byte> bytes;
        size_t body_offset = 0;
    };

    kafka_client(int socket_fd, broker_address address, client_options options)
        : _socket_fd(socket_fd), _address(std::move(address)), _options(std::move(options)) {}

    client_result<void> negotiate_versions();
    [[nodiscard]] client_result<int16_t> served_version(int16_t api_key,
                                                        std::string_view message_name) const;
    client_result<void> send_frame(std::span<const std::byte> frame);
    client_result<response_frame> exchange(std::span<const std::byte> frame, int16_t api_key,
                                           int16_t version, uint32_t extra_wait_ms);
    [[nodiscard]] client_error decode_failure(std::string_view what,
                                              const kafka::decode_error& error) const;

    template <typename Request>
    client_result<std::vector<std::byte>> encode(const Request& request, int16_t version) {
        kafka::writer w;
        kafka::encode_request_frame(w, ++_correlation_id, _options.client_id, version, request);
        if (!w.ok()) {
            return failure{client_error{
                client_errc::protocol_error,
                std::string("cannot encode ") + std::string(Request::message_name) + " v" +
                    std::to_string(version) + ": " + std::string(kafka::to_string(w.error()))}};
        }
        return std::move(w).take();
    }

    template <typename Response>
    client_result<decoded_response<Response>> decode(response_frame frame, int16_t version) {
        kafka::reader r(std::span<const std::byte>(frame.bytes).subspan(frame.body_offset),
                        frame.body_offset);
        auto body = Response::decode(r, version);
        if (body) r.expect_end();
        if (!body || !r.ok()) {
            return failure{decode_failure(Response::message_name, body ? r.error() : body.error())};
        }
        return decoded_response<Response>(std::move(frame.bytes), version, std::move(*body));
    }

    int _socket_fd = -1;
    broker_address _address;
    client_options _options;
    int32_t _correlation_id = 0;
    std::vector<kafka::api_version_range> _broker_versions;
};

// Kafka's name of an error code ("UNKNOWN_TOPIC_OR_PARTITION"), or "UNKNOWN"
// for codes newer than this table.
[[nodiscard]] std::string_view kafka_error_name(int16_t error_code) noexcept;
// "UNKNOWN_TOPIC_OR_PARTITION (3)", plus ": message" when the broker sent one.
[[nodiscard]] std::string describe_kafka_error(int16_t error_code,
                                               std::optional<std::string_view> message = {});

}  // namespace tl::app
