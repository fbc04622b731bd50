#include "cluster/controller.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/metadata_validation.h"
#include "reactor/shard.h"
#include "reactor/submit_to.h"

namespace tl::cluster {

// Holds the controller for one change at a time.
class controller::exclusive {
public:
    explicit exclusive(controller& c) noexcept : _c(c) {}
    exclusive(const exclusive&) = delete;
    exclusive& operator=(const exclusive&) = delete;
    ~exclusive() {
        if (_held) {
            _c._busy = false;
            _c._free.notify_all();
        }
    }
    task<void> acquire() {
        while (_c._busy) co_await _c._free.wait();
        _c._busy = true;
        _held = true;
    }

private:
    controller& _c;
    bool _held = false;
};

controller::controller(storage::disk& disk, controller_settings settings,
                       std::span<partition_manager* const> managers)
    : _disk(disk),
      _settings(std::move(settings)),
      _managers(managers),
      _random(std::random_device{}()) {}

topic_id controller::fresh_topic_id() {
    for (;;) {
        topic_id id = uuid::random(_random);
        if (_image == nullptr || _image->find(id) == nullptr) return id;
    }
}

task<result<void, std::string>> controller::start() {
    auto loaded = co_await load_metadata(_disk, _settings.data_dir);
    if (!loaded) {
        co_return failure{fmt::format("cluster metadata in {}: {}", _settings.data_dir,
                                      loaded.error().message())};
    }
    metadata_snapshot snapshot;
    if (loaded->has_value()) {
        snapshot = std::move(**loaded);
        // Configs persisted by an older release must still validate.
        for (const topic_record& t : snapshot.topics) {
            if (auto config = topic_config::from_overrides(t.configs); !config) {
                co_return failure{fmt::format("topic {}: stored config {}: {}", t.name,
                                              config.error().name, config.error().message)};
            }
        }
    } else {
        snapshot.version = 0;
        snapshot.cluster_id = make_cluster_id(_random);
        if (auto saved = co_await save_metadata(_disk, _settings.data_dir, snapshot); !saved) {
            co_return failure{fmt::format("cluster metadata in {}: {}", _settings.data_dir,
                                          saved.error().message())};
        }
    }
    if (!std::ranges::any_of(snapshot.topics,
                             [](const topic_record& t) { return t.name == offsets_topic_name; })) {
        // Before any shard has an image: the shards open its partitions when
        // they adopt the first one, so nothing else needs telling.
        topic_record offsets;
        offsets.name = std::string(offsets_topic_name);
        offsets.id = uuid::random(_random);
        offsets.partition_count = _settings.offsets_topic_partitions;
        offsets.configs = offsets_topic_configs(_settings.offsets_topic_segment_bytes);
        snapshot.topics.push_back(std::move(offsets));
        ++snapshot.version;
        if (auto saved = co_await save_metadata(_disk, _settings.data_dir, snapshot); !saved) {
            co_return failure{fmt::format("cluster metadata in {}: {}", _settings.data_dir,
                                          saved.error().message())};
        }
        spdlog::info("topic {} created: {} partitions", offsets_topic_name,
                     _settings.offsets_topic_partitions);
    }
    _persisted_version = snapshot.version;
    _next_producer_id = snapshot.next_producer_id;
    _image =
        std::make_shared<const metadata_image>(snapshot, _settings.defaults, _settings.storage_base,
                                               _settings.shard_count, _settings.node_id);
    spdlog::info("cluster {}: {} topics (metadata version {}, next producer id {})",
                 snapshot.cluster_id, snapshot.topics.size(), snapshot.version,
                 snapshot.next_producer_id);
    co_return result<void, std::string>{};
}

task<controller_error> controller::commit(metadata_snapshot next) {
    // `next` was built from the image, which may predate producer-id blocks.
    next.version = _persisted_version + 1;
    next.next_producer_id = _next_producer_id;
    if (auto saved = co_await save_metadata(_disk, _settings.data_dir, next); !saved) {
        spdlog::error("cluster metadata: cannot persist version {}: {}", next.version,
                      saved.error().message());
        co_return controller_error{controller_errc::storage_failure,
                                   "the broker could not persist the change"};
    }
    _persisted_version = next.version;
    auto image = std::make_shared<const metadata_image>(
        next, _settings.defaults, _settings.storage_base, _settings.shard_count, _settings.node_id);
    _image = image;
    for (unsigned s = 0; s < _managers.size(); ++s) {
        partition_manager* manager = _managers[s];
        auto applied =
            co_await reactor::submit_to(s, [manager, image]() { return manager->apply(image); });
        if (!applied) spdlog::error("shard {}: {}", s, applied.error());
    }
    co_return controller_error{};
}

task<std::vector<topic_change_outcome>> controller::create_topics(std::vector<new_topic> topics,
                                                                  bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<topic_change_outcome> out(topics.size());
    metadata_snapshot next = _image->snapshot();
    bool changed = false;
    for (size_t i = 0; i < topics.size(); ++i) {
        new_topic& t = topics[i];
        out[i].error = check_new_topic(t, next, _settings.max_partitions_per_topic);
        if (out[i].error.code != controller_errc::none || validate_only) continue;
        topic_record record;
        record.name = t.name;
        record.id = fresh_topic_id();
        record.partition_count = t.partitions;
        auto config = topic_config::from_overrides(t.configs);
        record.configs.insert(config->overrides().begin(), config->overrides().end());
        out[i].id = record.id;
        next.topics.push_back(std::move(record));
        changed = true;
    }
    if (changed) {
        const controller_error committed = co_await commit(std::move(next));
        if (committed.code != controller_errc::none) {
            for (auto& o : out) {
                if (o.error.code == controller_errc::none) o.error = committed;
            }
        } else {
            for (size_t i = 0; i < topics.size(); ++i) {
                if (out[i].error.code == controller_errc::none) {
                    spdlog::info("topic {} created: {} partitions", topics[i].name,
                                 topics[i].partitions);
                }
            }
        }
    }
    co_return out;
}

task<std::vector<topic_change_outcome>> controller::delete_topics(std::vector<std::string> names) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<topic_change_outcome> out(names.size());
    metadata_snapshot next = _image->snapshot();
    bool changed = false;
    for (size_t i = 0; i < names.size(); ++i) {
        const auto it = std::ranges::find(next.topics, names[i], &topic_record::name);
        out[i].error = check_deletable(it == next.topics.end() ? nullptr : &*it, names[i]);
        if (out[i].error.code != controller_errc::none) continue;
        out[i].id = it->id;
        next.topics.erase(it);
        changed = true;
    }
    if (changed) {
        const controller_error committed = co_await commit(std::move(next));
        for (size_t i = 0; i < names.size(); ++i) {
            if (out[i].error.code != controller_errc::none) continue;
            if (committed.code != controller_errc::none) {
                out[i].error = committed;
            } else {
                spdlog::info("topic {} deleted", names[i]);
            }
        }
    }
    co_return out;
}

task<std::vector<controller_error>> controller::create_partitions(
    std::vector<partition_increase> changes, bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    std::vector<controller_error> out(changes.size());
    metadata_snapshot next = _image->snapshot();
    bool changed = false;
    for (size_t i = 0; i < changes.size(); ++i) {
        out[i] = check_partition_increase(changes[i], next, _settings.max_partitions_per_topic);
        if (out[i].code != controller_errc::none || validate_only) continue;
        const auto it = std::ranges::find(next.topics, changes[i].name, &topic_record::name);
        it->partition_count = changes[i].count;
        changed = true;
    }
    if (changed) {
        const controller_error committed = co_await commit(std::move(next));
        if (committed.code != controller_errc::none) {
            for (auto& o : out) {
                if (o.code == controller_errc::none) o = committed;
            }
        }
    }
    co_return out;
}

task<controller_error> controller::alter_config(std::string name, config_edit edit,
                                                bool validate_only) {
    exclusive lock(*this);
    co_await lock.acquire();
    metadata_snapshot next = _image->snapshot();
    auto change = edit_config(name, next, edit);
    if (!change) co_return change.error();
    if (validate_only || change->next == change->current) co_return controller_error{};
    const auto it = std::ranges::find(next.topics, name, &topic_record::name);
    it->configs.clear();
    it->configs.insert(change->next.overrides().begin(), change->next.overrides().end());
    co_return co_await commit(std::move(next));
}

task<result<producer_id_block, controller_error>> controller::allocate_producer_ids(int32_t count) {
    TL_ASSERT(count > 0, "a producer id block holds at least one id");
    exclusive lock(*this);
    co_await lock.acquire();
    if (auto exhausted = check_producer_ids(_next_producer_id, count);
        exhausted.code != controller_errc::none) {
        co_return failure{std::move(exhausted)};
    }
    metadata_snapshot next = _image->snapshot();
    next.version = _persisted_version + 1;
    next.next_producer_id = _next_producer_id + count;
    if (auto saved = co_await save_metadata(_disk, _settings.data_dir, next); !saved) {
        spdlog::error("cluster metadata: cannot persist producer ids up to {}: {}",
                      next.next_producer_id, saved.error().message());
        co_return failure{controller_error{controller_errc::storage_failure,
                                           "the broker could not persist the producer ids"}};
    }
    const producer_id_block block{.first = _next_producer_id, .count = count};
    _persisted_version = next.version;
    _next_producer_id = next.next_producer_id;
    spdlog::debug("producer ids [{}, {}) issued", block.first, block.end());
    co_return block;
}

}  // namespace tl::cluster
