// Proves drivers/uring on real files and sockets, driven by a real shard:
// - O_DIRECT files: aligned writes/reads with plain and registered buffers,
//   preallocation, size, truncate, fdatasync, a short read at end of file;
//   a misaligned O_DIRECT request is refused with invalid_argument;
// - the buffered fallback on a file system that refuses O_DIRECT (ramfs);
// - error paths become typed io_errors (missing file, existing file,
//   read-only descriptor, address in use, connection refused, peer closed,
//   cancelled accept);
// - TCP: SO_REUSEPORT listeners, and a 4 MiB echo whose sends and receives
//   are split by the kernel into short transfers.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "reactor/smp.h"
#include "uring/buffer_pool.h"
#include "uring/file.h"
#include "uring/socket.h"

namespace tl::uring {
namespace {

namespace fs = std::filesystem;
using reactor::shard;

class uring_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        reactor::reactor_options options;
        options.shard_count = 1;
        options.pinning = reactor::cpu_pinning::floating;
        auto started = reactor::smp::start(options);
        ASSERT_TRUE(started.ok()) << started.error();
        group = std::move(*started).release();
    }
    static void TearDownTestSuite() {
        delete group;
        group = nullptr;
    }
    void SetUp() override {
        // /var/tmp is on the root file system (ext4 here), which does O_DIRECT.
        char pattern[] = "/var/tmp/tidelog-uring-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        directory = pattern;
    }
    void TearDown() override { fs::remove_all(directory); }

    template <typename F>
    auto on_shard(F fn) {
        return group->run_on(0, std::move(fn));
    }

    static inline reactor::smp* group = nullptr;
    std::string directory;
};

std::vector<std::byte> pattern_bytes(size_t size, unsigned seed) {
    std::vector<std::byte> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
    return bytes;
}

TEST_F(uring_test, direct_write_read_round_trip_with_registered_buffers) {
    const std::string path = directory + "/segment.log";
    const bool ok = on_shard([&]() -> task<bool> {
        ring& r = shard::local().io();
        auto opened = co_await file::open(r, path, {.mode = open_mode::create_read_write});
        TL_ASSERT(opened.ok());
        file f = std::move(*opened);
        TL_ASSERT(f.direct(), "ext4 should accept O_DIRECT");
        TL_ASSERT((co_await f.allocate(0, 1 << 20)).ok());
        auto size = co_await f.size();
        TL_ASSERT(size.ok() && *size == (1u << 20));

        auto pool = registered_buffer_pool::create(r, 64 * 1024, 4);
        TL_ASSERT(pool.ok());
        auto out = (*pool)->try_acquire();
        auto in = (*pool)->try_acquire();
        TL_ASSERT(out && in && (*pool)->available() == 2);
        const auto expected = pattern_bytes(64 * 1024, 7);
        std::copy(expected.begin(), expected.end(), out->bytes.begin());
        TL_ASSERT((co_await f.write_at(128 * 1024, *out)).ok());
        TL_ASSERT((co_await f.sync()).ok());
        auto read = co_await f.read_at(128 * 1024, *in);
        TL_ASSERT(read.ok() && *read == 64 * 1024);
        const bool same = std::equal(expected.begin(), expected.end(), in->bytes.begin());

        // The same bytes through plain (unregistered) aligned buffers.
        aligned_buffer plain(64 * 1024);
        auto plain_read = co_await f.read_at(128 * 1024, plain.span());
        const bool plain_same = plain_read.ok() && *plain_read == plain.size() &&
                                std::equal(expected.begin(), expected.end(), plain.data());
        (*pool)->release(*out);
        (*pool)->release(*in);
        TL_ASSERT((co_await f.close()).ok());
        co_return same && plain_same;
    });
    EXPECT_TRUE(ok);
}

TEST_F(uring_test, short_read_at_end_of_file_and_truncate) {
    const std::string path = directory + "/tail.log";
    const auto [first, second, size_after] = on_shard([&]() -> task<std::tuple<size_t, size_t, uint64_t>> {
        ring& r = shard::local().io();
        auto f = std::move(*co_await file::open(r, path, {.mode = open_mode::create_read_write}));
        aligned_buffer block(3 * direct_io_alignment);
        std::fill(block.data(), block.data() + block.size(), std::byte{0x5a});
        TL_ASSERT((co_await f.write_at(0, block.span())).ok());
        // File holds 3 blocks; ask for 4 -> 3 blocks come back.
        aligned_buffer bigger(4 * direct_io_alignment);
        auto got = co_await f.read_at(0, bigger.span());
        TL_ASSERT(got.ok());
        TL_ASSERT((co_await f.truncate(direct_io_alignment)).ok());
        auto got_after = co_await f.read_at(0, bigger.span());
        TL_ASSERT(got_after.ok());
        auto size = co_await f.size();
        co_return std::tuple{*got, *got_after, *size};
    });
    EXPECT_EQ(first, 3 * direct_io_alignment);
    EXPECT_EQ(second, direct_io_alignment);
    EXPECT_EQ(size_after, direct_io_alignment);
}

TEST_F(uring_test, misaligned_direct_write_is_invalid_argument) {
    const std::string path = directory + "/misaligned.log";
    const io_errc code = on_shard([&]() -> task<io_errc> {
        ring& r = shard::local().io();
        auto f = std::move(*co_await file::open(r, path, {.mode = open_mode::create_read_write}));
        aligned_buffer block(direct_io_alignment);
        auto written = co_await f.write_at(100, block.span());  // unaligned offset
        TL_ASSERT(!written.ok());
        co_return written.error().code;
    });
    EXPECT_EQ(code, io_errc::invalid_argument);
}

// ramfs refuses O_DIRECT at open (EINVAL); tmpfs accepts it on kernels >= 6.6.
TEST_F(uring_test, buffered_fallback_where_o_direct_is_refused) {
    const std::string mount_point = directory + "/ramfs";
    fs::create_directory(mount_point);
    if (::mount("tidelog-test", mount_point.c_str(), "ramfs", 0, nullptr) != 0) {
        GTEST_SKIP() << "cannot mount ramfs (needs root): " << std::strerror(errno);
    }
    const std::string path = mount_point + "/buffered.log";
    const auto [direct, read_back] = on_shard([&]() -> task<std::pair<bool, std::string>> {
        ring& r = shard::local().io();
        auto f = std::move(*co_await file::open(r, path, {.mode = open_mode::create_read_write}));
        const std::string text = "not aligned at all";
        TL_ASSERT((co_await f.write_at(3, std::as_bytes(std::span(text)))).ok());
        std::string back(text.size(), '\0');
        auto got = co_await f.read_at(3, std::as_writable_bytes(std::span(back)));
        TL_ASSERT(got.ok() && *got == text.size());
        TL_ASSERT((co_await f.sync()).ok());
        TL_ASSERT((co_await f.close()).ok());
        co_return std::pair{f.direct(), back};
    });
    ::umount2(mount_point.c_str(), MNT_DETACH);
    EXPECT_FALSE(direct);
    EXPECT_EQ(read_back, "not aligned at all");
}

TEST_F(uring_test, file_errors_are_typed) {
    const std::string missing = directory + "/missing.log";
    const std::string existing = directory + "/existing.log";
    const auto codes = on_shard([&]() -> task<std::vector<io_errc>> {
        ring& r = shard::local().io();
        std::vector<io_errc> out;
        auto a = co_await file::open(r, missing, {.mode = open_mode::read_only});
        out.push_back(a.ok() ? io_errc::other : a.error().code);
        auto created = co_await file::open(r, existing, {.mode = open_mode::create_exclusive});
        TL_ASSERT(created.ok());
        auto again = co_await file::open(r, existing, {.mode = open_mode::create_exclusive});
        out.push_back(again.ok() ? io_errc::other : again.error().code);
        auto read_only = std::move(*co_await file::open(r, existing, {.mode = open_mode::read_only}));
        aligned_buffer block(direct_io_alignment);
        auto write = co_await read_only.write_at(0, block.span());
        out.push_back(write.ok() ? io_errc::other : write.error().code);
        auto made = co_await make_directory(r, directory);
        out.push_back(made.ok() ? io_errc::other : made.error().code);
        auto removed = co_await remove_file(r, missing);
        out.push_back(removed.ok() ? io_errc::other : removed.error().code);
        const std::string renamed = existing + ".renamed";
        TL_ASSERT((co_await rename_file(r, existing, renamed)).ok());
        TL_ASSERT((co_await sync_directory(r, directory)).ok());
        TL_ASSERT((co_await remove_file(r, renamed)).ok());
        co_return out;
    });
    EXPECT_EQ(codes, (std::vector<io_errc>{io_errc::not_found, io_errc::already_exists,
                                           io_errc::bad_descriptor, io_errc::already_exists,
                                           io_errc::not_found}));
}

TEST(io_error, classifies_errno_and_says_what_is_retryable) {
    EXPECT_EQ(error_from_errno(ENOSPC).code, io_errc::no_space);
    EXPECT_TRUE(error_from_errno(ENOSPC).retryable());
    EXPECT_FALSE(error_from_errno(EBADF).retryable());
    EXPECT_NE(error_from_errno(ENOENT).message().find("No such file"), std::string::npos);
    EXPECT_EQ(error_from_errno(12345).code, io_errc::other);
}

TEST(socket_address, parses_and_rejects) {
    auto v4 = socket_address::parse("127.0.0.1:9092");
    ASSERT_TRUE(v4.ok()) << v4.error();
    EXPECT_EQ(v4->port(), 9092);
    EXPECT_EQ(v4->to_string(), "127.0.0.1:9092");
    auto v6 = socket_address::parse("[::1]:19092");
    ASSERT_TRUE(v6.ok()) << v6.error();
    EXPECT_EQ(v6->to_string(), "[::1]:19092");
    EXPECT_TRUE(socket_address::parse("localhost:0").ok());
    EXPECT_FALSE(socket_address::parse("127.0.0.1").ok());
    EXPECT_FALSE(socket_address::parse("127.0.0.1:70000").ok());
    EXPECT_FALSE(socket_address::parse("127.0.0.1:9x").ok());
    EXPECT_FALSE(socket_address::parse(":9092").ok());
    EXPECT_FALSE(socket_address::parse("[::1:9092").ok());
}

TEST_F(uring_test, tcp_echo_with_short_transfers) {
    constexpr size_t total = 4 << 20;
    const bool same = on_shard([&]() -> task<bool> {
        ring& r = shard::local().io();
        auto any = *socket_address::parse("127.0.0.1:0");
        auto bound = listener::bind(r, any);
        TL_ASSERT(bound.ok());
        listener server = std::move(*bound);
        const socket_address where = server.local_address();

        // Server: echo everything back until the client closes.
        bool server_done = false;
        std::coroutine_handle<> waiter;
        shard::local().spawn([](listener& l, bool& done, std::coroutine_handle<>& w) -> task<void> {
            auto accepted = co_await l.accept();
            TL_ASSERT(accepted.ok());
            socket peer = std::move(*accepted);
            std::vector<std::byte> buffer(100 * 1024);
            for (;;) {
                auto got = co_await peer.receive_some(buffer);
                if (!got) {
                    TL_ASSERT(got.error().code == io_errc::end_of_file);
                    break;
                }
                TL_ASSERT((co_await peer.send_all(std::span(buffer).first(*got))).ok());
            }
            TL_ASSERT((co_await peer.close()).ok());
            done = true;
            if (w) shard::local().schedule(w);
        }(server, server_done, waiter));

        auto connected = co_await connect(r, where);
        TL_ASSERT(connected.ok());
        socket client = std::move(*connected);
        const auto sent = pattern_bytes(total, 3);
        std::vector<std::byte> received(total);
        // Send and receive concurrently: the echo would deadlock otherwise.
        bool sender_done = false;
        std::coroutine_handle<> sender_waiter;
        shard::local().spawn([](socket& s, const std::vector<std::byte>& data, bool& done,
                                std::coroutine_handle<>& w) -> task<void> {
            TL_ASSERT((co_await s.send_all(data)).ok());
            done = true;
            if (w) shard::local().schedule(w);
        }(client, sent, sender_done, sender_waiter));
        TL_ASSERT((co_await client.receive_exactly(received)).ok());
        struct park {
            bool& done;
            std::coroutine_handle<>& slot;
            bool await_ready() const noexcept { return done; }
            void await_suspend(std::coroutine_handle<> h) noexcept { slot = h; }
            void await_resume() const noexcept {}
        };
        co_await park{sender_done, sender_waiter};
        TL_ASSERT((co_await client.close()).ok());
        co_await park{server_done, waiter};
        TL_ASSERT((co_await server.close()).ok());
        co_return sent == received;
    });
    EXPECT_TRUE(same);
}

TEST_F(uring_test, socket_errors_are_typed) {
    const auto codes = on_shard([&]() -> task<std::vector<io_errc>> {
        ring& r = shard::local().io();
        std::vector<io_errc> out;
        auto any = *socket_address::parse("127.0.0.1:0");
        // Two reuse_port listeners share a port; an exclusive one cannot.
        auto first = listener::bind(r, any);
        TL_ASSERT(first.ok());
        const socket_address taken = first->local_address();
        auto second = listener::bind(r, taken);
        out.push_back(second.ok() ? io_errc::other : second.error().code);
        auto exclusive = listener::bind(
            r, taken, {.sharing = listen_options::port_sharing::exclusive});
        out.push_back(exclusive.ok() ? io_errc::other : exclusive.error().code);

        // Nobody listens on a port whose listener has closed.
        auto closing = listener::bind(r, any);
        const socket_address gone = closing->local_address();
        TL_ASSERT((co_await closing->close()).ok());
        auto refused = co_await connect(r, gone);
        out.push_back(refused.ok() ? io_errc::other : refused.error().code);

        // A blocked accept wakes with canceled when cancelled.
        bool accept_done = false;
        io_errc accept_code = io_errc::other;
        std::coroutine_handle<> waiter;
        shard::local().spawn([](listener& l, bool& done, io_errc& code,
                                std::coroutine_handle<>& w) -> task<void> {
            auto accepted = co_await l.accept();
            code = accepted.ok() ? io_errc::other : accepted.error().code;
            done = true;
            if (w) shard::local().schedule(w);
        }(*first, accept_done, accept_code, waiter));
        co_await reactor::yield{};
        first->cancel();
        struct park {
            bool& done;
            std::coroutine_handle<>& slot;
            bool await_ready() const noexcept { return done; }
            void await_suspend(std::coroutine_handle<> h) noexcept { slot = h; }
            void await_resume() const noexcept {}
        };
        co_await park{accept_done, waiter};
        out.push_back(accept_code);
        TL_ASSERT((co_await first->close()).ok());
        TL_ASSERT((co_await second->close()).ok());
        co_return out;
    });
    EXPECT_EQ(codes, (std::vector<io_errc>{io_errc::other, io_errc::address_in_use,
                                           io_errc::connection_refused, io_errc::canceled}));
}

}  // namespace
}  // namespace tl::uring
