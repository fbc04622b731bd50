#include "app/kafka_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "base/assert.h"
#include "kafka/messages/api_table.h"
#include "kafka/messages/api_versions.h"
#include "kafka/messages/headers.h"
#include "kafka/protocol/error_code.h"

namespace tl::app {
namespace {

using clock = std::chrono::steady_clock;

// The versions tidectl speaks, a subset of the schemas' ranges: Produce and
// Fetch from where record batches (magic 2) start; Fetch up to 12, the last
// version that names topics (13+ wants topic ids); ListOffsets and
// DescribeConfigs from v1, the first with a single offset and config sources.
// OffsetFetch from v1, the first that reads Kafka-stored offsets.
constexpr auto client_ranges = std::to_array<kafka::api_version_range>({
    {kafka::api_keys::produce, 3, 11},
    {kafka::api_keys::fetch, 4, 12},
    {kafka::api_keys::list_offsets, 1, 8},
    {kafka::api_keys::metadata, 1, 12},
    {kafka::api_keys::api_versions, 0, 3},
    {kafka::api_keys::create_topics, 0, 7},
    {kafka::api_keys::delete_topics, 0, 6},
    {kafka::api_keys::describe_configs, 1, 4},
    {kafka::api_keys::incremental_alter_configs, 0, 1},
    {kafka::api_keys::describe_cluster, 0, 1},
    // Groups: OffsetFetch up to v7, the last with one group per request.
    {kafka::api_keys::offset_fetch, 1, 7},
    {kafka::api_keys::describe_groups, 0, 5},
    {kafka::api_keys::list_groups, 0, 5},
    {kafka::api_keys::delete_groups, 0, 2},
});

// ApiVersions is always answered with a v0 response header, and its error
// code is the first field in every version: enough to read a refusal.
constexpr int16_t api_versions_newest = 3;

int milliseconds_left(clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, 1'000'000'000));
}

client_error make_error(client_errc code, std::string message) {
    return client_error{code, std::move(message)};
}

// Waits until `fd` is ready for `events`; false on timeout.
result<bool, int> wait_ready(int fd, short events, clock::time_point deadline) {
    while (true) {
        pollfd entry{.fd = fd, .events = events, .revents = 0};
        const int ready = ::poll(&entry, 1, milliseconds_left(deadline));
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) return failure{errno};
    }
}

// A non-blocking socket connected to one of `host`'s addresses.
client_result<int> connect_socket(const broker_address& address, clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    if (const int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return failure{
            make_error(client_errc::resolve_failed,
                       fmt::format("cannot resolve '{}': {}", address.host, ::gai_strerror(rc)))};
    }
    client_error last = make_error(client_errc::connect_failed,
                                   fmt::format("cannot connect to {}", address.to_string()));
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int error = 0;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            error = errno;
            if (error == EINPROGRESS) {
                auto ready = wait_ready(fd, POLLOUT, deadline);
                if (ready && !*ready) {
                    ::close(fd);
                    last =
                        make_error(client_errc::timed_out,
                                   fmt::format("timed out connecting to {}", address.to_string()));
                    continue;
                }
                socklen_t length = sizeof(error);
                if (!ready) {
                    error = ready.error();
                } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
                    error = errno;
                }
            }
        }
        if (error == 0) {
            ::freeaddrinfo(found);
            return fd;
        }
        ::close(fd);
        last = make_error(
            client_errc::connect_failed,
            fmt::format("cannot connect to {}: {}", address.to_string(), std::strerror(error)));
    }
    ::freeaddrinfo(found);
    return failure{std::move(last)};
}

// Reads exactly `out.size()` bytes.
client_result<void> receive_exact(int fd, std::span<std::byte> out, clock::time_point deadline,
                                  const broker_address& address) {
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t got = ::recv(fd, out.data() + done, out.size() - done, 0);
        if (got > 0) {
            done += static_cast<size_t>(got);
            continue;
        }
        if (got == 0) {
            return failure{
                make_error(client_errc::connection_closed,
                           fmt::format("{} closed the connection", address.to_string()))};
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return failure{make_error(
                client_errc::connection_closed,
                fmt::format("receiving from {}: {}", address.to_string(), std::strerror(errno)))};
        }
        auto ready = wait_ready(fd, POLLIN, deadline);
        if (!ready || !*ready) {
            return failure{
                make_error(client_errc::timed_out,
                           fmt::format("timed out waiting for {} to answer", address.to_string()))};
        }
    }
    return {};
}

int32_t read_big_endian_int32(std::span<const std::byte, 4> bytes) {
    uint32_t value = 0;
    for (const std::byte b : bytes) value = (value << 8) | static_cast<uint32_t>(b);
    return static_cast<int32_t>(value);
}

}  // namespace

std::string broker_address::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

result<broker_address, std::string> parse_broker_address(std::string_view text) {
    const auto bad = [&text](std::string_view why) -> result<broker_address, std::string> {
        return failure{fmt::format("bad address '{}': {}", text, why)};
    };
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT");
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return bad("write IPv6 addresses as [ADDRESS]:PORT");
    }
    if (host.empty()) return bad("empty host");
    unsigned port = 0;
    const auto [end, errc] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (errc != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        return bad("port must be 1-65535");
    }
    return broker_address{std::string(host), static_cast<uint16_t>(port)};
}

client_result<kafka_client> kafka_client::connect(const broker_address& address,
                                                  const client_options& options) {
    const auto deadline = clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
    auto fd = connect_socket(address, deadline);
    if (!fd) return failure{fd.error()};
    kafka_client client(*fd, address, options);
    if (auto negotiated = client.negotiate_versions(); !negotiated) {
        return failure{negotiated.error()};
    }
    return client;
}

kafka_client::kafka_client(kafka_client&& other) noexcept
    : _socket_fd(std::exchange(other._socket_fd, -1)),
      _address(std::move(other._address)),
      _options(std::move(other._options)),
      _correlation_id(other._correlation_id),
      _broker_versions(std::move(other._broker_versions)) {}

kafka_client& kafka_client::operator=(kafka_client&& other) noexcept {
    if (this == &other) return *this;
    if (_socket_fd >= 0) ::close(_socket_fd);
    _socket_fd = std::exchange(other._socket_fd, -1);
    _address = std::move(other._address);
    _options = std::move(other._options);
    _correlation_id = other._correlation_id;
    _broker_versions = std::move(other._broker_versions);
    return *this;
}

kafka_client::~kafka_client() {
    if (_socket_fd >= 0) ::close(_socket_fd);
}

// Asks at v3; a broker that does not know v3 answers UNSUPPORTED_VERSION with
// a v0 body listing what it serves, and we ask again at v0.
client_result<void> kafka_client::negotiate_versions() {
    // Until we know better, ApiVersions is the one API assumed served.
    for (const int16_t version : {api_versions_newest, int16_t{0}}) {
        _broker_versions = {{kafka::api_keys::api_versions, version, version}};
        kafka::api_versions_request request;
        if (version >= 3) {
            request.client_software_name = "tidectl";
            request.client_software_version = "1";
        }
        auto answer = call<kafka::api_versions_response>(request);
        if (!answer) {
            // A v0 body decoded as v3 fails; its first int16 is still the error.
            const bool refused_v3 =
                version > 0 && answer.error().code == client_errc::protocol_error;
            if (refused_v3) continue;
            return failure{answer.error()};
        }
        const auto& body = answer->body;
        if (body.error_code == kafka::code(kafka::error_code::unsupported_version) && version > 0) {
            continue;
        }
        if (body.error_code != 0) {
            return failure{make_error(
                client_errc::protocol_error,
                fmt::format("ApiVersions failed: {}", describe_kafka_error(body.error_code)))};
        }
        _broker_versions.clear();
        for (const auto& api : body.api_keys) {
            _broker_versions.push_back({api.api_key, api.min_version, api.max_version});
        }
        std::ranges::sort(_broker_versions, {}, &kafka::api_version_range::api_key);
        return {};
    }
    return failure{
        make_error(client_errc::unsupported_api,
                   fmt::format("{} does not answer ApiVersions v0 or v3", _address.to_string()))};
}

std::optional<int16_t> kafka_client::version_for(int16_t api_key) const noexcept {
    const auto ours = std::ranges::find(client_ranges, api_key, &kafka::api_version_range::api_key);
    const auto theirs =
        std::ranges::find(_broker_versions, api_key, &kafka::api_version_range::api_key);
    if (ours == client_ranges.end() || theirs == _broker_versions.end()) return std::nullopt;
    const int16_t version = std::min(ours->max_version, theirs->max_version);
    if (version < ours->min_version || version < theirs->min_version) return std::nullopt;
    return version;
}

client_result<int16_t> kafka_client::served_version(int16_t api_key,
                                                    std::string_view message_name) const {
    if (auto version = version_for(api_key)) return *version;
    // "create_topics_request" -> "create_topics"
    std::string_view api = message_name.substr(0, message_name.rfind('_'));
    if (const kafka::api_schema* schema = kafka::find_api_schema(api_key)) api = schema->name;
    return failure{make_error(client_errc::unsupported_api,
                              fmt::format("the broker at {} does not serve {} (API key {}) in a "
                                          "version tidectl speaks",
                                          _address.to_string(), api, api_key))};
}

client_result<void> kafka_client::send_frame(std::span<const std::byte> frame) {
    const auto deadline = clock::now() + std::chrono::milliseconds(_options.request_timeout_ms);
    size_t done = 0;
    while (done < frame.size()) {
        const ssize_t sent =
            ::send(_socket_fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
        if (sent >= 0) {
            done += static_cast<size_t>(sent);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return failure{make_error(
                client_errc::connection_closed,
                fmt::format("sending to {}: {}", _address.to_string(), std::strerror(errno)))};
        }
        auto ready = wait_ready(_socket_fd, POLLOUT, deadline);
        if (!ready || !*ready) {
            return failure{make_error(client_errc::timed_out, fmt::format("timed out sending to {}",
                                                                          _address.to_string()))};
        }
    }
    return {};
}

// Sends one request frame and reads frames until the one with its correlation
// id; older ones (answers to requests we gave up on) are skipped.
client_result<kafka_client::response_frame> kafka_client::exchange(std::span<const std::byte> frame,
                                                                   int16_t api_key, int16_t version,
                                                                   uint32_t extra_wait_ms) {
    if (auto sent = send_frame(frame); !sent) return failure{sent.error()};
    const auto deadline = clock::now() + std::chrono::milliseconds(
                                             uint64_t{_options.request_timeout_ms} + extra_wait_ms);
    const int16_t header_version = kafka::response_header_version(api_key, version);
    while (true) {
        std::array<std::byte, kafka::frame_size_prefix_bytes> prefix{};
        if (auto got = receive_exact(_socket_fd, prefix, deadline, _address); !got) {
            return failure{got.error()};
        }
        const int32_t size = read_big_endian_int32(prefix);
        if (size < 4 || static_cast<size_t>(size) > response_frame_size_max) {
            return failure{
                make_error(client_errc::protocol_error,
                           fmt::format("{} sent a frame of {} bytes", _address.to_string(), size))};
        }
        std::vector<std::byte> bytes(static_cast<size_t>(size));
        if (auto got = receive_exact(_socket_fd, bytes, deadline, _address); !got) {
            return failure{got.error()};
        }
        kafka::reader r(bytes);
        auto header = kafka::response_header::decode(r, header_version);
        if (!header) return failure{decode_failure("response_header", header.error())};
        if (header->correlation_id == _correlation_id) {
            return response_frame{std::move(bytes), r.position()};
        }
        if (header->correlation_id > _correlation_id) {
            return failure{make_error(
                client_errc::protocol_error,
                fmt::format("{} answered correlation id {}, expected {}", _address.to_string(),
                            header->correlation_id, _correlation_id))};
        }
    }
}

client_error kafka_client::decode_failure(std::string_view what,
                                          const kafka::decode_error& error) const {
    return make_error(
        client_errc::protocol_error,
        fmt::format("cannot decode {} from {}: {} at byte {}", what, _address.to_string(),
                    kafka::to_string(error.code), error.offset));
}

std::string_view kafka_error_name(int16_t error_code) noexcept {
    // Kafka's Errors.java, by code from 0.
    static constexpr std::array<std::string_view, 111> names = {
        "NONE",
        "OFFSET_OUT_OF_RANGE",
        "CORRUPT_MESSAGE",
        "UNKNOWN_TOPIC_OR_PARTITION",
        "INVALID_FETCH_SIZE",
        "LEADER_NOT_AVAILABLE",
        "NOT_LEADER_OR_FOLLOWER",
        "REQUEST_TIMED_OUT",
        "BROKER_NOT_AVAILABLE",
        "REPLICA_NOT_AVAILABLE",
        "MESSAGE_TOO_LARGE",
        "STALE_CONTROLLER_EPOCH",
        "OFFSET_METADATA_TOO_LARGE",
        "NETWORK_EXCEPTION",
        "COORDINATOR_LOAD_IN_PROGRESS",
        "COORDINATOR_NOT_AVAILABLE",
        "NOT_COORDINATOR",
        "INVALID_TOPIC_EXCEPTION",
        "RECORD_LIST_TOO_LARGE",
        "NOT_ENOUGH_REPLICAS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "INVALID_REQUIRED_ACKS",
        "ILLEGAL_GENERATION",
        "INCONSISTENT_GROUP_PROTOCOL",
        "INVALID_GROUP_ID",
        "UNKNOWN_MEMBER_ID",
        "INVALID_SESSION_TIMEOUT",
        "REBALANCE_IN_PROGRESS",
        "INVALID_COMMIT_OFFSET_SIZE",
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
        "CLUSTER_AUTHORIZATION_FAILED",
        "INVALID_TIMESTAMP",
        "UNSUPPORTED_SASL_MECHANISM",
        "ILLEGAL_SASL_STATE",
        "UNSUPPORTED_VERSION",
        "TOPIC_ALREADY_EXISTS",
        "INVALID_PARTITIONS",
        "INVALID_REPLICATION_FACTOR",
        "INVALID_REPLICA_ASSIGNMENT",
        "INVALID_CONFIG",
        "NOT_CONTROLLER",
        "INVALID_REQUEST",
        "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        "POLICY_VIOLATION",
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
        "DUPLICATE_SEQUENCE_NUMBER",
        "INVALID_PRODUCER_EPOCH",
        "INVALID_TXN_STATE",
        "INVALID_PRODUCER_ID_MAPPING",
        "INVALID_TRANSACTION_TIMEOUT",
        "CONCURRENT_TRANSACTIONS",
        "TRANSACTION_COORDINATOR_FENCED",
        "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        "SECURITY_DISABLED",
        "OPERATION_NOT_ATTEMPTED",
        "KAFKA_STORAGE_ERROR",
        "LOG_DIR_NOT_FOUND",
        "SASL_AUTHENTICATION_FAILED",
        "UNKNOWN_PRODUCER_ID",
        "REASSIGNMENT_IN_PROGRESS",
        "DELEGATION_TOKEN_AUTH_DISABLED",
        "DELEGATION_TOKEN_NOT_FOUND",
        "DELEGATION_TOKEN_OWNER_MISMATCH",
        "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
        "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
        "DELEGATION_TOKEN_EXPIRED",
        "INVALID_PRINCIPAL_TYPE",
        "NON_EMPTY_GROUP",
        "GROUP_ID_NOT_FOUND",
        "FETCH_SESSION_ID_NOT_FOUND",
        "INVALID_FETCH_SESSION_EPOCH",
        "LISTENER_NOT_FOUND",
        "TOPIC_DELETION_DISABLED",
        "FENCED_LEADER_EPOCH",
        "UNKNOWN_LEADER_EPOCH",
        "UNSUPPORTED_COMPRESSION_TYPE",
        "STALE_BROKER_EPOCH",
        "OFFSET_NOT_AVAILABLE",
        "MEMBER_ID_REQUIRED",
        "PREFERRED_LEADER_NOT_AVAILABLE",
        "GROUP_MAX_SIZE_REACHED",
        "FENCED_INSTANCE_ID",
        "ELIGIBLE_LEADERS_NOT_AVAILABLE",
        "ELECTION_NOT_NEEDED",
        "NO_REASSIGNMENT_IN_PROGRESS",
        "GROUP_SUBSCRIBED_TO_TOPIC",
        "INVALID_RECORD",
        "UNSTABLE_OFFSET_COMMIT",
        "THROTTLING_QUOTA_EXCEEDED",
        "PRODUCER_FENCED",
        "RESOURCE_NOT_FOUND",
        "DUPLICATE_RESOURCE",
        "UNACCEPTABLE_CREDENTIAL",
        "INCONSISTENT_VOTER_SET",
        "INVALID_UPDATE_VERSION",
        "FEATURE_UPDATE_FAILED",
        "PRINCIPAL_DESERIALIZATION_FAILURE",
        "SNAPSHOT_NOT_FOUND",
        "POSITION_OUT_OF_RANGE",
        "UNKNOWN_TOPIC_ID",
        "DUPLICATE_BROKER_REGISTRATION",
        "BROKER_ID_NOT_REGISTERED",
        "INCONSISTENT_TOPIC_ID",
        "INCONSISTENT_CLUSTER_ID",
        "TRANSACTIONAL_ID_NOT_FOUND",
        "FETCH_SESSION_TOPIC_ID_ERROR",
        "INELIGIBLE_REPLICA",
        "NEW_LEADER_ELECTED",
        "OFFSET_MOVED_TO_TIERED_STORAGE",
        "FENCED_MEMBER_EPOCH",
    };
    if (error_code == -1) return "UNKNOWN_SERVER_ERROR";
    if (error_code < 0 || static_cast<size_t>(error_code) >= names.size()) return "UNKNOWN";
    return names[static_cast<size_t>(error_code)];
}

std::string describe_kafka_error(int16_t error_code, std::optional<std::string_view> message) {
    std::string text = fmt::format("{} ({})", kafka_error_name(error_code), error_code);
    if (message && !message->empty()) text += fmt::format(": {}", *message);
    return text;
}

}  // namespace tl::app
