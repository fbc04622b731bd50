// tidelogd: the Tidelog broker daemon.
//
// Start-up: flags and config (exit 2 on any error, one line on stderr), data
// directory checked and locked, SIGTERM/SIGINT/SIGPIPE blocked before any
// thread exists (so every shard inherits the mask and only main sees them),
// reactor and services started, one "ready" line, then sigwait. On SIGTERM
// or SIGINT: stop within shutdown_timeout_ms and exit 0, or exit 1 at once.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/admin.h"
#include "app/broker.h"
#include "app/command_line.h"
#include "app/config.h"
#include "app/data_directory.h"
#include "app/exit_status.h"
#include "app/feeds.h"
#include "app/node.h"
#include "tidelog_build_config.h"

namespace tl::app {
namespace {

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

// SIGPIPE is blocked too: a peer closing a socket must surface as EPIPE on
// that socket, never kill the broker.
void block_signals() {
    sigset_t set = shutdown_signals();
    sigaddset(&set, SIGPIPE);
    const int error = pthread_sigmask(SIG_BLOCK, &set, nullptr);
    TL_ASSERT(error == 0, "pthread_sigmask");
}

int wait_for_shutdown_signal() {
    const sigset_t set = shutdown_signals();
    for (;;) {
        int signal_number = 0;
        const int error = sigwait(&set, &signal_number);
        if (error == 0) return signal_number;
        TL_ASSERT(error == EINTR, "sigwait");
    }
}

int report(const config_error& error) {
    std::fprintf(stderr, "tidelogd: config error: %s\n", error.to_string().c_str());
    return to_int(exit_status::config_error);
}

spdlog::level::level_enum to_spdlog(log_level level) {
    switch (level) {
        case log_level::trace:
            return spdlog::level::trace;
        case log_level::debug:
            return spdlog::level::debug;
        case log_level::info:
            return spdlog::level::info;
        case log_level::warn:
            return spdlog::level::warn;
        case log_level::error:
            return spdlog::level::err;
    }
    TL_UNREACHABLE("log level");
}

// Plain stderr, no colours: under systemd it goes to the journal.
void configure_logging(log_level level) {
    auto logger = spdlog::stderr_logger_mt("tidelogd");
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    logger->set_level(to_spdlog(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

int run(std::span<const std::string_view> arguments) {
    auto command_line = parse_daemon_command_line(arguments);
    if (!command_line) return report(command_line.error());
    switch (command_line->action) {
        case daemon_action::show_help:
            std::fputs(daemon_usage(default_config()).c_str(), stdout);
            return to_int(exit_status::ok);
        case daemon_action::show_version:
            std::printf("tidelogd %s\n", TIDELOG_VERSION);
            return to_int(exit_status::ok);
        case daemon_action::run:
            break;
    }

    auto config = load_config(command_line->config_path, command_line->flags);
    if (!config) return report(config.error());
    configure_logging(config->log_level);

    auto directory = data_directory::open(config->data_dir);
    if (!directory) {
        const data_directory_error& error = directory.error();
        if (error.code == data_directory_errc::unusable) {
            return report(config_error{"data_dir", error.message,
                                       std::string(config->source_of("data_dir"))});
        }
        std::fprintf(stderr, "tidelogd: %s\n", error.message.c_str());
        return to_int(exit_status::failure);
    }

    const unsigned usable_cpus = default_config().smp;
    if (config->smp > usable_cpus) {
        spdlog::warn("smp {} exceeds the {} CPUs this process may use: shards will share CPUs",
                     config->smp, usable_cpus);
    }

    // DPDK's EAL and the feeds' ports, before any shard exists (the EAL
    // starts once per process; its threads inherit the blocked signals).
    auto feeds = prepare_feeds(*config);
    if (!feeds) return report(feeds.error());

    node_state state(*config);
    // Before the broker: /healthz and /ready (503) answer during recovery.
    auto admin = admin_endpoint::start(state);
    if (!admin) {
        std::fprintf(stderr, "tidelogd: start-up failed: %s\n", admin.error().c_str());
        return to_int(exit_status::failure);
    }
    broker daemon(*config);
    daemon.add_service(cluster_service(state));
    daemon.add_service(kafka_service(state));
    if (*feeds) daemon.add_service(feed_service(state, **feeds));
    if (auto started = daemon.start(); !started) {
        std::fprintf(stderr, "tidelogd: start-up failed: %s\n", started.error().c_str());
        if (daemon.is_abandoned()) _exit(to_int(exit_status::failure));
        return to_int(exit_status::failure);
    }
    state.started.store(true, std::memory_order_release);
    spdlog::info(
        "tidelogd ready: node {}, {} shards, data {}, kafka {} (port {}), advertised {}:{}, "
        "admin {} (port {})",
        config->node_id, daemon.shard_count(), directory->path(), config->kafka_addr.text,
        state.kafka_port.load(), state.kafka.advertised_host, state.kafka.advertised_port,
        config->admin_addr.text, (*admin)->port());

    const int signal_number = wait_for_shutdown_signal();
    spdlog::info("tidelogd stopping: SIG{} received", sigabbrev_np(signal_number));
    if (daemon.stop() == stop_outcome::timed_out) {
        std::fprintf(stderr,
                     "tidelogd: shutdown did not finish within %u ms (shutdown_timeout_ms); "
                     "exiting without cleanup\n",
                     config->shutdown_timeout_ms);
        std::fflush(stderr);
        // Shard threads are still running: destroying the reactor would wait
        // for them, and returning from main would run destructors under them.
        _exit(to_int(exit_status::failure));
    }
    spdlog::info("tidelogd stopped");
    return to_int(exit_status::ok);
}

}  // namespace
}  // namespace tl::app

int main(int argc, char** argv) {
    // Before anything can start a thread.
    tl::app::block_signals();
    const std::vector<std::string_view> arguments(argv + 1, argv + argc);
    return tl::app::run(arguments);
}
