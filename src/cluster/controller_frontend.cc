#include "cluster/controller_frontend.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/metadata_validation.h"
#include "reactor/submit_to.h"

namespace tl::cluster {

// ---- shard_image_publisher ----

void shard_image_publisher::publish(std::shared_ptr<const metadata_image> image) {
    TL_ASSERT(image != nullptr);
    _latest = std::move(image);
    if (_pushing) return;
    _pushing = true;
    _background.spawn(push());
}

task<void> shard_image_publisher::push() {
    while (_latest->version() > _published) {
        const std::shared_ptr<const metadata_image> image = _latest;
        for (unsigned s = 0; s < _managers.size(); ++s) {
            partition_manager* manager = _managers[s];
            auto applied = co_await reactor::submit_to(
                s, [manager, image]() { return manager->apply(image); });
            if (!applied) spdlog::error("shard {}: {}", s, applied.error());
        }
        _published = image->version();
        _advanced.notify_all();
    }
    _pushing = false;
}

task<void> shard_image_publisher::wait_published(int64_t version) {
    while (_published < version) co_await _advanced.wait();
}

// ---- in_memory_proposer ----

task<result<raft::index_t, std::string>> in_memory_proposer::propose(
    std::vector<std::byte> record) {
    if (!_fail_next.empty()) co_return failure{std::exchange(_fail_next, {})};
    raft::entry e{.term = 1,
                  .index = _machine.last_applied() + 1,
                  .kind = raft::entry_kind::normal,
                  .data = std::move(record)};
    _machine.apply(e);
    _log.push_back(std::move(e));
    co_return _log.back().index;
}

task<void> in_memory_proposer::wait_applied(raft::index_t index) {
    TL_ASSERT(_machine.last_applied() >= index, "applied at once");
    co_return;
}

// ---- controller_frontend ----

// Holds the frontend for one change at a time.
class controller_frontend::exclusive {
public:
    explicit exclusive(controller_frontend& f) noexcept : _f(f) {}
    exclusive(const exclusive&) = delete;
    exclusive& operator=(const exclusive&) = delete;
    ~exclusive() {
        if (_held) {
            _f._busy = false;
            _f._free.notify_all();
        }
    }
    task<void> acquire() {
        while (_f._busy) co_await _f._free.wait();
        _f._busy = true;
        _held = true;
    }

private:
    controller_frontend& _f;
    bool _held = false;
};

controller_frontend::controller_frontend(frontend_settings settings,
                                         const metadata_state_machine& machine,
                                         metadata_proposer& proposer, image_publisher& publisher,
                                         uint64_t random_seed)
    : _settings(settings),
      _machine(machine),
      _proposer(proposer),
      _publisher(publisher),
      _random(random_seed) {}

topic_id controller_frontend::fresh_topic_id() {
    for (;;) {
        topic_id id = uuid::random(_random);
        if (find_topic(_machine.state(), id) == nullptr) return id;
    }
}

task<request_outcome> controller_frontend::submit(metadata_record_body body) {
    // After a restart, number requests after every one of ours in the log.
    _sequence = std::max(_sequence, _machine.last_sequence(_settings.node_id)) + 1;
    const request_id id{.origin_node = _settings.node_id, .sequence = _sequence};
    auto index = co_await _proposer.propose(encode_record(metadata_record{id, std::move(body)}));
    if (!index) {
        spdlog::warn("metadata change {} not committed: {}", id.sequence, index.error());
        co_return request_outcome{
            .error = {controller_errc::not_controller,
                      fmt::format("The change was not committed: {}", index.error())}};
    }
    co_await _proposer.wait_applied(*index);
    const request_outcome* found = _machine.outcome_of(id);
    TL_ASSERT(found != nullptr, "an applied request has an outcome");
    request_outcome outcome = *found;
    if (outcome.error.code == controller_errc::none) {
        co_await _publisher.wait_published(outcome.version);
    }
    co_return outcome;
}

task<result<void, std::string>> controller_frontend::bootstrap(broker_record self) {
    exclusive lock(*this);
    co_await lock.acquire();
    TL_ASSERT(self.node_id == _settings.node_id);
    if (_machine.state().cluster_id.empty()) {
        auto set = co_await submit(set_cluster_id_record{make_cluster_id(_random)});
        if (set.error.code != controller_errc::none) co_return failure{set.error.message};
    }
    const auto& brokers = _machine.state().brokers;
    const auto it = std::ranges::find(brokers, self.node_id, &broker_record::node_id);
    if (it == brokers.end() || !(*it == self)) {
        auto registered = co_await submit(register_broker_record{self});
        if (registered.error.code != controller_errc::none) {
            co_return failure{registered.error.message};
        }
    }
    if (find_topic(_machine.state(), offsets_topic_name) == nullptr) {
        const new_topic offsets{
            .name = std::string(offsets_topic_name),
            .partitions = _settings.offsets_topic_partitions,
            .replication_factor = 1,
            .configs = offsets_topic_configs(_settings.offsets_topic_segment_bytes)};
        auto created = co_await create_one(offsets);
        if (created.error.code != controller_errc::none &&
            created.error.code != controller_errc::topic_already_exists) {
            co_return failure{
                fmt::format("topic {}: {}", offsets_topic_name, created.error.message)};
        }
    }
    spdlog::info("cluster {}: {} topics, {} brokers (metadata version {}, applied {})",
                 _machine.state().cluster_id, _machine.state().topics.size(),
                 _machine.state().brokers.size(), _machine.state().version,
                 _machine.last_applied());
    co_return result<void, std::string>{};
}

task<topic_change_outcome> controller_frontend::create_one(const new_topic& t) {
    const metadata_snapshot& state = _machine.state();
    auto config = topic_config::from_overrides(t.configs);
    TL_ASSERT(config.ok(), "validated before");
    create_topic_record record{
        .name = t.name,
        .id = fresh_topic_id(),
        .partitions = t.partitions,
        .replication_factor = t.replication_factor,
        .assignments = place_partitions(state.brokers, 0, t.partitions, t.replication_factor,
                                        _settings.node_id),
        .configs = config->overrides()};
    auto outcome = co_await submit(std::move(record));
    if (outcome.error.code == controller_errc::none) {
        spdlog::info("topic {} created: {} partitions", t.name, t.partitions);
    }
    co_return topic_change_outcome{.error = std::move(outcome.error), .id = outcome.topic};
}

task<std::vector<topic_change_outcome>> controller_frontend::create_topics(
    std::vector<new_topic> topics, bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<topic_change_outcome> out(topics.size());
    for (size_t i = 0; i < topics.size(); ++i) {
        out[i].error =
            check_new_topic(topics[i], _machine.state(), _settings.max_partitions_per_topic);
        if (out[i].error.code != controller_errc::none || validate_only) continue;
        out[i] = co_await create_one(topics[i]);
    }
    co_return out;
}

task<std::vector<topic_change_outcome>> controller_frontend::delete_topics(
    std::vector<std::string> names) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<topic_change_outcome> out(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        const topic_record* topic = find_topic(_machine.state(), names[i]);
        out[i].error = check_deletable(topic, names[i]);
        if (out[i].error.code != controller_errc::none) continue;
        auto outcome = co_await submit(delete_topic_record{topic->id});
        out[i] = {.error = std::move(outcome.error), .id = outcome.topic};
        if (out[i].error.code == controller_errc::none) spdlog::info("topic {} deleted", names[i]);
    }
    co_return out;
}

task<std::vector<controller_error>> controller_frontend::create_partitions(
    std::vector<partition_increase> changes, bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<controller_error> out(changes.size());
    for (size_t i = 0; i < changes.size(); ++i) {
        const metadata_snapshot& state = _machine.state();
        out[i] = check_partition_increase(changes[i], state, _settings.max_partitions_per_topic);
        if (out[i].code != controller_errc::none || validate_only) continue;
        const topic_record& topic = *find_topic(state, changes[i].name);
        create_partitions_record record{
            .id = topic.id,
            .count = changes[i].count,
            .replication_factor = topic.replication_factor,
            .assignments = place_partitions(state.brokers, topic.partition_count,
                                            changes[i].count - topic.partition_count,
                                            topic.replication_factor, _settings.node_id)};
        out[i] = (co_await submit(std::move(record))).error;
    }
    co_return out;
}

task<controller_error> controller_frontend::alter_config(std::string name, config_edit edit,
                                                         bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    auto change = edit_config(name, _machine.state(), edit);
    if (!change) co_return change.error();
    if (validate_only || change->next == change->current) co_return controller_error{};
    const topic_id id = find_topic(_machine.state(), name)->id;
    auto outcome =
        co_await submit(alter_topic_config_record{.id = id, .configs = change->next.overrides()});
    co_return outcome.error;
}

task<result<producer_id_block, controller_error>> controller_frontend::allocate_producer_ids(
    int32_t count) {
    TL_ASSERT(count > 0, "a producer id block holds at least one id");
    exclusive lock(*this);
    co_await lock.acquire();
    controller_error last;
    for (int32_t attempt = 0; attempt < _settings.producer_id_attempts; ++attempt) {
        const int64_t first = _machine.state().next_producer_id;
        if (auto exhausted = check_producer_ids(first, count);
            exhausted.code != controller_errc::none) {
            co_return failure{std::move(exhausted)};
        }
        auto outcome = co_await submit(allocate_producer_ids_record{
            .node_id = _settings.node_id, .first = first, .count = count});
        if (outcome.error.code == controller_errc::none) {
            spdlog::debug("producer ids [{}, {}) issued", outcome.producer_ids.first,
                          outcome.producer_ids.end());
            co_return outcome.producer_ids;
        }
        last = std::move(outcome.error);
        // Only a block that lost a race to another broker's is worth retrying
        // at once; a proposal that was not committed is the caller's to retry.
        if (last.code != controller_errc::not_controller ||
            _machine.state().next_producer_id == first) {
            break;
        }
    }
    co_return failure{std::move(last)};
}

}  // namespace tl::cluster
