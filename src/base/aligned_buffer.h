// An owning, fixed-size byte buffer aligned for O_DIRECT I/O.
//
// Allocation happens once, at construction; the buffer never grows. Move-only.
// Memory is freed by whichever thread destroys it: buffers that cross shards
// travel inside reactor::foreign_ptr so that they are destroyed at home.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>

#include "base/assert.h"

namespace tl {

inline constexpr size_t direct_io_alignment = 4096;

[[nodiscard]] constexpr size_t align_up(size_t value, size_t alignment) noexcept {
    return (value + alignment - 1) / alignment * alignment;
}
[[nodiscard]] constexpr size_t align_down(size_t value, size_t alignment) noexcept {
    return value / alignment * alignment;
}

class aligned_buffer {
public:
    aligned_buffer() = default;
    explicit aligned_buffer(size_t size, size_t alignment = direct_io_alignment)
        : _size(size) {
        TL_ASSERT(alignment != 0 && (alignment & (alignment - 1)) == 0, "power of two");
        if (size != 0) {
            _data = static_cast<std::byte*>(std::aligned_alloc(alignment, align_up(size, alignment)));
            TL_ASSERT(_data != nullptr, "out of memory");
        }
    }
    aligned_buffer(aligned_buffer&& other) noexcept
        : _data(std::exchange(other._data, nullptr)), _size(std::exchange(other._size, 0)) {}
    aligned_buffer& operator=(aligned_buffer&& other) noexcept {
        if (this != &other) {
            std::free(_data);
            _data = std::exchange(other._data, nullptr);
            _size = std::exchange(other._size, 0);
        }
        return *this;
    }
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    ~aligned_buffer() { std::free(_data); }

    std::byte* data() noexcept { return _data; }
    const std::byte* data() const noexcept { return _data; }
    size_t size() const noexcept { return _size; }
    std::span<std::byte> span() noexcept { return {_data, _size}; }
    std::span<const std::byte> span() const noexcept { return {_data, _size}; }

private:
    std::byte* _data = nullptr;
    size_t _size = 0;
};

}  // namespace tl
