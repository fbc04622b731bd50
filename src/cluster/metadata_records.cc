#include "cluster/metadata_records.h"

#include <algorithm>
#include <limits>

#include <absl/strings/str_format.h>

#include "base/assert.h"
#include "cluster/codec.h"

namespace tl::cluster {
namespace {

using codec::reader;
using codec::writer;

// ---- range checks, shared by encode (asserting) and decode (refusing) ----

std::optional<std::string> check_broker(const broker_record& b) {
    if (b.node_id < 0) return absl::StrFormat("broker node id %d is negative", b.node_id);
    if (b.host.empty() || b.host.size() > max_broker_host_bytes) {
        return absl::StrFormat("broker host of %d bytes", b.host.size());
    }
    if (b.port == 0) return std::string("broker port 0");
    if (b.rack && (b.rack->empty() || b.rack->size() > max_broker_host_bytes)) {
        return absl::StrFormat("broker rack of %d bytes", b.rack->size());
    }
    return std::nullopt;
}

std::optional<std::string> check_configs(const config_map& configs) {
    for (const auto& [name, value] : configs) {
        if (name.empty() || name.size() > max_config_name_bytes) {
            return absl::StrFormat("config name of %d bytes", name.size());
        }
        if (value.size() > max_config_value_bytes) {
            return absl::StrFormat("config %s of %d bytes", name, value.size());
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_lists(std::span<const replica_list> lists, int16_t replication) {
    if (replication < 1) return absl::StrFormat("replication factor %d", replication);
    for (size_t p = 0; p < lists.size(); ++p) {
        if (auto problem = check_replica_list(lists[p], replication)) {
            return absl::StrFormat("replica list %d: %s", p, *problem);
        }
    }
    return std::nullopt;
}

struct checker {
    std::optional<std::string> operator()(const register_broker_record& r) const {
        return check_broker(r.broker);
    }
    std::optional<std::string> operator()(const set_cluster_id_record& r) const {
        if (!uuid::from_string(r.cluster_id)) {
            return absl::StrFormat("cluster id \"%s\" is not a Kafka UUID", r.cluster_id);
        }
        return std::nullopt;
    }
    std::optional<std::string> operator()(const create_topic_record& r) const {
        if (auto valid = validate_topic_name(r.name); !valid) return "topic name: " + valid.error();
        if (r.id.is_zero()) return std::string("topic id is zero");
        if (r.partitions < 1) return absl::StrFormat("%d partitions", r.partitions);
        if (r.assignments.size() != static_cast<size_t>(r.partitions)) {
            return absl::StrFormat("%d replica lists for %d partitions", r.assignments.size(),
                                   r.partitions);
        }
        if (auto problem = check_lists(r.assignments, r.replication_factor)) return problem;
        return check_configs(r.configs);
    }
    std::optional<std::string> operator()(const delete_topic_record& r) const {
        if (r.id.is_zero()) return std::string("topic id is zero");
        return std::nullopt;
    }
    std::optional<std::string> operator()(const create_partitions_record& r) const {
        if (r.id.is_zero()) return std::string("topic id is zero");
        if (r.assignments.empty() || r.count < 1 ||
            r.assignments.size() > static_cast<size_t>(r.count)) {
            return absl::StrFormat("%d new partitions for a total of %d", r.assignments.size(),
                                   r.count);
        }
        return check_lists(r.assignments, r.replication_factor);
    }
    std::optional<std::string> operator()(const alter_topic_config_record& r) const {
        if (r.id.is_zero()) return std::string("topic id is zero");
        return check_configs(r.configs);
    }
    std::optional<std::string> operator()(const allocate_producer_ids_record& r) const {
        if (r.node_id < 0) return absl::StrFormat("node id %d is negative", r.node_id);
        if (r.first < 0 || r.count < 1 || r.first > std::numeric_limits<int64_t>::max() - r.count) {
            return absl::StrFormat("producer ids [%d, +%d)", r.first, r.count);
        }
        return std::nullopt;
    }
};

// ---- encoding ----

void put_id(writer& w, const topic_id& id) {
    w.raw(id.bytes);
}

void put_configs(writer& w, const config_map& configs) {
    w.u32(static_cast<uint32_t>(configs.size()));
    for (const auto& [name, value] : configs) {
        w.short_string(name);
        w.long_string(value);
    }
}

void put_lists(writer& w, std::span<const replica_list> lists) {
    for (const replica_list& replicas : lists) {
        for (int32_t node : replicas) w.i32(node);
    }
}

struct encoder {
    writer& w;
    void operator()(const register_broker_record& r) const {
        w.i32(r.broker.node_id);
        w.short_string(r.broker.host);
        w.u16(r.broker.port);
        w.u8(r.broker.rack ? 1 : 0);
        if (r.broker.rack) w.short_string(*r.broker.rack);
        w.i64(r.broker.incarnation);
    }
    void operator()(const set_cluster_id_record& r) const { w.short_string(r.cluster_id); }
    void operator()(const create_topic_record& r) const {
        w.short_string(r.name);
        put_id(w, r.id);
        w.i32(r.partitions);
        w.i16(r.replication_factor);
        put_lists(w, r.assignments);
        put_configs(w, r.configs);
    }
    void operator()(const delete_topic_record& r) const { put_id(w, r.id); }
    void operator()(const create_partitions_record& r) const {
        put_id(w, r.id);
        w.i32(r.count);
        w.i16(r.replication_factor);
        w.u32(static_cast<uint32_t>(r.assignments.size()));
        put_lists(w, r.assignments);
    }
    void operator()(const alter_topic_config_record& r) const {
        put_id(w, r.id);
        put_configs(w, r.configs);
    }
    void operator()(const allocate_producer_ids_record& r) const {
        w.i32(r.node_id);
        w.i64(r.first);
        w.i32(r.count);
    }
};

// ---- decoding: reads straight through; the first problem sticks ----

topic_id get_id(reader& r) {
    topic_id id;
    const auto bytes = r.bytes(16, "topic id");
    if (r.ok()) std::copy(bytes.begin(), bytes.end(), id.bytes.begin());
    return id;
}

config_map get_configs(reader& r) {
    config_map out;
    const uint32_t count = r.u32("config count");
    // Each config takes at least 6 bytes: bounds the loop before it starts.
    if (r.ok() && count > r.remaining() / 6) {
        r.fail(absl::StrFormat("%d configs cannot fit in %d bytes", count, r.remaining()));
    }
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        std::string name = r.string(r.u16("config name length"), "config name");
        const uint32_t length = r.u32("config value length");
        if (r.ok() && length > max_config_value_bytes) {
            r.fail(absl::StrFormat("config value of %d bytes", length));
        }
        std::string value = r.string(length, "config value");
        if (r.ok() && !out.empty() && name <= out.rbegin()->first) {
            r.fail("configs out of order or repeated");
        }
        if (r.ok()) out.emplace_hint(out.end(), std::move(name), std::move(value));
    }
    return out;
}

std::vector<replica_list> get_lists(reader& r, uint64_t lists, int16_t replication) {
    std::vector<replica_list> out;
    if (!r.ok()) return out;
    if (replication < 1) {
        r.fail(absl::StrFormat("replication factor %d", replication));
        return out;
    }
    if (lists * static_cast<uint64_t>(replication) > r.remaining() / 4) {
        r.fail(absl::StrFormat("%d replica lists of %d cannot fit in %d bytes", lists, replication,
                               r.remaining()));
        return out;
    }
    out.resize(lists);
    for (replica_list& replicas : out) {
        replicas.resize(static_cast<size_t>(replication));
        for (int32_t& node : replicas) node = r.i32("replica node id");
    }
    return out;
}

metadata_record_body get_body(reader& r, metadata_record_type type) {
    switch (type) {
        case metadata_record_type::register_broker: {
            register_broker_record out;
            out.broker.node_id = r.i32("node id");
            out.broker.host = r.string(r.u16("host length"), "host");
            out.broker.port = r.u16("port");
            const uint8_t has_rack = r.u8("rack flag");
            if (r.ok() && has_rack > 1) r.fail(absl::StrFormat("rack flag %d", has_rack));
            if (has_rack == 1) out.broker.rack = r.string(r.u16("rack length"), "rack");
            out.broker.incarnation = r.i64("incarnation");
            return out;
        }
        case metadata_record_type::set_cluster_id:
            return set_cluster_id_record{r.string(r.u16("cluster id length"), "cluster id")};
        case metadata_record_type::create_topic: {
            create_topic_record out;
            out.name = r.string(r.u16("topic name length"), "topic name");
            out.id = get_id(r);
            out.partitions = r.i32("partitions");
            out.replication_factor = r.i16("replication factor");
            if (r.ok() && out.partitions < 1) {
                r.fail(absl::StrFormat("%d partitions", out.partitions));
            }
            out.assignments =
                get_lists(r, static_cast<uint64_t>(out.partitions), out.replication_factor);
            out.configs = get_configs(r);
            return out;
        }
        case metadata_record_type::delete_topic:
            return delete_topic_record{get_id(r)};
        case metadata_record_type::create_partitions: {
            create_partitions_record out;
            out.id = get_id(r);
            out.count = r.i32("partition count");
            out.replication_factor = r.i16("replication factor");
            const uint32_t added = r.u32("new partitions");
            if (r.ok() &&
                (added < 1 || out.count < 1 || added > static_cast<uint32_t>(out.count))) {
                r.fail(absl::StrFormat("%d new partitions for a total of %d", added, out.count));
            }
            out.assignments = get_lists(r, added, out.replication_factor);
            return out;
        }
        case metadata_record_type::alter_topic_config: {
            alter_topic_config_record out;
            out.id = get_id(r);
            out.configs = get_configs(r);
            return out;
        }
        case metadata_record_type::allocate_producer_ids: {
            allocate_producer_ids_record out;
            out.node_id = r.i32("node id");
            out.first = r.i64("first producer id");
            out.count = r.i32("producer id count");
            return out;
        }
    }
    r.fail(absl::StrFormat("unknown record type %d", static_cast<int>(type)));
    return set_cluster_id_record{};
}

}  // namespace

std::optional<std::string> check_record(const metadata_record& r) {
    if (r.request.origin_node < 0) {
        return absl::StrFormat("origin node %d is negative", r.request.origin_node);
    }
    return std::visit(checker{}, r.body);
}

std::vector<std::byte> encode_record(const metadata_record& r) {
    const auto problem = check_record(r);
    TL_ASSERT(!problem.has_value(), "encoding a malformed metadata record");
    writer w;
    w.u8(metadata_record_format_version);
    w.u8(static_cast<uint8_t>(r.type()));
    w.i32(r.request.origin_node);
    w.u64(r.request.sequence);
    std::visit(encoder{w}, r.body);
    TL_ASSERT(w.out.size() <= max_metadata_record_bytes, "metadata record too large");
    return std::move(w.out);
}

result<metadata_record, std::string> decode_record(std::span<const std::byte> bytes) {
    if (bytes.size() > max_metadata_record_bytes) {
        return failure{absl::StrFormat("metadata record of %d bytes (at most %d)", bytes.size(),
                                       max_metadata_record_bytes)};
    }
    reader r(bytes);
    const uint8_t version = r.u8("format version");
    const uint8_t type = r.u8("record type");
    if (r.ok() && version != metadata_record_format_version) {
        return failure{absl::StrFormat("metadata record format %d; this build reads %d", version,
                                       metadata_record_format_version)};
    }
    if (r.ok() && (type < 1 || type > std::variant_size_v<metadata_record_body>)) {
        return failure{absl::StrFormat("unknown metadata record type %d", type)};
    }
    metadata_record out;
    out.request.origin_node = r.i32("origin node");
    out.request.sequence = r.u64("sequence");
    if (r.ok()) out.body = get_body(r, static_cast<metadata_record_type>(type));
    if (r.ok() && r.remaining() != 0) {
        r.fail(absl::StrFormat("%d bytes after the record", r.remaining()));
    }
    if (!r.ok()) return failure{"metadata record: " + r.problem()};
    if (auto problem = check_record(out)) return failure{"metadata record: " + *problem};
    return out;
}

}  // namespace tl::cluster
