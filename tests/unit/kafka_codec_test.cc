// Proves the Kafka message codecs generated from src/kafka/schemas (the
// primitives they use are in kafka_primitives_test.cc):
// - every message in every version round-trips: the generated make_sample()
//   puts a non-default value in every field the version has (and, in a second
//   style, null in every field the version allows to be null); encoding,
//   decoding and re-encoding must give back the same message and bytes, and
//   the counting writer must predict the size exactly;
// - every strict prefix of every one of those encodings fails to decode with
//   a typed error, reading only from an exactly-sized buffer (so ASan sees
//   any over-read);
// - malformed input: negative and huge counts, invalid compact lengths,
//   nulls where a version forbids them, tagged fields of the wrong size;
//   unknown tagged fields are skipped, also inside array elements;
// - encoding refuses what a version cannot carry (non-ignorable fields,
//   nulls, overlong strings), and drops ignorable fields silently;
// - header versions and frames follow Kafka's rules, including ApiVersions
//   responses always using header v0; the API table and what ApiVersions
//   advertises.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/messages/messages.h"
#include "kafka/messages/samples.h"
#include "kafka/protocol/api_support.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/reader.h"
#include "kafka/protocol/writer.h"

namespace tl::kafka {
namespace {

using bytes = std::vector<std::byte>;
using testing::make_sample;
using testing::sample_style;

bytes make_bytes(std::initializer_list<int> values) {
    bytes out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

std::string hex(std::span<const std::byte> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::byte b : data) {
        out += digits[std::to_integer<int>(b) >> 4];
        out += digits[std::to_integer<int>(b) & 15];
    }
    return out;
}

template <typename M>
bytes encode(const M& message, int16_t version) {
    writer w;
    message.encode(w, version);
    EXPECT_TRUE(w.ok()) << M::message_name << " v" << version << ": " << to_string(w.error());
    return std::move(w).take();
}

// ---------------------------------------------------------------------------
// Every message, every version

// The per-type checks return the step that failed (nullptr if none) and keep
// gtest macros and string formatting out of the 54 instantiations, which
// would otherwise dominate this file's compile time.
struct failure_report {
    std::string_view message;
    int16_t version;
    std::string_view step;
    size_t detail;  // the prefix size, or the error offset
};

// Sample -> bytes -> message -> bytes: same message, same bytes, and the
// counting writer predicts the size.
template <typename M>
const char* round_trip(int16_t version, sample_style style, bytes& wire) {
    const M sample = make_sample<M>(version, style);
    writer w;
    sample.encode(w, version);
    if (!w.ok()) return "encoding the sample";
    wire = std::move(w).take();
    writer counter = writer::counting();
    sample.encode(counter, version);
    if (counter.size() != wire.size()) return "counting writer size";
    reader r(wire);
    auto decoded = M::decode(r, version);
    if (!decoded) return "decoding";
    if (!r.at_end()) return "bytes left after decoding";
    if (!(*decoded == sample)) return "decoded message differs from the sample";
    writer again;
    decoded->encode(again, version);
    if (!again.ok() || !std::ranges::equal(again.data(), wire)) return "re-encoding";
    if (style == sample_style::filled) {
        // Every field present holds a non-default value, so the sample's
        // encoding differs from a default message's unless the version has
        // no fields at all (ApiVersions requests v0-2).
        writer plain;
        M{}.encode(plain, version);
        if (std::ranges::equal(plain.data(), wire) && wire.size() > 1) {
            return "sample encodes like a default message";
        }
    }
    return nullptr;
}

TEST(kafka_messages, every_message_round_trips_in_every_version) {
    std::vector<failure_report> failures;
    int versions_checked = 0;
    int messages = 0;
    for_each_message_type([&]<typename M>() {
        ++messages;
        for (int16_t version = M::min_version; version <= M::max_version; ++version) {
            for (const auto style : {sample_style::filled, sample_style::nulls}) {
                bytes wire;
                if (const char* step = round_trip<M>(version, style, wire)) {
                    failures.push_back({M::message_name, version, step, wire.size()});
                }
                ++versions_checked;
            }
        }
    });
    for (const auto& f : failures) {
        ADD_FAILURE() << f.message << " v" << f.version << ": " << f.step;
    }
    EXPECT_EQ(messages, 54);  // 26 APIs' requests and responses, and the 2 headers
    EXPECT_GT(versions_checked, 2 * 300);
}

// Every strict prefix of the sample's encoding fails with truncated or
// array_too_long, at an offset inside the prefix.
template <typename M>
void check_prefixes(int16_t version, size_t& prefixes, std::vector<failure_report>& failures) {
    writer w;
    make_sample<M>(version).encode(w, version);
    const bytes wire = std::move(w).take();
    for (size_t size = 0; size < wire.size(); ++size) {
        const bytes prefix(wire.begin(), wire.begin() + static_cast<ptrdiff_t>(size));
        reader r(prefix);
        auto decoded = M::decode(r, version);
        ++prefixes;
        if (decoded) {
            failures.push_back({M::message_name, version, "prefix decoded", size});
            continue;
        }
        const auto code = decoded.error().code;
        if (code != decode_errc::truncated && code != decode_errc::array_too_long) {
            failures.push_back({M::message_name, version, to_string(code), size});
        } else if (decoded.error().offset > size) {
            failures.push_back({M::message_name, version, "error offset past the end", size});
        }
    }
}

TEST(kafka_messages, every_strict_prefix_fails_to_decode) {
    std::vector<failure_report> failures;
    size_t prefixes = 0;
    for_each_message_type([&]<typename M>() {
        for (int16_t version = M::min_version; version <= M::max_version; ++version) {
            check_prefixes<M>(version, prefixes, failures);
        }
    });
    for (const auto& f : failures) {
        ADD_FAILURE() << f.message << " v" << f.version << " prefix of " << f.detail
                      << " bytes: " << f.step;
    }
    EXPECT_GT(prefixes, 10000U);
}

TEST(kafka_messages, versions_outside_the_schema_are_refused) {
    const bytes empty;
    reader r(empty);
    auto decoded = metadata_request::decode(r, 13);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, decode_errc::unsupported_version);
    writer w;
    metadata_request{}.encode(w, -1);
    EXPECT_EQ(w.error(), encode_errc::unsupported_version);
}

// ---------------------------------------------------------------------------
// Malformed input, hand-made

TEST(kafka_messages, null_array_where_the_version_forbids_it) {
    // Metadata v0: topics may not be null (null means "all topics" from v1).
    const bytes v0 = make_bytes({0xff, 0xff, 0xff, 0xff});
    reader r(v0);
    auto decoded = metadata_request::decode(r, 0);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, decode_errc::null_not_allowed);
    EXPECT_EQ(decoded.error().offset, 0U);

    // v1: the same bytes mean every topic.
    reader r1(v0);
    auto all = metadata_request::decode(r1, 1);
    ASSERT_TRUE(all.ok());
    EXPECT_FALSE(all->topics.has_value());
}

TEST(kafka_messages, negative_and_huge_array_counts) {
    // Metadata v1 request: topics count, then names.
    for (const auto& [input, expected] : std::vector<std::pair<bytes, decode_errc>>{
             {make_bytes({0xff, 0xff, 0xff, 0xfe}), decode_errc::invalid_length},
             {make_bytes({0x80, 0x00, 0x00, 0x00}), decode_errc::invalid_length},
             {make_bytes({0x7f, 0xff, 0xff, 0xff, 0x00, 0x00}), decode_errc::array_too_long},
             // Two topics need at least 4 bytes (two int16 lengths); 3 are left.
             {make_bytes({0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}), decode_errc::array_too_long},
         }) {
        reader r(input);
        auto decoded = metadata_request::decode(r, 1);
        ASSERT_FALSE(decoded.ok()) << hex(input);
        EXPECT_EQ(decoded.error().code, expected) << hex(input);
    }
}

TEST(kafka_messages, invalid_compact_lengths) {
    // Metadata v9 request: compact topics array, elements of a compact string
    // and a tagged section; then bool, bool, tagged section.
    for (const auto& [input, expected] : std::vector<std::pair<bytes, decode_errc>>{
             // count+1 = 2^32-1
             {make_bytes({0xff, 0xff, 0xff, 0xff, 0x0f}), decode_errc::invalid_length},
             // a six-byte varint
             {make_bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), decode_errc::varint_overflow},
             // one topic whose name claims 100 bytes
             {make_bytes({0x02, 0x65, 'a', 0x00, 0x01, 0x00, 0x00}), decode_errc::truncated},
             // one topic with a null name (nullable only from v10)
             {make_bytes({0x02, 0x00, 0x00, 0x01, 0x00, 0x00}), decode_errc::null_not_allowed},
         }) {
        reader r(input);
        auto decoded = metadata_request::decode(r, 9);
        ASSERT_FALSE(decoded.ok()) << hex(input);
        EXPECT_EQ(decoded.error().code, expected) << hex(input);
    }
}

TEST(kafka_messages, unknown_tagged_fields_are_skipped_everywhere) {
    // Metadata v9 request with one topic "t": unknown tags in the topic's
    // section and in the top-level section, in no particular order.
    const bytes input = make_bytes({
        0x02,                                // one topic
        0x02, 't',                           // name
        0x02, 0x05, 0x01, 0xaa, 0x63, 0x00,  // tags 5 (1 byte) and 99 (empty)
        0x00,                                // allow_auto_topic_creation
        0x00,                                // include_cluster_authorized_operations
        0x01,                                // include_topic_authorized_operations
        0x01, 0xe8, 0x07, 0x02, 0x01, 0x02,  // tag 1000 (2 bytes)
    });
    reader r(input);
    auto decoded = metadata_request::decode(r, 9);
    ASSERT_TRUE(decoded.ok()) << to_string(decoded.error().code);
    EXPECT_TRUE(r.at_end());
    ASSERT_TRUE(decoded->topics.has_value());
    ASSERT_EQ(decoded->topics->size(), 1U);
    EXPECT_EQ((*decoded->topics)[0].name, std::optional<std::string_view>("t"));
    EXPECT_FALSE(decoded->allow_auto_topic_creation);
    EXPECT_TRUE(decoded->include_topic_authorized_operations);
    // Re-encoding drops the unknown tags.
    EXPECT_EQ(hex(encode(*decoded, 9)), "0202740000000100");
}

TEST(kafka_messages, known_tagged_field_of_the_wrong_size_is_refused) {
    // Fetch v12 request whose tag 0 (cluster_id, a compact nullable string)
    // declares 3 bytes but holds a 1-byte string.
    writer w;
    w.write_int32(-1);              // replica_id
    w.write_int32(500);             // max_wait_ms
    w.write_int32(1);               // min_bytes
    w.write_int32(1000);            // max_bytes
    w.write_int8(0);                // isolation_level
    w.write_int32(0);               // session_id
    w.write_int32(-1);              // session_epoch
    w.write_array_length(0, true);  // topics
    w.write_array_length(0, true);  // forgotten_topics_data
    w.write_string("", true);       // rack_id
    w.write_unsigned_varint(1);     // one tagged field
    w.write_unsigned_varint(0);     // tag 0
    w.write_unsigned_varint(3);     // size 3
    w.write_raw(make_bytes({0x02, 'c', 0x00}));
    const bytes input = std::move(w).take();
    reader r(input);
    auto decoded = fetch_request::decode(r, 12);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, decode_errc::tagged_field_size_mismatch);

    // With the right size it decodes.
    bytes fixed = input;
    fixed[fixed.size() - 4] = std::byte{2};
    fixed.pop_back();
    reader r2(fixed);
    auto ok = fetch_request::decode(r2, 12);
    ASSERT_TRUE(ok.ok()) << to_string(ok.error().code);
    EXPECT_EQ(ok->cluster_id, std::optional<std::string_view>("c"));
}

TEST(kafka_messages, tagged_field_larger_than_the_input_is_truncated) {
    // ApiVersions v3 request: two empty compact strings, then a tagged field
    // claiming 10 bytes with 1 present.
    const bytes input = make_bytes({0x01, 0x01, 0x01, 0x05, 0x0a, 0x00});
    reader r(input);
    auto decoded = api_versions_request::decode(r, 3);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, decode_errc::truncated);
}

// ---------------------------------------------------------------------------
// Encoding what a version cannot carry

TEST(kafka_messages, non_ignorable_field_missing_from_the_version_fails_to_encode) {
    metadata_request request;
    request.allow_auto_topic_creation = false;  // v4+, not ignorable
    writer w;
    request.encode(w, 3);
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.error(), encode_errc::field_not_in_version);
    writer w4;
    request.encode(w4, 4);
    EXPECT_TRUE(w4.ok());
}

TEST(kafka_messages, ignorable_field_missing_from_the_version_is_dropped) {
    metadata_response response;
    response.throttle_time_ms = 100;  // v3+, ignorable
    response.cluster_id = "c";        // v2+, ignorable
    writer w;
    response.encode(w, 0);
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(hex(w.data()),
              "00000000"
              "00000000");  // no brokers, no topics
}

TEST(kafka_messages, null_where_the_version_forbids_it_fails_to_encode) {
    metadata_request request;
    request.topics.reset();
    writer w0;
    request.encode(w0, 0);
    EXPECT_EQ(w0.error(), encode_errc::null_not_allowed);
    writer w1;
    request.encode(w1, 1);
    EXPECT_TRUE(w1.ok());
    EXPECT_EQ(hex(w1.data()), "ffffffff");
}

TEST(kafka_messages, overlong_string_fails_to_encode) {
    const std::string name(40000, 'n');
    metadata_request request;
    request.topics->push_back({.name = name});
    writer w;
    request.encode(w, 1);
    EXPECT_EQ(w.error(), encode_errc::value_too_long);
}

TEST(kafka_messages, tagged_fields_are_written_only_when_not_default) {
    api_versions_response response;
    response.api_keys.push_back({.api_key = 18, .min_version = 0, .max_version = 3});
    EXPECT_EQ(hex(encode(response, 3)),
              "0000"
              "02"
              "0012"
              "0000"
              "0003"
              "00"
              "00000000"
              "00");
    response.finalized_features_epoch = 5;
    response.zk_migration_ready = true;
    EXPECT_EQ(hex(encode(response, 3)),
              "0000"
              "02"
              "0012"
              "0000"
              "0003"
              "00"
              "00000000"
              "02"
              "01"
              "08"
              "0000000000000005"
              "03"
              "01"
              "01");
}

// ---------------------------------------------------------------------------
// Headers and frames

TEST(kafka_frames, header_versions_follow_kafka) {
    EXPECT_EQ(request_header_version(api_keys::api_versions, 0), 1);
    EXPECT_EQ(request_header_version(api_keys::api_versions, 3), 2);
    EXPECT_EQ(request_header_version(api_keys::api_versions, 4), 2);  // newer clients
    EXPECT_EQ(request_header_version(api_keys::metadata, 8), 1);
    EXPECT_EQ(request_header_version(api_keys::metadata, 9), 2);
    EXPECT_EQ(request_header_version(api_keys::offset_delete, 0), 1);
    EXPECT_EQ(request_header_version(api_keys::describe_cluster, 0), 2);
    EXPECT_EQ(request_header_version(1000, 0), -1);
    EXPECT_EQ(response_header_version(api_keys::api_versions, 3), 0);  // the exception
    EXPECT_EQ(response_header_version(api_keys::metadata, 8), 0);
    EXPECT_EQ(response_header_version(api_keys::metadata, 9), 1);
    EXPECT_EQ(response_header_version(api_keys::fetch, 12), 1);
    EXPECT_EQ(response_header_version(-1, 0), -1);
}

TEST(kafka_frames, api_versions_v3_response_uses_header_v0) {
    api_versions_response response;
    response.api_keys.push_back({.api_key = 3, .min_version = 0, .max_version = 12});
    writer w;
    encode_response_frame(w, 7, 3, response);
    ASSERT_TRUE(w.ok());
    // size, correlation id and no header tag section, then the flexible body.
    EXPECT_EQ(hex(w.data()),
              "00000013"
              "00000007"
              "0000"
              "02"
              "0003"
              "0000"
              "000c"
              "00"
              "00000000"
              "00");

    metadata_response metadata;
    writer w9;
    encode_response_frame(w9, 7, 9, metadata);
    EXPECT_EQ(hex(w9.data()).substr(0, 18),
              "00000015"
              "00000007"
              "00");  // header v1
}

TEST(kafka_frames, request_frames_round_trip_through_the_header) {
    metadata_request request;
    request.topics->push_back({.name = "orders"});
    writer w;
    encode_request_frame(w, 42, "client", 9, request);
    ASSERT_TRUE(w.ok());
    const bytes frame_with_size = std::move(w).take();
    const auto frame_bytes = std::span(frame_with_size).subspan(4);

    auto frame = parse_request_frame(frame_bytes);
    ASSERT_TRUE(frame.ok());
    EXPECT_EQ(frame->header_version, 2);
    EXPECT_EQ(frame->header.request_api_key, api_keys::metadata);
    EXPECT_EQ(frame->header.request_api_version, 9);
    EXPECT_EQ(frame->header.correlation_id, 42);
    EXPECT_EQ(frame->header.client_id, std::optional<std::string_view>("client"));
    // client_id keeps its int16 length in header v2.
    EXPECT_EQ(hex(frame_bytes.subspan(8, 2)), "0006");
    auto body = decode_request_body<metadata_request>(*frame);
    ASSERT_TRUE(body.ok());
    EXPECT_TRUE(*body == request);
    bool dispatched = false;
    EXPECT_TRUE(with_request_type(frame->header.request_api_key, [&]<typename M>() {
        dispatched = std::is_same_v<M, metadata_request>;
    }));
    EXPECT_TRUE(dispatched);

    // A trailing byte is refused, at the frame offset where it sits.
    bytes longer(frame_bytes.begin(), frame_bytes.end());
    longer.push_back(std::byte{0});
    auto longer_frame = parse_request_frame(longer);
    ASSERT_TRUE(longer_frame.ok());
    auto refused = decode_request_body<metadata_request>(*longer_frame);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, decode_errc::trailing_bytes);
    EXPECT_EQ(refused.error().offset, frame_bytes.size());
}

TEST(kafka_frames, unknown_api_keys_still_show_their_correlation_id) {
    const bytes frame = make_bytes({0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xff, 0xff});
    auto parsed = parse_request_frame(frame);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, decode_errc::unknown_api_key);
    auto id = peek_request_id(frame);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->api_key, 1000);
    EXPECT_EQ(id->correlation_id, 9);
    EXPECT_FALSE(with_request_type(1000, []<typename M>() {}));
}

// ---------------------------------------------------------------------------
// API table and ApiVersions

TEST(kafka_api_table, has_every_api_the_broker_needs) {
    // The APIs of the Kafka API issue, with Kafka 3.8's broker ranges.
    struct expected_api {
        int16_t key;
        int16_t max_version;
        int16_t first_flexible_version;
    };
    const std::vector<expected_api> expected = {
        {0, 11, 9}, {1, 16, 12}, {2, 8, 6},  {3, 12, 9},  {8, 9, 8},  {9, 9, 6},  {10, 5, 3},
        {11, 9, 6}, {12, 4, 4},  {13, 5, 4}, {14, 5, 4},  {15, 5, 5}, {16, 5, 3}, {18, 3, 3},
        {19, 7, 5}, {20, 6, 4},  {21, 2, 2}, {22, 5, 2},  {23, 4, 4}, {32, 4, 4}, {33, 2, 2},
        {37, 3, 2}, {42, 2, 2},  {44, 1, 1}, {47, 0, -1}, {60, 1, 0},
    };
    EXPECT_EQ(api_schemas.size(), expected.size());
    for (const auto& e : expected) {
        const api_schema* api = find_api_schema(e.key);
        ASSERT_NE(api, nullptr) << e.key;
        EXPECT_EQ(api->min_version, 0) << api->name;
        EXPECT_EQ(api->max_version, e.max_version) << api->name;
        EXPECT_EQ(api->first_flexible_version, e.first_flexible_version) << api->name;
    }
    for (size_t i = 1; i < api_schemas.size(); ++i) {
        EXPECT_LT(api_schemas[i - 1].api_key, api_schemas[i].api_key);
    }
    EXPECT_EQ(find_api_schema(api_keys::produce)->name, "produce");
    EXPECT_EQ(find_api_schema(17), nullptr);  // SaslHandshake: no schema yet
}

TEST(kafka_api_table, advertised_versions_are_the_implemented_ones) {
    const std::vector<api_version_range> implemented = {
        {.api_key = api_keys::metadata, .min_version = 0, .max_version = 6},
        {.api_key = api_keys::api_versions, .min_version = 0, .max_version = 3},
    };
    const auto advertised = advertised_api_versions(implemented);
    ASSERT_EQ(advertised.size(), 2U);
    EXPECT_EQ(advertised[0].api_key, api_keys::metadata);
    EXPECT_EQ(advertised[0].max_version, 6);
    EXPECT_EQ(advertised[1].api_key, api_keys::api_versions);
}

TEST(kafka_api_table_death_test, advertising_a_version_without_schema_aborts) {
    const std::vector<api_version_range> beyond = {
        {.api_key = api_keys::fetch, .min_version = 4, .max_version = 17},
    };
    EXPECT_DEATH((void)advertised_api_versions(beyond), "outside the API's schema");
}

}  // namespace
}  // namespace tl::kafka
