// A program run by a test, with its stdout and stderr captured, and every
// wait bounded by a deadline (poll on the pipes and a pidfd; never a sleep).
// The destructor kills and reaps a child that is still running, so a failed
// assertion never leaves a daemon behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tl::testing_support {

struct exit_info {
    bool exited = false;  // false: killed by `signal_number`
    int code = 0;
    int signal_number = 0;
};

class child_process {
public:
    // Starts `program` with `arguments` (argv[1..]); asserts on failure to spawn.
    child_process(const std::string& program, const std::vector<std::string>& arguments);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return _pid; }

    // Reads output until stderr or stdout contains `text`; false if the child
    // exits or `timeout` passes first.
    bool wait_for_output(std::string_view text, std::chrono::milliseconds timeout);
    // Reads output until `predicate(stdout so far)` holds; false if the child
    // exits or `timeout` passes first.
    bool wait_until(const std::function<bool(const std::string& stdout_text)>& predicate,
                    std::chrono::milliseconds timeout);
    // Reads output to the end and reaps the child; nullopt if `timeout` passes.
    std::optional<exit_info> wait_for_exit(std::chrono::milliseconds timeout);
    void send_signal(int signal_number);

    const std::string& stdout_text() const noexcept { return _stdout; }
    const std::string& stderr_text() const noexcept { return _stderr; }

private:
    enum class wait_goal : uint8_t { output, exit };
    // Polls the pipes (and the pidfd) until the goal is reached (for `output`:
    // `satisfied()` holds) or the deadline.
    bool pump(std::chrono::steady_clock::time_point deadline, wait_goal goal,
              const std::function<bool()>& satisfied);
    bool output_contains(std::string_view text) const;

    pid_t _pid = -1;
    int _pidfd = -1;
    int _stdout_fd = -1;
    int _stderr_fd = -1;
    std::string _stdout;
    std::string _stderr;
    std::optional<exit_info> _exit;
};

// Runs to completion; `status` is empty if the deadline passed (the child is
// then killed).
struct run_result {
    std::optional<exit_info> status;
    std::string stdout_text;
    std::string stderr_text;
};
run_result run(const std::string& program, const std::vector<std::string>& arguments);

}  // namespace tl::testing_support
