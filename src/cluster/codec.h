// Big-endian binary writing and strictly bounds-checked reading, shared by
// the metadata file (metadata_store.cc), the metadata log's records
// (metadata_records.cc) and the state machine's snapshots. Internal to
// src/cluster.
//
// A reader never reads outside its span: every read checks the bytes left,
// and the first problem sticks (later reads return zero values), so a
// decoder reads straight through and checks ok() once at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/strings/str_format.h>

#include "base/assert.h"

namespace tl::cluster::codec {

class writer {
public:
    void u8(uint8_t v) { integer(v, 1); }
    void u16(uint16_t v) { integer(v, 2); }
    void i16(int16_t v) { integer(static_cast<uint16_t>(v), 2); }
    void u32(uint32_t v) { integer(v, 4); }
    void i32(int32_t v) { integer(static_cast<uint32_t>(v), 4); }
    void i64(int64_t v) { integer(static_cast<uint64_t>(v), 8); }
    void u64(uint64_t v) { integer(v, 8); }
    void raw(std::span<const std::byte> bytes) {
        out.insert(out.end(), bytes.begin(), bytes.end());
    }
    void short_string(std::string_view s) {
        TL_ASSERT(s.size() <= UINT16_MAX);
        u16(static_cast<uint16_t>(s.size()));
        raw(std::as_bytes(std::span(s.data(), s.size())));
    }
    void long_string(std::string_view s) {
        TL_ASSERT(s.size() <= UINT32_MAX);
        u32(static_cast<uint32_t>(s.size()));
        raw(std::as_bytes(std::span(s.data(), s.size())));
    }
    void put_u32_at(size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i) out[at + i] = static_cast<std::byte>(v >> (8 * (3 - i)));
    }

    std::vector<std::byte> out;

private:
    void integer(uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
    }
};

// ---- decoding: every read is bounds-checked; the first problem sticks ----

class reader {
public:
    explicit reader(std::span<const std::byte> bytes) : _bytes(bytes) {}

    bool ok() const noexcept { return _problem.empty(); }
    const std::string& problem() const noexcept { return _problem; }
    size_t remaining() const noexcept { return _bytes.size() - _position; }
    void fail(std::string problem) {
        if (_problem.empty()) _problem = std::move(problem);
    }

    uint64_t integer(int bytes, std::string_view what) {
        if (!take(static_cast<size_t>(bytes), what)) return 0;
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) {
            v = (v << 8) | std::to_integer<uint64_t>(_bytes[_position - bytes + i]);
        }
        return v;
    }
    uint8_t u8(std::string_view what) { return static_cast<uint8_t>(integer(1, what)); }
    uint16_t u16(std::string_view what) { return static_cast<uint16_t>(integer(2, what)); }
    int16_t i16(std::string_view what) { return static_cast<int16_t>(u16(what)); }
    uint32_t u32(std::string_view what) { return static_cast<uint32_t>(integer(4, what)); }
    int32_t i32(std::string_view what) { return static_cast<int32_t>(u32(what)); }
    int64_t i64(std::string_view what) { return static_cast<int64_t>(integer(8, what)); }
    uint64_t u64(std::string_view what) { return integer(8, what); }
    std::string string(size_t length, std::string_view what) {
        if (!take(length, what)) return {};
        return std::string(reinterpret_cast<const char*>(_bytes.data() + _position - length),
                           length);
    }
    std::span<const std::byte> bytes(size_t length, std::string_view what) {
        if (!take(length, what)) return {};
        return _bytes.subspan(_position - length, length);
    }

private:
    bool take(size_t length, std::string_view what) {
        if (!ok()) return false;
        if (length > remaining()) {
            fail(absl::StrFormat("truncated: %s needs %d bytes at offset %d, %d left", what, length,
                                 _position, remaining()));
            return false;
        }
        _position += length;
        return true;
    }

    std::span<const std::byte> _bytes;
    size_t _position = 0;
    std::string _problem;
};

}  // namespace tl::cluster::codec
