// The broker's data directory, proven usable and locked for this process.
//
// open() creates the directory if missing, proves it writable (create, fsync
// and remove a probe file: permission bits alone do not tell, e.g. for root on
// a read-only mount), then takes `DATA/.lock` with flock(LOCK_EX | LOCK_NB)
// and writes our pid into it. The lock lives as long as the object (or the
// process: the kernel drops it on any exit), so two daemons never share a
// directory. Blocking syscalls: call from the control thread at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "base/result.h"

namespace tl::app {

enum class data_directory_errc : uint8_t {
    unusable,  // cannot be created, is not a directory, or is not writable
    in_use,    // another process holds the lock
};

struct data_directory_error {
    data_directory_errc code = data_directory_errc::unusable;
    std::string message;  // names the path, e.g. "cannot create '/a/b': Not a directory"
};

class data_directory {
public:
    static constexpr std::string_view lock_file_name = ".lock";

    static result<data_directory, data_directory_error> open(const std::string& path);

    data_directory(data_directory&& other) noexcept
        : _path(std::move(other._path)), _lock_fd(std::exchange(other._lock_fd, -1)) {}
    data_directory& operator=(data_directory&& other) noexcept;
    data_directory(const data_directory&) = delete;
    data_directory& operator=(const data_directory&) = delete;
    // Closing the lock file releases the lock.
    ~data_directory();

    const std::string& path() const noexcept { return _path; }

private:
    data_directory(std::string path, int lock_fd) : _path(std::move(path)), _lock_fd(lock_fd) {}

    std::string _path;
    int _lock_fd = -1;
};

}  // namespace tl::app
