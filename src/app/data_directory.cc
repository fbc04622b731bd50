#include "app/data_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace tl::app {
namespace {

// Enough for a pid and a newline.
constexpr size_t max_lock_contents_bytes = 32;

data_directory_error unusable(std::string message) {
    return {data_directory_errc::unusable, std::move(message)};
}

std::string errno_text(int error) {
    return std::strerror(error);
}

result<void, data_directory_error> ensure_directory(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {
        if (!S_ISDIR(info.st_mode)) {
            return failure{unusable(fmt::format("'{}' exists and is not a directory", path))};
        }
        return {};
    }
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) {
        return failure{unusable(fmt::format("cannot create '{}': {}", path, error.message()))};
    }
    return {};
}

// Permission bits do not say whether a write will succeed (root, read-only
// mounts, full disks, ACLs): write, sync and remove a real file.
result<void, data_directory_error> probe_writable(const std::string& path) {
    const std::string probe = fmt::format("{}/.probe-{}", path, ::getpid());
    const auto fail = [&path](std::string_view step, int error) {
        return failure{
            unusable(fmt::format("'{}' is not writable: {}: {}", path, step, errno_text(error)))};
    };
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("creating a probe file", errno);
    const char byte = 0;
    ssize_t written = 0;
    do {
        written = ::write(fd, &byte, 1);
    } while (written < 0 && errno == EINTR);
    const int write_error = written == 1 ? 0 : (written < 0 ? errno : EIO);
    const int sync_error = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    const int unlink_error = ::unlink(probe.c_str()) == 0 ? 0 : errno;
    if (write_error != 0) return fail("writing a probe file", write_error);
    if (sync_error != 0) return fail("syncing a probe file", sync_error);
    if (unlink_error != 0) return fail("removing a probe file", unlink_error);
    return {};
}

std::string holder_of(int lock_fd) {
    char buffer[max_lock_contents_bytes] = {};
    const ssize_t n = ::pread(lock_fd, buffer, sizeof(buffer) - 1, 0);
    int pid = 0;
    if (n > 0 && std::from_chars(buffer, buffer + n, pid).ec == std::errc{} && pid > 0) {
        return fmt::format(" (pid {})", pid);
    }
    return "";
}

}  // namespace

result<data_directory, data_directory_error> data_directory::open(const std::string& path) {
    if (auto made = ensure_directory(path); !made) return failure{made.error()};
    if (auto probed = probe_writable(path); !probed) return failure{probed.error()};

    const std::string lock_path = fmt::format("{}/{}", path, lock_file_name);
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return failure{unusable(fmt::format("cannot open '{}': {}", lock_path, errno_text(errno)))};
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        if (error == EWOULDBLOCK) {
            std::string message =
                fmt::format("data directory '{}' is in use by another tidelogd{}: '{}' is locked",
                            path, holder_of(fd), lock_path);
            ::close(fd);
            return failure{data_directory_error{data_directory_errc::in_use, std::move(message)}};
        }
        ::close(fd);
        return failure{unusable(fmt::format("cannot lock '{}': {}", lock_path, errno_text(error)))};
    }
    // The pid is only for the message another daemon prints; the lock is what counts.
    const std::string pid_line = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid_line.data(), pid_line.size(), 0) !=
                                       static_cast<ssize_t>(pid_line.size())) {
        const int error = errno;
        ::close(fd);
        return failure{
            unusable(fmt::format("cannot write '{}': {}", lock_path, errno_text(error)))};
    }
    return data_directory(path, fd);
}

data_directory& data_directory::operator=(data_directory&& other) noexcept {
    if (this != &other) {
        if (_lock_fd >= 0) ::close(_lock_fd);
        _path = std::move(other._path);
        _lock_fd = std::exchange(other._lock_fd, -1);
    }
    return *this;
}

data_directory::~data_directory() {
    if (_lock_fd >= 0) ::close(_lock_fd);
}

}  // namespace tl::app
