#include "base/crc32c.h"

#include <isa-l/crc.h>

namespace tl {

uint32_t crc32c(std::span<const std::byte> data, uint32_t crc) noexcept {
    // ISA-L works on the raw register: pre- and post-invert to get the
    // standard (reflected, ~init, ~final) CRC-32C that Kafka uses.
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    return ~crc32_iscsi(const_cast<unsigned char*>(bytes), static_cast<int>(data.size()), ~crc);
}

}  // namespace tl
