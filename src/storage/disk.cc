#include "storage/disk.h"

#include <dirent.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace tl::storage {
namespace {

class uring_file final : public disk_file {
public:
    explicit uring_file(uring::file f) : _file(std::move(f)) {}

    bool direct() const noexcept override { return _file.direct(); }
    task<io_result<void>> write_at(uint64_t offset, std::span<const std::byte> bytes) override {
        return _file.write_at(offset, bytes);
    }
    task<io_result<void>> write_at(uint64_t offset, const io_buffer& buffer) override {
        if (auto fixed = buffer.registered()) return _file.write_at(offset, *fixed);
        return _file.write_at(offset, buffer.bytes());
    }
    task<io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer) override {
        return _file.read_at(offset, buffer);
    }
    task<io_result<size_t>> read_at(uint64_t offset, io_buffer& buffer) override {
        if (auto fixed = buffer.registered()) return _file.read_at(offset, *fixed);
        return _file.read_at(offset, buffer.bytes());
    }
    task<io_result<void>> sync() override { return _file.sync(uring::sync_kind::data_only); }
    task<io_result<void>> allocate(uint64_t offset, uint64_t length) override {
        return _file.allocate(offset, length);
    }
    task<io_result<void>> truncate(uint64_t length) override { return _file.truncate(length); }
    task<io_result<uint64_t>> size() override { return _file.size(); }
    task<io_result<void>> close() override { return _file.close(); }

private:
    uring::file _file;
};

}  // namespace

task<io_result<std::unique_ptr<disk_file>>> uring_disk::open(std::string path,
                                                             uring::open_mode mode,
                                                             direct_io direct) {
    uring::open_options options{.mode = mode};
    if (direct == direct_io::never) options.direct = uring::open_options::direct_io::never;
    auto opened = co_await uring::file::open(_ring, std::move(path), options);
    if (!opened) co_return failure{opened.error()};
    co_return std::unique_ptr<disk_file>(new uring_file(std::move(*opened)));
}

task<io_result<void>> uring_disk::make_directory(std::string path) {
    return uring::make_directory(_ring, std::move(path));
}

task<io_result<void>> uring_disk::remove_file(std::string path) {
    return uring::remove_file(_ring, std::move(path));
}

task<io_result<void>> uring_disk::remove_directory(std::string path) {
    return uring::remove_directory(_ring, std::move(path));
}

task<io_result<void>> uring_disk::rename(std::string from, std::string to) {
    return uring::rename_file(_ring, std::move(from), std::move(to));
}

task<io_result<void>> uring_disk::sync_directory(std::string path) {
    return uring::sync_directory(_ring, std::move(path));
}

io_result<std::vector<std::string>> uring_disk::list_directory(const std::string& path) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return failure{uring::error_from_errno(errno)};
    std::vector<std::string> names;
    errno = 0;
    while (dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    const int read_errno = errno;
    ::closedir(dir);
    if (read_errno != 0) return failure{uring::error_from_errno(read_errno)};
    return names;
}

io_buffer uring_disk::write_buffer(size_t length) {
    const size_t aligned_length = align_up(length, direct_io_alignment);
    if (_pool != nullptr && aligned_length <= _pool->chunk_bytes()) {
        if (auto chunk = _pool->try_acquire()) return io_buffer(*chunk, *_pool, aligned_length);
    }
    return io_buffer(aligned_buffer(aligned_length));
}

io_result<uint64_t> uring_disk::free_bytes(const std::string& path) {
    struct statvfs info {};
    if (::statvfs(path.c_str(), &info) != 0) return failure{uring::error_from_errno(errno)};
    return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

}  // namespace tl::storage
