// Kafka's offset and time index formats; see index.h for the rules and where they come from.
#include "storage/index.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <iterator>

#include "base/assert.h"

namespace tl::storage {

namespace {

// Index files are big-endian (Java's ByteBuffer default), whatever the host order.
void store_be32(uint32_t value, std::byte* out) noexcept {
    for (int i = 3; i >= 0; --i) {
        out[i] = static_cast<std::byte>(value & 0xff);
        value >>= 8;
    }
}
void store_be64(uint64_t value, std::byte* out) noexcept {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<std::byte>(value & 0xff);
        value >>= 8;
    }
}
uint32_t load_be32(const std::byte* in) noexcept {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | std::to_integer<uint32_t>(in[i]);
    return value;
}
uint64_t load_be64(const std::byte* in) noexcept {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | std::to_integer<uint64_t>(in[i]);
    return value;
}

template <typename Entry>
struct entry_codec;

template <>
struct entry_codec<offset_entry> {
    static constexpr size_t size_bytes = offset_index::entry_size_bytes;
    static void encode(const offset_entry& entry, std::byte* out) noexcept {
        store_be32(entry.relative_offset, out);
        store_be32(entry.position, out + 4);
    }
    static offset_entry decode(const std::byte* in) noexcept {
        return {.relative_offset = load_be32(in), .position = load_be32(in + 4)};
    }
};

template <>
struct entry_codec<time_entry> {
    static constexpr size_t size_bytes = time_index::entry_size_bytes;
    static void encode(const time_entry& entry, std::byte* out) noexcept {
        store_be64(static_cast<uint64_t>(entry.timestamp), out);
        store_be32(entry.relative_offset, out + 8);
    }
    static time_entry decode(const std::byte* in) noexcept {
        return {.timestamp = static_cast<int64_t>(load_be64(in)),
                .relative_offset = load_be32(in + 8)};
    }
};

// Kafka rounds the configured size down to whole entries (roundDownToExactMultiple).
size_t max_entries_for(const index_config& config, size_t entry_size_bytes) {
    const size_t max_entries = config.max_index_bytes / entry_size_bytes;
    TL_ASSERT(max_entries >= 1, "max_index_bytes must hold at least one entry");
    return max_entries;
}

// First vector capacity: small, since most segments of a quiet partition stay small and
// a 10 MiB reservation per index would cost memory Kafka's mmap never touches.
constexpr size_t initial_capacity_entries = 64;

}  // namespace

std::string_view to_string(index_errc error) noexcept {
    switch (error) {
        case index_errc::full:
            return "index full";
        case index_errc::offset_out_of_range:
            return "offset out of the segment's range";
        case index_errc::position_out_of_range:
            return "position beyond INT32_MAX";
        case index_errc::offset_not_increasing:
            return "offset not increasing";
        case index_errc::position_not_increasing:
            return "position not increasing";
        case index_errc::timestamp_not_increasing:
            return "timestamp not increasing";
        case index_errc::batch_not_contiguous:
            return "batch does not start at the log end";
        case index_errc::corrupt_size:
            return "corrupt index: size not whole entries";
        case index_errc::corrupt_relative_offset:
            return "corrupt index: negative offset";
        case index_errc::corrupt_position:
            return "corrupt index: bad position";
        case index_errc::corrupt_timestamp:
            return "corrupt index: negative timestamp";
        case index_errc::corrupt_order:
            return "corrupt index: entries out of order";
    }
    return "unknown index error";
}

// ---------------------------------------------------------------------------------------
// detail::index_entries

namespace detail {

template <typename Entry>
index_entries<Entry>::index_entries(size_t max_entries) : _max_entries(max_entries) {
    TL_ASSERT(max_entries >= 1);
}

template <typename Entry>
void index_entries<Entry>::push(const Entry& entry) {
    TL_ASSERT(_entries.size() < _max_entries, "push into a full index");
    if (_entries.size() == _entries.capacity()) {
        // Geometric growth, but never past the bound: at most log2(max_entries)
        // reallocations over a segment's life.
        const size_t doubled = std::max(initial_capacity_entries, _entries.capacity() * 2);
        _entries.reserve(std::min(doubled, _max_entries));
    }
    _entries.push_back(entry);
}

template <typename Entry>
void index_entries<Entry>::truncate(size_t count) {
    TL_ASSERT(count <= _entries.size());
    _entries.resize(count);
    _flushed = std::min(_flushed, count);
}

template <typename Entry>
void index_entries<Entry>::raise_max_entries(size_t max_entries) {
    _max_entries = std::max(_max_entries, max_entries);
}

template <typename Entry>
void index_entries<Entry>::mark_flushed(size_t count) noexcept {
    _flushed = std::max(_flushed, std::min(count, _entries.size()));
}

template <typename Entry>
size_t index_entries<Entry>::encode_from(size_t first_entry, std::span<std::byte> out) const {
    constexpr size_t entry_size = entry_codec<Entry>::size_bytes;
    TL_ASSERT(first_entry <= _entries.size(), "encode_from past the last entry");
    const size_t count = std::min(_entries.size() - first_entry, out.size() / entry_size);
    for (size_t i = 0; i < count; ++i) {
        entry_codec<Entry>::encode(_entries[first_entry + i], out.data() + i * entry_size);
    }
    return count * entry_size;
}

template <typename Entry>
void index_entries<Entry>::encode_file_range(uint64_t file_offset_bytes,
                                             std::span<std::byte> out) const {
    constexpr size_t entry_size = entry_codec<Entry>::size_bytes;
    if (out.empty()) return;
    std::memset(out.data(), 0, out.size());
    const uint64_t end = file_offset_bytes + out.size();
    for (uint64_t i = file_offset_bytes / entry_size; i < _entries.size(); ++i) {
        const uint64_t entry_start = i * entry_size;
        if (entry_start >= end) break;
        std::array<std::byte, entry_size> bytes;
        entry_codec<Entry>::encode(_entries[i], bytes.data());
        // Copy the part of this entry that overlaps [file_offset_bytes, end).
        const uint64_t from = std::max(entry_start, file_offset_bytes);
        const uint64_t to = std::min(entry_start + entry_size, end);
        std::memcpy(out.data() + (from - file_offset_bytes), bytes.data() + (from - entry_start),
                    to - from);
    }
}

template <typename Entry>
result<index_entries<Entry>, index_errc> index_entries<Entry>::decode(
    std::span<const std::byte> file_bytes, index_file_state state, size_t max_entries) {
    constexpr size_t entry_size = entry_codec<Entry>::size_bytes;
    size_t used_bytes = file_bytes.size();
    if (state == index_file_state::trimmed) {
        // AbstractIndex sets the position to length rounded down to whole entries;
        // OffsetIndex/TimeIndex.sanityCheck call any remainder corrupt.
        if (used_bytes % entry_size != 0) return failure{index_errc::corrupt_size};
    } else {
        // Unused preallocated space reads as zeros. Entries end at the last non-zero byte,
        // rounded up to a whole entry (an entry's own bytes may end in zeros).
        while (used_bytes > 0 && file_bytes[used_bytes - 1] == std::byte{0}) --used_bytes;
        used_bytes = (used_bytes + entry_size - 1) / entry_size * entry_size;
        if (used_bytes > file_bytes.size()) return failure{index_errc::corrupt_size};
    }
    const size_t count = used_bytes / entry_size;
    index_entries entries(std::max(max_entries, count));
    entries._entries.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        entries._entries.push_back(entry_codec<Entry>::decode(file_bytes.data() + i * entry_size));
    }
    // Everything decoded came from the file.
    entries._flushed = count;
    return entries;
}

template class index_entries<offset_entry>;
template class index_entries<time_entry>;

}  // namespace detail

// ---------------------------------------------------------------------------------------
// offset_index

offset_index::offset_index(int64_t base_offset, const index_config& config)
    : offset_index(base_offset,
                   detail::index_entries<offset_entry>(max_entries_for(config, entry_size_bytes))) {
}

offset_index::offset_index(int64_t base_offset, detail::index_entries<offset_entry> entries)
    : _base_offset(base_offset), _entries(std::move(entries)) {
    TL_ASSERT(base_offset >= 0, "base offsets are non-negative");
}

result<offset_index, index_errc> offset_index::decode(std::span<const std::byte> file_bytes,
                                                      int64_t base_offset,
                                                      const index_config& config,
                                                      index_file_state state) {
    auto entries = detail::index_entries<offset_entry>::decode(
        file_bytes, state, max_entries_for(config, entry_size_bytes));
    if (!entries) return failure{entries.error()};
    // Kafka's sanityCheck only looks at the last offset and the length; we check every
    // entry, since lookups binary-search them and a bad one would misdirect reads.
    const offset_entry* previous = nullptr;
    for (const offset_entry& entry : entries->all()) {
        // Java ints: the top bit set means negative.
        if (entry.relative_offset > max_relative_offset) {
            return failure{index_errc::corrupt_relative_offset};
        }
        if (entry.position > max_log_position) return failure{index_errc::corrupt_position};
        if (previous != nullptr && (entry.relative_offset <= previous->relative_offset ||
                                    entry.position <= previous->position)) {
            return failure{index_errc::corrupt_order};
        }
        previous = &entry;
    }
    return offset_index(base_offset, std::move(*entries));
}

bool offset_index::can_append_offset(int64_t offset) const noexcept {
    return offset >= _base_offset && offset - _base_offset <= max_relative_offset;
}

result<void, index_errc> offset_index::append(int64_t offset, uint32_t position) {
    if (is_full()) return failure{index_errc::full};
    if (!can_append_offset(offset)) return failure{index_errc::offset_out_of_range};
    if (position > max_log_position) return failure{index_errc::position_out_of_range};
    if (!empty()) {
        const offset_entry& last = _entries.back();
        if (offset - _base_offset <= last.relative_offset) {
            return failure{index_errc::offset_not_increasing};
        }
        if (position <= last.position) return failure{index_errc::position_not_increasing};
    }
    _entries.push(
        {.relative_offset = static_cast<uint32_t>(offset - _base_offset), .position = position});
    return {};
}

offset_position offset_index::lookup(int64_t target_offset) const noexcept {
    const offset_position none{.offset = _base_offset, .position = 0};
    if (target_offset < _base_offset) return none;
    // Kafka searches a "warm" tail first to keep mmap pages hot; in memory a plain binary
    // search gives the same answer.
    const int64_t target = target_offset - _base_offset;
    const auto all = entries();
    const auto after = std::upper_bound(
        all.begin(), all.end(), target,
        [](int64_t value, const offset_entry& entry) { return value < entry.relative_offset; });
    if (after == all.begin()) return none;
    return entry(static_cast<size_t>(after - all.begin()) - 1);
}

void offset_index::truncate_to(int64_t offset) {
    if (offset <= _base_offset) {
        _entries.truncate(0);
        return;
    }
    const int64_t target = offset - _base_offset;
    const auto all = entries();
    const auto first_dropped = std::lower_bound(
        all.begin(), all.end(), target,
        [](const offset_entry& entry, int64_t value) { return entry.relative_offset < value; });
    _entries.truncate(static_cast<size_t>(first_dropped - all.begin()));
}

offset_position offset_index::entry(size_t n) const {
    TL_ASSERT(n < size(), "offset index entry out of range");
    const offset_entry& raw = entries()[n];
    return {.offset = _base_offset + raw.relative_offset, .position = raw.position};
}

offset_position offset_index::last_entry() const noexcept {
    if (empty()) return {.offset = _base_offset, .position = 0};
    return entry(size() - 1);
}

// ---------------------------------------------------------------------------------------
// time_index

time_index::time_index(int64_t base_offset, const index_config& config)
    : time_index(base_offset,
                 detail::index_entries<time_entry>(max_entries_for(config, entry_size_bytes))) {}

time_index::time_index(int64_t base_offset, detail::index_entries<time_entry> entries)
    : _base_offset(base_offset), _entries(std::move(entries)) {
    TL_ASSERT(base_offset >= 0, "base offsets are non-negative");
}

result<time_index, index_errc> time_index::decode(std::span<const std::byte> file_bytes,
                                                  int64_t base_offset, const index_config& config,
                                                  index_file_state state) {
    auto entries = detail::index_entries<time_entry>::decode(
        file_bytes, state, max_entries_for(config, entry_size_bytes));
    if (!entries) return failure{entries.error()};
    const time_entry* previous = nullptr;
    for (const time_entry& entry : entries->all()) {
        // maybeAppend only takes timestamps above the empty index's NO_TIMESTAMP (-1).
        if (entry.timestamp < 0) return failure{index_errc::corrupt_timestamp};
        if (entry.relative_offset > max_relative_offset) {
            return failure{index_errc::corrupt_relative_offset};
        }
        // maybeAppend appends strictly greater timestamps and rejects smaller offsets.
        if (previous != nullptr && (entry.timestamp <= previous->timestamp ||
                                    entry.relative_offset < previous->relative_offset)) {
            return failure{index_errc::corrupt_order};
        }
        previous = &entry;
    }
    return time_index(base_offset, std::move(*entries));
}

result<time_append, index_errc> time_index::maybe_append(int64_t timestamp, int64_t offset,
                                                         reserved_slot slot) {
    // Kafka checks fullness first, even for an entry it would then skip.
    if (slot == reserved_slot::keep && is_full()) return failure{index_errc::full};
    if (offset < _base_offset || offset - _base_offset > max_relative_offset) {
        return failure{index_errc::offset_out_of_range};
    }
    const timestamp_offset last = last_entry();
    if (!empty()) {
        if (offset < last.offset) return failure{index_errc::offset_not_increasing};
        if (timestamp < last.timestamp) return failure{index_errc::timestamp_not_increasing};
    }
    if (timestamp <= last.timestamp) return time_append::skipped;
    if (size() >= max_entries()) return failure{index_errc::full};
    _entries.push(
        {.timestamp = timestamp, .relative_offset = static_cast<uint32_t>(offset - _base_offset)});
    return time_append::appended;
}

timestamp_offset time_index::lookup(int64_t target_timestamp) const noexcept {
    const auto all = entries();
    const auto after = std::upper_bound(
        all.begin(), all.end(), target_timestamp,
        [](int64_t value, const time_entry& entry) { return value < entry.timestamp; });
    if (after == all.begin()) return {.timestamp = no_timestamp, .offset = _base_offset};
    return entry(static_cast<size_t>(after - all.begin()) - 1);
}

void time_index::truncate_to(int64_t offset) {
    if (offset <= _base_offset) {
        _entries.truncate(0);
        return;
    }
    // Offsets are non-decreasing, so the entries to drop are a suffix.
    const int64_t target = offset - _base_offset;
    const auto all = entries();
    const auto first_dropped = std::lower_bound(
        all.begin(), all.end(), target,
        [](const time_entry& entry, int64_t value) { return entry.relative_offset < value; });
    _entries.truncate(static_cast<size_t>(first_dropped - all.begin()));
}

timestamp_offset time_index::entry(size_t n) const {
    TL_ASSERT(n < size(), "time index entry out of range");
    const time_entry& raw = entries()[n];
    return {.timestamp = raw.timestamp, .offset = _base_offset + raw.relative_offset};
}

timestamp_offset time_index::last_entry() const noexcept {
    if (empty()) return {.timestamp = no_timestamp, .offset = _base_offset};
    return entry(size() - 1);
}

// ---------------------------------------------------------------------------------------
// index_builder

index_builder::index_builder(int64_t base_offset, const index_config& config)
    : index_builder(offset_index(base_offset, config), time_index(base_offset, config), config, 0) {
}

index_builder::index_builder(offset_index offsets, time_index times, const index_config& config,
                             uint32_t log_size_bytes)
    : _offsets(std::move(offsets)),
      _times(std::move(times)),
      _index_interval_bytes(config.index_interval_bytes),
      _log_size_bytes(log_size_bytes),
      _last_offset(_offsets.base_offset() - 1),
      _max_timestamp(_times.last_entry()) {
    TL_ASSERT(_offsets.base_offset() == _times.base_offset(), "indexes of different segments");
    if (!_offsets.empty()) _last_offset = std::max(_last_offset, _offsets.last_entry().offset);
    if (!_times.empty()) _last_offset = std::max(_last_offset, _times.last_entry().offset);
}

uint32_t index_builder::resume_rescan_position(const offset_index& offsets,
                                               const time_index& times) noexcept {
    return offsets.lookup(times.last_entry().offset).position;
}

result<index_builder, index_errc> index_builder::resume(offset_index offsets, time_index times,
                                                        const index_config& config,
                                                        uint32_t log_size_bytes,
                                                        timestamp_offset largest_after_rescan) {
    if (log_size_bytes > max_log_position) return failure{index_errc::position_out_of_range};
    // Each offset entry points at the start of a batch of this log.
    if (!offsets.empty() && offsets.last_entry().position >= log_size_bytes) {
        return failure{index_errc::corrupt_position};
    }
    // The time index's last entry claims its timestamp is the largest up to its offset: a
    // larger one found at or before that offset means the index and the log disagree.
    const timestamp_offset last = times.last_entry();
    if (largest_after_rescan.timestamp > last.timestamp) {
        const bool after_last_entry = times.empty() ? largest_after_rescan.offset >= last.offset
                                                    : largest_after_rescan.offset > last.offset;
        if (!after_last_entry) return failure{index_errc::corrupt_timestamp};
    }
    index_builder builder(std::move(offsets), std::move(times), config, log_size_bytes);
    builder.raise_max_timestamp(largest_after_rescan);
    return builder;
}

void index_builder::raise_max_timestamp(timestamp_offset largest_after_rescan) {
    if (largest_after_rescan.timestamp <= _max_timestamp.timestamp) return;
    TL_ASSERT(largest_after_rescan.offset >= _max_timestamp.offset);
    _max_timestamp = largest_after_rescan;
    _last_offset = std::max(_last_offset, largest_after_rescan.offset);
}

uint32_t index_builder::bytes_since_last_entry() const noexcept {
    // LogSegment.recover's validBytes - lastIndexEntry: from the start of the last indexed
    // batch (or of the log) to the end of the log.
    return _log_size_bytes - _offsets.last_entry().position;
}

result<void, index_errc> index_builder::add_batch(const batch_extent& batch) {
    TL_ASSERT(batch.size_bytes > 0, "a record batch has a header");
    // Every check comes before the first change, so a failed batch leaves no trace.
    if (batch.position != _log_size_bytes) return failure{index_errc::batch_not_contiguous};
    if (uint64_t{batch.position} + batch.size_bytes > max_log_position) {
        return failure{index_errc::position_out_of_range};
    }
    if (batch.last_offset <= _last_offset) return failure{index_errc::offset_not_increasing};
    if (!can_append_offset(batch.last_offset)) return failure{index_errc::offset_out_of_range};

    timestamp_offset max_timestamp = _max_timestamp;
    if (batch.max_timestamp > max_timestamp.timestamp) {
        max_timestamp = {.timestamp = batch.max_timestamp, .offset = batch.last_offset};
    }
    if (bytes_since_last_entry() > _index_interval_bytes) {
        if (_offsets.is_full() || _times.is_full()) return failure{index_errc::full};
        // Both succeed: the batch starts past every indexed position and its last offset
        // is past every indexed offset; the max so far never goes back.
        const auto offset_appended = _offsets.append(batch.last_offset, batch.position);
        TL_ASSERT(offset_appended.ok());
        const auto time_appended =
            _times.maybe_append(max_timestamp.timestamp, max_timestamp.offset, reserved_slot::keep);
        TL_ASSERT(time_appended.ok());
    }
    _max_timestamp = max_timestamp;
    _log_size_bytes += batch.size_bytes;
    _last_offset = batch.last_offset;
    return {};
}

result<void, index_errc> index_builder::seal() {
    const auto appended =
        _times.maybe_append(_max_timestamp.timestamp, _max_timestamp.offset, reserved_slot::use);
    if (!appended) return failure{appended.error()};
    return {};
}

uint32_t index_builder::timestamp_rescan_position(int64_t truncate_offset) const noexcept {
    // Kafka reads this after truncating both indexes:
    // offsetIndex.lookup(timeIndex.lastEntry.offset).position. Computed here before
    // truncating, so it only looks at entries that will survive.
    const int64_t base = base_offset();
    if (truncate_offset <= base) return 0;
    int64_t last_time_offset = base;
    const auto times = _times.entries();
    const auto first_dropped = std::lower_bound(
        times.begin(), times.end(), truncate_offset - base,
        [](const time_entry& entry, int64_t value) { return entry.relative_offset < value; });
    if (first_dropped != times.begin()) {
        last_time_offset = base + std::prev(first_dropped)->relative_offset;
    }
    return _offsets.lookup(last_time_offset).position;
}

void index_builder::truncate_to(int64_t offset, uint32_t log_size_bytes,
                                timestamp_offset largest_after_rescan) {
    TL_ASSERT(log_size_bytes <= _log_size_bytes, "truncation cannot grow the log");
    _offsets.truncate_to(offset);
    _times.truncate_to(offset);
    TL_ASSERT(_offsets.empty() || _offsets.last_entry().position < log_size_bytes,
              "the log was cut before a surviving index entry");
    _log_size_bytes = log_size_bytes;

    // The last surviving batch's offset is not known here; anything the indexes still
    // hold is a safe lower bound.
    _last_offset = base_offset() - 1;
    if (!_offsets.empty()) _last_offset = std::max(_last_offset, _offsets.last_entry().offset);
    if (!_times.empty()) _last_offset = std::max(_last_offset, _times.last_entry().offset);

    _max_timestamp = _times.last_entry();
    TL_ASSERT(
        largest_after_rescan.timestamp == no_timestamp || largest_after_rescan.offset < offset,
        "rescanned max timestamp outside the surviving batches");
    raise_max_timestamp(largest_after_rescan);
}

// ---------------------------------------------------------------------------------------
// Segment file names

namespace {

std::string_view suffix_of(segment_file_kind kind) noexcept {
    switch (kind) {
        case segment_file_kind::log:
            return ".log";
        case segment_file_kind::offset_index:
            return ".index";
        case segment_file_kind::time_index:
            return ".timeindex";
        case segment_file_kind::producer_snapshot:
            return ".snapshot";
    }
    TL_UNREACHABLE("unknown segment file kind");
}

}  // namespace

std::string segment_file_name(int64_t base_offset, segment_file_kind kind) {
    TL_ASSERT(base_offset >= 0, "base offsets are non-negative");
    std::array<char, segment_file_name_digits> digits;
    const auto [end, error] =
        std::to_chars(digits.data(), digits.data() + digits.size(), base_offset);
    TL_ASSERT(error == std::errc{});
    const auto length = static_cast<size_t>(end - digits.data());
    std::string name(segment_file_name_digits - length, '0');
    name.append(digits.data(), length);
    name.append(suffix_of(kind));
    return name;
}

std::optional<segment_file> parse_segment_file_name(std::string_view name) noexcept {
    if (name.size() <= segment_file_name_digits) return std::nullopt;
    uint64_t value = 0;
    constexpr auto max_value = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    for (size_t i = 0; i < segment_file_name_digits; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<uint64_t>(c - '0');
        // 20 digits can exceed even uint64: check before multiplying.
        if (value > (max_value - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    const std::string_view suffix = name.substr(segment_file_name_digits);
    for (const auto kind :
         {segment_file_kind::log, segment_file_kind::offset_index, segment_file_kind::time_index,
          segment_file_kind::producer_snapshot}) {
        if (suffix == suffix_of(kind)) {
            return segment_file{.base_offset = static_cast<int64_t>(value), .kind = kind};
        }
    }
    return std::nullopt;
}

}  // namespace tl::storage
