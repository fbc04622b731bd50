#include "kafka/groups/group_coordinator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "cluster/controller.h"
#include "reactor/submit_to.h"
#include "storage/record_batch.h"

namespace tl::kafka::groups {
namespace {

using namespace group_errors;
using std::chrono::milliseconds;

constexpr auto tick_interval = milliseconds(10);
constexpr size_t replay_read_bytes = 1024 * 1024;
constexpr std::string_view offsets_topic = cluster::offsets_topic_name;

// Kafka's mapping of a failed append to the coordinator's answer.
int16_t append_error(const cluster::partition_error& error, int16_t too_large) {
    if (error.code == cluster::partition_errc::unknown_partition) return not_coordinator;
    switch (error.storage.code) {
        case storage::storage_errc::batch_too_large: return too_large;
        case storage::storage_errc::closed: return not_coordinator;
        default: return coordinator_not_available;
    }
}

std::vector<std::byte> batch_of(
    const std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>>&
        records,
    int64_t timestamp_ms) {
    storage::record_batch_builder builder;
    for (const auto& [key, value] : records) {
        storage::record_input input;
        input.timestamp_ms = timestamp_ms;
        input.key = storage::byte_span(key);
        if (value) input.value = storage::byte_span(*value);
        builder.add_record(input);
    }
    return builder.build();
}

}  // namespace

std::optional<group_location> locate(const cluster::metadata_image& image,
                                     std::string_view group_id) {
    const cluster::topic_metadata* topic = image.find(offsets_topic);
    if (topic == nullptr || topic->partition_count <= 0) return std::nullopt;
    const int32_t partition = partition_for_group(group_id, topic->partition_count);
    return group_location{.partition = partition,
                          .shard = topic->owners[static_cast<size_t>(partition)]};
}

task<int16_t> consumer_lag(std::span<group_coordinator* const> coordinators,
                           std::span<cluster::partition_manager* const> managers,
                           std::shared_ptr<const cluster::metadata_image> image,
                           std::string group_id, std::vector<partition_lag>& out) {
    const auto where = locate(*image, group_id);
    if (!where) co_return coordinator_not_available;
    std::vector<fetched_offset> committed;
    const int16_t error = co_await reactor::submit_to(where->shard, [&]() -> int16_t {
        group_coordinator* c = coordinators[where->shard];
        if (c == nullptr) return coordinator_not_available;
        return c->fetch_offsets(group_id, where->partition, std::nullopt, committed);
    });
    if (error != 0) co_return error;
    for (const fetched_offset& f : committed) {
        partition_lag& lag = out.emplace_back();
        lag.topic = f.topic;
        lag.partition = f.partition;
        lag.committed_offset = f.offset;
        const cluster::topic_metadata* topic = image->find(f.topic);
        if (topic == nullptr || f.partition < 0 || f.partition >= topic->partition_count) continue;
        const unsigned owner = topic->owners[static_cast<size_t>(f.partition)];
        cluster::partition_manager* manager = managers[owner];
        const std::string_view name = topic->name;
        const int32_t partition = f.partition;
        auto offsets = co_await reactor::submit_to(
            owner, [&]() { return manager->offsets(name, partition); });
        if (!offsets) continue;
        lag.log_end_offset = offsets->high_watermark;
        lag.lag = std::max<int64_t>(0, lag.log_end_offset - std::max<int64_t>(0, f.offset));
    }
    co_return int16_t{0};
}

group_coordinator::group_coordinator(unsigned shard_id, cluster::partition_manager& local,
                                     std::span<group_coordinator* const> peers,
                                     const coordinator_settings& settings, executor& exec)
    : _shard_id(shard_id),
      _local(local),
      _peers(peers),
      _settings(settings),
      _executor(exec),
      _uuid_state(std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32)) {}

group_coordinator::~group_coordinator() {
    TL_ASSERT(_waiters.empty(), "coordinator destroyed with requests waiting");
}

void group_coordinator::start() {
    const auto& image = _local.image();
    if (image != nullptr) {
        if (const auto* topic = image->find(offsets_topic); topic != nullptr) {
            for (int32_t p = 0; p < topic->partition_count; ++p) {
                if (topic->owners[static_cast<size_t>(p)] == _shard_id) {
                    _partitions[p] = load_state::loading;
                    _background.spawn(load_partition(p));
                }
            }
        }
    }
    _background.spawn(tick_loop());
    _background.spawn(retention_loop());
}

task<void> group_coordinator::stop() {
    _stopping = true;
    _stop_ticks.fire();
    _stop_retention.fire();
    for (auto& [id, g] : _groups) g->mark_dead();  // answers every waiting member
    co_await _background.wait();
    _groups.clear();
}

bool group_coordinator::loaded() const noexcept {
    return std::ranges::all_of(_partitions,
                               [](const auto& p) { return p.second == load_state::loaded; });
}

// ---- placement and loading ----

int16_t group_coordinator::check_partition(int32_t partition) {
    if (_stopping) return coordinator_not_available;
    auto it = _partitions.find(partition);
    if (it != _partitions.end()) {
        return it->second == load_state::loaded ? 0 : coordinator_load_in_progress;
    }
    // A partition we have not met: new since start-up (or moved here).
    const auto& image = _local.image();
    const auto* topic = image ? image->find(offsets_topic) : nullptr;
    if (topic == nullptr || partition < 0 || partition >= topic->partition_count ||
        topic->owners[static_cast<size_t>(partition)] != _shard_id) {
        return not_coordinator;
    }
    _partitions[partition] = load_state::loading;
    _background.spawn(load_partition(partition));
    return coordinator_load_in_progress;
}

task<void> group_coordinator::load_partition(int32_t partition) {
    replayed_partition state;
    auto offsets = _local.offsets(offsets_topic, partition);
    if (!offsets) {
        // Not open (yet): forget it, so the next request tries again.
        spdlog::warn("groups: {}-{} cannot be loaded yet", offsets_topic, partition);
        _partitions.erase(partition);
        co_return;
    }
    int64_t position = offsets->log_start_offset;
    const int64_t end = offsets->high_watermark;
    while (position < end && !_stopping) {
        auto read = co_await _local.read(
            offsets_topic, partition,
            storage::read_request{
                .start_offset = position, .max_bytes = replay_read_bytes, .max_offset = end},
            std::nullopt);
        if (!read || !read->data || read->data->batches.empty()) {
            if (!read) spdlog::error("groups: reading {}-{} failed", offsets_topic, partition);
            break;
        }
        std::span<const std::byte> rest(read->data->batches);
        int64_t next = position;
        while (!rest.empty()) {
            auto header = storage::read_batch_header(rest);
            if (!header || header->size_bytes() > rest.size()) break;
            if (!replay_batch(rest.first(header->size_bytes()), position, state)) {
                spdlog::error("groups: {}-{}: undecodable batch at offset {}", offsets_topic,
                              partition, header->base_offset);
            }
            next = header->last_offset() + 1;
            rest = rest.subspan(header->size_bytes());
        }
        if (next <= position) break;
        position = next;
    }
    if (_stopping) co_return;
    const steady_time now = _executor.now();
    for (auto& [id, value] : state.groups) {
        auto g = std::make_shared<group>(id, _settings.group, store());
        g->load(value, now);
        _groups.insert_or_assign(id, std::move(g));
        _group_partition[id] = partition;
    }
    for (auto& [key, value] : state.offsets) {
        std::shared_ptr<group> g = find(key.first);
        if (g == nullptr) {
            g = std::make_shared<group>(key.first, _settings.group, store());
            _groups.emplace(key.first, g);
            _group_partition[key.first] = partition;
        }
        g->apply_commit(key.second.first, key.second.second, std::move(value));
    }
    if (state.skipped_records > 0) {
        spdlog::warn("groups: {}-{}: skipped {} records of unknown format", offsets_topic,
                     partition, state.skipped_records);
    }
    spdlog::debug("groups: {}-{} loaded: {} groups, {} offsets", offsets_topic, partition,
                  state.groups.size(), state.offsets.size());
    _partitions[partition] = load_state::loaded;
}

std::shared_ptr<group> group_coordinator::find(const std::string& id) {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : it->second;
}

std::shared_ptr<group> group_coordinator::find_or_create(const std::string& id,
                                                         int32_t partition) {
    if (auto g = find(id); g != nullptr) return g;
    auto g = std::make_shared<group>(id, _settings.group, store());
    _groups.emplace(id, g);
    _group_partition[id] = partition;
    return g;
}

// ---- persistence ----

std::string group_coordinator::fresh_uuid() {
    // splitmix64: two draws make a version-4 UUID in Java's text form.
    const auto draw = [this]() {
        uint64_t z = (_uuid_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    const uint64_t hi = (draw() & ~0xf000ULL) | 0x4000ULL;
    const uint64_t lo = (draw() & ~(0xc0ULL << 56)) | (0x80ULL << 56);
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                       hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

task<int16_t> group_coordinator::append(int32_t partition, std::vector<std::byte> batch,
                                        int16_t too_large) {
    auto appended = co_await _local.append(offsets_topic, partition, batch);
    if (!appended) co_return append_error(appended.error(), too_large);
    co_return int16_t{0};
}

void group_coordinator::store_group(const group& g, store_callback done) {
    auto it = _group_partition.find(g.id());
    TL_ASSERT(it != _group_partition.end(), "a stored group has a partition");
    const int32_t partition = it->second;
    std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>> records;
    records.emplace_back(encode_key(group_key{g.id()}), encode_group_value(g.to_record()));
    auto batch = batch_of(records, _executor.wall_time_ms());
    _background.spawn([](group_coordinator* self, int32_t partition, std::vector<std::byte> batch,
                         store_callback done) -> task<void> {
        // Kafka (GroupMetadataManager.storeGroup): a group record too large
        // for the log is UNKNOWN_SERVER_ERROR.
        const int16_t error =
            co_await self->append(partition, std::move(batch), unknown_server_error);
        if (error != 0) spdlog::warn("groups: storing a group failed: error {}", error);
        if (done) done(error);
    }(this, partition, std::move(batch), std::move(done)));
}

// ---- answers to waiting requests ----

uint64_t group_coordinator::add_waiter(group_waiter_slot& slot) {
    const uint64_t id = _next_waiter++;
    _waiters.emplace(id, &slot);
    return id;
}

void group_coordinator::remove_waiter(uint64_t id) noexcept { _waiters.erase(id); }

void group_coordinator::deliver_local(uint64_t waiter, std::optional<join_result> join,
                                      std::optional<sync_result> sync) {
    auto it = _waiters.find(waiter);
    if (it == _waiters.end()) return;  // the request gave up (its connection closed)
    if (join) it->second->join = std::move(join);
    if (sync) it->second->sync = std::move(sync);
    it->second->wake.notify_all();
}

task<void> group_coordinator::deliver_join(reply_address reply, join_result result) {
    group_coordinator* const* peers = _peers.data();
    co_await reactor::submit_to(reply.shard, [peers, reply, &result]() {
        if (group_coordinator* origin = peers[reply.shard]; origin != nullptr) {
            origin->deliver_local(reply.waiter, std::move(result), std::nullopt);
        }
    });
}

task<void> group_coordinator::deliver_sync(reply_address reply, sync_result result) {
    group_coordinator* const* peers = _peers.data();
    co_await reactor::submit_to(reply.shard, [peers, reply, &result]() {
        if (group_coordinator* origin = peers[reply.shard]; origin != nullptr) {
            origin->deliver_local(reply.waiter, std::nullopt, std::move(result));
        }
    });
}

// ---- the protocol ----

void group_coordinator::join(std::string group_id, int32_t partition, join_args args,
                             reply_address reply) {
    auto answer = [this, reply](join_result r) {
        _background.spawn(deliver_join(reply, std::move(r)));
    };
    if (const int16_t error = check_partition(partition); error != 0) {
        join_result r;
        r.error = error;
        r.member_id = args.member_id;
        return answer(std::move(r));
    }
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr && !args.member_id.empty()) {
        join_result r;
        r.error = unknown_member_id;
        r.member_id = args.member_id;
        return answer(std::move(r));
    }
    if (g == nullptr && group_id.empty()) {
        join_result r;
        r.error = invalid_group_id;
        return answer(std::move(r));
    }
    if (g == nullptr) g = find_or_create(group_id, partition);
    g->join(std::move(args), _executor.now(), std::move(answer));
}

void group_coordinator::sync(std::string group_id, int32_t partition, sync_args args,
                             reply_address reply) {
    auto answer = [this, reply](sync_result r) {
        _background.spawn(deliver_sync(reply, std::move(r)));
    };
    if (const int16_t error = check_partition(partition); error != 0) {
        sync_result r;
        r.error = error;
        return answer(std::move(r));
    }
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr) {
        sync_result r;
        r.error = unknown_member_id;
        return answer(std::move(r));
    }
    g->sync(std::move(args), _executor.now(), std::move(answer));
}

int16_t group_coordinator::heartbeat(const std::string& group_id, int32_t partition,
                                     const member_identity& who, int32_t generation) {
    if (const int16_t error = check_partition(partition); error != 0) return error;
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr) return unknown_member_id;
    return g->heartbeat(who, generation, _executor.now());
}

leave_outcome group_coordinator::leave(const std::string& group_id, int32_t partition,
                                       const std::vector<member_identity>& who) {
    leave_outcome out;
    if (const int16_t error = check_partition(partition); error != 0) {
        out.error = error;
        return out;
    }
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr) {
        out.members.assign(who.size(), unknown_member_id);
        return out;
    }
    out.members = g->leave(who, _executor.now());
    return out;
}

task<std::vector<int16_t>> group_coordinator::commit(std::string group_id, int32_t partition,
                                                     member_identity who, int32_t generation,
                                                     std::vector<commit_entry> entries,
                                                     std::optional<int64_t> retention_ms) {
    std::vector<int16_t> errors;
    errors.reserve(entries.size());
    for (const commit_entry& e : entries) errors.push_back(e.error);
    const auto fail_all = [&](int16_t error) {
        for (size_t i = 0; i < entries.size(); ++i) {
            if (errors[i] == 0) errors[i] = error;
        }
    };
    if (int16_t error = check_partition(partition); error != 0) {
        fail_all(error);
        co_return errors;
    }
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr) {
        if (generation >= 0) {
            fail_all(illegal_generation);
            co_return errors;
        }
        // A simple consumer: Kafka keeps its offsets in a group of its own.
        g = find_or_create(group_id, partition);
    }
    if (int16_t error = g->check_commit(who, generation, _executor.now()); error != 0) {
        fail_all(error);
        co_return errors;
    }
    const int64_t now_ms = _executor.wall_time_ms();
    std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>> records;
    std::vector<offset_value> values(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        commit_entry& e = entries[i];
        if (errors[i] != 0) continue;
        if (e.metadata && std::ssize(*e.metadata) > _settings.offset_metadata_max_bytes) {
            errors[i] = code(error_code::offset_metadata_too_large);
            continue;
        }
        offset_value& v = values[i];
        v.offset = e.offset;
        v.leader_epoch = e.leader_epoch;
        v.metadata = e.metadata.value_or("");
        v.commit_timestamp_ms = now_ms;
        if (retention_ms.has_value() && *retention_ms >= 0) {
            v.expire_timestamp_ms = now_ms + *retention_ms;
        }
        records.emplace_back(encode_key(offset_key{group_id, e.topic, e.partition}),
                             encode_offset_value(v));
    }
    if (records.empty()) co_return errors;
    const int16_t appended = co_await append(partition, batch_of(records, now_ms));
    for (size_t i = 0; i < entries.size(); ++i) {
        if (errors[i] != 0) continue;
        if (appended != 0) {
            errors[i] = appended;
        } else if (g->state() != group_state::dead) {
            g->apply_commit(entries[i].topic, entries[i].partition, std::move(values[i]));
        }
    }
    co_return errors;
}

int16_t group_coordinator::fetch_offsets(
    const std::string& group_id, int32_t partition,
    const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics,
    std::vector<fetched_offset>& out) {
    if (const int16_t error = check_partition(partition); error != 0) return error;
    std::shared_ptr<group> g = find(group_id);
    const auto emit = [&out](const std::string& topic, int32_t p, const offset_value* v) {
        fetched_offset f;
        f.topic = topic;
        f.partition = p;
        f.metadata = "";
        if (v != nullptr) {
            f.offset = v->offset;
            f.leader_epoch = v->leader_epoch;
            f.metadata = v->metadata;
        }
        out.push_back(std::move(f));
    };
    if (!topics.has_value()) {
        if (g == nullptr) return 0;
        for (const auto& [tp, c] : g->offsets()) emit(tp.first, tp.second, &c.value);
        return 0;
    }
    for (const auto& [topic, partitions] : *topics) {
        for (int32_t p : partitions) {
            const offset_value* v = nullptr;
            if (g != nullptr) {
                auto it = g->offsets().find(topic_partition{topic, p});
                if (it != g->offsets().end()) v = &it->second.value;
            }
            emit(topic, p, v);
        }
    }
    return 0;
}

described_group group_coordinator::describe(const std::string& group_id, int32_t partition) {
    described_group out;
    out.group_id = group_id;
    if (const int16_t error = check_partition(partition); error != 0) {
        out.error = error;
        return out;
    }
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr) {
        out.state = std::string(to_string(group_state::dead));
        return out;
    }
    out.state = std::string(to_string(g->state()));
    out.protocol_type = g->protocol_type().value_or("");
    const bool stable = g->state() == group_state::stable;
    if (stable) out.protocol = g->protocol_name().value_or("");
    for (const auto& [id, m] : g->members()) {
        described_member d;
        d.member_id = id;
        d.group_instance_id = m->group_instance_id;
        d.client_id = m->client_id;
        d.client_host = m->client_host;
        if (stable) {
            // Only a stable group's members have metadata and assignments to show.
            if (const auto* metadata = m->metadata_for(out.protocol)) d.metadata = *metadata;
            d.assignment = m->assignment;
        }
        out.members.push_back(std::move(d));
    }
    return out;
}

int16_t group_coordinator::list(const std::vector<group_state>& states,
                                std::vector<listed_group>& out) {
    int16_t error = 0;
    for (const auto& [p, state] : _partitions) {
        if (state != load_state::loaded) error = coordinator_load_in_progress;
    }
    for (const auto& [id, g] : _groups) {
        if (g->state() == group_state::dead) continue;
        if (!states.empty() && std::ranges::find(states, g->state()) == states.end()) continue;
        out.push_back({id, g->protocol_type().value_or(""), std::string(to_string(g->state()))});
    }
    return error;
}

task<int16_t> group_coordinator::delete_group(std::string group_id, int32_t partition) {
    if (const int16_t error = check_partition(partition); error != 0) co_return error;
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr || g->state() == group_state::dead) co_return group_id_not_found;
    if (g->state() != group_state::empty) co_return non_empty_group;
    std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>> records;
    for (const auto& [tp, c] : g->offsets()) {
        records.emplace_back(encode_key(offset_key{group_id, tp.first, tp.second}), std::nullopt);
    }
    records.emplace_back(encode_key(group_key{group_id}), std::nullopt);
    g->mark_dead();
    _groups.erase(group_id);
    _group_partition.erase(group_id);
    const int16_t appended =
        co_await append(partition, batch_of(records, _executor.wall_time_ms()));
    co_return appended;
}

task<int16_t> group_coordinator::delete_offsets(
    std::string group_id, int32_t partition,
    std::vector<std::pair<std::string, int32_t>> partitions, std::vector<int16_t>& errors) {
    errors.assign(partitions.size(), 0);
    if (const int16_t error = check_partition(partition); error != 0) co_return error;
    std::shared_ptr<group> g = find(group_id);
    if (g == nullptr || g->state() == group_state::dead) co_return group_id_not_found;
    if (g->state() != group_state::empty && g->protocol_type() != "consumer") {
        co_return non_empty_group;
    }
    std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>> records;
    std::vector<size_t> removed;
    for (size_t i = 0; i < partitions.size(); ++i) {
        const auto& [topic, p] = partitions[i];
        if (g->state() != group_state::empty && g->subscribed_to(topic)) {
            errors[i] = group_subscribed_to_topic;
            continue;
        }
        if (g->offsets().contains(topic_partition{topic, p})) {
            records.emplace_back(encode_key(offset_key{group_id, topic, p}), std::nullopt);
            removed.push_back(i);
        }
    }
    if (records.empty()) co_return int16_t{0};
    const int16_t appended =
        co_await append(partition, batch_of(records, _executor.wall_time_ms()));
    if (appended != 0) co_return appended;
    for (size_t i : removed) g->remove_offset(partitions[i].first, partitions[i].second);
    co_return int16_t{0};
}

// ---- deadlines and retention ----

task<void> group_coordinator::tick_loop() {
    while (!_stopping) {
        co_await _executor.sleep(tick_interval, _stop_ticks);
        if (_stopping) break;
        const steady_time now = _executor.now();
        // A tick may answer requests and store groups, never erase from _groups.
        for (auto& [id, g] : _groups) {
            const auto deadline = g->next_deadline();
            if (deadline.has_value() && *deadline <= now) g->tick(now);
        }
    }
}

task<void> group_coordinator::retention_loop() {
    while (!_stopping) {
        co_await _executor.sleep(milliseconds(_settings.retention_check_interval_ms),
                                 _stop_retention);
        if (_stopping) break;
        co_await expire_offsets();
    }
}

task<void> group_coordinator::expire_offsets() {
    // Kafka's rules: offsets of an Empty group with a protocol type expire
    // retention after the group became Empty; those of a group without one
    // (simple consumers) after their own commit (or explicit expiry) time.
    // Empty groups left without offsets are deleted.
    const int64_t now_ms = _executor.wall_time_ms();
    std::map<int32_t, std::vector<std::pair<std::vector<std::byte>,
                                            std::optional<std::vector<std::byte>>>>>
        tombstones;
    std::vector<std::string> deleted;
    for (auto& [id, g] : _groups) {
        if (g->state() != group_state::empty || g->storing()) continue;
        const int32_t partition = _group_partition[id];
        std::vector<topic_partition> expired;
        for (const auto& [tp, c] : g->offsets()) {
            int64_t expires = 0;
            if (c.value.expire_timestamp_ms.has_value()) {
                expires = *c.value.expire_timestamp_ms;
            } else if (g->protocol_type().has_value()) {
                expires = g->state_timestamp_ms() + _settings.offsets_retention_ms;
            } else {
                expires = c.value.commit_timestamp_ms + _settings.offsets_retention_ms;
            }
            if (expires <= now_ms) expired.push_back(tp);
        }
        for (const auto& tp : expired) {
            tombstones[partition].emplace_back(encode_key(offset_key{id, tp.first, tp.second}),
                                               std::nullopt);
            g->remove_offset(tp.first, tp.second);
        }
        if (g->offsets().empty()) {
            tombstones[partition].emplace_back(encode_key(group_key{id}), std::nullopt);
            deleted.push_back(id);
        }
    }
    for (const std::string& id : deleted) {
        _groups[id]->mark_dead();
        _groups.erase(id);
        _group_partition.erase(id);
    }
    for (auto& [partition, records] : tombstones) {
        const int16_t error = co_await append(partition, batch_of(records, now_ms));
        if (error != 0) spdlog::warn("groups: writing expired offsets failed: error {}", error);
    }
    if (!deleted.empty()) spdlog::info("groups: {} empty groups removed", deleted.size());
}

}  // namespace tl::kafka::groups
