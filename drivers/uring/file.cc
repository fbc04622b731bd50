#include "uring/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/aligned_buffer.h"
#include "uring/operation.h"

namespace tl::uring {
namespace {

int open_flags(open_mode mode) {
    switch (mode) {
    case open_mode::read_only: return O_RDONLY;
    case open_mode::read_write: return O_RDWR;
    case open_mode::create_read_write: return O_RDWR | O_CREAT;
    case open_mode::create_exclusive: return O_RDWR | O_CREAT | O_EXCL;
    }
    TL_UNREACHABLE("open_mode");
}

bool aligned(uint64_t offset, std::span<const std::byte> buffer) {
    return offset % direct_io_alignment == 0 &&
           reinterpret_cast<uintptr_t>(buffer.data()) % direct_io_alignment == 0 &&
           buffer.size() % direct_io_alignment == 0;
}

task<io_result<void>> path_operation(ring& r, auto start) {
    const int32_t res = co_await operation(r, start);
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return io_result<void>{};
}

}  // namespace

task<io_result<file>> file::open(ring& r, std::string path, open_options options) {
    const int flags = open_flags(options.mode) | O_CLOEXEC;
    if (options.direct == open_options::direct_io::preferred) {
        const int32_t fd = co_await operation(r, [&](completion* c) {
            r.open_at(AT_FDCWD, path.c_str(), flags | O_DIRECT, options.permissions, c);
        });
        if (fd >= 0) co_return file(r, fd, true);
        // EINVAL: this file system does not do O_DIRECT (tmpfs). Fall back.
        if (fd != -EINVAL) co_return failure{error_from_errno(-fd)};
    }
    const int32_t fd = co_await operation(r, [&](completion* c) {
        r.open_at(AT_FDCWD, path.c_str(), flags, options.permissions, c);
    });
    if (fd < 0) co_return failure{error_from_errno(-fd)};
    co_return file(r, fd, false);
}

file& file::operator=(file&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _ring = other._ring;
        _fd = std::exchange(other._fd, -1);
        _direct = other._direct;
    }
    return *this;
}

file::~file() {
    if (_fd >= 0) ::close(_fd);
}

task<io_result<size_t>> file::read_at(uint64_t offset, std::span<std::byte> buffer) {
    return read_loop(offset, buffer, -1);
}

task<io_result<size_t>> file::read_at(uint64_t offset, fixed_buffer buffer) {
    return read_loop(offset, buffer.bytes, buffer.index);
}

task<io_result<void>> file::write_at(uint64_t offset, std::span<const std::byte> buffer) {
    return write_loop(offset, buffer, -1);
}

task<io_result<void>> file::write_at(uint64_t offset, fixed_buffer buffer) {
    return write_loop(offset, buffer.bytes, buffer.index);
}

task<io_result<size_t>> file::read_loop(uint64_t offset, std::span<std::byte> buffer,
                                        int index) {
    TL_ASSERT(is_open());
    if (_direct && !aligned(offset, buffer)) {
        co_return failure{io_error{io_errc::invalid_argument, EINVAL}};
    }
    size_t done = 0;
    while (done < buffer.size()) {
        auto rest = buffer.subspan(done);
        const int32_t res = co_await operation(*_ring, [&](completion* c) {
            if (index >= 0) {
                _ring->read_fixed(_fd, rest, offset + done, static_cast<uint16_t>(index), c);
            } else {
                _ring->read(_fd, rest, offset + done, c);
            }
        });
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res < 0) co_return failure{error_from_errno(-res)};
        if (res == 0) break;  // end of file
        done += static_cast<size_t>(res);
        // With O_DIRECT a short read ends at end of file (the last block is
        // partial); continuing at an unaligned offset would fail.
        if (_direct && done % direct_io_alignment != 0) break;
    }
    co_return done;
}

task<io_result<void>> file::write_loop(uint64_t offset, std::span<const std::byte> buffer,
                                       int index) {
    TL_ASSERT(is_open());
    if (_direct && !aligned(offset, buffer)) {
        co_return failure{io_error{io_errc::invalid_argument, EINVAL}};
    }
    size_t done = 0;
    while (done < buffer.size()) {
        auto rest = buffer.subspan(done);
        const int32_t res = co_await operation(*_ring, [&](completion* c) {
            if (index >= 0) {
                _ring->write_fixed(_fd, rest, offset + done, static_cast<uint16_t>(index), c);
            } else {
                _ring->write(_fd, rest, offset + done, c);
            }
        });
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res < 0) co_return failure{error_from_errno(-res)};
        // A zero-byte write of a non-empty buffer makes no progress: the
        // device is full in all but name.
        if (res == 0) co_return failure{io_error{io_errc::no_space, ENOSPC}};
        done += static_cast<size_t>(res);
        if (_direct && done % direct_io_alignment != 0) {
            // The kernel wrote part of a block and stopped (out of space);
            // the rest cannot be written at an unaligned offset.
            co_return failure{io_error{io_errc::no_space, ENOSPC}};
        }
    }
    co_return io_result<void>{};
}

task<io_result<void>> file::allocate(uint64_t offset, uint64_t length) {
    TL_ASSERT(is_open());
    return path_operation(*_ring,
                          [=, this](completion* c) { _ring->allocate(_fd, 0, offset, length, c); });
}

task<io_result<void>> file::truncate(uint64_t length) {
    TL_ASSERT(is_open());
    const int32_t res = co_await operation(
        *_ring, [&](completion* c) { _ring->truncate(_fd, length, c); });
    if (res == -EINVAL || res == -EOPNOTSUPP) {
        // Kernel without IORING_OP_FTRUNCATE: a rare metadata operation, done inline.
        if (::ftruncate(_fd, static_cast<off_t>(length)) != 0) {
            co_return failure{error_from_errno(errno)};
        }
        co_return io_result<void>{};
    }
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return io_result<void>{};
}

task<io_result<void>> file::sync(sync_kind kind) {
    TL_ASSERT(is_open());
    return path_operation(*_ring, [=, this](completion* c) { _ring->sync(_fd, kind, c); });
}

task<io_result<uint64_t>> file::size() {
    TL_ASSERT(is_open());
    struct statx info {};
    const int32_t res = co_await operation(*_ring, [&](completion* c) {
        _ring->statx(_fd, "", AT_EMPTY_PATH, STATX_SIZE, &info, c);
    });
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return static_cast<uint64_t>(info.stx_size);
}

task<io_result<void>> file::close() {
    if (_fd < 0) co_return io_result<void>{};
    const int fd = std::exchange(_fd, -1);
    const int32_t res = co_await operation(*_ring, [&](completion* c) { _ring->close(fd, c); });
    if (res < 0) co_return failure{error_from_errno(-res)};
    co_return io_result<void>{};
}

task<io_result<void>> make_directory(ring& r, std::string path, mode_t permissions) {
    return path_operation(r, [&r, path = std::move(path), permissions](completion* c) {
        r.make_directory_at(AT_FDCWD, path.c_str(), permissions, c);
    });
}

task<io_result<void>> remove_file(ring& r, std::string path) {
    return path_operation(r, [&r, path = std::move(path)](completion* c) {
        r.unlink_at(AT_FDCWD, path.c_str(), 0, c);
    });
}

task<io_result<void>> remove_directory(ring& r, std::string path) {
    return path_operation(r, [&r, path = std::move(path)](completion* c) {
        r.unlink_at(AT_FDCWD, path.c_str(), AT_REMOVEDIR, c);
    });
}

task<io_result<void>> rename_file(ring& r, std::string from, std::string to) {
    return path_operation(r, [&r, from = std::move(from), to = std::move(to)](completion* c) {
        r.rename_at(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), c);
    });
}

task<io_result<void>> sync_directory(ring& r, std::string directory) {
    auto opened = co_await file::open(
        r, std::move(directory),
        open_options{.mode = open_mode::read_only, .direct = open_options::direct_io::never});
    if (!opened) co_return failure{opened.error()};
    auto synced = co_await opened->sync(sync_kind::full);
    auto closed = co_await opened->close();
    if (!synced) co_return synced;
    co_return closed;
}

}  // namespace tl::uring
