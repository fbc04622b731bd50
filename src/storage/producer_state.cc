#include "storage/producer_state.h"

#include <algorithm>
#include <limits>

#include "base/crc32c.h"

namespace tl::storage {
namespace {

constexpr std::array<std::byte, 4> snapshot_magic{std::byte{'T'}, std::byte{'L'}, std::byte{'P'},
                                                  std::byte{'S'}};
constexpr uint16_t snapshot_version = 1;
// magic, version, flags, crc
constexpr size_t snapshot_header_bytes = 4 + 2 + 2 + 4;
constexpr size_t snapshot_fixed_bytes = 8 + 4;  // offset, producer count
constexpr size_t producer_fixed_bytes = 8 + 2 + 8 + 1;
constexpr size_t batch_bytes = 4 + 4 + 8 + 8 + 8;

bool in_sequence(int32_t last_sequence, int32_t next_sequence) noexcept {
    return (last_sequence == std::numeric_limits<int32_t>::max() && next_sequence == 0) ||
           int64_t{next_sequence} == int64_t{last_sequence} + 1;
}

class writer {
public:
    explicit writer(std::vector<std::byte>& out) : _out(out) {}
    template <typename T>
    void put(T value) {
        const auto bits = static_cast<uint64_t>(value);
        for (size_t i = sizeof(T); i-- > 0;) {
            _out.push_back(static_cast<std::byte>((bits >> (8 * i)) & 0xff));
        }
    }

private:
    std::vector<std::byte>& _out;
};

class reader {
public:
    explicit reader(std::span<const std::byte> in) : _in(in) {}
    template <typename T>
    bool get(T& value) {
        if (_in.size() - _at < sizeof(T)) return false;
        uint64_t bits = 0;
        for (size_t i = 0; i < sizeof(T); ++i) {
            bits = (bits << 8) | static_cast<uint8_t>(_in[_at + i]);
        }
        _at += sizeof(T);
        value = static_cast<T>(bits);
        return true;
    }
    [[nodiscard]] size_t remaining() const noexcept { return _in.size() - _at; }

private:
    std::span<const std::byte> _in;
    size_t _at = 0;
};

}  // namespace

std::string_view name(sequence_verdict v) noexcept {
    switch (v) {
        case sequence_verdict::append: return "append";
        case sequence_verdict::duplicate: return "duplicate";
        case sequence_verdict::old_duplicate: return "old duplicate";
        case sequence_verdict::out_of_order: return "out of order sequence";
        case sequence_verdict::stale_epoch: return "stale producer epoch";
        case sequence_verdict::unknown_producer: return "unknown producer id";
    }
    return "?";
}

int32_t increment_sequence(int32_t sequence, int32_t increment) noexcept {
    constexpr int32_t max = std::numeric_limits<int32_t>::max();
    if (sequence > max - increment) return increment - (max - sequence) - 1;
    return sequence + increment;
}

sequence_check producer_state::check(const batch_header& header) const {
    if (!header.has_producer_id()) return {};
    const int32_t first = header.base_sequence;
    const int32_t last = header.last_sequence();
    const auto it = _producers.find(header.producer_id);
    if (it == _producers.end()) {
        // Nothing known: only the start of a sequence is believable.
        if (first != 0) return {sequence_verdict::unknown_producer, {}};
        return {};
    }
    const producer_entry& e = it->second;
    if (header.producer_epoch < e.epoch) return {sequence_verdict::stale_epoch, {}};
    if (header.producer_epoch > e.epoch) {
        // An epoch bump restarts the sequence.
        if (first != 0) return {sequence_verdict::out_of_order, {}};
        return {};
    }
    for (uint8_t i = 0; i < e.count; ++i) {
        const producer_batch& b = e.batches[i];
        if (b.first_sequence == first && b.last_sequence == last) {
            return {sequence_verdict::duplicate, b};
        }
    }
    if (in_sequence(e.last().last_sequence, first)) return {};
    // Wholly before everything kept — at most half the sequence space behind
    // it, so a wrapped sequence is not mistaken for an old one: a retry of a
    // batch whose offsets we no longer know.
    constexpr int64_t modulus = int64_t{std::numeric_limits<int32_t>::max()} + 1;
    const int64_t behind =
        ((int64_t{e.batches[0].first_sequence} - last) % modulus + modulus) % modulus;
    if (first <= last && behind > 0 && behind <= modulus / 2) {
        return {sequence_verdict::old_duplicate, {}};
    }
    return {sequence_verdict::out_of_order, {}};
}

void producer_state::record(const batch_header& header, int64_t base_offset,
                            int64_t last_offset, int64_t append_time_ms, int64_t now_ms) {
    if (!header.has_producer_id()) return;
    producer_entry& e = _producers[header.producer_id];
    if (header.producer_epoch != e.epoch) {
        e.epoch = header.producer_epoch;
        e.count = 0;
    }
    if (e.count == producer_batches_kept) {
        std::move(e.batches.begin() + 1, e.batches.end(), e.batches.begin());
        --e.count;
    }
    e.batches[e.count++] = producer_batch{header.base_sequence, header.last_sequence(),
                                          base_offset, last_offset, append_time_ms};
    e.last_activity_ms = std::max(e.last_activity_ms, now_ms);
}

void producer_state::truncate_from(int64_t offset) {
    for (auto it = _producers.begin(); it != _producers.end();) {
        producer_entry& e = it->second;
        while (e.count > 0 && e.batches[e.count - 1].last_offset >= offset) --e.count;
        it = e.count == 0 ? _producers.erase(it) : std::next(it);
    }
}

size_t producer_state::evict_below(int64_t log_start_offset) {
    return std::erase_if(_producers, [log_start_offset](const auto& item) {
        return item.second.last().last_offset < log_start_offset;
    });
}

size_t producer_state::expire(int64_t now_ms, int64_t max_idle_ms) {
    return std::erase_if(_producers, [now_ms, max_idle_ms](const auto& item) {
        return now_ms - item.second.last_activity_ms >= max_idle_ms;
    });
}

const producer_entry* producer_state::find(int64_t producer_id) const {
    const auto it = _producers.find(producer_id);
    return it == _producers.end() ? nullptr : &it->second;
}

std::vector<std::byte> producer_state::encode_snapshot(int64_t offset) const {
    std::vector<std::byte> out(snapshot_magic.begin(), snapshot_magic.end());
    writer w(out);
    w.put(snapshot_version);
    w.put(uint16_t{0});
    w.put(uint32_t{0});  // the CRC, filled in below
    w.put(offset);
    w.put(static_cast<uint32_t>(_producers.size()));
    // In id order: the same state always gives the same bytes.
    std::vector<int64_t> ids;
    ids.reserve(_producers.size());
    for (const auto& [id, e] : _producers) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (const int64_t id : ids) {
        const producer_entry& e = _producers.at(id);
        w.put(id);
        w.put(e.epoch);
        w.put(e.last_activity_ms);
        w.put(e.count);
        for (uint8_t i = 0; i < e.count; ++i) {
            const producer_batch& b = e.batches[i];
            w.put(b.first_sequence);
            w.put(b.last_sequence);
            w.put(b.base_offset);
            w.put(b.last_offset);
            w.put(b.append_time_ms);
        }
    }
    const uint32_t crc = crc32c(std::span(out).subspan(snapshot_header_bytes));
    std::vector<std::byte> crc_bytes;
    writer(crc_bytes).put(crc);
    std::copy(crc_bytes.begin(), crc_bytes.end(), out.begin() + 8);
    return out;
}

result<producer_snapshot, snapshot_errc> producer_snapshot::decode(
    std::span<const std::byte> file) {
    if (file.size() < snapshot_header_bytes + snapshot_fixed_bytes ||
        !std::equal(snapshot_magic.begin(), snapshot_magic.end(), file.begin())) {
        return failure{snapshot_errc::corrupt};
    }
    reader r(file.subspan(snapshot_magic.size()));
    uint16_t version = 0;
    uint16_t flags = 0;
    uint32_t crc = 0;
    r.get(version);
    r.get(flags);
    r.get(crc);
    if (version != snapshot_version) return failure{snapshot_errc::unsupported_version};
    if (flags != 0 || crc32c(file.subspan(snapshot_header_bytes)) != crc) {
        return failure{snapshot_errc::corrupt};
    }
    producer_snapshot out;
    uint32_t producers = 0;
    r.get(out.offset);
    r.get(producers);
    if (out.offset < 0 || producers > r.remaining() / producer_fixed_bytes) {
        return failure{snapshot_errc::corrupt};
    }
    int64_t previous_id = -1;
    for (uint32_t p = 0; p < producers; ++p) {
        int64_t id = 0;
        producer_entry e;
        if (!r.get(id) || !r.get(e.epoch) || !r.get(e.last_activity_ms) || !r.get(e.count)) {
            return failure{snapshot_errc::corrupt};
        }
        // Producers in increasing id order, as encode_snapshot writes them:
        // one state, one encoding.
        if (id <= previous_id || e.epoch < 0 || e.count == 0 || e.count > producer_batches_kept ||
            r.remaining() < e.count * batch_bytes) {
            return failure{snapshot_errc::corrupt};
        }
        for (uint8_t i = 0; i < e.count; ++i) {
            producer_batch& b = e.batches[i];
            if (!r.get(b.first_sequence) || !r.get(b.last_sequence) || !r.get(b.base_offset) ||
                !r.get(b.last_offset) || !r.get(b.append_time_ms)) {
                return failure{snapshot_errc::corrupt};
            }
            // Offsets in order, below the snapshot's offset.
            const int64_t floor = i == 0 ? 0 : e.batches[i - 1].last_offset + 1;
            if (b.first_sequence < 0 || b.last_sequence < 0 || b.base_offset < floor ||
                b.last_offset < b.base_offset || b.last_offset >= out.offset) {
                return failure{snapshot_errc::corrupt};
            }
        }
        previous_id = id;
        if (!out.state._producers.emplace(id, e).second) return failure{snapshot_errc::corrupt};
    }
    if (r.remaining() != 0) return failure{snapshot_errc::corrupt};
    return out;
}

}  // namespace tl::storage
