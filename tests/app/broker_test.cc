// Proves the daemon's lifecycle pieces in-process: the data directory is
// created, refused when it cannot be used (a file in the way, a path below a
// file, no write permission, probed as uid 65534 when the test runs as root)
// and locked against a second owner until released;
// the broker starts one instance of each service on every shard, on that shard,
// stops them in reverse order on the same shard, rolls back a failed start,
// and reports a stop that exceeds shutdown_timeout_ms instead of hanging.
// How: real directories under a unique temp dir, real shards (smp::start),
// services that record which shard ran each step; the hung stop runs in a
// death test, since after it the process must _exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "app/broker.h"
#include "app/data_directory.h"
#include "reactor/shard.h"

namespace tl::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class temp_dir {
public:
    temp_dir() {
        std::string pattern = ::testing::TempDir() + "tidelog_app_XXXXXX";
        TL_ASSERT(::mkdtemp(pattern.data()) != nullptr);
        _path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::permissions(_path, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ignored);
        std::filesystem::remove_all(_path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return _path; }

private:
    std::string _path;
};

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

TEST(data_directory, creates_missing_parents_and_writes_the_lock) {
    temp_dir root;
    const std::string path = root.path() + "/a/b/data";
    auto opened = data_directory::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(opened->path(), path);
    EXPECT_TRUE(std::filesystem::is_directory(path));
    std::ifstream lock(path + "/.lock");
    int pid = 0;
    lock >> pid;
    EXPECT_EQ(pid, ::getpid());
    // Only the lock remains: the probe file was removed.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path),
                            std::filesystem::directory_iterator()),
              1);
}

TEST(data_directory, a_file_in_the_way_is_unusable) {
    temp_dir root;
    const std::string file = root.path() + "/file";
    write_file(file, "x");
    auto opened = data_directory::open(file);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, data_directory_errc::unusable);
    EXPECT_THAT(opened.error().message, HasSubstr(file));
    EXPECT_THAT(opened.error().message, HasSubstr("not a directory"));

    // Fails for root too: nothing can be created below a regular file.
    auto below = data_directory::open(file + "/data");
    ASSERT_FALSE(below.ok());
    EXPECT_EQ(below.error().code, data_directory_errc::unusable);
    EXPECT_THAT(below.error().message, HasSubstr("cannot create '" + file + "/data'"));
}

// Exit code of a child that found `path` refused as not writable.
constexpr int refused_as_not_writable = 0;

int open_as_unprivileged(const std::string& path) {
    auto opened = data_directory::open(path);
    const bool refused = !opened.ok() && opened.error().code == data_directory_errc::unusable &&
                         opened.error().message.find("is not writable") != std::string::npos;
    return refused ? refused_as_not_writable : 1;
}

bool can_drop_to(uid_t user) {
    const pid_t child = ::fork();
    if (child == 0) _exit(::setgid(user) == 0 && ::setuid(user) == 0 ? 0 : 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(data_directory, a_directory_without_write_permission_is_unusable) {
    temp_dir root;
    ASSERT_EQ(::chmod(root.path().c_str(), 0755), 0);
    const std::string path = root.path() + "/read_only";
    ASSERT_EQ(::mkdir(path.c_str(), 0555), 0);
    if (::geteuid() != 0) {
        EXPECT_EQ(open_as_unprivileged(path), refused_as_not_writable);
        return;
    }
    // Root writes through permission bits, so the probe runs as `nobody`
    // in a child (which then must not return into the test).
    constexpr uid_t nobody = 65534;
    if (!can_drop_to(nobody)) GTEST_SKIP() << "cannot switch to uid 65534 here";
    EXPECT_EXIT(
        {
            if (::setgid(nobody) != 0 || ::setuid(nobody) != 0) _exit(2);
            _exit(open_as_unprivileged(path));
        },
        ::testing::ExitedWithCode(refused_as_not_writable), "");
}

TEST(data_directory, the_lock_excludes_a_second_owner_until_released) {
    temp_dir root;
    {
        auto first = data_directory::open(root.path());
        ASSERT_TRUE(first.ok()) << first.error().message;
        // flock() locks belong to the open file description: a second open in
        // the same process conflicts just as another process would.
        auto second = data_directory::open(root.path());
        ASSERT_FALSE(second.ok());
        EXPECT_EQ(second.error().code, data_directory_errc::in_use);
        EXPECT_THAT(second.error().message, HasSubstr(root.path() + "/.lock"));
        EXPECT_THAT(second.error().message, HasSubstr("(pid " + std::to_string(::getpid()) + ")"));
    }
    auto again = data_directory::open(root.path());
    EXPECT_TRUE(again.ok()) << again.error().message;
}

// Records what happened where; service steps run on shard threads.
class journal {
public:
    void record(std::string event) {
        std::lock_guard lock(_mutex);
        _events.push_back(std::move(event));
    }
    std::vector<std::string> events() {
        std::lock_guard lock(_mutex);
        return _events;
    }

private:
    std::mutex _mutex;
    std::vector<std::string> _events;
};

enum class start_behaviour : uint8_t { succeed, fail };
enum class stop_behaviour : uint8_t { finish, hang };

class recording_service final : public service {
public:
    recording_service(journal& log, std::string name, unsigned shard_id, start_behaviour start,
                      stop_behaviour stop)
        : _log(log), _name(std::move(name)), _shard_id(shard_id), _start(start), _stop(stop) {
        _log.record(step("create"));
    }
    ~recording_service() override { _log.record(step("destroy")); }

    std::string_view name() const noexcept override { return _name; }

    task<result<void, std::string>> start() override {
        co_await reactor::yield{};
        _log.record(step("start"));
        if (_start == start_behaviour::fail) co_return failure{std::string("refused on purpose")};
        co_return result<void, std::string>{};
    }

    task<void> stop() override {
        if (_stop == stop_behaviour::hang) co_await reactor::sleep_for(std::chrono::hours(1));
        _log.record(step("stop"));
    }

private:
    // "start a 1" when run on shard 1, "start a 1 (on shard 0!)" otherwise.
    std::string step(std::string_view what) const {
        std::string text = std::string(what) + " " + _name + " " + std::to_string(_shard_id);
        const unsigned here = reactor::shard::local().id();
        if (here != _shard_id) text += " (on shard " + std::to_string(here) + "!)";
        return text;
    }

    journal& _log;
    std::string _name;
    unsigned _shard_id;
    start_behaviour _start;
    stop_behaviour _stop;
};

service_factory make_service(journal& log, std::string name,
                             start_behaviour start = start_behaviour::succeed,
                             stop_behaviour stop = stop_behaviour::finish,
                             unsigned only_on_shard = ~0u) {
    return [&log, name, start, stop, only_on_shard](unsigned shard_id) {
        const bool special = only_on_shard == ~0u || only_on_shard == shard_id;
        return std::make_unique<recording_service>(log, name, shard_id,
                                                   special ? start : start_behaviour::succeed,
                                                   special ? stop : stop_behaviour::finish);
    };
}

broker_config two_shards() {
    broker_config config = default_config();
    config.smp = 2;
    config.cpu_pinning = reactor::cpu_pinning::floating;
    return config;
}

TEST(broker, services_start_and_stop_on_their_own_shard_in_order) {
    journal log;
    broker daemon(two_shards());
    daemon.add_service(make_service(log, "a"));
    daemon.add_service(make_service(log, "b"));
    auto started = daemon.start();
    ASSERT_TRUE(started.ok()) << started.error();
    EXPECT_TRUE(daemon.is_running());
    EXPECT_EQ(daemon.shard_count(), 2u);
    EXPECT_EQ(daemon.stop(), stop_outcome::stopped);
    EXPECT_FALSE(daemon.is_running());
    EXPECT_THAT(log.events(), ElementsAre("create a 0", "start a 0", "create a 1", "start a 1",  //
                                          "create b 0", "start b 0", "create b 1", "start b 1",  //
                                          "stop b 1", "destroy b 1", "stop b 0", "destroy b 0",  //
                                          "stop a 1", "destroy a 1", "stop a 0", "destroy a 0"));
}

TEST(broker, a_failed_start_stops_what_had_started) {
    journal log;
    broker daemon(two_shards());
    daemon.add_service(make_service(log, "a"));
    daemon.add_service(make_service(log, "b", start_behaviour::fail, stop_behaviour::finish, 1));
    auto started = daemon.start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.error(), "service b on shard 1: refused on purpose");
    EXPECT_FALSE(daemon.is_running());
    EXPECT_FALSE(daemon.is_abandoned());
    EXPECT_THAT(log.events(), ElementsAre("create a 0", "start a 0", "create a 1", "start a 1",  //
                                          "create b 0", "start b 0", "create b 1", "start b 1",  //
                                          "destroy b 1", "stop b 0", "destroy b 0",              //
                                          "stop a 1", "destroy a 1", "stop a 0", "destroy a 0"));
}

TEST(broker, destroying_a_running_broker_stops_it) {
    journal log;
    {
        broker daemon(two_shards());
        daemon.add_service(make_service(log, "a"));
        ASSERT_TRUE(daemon.start().ok());
    }
    const auto events = log.events();
    EXPECT_EQ(events.back(), "destroy a 0");
    EXPECT_EQ(std::count_if(events.begin(), events.end(),
                            [](const std::string& e) { return e.starts_with("stop"); }),
              2);
}

TEST(broker, no_services_is_a_valid_broker) {
    broker daemon(two_shards());
    ASSERT_TRUE(daemon.start().ok());
    EXPECT_EQ(daemon.stop(), stop_outcome::stopped);
    EXPECT_EQ(daemon.stop(), stop_outcome::stopped);  // idempotent
}

TEST(broker_death, a_hung_stop_times_out_instead_of_waiting_forever) {
    // The child exits with 3 when stop() reports the timeout, as tidelogd
    // does with _exit(1); a hang would fail the test by its meson timeout.
    EXPECT_EXIT(
        {
            journal log;
            broker_config config = two_shards();
            config.shutdown_timeout_ms = 50;
            auto* daemon = new broker(config);
            daemon->add_service(
                make_service(log, "a", start_behaviour::succeed, stop_behaviour::hang, 1));
            if (!daemon->start().ok()) _exit(4);
            const stop_outcome outcome = daemon->stop();
            _exit(outcome == stop_outcome::timed_out && daemon->is_abandoned() ? 3 : 5);
        },
        ::testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace tl::app
