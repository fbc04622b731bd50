// Proves idempotent-producer ids (src/cluster/producer_ids.h and
// controller::allocate_producer_ids) on real shards and a real data
// directory: an allocator draws ids in order from its block and refills on
// exhaustion; concurrent callers share one refill and all see its failure;
// the controller persists each block before answering, so a controller
// restarted on the same directory (after a clean stop or with the process
// state simply dropped, as after a crash) starts after every id issued
// before, topic changes keep the counter, and it refuses to pass INT64_MAX;
// allocators on two shards fed by one controller never share an id.
//
// Allocator cases use a stand-in source that the test controls; controller
// cases use the production disk in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "cluster/controller.h"
#include "cluster/producer_ids.h"
#include "reactor/condition.h"
#include "reactor/smp.h"
#include "storage/disk.h"

namespace tl::cluster {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<reactor::smp> start_shards(unsigned count) {
    reactor::reactor_options options;
    options.shard_count = count;
    options.pinning = reactor::cpu_pinning::floating;
    auto started = reactor::smp::start(options);
    TL_ASSERT(started.ok(), "smp start");
    return std::move(*started);
}

// A source of consecutive blocks that can be held (callers pile up behind
// the refill) and made to fail.
struct stand_in {
    int64_t next_first = 0;
    int calls = 0;
    bool hold = false;
    bool fail = false;
    reactor::condition released;

    producer_id_source source() {
        return [this](int32_t count) { return issue(*this, count); };
    }
    static task<result<producer_id_block, controller_error>> issue(stand_in& self, int32_t count) {
        ++self.calls;
        while (self.hold) co_await self.released.wait();
        if (self.fail) {
            co_return failure{controller_error{controller_errc::storage_failure, "disk full"}};
        }
        const producer_id_block block{.first = self.next_first, .count = count};
        self.next_first += count;
        co_return block;
    }
};

TEST(ProducerIdAllocator, DrawsInOrderAndRefillsOnExhaustion) {
    auto shards = start_shards(1);
    const auto [ids, calls, refills] =
        shards->run_on(0, []() -> task<std::tuple<std::vector<int64_t>, int, uint64_t>> {
            stand_in blocks;
            producer_id_allocator allocator(blocks.source(), 3);
            std::vector<int64_t> out;
            for (int i = 0; i < 10; ++i) {
                auto id = co_await allocator.next();
                TL_ASSERT(id.ok());
                out.push_back(*id);
            }
            co_return std::tuple{out, blocks.calls, allocator.refills()};
        });
    std::vector<int64_t> expected(10);
    for (int i = 0; i < 10; ++i) expected[static_cast<size_t>(i)] = i;
    EXPECT_EQ(ids, expected);
    EXPECT_EQ(calls, 4) << "blocks of 3: 4 refills for 10 ids, none early";
    EXPECT_EQ(refills, 4u);
}

TEST(ProducerIdAllocator, ConcurrentCallersShareOneRefill) {
    auto shards = start_shards(1);
    const auto [ids, calls] = shards->run_on(0, []() -> task<std::pair<std::vector<int64_t>, int>> {
        stand_in blocks;
        blocks.hold = true;
        producer_id_allocator allocator(blocks.source(), 1000);
        std::vector<int64_t> out;
        reactor::gate callers;
        for (int i = 0; i < 8; ++i) {
            callers.spawn([](producer_id_allocator& a, std::vector<int64_t>& o) -> task<void> {
                auto id = co_await a.next();
                TL_ASSERT(id.ok());
                o.push_back(*id);
            }(allocator, out));
        }
        // Let every caller reach the allocator while the refill is held.
        for (int i = 0; i < 20; ++i) co_await reactor::yield{};
        TL_ASSERT(blocks.calls == 1, "one refill for every waiting caller");
        blocks.hold = false;
        blocks.released.notify_all();
        co_await callers.wait();
        co_return std::pair{out, blocks.calls};
    });
    EXPECT_EQ(calls, 1);
    ASSERT_EQ(ids.size(), 8u);
    EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 8u) << "no id twice";
    for (int64_t id : ids) EXPECT_LT(id, 8);
}

TEST(ProducerIdAllocator, AFailedRefillFailsEveryCallerThatWaited) {
    auto shards = start_shards(1);
    const auto [failed, messages, later, calls] =
        shards->run_on(0, []() -> task<std::tuple<int, std::vector<std::string>, int64_t, int>> {
            stand_in blocks;
            blocks.hold = true;
            blocks.fail = true;
            producer_id_allocator allocator(blocks.source(), 10);
            int failures = 0;
            std::vector<std::string> seen;
            reactor::gate callers;
            for (int i = 0; i < 5; ++i) {
                callers.spawn([](producer_id_allocator& a, int& f,
                                 std::vector<std::string>& s) -> task<void> {
                    auto id = co_await a.next();
                    if (!id) {
                        ++f;
                        s.push_back(id.error().message);
                        TL_ASSERT(id.error().code == controller_errc::storage_failure);
                    }
                }(allocator, failures, seen));
            }
            for (int i = 0; i < 20; ++i) co_await reactor::yield{};
            blocks.hold = false;
            blocks.released.notify_all();
            co_await callers.wait();
            // The next caller asks again, and this time gets a block.
            blocks.fail = false;
            auto id = co_await allocator.next();
            TL_ASSERT(id.ok());
            co_return std::tuple{failures, seen, *id, blocks.calls};
        });
    EXPECT_EQ(failed, 5) << "the caller that refilled and the four that waited";
    for (const auto& m : messages) EXPECT_EQ(m, "disk full");
    EXPECT_EQ(later, 0) << "a failed refill issues nothing";
    EXPECT_EQ(calls, 2);
}

// ---- the controller ----

struct data_directory {
    data_directory() {
        char pattern[] = "/var/tmp/tidelog-pids-XXXXXX";
        TL_ASSERT(::mkdtemp(pattern) != nullptr);
        path = pattern;
    }
    ~data_directory() { fs::remove_all(path); }
    std::string path;
};

controller_settings settings_for(const std::string& directory, unsigned shards = 1) {
    controller_settings settings;
    settings.data_dir = directory;
    settings.shard_count = shards;
    settings.offsets_topic_partitions = 2;
    settings.advertised_host = "127.0.0.1";  // what the broker registers
    settings.advertised_port = 9092;
    return settings;
}

// Starts a controller (a single-voter metadata log) on the data directory,
// runs `work` with it and stops it (every change is committed to the log,
// fdatasync'ed, when answered).
template <typename T>
T with_controller(reactor::smp& shards, const std::string& directory,
                  std::function<task<T>(controller&)> work) {
    return shards.run_on(0, [&]() -> task<T> {
        storage::uring_disk disk(reactor::shard::local().io(), nullptr);
        controller c(disk, settings_for(directory), {});
        auto started = co_await c.start();
        TL_ASSERT(started.ok(), "controller start");
        auto activated = co_await c.activate();
        TL_ASSERT(activated.ok(), "controller activate");
        T out = co_await work(c);
        co_await c.stop();
        co_return out;
    });
}

using block_result = result<producer_id_block, controller_error>;

TEST(ControllerProducerIds, BlocksAreDurableAndNeverReissued) {
    data_directory data;
    auto shards = start_shards(1);
    const auto first = with_controller<std::vector<block_result>>(
        *shards, data.path, [](controller& c) -> task<std::vector<block_result>> {
            std::vector<block_result> out;
            out.push_back(co_await c.allocate_producer_ids(1000));
            out.push_back(co_await c.allocate_producer_ids(1));
            out.push_back(co_await c.allocate_producer_ids(1000));
            co_return out;
        });
    ASSERT_TRUE(first[0].ok() && first[1].ok() && first[2].ok());
    EXPECT_EQ(first[0]->first, 0);
    EXPECT_EQ(first[0]->count, 1000);
    EXPECT_EQ(first[1]->first, 1000);
    EXPECT_EQ(first[2]->first, 1001);
    EXPECT_EQ(first[2]->end(), 2001);

    // Restarted on the same directory: after every id issued before. A
    // topic change in between must carry the counter, not reset it.
    const auto second = with_controller<std::vector<block_result>>(
        *shards, data.path, [](controller& c) -> task<std::vector<block_result>> {
            std::vector<block_result> out;
            out.push_back(co_await c.allocate_producer_ids(1000));
            auto created =
                co_await c.create_topics({new_topic{.name = "t", .partitions = 1}}, false);
            TL_ASSERT(created[0].error.code == controller_errc::none);
            co_return out;
        });
    ASSERT_TRUE(second[0].ok());
    EXPECT_EQ(second[0]->first, 2001);

    const auto third = with_controller<block_result>(
        *shards, data.path,
        [](controller& c) -> task<block_result> { co_return co_await c.allocate_producer_ids(5); });
    ASSERT_TRUE(third.ok());
    EXPECT_EQ(third->first, 3001) << "the topic change kept next_producer_id";
}

TEST(ControllerProducerIds, RefusesToPassInt64Max) {
    data_directory data;
    auto shards = start_shards(1);
    constexpr int64_t max = std::numeric_limits<int64_t>::max();
    // A directory whose counter is near the end (as if 2^63 ids were issued).
    shards->run_on(0, [&]() -> task<void> {
        storage::uring_disk disk(reactor::shard::local().io(), nullptr);
        std::mt19937_64 random(7);
        metadata_snapshot s{.version = 1, .cluster_id = make_cluster_id(random), .topics = {}};
        s.next_producer_id = max - 1500;
        auto saved = co_await save_metadata(disk, data.path, s);
        TL_ASSERT(saved.ok());
    });
    const auto blocks = with_controller<std::vector<block_result>>(
        *shards, data.path, [](controller& c) -> task<std::vector<block_result>> {
            std::vector<block_result> out;
            out.push_back(co_await c.allocate_producer_ids(1000));
            out.push_back(co_await c.allocate_producer_ids(1000));
            out.push_back(co_await c.allocate_producer_ids(500));
            out.push_back(co_await c.allocate_producer_ids(1));
            co_return out;
        });
    // The file seeded the metadata log, then was retired.
    EXPECT_FALSE(fs::exists(data.path + "/cluster/metadata"));
    EXPECT_TRUE(fs::exists(data.path + "/cluster/metadata.migrated"));
    EXPECT_TRUE(fs::exists(data.path + "/controller/snapshot"));
    ASSERT_TRUE(blocks[0].ok());
    EXPECT_EQ(blocks[0]->first, max - 1500);
    ASSERT_FALSE(blocks[1].ok()) << "would pass INT64_MAX";
    EXPECT_EQ(blocks[1].error().code, controller_errc::producer_ids_exhausted);
    ASSERT_TRUE(blocks[2].ok()) << "a smaller block still fits";
    EXPECT_EQ(blocks[2]->end(), max);
    ASSERT_FALSE(blocks[3].ok());
    EXPECT_EQ(blocks[3].error().code, controller_errc::producer_ids_exhausted);
}

// One allocator per shard over one controller on shard 0, as the broker
// wires them: ids differ across shards and across a restart.
TEST(ControllerProducerIds, AllocatorsOnEveryShardNeverShareAnId) {
    data_directory data;
    auto shards = start_shards(2);
    std::set<int64_t> seen;
    int64_t largest_before_restart = -1;
    for (int run = 0; run < 2; ++run) {
        controller* instance = nullptr;
        std::unique_ptr<storage::uring_disk> disk;
        std::unique_ptr<controller> owned;
        shards->run_on(0, [&]() -> task<void> {
            disk = std::make_unique<storage::uring_disk>(reactor::shard::local().io(), nullptr);
            owned = std::make_unique<controller>(*disk, settings_for(data.path, 2),
                                                 std::span<partition_manager* const>{});
            auto started = co_await owned->start();
            TL_ASSERT(started.ok());
            auto activated = co_await owned->activate();
            TL_ASSERT(activated.ok());
            instance = owned.get();
        });
        std::vector<std::vector<int64_t>> drawn(2);
        for (unsigned s = 0; s < 2; ++s) {
            drawn[s] = shards->run_on(s, [&]() -> task<std::vector<int64_t>> {
                producer_id_allocator allocator(producer_id_allocator::from_controller(&instance));
                std::vector<int64_t> out;
                for (int i = 0; i < 1500; ++i) {  // two blocks of 1000
                    auto id = co_await allocator.next();
                    TL_ASSERT(id.ok());
                    out.push_back(*id);
                }
                co_return out;
            });
        }
        for (const auto& ids : drawn) {
            for (int64_t id : ids) {
                EXPECT_TRUE(seen.insert(id).second) << "id " << id << " issued twice";
                if (run == 1) EXPECT_GT(id, largest_before_restart);
            }
        }
        if (run == 0) largest_before_restart = *seen.rbegin();
        shards->run_on(0, [&]() -> task<void> {
            co_await owned->stop();
            owned.reset();
            disk.reset();
        });
    }
    EXPECT_EQ(seen.size(), 6000u);
}

}  // namespace
}  // namespace tl::cluster
