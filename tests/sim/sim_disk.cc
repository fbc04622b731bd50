#include "sim/sim_disk.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/aligned_buffer.h"

namespace tl::sim {

using storage::io_errc;
using storage::io_error;
using storage::io_result;

namespace {

io_error error(io_errc code, int sys_errno) { return io_error{code, sys_errno}; }

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

bool aligned(uint64_t offset, size_t length, const void* address) {
    return offset % direct_io_alignment == 0 && length % direct_io_alignment == 0 &&
           reinterpret_cast<uintptr_t>(address) % direct_io_alignment == 0;
}

void apply_write(std::vector<std::byte>& image, uint64_t offset, std::span<const std::byte> bytes) {
    if (image.size() < offset + bytes.size()) image.resize(offset + bytes.size());
    std::copy(bytes.begin(), bytes.end(), image.begin() + static_cast<ptrdiff_t>(offset));
}

}  // namespace

class sim_file final : public storage::disk_file {
public:
    sim_file(sim_disk& disk, std::shared_ptr<sim_disk::file_state> state, bool direct,
             bool writable)
        : _disk(disk),
          _state(std::move(state)),
          _generation(_state->generation),
          _direct(direct),
          _writable(writable) {}

    bool direct() const noexcept override { return _direct; }

    task<io_result<void>> write_at(uint64_t offset, std::span<const std::byte> bytes) override {
        co_await _disk.io_point();
        if (auto bad = check(offset, bytes.size(), bytes.data(), true)) co_return failure{*bad};
        if (_disk._full) co_return failure{error(io_errc::no_space, ENOSPC)};
        apply_write(_state->current, offset, bytes);
        _state->unsynced.push_back({sim_disk::unsynced_op::kind::write, offset,
                                    std::vector<std::byte>(bytes.begin(), bytes.end())});
        co_return io_result<void>{};
    }

    task<io_result<size_t>> read_at(uint64_t offset, std::span<std::byte> buffer) override {
        co_await _disk.io_point();
        if (auto bad = check(offset, buffer.size(), buffer.data(), false)) co_return failure{*bad};
        const auto& image = _state->current;
        if (offset >= image.size()) co_return size_t{0};
        const size_t count = std::min<size_t>(buffer.size(), image.size() - offset);
        std::memcpy(buffer.data(), image.data() + offset, count);
        co_return count;
    }

    task<io_result<void>> sync() override {
        co_await _disk.io_point();
        if (stale()) co_return failure{error(io_errc::bad_descriptor, EBADF)};
        _state->durable = _state->current;
        _state->unsynced.clear();
        co_return io_result<void>{};
    }

    task<io_result<void>> allocate(uint64_t offset, uint64_t length) override {
        co_await _disk.io_point();
        if (stale() || !_writable) co_return failure{error(io_errc::bad_descriptor, EBADF)};
        if (_disk._full) co_return failure{error(io_errc::no_space, ENOSPC)};
        if (_state->current.size() < offset + length) resize(offset + length);
        co_return io_result<void>{};
    }

    task<io_result<void>> truncate(uint64_t length) override {
        co_await _disk.io_point();
        if (stale() || !_writable) co_return failure{error(io_errc::bad_descriptor, EBADF)};
        resize(length);
        co_return io_result<void>{};
    }

    task<io_result<uint64_t>> size() override {
        co_await _disk.io_point();
        if (stale()) co_return failure{error(io_errc::bad_descriptor, EBADF)};
        co_return static_cast<uint64_t>(_state->current.size());
    }

    task<io_result<void>> close() override {
        co_await _disk.io_point();
        co_return io_result<void>{};
    }

private:
    bool stale() const noexcept { return _generation != _state->generation; }

    std::optional<io_error> check(uint64_t offset, size_t length, const void* address,
                                  bool writing) const {
        if (stale()) return error(io_errc::bad_descriptor, EBADF);
        if (writing && !_writable) return error(io_errc::bad_descriptor, EBADF);
        if (_direct && !aligned(offset, length, address)) {
            return error(io_errc::invalid_argument, EINVAL);
        }
        return std::nullopt;
    }

    void resize(uint64_t length) {
        _state->current.resize(length);
        _state->unsynced.push_back({sim_disk::unsynced_op::kind::resize, length, {}});
    }

    sim_disk& _disk;
    std::shared_ptr<sim_disk::file_state> _state;
    uint64_t _generation;
    bool _direct;
    bool _writable;
};

task<io_result<std::unique_ptr<storage::disk_file>>> sim_disk::open(std::string path,
                                                                    uring::open_mode mode,
                                                                    storage::direct_io direct) {
    co_await io_point();
    if (!_directories.contains(parent_of(path))) {
        co_return failure{error(io_errc::not_found, ENOENT)};
    }
    auto found = _files.find(path);
    const bool creates = mode == uring::open_mode::create_read_write ||
                         mode == uring::open_mode::create_exclusive;
    if (found == _files.end()) {
        if (!creates) co_return failure{error(io_errc::not_found, ENOENT)};
        found = _files.emplace(path, std::make_shared<file_state>()).first;
        found->second->generation = _generation;
    } else if (mode == uring::open_mode::create_exclusive) {
        co_return failure{error(io_errc::already_exists, EEXIST)};
    }
    const bool writable = mode != uring::open_mode::read_only;
    co_return std::unique_ptr<storage::disk_file>(
        new sim_file(*this, found->second, direct == storage::direct_io::preferred, writable));
}

task<io_result<void>> sim_disk::make_directory(std::string path) {
    co_await io_point();
    if (_directories.contains(path)) co_return failure{error(io_errc::already_exists, EEXIST)};
    if (path.find('/') != std::string::npos && !_directories.contains(parent_of(path))) {
        co_return failure{error(io_errc::not_found, ENOENT)};
    }
    _directories[path] = true;
    co_return io_result<void>{};
}

task<io_result<void>> sim_disk::remove_file(std::string path) {
    co_await io_point();
    if (_files.erase(path) == 0) co_return failure{error(io_errc::not_found, ENOENT)};
    co_return io_result<void>{};
}

task<io_result<void>> sim_disk::remove_directory(std::string path) {
    co_await io_point();
    if (!_directories.contains(path)) co_return failure{error(io_errc::not_found, ENOENT)};
    const std::string prefix = path + "/";
    for (const auto& [name, state] : _files) {
        if (name.starts_with(prefix)) co_return failure{error(io_errc::other, ENOTEMPTY)};
    }
    _directories.erase(path);
    co_return io_result<void>{};
}

task<io_result<void>> sim_disk::rename(std::string from, std::string to) {
    co_await io_point();
    auto found = _files.find(from);
    if (found == _files.end()) co_return failure{error(io_errc::not_found, ENOENT)};
    auto state = found->second;
    _files.erase(found);
    _files[to] = std::move(state);
    co_return io_result<void>{};
}

task<io_result<void>> sim_disk::sync_directory(std::string path) {
    co_await io_point();
    if (!_directories.contains(path)) co_return failure{error(io_errc::not_found, ENOENT)};
    co_return io_result<void>{};
}

io_result<std::vector<std::string>> sim_disk::list_directory(const std::string& path) {
    if (!_directories.contains(path)) return failure{error(io_errc::not_found, ENOENT)};
    std::vector<std::string> names;
    const std::string prefix = path + "/";
    for (const auto& [name, state] : _files) {
        if (name.starts_with(prefix) && name.find('/', prefix.size()) == std::string::npos) {
            names.push_back(name.substr(prefix.size()));
        }
    }
    for (const auto& [name, exists] : _directories) {
        if (name.starts_with(prefix) && name.find('/', prefix.size()) == std::string::npos) {
            names.push_back(name.substr(prefix.size()));
        }
    }
    return names;
}

io_result<uint64_t> sim_disk::free_bytes(const std::string&) { return _free_bytes; }

void sim_disk::crash() {
    ++_generation;
    auto& random = _executor.random();
    for (auto& [name, state] : _files) {
        std::vector<std::byte> image = state->durable;
        // Keep a random prefix of the unsynced operations (the kernel may
        // have written back any prefix); tear the last kept write.
        const size_t kept = state->unsynced.empty() ? 0 : random() % (state->unsynced.size() + 1);
        for (size_t i = 0; i < kept; ++i) {
            const auto& op = state->unsynced[i];
            if (op.type == unsynced_op::kind::resize) {
                image.resize(op.offset);
                continue;
            }
            std::span<const std::byte> bytes(op.bytes);
            if (i + 1 == kept && !bytes.empty()) bytes = bytes.first(random() % (bytes.size() + 1));
            apply_write(image, op.offset, bytes);
        }
        state->current = image;
        state->durable = std::move(image);
        state->unsynced.clear();
        state->generation = _generation;
    }
}

void sim_disk::flip_bits(size_t count, const std::string& path_filter) {
    std::vector<file_state*> candidates;
    for (auto& [name, state] : _files) {
        if (name.find(path_filter) != std::string::npos && !state->durable.empty()) {
            candidates.push_back(state.get());
        }
    }
    if (candidates.empty()) return;
    auto& random = _executor.random();
    for (size_t i = 0; i < count; ++i) {
        file_state* state = candidates[random() % candidates.size()];
        const size_t at = random() % state->durable.size();
        const auto bit = static_cast<std::byte>(1u << (random() % 8));
        state->durable[at] ^= bit;
        if (at < state->current.size()) state->current[at] ^= bit;
    }
}

const std::vector<std::byte>* sim_disk::contents(const std::string& path) const {
    auto found = _files.find(path);
    return found == _files.end() ? nullptr : &found->second->current;
}

}  // namespace tl::sim
