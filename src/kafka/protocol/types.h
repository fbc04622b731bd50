// Value types of the Kafka wire format that the standard library lacks.
//
// bytes_view is a non-owning view, like std::string_view: decoded messages
// hold views into the frame they were decoded from (see reader.h), and
// messages built for encoding hold views into whatever the caller keeps alive
// until encode() returns. Unlike std::span it compares by content, so that
// generated messages can default their operator==.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tl::kafka {

// A 16-byte UUID (topic ids), in wire order. All zeros is Kafka's "no id".
struct uuid {
    std::array<std::byte, 16> bytes{};
    bool operator==(const uuid&) const = default;
};

class bytes_view {
public:
    constexpr bytes_view() noexcept = default;
    constexpr bytes_view(std::span<const std::byte> data) noexcept : _data(data) {}  // NOLINT
    // The bytes of a string, for tests and for fields that carry text as bytes.
    static bytes_view of_text(std::string_view text) noexcept {
        return bytes_view(std::as_bytes(std::span(text.data(), text.size())));
    }

    [[nodiscard]] constexpr std::span<const std::byte> span() const noexcept { return _data; }
    [[nodiscard]] constexpr const std::byte* data() const noexcept { return _data.data(); }
    [[nodiscard]] constexpr size_t size() const noexcept { return _data.size(); }
    [[nodiscard]] constexpr bool empty() const noexcept { return _data.empty(); }

    friend bool operator==(const bytes_view& a, const bytes_view& b) noexcept {
        return std::ranges::equal(a._data, b._data);
    }

private:
    std::span<const std::byte> _data;
};

}  // namespace tl::kafka
