#include "cluster/metadata_state_machine.h"

#include <algorithm>
#include <limits>

#include <absl/strings/str_format.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/assert.h"
#include "cluster/codec.h"
#include "cluster/metadata_validation.h"

namespace tl::cluster {
namespace {

constexpr std::array<char, 4> snapshot_magic{'T', 'L', 'S', 'M'};
// The largest errc a snapshot may hold.
constexpr auto last_errc = controller_errc::not_controller;

topic_record* find_mutable(metadata_snapshot& s, const topic_id& id) noexcept {
    const auto it = std::ranges::find(s.topics, id, &topic_record::id);
    return it == s.topics.end() ? nullptr : &*it;
}

request_outcome refused(controller_errc code, std::string message) {
    return request_outcome{.error = {code, std::move(message)}};
}

// The message of an outcome is bounded in snapshots; Kafka's are short.
std::string bounded(std::string message) {
    if (message.size() > max_outcome_message_bytes) message.resize(max_outcome_message_bytes);
    return message;
}

}  // namespace

metadata_state_machine::metadata_state_machine(image_options options, publish_fn on_publish)
    : _options(std::move(options)), _publish(std::move(on_publish)) {
    TL_ASSERT(_options.shard_count > 0);
    publish();
}

void metadata_state_machine::publish() {
    _image =
        std::make_shared<const metadata_image>(_state, _options.defaults, _options.storage_base,
                                               _options.shard_count, _options.local_node);
    if (_publish) _publish(_image);
}

void metadata_state_machine::apply(const raft::entry& e) {
    TL_ASSERT(e.index == _last_applied + 1, "metadata entries applied out of order");
    if (e.kind != raft::entry_kind::normal) {
        _last_applied = e.index;
        return;
    }
    auto applied = apply_record(e.index, e.data);
    if (!applied) {
        spdlog::critical("metadata log entry {}: {}", e.index, applied.error());
        TL_ASSERT(false, "a committed metadata record this build cannot apply");
    }
}

result<void, std::string> metadata_state_machine::apply_record(raft::index_t index,
                                                               std::span<const std::byte> data) {
    TL_ASSERT(index == _last_applied + 1, "metadata entries applied out of order");
    auto record = decode_record(data);
    if (!record) return failure{record.error()};
    if (already_applied(record->request)) {
        // The same request twice in the log (a proposal retried after a
        // leader change): the first one's outcome stands.
        _last_applied = index;
        return result<void, std::string>{};
    }
    const int64_t before = _state.version;
    request_outcome outcome = apply_body(*record);
    _last_applied = index;
    outcome.version = _state.version;
    outcome.error.message = bounded(std::move(outcome.error.message));
    record_outcome(record->request, std::move(outcome));
    if (_state.version != before) publish();
    return result<void, std::string>{};
}

// The origin's outcomes, oldest first.
std::pair<std::map<request_id, request_outcome>::const_iterator,
          std::map<request_id, request_outcome>::const_iterator>
metadata_state_machine::outcomes_of(int32_t origin) const noexcept {
    const auto first = _outcomes.lower_bound(request_id{origin, 0});
    const auto end = origin == std::numeric_limits<int32_t>::max()
                         ? _outcomes.end()
                         : _outcomes.lower_bound(request_id{origin + 1, 0});
    return {first, end};
}

bool metadata_state_machine::already_applied(const request_id& id) const noexcept {
    if (_outcomes.contains(id)) return true;
    // Older than every outcome kept for a full window: applied long ago.
    const auto [first, end] = outcomes_of(id.origin_node);
    return static_cast<size_t>(std::distance(first, end)) >= max_outcomes_per_origin &&
           id.sequence < first->first.sequence;
}

void metadata_state_machine::record_outcome(const request_id& id, request_outcome outcome) {
    _outcomes.insert_or_assign(id, std::move(outcome));
    // Drop the origin's oldest beyond the bound: a pure function of the log.
    const auto [first, end] = outcomes_of(id.origin_node);
    if (static_cast<size_t>(std::distance(first, end)) > max_outcomes_per_origin) {
        _outcomes.erase(first);
    }
}

const request_outcome* metadata_state_machine::outcome_of(const request_id& id) const noexcept {
    const auto it = _outcomes.find(id);
    return it == _outcomes.end() ? nullptr : &it->second;
}

uint64_t metadata_state_machine::last_sequence(int32_t origin) const noexcept {
    auto it = _outcomes.upper_bound(request_id{origin, std::numeric_limits<uint64_t>::max()});
    if (it == _outcomes.begin()) return 0;
    --it;
    return it->first.origin_node == origin ? it->first.sequence : 0;
}

// ---- one record ----

request_outcome metadata_state_machine::apply_body(const metadata_record& r) {
    metadata_snapshot& s = _state;
    return std::visit(
        [&](const auto& body) -> request_outcome {
            using T = std::decay_t<decltype(body)>;
            if constexpr (std::is_same_v<T, register_broker_record>) {
                const broker_record& b = body.broker;
                auto it =
                    std::ranges::lower_bound(s.brokers, b.node_id, {}, &broker_record::node_id);
                if (it != s.brokers.end() && it->node_id == b.node_id) {
                    if (b.incarnation < it->incarnation) {
                        return refused(controller_errc::not_controller,
                                       fmt::format("Broker {} is registered with a newer "
                                                   "incarnation ({} > {}).",
                                                   b.node_id, it->incarnation, b.incarnation));
                    }
                    if (*it == b) return {};
                    *it = b;
                } else {
                    s.brokers.insert(it, b);
                }
                ++s.version;
                return {};
            } else if constexpr (std::is_same_v<T, set_cluster_id_record>) {
                if (!s.cluster_id.empty()) {
                    // A second bootstrap lost the race: the first id stays.
                    return {};
                }
                s.cluster_id = body.cluster_id;
                ++s.version;
                return {};
            } else if constexpr (std::is_same_v<T, create_topic_record>) {
                if (auto absent = check_topic_absent(body.name, s);
                    absent.code != controller_errc::none) {
                    return {.error = std::move(absent)};
                }
                if (find_topic(s, body.id) != nullptr) {
                    return refused(
                        controller_errc::not_controller,
                        fmt::format("Topic id {} is taken; retry.", body.id.to_string()));
                }
                if (auto config = topic_config::from_overrides(body.configs); !config) {
                    return refused(controller_errc::invalid_config, config.error().message);
                }
                if (auto placed = check_assignments(body.assignments, body.replication_factor, s);
                    placed.code != controller_errc::none) {
                    return {.error = std::move(placed)};
                }
                s.topics.push_back(topic_record{.name = body.name,
                                                .id = body.id,
                                                .partition_count = body.partitions,
                                                .replication_factor = body.replication_factor,
                                                .assignments = body.assignments,
                                                .configs = body.configs});
                ++s.version;
                return {.topic = body.id};
            } else if constexpr (std::is_same_v<T, delete_topic_record>) {
                const topic_record* topic = find_topic(s, body.id);
                const std::string name = topic == nullptr ? body.id.to_string() : topic->name;
                if (auto deletable = check_deletable(topic, name);
                    deletable.code != controller_errc::none) {
                    return {.error = std::move(deletable)};
                }
                std::erase_if(s.topics, [&](const topic_record& t) { return t.id == body.id; });
                ++s.version;
                return {.topic = body.id};
            } else if constexpr (std::is_same_v<T, create_partitions_record>) {
                topic_record* topic = find_mutable(s, body.id);
                const std::string name = topic == nullptr ? body.id.to_string() : topic->name;
                if (auto growth = check_partition_growth(topic, name, body.count);
                    growth.code != controller_errc::none) {
                    return {.error = std::move(growth)};
                }
                if (static_cast<int64_t>(body.assignments.size()) !=
                        int64_t{body.count} - topic->partition_count ||
                    body.replication_factor != topic->replication_factor) {
                    return refused(controller_errc::not_controller,
                                   fmt::format("Topic '{}' changed while its partitions were "
                                               "being added; retry.",
                                               name));
                }
                if (auto placed = check_assignments(body.assignments, body.replication_factor, s);
                    placed.code != controller_errc::none) {
                    return {.error = std::move(placed)};
                }
                topic->assignments.insert(topic->assignments.end(), body.assignments.begin(),
                                          body.assignments.end());
                topic->partition_count = body.count;
                ++s.version;
                return {.topic = body.id};
            } else if constexpr (std::is_same_v<T, alter_topic_config_record>) {
                topic_record* topic = find_mutable(s, body.id);
                if (topic == nullptr) {
                    return refused(controller_errc::unknown_topic,
                                   fmt::format("Topic '{}' does not exist.", body.id.to_string()));
                }
                auto config = topic_config::from_overrides(body.configs);
                if (!config)
                    return refused(controller_errc::invalid_config, config.error().message);
                if (topic->configs == config->overrides()) return {.topic = body.id};
                topic->configs = config->overrides();
                ++s.version;
                return {.topic = body.id};
            } else {
                static_assert(std::is_same_v<T, allocate_producer_ids_record>);
                if (body.first < s.next_producer_id) {
                    return refused(controller_errc::not_controller,
                                   fmt::format("Producer ids from {} were issued meanwhile; "
                                               "retry.",
                                               body.first));
                }
                if (auto exhausted = check_producer_ids(body.first, body.count);
                    exhausted.code != controller_errc::none) {
                    return {.error = std::move(exhausted)};
                }
                // Part of the state, but no topic changed: no new image.
                s.next_producer_id = body.first + body.count;
                return {.producer_ids = {.first = body.first, .count = body.count}};
            }
        },
        r.body);
}

// ---- snapshots ----

std::vector<std::byte> metadata_state_machine::take_snapshot() const {
    auto metadata = encode_metadata(_state);
    TL_ASSERT(metadata.ok(), "the applied state cannot be encoded");
    codec::writer w;
    w.raw(std::as_bytes(std::span(snapshot_magic)));
    w.u16(state_snapshot_format_version);
    w.u32(static_cast<uint32_t>(metadata->size()));
    w.raw(*metadata);
    w.u32(static_cast<uint32_t>(_outcomes.size()));
    for (const auto& [id, o] : _outcomes) {
        w.i32(id.origin_node);
        w.u64(id.sequence);
        w.u8(static_cast<uint8_t>(o.error.code));
        w.long_string(o.error.message);
        w.raw(o.topic.bytes);
        w.i64(o.producer_ids.first);
        w.i32(o.producer_ids.count);
        w.i64(o.version);
    }
    return std::move(w.out);
}

void metadata_state_machine::restore(const raft::snapshot& s) {
    auto restored = restore_bytes(s.meta.index, s.data);
    if (!restored) {
        spdlog::critical("metadata snapshot at {}: {}", s.meta.index, restored.error());
        TL_ASSERT(false, "a metadata snapshot this build cannot read");
    }
}

result<void, std::string> metadata_state_machine::restore_bytes(raft::index_t index,
                                                                std::span<const std::byte> data) {
    codec::reader r(data);
    const auto magic = r.bytes(4, "magic");
    const uint16_t format = r.u16("format version");
    if (r.ok() && !std::ranges::equal(magic, std::as_bytes(std::span(snapshot_magic)))) {
        return failure{std::string("not a metadata state snapshot (bad magic)")};
    }
    if (r.ok() && format != state_snapshot_format_version) {
        return failure{absl::StrFormat("state snapshot format %d; this build reads %d", format,
                                       state_snapshot_format_version)};
    }
    const uint32_t metadata_bytes = r.u32("metadata length");
    const auto metadata = r.bytes(metadata_bytes, "metadata");
    if (!r.ok()) return failure{r.problem()};
    auto state = decode_metadata(metadata, "state snapshot");
    if (!state) return failure{state.error().message()};
    if (std::ranges::any_of(state->topics,
                            [](const topic_record& t) { return t.assignments.empty(); })) {
        return failure{
            std::string("state snapshot holds unplaced topics (snapshot_from_legacy "
                        "places them)")};
    }
    std::map<request_id, request_outcome> outcomes;
    const uint32_t count = r.u32("outcome count");
    if (r.ok() && count > r.remaining() / 49) {
        r.fail(absl::StrFormat("%d outcomes cannot fit in %d bytes", count, r.remaining()));
    }
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        request_id id{.origin_node = r.i32("origin"), .sequence = r.u64("sequence")};
        request_outcome o;
        const uint8_t code = r.u8("errc");
        if (r.ok() && code > static_cast<uint8_t>(last_errc)) {
            r.fail(absl::StrFormat("outcome code %d", code));
        }
        o.error.code = static_cast<controller_errc>(code);
        const uint32_t length = r.u32("message length");
        if (r.ok() && length > max_outcome_message_bytes) {
            r.fail(absl::StrFormat("outcome message of %d bytes", length));
        }
        o.error.message = r.string(length, "message");
        const auto topic = r.bytes(16, "topic id");
        if (r.ok()) std::copy(topic.begin(), topic.end(), o.topic.bytes.begin());
        o.producer_ids.first = r.i64("first producer id");
        o.producer_ids.count = r.i32("producer id count");
        o.version = r.i64("version");
        if (r.ok() && !outcomes.empty() && id <= outcomes.rbegin()->first) {
            r.fail("outcomes out of order or repeated");
        }
        if (r.ok()) outcomes.emplace_hint(outcomes.end(), id, std::move(o));
    }
    if (r.ok() && r.remaining() != 0) {
        r.fail(absl::StrFormat("%d bytes after the outcomes", r.remaining()));
    }
    if (!r.ok()) return failure{"state snapshot: " + r.problem()};
    _state = std::move(*state);
    _outcomes = std::move(outcomes);
    _last_applied = index;
    publish();
    return result<void, std::string>{};
}

result<std::vector<std::byte>, std::string> metadata_state_machine::snapshot_from_legacy(
    metadata_snapshot legacy, int32_t node_id) {
    for (topic_record& t : legacy.topics) {
        if (!t.assignments.empty()) continue;
        t.assignments = place_partitions({}, 0, t.partition_count, 1, node_id);
        t.replication_factor = 1;
    }
    codec::writer w;
    auto metadata = encode_metadata(legacy);
    if (!metadata) return failure{metadata.error().message()};
    w.raw(std::as_bytes(std::span(snapshot_magic)));
    w.u16(state_snapshot_format_version);
    w.u32(static_cast<uint32_t>(metadata->size()));
    w.raw(*metadata);
    w.u32(0);
    return std::move(w.out);
}

}  // namespace tl::cluster
