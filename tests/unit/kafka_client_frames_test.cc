// Proves that our Kafka codec reads and writes what real clients and an
// independent encoder put on the wire, byte for byte.
//
// How the bytes were obtained (tests/unit/kafka_capture_frames.py does each
// step; the Debian packages kcat 1.7.1, python3-confluent-kafka 1.7.0, both on
// librdkafka 2.0.2, and python3-kafka 2.0.2):
// - first requests: a throwaway Python server on 127.0.0.1 that records what
//   arrives and never answers; `kcat -b 127.0.0.1:PORT -L`, a confluent-kafka
//   Producer's list_topics() and a kafka-python KafkaConsumer were pointed at
//   it, each with default settings. Those frames are below, with the fields we
//   must see in them.
// - sessions (kafka_client_frames.inc): the same clients producing, consuming,
//   committing in groups and producing idempotently against librdkafka's mock
//   cluster behind a recording proxy: requests from real clients, responses
//   from librdkafka's own encoder. Some of the ApiVersions answers were
//   widened by the proxy so that librdkafka sends flexible OffsetFetch v7.
// - kafka-python encodings (kafka_client_frames.inc): kafka-python's
//   hand-written protocol classes filled with distinct values in every field,
//   an encoder written independently of Kafka's JSON specs.
//
// For every frame: our decoder accepts it and reads every byte, our encoder
// reproduces it exactly, and every strict prefix of it is refused.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "kafka/messages/messages.h"
#include "kafka/protocol/frame.h"

namespace tl::kafka {
namespace {

using bytes = std::vector<std::byte>;

enum direction : uint8_t { request, response };

struct captured_frame {
    const char* label;
    direction kind;
    int16_t api_key;
    int16_t api_version;
    const char* hex;
};

#include "kafka_client_frames.inc"

bytes from_hex(std::string_view hex) {
    bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(
            static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

std::string to_hex(std::span<const std::byte> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::byte b : data) {
        out += digits[std::to_integer<int>(b) >> 4];
        out += digits[std::to_integer<int>(b) & 15];
    }
    return out;
}

// A whole request frame (with its size prefix), decoded as M.
template <typename M>
M decode_request_frame(const bytes& frame_with_size, request_header* header_out = nullptr) {
    EXPECT_GE(frame_with_size.size(), 4U);
    const auto frame = std::span(frame_with_size).subspan(4);
    auto parsed = parse_request_frame(frame);
    EXPECT_TRUE(parsed.ok()) << to_string(parsed.error().code);
    if (!parsed) return M{};
    if (header_out != nullptr) *header_out = parsed->header;
    auto body = decode_request_body<M>(*parsed);
    EXPECT_TRUE(body.ok()) << to_string(body.error().code) << " at " << body.error().offset;
    return body ? *body : M{};
}

template <typename M>
bytes encode_request(const request_header& header, const M& body) {
    writer w;
    encode_request_frame(w, header.correlation_id, header.client_id, header.request_api_version,
                         body);
    EXPECT_TRUE(w.ok());
    return std::move(w).take();
}

// Decodes a captured frame (or bare body) as message M and encodes it again.
// Returns the step that failed, or nullptr. Kept free of strings and gtest
// macros: it is instantiated for every request and response type.
template <typename M>
const char* reencode_as(int16_t version, std::span<const std::byte> input, bool whole_frame,
                        bytes& out, decode_error& error) {
    reader r(input);
    int32_t correlation_id = 0;
    std::optional<std::string_view> client_id;
    if (whole_frame) {
        if (r.read_int32() != static_cast<int32_t>(input.size() - 4)) return "size prefix";
        if constexpr (M::kind == message_kind::request) {
            auto header = request_header::decode(r, request_header_version(M::api_key, version));
            if (!header) {
                error = header.error();
                return "request header";
            }
            if (header->request_api_key != M::api_key || header->request_api_version != version) {
                return "header names another API or version";
            }
            correlation_id = header->correlation_id;
            client_id = header->client_id;
        } else {
            auto header = response_header::decode(r, response_header_version(M::api_key, version));
            if (!header) {
                error = header.error();
                return "response header";
            }
            correlation_id = header->correlation_id;
        }
    }
    auto message = M::decode(r, version);
    if (!message) {
        error = message.error();
        return "body";
    }
    if (!r.at_end()) return "bytes left over";
    writer w;
    if (!whole_frame) {
        message->encode(w, version);
    } else if constexpr (M::kind == message_kind::request) {
        encode_request_frame(w, correlation_id, client_id, version, *message);
    } else {
        encode_response_frame(w, correlation_id, version, *message);
    }
    if (!w.ok()) return "encoding";
    out = std::move(w).take();
    return nullptr;
}

// Returns "" when decoding and re-encoding `input` as the fixture's message
// gives back the same bytes, else what went wrong.
std::string check_frame(const captured_frame& fixture, std::span<const std::byte> input,
                        bool whole_frame) {
    const char* step = "no schema for this API key";
    bytes out;
    decode_error error;
    auto check = [&]<typename M>() {
        step = reencode_as<M>(fixture.api_version, input, whole_frame, out, error);
    };
    if (fixture.kind == request) {
        with_request_type(fixture.api_key, check);
    } else {
        with_response_type(fixture.api_key, check);
    }
    if (step != nullptr) {
        return std::string(step) + ": " + std::string(to_string(error.code)) + " at " +
               std::to_string(error.offset);
    }
    if (out != bytes(input.begin(), input.end())) {
        return "re-encoded differently:\n  ours   " + to_hex(out) + "\n  theirs " + to_hex(input);
    }
    return "";
}

void expect_every_prefix_refused(const captured_frame& fixture, const bytes& input,
                                 bool whole_frame) {
    for (size_t size = 0; size < input.size(); ++size) {
        const bytes prefix(input.begin(), input.begin() + static_cast<ptrdiff_t>(size));
        EXPECT_FALSE(check_frame(fixture, prefix, whole_frame).empty())
            << fixture.label << " accepted with only " << size << " of " << input.size()
            << " bytes";
    }
}

// ---------------------------------------------------------------------------
// The first request of each client, with the fields they must carry.

// kcat 1.7.1 (librdkafka 2.0.2): `kcat -b 127.0.0.1:PORT -L`.
constexpr std::string_view kcat_api_versions_v3 =
    "000000240012000300000001000772646b61666b61000b6c696272646b61666b6106322e302e3200";
// python3-confluent-kafka 1.7.0: Producer({'bootstrap.servers': ...}).list_topics().
constexpr std::string_view confluent_kafka_api_versions_v3 =
    "0000003e0012000300000001000772646b61666b610017636f6e666c75656e742d6b61666b612d707974686f"
    "6e14312e372e302d72646b61666b612d322e302e3200";
// python3-kafka 2.0.2: KafkaConsumer(bootstrap_servers=...), which sends
// ApiVersions v0 and, pipelined behind it, Metadata v0.
constexpr std::string_view kafka_python_api_versions_v0 =
    "0000001c001200000000000100126b61666b612d707974686f6e2d322e302e32";
constexpr std::string_view kafka_python_metadata_v0 =
    "00000020000300000000000200126b61666b612d707974686f6e2d322e302e3200000000";

TEST(kafka_client_frames, librdkafka_api_versions_v3) {
    const bytes frame = from_hex(kcat_api_versions_v3);
    request_header header;
    const auto body = decode_request_frame<api_versions_request>(frame, &header);
    EXPECT_EQ(header.request_api_key, 18);
    EXPECT_EQ(header.request_api_version, 3);
    EXPECT_EQ(header.correlation_id, 1);
    EXPECT_EQ(header.client_id, std::optional<std::string_view>("rdkafka"));
    EXPECT_EQ(request_header_version(18, 3), 2);  // a flexible request header
    EXPECT_EQ(body.client_software_name, "librdkafka");
    EXPECT_EQ(body.client_software_version, "2.0.2");
    EXPECT_EQ(to_hex(encode_request(header, body)), kcat_api_versions_v3);
}

TEST(kafka_client_frames, confluent_kafka_api_versions_v3) {
    const bytes frame = from_hex(confluent_kafka_api_versions_v3);
    request_header header;
    const auto body = decode_request_frame<api_versions_request>(frame, &header);
    EXPECT_EQ(header.correlation_id, 1);
    EXPECT_EQ(header.client_id, std::optional<std::string_view>("rdkafka"));
    EXPECT_EQ(body.client_software_name, "confluent-kafka-python");
    EXPECT_EQ(body.client_software_version, "1.7.0-rdkafka-2.0.2");
    EXPECT_EQ(to_hex(encode_request(header, body)), confluent_kafka_api_versions_v3);
}

TEST(kafka_client_frames, kafka_python_api_versions_v0_then_metadata_v0) {
    const bytes versions_frame = from_hex(kafka_python_api_versions_v0);
    request_header header;
    const auto versions = decode_request_frame<api_versions_request>(versions_frame, &header);
    EXPECT_EQ(header.request_api_version, 0);
    EXPECT_EQ(header.correlation_id, 1);
    EXPECT_EQ(header.client_id, std::optional<std::string_view>("kafka-python-2.0.2"));
    EXPECT_EQ(request_header_version(18, 0), 1);  // no tagged section: body starts at once
    EXPECT_EQ(to_hex(encode_request(header, versions)), kafka_python_api_versions_v0);

    const bytes metadata_frame = from_hex(kafka_python_metadata_v0);
    const auto metadata = decode_request_frame<metadata_request>(metadata_frame, &header);
    EXPECT_EQ(header.request_api_key, 3);
    EXPECT_EQ(header.request_api_version, 0);
    EXPECT_EQ(header.correlation_id, 2);
    // v0: an empty (not null) list, which means every topic.
    ASSERT_TRUE(metadata.topics.has_value());
    EXPECT_TRUE(metadata.topics->empty());
    EXPECT_EQ(to_hex(encode_request(header, metadata)), kafka_python_metadata_v0);
}

TEST(kafka_client_frames, first_requests_truncated_anywhere_are_refused) {
    const std::vector<captured_frame> firsts = {
        {"kcat", request, 18, 3, kcat_api_versions_v3.data()},
        {"confluent-kafka", request, 18, 3, confluent_kafka_api_versions_v3.data()},
        {"kafka-python", request, 18, 0, kafka_python_api_versions_v0.data()},
        {"kafka-python", request, 3, 0, kafka_python_metadata_v0.data()},
    };
    for (const auto& fixture : firsts) {
        const bytes frame = from_hex(fixture.hex);
        EXPECT_EQ(check_frame(fixture, frame, true), "") << fixture.label;
        expect_every_prefix_refused(fixture, frame, true);
    }
}

// ---------------------------------------------------------------------------
// Whole sessions against librdkafka's mock cluster.

const captured_frame& session_frame(std::string_view label, direction kind, int16_t api_key,
                                    int16_t api_version) {
    for (const auto& f : session_frames) {
        if (f.label == label && f.kind == kind && f.api_key == api_key &&
            f.api_version == api_version) {
            return f;
        }
    }
    ADD_FAILURE() << "no fixture " << label << " " << api_key << " v" << api_version;
    return session_frames[0];
}

TEST(kafka_client_frames, every_session_frame_round_trips) {
    size_t requests = 0;
    size_t responses = 0;
    for (const auto& fixture : session_frames) {
        const bytes frame = from_hex(fixture.hex);
        EXPECT_EQ(check_frame(fixture, frame, true), "")
            << fixture.label << (fixture.kind == request ? " request " : " response ")
            << fixture.api_key << " v" << fixture.api_version;
        expect_every_prefix_refused(fixture, frame, true);
        (fixture.kind == request ? requests : responses)++;
    }
    EXPECT_GE(requests, 25U);
    EXPECT_GE(responses, 20U);
}

TEST(kafka_client_frames, librdkafka_produce_v7_keeps_the_batch_as_a_view) {
    const bytes frame = from_hex(session_frame("kcat-produce", request, 0, 7).hex);
    const auto produce = decode_request_frame<produce_request>(frame);
    EXPECT_FALSE(produce.transactional_id.has_value());
    EXPECT_EQ(produce.acks, -1);
    EXPECT_EQ(produce.timeout_ms, 30000);
    ASSERT_EQ(produce.topic_data.size(), 1U);
    EXPECT_EQ(produce.topic_data[0].name, "tidelog-fixture");
    ASSERT_EQ(produce.topic_data[0].partition_data.size(), 1U);
    const auto& partition = produce.topic_data[0].partition_data[0];
    EXPECT_EQ(partition.index, 0);
    ASSERT_TRUE(partition.records.has_value());
    const bytes_view batch = *partition.records;
    ASSERT_EQ(batch.size(), 99U);
    // Zero copy: the view points into the frame.
    EXPECT_GE(batch.data(), frame.data());
    EXPECT_LE(batch.data() + batch.size(), frame.data() + frame.size());
    EXPECT_EQ(batch.span()[16], std::byte{2});  // magic 2
    EXPECT_EQ(batch.span()[60], std::byte{2});  // record count 2 (low byte)
}

TEST(kafka_client_frames, kafka_python_produce_v7_with_acks_1) {
    const bytes frame = from_hex(session_frame("kafka-python-produce", request, 0, 7).hex);
    const auto produce = decode_request_frame<produce_request>(frame);
    EXPECT_EQ(produce.acks, 1);
    ASSERT_EQ(produce.topic_data.size(), 1U);
    ASSERT_EQ(produce.topic_data[0].partition_data.size(), 1U);
    ASSERT_TRUE(produce.topic_data[0].partition_data[0].records.has_value());
    EXPECT_EQ(produce.topic_data[0].partition_data[0].records->span()[16], std::byte{2});
}

TEST(kafka_client_frames, librdkafka_fetch_v11) {
    const bytes frame = from_hex(session_frame("kcat-consume", request, 1, 11).hex);
    const auto fetch = decode_request_frame<fetch_request>(frame);
    EXPECT_EQ(fetch.replica_id, -1);
    EXPECT_EQ(fetch.max_wait_ms, 500);
    EXPECT_EQ(fetch.min_bytes, 1);
    EXPECT_EQ(fetch.session_id, 0);  // sessionless full fetch
    EXPECT_EQ(fetch.session_epoch, -1);
    ASSERT_EQ(fetch.topics.size(), 1U);
    EXPECT_EQ(fetch.topics[0].topic, "tidelog-fixture");
    ASSERT_EQ(fetch.topics[0].partitions.size(), 1U);
    EXPECT_EQ(fetch.topics[0].partitions[0].current_leader_epoch, -1);
    EXPECT_EQ(fetch.rack_id, "");

    const bytes reply = from_hex(session_frame("kcat-consume", response, 1, 11).hex);
    reader r(std::span(reply).subspan(4));
    ASSERT_TRUE(response_header::decode(r, 0).ok());
    auto answer = fetch_response::decode(r, 11);
    ASSERT_TRUE(answer.ok());
    ASSERT_EQ(answer->responses.size(), 1U);
    const auto& data = answer->responses[0].partitions.at(0);
    EXPECT_EQ(data.high_watermark, 2);
    EXPECT_EQ(data.preferred_read_replica, -1);
    ASSERT_TRUE(data.records.has_value());
    EXPECT_EQ(data.records->span()[16], std::byte{2});
}

TEST(kafka_client_frames, librdkafka_offset_fetch_v7_is_flexible) {
    const bytes frame = from_hex(session_frame("widened-group", request, 9, 7).hex);
    request_header header;
    const auto fetch = decode_request_frame<offset_fetch_request>(frame, &header);
    EXPECT_EQ(request_header_version(9, 7), 2);
    EXPECT_EQ(header.client_id, std::optional<std::string_view>("rdkafka"));
    EXPECT_EQ(fetch.group_id, "tidelog-widened");
    ASSERT_TRUE(fetch.topics.has_value());
    ASSERT_EQ(fetch.topics->size(), 1U);
    EXPECT_EQ((*fetch.topics)[0].name, "tidelog-fixture");
    EXPECT_EQ((*fetch.topics)[0].partition_indexes, (std::vector<int32_t>{0, 1, 2, 3}));
    EXPECT_TRUE(fetch.require_stable);  // librdkafka's default isolation is read_committed
}

TEST(kafka_client_frames, librdkafka_init_producer_id_v4_both_ways) {
    const bytes frame = from_hex(session_frame("kcat-idempotent", request, 22, 4).hex);
    const auto init = decode_request_frame<init_producer_id_request>(frame);
    EXPECT_FALSE(init.transactional_id.has_value());
    EXPECT_EQ(init.producer_id, -1);
    EXPECT_EQ(init.producer_epoch, -1);

    const bytes reply = from_hex(session_frame("kcat-idempotent", response, 22, 4).hex);
    reader r(std::span(reply).subspan(4));
    ASSERT_TRUE(response_header::decode(r, response_header_version(22, 4)).ok());
    auto answer = init_producer_id_response::decode(r, 4);
    ASSERT_TRUE(answer.ok());
    EXPECT_TRUE(r.at_end());
    EXPECT_EQ(answer->error_code, 0);
    EXPECT_GE(answer->producer_id, 0);
}

TEST(kafka_client_frames, mock_api_versions_and_metadata_answers) {
    const bytes versions = from_hex(session_frame("kcat-produce", response, 18, 0).hex);
    reader r(std::span(versions).subspan(4));
    ASSERT_TRUE(response_header::decode(r, 0).ok());
    auto answer = api_versions_response::decode(r, 0);
    ASSERT_TRUE(answer.ok());
    ASSERT_FALSE(answer->api_keys.empty());
    EXPECT_EQ(answer->api_keys[0].api_key, 0);  // Produce
    EXPECT_EQ(answer->api_keys[0].max_version, 7);

    const bytes metadata = from_hex(session_frame("kcat-produce", response, 3, 2).hex);
    reader m(std::span(metadata).subspan(4));
    ASSERT_TRUE(response_header::decode(m, 0).ok());
    auto cluster = metadata_response::decode(m, 2);
    ASSERT_TRUE(cluster.ok());
    ASSERT_EQ(cluster->brokers.size(), 1U);
    EXPECT_EQ(cluster->brokers[0].host, "127.0.0.1");
    EXPECT_EQ(cluster->brokers[0].port, 19190);  // the proxy's port, written in by it
    ASSERT_TRUE(cluster->cluster_id.has_value());
    EXPECT_TRUE(cluster->cluster_id->starts_with("mockCluster"));
    ASSERT_EQ(cluster->topics.size(), 1U);
    EXPECT_EQ(cluster->topics[0].partitions.size(), 4U);
}

// ---------------------------------------------------------------------------
// kafka-python's independent encoder.

TEST(kafka_client_frames, kafka_python_encodings_round_trip) {
    size_t count = 0;
    for (const auto& fixture : kafka_python_encodings) {
        const bytes body = from_hex(fixture.hex);
        EXPECT_EQ(check_frame(fixture, body, false), "") << fixture.label;
        ++count;
    }
    EXPECT_EQ(count, 148U);
}

}  // namespace
}  // namespace tl::kafka
