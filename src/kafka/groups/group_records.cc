#include "kafka/groups/group_records.h"

#include "base/assert.h"
#include "kafka/protocol/reader.h"
#include "kafka/protocol/writer.h"
#include "storage/compression.h"
#include "storage/record_batch.h"

namespace tl::kafka::groups {
namespace {

constexpr int16_t offset_key_version = 1;
constexpr int16_t group_key_version = 2;

bytes_view view_of(const std::vector<std::byte>& bytes) { return bytes_view(std::span(bytes)); }

std::vector<std::byte> taken(writer& w) {
    TL_ASSERT(w.ok(), "group records always encode");
    return std::move(w).take();
}

std::string read_text(reader& r) { return std::string(r.read_string(false)); }
std::optional<std::string> read_nullable_text(reader& r) {
    auto s = r.read_nullable_string(false, true);
    return s ? std::optional<std::string>(*s) : std::nullopt;
}
std::vector<std::byte> read_blob(reader& r) {
    auto b = r.read_bytes(false);
    return {b.span().begin(), b.span().end()};
}

template <typename T>
result<T, record_errc> finish(reader& r, T value) {
    if (!r.ok()) return failure{record_errc::truncated};
    if (!r.at_end()) return failure{record_errc::trailing_bytes};
    return value;
}

}  // namespace

std::vector<std::byte> encode_key(const record_key& key) {
    writer w;
    if (const auto* o = std::get_if<offset_key>(&key)) {
        w.write_int16(offset_key_version);
        w.write_string(o->group, false);
        w.write_string(o->topic, false);
        w.write_int32(o->partition);
    } else {
        w.write_int16(group_key_version);
        w.write_string(std::get<group_key>(key).group, false);
    }
    return taken(w);
}

std::vector<std::byte> encode_offset_value(const offset_value& value) {
    writer w;
    if (value.expire_timestamp_ms.has_value()) {
        // Only v1 carries an expiry (Kafka writes v1 for these commits too).
        w.write_int16(1);
        w.write_int64(value.offset);
        w.write_string(value.metadata, false);
        w.write_int64(value.commit_timestamp_ms);
        w.write_int64(*value.expire_timestamp_ms);
    } else {
        w.write_int16(3);
        w.write_int64(value.offset);
        w.write_int32(value.leader_epoch);
        w.write_string(value.metadata, false);
        w.write_int64(value.commit_timestamp_ms);
    }
    return taken(w);
}

std::vector<std::byte> encode_group_value(const group_value& value) {
    writer w;
    w.write_int16(3);
    w.write_string(value.protocol_type, false);
    w.write_int32(value.generation);
    w.write_nullable_string(value.protocol, false, true);
    w.write_nullable_string(value.leader, false, true);
    w.write_int64(value.current_state_timestamp_ms);
    w.write_array_length(value.members.size(), false);
    for (const member_record& m : value.members) {
        w.write_string(m.member_id, false);
        w.write_nullable_string(m.group_instance_id, false, true);
        w.write_string(m.client_id, false);
        w.write_string(m.client_host, false);
        w.write_int32(m.rebalance_timeout_ms);
        w.write_int32(m.session_timeout_ms);
        w.write_bytes(view_of(m.subscription), false);
        w.write_bytes(view_of(m.assignment), false);
    }
    return taken(w);
}

result<record_key, record_errc> decode_key(std::span<const std::byte> bytes) {
    reader r(bytes);
    const int16_t version = r.read_int16();
    if (!r.ok()) return failure{record_errc::truncated};
    if (version == 0 || version == 1) {
        offset_key key;
        key.group = read_text(r);
        key.topic = read_text(r);
        key.partition = r.read_int32();
        return finish<record_key>(r, std::move(key));
    }
    if (version == 2) {
        group_key key{.group = read_text(r)};
        return finish<record_key>(r, std::move(key));
    }
    return failure{record_errc::unknown_key_version};
}

result<offset_value, record_errc> decode_offset_value(std::span<const std::byte> bytes) {
    reader r(bytes);
    const int16_t version = r.read_int16();
    if (!r.ok()) return failure{record_errc::truncated};
    if (version < 0 || version > 3) return failure{record_errc::unknown_value_version};
    offset_value value;
    value.offset = r.read_int64();
    if (version >= 3) value.leader_epoch = r.read_int32();
    value.metadata = read_text(r);
    value.commit_timestamp_ms = r.read_int64();
    if (version == 1) value.expire_timestamp_ms = r.read_int64();
    return finish(r, std::move(value));
}

result<group_value, record_errc> decode_group_value(std::span<const std::byte> bytes) {
    reader r(bytes);
    const int16_t version = r.read_int16();
    if (!r.ok()) return failure{record_errc::truncated};
    if (version < 0 || version > 3) return failure{record_errc::unknown_value_version};
    group_value value;
    value.protocol_type = read_text(r);
    value.generation = r.read_int32();
    value.protocol = read_nullable_text(r);
    value.leader = read_nullable_text(r);
    if (version >= 2) value.current_state_timestamp_ms = r.read_int64();
    // The smallest member (v0): three empty strings, a timeout and two empty
    // byte arrays.
    const int32_t count = r.read_array_length(false, 2 * 3 + 4 + 2 * 4, false);
    for (int32_t i = 0; i < count && r.ok(); ++i) {
        member_record m;
        m.member_id = read_text(r);
        if (version >= 3) {
            auto instance = read_nullable_text(r);
            m.group_instance_id = std::move(instance);
        }
        m.client_id = read_text(r);
        m.client_host = read_text(r);
        if (version >= 1) m.rebalance_timeout_ms = r.read_int32();
        m.session_timeout_ms = r.read_int32();
        if (version == 0) m.rebalance_timeout_ms = m.session_timeout_ms;
        m.subscription = read_blob(r);
        m.assignment = read_blob(r);
        value.members.push_back(std::move(m));
    }
    return finish(r, std::move(value));
}

bool replay_batch(std::span<const std::byte> batch, int64_t from_offset,
                  replayed_partition& state) {
    auto header = storage::read_batch_header(batch);
    if (!header) return false;
    if (header->is_control()) return true;
    auto walked = storage::for_each_decoded_record(batch, [&](const storage::decoded_record& r) {
        if (r.offset < from_offset) return;
        if (!r.key.has_value()) {
            ++state.skipped_records;
            return;
        }
        auto key = decode_key(*r.key);
        if (!key) {
            ++state.skipped_records;
            return;
        }
        if (auto* o = std::get_if<offset_key>(&*key)) {
            auto index = std::make_pair(o->group, std::make_pair(o->topic, o->partition));
            if (!r.value.has_value()) {
                state.offsets.erase(index);
                return;
            }
            auto value = decode_offset_value(*r.value);
            if (!value) {
                ++state.skipped_records;
                return;
            }
            state.offsets[std::move(index)] = std::move(*value);
            return;
        }
        const std::string& group = std::get<group_key>(*key).group;
        if (!r.value.has_value()) {
            state.groups.erase(group);
            return;
        }
        auto value = decode_group_value(*r.value);
        if (!value) {
            ++state.skipped_records;
            return;
        }
        state.groups.insert_or_assign(group, std::move(*value));
    });
    return walked.ok();
}

int32_t java_string_hash(std::string_view utf8) noexcept {
    // Java hashes UTF-16 code units; decode UTF-8 (invalid bytes become
    // U+FFFD, as Java's decoder makes them) and split astral code points into
    // surrogate pairs.
    uint32_t h = 0;
    const auto add = [&h](uint32_t unit) { h = h * 31 + unit; };
    size_t i = 0;
    while (i < utf8.size()) {
        const auto b0 = static_cast<uint8_t>(utf8[i]);
        uint32_t cp = 0xfffd;
        size_t len = 1;
        if (b0 < 0x80) {
            cp = b0;
        } else {
            size_t need = 0;
            if ((b0 & 0xe0) == 0xc0) {
                need = 1;
                cp = b0 & 0x1f;
            } else if ((b0 & 0xf0) == 0xe0) {
                need = 2;
                cp = b0 & 0x0f;
            } else if ((b0 & 0xf8) == 0xf0) {
                need = 3;
                cp = b0 & 0x07;
            }
            bool valid = need > 0;
            for (size_t k = 1; valid && k <= need; ++k) {
                if (i + k >= utf8.size()) {
                    valid = false;
                    break;
                }
                const auto b = static_cast<uint8_t>(utf8[i + k]);
                if ((b & 0xc0) != 0x80) {
                    valid = false;
                    break;
                }
                cp = (cp << 6) | (b & 0x3f);
            }
            if (valid) {
                len = need + 1;
            } else {
                cp = 0xfffd;
            }
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            add(0xd800 + (cp >> 10));
            add(0xdc00 + (cp & 0x3ff));
        } else {
            add(cp);
        }
        i += len;
    }
    return static_cast<int32_t>(h);
}

int32_t partition_for_group(std::string_view group, int32_t partitions) noexcept {
    TL_ASSERT(partitions > 0, "__consumer_offsets has partitions");
    return (java_string_hash(group) & 0x7fffffff) % partitions;
}

}  // namespace tl::kafka::groups
