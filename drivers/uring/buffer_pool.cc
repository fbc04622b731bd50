#include "uring/buffer_pool.h"

namespace tl::uring {

io_result<std::unique_ptr<registered_buffer_pool>> registered_buffer_pool::create(
    ring& r, size_t chunk_bytes, size_t chunk_count) {
    TL_ASSERT(chunk_bytes > 0 && chunk_bytes % direct_io_alignment == 0, "4 KiB multiple");
    TL_ASSERT(chunk_count > 0 && chunk_bytes * chunk_count <= max_region_bytes, "bounded");
    aligned_buffer region(chunk_bytes * chunk_count);
    const std::span<std::byte> whole = region.span();
    auto registered = r.register_buffers(std::span(&whole, 1));
    if (!registered) return failure{registered.error()};
    return std::unique_ptr<registered_buffer_pool>(
        new registered_buffer_pool(std::move(region), chunk_bytes, chunk_count));
}

registered_buffer_pool::registered_buffer_pool(aligned_buffer region, size_t chunk_bytes,
                                               size_t chunk_count)
    : _region(std::move(region)), _chunk_bytes(chunk_bytes), _chunk_count(chunk_count) {
    _free.reserve(chunk_count);
    for (size_t i = chunk_count; i > 0; --i) _free.push_back(static_cast<uint32_t>(i - 1));
}

std::optional<fixed_buffer> registered_buffer_pool::try_acquire() noexcept {
    if (_free.empty()) return std::nullopt;
    const uint32_t chunk = _free.back();
    _free.pop_back();
    return fixed_buffer{_region.span().subspan(chunk * _chunk_bytes, _chunk_bytes), 0};
}

void registered_buffer_pool::release(fixed_buffer buffer) noexcept {
    const auto offset = static_cast<size_t>(buffer.bytes.data() - _region.data());
    TL_ASSERT(buffer.index == 0 && offset % _chunk_bytes == 0 && offset < _region.size(),
              "buffer does not belong to this pool");
    TL_ASSERT(_free.size() < _chunk_count, "double release");
    _free.push_back(static_cast<uint32_t>(offset / _chunk_bytes));
}

}  // namespace tl::uring
