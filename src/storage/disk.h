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
#include <span>
#include <string>
#include <vector>

#include "base/task.h"
#include "uring/file.h"
#include "uring/io_error.h"

namespace tl::storage {

using uring::io_errc;
using uring::io_error;
using uring::io_result;

class disk_file {
public:
    virtual ~disk_file() = default;

    virtual bool direct() const noexcept = 0;
    virtual task<io_result<void>> write_at(uint64_t offset, std::span<const std::byte> bytes) = 0;
    // Reads until `buffer` is full or end of file; returns the bytes read.
    virtual task<io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer) = 0;
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
};

// The production disk: io_uring on the calling shard's ring.
class uring_disk final : public disk {
public:
    explicit uring_disk(uring::ring& r) : _ring(r) {}

    task<io_result<std::unique_ptr<disk_file>>> open(std::string path, uring::open_mode mode,
                                                     direct_io direct) override;
    task<io_result<void>> make_directory(std::string path) override;
    task<io_result<void>> remove_file(std::string path) override;
    task<io_result<void>> remove_directory(std::string path) override;
    task<io_result<void>> rename(std::string from, std::string to) override;
    task<io_result<void>> sync_directory(std::string path) override;
    io_result<std::vector<std::string>> list_directory(const std::string& path) override;
    io_result<uint64_t> free_bytes(const std::string& path) override;

private:
    uring::ring& _ring;
};

}  // namespace tl::storage
