#include "feed/moldudp64.h"

#include <cstring>

#include "feed/byte_order.h"

namespace tl::feed {

std::string_view name(mold_status status) noexcept {
    switch (status) {
        case mold_status::ok: return "ok";
        case mold_status::truncated: return "truncated";
        case mold_status::bad_message_length: return "bad_message_length";
        case mold_status::trailing_bytes: return "trailing_bytes";
    }
    return "unknown";
}

mold_status parse_moldudp64(std::span<const std::byte> payload, mold_packet& out) noexcept {
    if (payload.size() < mold_header_bytes) return mold_status::truncated;
    std::memcpy(out.session.data(), payload.data(), mold_session_bytes);
    out.sequence = detail::load_be64(payload.data() + mold_session_bytes);
    out.count = detail::load_be16(payload.data() + mold_session_bytes + 8);
    const std::span<const std::byte> blocks = payload.subspan(mold_header_bytes);
    out.messages = blocks;
    const uint16_t count = out.message_count();
    size_t at = 0;
    for (uint16_t i = 0; i < count; ++i) {
        if (blocks.size() - at < mold_length_prefix_bytes) return mold_status::truncated;
        const size_t length = detail::load_be16(blocks.data() + at);
        at += mold_length_prefix_bytes;
        if (blocks.size() - at < length) return mold_status::bad_message_length;
        at += length;
    }
    if (at != blocks.size()) return mold_status::trailing_bytes;
    return mold_status::ok;
}

}  // namespace tl::feed
