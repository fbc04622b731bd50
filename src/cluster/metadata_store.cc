#include "cluster/metadata_store.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <absl/strings/str_format.h>

#include "base/crc32c.h"
#include "cluster/codec.h"

namespace tl::cluster {
namespace {

using codec::reader;
using codec::writer;

constexpr std::array<char, 4> file_magic{'T', 'L', 'M', 'D'};
constexpr size_t header_bytes = 16;
constexpr size_t cluster_id_chars = 22;
constexpr std::string_view cluster_folder = "/cluster";
constexpr std::string_view metadata_name = "metadata";
constexpr std::string_view temporary_name = "metadata.tmp";

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) noexcept {
    const auto at = base64url_alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

store_error corrupt(std::string_view where, std::string_view problem) {
    return store_error{store_errc::corrupt, {}, absl::StrFormat("%s: %s", where, problem)};
}

store_error io_failure(const uring::io_error& error, std::string detail) {
    return store_error{store_errc::io_failure, error, std::move(detail)};
}

std::optional<std::string> check_brokers(const metadata_snapshot& s) {
    for (size_t i = 0; i < s.brokers.size(); ++i) {
        const broker_record& b = s.brokers[i];
        if (b.node_id < 0) return absl::StrFormat("broker node id %d is negative", b.node_id);
        if (i > 0 && b.node_id <= s.brokers[i - 1].node_id) {
            return absl::StrFormat("broker %d out of order or repeated", b.node_id);
        }
        if (b.host.empty() || b.host.size() > max_broker_host_bytes) {
            return absl::StrFormat("broker %d: host of %d bytes", b.node_id, b.host.size());
        }
        if (b.port == 0) return absl::StrFormat("broker %d: port 0", b.node_id);
        if (b.rack && (b.rack->empty() || b.rack->size() > max_broker_host_bytes)) {
            return absl::StrFormat("broker %d: rack of %d bytes", b.node_id, b.rack->size());
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_assignments(const topic_record& topic) {
    if (topic.replication_factor < 1) {
        return absl::StrFormat("topic %s: replication factor %d", topic.name,
                               topic.replication_factor);
    }
    if (topic.assignments.empty()) return std::nullopt;
    if (topic.assignments.size() != static_cast<size_t>(topic.partition_count)) {
        return absl::StrFormat("topic %s: %d replica lists for %d partitions", topic.name,
                               topic.assignments.size(), topic.partition_count);
    }
    for (size_t p = 0; p < topic.assignments.size(); ++p) {
        if (auto problem = check_replica_list(topic.assignments[p], topic.replication_factor)) {
            return absl::StrFormat("topic %s partition %d: %s", topic.name, p, *problem);
        }
    }
    return std::nullopt;
}

// What both encode (refusing) and decode (calling it corruption) check.
std::optional<std::string> check_snapshot(const metadata_snapshot& s, uint16_t format) {
    // Since format 3 an empty cluster id is a controller log not yet initialised.
    if (!(format >= 3 && s.cluster_id.empty())) {
        auto cluster = uuid::from_string(s.cluster_id);
        if (!cluster) {
            return absl::StrFormat("cluster id \"%s\" is not a Kafka UUID", s.cluster_id);
        }
    }
    if (s.next_producer_id < 0) {
        return absl::StrFormat("next producer id %d is negative", s.next_producer_id);
    }
    if (format < 2 && s.next_producer_id != 0) {
        return absl::StrFormat("format %d cannot hold producer ids", format);
    }
    if (format < 3 && !s.brokers.empty()) {
        return absl::StrFormat("format %d cannot hold brokers", format);
    }
    if (auto problem = check_brokers(s)) return problem;
    std::set<std::string_view> names;
    std::set<uuid> ids;
    for (const auto& topic : s.topics) {
        if (auto valid = validate_topic_name(topic.name); !valid) {
            return absl::StrFormat("topic name: %s", valid.error());
        }
        if (!names.insert(topic.name).second) return "duplicate topic " + topic.name;
        if (topic.id.is_zero()) return "topic " + topic.name + " has no id";
        if (!ids.insert(topic.id).second) {
            return "topic " + topic.name + " reuses id " + topic.id.to_string();
        }
        if (topic.partition_count < 1) {
            return absl::StrFormat("topic %s has %d partitions", topic.name, topic.partition_count);
        }
        if (format < 3 && (topic.replication_factor != 1 || !topic.assignments.empty())) {
            return absl::StrFormat("format %d cannot hold replica assignments", format);
        }
        if (auto problem = check_assignments(topic)) return problem;
        for (const auto& [name, value] : topic.configs) {
            if (name.empty() || name.size() > max_config_name_bytes) {
                return absl::StrFormat("topic %s: config name of %d bytes", topic.name,
                                       name.size());
            }
            if (value.size() > max_config_value_bytes) {
                return absl::StrFormat("topic %s: config %s of %d bytes (at most %d)", topic.name,
                                       name, value.size(), max_config_value_bytes);
            }
        }
    }
    return std::nullopt;
}

void decode_brokers(reader& r, metadata_snapshot& s) {
    const uint32_t count = r.u32("broker count");
    // Each broker takes at least 18 bytes.
    if (r.ok() && count > r.remaining() / 18) {
        r.fail(absl::StrFormat("%d brokers cannot fit in %d bytes", count, r.remaining()));
    }
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        broker_record b;
        b.node_id = r.i32("broker node id");
        b.host = r.string(r.u16("broker host length"), "broker host");
        b.port = r.u16("broker port");
        const uint8_t has_rack = r.u8("broker rack flag");
        if (r.ok() && has_rack > 1) r.fail(absl::StrFormat("rack flag %d", has_rack));
        if (has_rack == 1) b.rack = r.string(r.u16("broker rack length"), "broker rack");
        b.incarnation = r.i64("broker incarnation");
        s.brokers.push_back(std::move(b));
    }
}

void decode_assignments(reader& r, topic_record& topic) {
    topic.replication_factor = r.i16("replication factor");
    const uint8_t placed = r.u8("placed flag");
    if (!r.ok()) return;
    if (placed > 1) return r.fail(absl::StrFormat("placed flag %d", placed));
    if (placed == 0) return;
    if (topic.partition_count < 1 || topic.replication_factor < 1) {
        return r.fail(absl::StrFormat("topic %s: %d partitions of %d replicas", topic.name,
                                      topic.partition_count, topic.replication_factor));
    }
    const uint64_t ids = static_cast<uint64_t>(topic.partition_count) *
                         static_cast<uint64_t>(topic.replication_factor);
    if (ids > r.remaining() / 4) {
        return r.fail(absl::StrFormat("topic %s: %d replica ids cannot fit in %d bytes", topic.name,
                                      ids, r.remaining()));
    }
    topic.assignments.resize(static_cast<size_t>(topic.partition_count));
    for (replica_list& replicas : topic.assignments) {
        replicas.resize(static_cast<size_t>(topic.replication_factor));
        for (int32_t& node : replicas) node = r.i32("replica node id");
    }
}

uint32_t file_crc(std::span<const std::byte> file) {
    // format_version, flags and content_length, then the content.
    return crc32c(file.subspan(header_bytes), crc32c(file.subspan(4, 8)));
}

std::string cluster_directory(const std::string& directory) {
    return directory + std::string(cluster_folder);
}

}  // namespace

// ---- names and ids ----

result<void, std::string> validate_topic_name(std::string_view name) {
    if (name.empty()) return failure{std::string("Topic name is illegal, it can't be empty")};
    if (name == "." || name == "..") {
        return failure{std::string("Topic name cannot be \".\" or \"..\"")};
    }
    if (name.size() > max_topic_name_bytes) {
        return failure{absl::StrFormat(
            "Topic name is illegal, it can't be longer than %d characters, topic name: %s...",
            max_topic_name_bytes, name.substr(0, 40))};
    }
    const bool legal = std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
    if (!legal) {
        std::string shown;
        for (char c : name) {
            const auto u = static_cast<unsigned char>(c);
            shown += u < 0x20 || u >= 0x7f ? absl::StrFormat("\\x%02x", u) : std::string(1, c);
        }
        return failure{absl::StrFormat(
            "Topic name \"%s\" is illegal, it contains a character other than ASCII "
            "alphanumerics, '.', '_' and '-'",
            shown)};
    }
    return {};
}

bool topic_names_collide(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const char x = a[i] == '.' ? '_' : a[i];
        const char y = b[i] == '.' ? '_' : b[i];
        if (x != y) return false;
    }
    return true;
}

bool uuid::is_zero() const noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

std::string uuid::to_string() const {
    std::string out;
    out.reserve(cluster_id_chars);
    uint32_t bits = 0;
    int count = 0;
    for (std::byte b : bytes) {
        bits = (bits << 8) | std::to_integer<uint32_t>(b);
        count += 8;
        while (count >= 6) {
            count -= 6;
            out += base64url_alphabet[(bits >> count) & 0x3f];
        }
    }
    if (count > 0) out += base64url_alphabet[(bits << (6 - count)) & 0x3f];
    return out;
}

std::optional<uuid> uuid::from_string(std::string_view text) {
    if (text.size() != cluster_id_chars) return std::nullopt;
    uuid out;
    uint32_t bits = 0;
    int count = 0;
    size_t at = 0;
    for (char c : text) {
        const int v = base64url_value(c);
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            if (at < out.bytes.size()) out.bytes[at++] = static_cast<std::byte>(bits >> count);
        }
    }
    // 22 characters carry 132 bits: the last 4 must be zero (one spelling per id).
    if (at != out.bytes.size() || (bits & ((1u << count) - 1)) != 0) return std::nullopt;
    return out;
}

bool uuid::acceptable_random() const {
    uuid metadata_topic;  // Kafka's Uuid.METADATA_TOPIC_ID: 0...01
    metadata_topic.bytes[15] = std::byte{1};
    return !is_zero() && *this != metadata_topic && !to_string().starts_with('-');
}

std::optional<std::string> check_replica_list(std::span<const int32_t> replicas,
                                              int16_t replication_factor) {
    if (replicas.size() != static_cast<size_t>(replication_factor)) {
        return absl::StrFormat("%d replicas, replication factor %d", replicas.size(),
                               replication_factor);
    }
    for (size_t i = 0; i < replicas.size(); ++i) {
        if (replicas[i] < 0) return absl::StrFormat("replica node id %d", replicas[i]);
        for (size_t j = 0; j < i; ++j) {
            if (replicas[j] == replicas[i]) {
                return absl::StrFormat("replica %d listed twice", replicas[i]);
            }
        }
    }
    return std::nullopt;
}

// ---- the file ----

std::string store_error::message() const {
    const char* name = "io_failure";
    switch (code) {
        case store_errc::io_failure:
            name = "io_failure";
            break;
        case store_errc::corrupt:
            name = "corrupt";
            break;
        case store_errc::unsupported_version:
            name = "unsupported_version";
            break;
        case store_errc::invalid_snapshot:
            name = "invalid_snapshot";
            break;
    }
    if (code == store_errc::io_failure) {
        return absl::StrFormat("%s: %s: %s", name, detail, io.message());
    }
    return absl::StrFormat("%s: %s", name, detail);
}

store_result<std::vector<std::byte>> encode_metadata(const metadata_snapshot& s, uint16_t format) {
    TL_ASSERT(format >= oldest_metadata_format_version && format <= metadata_format_version);
    if (auto problem = check_snapshot(s, format)) {
        return failure{store_error{store_errc::invalid_snapshot, {}, *problem}};
    }
    writer w;
    w.raw(std::as_bytes(std::span(file_magic)));
    w.u16(format);
    w.u16(0);  // flags
    w.u32(0);  // content_length, below
    w.u32(0);  // crc, below
    w.i64(s.version);
    w.short_string(s.cluster_id);
    if (format >= 2) w.i64(s.next_producer_id);
    if (format >= 3) {
        w.u32(static_cast<uint32_t>(s.brokers.size()));
        for (const broker_record& b : s.brokers) {
            w.i32(b.node_id);
            w.short_string(b.host);
            w.u16(b.port);
            w.u8(b.rack ? 1 : 0);
            if (b.rack) w.short_string(*b.rack);
            w.i64(b.incarnation);
        }
    }
    w.u32(static_cast<uint32_t>(s.topics.size()));
    for (const auto& topic : s.topics) {
        w.short_string(topic.name);
        w.raw(topic.id.bytes);
        w.i32(topic.partition_count);
        if (format >= 3) {
            w.i16(topic.replication_factor);
            w.u8(topic.assignments.empty() ? 0 : 1);
            for (const replica_list& replicas : topic.assignments) {
                for (int32_t node : replicas) w.i32(node);
                if (w.out.size() > max_metadata_file_bytes) break;
            }
        }
        w.u32(static_cast<uint32_t>(topic.configs.size()));
        for (const auto& [name, value] : topic.configs) {
            w.short_string(name);
            w.long_string(value);
        }
        if (w.out.size() > max_metadata_file_bytes) break;
    }
    if (w.out.size() > max_metadata_file_bytes) {
        return failure{store_error{
            store_errc::invalid_snapshot,
            {},
            absl::StrFormat("more than %d bytes of metadata", max_metadata_file_bytes)}};
    }
    w.put_u32_at(8, static_cast<uint32_t>(w.out.size() - header_bytes));
    w.put_u32_at(12, file_crc(w.out));
    return std::move(w.out);
}

store_result<metadata_snapshot> decode_metadata(std::span<const std::byte> file,
                                                std::string_view where) {
    if (file.size() > max_metadata_file_bytes) {
        return failure{corrupt(where, absl::StrFormat("%d bytes, more than the %d a metadata file "
                                                      "may have",
                                                      file.size(), max_metadata_file_bytes))};
    }
    reader header(file);
    const auto magic = header.bytes(4, "magic");
    const uint16_t format = header.u16("format version");
    const uint16_t flags = header.u16("flags");
    const uint32_t content_length = header.u32("content length");
    const uint32_t stored_crc = header.u32("crc");
    if (!header.ok()) return failure{corrupt(where, "header " + header.problem())};
    if (!std::equal(magic.begin(), magic.end(), std::as_bytes(std::span(file_magic)).begin())) {
        return failure{corrupt(where, "not a Tidelog metadata file (bad magic)")};
    }
    if (format < oldest_metadata_format_version || format > metadata_format_version) {
        return failure{store_error{
            store_errc::unsupported_version,
            {},
            absl::StrFormat("%s: format version %d; this build reads versions %d to %d", where,
                            format, oldest_metadata_format_version, metadata_format_version)}};
    }
    if (flags != 0) return failure{corrupt(where, absl::StrFormat("unknown flags 0x%04x", flags))};
    if (content_length != file.size() - header_bytes) {
        return failure{corrupt(where, absl::StrFormat("header says %d content bytes, file has %d",
                                                      content_length, file.size() - header_bytes))};
    }
    if (const uint32_t computed = file_crc(file); computed != stored_crc) {
        return failure{
            corrupt(where, absl::StrFormat("CRC mismatch (stored 0x%08x, computed 0x%08x)",
                                           stored_crc, computed))};
    }

    reader r(file.subspan(header_bytes));
    metadata_snapshot s;
    s.version = r.i64("version");
    s.cluster_id = r.string(r.u16("cluster id length"), "cluster id");
    // Version 1 had no producer ids: none was ever issued.
    if (format >= 2) s.next_producer_id = r.i64("next producer id");
    if (format >= 3) decode_brokers(r, s);
    const uint32_t topic_count = r.u32("topic count");
    // Each topic takes at least 26 bytes: a count beyond that is corrupt, and
    // checking it first bounds the reservation.
    if (r.ok() && topic_count > r.remaining() / 26) {
        r.fail(absl::StrFormat("%d topics cannot fit in %d bytes", topic_count, r.remaining()));
    }
    if (r.ok()) s.topics.reserve(topic_count);
    for (uint32_t i = 0; i < topic_count && r.ok(); ++i) {
        topic_record topic;
        topic.name = r.string(r.u16("topic name length"), "topic name");
        const auto id = r.bytes(16, "topic id");
        if (r.ok()) std::copy(id.begin(), id.end(), topic.id.bytes.begin());
        topic.partition_count = r.i32("partition count");
        if (format >= 3) decode_assignments(r, topic);
        const uint32_t config_count = r.u32("config count");
        for (uint32_t c = 0; c < config_count && r.ok(); ++c) {
            std::string name = r.string(r.u16("config name length"), "config name");
            const uint32_t value_length = r.u32("config value length");
            if (r.ok() && value_length > max_config_value_bytes) {
                r.fail(absl::StrFormat("config value of %d bytes", value_length));
            }
            std::string value = r.string(value_length, "config value");
            // Written in map order: one encoding per snapshot.
            if (r.ok() && !topic.configs.empty() && name <= topic.configs.rbegin()->first) {
                r.fail("topic " + topic.name + ": configs out of order or repeated");
            }
            if (r.ok())
                topic.configs.emplace_hint(topic.configs.end(), std::move(name), std::move(value));
        }
        s.topics.push_back(std::move(topic));
    }
    if (r.ok() && r.remaining() != 0) {
        r.fail(absl::StrFormat("%d bytes after the last topic", r.remaining()));
    }
    if (!r.ok()) return failure{corrupt(where, r.problem())};
    if (auto problem = check_snapshot(s, format)) return failure{corrupt(where, *problem)};
    return s;
}

task<store_result<std::optional<metadata_snapshot>>> load_metadata(storage::disk& d,
                                                                   std::string directory) {
    const std::string folder = cluster_directory(directory);
    const std::string path = folder + "/" + std::string(metadata_name);
    auto names = d.list_directory(folder);
    if (!names) {
        if (names.error().code == uring::io_errc::not_found) {
            co_return std::optional<metadata_snapshot>{};
        }
        co_return failure{io_failure(names.error(), "cannot list " + folder)};
    }
    if (std::find(names->begin(), names->end(), temporary_name) != names->end()) {
        // A save that crashed before its rename: never authoritative. Best
        // effort: the next save truncates it anyway.
        [[maybe_unused]] auto removed =
            co_await d.remove_file(folder + "/" + std::string(temporary_name));
    }
    auto opened = co_await d.open(path, uring::open_mode::read_only, storage::direct_io::never);
    if (!opened) {
        if (opened.error().code == uring::io_errc::not_found) {
            co_return std::optional<metadata_snapshot>{};
        }
        co_return failure{io_failure(opened.error(), "cannot open " + path)};
    }
    auto& file = **opened;
    auto size = co_await file.size();
    if (!size) {
        [[maybe_unused]] auto closed = co_await file.close();
        co_return failure{io_failure(size.error(), "cannot stat " + path)};
    }
    if (*size > max_metadata_file_bytes) {
        [[maybe_unused]] auto closed = co_await file.close();
        co_return failure{corrupt(path, absl::StrFormat("%d bytes, more than the %d a metadata "
                                                        "file may have",
                                                        *size, max_metadata_file_bytes))};
    }
    std::vector<std::byte> bytes(*size);
    auto got = co_await file.read_at(0, bytes);
    [[maybe_unused]] auto closed = co_await file.close();
    if (!got) co_return failure{io_failure(got.error(), "cannot read " + path)};
    if (*got != bytes.size()) {
        co_return failure{
            corrupt(path, absl::StrFormat("read %d of %d bytes", *got, bytes.size()))};
    }
    auto decoded = decode_metadata(bytes, path);
    if (!decoded) co_return failure{decoded.error()};
    co_return std::optional<metadata_snapshot>{std::move(*decoded)};
}

task<store_result<void>> save_metadata(storage::disk& d, std::string directory,
                                       metadata_snapshot s) {
    auto encoded = encode_metadata(s);
    if (!encoded) co_return failure{encoded.error()};
    const std::string folder = cluster_directory(directory);
    const std::string path = folder + "/" + std::string(metadata_name);
    const std::string temporary = folder + "/" + std::string(temporary_name);

    auto made = co_await d.make_directory(folder);
    if (made) {
        // The new folder's entry must be durable before the file in it is.
        auto synced = co_await d.sync_directory(directory);
        if (!synced) co_return failure{io_failure(synced.error(), "cannot sync " + directory)};
    } else if (made.error().code != uring::io_errc::already_exists) {
        co_return failure{io_failure(made.error(), "cannot create " + folder)};
    }

    auto opened =
        co_await d.open(temporary, uring::open_mode::create_read_write, storage::direct_io::never);
    if (!opened) co_return failure{io_failure(opened.error(), "cannot create " + temporary)};
    auto& file = **opened;
    auto truncated = co_await file.truncate(0);
    auto written = truncated ? co_await file.write_at(0, std::span<const std::byte>(*encoded))
                             : uring::io_result<void>(failure{truncated.error()});
    auto synced = written ? co_await file.sync() : written;
    [[maybe_unused]] auto closed = co_await file.close();
    if (!synced) co_return failure{io_failure(synced.error(), "cannot write " + temporary)};
    auto renamed = co_await d.rename(temporary, path);
    if (!renamed) co_return failure{io_failure(renamed.error(), "cannot rename to " + path)};
    auto folder_synced = co_await d.sync_directory(folder);
    if (!folder_synced)
        co_return failure{io_failure(folder_synced.error(), "cannot sync " + folder)};
    co_return store_result<void>{};
}

}  // namespace tl::cluster
