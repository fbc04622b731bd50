// Proves the partition log on the production disk: real files, io_uring,
// O_DIRECT and registered write buffers (a pool smaller than some flushes, so
// both the registered and the allocated path write), then a clean reopen and
// a reopen after the active segment's index files were deleted.
#include <gtest/gtest.h>

#include <filesystem>

#include "reactor/shard_executor.h"
#include "reactor/smp.h"
#include "storage/partition_log.h"

namespace tl::storage {
namespace {

namespace fs = std::filesystem;

TEST(storage_on_uring, appends_with_registered_buffers_survive_reopen) {
    reactor::reactor_options options;
    options.pinning = reactor::cpu_pinning::floating;
    auto group = std::move(*reactor::smp::start(options));
    char pattern[] = "/var/tmp/tidelog-storage-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const std::string directory = std::string(pattern) + "/t-0";

    const auto [end_offset, reopened_end, reread] = group->run_on(0, [&]() -> task<std::tuple<int64_t, int64_t, bool>> {
        reactor::shard_executor executor;
        auto& ring = reactor::shard::local().io();
        auto pool = std::move(*uring::registered_buffer_pool::create(ring, 64 * 1024, 2));
        uring_disk disk(ring, pool.get());
        log_config config;
        config.segment_bytes = 1 << 20;
        config.min_free_bytes = 0;
        int64_t end = 0;
        {
            auto log = std::move(*co_await partition_log::open(disk, executor, directory, config));
            for (int i = 0; i < 300; ++i) {
                record_batch_builder builder;
                // Mixed sizes: some flushes fit a 64 KiB registered chunk, some do not.
                builder.add_record(1000 + i, "k", std::string(i % 3 == 0 ? 100000 : 500, 'x'));
                auto appended = co_await log->append(builder.build());
                TL_ASSERT(appended.ok());
            }
            end = log->log_end_offset();
            co_await log->close();
        }
        TL_ASSERT(pool->available() == pool->capacity(), "every registered buffer returned");
        int64_t reopened_end = 0;
        {
            auto log = std::move(*co_await partition_log::open(disk, executor, directory, config));
            reopened_end = log->log_end_offset();
            co_await log->close();
        }
        // Lose the index files: reads rebuild them.
        for (const auto& entry : fs::directory_iterator(directory)) {
            if (entry.path().extension() != ".log") fs::remove(entry.path());
        }
        auto log = std::move(*co_await partition_log::open(disk, executor, directory, config));
        auto read = co_await log->read({.start_offset = 0, .max_bytes = 1});
        const bool ok = read.ok() && !read->batches.empty() &&
                        read_batch_header(read->batches)->base_offset == 0;
        co_await log->close();
        co_return std::tuple{end, reopened_end, ok};
    });
    EXPECT_EQ(end_offset, 300);
    EXPECT_EQ(reopened_end, 300);
    EXPECT_TRUE(reread);
    fs::remove_all(pattern);
}

}  // namespace
}  // namespace tl::storage
