#include "uring/io_error.h"

#include <cerrno>
#include <cstring>

#include <absl/strings/str_format.h>

namespace tl::uring {

io_error error_from_errno(int sys_errno) noexcept {
    io_errc code;
    switch (sys_errno) {
    case ENOENT: code = io_errc::not_found; break;
    case EACCES:
    case EPERM: code = io_errc::permission_denied; break;
    case EEXIST: code = io_errc::already_exists; break;
    case ENOSPC:
    case EDQUOT: code = io_errc::no_space; break;
    case EINVAL:
    case EFAULT:
    case ENAMETOOLONG: code = io_errc::invalid_argument; break;
    case EAGAIN: code = io_errc::would_block; break;
    case EINTR: code = io_errc::interrupted; break;
    case ECONNREFUSED: code = io_errc::connection_refused; break;
    case ECONNRESET:
    case ECONNABORTED: code = io_errc::connection_reset; break;
    case EPIPE: code = io_errc::broken_pipe; break;
    case EADDRINUSE: code = io_errc::address_in_use; break;
    case EADDRNOTAVAIL: code = io_errc::address_not_available; break;
    case ETIME:
    case ETIMEDOUT: code = io_errc::timed_out; break;
    case ECANCELED: code = io_errc::canceled; break;
    case EMFILE:
    case ENFILE: code = io_errc::too_many_open_files; break;
    case EISDIR: code = io_errc::is_directory; break;
    case ENOTDIR: code = io_errc::not_directory; break;
    case EBADF: code = io_errc::bad_descriptor; break;
    case EROFS: code = io_errc::read_only_file_system; break;
    case EIO: code = io_errc::io_failure; break;
    case EOPNOTSUPP:
    case ENOSYS: code = io_errc::unsupported; break;
    default: code = io_errc::other; break;
    }
    return io_error{code, sys_errno};
}

bool io_error::retryable() const noexcept {
    switch (code) {
    case io_errc::would_block:
    case io_errc::interrupted:
    case io_errc::timed_out:
    case io_errc::no_space:
    case io_errc::too_many_open_files: return true;
    default: return false;
    }
}

const char* io_error::name() const noexcept {
    switch (code) {
    case io_errc::not_found: return "not_found";
    case io_errc::permission_denied: return "permission_denied";
    case io_errc::already_exists: return "already_exists";
    case io_errc::no_space: return "no_space";
    case io_errc::invalid_argument: return "invalid_argument";
    case io_errc::would_block: return "would_block";
    case io_errc::interrupted: return "interrupted";
    case io_errc::connection_refused: return "connection_refused";
    case io_errc::connection_reset: return "connection_reset";
    case io_errc::broken_pipe: return "broken_pipe";
    case io_errc::address_in_use: return "address_in_use";
    case io_errc::address_not_available: return "address_not_available";
    case io_errc::end_of_file: return "end_of_file";
    case io_errc::timed_out: return "timed_out";
    case io_errc::canceled: return "canceled";
    case io_errc::too_many_open_files: return "too_many_open_files";
    case io_errc::is_directory: return "is_directory";
    case io_errc::not_directory: return "not_directory";
    case io_errc::bad_descriptor: return "bad_descriptor";
    case io_errc::read_only_file_system: return "read_only_file_system";
    case io_errc::io_failure: return "io_failure";
    case io_errc::unsupported: return "unsupported";
    case io_errc::other: return "other";
    }
    return "other";
}

std::string io_error::message() const {
    if (sys_errno == 0) return name();
    return absl::StrFormat("%s (errno %d: %s)", name(), sys_errno, std::strerror(sys_errno));
}

}  // namespace tl::uring
