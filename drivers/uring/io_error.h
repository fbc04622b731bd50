// Typed errors of drivers/uring: every failed syscall or io_uring operation
// becomes an io_error carrying a classified code and the original errno.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace tl::uring {

enum class io_errc : uint8_t {
    not_found,
    permission_denied,
    already_exists,
    no_space,
    invalid_argument,
    would_block,
    interrupted,
    connection_refused,
    connection_reset,
    broken_pipe,
    address_in_use,
    address_not_available,
    end_of_file,
    timed_out,
    canceled,
    too_many_open_files,
    is_directory,
    not_directory,
    bad_descriptor,
    read_only_file_system,
    io_failure,
    unsupported,
    other,
};

struct io_error {
    io_errc code = io_errc::other;
    int sys_errno = 0;  // 0 when the error did not come from a syscall

    // Whether the same operation may succeed if simply tried again later.
    [[nodiscard]] bool retryable() const noexcept;
    [[nodiscard]] const char* name() const noexcept;
    // "no_space (errno 28: No space left on device)"
    [[nodiscard]] std::string message() const;

    friend bool operator==(const io_error&, const io_error&) = default;
};

// Maps a positive errno value to an io_error.
[[nodiscard]] io_error error_from_errno(int sys_errno) noexcept;

template <typename T>
using io_result = result<T, io_error>;

}  // namespace tl::uring
