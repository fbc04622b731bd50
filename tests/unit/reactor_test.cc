// Smoke test placeholder replaced below.
#include <gtest/gtest.h>
#include "reactor/smp.h"
namespace tl::reactor { namespace {
TEST(reactor, runs_on_shard) {
    reactor_options options; options.shard_count = 2; options.pinning = cpu_pinning::floating;
    auto s = smp::start(options);
    ASSERT_TRUE(s.ok()) << s.error();
    int v = (*s)->run_on(1, [] { return static_cast<int>(shard::local().id()); });
    EXPECT_EQ(v, 1);
    int w = (*s)->run_on(0, []() -> task<int> { co_return co_await submit_to(1, [] { return 41 + shard::local().id() - 1 + 1; }); });
    EXPECT_EQ(w, 42);
}
}}
