#include "cluster/partition_manager.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "reactor/shard.h"
#include "reactor/submit_to.h"

namespace tl::cluster {

struct partition_manager::local_partition {
    std::string topic;
    int32_t partition = 0;
    std::unique_ptr<storage::partition_log> log;
    std::string open_error;  // set when the log could not be opened
    uint32_t users = 0;      // calls in progress
    bool removing = false;
    reactor::condition idle;
    std::vector<fetch_watch> watches;
    std::unique_ptr<partition_probe> probe;  // null without set_metrics()
};

// Marks a partition busy for the length of one call, so that removal waits
// for it instead of destroying the log under a suspended caller.
class partition_manager::use {
public:
    explicit use(local_partition& p) noexcept : _p(p) { ++_p.users; }
    ~use() {
        if (--_p.users == 0) _p.idle.notify_all();
    }
    use(const use&) = delete;
    use& operator=(const use&) = delete;

private:
    local_partition& _p;
};

namespace {

partition_error unknown() {
    return partition_error{partition_errc::unknown_partition, {}};
}

partition_error from_storage(storage::storage_error e) {
    return partition_error{partition_errc::storage, std::move(e)};
}

}  // namespace

partition_manager::partition_manager(unsigned shard_id, std::string data_dir, storage::disk& disk,
                                     executor& exec, uint64_t cache_bytes)
    : _shard_id(shard_id),
      _data_dir(std::move(data_dir)),
      _disk(disk),
      _executor(exec),
      _cache(cache_bytes) {}

partition_manager::~partition_manager() {
    TL_ASSERT(_topics.empty(), "partition manager destroyed with open logs: stop() first");
}

std::string partition_manager::partition_directory(std::string_view topic,
                                                   int32_t partition) const {
    return fmt::format("{}/{}-{}", _data_dir, topic, partition);
}

size_t partition_manager::partition_count() const noexcept {
    size_t n = 0;
    for (const auto& [name, t] : _topics) {
        for (const auto& p : t.partitions) n += p != nullptr ? 1 : 0;
    }
    return n;
}

partition_manager::local_partition* partition_manager::find(std::string_view topic,
                                                            int32_t partition) noexcept {
    const auto it = _topics.find(topic);
    if (it == _topics.end() || partition < 0 ||
        static_cast<size_t>(partition) >= it->second.partitions.size()) {
        return nullptr;
    }
    local_partition* p = it->second.partitions[static_cast<size_t>(partition)].get();
    if (p == nullptr || p->removing || p->log == nullptr) return nullptr;
    return p;
}

task<result<void, std::string>> partition_manager::apply(
    std::shared_ptr<const metadata_image> next) {
    std::string first_error;
    // Topics gone, or recreated under the same name with a new id: close and
    // delete their logs first, so that a recreated topic starts empty.
    std::vector<std::string> gone;
    for (const auto& [name, local] : _topics) {
        const topic_metadata* now = next->find(std::string_view(name));
        if (now == nullptr || !(now->id == local.id)) gone.push_back(name);
    }
    for (const std::string& name : gone) {
        auto node = _topics.extract(name);
        for (auto& p : node.mapped().partitions) {
            if (p != nullptr) co_await remove_partition(std::move(p), true);
        }
    }
    for (const auto& topic : next->topics()) {
        auto [it, created] = _topics.try_emplace(topic->name);
        local_topic& local = it->second;
        local.id = topic->id;
        if (local.partitions.size() < static_cast<size_t>(topic->partition_count)) {
            local.partitions.resize(static_cast<size_t>(topic->partition_count));
        }
        for (int32_t p = 0; p < topic->partition_count; ++p) {
            // Only this broker's replicas, each on its owning shard.
            if (!topic->is_local(p) || topic->owners[static_cast<size_t>(p)] != _shard_id) {
                continue;
            }
            auto& slot = local.partitions[static_cast<size_t>(p)];
            if (slot == nullptr) {
                auto opened = co_await open_partition(*topic, p);
                if (!opened && first_error.empty()) first_error = opened.error();
            } else if (slot->log != nullptr) {
                slot->log->reconfigure(topic->log);
            }
        }
    }
    _image = std::move(next);
    if (!first_error.empty()) co_return failure{first_error};
    co_return result<void, std::string>{};
}

task<result<void, std::string>> partition_manager::open_partition(const topic_metadata& topic,
                                                                  int32_t partition) {
    auto p = std::make_unique<local_partition>();
    p->topic = topic.name;
    p->partition = partition;
    if (_metrics != nullptr) {
        p->probe = std::make_unique<partition_probe>(*_metrics, topic.name, partition,
                                                     _metrics_per_partition);
    }
    auto& slot = _topics[topic.name].partitions[static_cast<size_t>(partition)];
    local_partition& placed = *p;
    slot = std::move(p);
    auto opened = co_await storage::partition_log::open(_disk, _executor,
                                                        partition_directory(topic.name, partition),
                                                        topic.log, &_cache, &_storage_probe);
    if (!opened) {
        placed.open_error = opened.error().message();
        spdlog::error("partition {}-{}: cannot open its log: {}", topic.name, partition,
                      placed.open_error);
        co_return failure{fmt::format("{}-{}: {}", topic.name, partition, placed.open_error)};
    }
    placed.log = std::move(*opened);
    const auto& recovery = placed.log->recovery();
    if (recovery.bytes_truncated > 0) {
        spdlog::warn("partition {}-{}: recovery cut {} bytes of torn or corrupt tail", topic.name,
                     partition, recovery.bytes_truncated);
    }
    co_return result<void, std::string>{};
}

task<void> partition_manager::remove_partition(std::unique_ptr<local_partition> p,
                                               bool delete_files) {
    p->removing = true;
    // Wake its waiters: they re-read, find the partition gone and answer.
    for (const fetch_watch& w : p->watches) wake(w);
    p->watches.clear();
    while (p->users > 0) co_await p->idle.wait();
    if (p->log != nullptr) co_await p->log->close();
    const std::string directory = partition_directory(p->topic, p->partition);
    p.reset();
    if (delete_files) co_await delete_directory(directory);
}

task<void> partition_manager::delete_directory(std::string path) {
    auto names = _disk.list_directory(path);
    if (!names) co_return;
    for (const std::string& name : *names) {
        if (auto removed = co_await _disk.remove_file(path + "/" + name); !removed) {
            spdlog::warn("delete {}/{}: {}", path, name, removed.error().message());
        }
    }
    if (auto removed = co_await _disk.remove_directory(path); !removed) {
        spdlog::warn("delete {}: {}", path, removed.error().message());
        co_return;
    }
    (void)co_await _disk.sync_directory(_data_dir);
}

task<void> partition_manager::stop() {
    auto topics = std::move(_topics);
    _topics.clear();
    for (auto& [name, local] : topics) {
        for (auto& p : local.partitions) {
            if (p != nullptr) co_await remove_partition(std::move(p), false);
        }
    }
    co_await _background.wait();
    _image.reset();
}

task<partition_result<storage::append_result>> partition_manager::append(
    std::string_view topic, int32_t partition, std::span<const std::byte> batch,
    bool already_validated) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) co_return failure{unknown()};
    use busy(*p);
    auto appended = co_await p->log->append(batch, already_validated);
    if (!appended) co_return failure{from_storage(std::move(appended.error()))};
    if (p->probe != nullptr) {
        p->probe->produced(
            batch.size(), static_cast<uint64_t>(appended->last_offset - appended->base_offset + 1));
    }
    after_append(*p);
    co_return *appended;
}

void partition_manager::after_append(local_partition& p) {
    if (p.watches.empty()) return;
    // Every watch is for an offset at or past the high watermark when it was
    // placed: any growth of the high watermark satisfies it.
    const steady_time now = _executor.now();
    auto watches = std::move(p.watches);
    p.watches.clear();
    for (const fetch_watch& w : watches) {
        if (w.deadline > now) wake(w);
    }
}

void partition_manager::wake(const fetch_watch& w) {
    if (w.shard == _shard_id) {
        notify_waiter(w.waiter);
        return;
    }
    TL_ASSERT(w.shard < _peers.size());
    // Look the peer up on its own shard, when the call runs there: a shard
    // that has stopped meanwhile has cleared its entry (and has no waiters).
    const std::span<partition_manager* const> peers = _peers;
    const unsigned shard = w.shard;
    const uint64_t id = w.waiter;
    _background.spawn(reactor::submit_to(shard, [peers, shard, id] {
        if (partition_manager* peer = peers[shard]; peer != nullptr) peer->notify_waiter(id);
    }));
}

task<partition_result<partition_read>> partition_manager::read(std::string_view topic,
                                                               int32_t partition,
                                                               storage::read_request request,
                                                               std::optional<fetch_watch> watch) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) co_return failure{unknown()};
    use busy(*p);
    storage::partition_log& log = *p->log;
    partition_read out;
    if (request.start_offset >= log.high_watermark() &&
        request.start_offset <= log.log_end_offset() &&
        request.start_offset >= log.log_start_offset()) {
        // Caught up (the common long-poll case), or waiting for batches that
        // are appended but not yet durable: nothing to read yet.
        out.data = reactor::foreign_ptr(std::make_unique<storage::read_result>());
        out.data->high_watermark = log.high_watermark();
        out.data->log_start_offset = log.log_start_offset();
    } else {
        auto got = co_await log.read(request);
        if (!got) co_return failure{from_storage(std::move(got.error()))};
        out.data = reactor::foreign_ptr(std::make_unique<storage::read_result>(std::move(*got)));
    }
    out.high_watermark = log.high_watermark();
    out.log_start_offset = log.log_start_offset();
    if (p->probe != nullptr && !out.data->batches.empty()) {
        const batch_totals read = count_batches(out.data->batches);
        p->probe->fetched(read.bytes, read.records);
    }
    if (watch && out.data->batches.empty() && !p->removing) {
        const steady_time now = _executor.now();
        std::erase_if(p->watches, [now](const fetch_watch& w) { return w.deadline <= now; });
        if (log.high_watermark() > request.start_offset) {
            wake(*watch);  // grew while we read
        } else {
            p->watches.push_back(*watch);
        }
    }
    co_return out;
}

shard_storage_totals partition_manager::publish_metrics() noexcept {
    shard_storage_totals totals;
    totals.cache_bytes = _cache.used_bytes();
    for (const auto& [name, t] : _topics) {
        for (const auto& p : t.partitions) {
            if (p == nullptr || p->log == nullptr || p->removing) continue;
            totals.segments += p->log->segment_count();
            if (p->probe != nullptr) p->probe->publish(*p->log);
        }
    }
    return totals;
}

partition_result<partition_offsets> partition_manager::offsets(std::string_view topic,
                                                               int32_t partition) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) return failure{unknown()};
    return partition_offsets{p->log->log_start_offset(), p->log->high_watermark(),
                             p->log->log_end_offset()};
}

task<partition_result<std::optional<storage::timestamp_lookup>>>
partition_manager::offset_for_timestamp(std::string_view topic, int32_t partition,
                                        int64_t timestamp_ms) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) co_return failure{unknown()};
    use busy(*p);
    auto found = co_await p->log->offset_for_timestamp(timestamp_ms);
    if (!found) co_return failure{from_storage(std::move(found.error()))};
    co_return *found;
}

task<partition_result<std::optional<storage::timestamp_lookup>>> partition_manager::max_timestamp(
    std::string_view topic, int32_t partition) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) co_return failure{unknown()};
    use busy(*p);
    const int64_t largest = p->log->max_timestamp_ms();
    if (largest == storage::no_timestamp) co_return std::optional<storage::timestamp_lookup>{};
    auto found = co_await p->log->offset_for_timestamp(largest);
    if (!found) co_return failure{from_storage(std::move(found.error()))};
    co_return *found;
}

task<partition_result<int64_t>> partition_manager::delete_records(std::string_view topic,
                                                                  int32_t partition,
                                                                  int64_t before_offset) {
    local_partition* p = find(topic, partition);
    if (p == nullptr) co_return failure{unknown()};
    use busy(*p);
    auto moved = co_await p->log->truncate_prefix(before_offset);
    if (!moved) co_return failure{from_storage(std::move(moved.error()))};
    co_return *moved;
}

uint64_t partition_manager::add_waiter(reactor::condition& c) {
    const uint64_t id = _next_waiter++;
    _waiters.emplace(id, &c);
    return id;
}

void partition_manager::remove_waiter(uint64_t id) noexcept {
    _waiters.erase(id);
}

void partition_manager::notify_waiter(uint64_t id) noexcept {
    const auto it = _waiters.find(id);
    if (it != _waiters.end()) it->second->notify_all();
}

}  // namespace tl::cluster
