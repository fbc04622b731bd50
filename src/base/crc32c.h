// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic 2).
//
// Backed by ISA-L's crc32_iscsi, which folds with PCLMULQDQ and the SSE4.2
// crc32 instruction. Thread-safe, allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tl {

// Extends `crc` (the CRC of the bytes before `data`; 0 for none) over `data`.
// crc32c(b, crc32c(a)) == crc32c(a + b).
[[nodiscard]] uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0) noexcept;

[[nodiscard]] inline uint32_t crc32c(std::string_view data, uint32_t crc = 0) noexcept {
    return crc32c(std::as_bytes(std::span(data.data(), data.size())), crc);
}

}  // namespace tl
