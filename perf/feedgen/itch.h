// ITCH-5.0-like message bodies (Nasdaq TotalView-ITCH 5.0 layouts, sizes and
// field order, big-endian): enough of an order book's life — adds, executions,
// cancels, deletes, non-displayable trades — over a configurable number of
// instruments that key partitioning by the stock locate (offset 1, 2 bytes)
// spreads records the way a real feed does. Not a market simulation.
//
// Thread safety: an itch_source belongs to one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace tl::feedgen {

enum class itch_type : char {
    add_order = 'A',       // 36 bytes
    order_executed = 'E',  // 31 bytes
    order_cancel = 'X',    // 23 bytes
    order_delete = 'D',    // 19 bytes
    trade = 'P',           // 44 bytes (non-cross)
};

constexpr size_t itch_message_bytes(itch_type type) noexcept {
    switch (type) {
        case itch_type::add_order:
            return 36;
        case itch_type::order_executed:
            return 31;
        case itch_type::order_cancel:
            return 23;
        case itch_type::order_delete:
            return 19;
        case itch_type::trade:
            return 44;
    }
    return 0;
}
constexpr size_t itch_max_message_bytes = 44;
constexpr size_t itch_stock_locate_offset = 1;  // u16 BE in every message
constexpr size_t itch_stock_locate_bytes = 2;
constexpr uint16_t itch_max_instruments = 65535;

// The 8-character, space-padded symbol of stock locate `locate` (1-based):
// 1 → "AAAA    ", 2 → "AAAB    ", ...
std::array<char, 8> itch_symbol_of(uint16_t locate) noexcept;

class itch_source {
public:
    // Live orders kept for executions, cancels and deletes; a named bound so
    // that the source never grows.
    static constexpr size_t max_live_orders = 4096;

    explicit itch_source(uint16_t instruments);

    // Writes the next message into `out` (at least itch_max_message_bytes)
    // and returns its length. `timestamp_ns` is nanoseconds since midnight.
    size_t next(std::span<std::byte> out, uint64_t timestamp_ns, std::mt19937_64& random);

private:
    struct live_order {
        uint64_t reference;
        uint16_t locate;
        char side;
        uint32_t shares;
        uint32_t price;
    };

    size_t add_order(std::byte* out, uint64_t timestamp_ns, std::mt19937_64& random);
    void write_prefix(std::byte* out, itch_type type, uint16_t locate, uint64_t timestamp_ns);
    void remove_live(size_t index);

    uint16_t _instruments;
    uint16_t _tracking_number = 0;
    uint64_t _next_order_reference = 1;
    uint64_t _next_match_number = 1;
    std::vector<live_order> _live;  // capacity max_live_orders, reserved once
};

// A fixed-size opaque message: 'Z', the instrument (u16 BE, same offset as
// ITCH's stock locate), then as much of the message's sequence number
// (u64 BE) as fits, then pseudo-random filler.
void write_opaque_message(std::span<std::byte> out, uint16_t instrument, uint64_t sequence,
                          std::mt19937_64& random) noexcept;

}  // namespace tl::feedgen
