#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/assert.h"

extern char** environ;

namespace tl::testing_support {
namespace {

// Generous: a guard against hangs on a loaded CI machine, not a timing claim.
constexpr std::chrono::seconds run_deadline{60};
constexpr size_t read_chunk_bytes = 4096;

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its
// wrappers; the raw system calls are the same thing.
int open_pidfd(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
int signal_pidfd(int pidfd, int signal_number) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0));
}

// Reads what is available; false at end of file.
bool drain(int fd, std::string& into) {
    char buffer[read_chunk_bytes];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n > 0) {
            into.append(buffer, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        TL_ASSERT(errno == EAGAIN, "read from a child's pipe");
        return true;
    }
}

}  // namespace

child_process::child_process(const std::string& program,
                             const std::vector<std::string>& arguments) {
    int out[2];
    int err[2];
    TL_ASSERT(::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& argument : arguments)
        argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    const int error =
        ::posix_spawn(&_pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    TL_ASSERT(error == 0, "posix_spawn of the program under test");
    _stdout_fd = out[0];
    _stderr_fd = err[0];
    ::fcntl(_stdout_fd, F_SETFL, O_NONBLOCK);
    ::fcntl(_stderr_fd, F_SETFL, O_NONBLOCK);
    _pidfd = open_pidfd(_pid);
    TL_ASSERT(_pidfd >= 0, "pidfd_open");
}

child_process::~child_process() {
    if (!_exit) {
        ::kill(_pid, SIGKILL);
        int status = 0;
        ::waitpid(_pid, &status, 0);
    }
    for (int fd : {_pidfd, _stdout_fd, _stderr_fd}) {
        if (fd >= 0) ::close(fd);
    }
}

bool child_process::output_contains(std::string_view text) const {
    return _stderr.find(text) != std::string::npos || _stdout.find(text) != std::string::npos;
}

bool child_process::pump(std::chrono::steady_clock::time_point deadline, wait_goal goal,
                         const std::function<bool()>& satisfied) {
    bool child_gone = false;
    for (;;) {
        if (goal == wait_goal::output && satisfied()) return true;
        // Exit is complete once the child is gone and both pipes hit end of file.
        const bool finished = child_gone && _stdout_fd < 0 && _stderr_fd < 0;
        if (finished) return goal == wait_goal::exit;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;

        pollfd fds[3] = {{_stdout_fd, POLLIN, 0},
                         {_stderr_fd, POLLIN, 0},
                         {child_gone ? -1 : _pidfd, POLLIN, 0}};
        const int ready = ::poll(fds, 3, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        TL_ASSERT(ready >= 0, "poll");
        if (fds[0].revents != 0 && !drain(_stdout_fd, _stdout)) {
            ::close(_stdout_fd);
            _stdout_fd = -1;
        }
        if (fds[1].revents != 0 && !drain(_stderr_fd, _stderr)) {
            ::close(_stderr_fd);
            _stderr_fd = -1;
        }
        if (fds[2].revents != 0) child_gone = true;
    }
}

bool child_process::wait_for_output(std::string_view text, std::chrono::milliseconds timeout) {
    return pump(std::chrono::steady_clock::now() + timeout, wait_goal::output,
                [&] { return output_contains(text); });
}

bool child_process::wait_until(
    const std::function<bool(const std::string& stdout_text)>& predicate,
    std::chrono::milliseconds timeout) {
    return pump(std::chrono::steady_clock::now() + timeout, wait_goal::output,
                [&] { return predicate(_stdout); });
}

std::optional<exit_info> child_process::wait_for_exit(std::chrono::milliseconds timeout) {
    if (_exit) return _exit;
    if (!pump(std::chrono::steady_clock::now() + timeout, wait_goal::exit, {})) {
        return std::nullopt;
    }
    int status = 0;
    TL_ASSERT(::waitpid(_pid, &status, 0) == _pid, "waitpid");
    exit_info info;
    info.exited = WIFEXITED(status);
    info.code = info.exited ? WEXITSTATUS(status) : 0;
    info.signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    _exit = info;
    return _exit;
}

void child_process::send_signal(int signal_number) {
    TL_ASSERT(!_exit, "signal to a reaped child");
    TL_ASSERT(signal_pidfd(_pidfd, signal_number) == 0, "pidfd_send_signal");
}

run_result run(const std::string& program, const std::vector<std::string>& arguments) {
    child_process child(program, arguments);
    const auto status = child.wait_for_exit(run_deadline);
    return {status, child.stdout_text(), child.stderr_text()};
}

}  // namespace tl::testing_support
