// Files through io_uring, O_DIRECT first.
//
// open() asks for O_DIRECT and falls back to buffered I/O where the file
// system refuses it (tmpfs); direct() says which one you got. With O_DIRECT,
// buffers, offsets and lengths must be multiples of direct_io_alignment
// (4 KiB): a misaligned request fails with invalid_argument rather than being
// silently bounced. Short reads and writes are continued until done; a read
// stops early only at end of file.
//
// A file belongs to the shard (thread) whose ring it uses. Close it with
// close() on that shard; the destructor closes synchronously as a fallback.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "base/task.h"
#include "uring/io_error.h"
#include "uring/ring.h"

namespace tl::uring {

enum class open_mode : uint8_t {
    read_only,
    read_write,         // must exist
    create_read_write,  // created if missing
    create_exclusive,   // must not exist
};

struct open_options {
    open_mode mode = open_mode::read_only;
    enum class direct_io : uint8_t { preferred, never } direct = direct_io::preferred;
    mode_t permissions = 0644;
};

// A slice of a buffer registered with the ring (see registered_buffer_pool).
struct fixed_buffer {
    std::span<std::byte> bytes;
    uint16_t index;
};

class file {
public:
    static task<io_result<file>> open(ring& r, std::string path, open_options options);

    file() = default;
    file(file&& other) noexcept
        : _ring(other._ring), _fd(std::exchange(other._fd, -1)), _direct(other._direct) {}
    file& operator=(file&& other) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    ~file();

    bool is_open() const noexcept { return _fd >= 0; }
    bool direct() const noexcept { return _direct; }
    int descriptor() const noexcept { return _fd; }

    // Reads until `buffer` is full or end of file; returns the bytes read.
    task<io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer);
    task<io_result<size_t>> read_at(uint64_t offset, fixed_buffer buffer);
    // Writes all of `buffer` at `offset`.
    task<io_result<void>> write_at(uint64_t offset, std::span<const std::byte> buffer);
    task<io_result<void>> write_at(uint64_t offset, fixed_buffer buffer);
    // Reserves blocks for [offset, offset + length) and extends the size.
    task<io_result<void>> allocate(uint64_t offset, uint64_t length);
    task<io_result<void>> truncate(uint64_t length);
    task<io_result<void>> sync(sync_kind kind = sync_kind::data_only);
    task<io_result<uint64_t>> size();
    task<io_result<void>> close();

private:
    file(ring& r, int fd, bool direct) : _ring(&r), _fd(fd), _direct(direct) {}
    task<io_result<size_t>> read_loop(uint64_t offset, std::span<std::byte> buffer, int index);
    task<io_result<void>> write_loop(uint64_t offset, std::span<const std::byte> buffer,
                                     int index);

    ring* _ring = nullptr;
    int _fd = -1;
    bool _direct = false;
};

// Directory and name operations, all through the ring.
task<io_result<void>> make_directory(ring& r, std::string path, mode_t permissions = 0755);
task<io_result<void>> remove_file(ring& r, std::string path);
task<io_result<void>> remove_directory(ring& r, std::string path);
task<io_result<void>> rename_file(ring& r, std::string from, std::string to);
// Makes a preceding create/rename/unlink in `directory` durable.
task<io_result<void>> sync_directory(ring& r, std::string directory);

}  // namespace tl::uring
