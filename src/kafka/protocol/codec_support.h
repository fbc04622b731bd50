// Helpers that generated message codecs call (see src/kafka/codegen/generate.py).
// Not meant for hand-written code: use the generated decode()/encode().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "kafka/protocol/reader.h"
#include "kafka/protocol/types.h"
#include "kafka/protocol/writer.h"

namespace tl::kafka::detail {

// Elements reserved up front at most; beyond that the vector grows as
// elements actually decode, so a hostile count cannot force a large allocation.
inline constexpr size_t array_reserve_max = 64;

// Reads an array whose elements `read_element(reader&, T&)` decodes.
template <typename T, typename F>
void read_array(reader& r, std::vector<T>& out, bool compact, size_t min_element_bytes,
                F&& read_element) {
    const int32_t count = r.read_array_length(compact, min_element_bytes, false);
    out.clear();
    if (!r.ok()) return;
    out.reserve(std::min(static_cast<size_t>(count), array_reserve_max));
    for (int32_t i = 0; i < count && r.ok(); ++i) read_element(r, out.emplace_back());
}

template <typename T, typename F>
void read_nullable_array(reader& r, std::optional<std::vector<T>>& out, bool compact, bool nullable,
                         size_t min_element_bytes, F&& read_element) {
    const int32_t count = r.read_array_length(compact, min_element_bytes, nullable);
    if (!r.ok()) return;
    if (count < 0) {
        out.reset();
        return;
    }
    auto& elements = out.emplace();
    elements.reserve(std::min(static_cast<size_t>(count), array_reserve_max));
    for (int32_t i = 0; i < count && r.ok(); ++i) read_element(r, elements.emplace_back());
}

template <typename T, typename F>
void write_array(writer& w, const std::vector<T>& elements, bool compact, F&& write_element) {
    w.write_array_length(elements.size(), compact);
    for (const auto& element : elements) write_element(w, element);
}

template <typename T, typename F>
void write_nullable_array(writer& w, const std::optional<std::vector<T>>& elements, bool compact,
                          bool nullable, F&& write_element) {
    if (!elements) {
        if (!nullable) w.fail(encode_errc::null_not_allowed);
        w.write_null_array_length(compact);
        return;
    }
    write_array(w, *elements, compact, write_element);
}

// Element codecs for arrays of primitives, so that those need no lambda.
inline void read_element(reader& r, int8_t& x) {
    x = r.read_int8();
}
inline void read_element(reader& r, int16_t& x) {
    x = r.read_int16();
}
inline void read_element(reader& r, int32_t& x) {
    x = r.read_int32();
}
inline void read_element(reader& r, int64_t& x) {
    x = r.read_int64();
}
inline void read_element(reader& r, uint16_t& x) {
    x = r.read_uint16();
}
inline void read_element(reader& r, double& x) {
    x = r.read_float64();
}
inline void read_element(reader& r, uuid& x) {
    x = r.read_uuid();
}
inline void write_element(writer& w, int8_t x) {
    w.write_int8(x);
}
inline void write_element(writer& w, int16_t x) {
    w.write_int16(x);
}
inline void write_element(writer& w, int32_t x) {
    w.write_int32(x);
}
inline void write_element(writer& w, int64_t x) {
    w.write_int64(x);
}
inline void write_element(writer& w, uint16_t x) {
    w.write_uint16(x);
}
inline void write_element(writer& w, double x) {
    w.write_float64(x);
}
inline void write_element(writer& w, const uuid& x) {
    w.write_uuid(x);
}

}  // namespace tl::kafka::detail
