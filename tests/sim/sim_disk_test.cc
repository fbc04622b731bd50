// Proves the simulator's own fault model, since every crash test trusts it:
// synced data survives a crash; unsynced writes survive only as a prefix of
// their order, the last one possibly torn; stale handles fail after a crash;
// alignment is enforced for direct files; runs with one seed are identical.
#include <gtest/gtest.h>

#include <set>

#include "base/aligned_buffer.h"
#include "sim/sim_disk.h"

namespace tl::sim {
namespace {

using storage::direct_io;
using storage::io_errc;

template <typename T>
T run_task(sim_executor& executor, task<T> work) {
    return executor.run_task(std::move(work));
}

std::vector<std::byte> bytes_of(std::string_view text) {
    auto s = std::as_bytes(std::span(text.data(), text.size()));
    return {s.begin(), s.end()};
}

// Writes "aaaa" (synced) then "bbbb", "cccc" (unsynced), crashes, returns the image.
std::vector<std::byte> crash_after_writes(uint64_t seed) {
    sim_executor executor(seed);
    sim_disk disk(executor);
    run_task(executor, [](sim_disk& d) -> task<bool> {
        TL_ASSERT((co_await d.make_directory("data")).ok());
        auto f = std::move(*co_await d.open("data/f", uring::open_mode::create_read_write,
                                            direct_io::never));
        TL_ASSERT((co_await f->write_at(0, bytes_of("aaaa"))).ok());
        TL_ASSERT((co_await f->sync()).ok());
        TL_ASSERT((co_await f->write_at(4, bytes_of("bbbb"))).ok());
        TL_ASSERT((co_await f->write_at(8, bytes_of("cccc"))).ok());
        co_return true;
    }(disk));
    disk.crash();
    return *disk.contents("data/f");
}

TEST(sim_disk, crash_keeps_synced_data_and_a_torn_prefix_of_the_rest) {
    std::set<std::string> outcomes;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const auto image = crash_after_writes(seed);
        const std::string text(reinterpret_cast<const char*>(image.data()), image.size());
        ASSERT_TRUE(text.starts_with("aaaa")) << text;
        // Whatever survived is a prefix of "aaaabbbbcccc".
        ASSERT_EQ(std::string("aaaabbbbcccc").substr(0, text.size()), text);
        outcomes.insert(text);
    }
    // Over 200 seeds we see losses, tears and full survival.
    EXPECT_TRUE(outcomes.contains("aaaa"));
    EXPECT_TRUE(outcomes.contains("aaaabbbbcccc"));
    EXPECT_GT(outcomes.size(), 4u);
}

TEST(sim_disk, same_seed_same_outcome) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
        EXPECT_EQ(crash_after_writes(seed), crash_after_writes(seed));
    }
}

TEST(sim_disk, stale_handles_fail_and_direct_files_need_alignment) {
    sim_executor executor(7);
    sim_disk disk(executor);
    const auto codes = run_task(executor, [](sim_disk& d) -> task<std::vector<io_errc>> {
        std::vector<io_errc> out;
        TL_ASSERT((co_await d.make_directory("data")).ok());
        auto f = std::move(*co_await d.open("data/f", uring::open_mode::create_read_write,
                                            direct_io::preferred));
        auto misaligned = co_await f->write_at(3, bytes_of("x"));
        out.push_back(misaligned.ok() ? io_errc::other : misaligned.error().code);
        d.crash();
        aligned_buffer block(direct_io_alignment);
        auto stale = co_await f->write_at(0, block.span());
        out.push_back(stale.ok() ? io_errc::other : stale.error().code);
        d.set_full(true);
        auto g = std::move(*co_await d.open("data/f", uring::open_mode::read_write,
                                            direct_io::preferred));
        auto full = co_await g->write_at(0, block.span());
        out.push_back(full.ok() ? io_errc::other : full.error().code);
        co_return out;
    }(disk));
    EXPECT_EQ(codes, (std::vector<io_errc>{io_errc::invalid_argument, io_errc::bad_descriptor,
                                           io_errc::no_space}));
}

}  // namespace
}  // namespace tl::sim
