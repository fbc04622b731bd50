// Proves how the real tidelogd and tidectl executables behave for an operator:
// a bad config (unknown key or flag, bad value, unreadable file) or an unusable
// data directory ends start-up with exit 2 and one stderr line naming the key
// or path; config/tidelog.yaml is accepted; SIGTERM or SIGINT after the ready
// line stops the daemon with exit 0; a second daemon on a locked data directory
// exits 1; tidectl checks files with the same words and exit status.
// How: spawn the binaries meson names in TIDELOGD and TIDECTL with captured
// output, wait for lines or exits by polling with a deadline (never sleeping),
// and use a fresh temp directory per test. No timing is asserted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/child_process.h"

namespace tl::app::testing {
namespace {

using testing_support::child_process;
using testing_support::exit_info;
using testing_support::run;
using testing_support::run_result;

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Guards against hangs, generous for a loaded machine; not a timing claim.
constexpr std::chrono::seconds wait_limit{60};

std::string from_environment(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

size_t line_count(const std::string& text) {
    return std::count(text.begin(), text.end(), '\n');
}

class process_test : public ::testing::Test {
protected:
    void SetUp() override {
        _tidelogd = from_environment("TIDELOGD");
        _tidectl = from_environment("TIDECTL");
        _shipped_config = from_environment("TIDELOG_CONFIG_YAML");
        ASSERT_FALSE(_tidelogd.empty() || _tidectl.empty() || _shipped_config.empty())
            << "TIDELOGD, TIDECTL and TIDELOG_CONFIG_YAML must be set (meson test sets them)";
        std::string pattern = ::testing::TempDir() + "tidelog_process_XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        _root = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        if (!_root.empty()) std::filesystem::remove_all(_root, ignored);
    }

    std::string write_config(const std::string& name, const std::string& text) const {
        const std::string path = _root + "/" + name;
        std::ofstream out(path);
        out << text;
        return path;
    }
    std::string data_dir() const { return _root + "/data"; }

    // Flags every daemon in these tests gets: few shards, no pinning, its own
    // directory, and any free ports, so that tests may run in parallel once
    // the listeners bind.
    std::vector<std::string> daemon_flags(std::vector<std::string> extra = {}) const {
        std::vector<std::string> flags = {
            "--smp=2",
            "--cpu-pinning=floating",
            "--data-dir=" + data_dir(),
            "--kafka-addr=127.0.0.1:0",
            "--advertised-kafka-addr=127.0.0.1:9092",
            "--admin-addr=127.0.0.1:0",
        };
        flags.insert(flags.end(), extra.begin(), extra.end());
        return flags;
    }

    // A config error: status 2 and exactly one line, which contains `words`.
    static void expect_config_error(const run_result& result, const std::string& words) {
        ASSERT_TRUE(result.status.has_value()) << "did not exit before the deadline";
        EXPECT_TRUE(result.status->exited);
        EXPECT_EQ(result.status->code, 2) << result.stderr_text;
        EXPECT_THAT(result.stderr_text, StartsWith("tidelogd: config error: "));
        EXPECT_THAT(result.stderr_text, HasSubstr(words));
        EXPECT_EQ(line_count(result.stderr_text), 1u) << result.stderr_text;
    }

    // Starts a daemon and waits for its ready line.
    static void expect_ready(child_process& daemon) {
        ASSERT_TRUE(daemon.wait_for_output("tidelogd ready:", wait_limit))
            << "no ready line; stderr:\n"
            << daemon.stderr_text();
    }

    static void expect_clean_stop(child_process& daemon, int signal_number) {
        daemon.send_signal(signal_number);
        const auto status = daemon.wait_for_exit(wait_limit);
        ASSERT_TRUE(status.has_value()) << "did not stop; stderr:\n" << daemon.stderr_text();
        EXPECT_TRUE(status->exited) << "killed by signal " << status->signal_number;
        EXPECT_EQ(status->code, 0) << daemon.stderr_text();
        EXPECT_THAT(daemon.stderr_text(), HasSubstr("tidelogd stopped"));
    }

    std::string _tidelogd;
    std::string _tidectl;
    std::string _shipped_config;
    std::string _root;
};

TEST_F(process_test, version_and_help_exit_0) {
    const run_result version = run(_tidelogd, {"--version"});
    ASSERT_TRUE(version.status.has_value());
    EXPECT_EQ(version.status->code, 0);
    EXPECT_THAT(version.stdout_text, StartsWith("tidelogd "));

    const run_result help = run(_tidelogd, {"--help"});
    ASSERT_TRUE(help.status.has_value());
    EXPECT_EQ(help.status->code, 0);
    EXPECT_THAT(help.stdout_text, HasSubstr("--data-dir DIR"));
    EXPECT_THAT(help.stdout_text, HasSubstr("--poll-mode busy|adaptive"));
}

TEST_F(process_test, unknown_key_in_the_file_exits_2_naming_it) {
    const std::string path = write_config("unknown.yaml", "smp: 2\nshard_count: 4\n");
    expect_config_error(run(_tidelogd, daemon_flags({"--config", path})),
                        "shard_count: unknown key (from " + path + ")");
    EXPECT_FALSE(std::filesystem::exists(data_dir())) << "created before the config was valid";
}

TEST_F(process_test, bad_value_in_the_file_exits_2_with_the_exact_line) {
    const std::string path = write_config("bad.yaml", "smp: 0\n");
    // No --smp flag here: it would override the file.
    const run_result result = run(_tidelogd, {"--config", path, "--data-dir", data_dir()});
    expect_config_error(result, "smp");
    EXPECT_EQ(
        result.stderr_text,
        "tidelogd: config error: smp: must be between 1 and 256, got 0 (from " + path + ")\n");
}

TEST_F(process_test, bad_flags_exit_2_naming_them) {
    expect_config_error(run(_tidelogd, daemon_flags({"--shards", "2"})), "--shards: unknown flag");
    expect_config_error(run(_tidelogd, daemon_flags({"--kafka-addr", "127.0.0.1"})),
                        "kafka_addr: bad address '127.0.0.1'");
    expect_config_error(run(_tidelogd, daemon_flags({"--poll-mode", "fast"})),
                        "poll_mode: must be one of busy, adaptive; got 'fast' (from --poll-mode)");
    expect_config_error(run(_tidelogd, daemon_flags({"--mailbox-capacity", "1000"})),
                        "mailbox_capacity: must be a power of two");
}

TEST_F(process_test, unreadable_config_file_exits_2_naming_it) {
    const std::string missing = _root + "/missing.yaml";
    expect_config_error(run(_tidelogd, daemon_flags({"--config", missing})),
                        missing + ": cannot open config file");
}

TEST_F(process_test, data_dir_that_is_a_file_exits_2) {
    const std::string file = write_config("not_a_dir", "x");
    const run_result result =
        run(_tidelogd, {"--smp", "1", "--cpu-pinning", "floating", "--data-dir", file});
    expect_config_error(result, "data_dir: '" + file + "' exists and is not a directory");
    EXPECT_THAT(result.stderr_text, HasSubstr("(from --data-dir)"));
}

TEST_F(process_test, data_dir_below_a_file_exits_2) {
    // Unusable even for root: no directory can be created below a regular file.
    const std::string file = write_config("plain_file", "x");
    const std::string path = file + "/data";
    expect_config_error(
        run(_tidelogd, {"--smp", "1", "--cpu-pinning", "floating", "--data-dir", path}),
        "data_dir: cannot create '" + path + "'");
}

TEST_F(process_test, sigterm_after_ready_exits_0) {
    child_process daemon(_tidelogd, daemon_flags());
    expect_ready(daemon);
    EXPECT_THAT(daemon.stderr_text(), HasSubstr("tidelogd ready: node 0, 2 shards, data " +
                                                data_dir() + ", kafka 127.0.0.1:"));
    expect_clean_stop(daemon, SIGTERM);
}

TEST_F(process_test, sigint_after_ready_exits_0) {
    child_process daemon(_tidelogd, daemon_flags({"--node-id", "5", "--log-level", "debug"}));
    expect_ready(daemon);
    EXPECT_THAT(daemon.stderr_text(), HasSubstr("tidelogd ready: node 5, 2 shards"));
    expect_clean_stop(daemon, SIGINT);
}

TEST_F(process_test, the_shipped_config_file_is_accepted) {
    // Flags after --config win, so the shipped file runs in our temp directory.
    child_process daemon(_tidelogd, daemon_flags({"--config", _shipped_config}));
    expect_ready(daemon);
    expect_clean_stop(daemon, SIGTERM);
}

TEST_F(process_test, a_second_daemon_on_the_same_data_dir_exits_1) {
    child_process first(_tidelogd, daemon_flags());
    expect_ready(first);

    const run_result second = run(_tidelogd, daemon_flags());
    ASSERT_TRUE(second.status.has_value());
    EXPECT_EQ(second.status->code, 1) << second.stderr_text;
    EXPECT_THAT(second.stderr_text, HasSubstr("is in use by another tidelogd (pid " +
                                              std::to_string(first.pid()) + ")"));
    EXPECT_EQ(line_count(second.stderr_text), 1u) << second.stderr_text;

    expect_clean_stop(first, SIGTERM);
    // The lock went with the first daemon.
    child_process third(_tidelogd, daemon_flags());
    expect_ready(third);
    expect_clean_stop(third, SIGTERM);
}

TEST_F(process_test, tidectl_checks_files_with_tidelogds_words) {
    const run_result good = run(_tidectl, {"config", "check", _shipped_config});
    ASSERT_TRUE(good.status.has_value());
    EXPECT_EQ(good.status->code, 0) << good.stderr_text;
    EXPECT_EQ(good.stdout_text, "OK: " + _shipped_config + "\n");

    const std::string path = write_config("bad.yaml", "poll_mode: sometimes\n");
    const run_result checked = run(_tidectl, {"config", "check", path});
    const run_result started = run(_tidelogd, {"--config", path, "--data-dir", data_dir()});
    ASSERT_TRUE(checked.status.has_value() && started.status.has_value());
    EXPECT_EQ(checked.status->code, 2);
    EXPECT_EQ(started.status->code, 2);
    const std::string error =
        "config error: poll_mode: must be one of busy, adaptive; got "
        "'sometimes' (from " +
        path + ")\n";
    EXPECT_EQ(checked.stderr_text, "tidectl: " + error);
    EXPECT_EQ(started.stderr_text, "tidelogd: " + error);
}

TEST_F(process_test, tidectl_defaults_are_a_valid_config) {
    const run_result defaults = run(_tidectl, {"config", "defaults"});
    ASSERT_TRUE(defaults.status.has_value());
    EXPECT_EQ(defaults.status->code, 0);
    EXPECT_THAT(defaults.stdout_text, HasSubstr("data_dir: \"./tidelog-data\"\n"));
    const std::string path = write_config("defaults.yaml", defaults.stdout_text);
    const run_result checked = run(_tidectl, {"config", "check", path});
    ASSERT_TRUE(checked.status.has_value());
    EXPECT_EQ(checked.status->code, 0) << checked.stderr_text;
}

TEST_F(process_test, tidectl_commands_and_usage_errors) {
    const run_result version = run(_tidectl, {"version"});
    ASSERT_TRUE(version.status.has_value());
    EXPECT_EQ(version.status->code, 0);
    EXPECT_THAT(version.stdout_text, StartsWith("tidectl "));

    const run_result help = run(_tidectl, {"--help"});
    ASSERT_TRUE(help.status.has_value());
    EXPECT_EQ(help.status->code, 0);
    EXPECT_THAT(help.stdout_text, HasSubstr("config check FILE"));

    const std::vector<std::vector<std::string>> mistakes = {
        {}, {"frobnicate"}, {"config"}, {"config", "check"}, {"config", "check", "a", "b"}};
    for (const auto& arguments : mistakes) {
        const run_result result = run(_tidectl, arguments);
        ASSERT_TRUE(result.status.has_value());
        EXPECT_EQ(result.status->code, 2) << ::testing::PrintToString(arguments);
        EXPECT_FALSE(result.stderr_text.empty());
    }
}

}  // namespace
}  // namespace tl::app::testing
