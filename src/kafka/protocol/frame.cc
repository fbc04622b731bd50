#include "kafka/protocol/frame.h"

#include "base/assert.h"

namespace tl::kafka {

namespace {

bool flexible_at(const api_schema& api, int16_t api_version) noexcept {
    return api.first_flexible_version >= 0 && api_version >= api.first_flexible_version;
}

}  // namespace

int16_t request_header_version(int16_t api_key, int16_t api_version) noexcept {
    const api_schema* api = find_api_schema(api_key);
    if (api == nullptr) return -1;
    return flexible_at(*api, api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) noexcept {
    const api_schema* api = find_api_schema(api_key);
    if (api == nullptr) return -1;
    if (api_key == api_keys::api_versions) return 0;
    return flexible_at(*api, api_version) ? 1 : 0;
}

result<request_id, decode_error> peek_request_id(std::span<const std::byte> frame) noexcept {
    reader r(frame);
    request_id id;
    id.api_key = r.read_int16();
    id.api_version = r.read_int16();
    id.correlation_id = r.read_int32();
    if (!r.ok()) return failure{r.error()};
    return id;
}

result<request_frame, decode_error> parse_request_frame(std::span<const std::byte> frame) {
    auto id = peek_request_id(frame);
    if (!id) return failure{id.error()};
    const int16_t header_version = request_header_version(id->api_key, id->api_version);
    if (header_version < 0) return failure{decode_error{decode_errc::unknown_api_key, 0}};
    reader r(frame);
    auto header = request_header::decode(r, header_version);
    if (!header) return failure{header.error()};
    request_frame out;
    out.header = std::move(header).value();
    out.header_version = header_version;
    out.body_offset = r.position();
    out.body = r.rest();
    return out;
}

namespace detail {

void finish_frame(writer& w, size_t start) {
    TL_ASSERT(w.size() >= start + frame_size_prefix_bytes, "finish_frame before its start");
    const size_t size = w.size() - start - frame_size_prefix_bytes;
    if (size > INT32_MAX) {
        w.fail(encode_errc::value_too_long);
        return;
    }
    w.patch_int32(start, static_cast<int32_t>(size));
}

}  // namespace detail

}  // namespace tl::kafka
