// Kafka's segment index formats, as pure data structures with no I/O.
//
// A segment `<base>.log` has two sparse indexes beside it, in Kafka's own on-disk layout so
// that Kafka's tools can read our segments (DESIGN.md §4):
//
//   <base>.index      8-byte entries, big-endian:
//                       int32 relative offset (offset - base), int32 byte position in .log
//   <base>.timeindex 12-byte entries, big-endian:
//                       int64 timestamp (ms), int32 relative offset
//
// The classes here keep the entries in memory, enforce Kafka's ordering rules on append,
// answer lookups, and turn entries into file bytes and back. The storage engine owns the
// files and writes the bytes through io_uring; the simulator drives the same code with its
// own disk. Kafka's rules followed here were read in apache/kafka,
// storage/src/main/java/org/apache/kafka/storage/internals/log/: OffsetIndex.java,
// TimeIndex.java, AbstractIndex.java (lookup, load, trim), LogSegment.java (append, recover,
// truncateTo, onBecomeInactiveSegment), LogLoader.java (what is checked and rebuilt on load)
// and LogFileUtils.java (file names).
//
// Threading and lifetime: every object here belongs to the shard that owns the partition
// and is never shared; they are plain values (movable, copyable) with no references into
// other objects. Spans returned by entries() live until the next mutating call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/timestamps.h"

namespace tl::storage {

// Index entries store offsets and positions as Java ints: both must fit in [0, INT32_MAX].
inline constexpr int64_t max_relative_offset = std::numeric_limits<int32_t>::max();
inline constexpr uint32_t max_log_position = std::numeric_limits<int32_t>::max();

struct index_config {
    // Kafka's segment.index.bytes (default 10 MiB): the preallocated size of each index
    // file, which bounds its entries (bytes / entry size, rounded down).
    uint32_t max_index_bytes = 10 * 1024 * 1024;
    // Kafka's index.interval.bytes (default 4096): an index entry is added when more than
    // this many log bytes were appended since the batch of the previous entry.
    uint32_t index_interval_bytes = 4096;
};

enum class index_errc : uint8_t {
    // Operating errors of appends. `full` and `offset_out_of_range` tell the storage
    // layer to roll a new segment (Kafka's shouldRoll checks isFull and
    // canConvertToRelativeOffset); the others are rejected appends that would break the
    // ordering every lookup relies on. Nothing is changed when an append fails.
    full,                      // no free slot
    offset_out_of_range,       // offset - base offset is outside [0, INT32_MAX]
    position_out_of_range,     // a byte position or log size beyond INT32_MAX
    offset_not_increasing,     // offset at or below the last one
    position_not_increasing,   // offset index position at or below the last one
    timestamp_not_increasing,  // time index timestamp below the last one
    batch_not_contiguous,      // index_builder: a batch not starting where the log ends

    // decode() found a file image that Kafka's append rules cannot have produced. The
    // storage layer rebuilds the index from the log (Kafka: CorruptIndexException →
    // LogLoader.recoverSegment).
    corrupt_size,             // length not a whole number of entries
    corrupt_relative_offset,  // negative relative offset
    corrupt_position,         // negative position; on resume, one outside the log
    corrupt_timestamp,        // negative timestamp
    corrupt_order,            // keys not strictly increasing, or values going back
};

[[nodiscard]] constexpr bool is_corruption(index_errc error) noexcept {
    return error >= index_errc::corrupt_size;
}
[[nodiscard]] std::string_view to_string(index_errc error) noexcept;

// What decode() may assume about the bytes after the last entry.
enum class index_file_state : uint8_t {
    // The file was trimmed to its entries (Kafka trims on roll, close and after
    // recovery): every whole slot is an entry, exactly as Kafka loads an existing index
    // (entries = file length / entry size). A length that is not a multiple is corrupt.
    trimmed,
    // The file may end in preallocated space that was never written (the active segment
    // after a crash): trailing zero bytes are unused space, and entries end at the last
    // non-zero byte rounded up to a whole entry. Kafka never writes an all-zero offset
    // entry (the batch at position 0 is never indexed), so this loses nothing there; in a
    // time index the one all-zero entry Kafka can write, (timestamp 0, base offset), is
    // dropped if it is the only entry, which costs a lookup hint and nothing else.
    preallocated,
};

// ---------------------------------------------------------------------------------------
// Offset index (<base>.index)

// One entry as stored: relative offset and position, both within [0, INT32_MAX].
struct offset_entry {
    uint32_t relative_offset;
    uint32_t position;  // byte position in the .log file of the batch holding the offset
    friend bool operator==(const offset_entry&, const offset_entry&) = default;
};

// An absolute offset and the byte position to start reading the log from.
struct offset_position {
    int64_t offset;
    uint32_t position;
    friend bool operator==(const offset_position&, const offset_position&) = default;
};

namespace detail {

// What both indexes share: entries in a vector bounded by max_entries, the count of
// entries already written to the file, and the file image. Defined in index.cc for the
// two entry types.
template <typename Entry>
class index_entries {
public:
    explicit index_entries(size_t max_entries);

    std::span<const Entry> all() const noexcept { return _entries; }
    size_t size() const noexcept { return _entries.size(); }
    size_t max_entries() const noexcept { return _max_entries; }
    const Entry& back() const { return _entries.back(); }

    void push(const Entry& entry);
    void truncate(size_t count);
    void raise_max_entries(size_t max_entries);

    size_t flushed() const noexcept { return _flushed; }
    void mark_flushed(size_t count) noexcept;
    size_t encode_from(size_t first_entry, std::span<std::byte> out) const;
    void encode_file_range(uint64_t file_offset_bytes, std::span<std::byte> out) const;

    // Parses the entries of a file image (no ordering checks: those are per index).
    static result<index_entries, index_errc> decode(std::span<const std::byte> file_bytes,
                                                    index_file_state state, size_t max_entries);

private:
    std::vector<Entry> _entries;
    size_t _max_entries;
    size_t _flushed = 0;
};

}  // namespace detail

// Maps offsets to byte positions in the segment's log. Sparse: one entry per batch that
// crossed the index interval, holding that batch's last offset and its start position.
class offset_index {
public:
    static constexpr size_t entry_size_bytes = 8;

    // An empty index for a new segment. max_entries = config.max_index_bytes / 8 (>= 1).
    offset_index(int64_t base_offset, const index_config& config);

    // Parses a file image and checks what Kafka's appends guarantee: relative offsets
    // non-negative and strictly increasing, positions non-negative and strictly
    // increasing. More entries than the config allows is not an error (the segment was
    // written with a larger segment.index.bytes): max_entries() grows to hold them, and
    // the index is then full.
    static result<offset_index, index_errc> decode(std::span<const std::byte> file_bytes,
                                                   int64_t base_offset, const index_config& config,
                                                   index_file_state state);

    // Kafka OffsetIndex.append: offset must exceed the last entry's (any offset within
    // range when empty), position must exceed the last entry's.
    [[nodiscard]] result<void, index_errc> append(int64_t offset, uint32_t position);

    // The entry with the largest offset <= target_offset, or (base offset, 0) when there
    // is none (target before the first entry, or an empty index), as Kafka's
    // OffsetIndex.lookup. The caller scans the log forward from `position` for the batch
    // holding target_offset.
    [[nodiscard]] offset_position lookup(int64_t target_offset) const noexcept;

    // Drops every entry with offset >= `offset` (Kafka OffsetIndex.truncateTo). The
    // storage layer must then cut or zero the file past size_bytes(): a preallocated
    // file with stale entries after the new end would load them back.
    void truncate_to(int64_t offset);

    int64_t base_offset() const noexcept { return _base_offset; }
    size_t size() const noexcept { return _entries.size(); }
    bool empty() const noexcept { return _entries.size() == 0; }
    size_t max_entries() const noexcept { return _entries.max_entries(); }
    bool is_full() const noexcept { return size() >= max_entries(); }
    // Kafka canAppendOffset: offset - base fits a relative offset.
    bool can_append_offset(int64_t offset) const noexcept;

    std::span<const offset_entry> entries() const noexcept { return _entries.all(); }
    offset_position entry(size_t n) const;
    // The last entry, or (base offset, 0) when empty, as Kafka's lastEntry().
    offset_position last_entry() const noexcept;

    // File image. Entry n lives at file bytes [n * 8, n * 8 + 8).
    uint64_t size_bytes() const noexcept { return size() * entry_size_bytes; }
    // Entries [0, flushed_entries()) are known to be in the file; the rest are the dirty
    // tail. mark_flushed(n) records that a write of entries [.., n) completed: capture n
    // = size() when the write is issued, since appends and truncations may happen while
    // it is in flight (n is clamped to size(), and the count never goes back).
    size_t flushed_entries() const noexcept { return _entries.flushed(); }
    void mark_flushed(size_t entry_count) noexcept { _entries.mark_flushed(entry_count); }
    // Writes whole entries from `first_entry` while they fit in `out`; returns the bytes
    // written. encode_from(0, out) with out.size() >= size_bytes() writes the whole index.
    size_t encode_from(size_t first_entry, std::span<std::byte> out) const {
        return _entries.encode_from(first_entry, out);
    }
    // Fills `out` with file bytes [file_offset_bytes, file_offset_bytes + out.size()),
    // zeros past the last entry, as a preallocated file reads. This is what an O_DIRECT
    // writer needs: the aligned block(s) around the dirty tail, partial entries included.
    void encode_file_range(uint64_t file_offset_bytes, std::span<std::byte> out) const {
        _entries.encode_file_range(file_offset_bytes, out);
    }

private:
    offset_index(int64_t base_offset, detail::index_entries<offset_entry> entries);

    int64_t _base_offset;
    detail::index_entries<offset_entry> _entries;
};

// ---------------------------------------------------------------------------------------
// Time index (<base>.timeindex)

struct time_entry {
    int64_t timestamp;
    uint32_t relative_offset;
    friend bool operator==(const time_entry&, const time_entry&) = default;
};

// A timestamp and an absolute offset. An entry (t, o) says: the largest timestamp in the
// batches up to and including offset o is t, so any record with a timestamp above t comes
// after o.
struct timestamp_offset {
    int64_t timestamp;
    int64_t offset;
    friend bool operator==(const timestamp_offset&, const timestamp_offset&) = default;
};

// Whether a time index append may take the last slot.
enum class reserved_slot : uint8_t {
    // Leave the last slot free (Kafka TimeIndex.isFull: entries >= max_entries - 1), so
    // that the entry written when the segment stops being active always fits.
    keep,
    // The entry written when the segment stops being active (Kafka maybeAppend with
    // skipFullCheck on roll, close and recovery).
    use,
};

enum class time_append : uint8_t {
    appended,
    skipped,  // timestamp not above the last entry's (equal), or no timestamp: no entry
};

// Maps timestamps to offsets. Entries have strictly increasing timestamps (all >= 0) and
// non-decreasing offsets.
class time_index {
public:
    static constexpr size_t entry_size_bytes = 12;

    // An empty index. max_entries = config.max_index_bytes / 12 (>= 1).
    time_index(int64_t base_offset, const index_config& config);

    // Parses a file image and checks what Kafka's appends guarantee: timestamps >= 0 and
    // strictly increasing, relative offsets non-negative and non-decreasing. Capacity as
    // offset_index::decode.
    static result<time_index, index_errc> decode(std::span<const std::byte> file_bytes,
                                                 int64_t base_offset, const index_config& config,
                                                 index_file_state state);

    // Kafka TimeIndex.maybeAppend: appends (timestamp, offset) only if timestamp is above
    // the last entry's (above no_timestamp when empty, so entries are never negative);
    // an equal timestamp is skipped, since that is the same entry written again on roll.
    // A timestamp or offset below the last entry's is an error, as in Kafka.
    [[nodiscard]] result<time_append, index_errc> maybe_append(int64_t timestamp, int64_t offset,
                                                               reserved_slot slot);

    // The entry with the largest timestamp <= target_timestamp, or (no_timestamp, base
    // offset) when there is none, as Kafka's TimeIndex.lookup. Kafka's
    // LogSegment.findOffsetByTimestamp then looks up max(entry offset, starting offset)
    // in the offset index and scans the log from that position for the first record
    // with timestamp >= target (FileRecords.searchForTimestamp). That is never too late:
    // the entry's offset is the last offset of the first batch that reached its
    // timestamp, so every earlier batch has only smaller timestamps.
    [[nodiscard]] timestamp_offset lookup(int64_t target_timestamp) const noexcept;

    // Drops every entry with offset >= `offset` (Kafka TimeIndex.truncateTo). Same file
    // contract as offset_index::truncate_to.
    void truncate_to(int64_t offset);

    int64_t base_offset() const noexcept { return _base_offset; }
    size_t size() const noexcept { return _entries.size(); }
    bool empty() const noexcept { return _entries.size() == 0; }
    size_t max_entries() const noexcept { return _entries.max_entries(); }
    // Kafka reserves the last slot for the roll entry.
    bool is_full() const noexcept { return size() + 1 >= max_entries(); }

    std::span<const time_entry> entries() const noexcept { return _entries.all(); }
    timestamp_offset entry(size_t n) const;
    // The last entry, or (no_timestamp, base offset) when empty, as Kafka's lastEntry().
    timestamp_offset last_entry() const noexcept;

    // File image; see offset_index.
    uint64_t size_bytes() const noexcept { return size() * entry_size_bytes; }
    size_t flushed_entries() const noexcept { return _entries.flushed(); }
    void mark_flushed(size_t entry_count) noexcept { _entries.mark_flushed(entry_count); }
    size_t encode_from(size_t first_entry, std::span<std::byte> out) const {
        return _entries.encode_from(first_entry, out);
    }
    void encode_file_range(uint64_t file_offset_bytes, std::span<std::byte> out) const {
        _entries.encode_file_range(file_offset_bytes, out);
    }

private:
    time_index(int64_t base_offset, detail::index_entries<time_entry> entries);

    int64_t _base_offset;
    detail::index_entries<time_entry> _entries;
};

// ---------------------------------------------------------------------------------------
// Building both indexes from batches

// What the index needs to know about one record batch of the log.
struct batch_extent {
    uint32_t position;    // byte position of the batch in the .log file
    uint32_t size_bytes;  // whole batch, header included (> 0)
    int64_t last_offset;
    int64_t max_timestamp;  // no_timestamp when the batch has none
};

// Adds index entries for a stream of batches following Kafka's rule, the same for appends
// (LogSegment.append, which in current Kafka loops over the batches of an append; older
// versions applied it once per append) and for rebuilding from a log scan
// (LogSegment.recover):
//
//   max so far  := (batch max timestamp, batch last offset) if that timestamp is greater
//   if bytes from the start of the last indexed batch to this batch > interval:
//       offset index += (batch last offset, batch start position)
//       time index   += max so far, if its timestamp is above the last time entry's
//
// "Bytes since the last entry" is the log size minus the last offset entry's position
// (the whole log size when there is none) and is derived, not counted, so feeding a log's
// batches one by one, resuming from complete index files after a crash, and rebuilding
// from a scan give byte-identical indexes. (Kafka counts it and restarts the count at 0 on
// load and after truncation, which yields different but equally valid entries.) Two
// entries a rebuild would not write stay valid, as in Kafka: the one seal() adds on a
// clean close when the segment later continues, and a time entry that truncate_to keeps
// because its offset survives though the batch that wrote it did not. Feed one batch per
// call even when an append carries several.
class index_builder {
public:
    // Empty indexes for a new (or rebuilt) segment.
    index_builder(int64_t base_offset, const index_config& config);

    // Continues a segment whose index files were loaded, in two steps like truncate_to:
    //  1. position = resume_rescan_position(offsets, times)
    //  2. read the log's batches from `position` to its end and pass the largest (max
    //     timestamp, last offset) among them, first one on ties (Kafka
    //     readLargestTimestamp). After a clean close the time index already ends with the
    //     max (seal() wrote it, as Kafka's close does), so {no_timestamp, base offset}
    //     may be passed without reading.
    // The files must hold every entry for the log's batches: when the log may be ahead of
    // them (a crash between the two writes), rebuild instead, as Kafka's recovery
    // rebuilds every segment past the recovery point. Returns corrupt_position when the
    // last offset entry is not inside the log, corrupt_timestamp when the rescan
    // contradicts the time index.
    static uint32_t resume_rescan_position(const offset_index& offsets,
                                           const time_index& times) noexcept;
    static result<index_builder, index_errc> resume(offset_index offsets, time_index times,
                                                    const index_config& config,
                                                    uint32_t log_size_bytes,
                                                    timestamp_offset largest_after_rescan);

    // Adds the next batch. All or nothing: on error neither index changes. `full` comes
    // only when this batch needs an entry and a slot is missing; check is_full() before
    // appending to roll where Kafka would.
    [[nodiscard]] result<void, index_errc> add_batch(const batch_extent& batch);

    // The segment stops being active (roll, clean close, end of a rebuild): appends the
    // max timestamp so far to the time index, using the reserved slot (Kafka
    // onBecomeInactiveSegment / close / recover). Appends nothing if that timestamp is
    // already the last entry's.
    [[nodiscard]] result<void, index_errc> seal();

    // Kafka LogSegment.shouldRoll's index conditions.
    bool is_full() const noexcept { return _offsets.is_full() || _times.is_full(); }
    bool can_append_offset(int64_t offset) const noexcept {
        return _offsets.can_append_offset(offset);
    }

    // Log truncation (Kafka LogSegment.truncateTo), in two steps because the largest
    // timestamp left after the time index's last surviving entry is in the log:
    //  1. position = timestamp_rescan_position(offset)
    //  2. cut the log at the batch holding `offset`, read the batches from `position` to
    //     the new end, and pass the largest (max timestamp, last offset) among them,
    //     first one on ties, or {no_timestamp, base offset} if none
    //     (Kafka readLargestTimestamp);
    //     truncate_to(offset, new log size, that largest).
    uint32_t timestamp_rescan_position(int64_t truncate_offset) const noexcept;
    void truncate_to(int64_t offset, uint32_t log_size_bytes,
                     timestamp_offset largest_after_rescan);

    const offset_index& offsets() const noexcept { return _offsets; }
    const time_index& times() const noexcept { return _times; }
    // Records completed writes of both files (see offset_index::mark_flushed).
    void mark_flushed(size_t offset_entries, size_t time_entries) noexcept {
        _offsets.mark_flushed(offset_entries);
        _times.mark_flushed(time_entries);
    }

    int64_t base_offset() const noexcept { return _offsets.base_offset(); }
    uint32_t log_size_bytes() const noexcept { return _log_size_bytes; }
    timestamp_offset max_timestamp_so_far() const noexcept { return _max_timestamp; }
    uint32_t bytes_since_last_entry() const noexcept;

private:
    index_builder(offset_index offsets, time_index times, const index_config& config,
                  uint32_t log_size_bytes);
    void raise_max_timestamp(timestamp_offset largest_after_rescan);

    offset_index _offsets;
    time_index _times;
    uint32_t _index_interval_bytes;
    uint32_t _log_size_bytes = 0;
    // A lower bound for the next batch's last offset (exclusive): the last batch's last
    // offset when known, else the largest offset the indexes hold, else base - 1.
    int64_t _last_offset;
    // Kafka's maxTimestampAndOffsetSoFar; (no_timestamp, base) until a batch has one.
    timestamp_offset _max_timestamp;
};

// ---------------------------------------------------------------------------------------
// Segment file names: the base offset as 20 zero-padded digits, then the suffix
// (Kafka LogFileUtils.filenamePrefixFromOffset). 20 digits hold every int64 and sort in
// offset order.

inline constexpr size_t segment_file_name_digits = 20;

enum class segment_file_kind : uint8_t {
    log,           // .log
    offset_index,  // .index
    time_index,    // .timeindex
    producer_snapshot,  // .snapshot (producer_state.h): state below the offset in the name
};

struct segment_file {
    int64_t base_offset;
    segment_file_kind kind;
    friend bool operator==(const segment_file&, const segment_file&) = default;
};

// base_offset must be >= 0.
std::string segment_file_name(int64_t base_offset, segment_file_kind kind);

// Accepts exactly 20 digits (value <= INT64_MAX) and one of the four suffixes. Anything
// else is not a segment file, including names Kafka itself would parse leniently ("42.log")
// and its temporary names (".log.deleted", ".log.swap", ".cleaned").
std::optional<segment_file> parse_segment_file_name(std::string_view name) noexcept;

}  // namespace tl::storage
