#include "perf/feedgen/itch.h"

#include <algorithm>

#include "base/assert.h"
#include "perf/feedgen/bytes.h"

namespace tl::feedgen {
namespace {

constexpr uint32_t price_tick = 100;  // $0.01 in ITCH's 4 implied decimals

// Percent of messages of each type while orders are live (real feeds are
// dominated by adds and deletes).
constexpr int weight_add = 40;
constexpr int weight_executed = 15;
constexpr int weight_cancel = 10;
constexpr int weight_delete = 30;
static_assert(weight_add + weight_executed + weight_cancel + weight_delete < 100);  // rest: P

uint32_t base_price_of(uint16_t locate) noexcept {
    return (10 + static_cast<uint32_t>(locate) % 490) * 10'000;  // $10..$499
}

}  // namespace

std::array<char, 8> itch_symbol_of(uint16_t locate) noexcept {
    TL_ASSERT(locate >= 1);
    std::array<char, 8> symbol;
    symbol.fill(' ');
    uint32_t index = locate - 1u;
    for (int i = 3; i >= 0; --i) {
        symbol[static_cast<size_t>(i)] = static_cast<char>('A' + index % 26);
        index /= 26;
    }
    return symbol;
}

itch_source::itch_source(uint16_t instruments) : _instruments(instruments) {
    TL_ASSERT(instruments >= 1);
    _live.reserve(max_live_orders);
}

void itch_source::write_prefix(std::byte* out, itch_type type, uint16_t locate,
                               uint64_t timestamp_ns) {
    out[0] = static_cast<std::byte>(type);
    store_be<2>(out + 1, locate);
    store_be<2>(out + 3, _tracking_number++);
    store_be<6>(out + 5, timestamp_ns);
}

void itch_source::remove_live(size_t index) {
    TL_ASSERT(index < _live.size());
    _live[index] = _live.back();
    _live.pop_back();
}

size_t itch_source::add_order(std::byte* out, uint64_t timestamp_ns, std::mt19937_64& random) {
    const auto locate = static_cast<uint16_t>(1 + random() % _instruments);
    const live_order order{
        _next_order_reference++, locate, random() % 2 == 0 ? 'B' : 'S',
        static_cast<uint32_t>(100 * (1 + random() % 10)),
        base_price_of(locate) + static_cast<uint32_t>(random() % 200) * price_tick};
    TL_ASSERT(_live.size() < max_live_orders);
    _live.push_back(order);
    write_prefix(out, itch_type::add_order, locate, timestamp_ns);
    store_be<8>(out + 11, order.reference);
    out[19] = static_cast<std::byte>(order.side);
    store_be<4>(out + 20, order.shares);
    const std::array<char, 8> symbol = itch_symbol_of(locate);
    for (size_t i = 0; i < symbol.size(); ++i) out[24 + i] = static_cast<std::byte>(symbol[i]);
    store_be<4>(out + 32, order.price);
    return itch_message_bytes(itch_type::add_order);
}

size_t itch_source::next(std::span<std::byte> out, uint64_t timestamp_ns, std::mt19937_64& random) {
    TL_ASSERT(out.size() >= itch_max_message_bytes);
    std::byte* p = out.data();
    const int roll = static_cast<int>(random() % 100);
    if (_live.empty() || (roll < weight_add && _live.size() < max_live_orders)) {
        return add_order(p, timestamp_ns, random);
    }
    const size_t index = random() % _live.size();
    live_order& order = _live[index];
    const bool full = _live.size() == max_live_orders;
    if (full || (roll >= weight_add + weight_executed + weight_cancel &&
                 roll < weight_add + weight_executed + weight_cancel + weight_delete)) {
        write_prefix(p, itch_type::order_delete, order.locate, timestamp_ns);
        store_be<8>(p + 11, order.reference);
        remove_live(index);
        return itch_message_bytes(itch_type::order_delete);
    }
    if (roll >= weight_add && roll < weight_add + weight_executed + weight_cancel) {
        // An execution or a cancel of part (or all) of the order.
        const bool executed = roll < weight_add + weight_executed;
        const auto shares =
            std::min<uint32_t>(order.shares, static_cast<uint32_t>(100 * (1 + random() % 5)));
        const itch_type type = executed ? itch_type::order_executed : itch_type::order_cancel;
        write_prefix(p, type, order.locate, timestamp_ns);
        store_be<8>(p + 11, order.reference);
        store_be<4>(p + 19, shares);
        if (executed) store_be<8>(p + 23, _next_match_number++);
        order.shares -= shares;
        if (order.shares == 0) remove_live(index);
        return itch_message_bytes(type);
    }
    // A trade against a non-displayed order: order reference 0, as Nasdaq sends.
    const auto locate = static_cast<uint16_t>(1 + random() % _instruments);
    write_prefix(p, itch_type::trade, locate, timestamp_ns);
    store_be<8>(p + 11, 0);
    p[19] = static_cast<std::byte>(random() % 2 == 0 ? 'B' : 'S');
    store_be<4>(p + 20, static_cast<uint32_t>(100 * (1 + random() % 10)));
    const std::array<char, 8> symbol = itch_symbol_of(locate);
    for (size_t i = 0; i < symbol.size(); ++i) p[24 + i] = static_cast<std::byte>(symbol[i]);
    store_be<4>(p + 32, base_price_of(locate) + static_cast<uint32_t>(random() % 200) * price_tick);
    store_be<8>(p + 36, _next_match_number++);
    return itch_message_bytes(itch_type::trade);
}

void write_opaque_message(std::span<std::byte> out, uint16_t instrument, uint64_t sequence,
                          std::mt19937_64& random) noexcept {
    std::array<std::byte, 11> head{};
    head[0] = std::byte{'Z'};
    store_be<2>(head.data() + 1, instrument);
    store_be<8>(head.data() + 3, sequence);
    const size_t head_bytes = std::min(out.size(), head.size());
    std::copy_n(head.begin(), head_bytes, out.begin());
    uint64_t word = 0;
    for (size_t i = head_bytes; i < out.size(); ++i) {
        if ((i - head_bytes) % 8 == 0) word = random();
        out[i] = static_cast<std::byte>('a' + (word >> (8 * ((i - head_bytes) % 8))) % 26);
    }
}

}  // namespace tl::feedgen
