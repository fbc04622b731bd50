// Fixed-size I/O buffers carved out of one region registered with a ring.
//
// Sized once at start-up (chunk size × count, both bounded); acquire/release
// never allocate. Chunks are 4 KiB aligned, so they serve O_DIRECT and
// io_uring's *_fixed operations (no per-I/O page pinning). The pool belongs to
// the ring's shard; chunks must be released on that shard.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "base/aligned_buffer.h"
#include "uring/file.h"
#include "uring/ring.h"

namespace tl::uring {

class registered_buffer_pool {
public:
    static constexpr size_t max_region_bytes = size_t{1} << 32;

    // Registers the region as fixed buffer `buffer_index` 0 of `r`.
    static io_result<std::unique_ptr<registered_buffer_pool>> create(ring& r, size_t chunk_bytes,
                                                                     size_t chunk_count);

    std::optional<fixed_buffer> try_acquire() noexcept;
    void release(fixed_buffer buffer) noexcept;

    size_t chunk_bytes() const noexcept { return _chunk_bytes; }
    size_t available() const noexcept { return _free.size(); }
    size_t capacity() const noexcept { return _chunk_count; }

private:
    registered_buffer_pool(aligned_buffer region, size_t chunk_bytes, size_t chunk_count);

    aligned_buffer _region;
    size_t _chunk_bytes;
    size_t _chunk_count;
    std::vector<uint32_t> _free;  // chunk numbers, used as a stack
};

}  // namespace tl::uring
