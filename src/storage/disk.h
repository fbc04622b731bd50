// The file system as the storage engine sees it.
//
// Storage never calls drivers/uring directly: it is handed a `disk`, so the
// crash simulator (tests/sim) can substitute one that tears writes, loses
// unsynced data and flips bits, driven by a seed. Production uses uring_disk.
//
// Contract for files with direct() == true: offsets, lengths and buffer
// addresses of write_at/read_at are multiples of direct_io_alignment.
// All calls happen on the shard that owns the disk object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/task.h"
#include "base/aligned_buffer.h"
#include "uring/buffer_pool.h"
#include "uring/file.h"
#include "uring/io_error.h"

namespace tl::storage {

using uring::io_errc;
using uring::io_error;
using uring::io_result;

// An aligned buffer for writes: taken from the shard's registered buffer pool
// when one is free and large enough (io_uring then skips pinning its pages on
// every write), otherwise allocated. Goes back to the pool when destroyed.
class io_buffer {
public:
    io_buffer() = default;
    explicit io_buffer(aligned_buffer plain) : _plain(std::move(plain)), _bytes(_plain.span()) {}
    io_buffer(uring::fixed_buffer fixed, uring::registered_buffer_pool& pool, size_t length)
        : _fixed(fixed), _pool(&pool), _bytes(fixed.bytes.first(length)) {}
    io_buffer(io_buffer&& other) noexcept
        : _plain(std::move(other._plain)),
          _fixed(other._fixed),
          _pool(std::exchange(other._pool, nullptr)),
          _bytes(std::exchange(other._bytes, {})) {}
    io_buffer& operator=(io_buffer&& other) noexcept {
        if (this != &other) {
            if (_pool != nullptr) _pool->release(_fixed);
            _plain = std::move(other._plain);
            _fixed = other._fixed;
            _pool = std::exchange(other._pool, nullptr);
            _bytes = std::exchange(other._bytes, {});
        }
        return *this;
    }
    io_buffer(const io_buffer&) = delete;
    ~io_buffer() {
        if (_pool != nullptr) _pool->release(_fixed);
    }

    std::span<std::byte> bytes() noexcept { return _bytes; }
    std::span<const std::byte> bytes() const noexcept { return _bytes; }
    // The registered buffer to use with write_fixed, if this is one.
    std::optional<uring::fixed_buffer> registered() const noexcept {
        if (_pool == nullptr) return std::nullopt;
        return uring::fixed_buffer{_bytes, _fixed.index};
    }

private:
    aligned_buffer _plain;
    uring::fixed_buffer _fixed{};
    uring::registered_buffer_pool* _pool = nullptr;
    std::span<std::byte> _bytes;
};

class disk_file {
public:
    virtual ~disk_file() = default;

    virtual bool direct() const noexcept = 0;
    virtual task<io_result<void>> write_at(uint64_t offset, std::span<const std::byte> bytes) = 0;
    // Writes all of `buffer` (registered buffers go through write_fixed).
    virtual task<io_result<void>> write_at(uint64_t offset, const io_buffer& buffer) {
        return write_at(offset, buffer.bytes());
    }
    // Reads until `buffer` is full or end of file; returns the bytes read.
    virtual task<io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer) = 0;
    // The same into an io_buffer (registered buffers go through read_fixed).
    virtual task<io_result<size_t>> read_at(uint64_t offset, io_buffer& buffer) {
        return read_at(offset, buffer.bytes());
    }
    // Makes every completed write durable (fdatasync).
    virtual task<io_result<void>> sync() = 0;
    virtual task<io_result<void>> allocate(uint64_t offset, uint64_t length) = 0;
    virtual task<io_result<void>> truncate(uint64_t length) = 0;
    virtual task<io_result<uint64_t>> size() = 0;
    virtual task<io_result<void>> close() = 0;
};

enum class direct_io : uint8_t { preferred, never };

class disk {
public:
    virtual ~disk() = default;

    virtual task<io_result<std::unique_ptr<disk_file>>> open(std::string path, uring::open_mode mode,
                                                             direct_io direct) = 0;
    virtual task<io_result<void>> make_directory(std::string path) = 0;
    virtual task<io_result<void>> remove_file(std::string path) = 0;
    virtual task<io_result<void>> remove_directory(std::string path) = 0;
    virtual task<io_result<void>> rename(std::string from, std::string to) = 0;
    // Makes creations, renames and removals in `path` durable.
    virtual task<io_result<void>> sync_directory(std::string path) = 0;
    // Names in `path` (not "." or ".."). Directory listing has no io_uring
    // operation; it runs at start-up and on rare control paths only.
    virtual io_result<std::vector<std::string>> list_directory(const std::string& path) = 0;
    // Bytes available to us on the file system holding `path`.
    virtual io_result<uint64_t> free_bytes(const std::string& path) = 0;
    // An aligned buffer of exactly `length` bytes (a multiple of
    // direct_io_alignment) for write_at and read_at.
    virtual io_buffer write_buffer(size_t length) {
        return io_buffer(aligned_buffer(align_up(length, direct_io_alignment)));
    }
};

// The production disk: io_uring on the calling shard's ring.
class uring_disk final : public disk {
public:
    // With a pool, write buffers come from its registered chunks when they fit.
    explicit uring_disk(uring::ring& r, uring::registered_buffer_pool* pool = nullptr)
        : _ring(r), _pool(pool) {}

    task<io_result<std::unique_ptr<disk_file>>> open(std::string path, uring::open_mode mode,
                                                     direct_io direct) override;
    task<io_result<void>> make_directory(std::string path) override;
    task<io_result<void>> remove_file(std::string path) override;
    task<io_result<void>> remove_directory(std::string path) override;
    task<io_result<void>> rename(std::string from, std::string to) override;
    task<io_result<void>> sync_directory(std::string path) override;
    io_result<std::vector<std::string>> list_directory(const std::string& path) override;
    io_result<uint64_t> free_bytes(const std::string& path) override;
    io_buffer write_buffer(size_t length) override;

private:
    uring::ring& _ring;
    uring::registered_buffer_pool* _pool;
};

}  // namespace tl::storage
