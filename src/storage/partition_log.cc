#include "storage/partition_log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include <absl/strings/str_format.h>

#include "storage/index.h"

namespace tl::storage {

struct partition_log::segment {
    int64_t base_offset = 0;
    std::string path;
    std::unique_ptr<disk_file> file;  // opened when first needed
    uint64_t size_bytes = 0;          // assigned: written + pending
    uint64_t written_bytes = 0;       // on disk (the write completed)
    uint64_t allocated_bytes = 0;     // preallocated file length
    int64_t next_offset = 0;          // offset after the last batch assigned here
    int64_t max_timestamp_ms = no_timestamp;
    int64_t first_append_ms = no_timestamp;  // for segment.ms
    bool sealed = false;
    // Producer state below base_offset, captured when the segment was rolled;
    // written as a snapshot once the segments before it are sealed.
    std::vector<std::byte> producer_snapshot;
    // The page holding written_bytes when that is not page aligned: the next
    // O_DIRECT write rewrites it with the new bytes appended.
    aligned_buffer tail_page{direct_io_alignment};
    // Offset and time indexes: kept up to date for the segment being written,
    // loaded (or rebuilt from the log) when a sealed segment is first searched.
    std::unique_ptr<index_builder> index;
};

struct partition_log::pending_batch {
    std::shared_ptr<segment> target;
    std::vector<std::byte> bytes;
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    int64_t max_timestamp_ms = no_timestamp;
};

struct partition_log::cached_batch {
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    std::vector<std::byte> bytes;
};

struct partition_log::append_waiter {
    int64_t last_offset = 0;
    std::coroutine_handle<> handle;
    std::optional<storage_error> error;
    bool done = false;
};

namespace {

constexpr size_t scan_chunk_bytes = 4 * 1024 * 1024;

storage_error io_failure(const io_error& error, std::string detail) {
    const storage_errc code =
        error.code == io_errc::no_space ? storage_errc::disk_full : storage_errc::io_failure;
    return storage_error{code, error, std::move(detail)};
}

std::optional<int64_t> parse_log_name(std::string_view name) {
    auto parsed = parse_segment_file_name(name);
    if (!parsed || parsed->kind != segment_file_kind::log) return std::nullopt;
    return parsed->base_offset;
}

// What recovery and reads check of a batch already on disk, as Kafka's
// ensureValid: size, magic and the CRC over everything after it. The record
// walk of validate_batch ran when the batch was appended; the CRC proves the
// bytes are still those.
batch_result<batch_header> check_stored_batch(std::span<const std::byte> bytes) {
    auto header = read_batch_header(bytes);
    if (!header) return header;
    if (header->size_bytes() != bytes.size()) return failure{batch_errc::invalid_length};
    if (header->magic != batch_magic_v2) return failure{batch_errc::unsupported_magic};
    if (compute_batch_crc(bytes) != header->crc) return failure{batch_errc::crc_mismatch};
    // An empty (compacted) batch may cover no offset: lastOffsetDelta -1.
    if (header->last_offset_delta < -1 || header->record_count < 0) {
        return failure{batch_errc::invalid_offset_delta};
    }
    return header;
}

// Walks the batches of a segment file forward from `start` through an aligned
// read window, checking each one as recovery does. Ends cleanly at `end` or at
// zeroed (never written) space; ends with stop_reason() set at a torn or
// corrupt batch.
class batch_scanner {
public:
    struct item {
        uint64_t position;
        std::span<const std::byte> bytes;  // valid until the next call
        batch_header header;
    };

    // `window_bytes`: how much one read fetches (a reader asking for 1 MiB
    // should not fetch 4).
    // The window comes from the disk (a registered buffer when one is free).
    // Offsets must lie in [first_offset, offset_limit) and follow each other
    // without gaps: baseOffset is not covered by the CRC, so a flipped bit
    // there would otherwise pass.
    struct offset_range {
        int64_t first_offset;
        int64_t offset_limit;  // exclusive
    };

    batch_scanner(disk& d, disk_file& file, const std::string& path, uint64_t start, uint64_t end,
                  size_t max_batch_bytes, offset_range offsets,
                  size_t window_bytes = scan_chunk_bytes)
        : _disk(d),
          _file(file),
          _path(path),
          _position(start),
          _end(end),
          _max_batch_bytes(max_batch_bytes),
          _window(d.write_buffer(align_up(std::clamp<size_t>(window_bytes, 64 * 1024, scan_chunk_bytes),
                                          direct_io_alignment))),
          _offsets(offsets) {}

    // The next batch; nullopt at the end (see stop_reason()), or when the
    // batch is larger than `budget_bytes` (then nothing of it is read).
    task<storage_result<std::optional<item>>> next(size_t budget_bytes = SIZE_MAX) {
        if (_position >= _end || _stop_reason) co_return std::optional<item>{};
        const size_t prefix = std::min<uint64_t>(batch_length_prefix_bytes, _end - _position);
        auto have_prefix = co_await ensure(_position, prefix);
        if (!have_prefix) co_return failure{have_prefix.error()};
        if (!*have_prefix) co_return stop(batch_errc::truncated);
        auto size = peek_batch_size(at(_position, prefix), _max_batch_bytes);
        if (!size) {
            if (size.error() == batch_errc::zero_length) co_return std::optional<item>{};
            co_return stop(size.error());
        }
        if (_position + *size > _end) co_return stop(batch_errc::truncated);
        if (*size > budget_bytes) co_return std::optional<item>{};
        auto have_batch = co_await ensure(_position, *size);
        if (!have_batch) co_return failure{have_batch.error()};
        if (!*have_batch) co_return stop(batch_errc::truncated);
        const auto bytes = at(_position, *size);
        auto header = check_stored_batch(bytes);
        if (!header) co_return stop(header.error());
        if (!in_sequence(*header)) co_return stop(batch_errc::invalid_offset_delta);
        _previous_last_offset = header->last_offset();
        item found{_position, bytes, *header};
        _position += *size;
        co_return std::optional<item>{found};
    }

    // Bytes [0, position()) hold good batches.
    uint64_t position() const noexcept { return _position; }
    std::optional<batch_errc> stop_reason() const noexcept { return _stop_reason; }
    // Ends the scan at the current position with `reason` (a caller's check failed).
    void stop_here(batch_errc reason) noexcept { _stop_reason = reason; }
    // The file bytes [from, to) if they are in the window (for the tail page).
    std::optional<std::span<const std::byte>> window_bytes(uint64_t from, uint64_t to) const {
        if (from < _window_start || to > _window_start + _window_bytes) return std::nullopt;
        return at(from, to - from);
    }

private:
    bool in_sequence(const batch_header& header) const noexcept {
        const int64_t base = header.base_offset;
        // last_offset() wraps for a corrupt base: compare before trusting it.
        if (base < _offsets.first_offset || base >= _offsets.offset_limit) return false;
        if (header.last_offset_delta >= _offsets.offset_limit - base) return false;
        return !_previous_last_offset || base == *_previous_last_offset + 1;
    }
    std::optional<item> stop(batch_errc reason) {
        _stop_reason = reason;
        return std::nullopt;
    }
    std::span<const std::byte> at(uint64_t from, size_t length) const {
        return {_window.bytes().data() + (from - _window_start), length};
    }
    // Makes [from, from + length) readable; false if the file ends first.
    task<storage_result<bool>> ensure(uint64_t from, size_t length) {
        if (from >= _window_start && from + length <= _window_start + _window_bytes) co_return true;
        const uint64_t start = align_down(from, direct_io_alignment);
        const size_t needed = align_up(from + length - start, direct_io_alignment);
        if (needed > _window.bytes().size()) {
            _window = io_buffer();  // back to its pool before taking a larger one
            _window = _disk.write_buffer(align_up(needed, scan_chunk_bytes));
        }
        auto got = co_await _file.read_at(start, _window);
        if (!got) co_return failure{io_failure(got.error(), "read " + _path)};
        _window_start = start;
        _window_bytes = *got;
        co_return from + length <= _window_start + _window_bytes;
    }

    disk& _disk;
    disk_file& _file;
    const std::string& _path;
    uint64_t _position;
    uint64_t _end;
    size_t _max_batch_bytes;
    io_buffer _window;
    uint64_t _window_start = 0;
    size_t _window_bytes = 0;
    std::optional<batch_errc> _stop_reason;
    offset_range _offsets;
    std::optional<int64_t> _previous_last_offset;
};

batch_extent extent_of(const batch_scanner::item& batch) {
    return batch_extent{static_cast<uint32_t>(batch.position),
                        static_cast<uint32_t>(batch.bytes.size()), batch.header.last_offset(),
                        batch.header.max_timestamp_ms};
}

}  // namespace

std::string storage_error::message() const {
    const char* what = "io_failure";
    switch (code) {
    case storage_errc::corrupt_batch: what = "corrupt_batch"; break;
    case storage_errc::batch_too_large: what = "batch_too_large"; break;
    case storage_errc::disk_full: what = "disk_full"; break;
    case storage_errc::io_failure: what = "io_failure"; break;
    case storage_errc::offset_out_of_range: what = "offset_out_of_range"; break;
    case storage_errc::log_offline: what = "log_offline"; break;
    case storage_errc::closed: what = "closed"; break;
    case storage_errc::out_of_order_sequence: what = "out_of_order_sequence"; break;
    case storage_errc::duplicate_sequence: what = "duplicate_sequence"; break;
    case storage_errc::invalid_producer_epoch: what = "invalid_producer_epoch"; break;
    case storage_errc::unknown_producer_id: what = "unknown_producer_id"; break;
    }
    std::string text = what;
    if (!detail.empty()) text += ": " + detail;
    if (io.sys_errno != 0) text += " (" + io.message() + ")";
    return text;
}

partition_log::partition_log(disk& d, executor& e, std::string directory, log_config config,
                             cache_budget* cache, storage_probe* probe)
    : _disk(d),
      _executor(e),
      _directory(std::move(directory)),
      _config(config),
      _cache_budget(cache),
      _probe(probe) {}

// Normally destroyed after close(). The crash simulator also destroys a log
// whose tasks its executor has abandoned (a power cut): nothing here may
// touch the waiters or files then.
partition_log::~partition_log() {
    if (_cache_budget != nullptr) {
        _cache_budget->release(_cache_bytes);
        _cache_budget->forget(*this);
    }
}

uint64_t partition_log::evict_oldest_cached() noexcept {
    if (_cache.empty()) return 0;
    const uint64_t freed = _cache.front().bytes.size();
    _cache_bytes -= freed;
    _cache.pop_front();
    return freed;
}

void partition_log::drop_cached_below(int64_t offset) noexcept {
    uint64_t freed = 0;
    while (!_cache.empty() && _cache.front().base_offset < offset) {
        freed += _cache.front().bytes.size();
        _cache.pop_front();
    }
    _cache_bytes -= freed;
    if (_cache_budget != nullptr) _cache_budget->release(freed);
}

std::string partition_log::segment_path(int64_t base_offset) const {
    return absl::StrFormat("%s/%020d.log", _directory, base_offset);
}

uint64_t partition_log::size_bytes() const noexcept {
    uint64_t total = 0;
    for (const auto& s : _segments) total += s->size_bytes;
    return total;
}

// ---- open and recovery ----

task<storage_result<std::unique_ptr<partition_log>>> partition_log::open(
    disk& d, executor& e, std::string directory, log_config config, cache_budget* cache,
    storage_probe* probe) {
    TL_ASSERT(config.segment_bytes >= log_config::min_segment_bytes &&
              config.segment_bytes <= log_config::max_segment_bytes);
    std::unique_ptr<partition_log> log(
        new partition_log(d, e, std::move(directory), config, cache, probe));
    auto loaded = co_await log->load();
    if (!loaded) co_return failure{loaded.error()};
    co_return std::move(log);
}

task<storage_result<void>> partition_log::load() {
    auto made = co_await _disk.make_directory(_directory);
    if (!made && made.error().code != io_errc::already_exists) {
        co_return failure{io_failure(made.error(), "cannot create " + _directory)};
    }
    auto names = _disk.list_directory(_directory);
    if (!names) co_return failure{io_failure(names.error(), "cannot list " + _directory)};
    std::vector<int64_t> bases;
    std::vector<int64_t> snapshots;
    shutdown_state previous = shutdown_state::crashed;
    for (const auto& name : *names) {
        if (auto base = parse_log_name(name)) bases.push_back(*base);
        if (auto parsed = parse_segment_file_name(name);
            parsed && parsed->kind == segment_file_kind::producer_snapshot) {
            snapshots.push_back(parsed->base_offset);
        }
        if (name == clean_shutdown_marker) previous = shutdown_state::clean;
        if (name.ends_with(".snapshot.tmp")) {
            // A snapshot write cut short: never renamed, never used.
            [[maybe_unused]] auto removed = co_await _disk.remove_file(_directory + "/" + name);
        }
    }
    if (previous == shutdown_state::clean) {
        // Consumed before anything is written: a crash from here on must not
        // pass for a clean close.
        auto removed = co_await _disk.remove_file(_directory + "/" + clean_shutdown_marker);
        if (!removed) co_return failure{io_failure(removed.error(), "remove shutdown marker")};
        auto synced = co_await _disk.sync_directory(_directory);
        if (!synced) co_return failure{io_failure(synced.error(), "sync " + _directory)};
    }
    std::sort(bases.begin(), bases.end());
    if (bases.empty()) bases.push_back(0);
    for (size_t i = 0; i < bases.size(); ++i) {
        auto s = std::make_shared<segment>();
        s->base_offset = bases[i];
        s->path = segment_path(bases[i]);
        const bool last = i + 1 == bases.size();
        if (!last) {
            // Sealed when rolled: synced and trimmed to its exact size.
            auto opened = co_await _disk.open(s->path, uring::open_mode::read_only,
                                              direct_io::preferred);
            if (!opened) co_return failure{io_failure(opened.error(), s->path)};
            auto size = co_await (*opened)->size();
            if (!size) co_return failure{io_failure(size.error(), s->path)};
            s->file = std::move(*opened);
            s->size_bytes = s->written_bytes = s->allocated_bytes = *size;
            s->next_offset = bases[i + 1];
            s->sealed = true;
        }
        _segments.push_back(std::move(s));
    }
    _recovery.segments = _segments.size();
    auto recovered = co_await recover_tail(*_segments.back(), previous);
    if (!recovered) co_return recovered;
    _log_start_offset = _segments.front()->base_offset;
    _next_offset = _written_end_offset = _durable_end_offset = _synced_end_offset =
        _segments.back()->next_offset;
    auto start = co_await load_log_start_offset();
    if (!start) co_return start;
    auto producers = co_await load_producer_state(std::move(snapshots));
    if (!producers) co_return producers;
    _producers.evict_below(_log_start_offset);
    if (_config.producer_id_expiration_check_interval.count() > 0) {
        _expiry_running = true;
        _executor.spawn(run_producer_expiry());
    }
    if (_config.flush == flush_mode::interval) {
        _interval_sync_running = true;
        _executor.spawn(run_interval_sync());
    }
    if (_config.retention_check_interval.count() > 0) {
        _retention_running = true;
        _executor.spawn(run_retention());
    }
    co_return storage_result<void>{};
}

// The log start offset moves inside a segment with DeleteRecords; it is kept
// in a small file beside the segments, replaced atomically by rename.
task<storage_result<void>> partition_log::load_log_start_offset() {
    const std::string path = _directory + "/log-start-offset";
    auto opened = co_await _disk.open(path, uring::open_mode::read_only, direct_io::never);
    if (!opened) {
        if (opened.error().code == io_errc::not_found) co_return storage_result<void>{};
        co_return failure{io_failure(opened.error(), path)};
    }
    std::array<std::byte, 32> text{};
    auto got = co_await (*opened)->read_at(0, text);
    [[maybe_unused]] auto closed = co_await (*opened)->close();
    if (!got) co_return failure{io_failure(got.error(), path)};
    int64_t value = 0;
    const char* begin = reinterpret_cast<const char*>(text.data());
    const auto [end, ec] = std::from_chars(begin, begin + *got, value);
    if (ec != std::errc{} || end == begin) {
        // A torn checkpoint: fall back to the first segment's base (safe:
        // it only makes deleted records readable again until re-deleted).
        co_return storage_result<void>{};
    }
    _log_start_offset = std::clamp(value, _segments.front()->base_offset, _next_offset);
    co_return storage_result<void>{};
}

task<storage_result<void>> partition_log::store_log_start_offset() {
    const std::string path = _directory + "/log-start-offset";
    const std::string temporary = path + ".tmp";
    const std::string text = std::to_string(_log_start_offset) + "\n";
    auto opened = co_await _disk.open(temporary, uring::open_mode::create_read_write,
                                      direct_io::never);
    if (!opened) co_return failure{io_failure(opened.error(), temporary)};
    auto& file = **opened;
    auto truncated = co_await file.truncate(0);
    auto written = truncated ? co_await file.write_at(0, std::as_bytes(std::span(text)))
                             : io_result<void>(failure{truncated.error()});
    auto synced = written ? co_await file.sync() : written;
    [[maybe_unused]] auto closed = co_await file.close();
    if (!synced) co_return failure{io_failure(synced.error(), temporary)};
    auto renamed = co_await _disk.rename(temporary, path);
    if (!renamed) co_return failure{io_failure(renamed.error(), path)};
    auto dir_synced = co_await _disk.sync_directory(_directory);
    if (!dir_synced) co_return failure{io_failure(dir_synced.error(), _directory)};
    co_return storage_result<void>{};
}

index_config partition_log::index_settings() const noexcept {
    return index_config{_config.max_index_bytes, _config.index_interval_bytes};
}

std::string partition_log::index_path(const segment& s, segment_file_kind kind) const {
    return _directory + "/" + segment_file_name(s.base_offset, kind);
}

task<storage_result<void>> partition_log::recover_tail(segment& s, shutdown_state previous) {
    s.next_offset = s.base_offset;
    auto opened = co_await _disk.open(s.path, uring::open_mode::create_read_write,
                                      direct_io::preferred);
    if (!opened) co_return failure{io_failure(opened.error(), s.path)};
    s.file = std::move(*opened);
    auto file_size = co_await s.file->size();
    if (!file_size) co_return failure{io_failure(file_size.error(), s.path)};

    // After a clean close the index files are complete: only the batches after
    // the last index entry need reading. After a crash the log may be ahead of
    // them, so the whole segment is scanned and its indexes rebuilt (as Kafka
    // does past its recovery point).
    if (previous == shutdown_state::clean) {
        auto resumed = co_await resume_tail(s, *file_size);
        if (!resumed) co_return failure{resumed.error()};
        if (*resumed) co_return storage_result<void>{};
    }
    auto builder = std::make_unique<index_builder>(s.base_offset, index_settings());
    batch_scanner scanner(_disk, *s.file, s.path, 0, *file_size, stored_batch_bytes_max,
                          {s.base_offset, std::numeric_limits<int64_t>::max()});
    int64_t expected_offset = s.base_offset;
    // What a failed resume_tail noted is superseded: this scan sees it all.
    _tail_producer_batches.clear();
    _tail_scan_from = s.base_offset;
    for (;;) {
        auto next = co_await scanner.next();
        if (!next) co_return failure{next.error()};
        if (!*next) break;
        const auto& batch = **next;
        // A stale but intact batch left beyond an earlier truncation has the
        // wrong offsets: the log ends where the sequence breaks.
        if (batch.header.base_offset != expected_offset) {
            scanner.stop_here(batch_errc::invalid_offset_delta);
            // Everything from this batch on goes: step back over it.
            break;
        }
        // An index that cannot take an entry only makes lookups scan further.
        [[maybe_unused]] auto indexed = builder->add_batch(extent_of(batch));
        expected_offset = batch.header.last_offset() + 1;
        s.max_timestamp_ms = std::max(s.max_timestamp_ms, batch.header.max_timestamp_ms);
        note_tail_batch(batch.header);
        ++_recovery.batches_recovered;
    }
    uint64_t position = scanner.position();
    if (scanner.stop_reason() == batch_errc::invalid_offset_delta) {
        // position() is past the out-of-sequence batch; the log ends before it.
        position = builder->log_size_bytes();
    }
    _recovery.tail_error = scanner.stop_reason();
    _recovery.bytes_scanned += position;
    s.index = std::move(builder);
    co_return co_await finish_tail(s, *file_size, position, expected_offset);
}

task<storage_result<bool>> partition_log::resume_tail(segment& s, uint64_t file_size) {
    auto loaded = co_await load_index_files(s);
    if (!loaded) co_return false;
    auto& [offsets, times] = *loaded;
    const uint32_t rescan = index_builder::resume_rescan_position(offsets, times);
    if (rescan > file_size) co_return false;
    batch_scanner scanner(_disk, *s.file, s.path, rescan, file_size, stored_batch_bytes_max,
                          {s.base_offset, std::numeric_limits<int64_t>::max()});
    std::optional<int64_t> expected_offset;
    timestamp_offset largest{no_timestamp, s.base_offset};
    uint64_t batches = 0;
    for (;;) {
        auto next = co_await scanner.next();
        if (!next) co_return failure{next.error()};
        if (!*next) break;
        const auto& batch = **next;
        if (expected_offset && batch.header.base_offset != *expected_offset) co_return false;
        expected_offset = batch.header.last_offset() + 1;
        note_tail_batch(batch.header);
        if (batch.header.max_timestamp_ms > largest.timestamp) {
            largest = {batch.header.max_timestamp_ms, batch.header.last_offset()};
        }
        ++batches;
    }
    // A clean close leaves nothing torn: anything odd means a full scan.
    if (scanner.stop_reason()) co_return false;
    auto builder = index_builder::resume(std::move(offsets), std::move(times), index_settings(),
                                         static_cast<uint32_t>(scanner.position()), largest);
    if (!builder) co_return false;
    if (!expected_offset && scanner.position() != 0) co_return false;  // an entry past the end
    // The scanner keeps last offsets below INT64_MAX, so + 1 cannot overflow.
    const int64_t next_offset = expected_offset.value_or(s.base_offset);
    if (!_tail_scan_from) _tail_scan_from = next_offset;  // nothing after the last entry
    _recovery.batches_recovered += batches;
    if (!expected_offset) {
        // An empty segment.
        s.index = std::make_unique<index_builder>(std::move(*builder));
        auto done = co_await finish_tail(s, file_size, 0, s.base_offset);
        if (!done) co_return failure{done.error()};
        co_return true;
    }
    s.index = std::make_unique<index_builder>(std::move(*builder));
    s.max_timestamp_ms = s.index->max_timestamp_so_far().timestamp;
    _recovery.bytes_scanned += scanner.position() - rescan;
    auto done = co_await finish_tail(s, file_size, scanner.position(), next_offset);
    if (!done) co_return failure{done.error()};
    co_return true;
}

task<storage_result<void>> partition_log::finish_tail(segment& s, uint64_t file_size,
                                                      uint64_t position, int64_t next_offset) {
    s.size_bytes = s.written_bytes = position;
    s.next_offset = next_offset;
    if (position < file_size && _recovery.tail_error) {
        // Cut the torn or corrupt tail, then preallocate again: the region
        // past the end reads as zeros, so no stale batch can reappear.
        _recovery.bytes_truncated = file_size - position;
        auto cut = co_await s.file->truncate(position);
        if (!cut) co_return failure{io_failure(cut.error(), s.path)};
    }
    const uint64_t allocation = std::max<uint64_t>(_config.segment_bytes, position);
    auto allocated = co_await s.file->allocate(0, allocation);
    if (!allocated) co_return failure{io_failure(allocated.error(), s.path)};
    s.allocated_bytes = allocation;
    auto synced = co_await s.file->sync();
    if (!synced) co_return failure{io_failure(synced.error(), s.path)};
    if (position % direct_io_alignment != 0) {
        const uint64_t page = align_down(position, direct_io_alignment);
        auto got = co_await s.file->read_at(page, s.tail_page.span());
        if (!got) co_return failure{io_failure(got.error(), s.path)};
        if (*got < position - page) {
            co_return failure{storage_error{storage_errc::io_failure, {}, "short read " + s.path}};
        }
    }
    co_return storage_result<void>{};
}

task<storage_result<std::pair<offset_index, time_index>>> partition_log::load_index_files(
    const segment& s) {
    std::array<std::vector<std::byte>, 2> images;
    const segment_file_kind kinds[2] = {segment_file_kind::offset_index,
                                        segment_file_kind::time_index};
    for (int i = 0; i < 2; ++i) {
        const std::string path = index_path(s, kinds[i]);
        auto opened = co_await _disk.open(path, uring::open_mode::read_only, direct_io::never);
        if (!opened) co_return failure{io_failure(opened.error(), path)};
        auto size = co_await (*opened)->size();
        if (!size || *size > uint64_t{1} << 31) {
            co_return failure{storage_error{storage_errc::io_failure, {}, "size of " + path}};
        }
        images[i].resize(*size);
        auto got = co_await (*opened)->read_at(0, images[i]);
        [[maybe_unused]] auto closed = co_await (*opened)->close();
        if (!got || *got != *size) {
            co_return failure{storage_error{storage_errc::io_failure, {}, "read " + path}};
        }
    }
    auto offsets = offset_index::decode(images[0], s.base_offset, index_settings(),
                                        index_file_state::trimmed);
    auto times = time_index::decode(images[1], s.base_offset, index_settings(),
                                    index_file_state::trimmed);
    if (!offsets || !times) {
        co_return failure{storage_error{storage_errc::io_failure, {},
                                        "corrupt index of " + s.path}};
    }
    co_return std::pair{std::move(*offsets), std::move(*times)};
}

task<storage_result<void>> partition_log::write_index_files(segment& s) {
    TL_ASSERT(s.index != nullptr);
    const offset_index& offsets = s.index->offsets();
    const time_index& times = s.index->times();
    std::vector<std::byte> offset_bytes(offsets.size_bytes());
    std::vector<std::byte> time_bytes(times.size_bytes());
    offsets.encode_from(0, offset_bytes);
    times.encode_from(0, time_bytes);
    const std::pair<segment_file_kind, const std::vector<std::byte>*> files[2] = {
        {segment_file_kind::offset_index, &offset_bytes},
        {segment_file_kind::time_index, &time_bytes}};
    for (const auto& [kind, bytes] : files) {
        const std::string path = index_path(s, kind);
        auto opened = co_await _disk.open(path, uring::open_mode::create_read_write,
                                          direct_io::never);
        if (!opened) co_return failure{io_failure(opened.error(), path)};
        disk_file& file = **opened;
        auto written = bytes->empty() ? io_result<void>{} : co_await file.write_at(0, *bytes);
        auto trimmed = written ? co_await file.truncate(bytes->size()) : written;
        auto synced = trimmed ? co_await file.sync() : trimmed;
        [[maybe_unused]] auto closed = co_await file.close();
        if (!synced) co_return failure{io_failure(synced.error(), path)};
    }
    s.index->mark_flushed(offsets.size(), times.size());
    co_return storage_result<void>{};
}

task<storage_result<void>> partition_log::ensure_index(segment& s) {
    if (s.index) co_return storage_result<void>{};
    if (auto loaded = co_await load_index_files(s)) {
        auto& [offsets, times] = *loaded;
        // A sealed segment's files were written complete when it rolled.
        auto resumed = index_builder::resume(std::move(offsets), std::move(times),
                                             index_settings(),
                                             static_cast<uint32_t>(s.size_bytes),
                                             {no_timestamp, s.base_offset});
        if (resumed) {
            s.index = std::make_unique<index_builder>(std::move(*resumed));
            s.max_timestamp_ms = s.index->max_timestamp_so_far().timestamp;
            co_return storage_result<void>{};
        }
    }
    // Missing or corrupt: rebuild from the log and write the files again.
    if (!s.file) {
        auto opened = co_await _disk.open(s.path, uring::open_mode::read_only,
                                          direct_io::preferred);
        if (!opened) co_return failure{io_failure(opened.error(), s.path)};
        if (!s.file) s.file = std::move(*opened);
    }
    auto builder = std::make_unique<index_builder>(s.base_offset, index_settings());
    batch_scanner scanner(_disk, *s.file, s.path, 0, s.size_bytes, stored_batch_bytes_max,
                          {s.base_offset, s.next_offset});
    for (;;) {
        auto next = co_await scanner.next();
        if (!next) co_return failure{next.error()};
        if (!*next) break;
        [[maybe_unused]] auto indexed = builder->add_batch(extent_of(**next));
    }
    [[maybe_unused]] auto sealed = builder->seal();
    if (s.index) co_return storage_result<void>{};  // loaded meanwhile by another reader
    s.index = std::move(builder);
    s.max_timestamp_ms = s.index->max_timestamp_so_far().timestamp;
    ++_indexes_rebuilt;
    co_return co_await write_index_files(s);
}

// ---- append ----

std::shared_ptr<partition_log::segment> partition_log::active_for(size_t batch_bytes,
                                                                 int64_t now_ms) {
    const std::shared_ptr<segment>& current = _segments.back();
    segment& active = *current;
    const bool full = active.size_bytes + batch_bytes > _config.segment_bytes;
    const bool old = active.first_append_ms != no_timestamp &&
                     now_ms - active.first_append_ms >= _config.segment_ms.count();
    // Kafka also rolls when an index is full or an offset would not fit a
    // relative offset.
    const bool index_full = active.index && active.index->is_full();
    const bool offset_far = _next_offset - active.base_offset > int64_t{INT32_MAX} / 2;
    if (active.size_bytes == 0 || (!full && !old && !index_full && !offset_far)) return current;
    auto next = std::make_shared<segment>();
    next->base_offset = _next_offset;
    next->next_offset = _next_offset;
    next->path = segment_path(_next_offset);
    next->producer_snapshot = _producers.encode_snapshot(_next_offset);
    _segments.push_back(next);
    return next;
}

int64_t partition_log::max_timestamp_ms() const noexcept {
    int64_t largest = no_timestamp;
    for (const auto& s : _segments) largest = std::max(largest, s->max_timestamp_ms);
    return largest;
}

void partition_log::reconfigure(const log_config& topic) {
    _config.segment_bytes = topic.segment_bytes;
    _config.segment_ms = topic.segment_ms;
    _config.index_interval_bytes = topic.index_interval_bytes;
    _config.max_index_bytes = topic.max_index_bytes;
    _config.retention_ms = topic.retention_ms;
    _config.retention_bytes = topic.retention_bytes;
    _config.max_batch_bytes = topic.max_batch_bytes;
    _config.timestamps = topic.timestamps;
}

task<storage_result<append_result>> partition_log::append(std::span<const std::byte> batch,
                                                          bool already_validated) {
    if (_closing) co_return failure{storage_error{storage_errc::closed, {}, _directory}};
    if (_offline) co_return failure{storage_error{storage_errc::log_offline, _offline->io,
                                                  _offline->message()}};
    auto header = already_validated && batch.size() <= _config.max_batch_bytes
                      ? read_batch_header(batch)
                      : validate_batch(batch, {.max_batch_size_bytes = _config.max_batch_bytes});
    if (!header) {
        const storage_errc code = header.error() == batch_errc::too_large
                                      ? storage_errc::batch_too_large
                                      : storage_errc::corrupt_batch;
        co_return failure{storage_error{code, {}, std::string(name(header.error()))}};
    }
    if (header->has_producer_id()) {
        const sequence_check sequence = _producers.check(*header);
        storage_errc refused = storage_errc::out_of_order_sequence;
        switch (sequence.verdict) {
            case sequence_verdict::append: break;
            case sequence_verdict::duplicate:
                co_return co_await answer_duplicate(sequence.duplicate);
            case sequence_verdict::old_duplicate: refused = storage_errc::duplicate_sequence; break;
            case sequence_verdict::out_of_order: break;
            case sequence_verdict::stale_epoch: refused = storage_errc::invalid_producer_epoch; break;
            case sequence_verdict::unknown_producer:
                refused = storage_errc::unknown_producer_id;
                break;
        }
        if (sequence.verdict != sequence_verdict::append) {
            const producer_entry* known = _producers.find(header->producer_id);
            co_return failure{storage_error{
                refused, {},
                absl::StrFormat("%s: producer %d epoch %d sequence %d..%d (known: epoch %d, "
                                "last sequence %d)",
                                name(sequence.verdict), header->producer_id,
                                header->producer_epoch, header->base_sequence,
                                header->last_sequence(), known ? known->epoch : -1,
                                known ? known->last().last_sequence : -1)}};
        }
    }
    if (header->last_offset_delta >= std::numeric_limits<int64_t>::max() - _next_offset) {
        co_return failure{storage_error{storage_errc::offset_out_of_range, {},
                                        "the log's offsets are exhausted"}};
    }
    if (below_free_space_floor()) {
        co_return failure{storage_error{storage_errc::disk_full, {},
                                        "free space below the floor for " + _directory}};
    }
    const int64_t now_ms = _executor.wall_time_ms();
    const std::shared_ptr<segment> target_segment = active_for(batch.size(), now_ms);
    segment& target = *target_segment;

    pending_batch pending{target_segment, std::vector<std::byte>(batch.begin(), batch.end()),
                          _next_offset, _next_offset + header->last_offset_delta};
    assign_base_offset(pending.bytes, pending.base_offset);
    int64_t append_time_ms = no_timestamp;
    int64_t max_timestamp_ms = header->max_timestamp_ms;
    if (_config.timestamps == timestamp_type::log_append_time) {
        set_log_append_time(pending.bytes, now_ms);
        append_time_ms = max_timestamp_ms = now_ms;
    }
    pending.max_timestamp_ms = max_timestamp_ms;
    target.size_bytes += pending.bytes.size();
    target.next_offset = pending.last_offset + 1;
    target.max_timestamp_ms = std::max(target.max_timestamp_ms, max_timestamp_ms);
    if (target.first_append_ms == no_timestamp) target.first_append_ms = now_ms;
    _next_offset = pending.last_offset + 1;
    // At once, with the offsets: the next pipelined batch checks against it.
    _producers.record(*header, pending.base_offset, pending.last_offset, append_time_ms, now_ms);
    const append_result done{pending.base_offset, pending.last_offset, append_time_ms,
                             _log_start_offset};

    append_waiter waiter{.last_offset = pending.last_offset};
    _pending.push_back(std::move(pending));
    start_flusher();

    struct wait_durable {
        partition_log& log;
        append_waiter& waiter;
        bool await_ready() const noexcept { return waiter.done; }
        void await_suspend(std::coroutine_handle<> h) {
            waiter.handle = h;
            log._waiters.push_back(&waiter);
        }
        void await_resume() const noexcept {}
    };
    co_await wait_durable{*this, waiter};
    if (waiter.error) co_return failure{*waiter.error};
    co_return done;
}

// A retry of a batch already in the log: its offsets, once they are durable
// (the original may still be in flight; if its write fails, so does this).
task<storage_result<append_result>> partition_log::answer_duplicate(
    const producer_batch& original) {
    ++_stats.duplicates;
    if (_probe != nullptr) _probe->duplicate_answered();
    const append_result done{original.base_offset, original.last_offset,
                             original.append_time_ms, _log_start_offset};
    if (original.last_offset < _durable_end_offset) co_return done;
    append_waiter waiter{.last_offset = original.last_offset};
    struct wait_durable {
        partition_log& log;
        append_waiter& waiter;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            waiter.handle = h;
            // Waiters stay in offset order (acknowledge_up_to pops from the front).
            auto at = std::upper_bound(
                log._waiters.begin(), log._waiters.end(), waiter.last_offset,
                [](int64_t offset, const append_waiter* w) { return offset < w->last_offset; });
            log._waiters.insert(at, &waiter);
        }
        void await_resume() const noexcept {}
    };
    co_await wait_durable{*this, waiter};
    if (waiter.error) co_return failure{*waiter.error};
    co_return done;
}

bool partition_log::below_free_space_floor() {
    // statvfs at most every free_space_check_interval: cheap enough per append.
    const steady_time now = _executor.now();
    if (_free_space_checked_at != steady_time{} &&
        now - _free_space_checked_at < _config.free_space_check_interval) {
        return _below_floor;
    }
    _free_space_checked_at = now;
    auto free = _disk.free_bytes(_directory);
    _below_floor = free.ok() && *free < _config.min_free_bytes;
    return _below_floor;
}

void partition_log::acknowledge_up_to(int64_t end_offset) {
    while (!_waiters.empty() && _waiters.front()->last_offset < end_offset) {
        append_waiter* w = _waiters.front();
        _waiters.pop_front();
        w->done = true;
        ++_stats.appends_acknowledged;
        _executor.schedule(w->handle);
    }
}

void partition_log::fail_pending(const storage_error& error) {
    // Nothing after the durable end was acknowledged: those offsets are
    // given back, and the log resumes (if it can) from the durable end.
    for (append_waiter* w : _waiters) {
        w->error = error;
        w->done = true;
        _executor.schedule(w->handle);
    }
    _waiters.clear();
}

void partition_log::roll_back_pending(const storage_error& error) {
    _pending.clear();
    fail_pending(error);
    _next_offset = _written_end_offset;
    _producers.truncate_from(_written_end_offset);
    // Segments rolled for the failed batches hold nothing: forget them (an
    // empty file left behind is harmless and reused on the next roll).
    while (_segments.size() > 1 && _segments.back()->written_bytes == 0) {
        _segments.pop_back();
    }
    segment& active = *_segments.back();
    active.size_bytes = active.written_bytes;
    active.next_offset = _written_end_offset;
}

task<void> partition_log::run_interval_sync() {
    while (!_closing) {
        co_await _executor.sleep(_config.flush_interval, _stop_interval_sync);
        if (_closing || _offline || _written_end_offset == _synced_end_offset) continue;
        const int64_t covered = _written_end_offset;
        segment& active = *_segments.back();
        if (!active.file) continue;
        auto synced = co_await active.file->sync();
        if (synced) {
            _synced_end_offset = std::max(_synced_end_offset, covered);
            _bytes_since_sync = 0;
        } else {
            _offline = io_failure(synced.error(), "fdatasync " + active.path);
        }
    }
    _interval_sync_running = false;
    if (_interval_close_waiter) _executor.schedule(std::exchange(_interval_close_waiter, nullptr));
}

task<void> partition_log::run_retention() {
    // Deleting segments never waits for appends, nor they for it: the
    // flusher only touches the active segment, which retention never deletes.
    while (!_closing) {
        co_await _executor.sleep(_config.retention_check_interval, _stop_retention);
        if (_closing) break;
        [[maybe_unused]] auto applied = co_await apply_retention();
    }
    _retention_running = false;
    if (_retention_close_waiter) _executor.schedule(std::exchange(_retention_close_waiter, nullptr));
}

void partition_log::start_flusher() {
    if (_flusher_running) return;
    _flusher_running = true;
    _executor.spawn(run_flusher());
}

task<void> partition_log::run_flusher() {
    while (!_pending.empty()) {
        const std::shared_ptr<segment> target_segment = _pending.front().target;
        segment& target = *target_segment;
        std::optional<storage_error> failed;
        if (!target.file) {
            auto prepared = co_await prepare_file(target);
            if (!prepared) failed = prepared.error();
        }
        size_t count = 0;
        size_t bytes = 0;
        const steady_time flush_started = _executor.now();
        if (!failed) {
            while (count < _pending.size() && _pending[count].target == target_segment &&
                   (count == 0 || bytes + _pending[count].bytes.size() <= _config.max_write_bytes)) {
                bytes += _pending[count].bytes.size();
                ++count;
            }
            auto written = co_await write_pending(target, count);
            if (!written) failed = written.error();
        }
        if (failed) {
            // Nothing of this group was acknowledged and everything before it
            // is intact (writes start at the page holding the durable end,
            // which is rewritten with the bytes it already had): give the
            // offsets back and let later appends try again.
            roll_back_pending(*failed);
            continue;
        }
        _bytes_since_sync += bytes;
        const bool sync_now = _config.flush == flush_mode::group ||
                              (_config.flush == flush_mode::interval &&
                               _bytes_since_sync >= _config.flush_interval_bytes);
        if (sync_now) {
            ++_stats.syncs;
            if (_probe != nullptr) _probe->synced();
            auto synced = co_await target.file->sync();
            if (!synced) {
                // A failed fdatasync may have dropped dirty pages: the file's
                // state is unknown, so stop rather than vouch for it.
                const storage_error error = io_failure(synced.error(), "fdatasync " + target.path);
                _offline = error;
                _pending.clear();
                _next_offset = _written_end_offset = _durable_end_offset;
                _producers.truncate_from(_durable_end_offset);
                fail_pending(error);
                break;
            }
            _synced_end_offset = _written_end_offset;
            _bytes_since_sync = 0;
        }
        _durable_end_offset = _written_end_offset;
        if (_probe != nullptr) _probe->flushed(_executor.now() - flush_started);
        acknowledge_up_to(_durable_end_offset);
        trim_cache();
    }
    _flusher_running = false;
    if (_close_waiter) _executor.schedule(std::exchange(_close_waiter, nullptr));
}

task<storage_result<void>> partition_log::prepare_file(segment& s) {
    // Everything before `s` has been written: seal its predecessors first.
    // (A snapshot: retention may drop segments while we suspend.)
    std::vector<std::shared_ptr<segment>> older;
    for (const auto& candidate : _segments) {
        if (candidate.get() == &s) break;
        if (!candidate->sealed) older.push_back(candidate);
    }
    for (const auto& unsealed : older) {
        auto sealed = co_await seal(*unsealed);
        if (!sealed) co_return sealed;
    }
    // Everything below s is durable now: its producer snapshot may be kept.
    if (!s.producer_snapshot.empty()) {
        co_await write_producer_snapshot(s.base_offset, std::move(s.producer_snapshot));
        s.producer_snapshot = {};
    }
    auto opened = co_await _disk.open(s.path, uring::open_mode::create_read_write,
                                      direct_io::preferred);
    if (!opened) co_return failure{io_failure(opened.error(), s.path)};
    s.file = std::move(*opened);
    auto allocated = co_await s.file->allocate(0, _config.segment_bytes);
    if (!allocated) {
        s.file.reset();
        co_return failure{io_failure(allocated.error(), "preallocate " + s.path)};
    }
    s.allocated_bytes = _config.segment_bytes;
    s.index = std::make_unique<index_builder>(s.base_offset, index_settings());
    auto synced = co_await _disk.sync_directory(_directory);
    if (!synced) co_return failure{io_failure(synced.error(), "sync " + _directory)};
    co_return storage_result<void>{};
}

task<storage_result<void>> partition_log::write_pending(segment& s, size_t count) {
    const uint64_t start = align_down(s.written_bytes, direct_io_alignment);
    const size_t carried = s.written_bytes - start;  // bytes of the rewritten tail page
    size_t payload = 0;
    for (size_t i = 0; i < count; ++i) payload += _pending[i].bytes.size();
    const size_t length = align_up(carried + payload, direct_io_alignment);

    io_buffer buffer = _disk.write_buffer(length);
    std::byte* out = buffer.bytes().data();
    std::memcpy(out, s.tail_page.data(), carried);
    size_t at = carried;
    for (size_t i = 0; i < count; ++i) {
        std::memcpy(out + at, _pending[i].bytes.data(), _pending[i].bytes.size());
        at += _pending[i].bytes.size();
    }
    std::memset(out + at, 0, length - at);

    if (start + length > s.allocated_bytes) {
        // A batch larger than what remains of the preallocation.
        auto grown = co_await s.file->allocate(s.allocated_bytes, start + length - s.allocated_bytes);
        if (!grown) co_return failure{io_failure(grown.error(), "extend " + s.path)};
        s.allocated_bytes = start + length;
    }
    auto written = co_await s.file->write_at(start, buffer);
    if (!written) co_return failure{io_failure(written.error(), "write " + s.path)};
    ++_stats.writes;
    _stats.bytes_written += payload;

    s.written_bytes += payload;
    const uint64_t tail = s.written_bytes % direct_io_alignment;
    if (tail != 0) {
        const size_t page_in_buffer = align_down(s.written_bytes, direct_io_alignment) - start;
        std::memcpy(s.tail_page.data(), out + page_in_buffer, tail);
    }
    uint64_t position = s.written_bytes - payload;
    for (size_t i = 0; i < count; ++i) {
        pending_batch& p = _pending.front();
        const batch_extent extent{static_cast<uint32_t>(position),
                                  static_cast<uint32_t>(p.bytes.size()), p.last_offset,
                                  p.max_timestamp_ms};
        // An index that cannot take an entry only makes lookups scan further.
        [[maybe_unused]] auto indexed = s.index->add_batch(extent);
        position += p.bytes.size();
        _written_end_offset = p.last_offset + 1;
        const uint64_t cached = p.bytes.size();
        _cache_bytes += cached;
        _cache.push_back(cached_batch{p.base_offset, p.last_offset, std::move(p.bytes)});
        if (_cache_budget != nullptr) _cache_budget->charge(*this, cached);
        _pending.pop_front();
    }
    co_return storage_result<void>{};
}

task<storage_result<void>> partition_log::seal(segment& s) {
    if (s.file) {
        auto synced = co_await s.file->sync();
        if (!synced) co_return failure{io_failure(synced.error(), "fdatasync " + s.path)};
        auto trimmed = co_await s.file->truncate(s.size_bytes);
        if (!trimmed) co_return failure{io_failure(trimmed.error(), "trim " + s.path)};
        auto synced_size = co_await s.file->sync();
        if (!synced_size) co_return failure{io_failure(synced_size.error(), "fdatasync " + s.path)};
        s.allocated_bytes = s.size_bytes;
    }
    if (s.index) {
        [[maybe_unused]] auto sealed_index = s.index->seal();
        auto written = co_await write_index_files(s);
        if (!written) co_return written;
    }
    s.sealed = true;
    s.tail_page = aligned_buffer();
    co_return storage_result<void>{};
}

void partition_log::trim_cache() {
    uint64_t freed = 0;
    while (!_cache.empty() && _cache_bytes > _config.cache_bytes) {
        freed += _cache.front().bytes.size();
        _cache_bytes -= _cache.front().bytes.size();
        _cache.pop_front();
    }
    if (_cache_budget != nullptr) _cache_budget->release(freed);
}

// ---- read ----

task<storage_result<read_result>> partition_log::read(read_request request) {
    read_result out;
    out.high_watermark = _durable_end_offset;
    out.log_start_offset = _log_start_offset;
    if (request.start_offset < _log_start_offset || request.start_offset > _next_offset) {
        co_return failure{storage_error{
            storage_errc::offset_out_of_range, {},
            absl::StrFormat("offset %d outside [%d, %d]", request.start_offset, _log_start_offset,
                            _next_offset)}};
    }
    const int64_t bound = std::min(request.max_offset.value_or(_durable_end_offset),
                                   _durable_end_offset);
    if (request.start_offset >= bound) co_return out;

    if (!_cache.empty() && request.start_offset >= _cache.front().base_offset) {
        auto first = std::lower_bound(
            _cache.begin(), _cache.end(), request.start_offset,
            [](const cached_batch& b, int64_t offset) { return b.last_offset < offset; });
        for (auto it = first; it != _cache.end() && it->base_offset < bound; ++it) {
            if (!out.batches.empty() && out.batches.size() + it->bytes.size() > request.max_bytes) {
                break;
            }
            out.batches.insert(out.batches.end(), it->bytes.begin(), it->bytes.end());
        }
        co_return out;
    }
    auto from_disk = co_await read_from_disk(request, bound, out);
    if (!from_disk) co_return failure{from_disk.error()};
    co_return out;
}

task<storage_result<void>> partition_log::read_from_disk(const read_request& request, int64_t bound,
                                                         read_result& out) {
    int64_t from_offset = request.start_offset;
    while (out.batches.empty() && from_offset < bound) {
        // The segment holding from_offset: the last one whose base is <= it.
        // Looked up afresh each time: the deque may change while we read.
        auto found = std::upper_bound(_segments.begin(), _segments.end(), from_offset,
                                      [](int64_t offset, const std::shared_ptr<segment>& s) {
                                          return offset < s->base_offset;
                                      });
        if (found == _segments.begin()) break;  // deleted by retention meanwhile
        const std::shared_ptr<segment> holder = *std::prev(found);
        segment& s = *holder;
        auto indexed = co_await ensure_index(s);
        if (!indexed) co_return failure{indexed.error()};
        if (!s.file) {
            auto opened = co_await _disk.open(s.path, uring::open_mode::read_only,
                                              direct_io::preferred);
            if (!opened) co_return failure{io_failure(opened.error(), s.path)};
            if (!s.file) s.file = std::move(*opened);
        }
        const uint64_t start = s.index->offsets().lookup(from_offset).position;
        out.batches.reserve(std::min<size_t>(request.max_bytes, 16 << 20));
        // The index entry may sit up to an index interval before the offset.
        batch_scanner scanner(_disk, *s.file, s.path, start, s.written_bytes, stored_batch_bytes_max,
                              {s.base_offset, s.next_offset},
                              request.max_bytes + 2 * _config.index_interval_bytes);
        for (;;) {
            // Beyond the first batch, never fetch one that will not be returned.
            const size_t budget = out.batches.empty() || out.batches.size() >= request.max_bytes
                                      ? (out.batches.empty() ? SIZE_MAX : 0)
                                      : request.max_bytes - out.batches.size();
            auto next = co_await scanner.next(budget);
            if (!next) co_return failure{next.error()};
            if (!*next) break;
            const auto& batch = **next;
            if (batch.header.last_offset() < from_offset) {
                // Skipping batches before the target: they do not count.
                if (!out.batches.empty()) break;
                continue;
            }
            if (batch.header.base_offset >= bound) break;
            out.batches.insert(out.batches.end(), batch.bytes.begin(), batch.bytes.end());
        }
        if (scanner.stop_reason()) {
            // Never serve a corrupt batch: refuse the read instead.
            co_return failure{storage_error{
                storage_errc::io_failure, {},
                absl::StrFormat("corrupt batch at byte %d of %s: %s", scanner.position(), s.path,
                                name(*scanner.stop_reason()))}};
        }
        if (s.next_offset <= from_offset) break;  // nothing more to find here
        from_offset = s.next_offset;
    }
    co_return storage_result<void>{};
}

task<storage_result<std::optional<timestamp_lookup>>> partition_log::offset_for_timestamp(
    int64_t target_ms) {
    // A snapshot: retention may drop segments while we suspend.
    const std::vector<std::shared_ptr<segment>> segments(_segments.begin(), _segments.end());
    const int64_t bound = _durable_end_offset;
    for (const auto& holder : segments) {
        segment& s = *holder;
        if (s.base_offset >= bound) break;
        if (s.written_bytes == 0) continue;
        auto indexed = co_await ensure_index(s);
        if (!indexed) co_return failure{indexed.error()};
        if (s.max_timestamp_ms < target_ms) continue;
        // Kafka's findOffsetByTimestamp: the time index bounds where to start,
        // the offset index turns that into a position, the log gives the answer.
        const int64_t hint = std::max(s.index->times().lookup(target_ms).offset, _log_start_offset);
        const uint64_t start = s.index->offsets().lookup(hint).position;
        if (!s.file) {
            auto opened = co_await _disk.open(s.path, uring::open_mode::read_only,
                                              direct_io::preferred);
            if (!opened) co_return failure{io_failure(opened.error(), s.path)};
            if (!s.file) s.file = std::move(*opened);
        }
        batch_scanner scanner(_disk, *s.file, s.path, start, s.written_bytes, stored_batch_bytes_max,
                              {s.base_offset, s.next_offset});
        for (;;) {
            auto next = co_await scanner.next();
            if (!next) co_return failure{next.error()};
            if (!*next) break;
            const auto& batch = **next;
            if (batch.header.base_offset >= bound) break;
            if (batch.header.max_timestamp_ms < target_ms ||
                batch.header.last_offset() < _log_start_offset) {
                continue;
            }
            std::optional<timestamp_lookup> answer;
            if (batch.header.compression() == compression_codec::none) {
                // The first record at or after the target, as Kafka answers.
                [[maybe_unused]] auto walked = for_each_record(batch.bytes, [&](const record_view& r) {
                    const int64_t offset = record_offset(batch.header, r);
                    const int64_t timestamp = record_timestamp_ms(batch.header, r);
                    if (offset < _log_start_offset || timestamp < target_ms) return true;
                    answer = timestamp_lookup{offset, timestamp};
                    return false;
                });
            }
            if (!answer) {
                // Compressed: the batch is the finest grain without decompressing.
                answer = timestamp_lookup{std::max(batch.header.base_offset, _log_start_offset),
                                          batch.header.max_timestamp_ms};
            }
            co_return answer;
        }
    }
    co_return std::optional<timestamp_lookup>{};
}

// ---- retention ----

task<storage_result<retention_report>> partition_log::apply_retention() {
    retention_report report;
    const int64_t now_ms = _executor.wall_time_ms();
    uint64_t total = size_bytes();
    size_t doomed = 0;
    // Only sealed segments, oldest first, never the active one.
    while (doomed + 1 < _segments.size() && _segments[doomed]->sealed) {
        const segment& s = *_segments[doomed];
        const bool too_old = _config.retention_ms >= 0 && s.max_timestamp_ms != no_timestamp &&
                             now_ms - s.max_timestamp_ms > _config.retention_ms;
        const bool too_big = _config.retention_bytes >= 0 &&
                             total - s.size_bytes >= static_cast<uint64_t>(_config.retention_bytes);
        if (!too_old && !too_big) break;
        total -= s.size_bytes;
        report.bytes_deleted += s.size_bytes;
        ++doomed;
    }
    if (doomed == 0) co_return report;
    report.segments_deleted = doomed;
    auto deleted = co_await delete_front_segments(doomed);
    if (!deleted) co_return failure{deleted.error()};
    if (_probe != nullptr) _probe->retention_deleted(report.segments_deleted, report.bytes_deleted);
    co_return report;
}

task<storage_result<int64_t>> partition_log::truncate_prefix(int64_t new_start) {
    if (new_start > _durable_end_offset || new_start < 0) {
        co_return failure{storage_error{
            storage_errc::offset_out_of_range, {},
            absl::StrFormat("cannot move the log start to %d beyond the high watermark %d",
                            new_start, _durable_end_offset)}};
    }
    if (new_start <= _log_start_offset) co_return _log_start_offset;
    _log_start_offset = new_start;
    _producers.evict_below(_log_start_offset);
    auto stored = co_await store_log_start_offset();
    if (!stored) co_return failure{stored.error()};
    size_t doomed = 0;
    while (doomed + 1 < _segments.size() && _segments[doomed]->sealed &&
           _segments[doomed + 1]->base_offset <= new_start) {
        ++doomed;
    }
    if (doomed > 0) {
        auto deleted = co_await delete_front_segments(doomed);
        if (!deleted) co_return failure{deleted.error()};
    }
    co_return _log_start_offset;
}

task<storage_result<void>> partition_log::delete_front_segments(size_t count) {
    TL_ASSERT(count < _segments.size(), "the active segment is never deleted");
    // Advance the start first: readers never see a segment that is going.
    _log_start_offset = std::max(_log_start_offset, _segments[count]->base_offset);
    drop_cached_below(_log_start_offset);
    _producers.evict_below(_log_start_offset);
    std::vector<std::shared_ptr<segment>> doomed(_segments.begin(),
                                                 _segments.begin() + static_cast<ptrdiff_t>(count));
    _segments.erase(_segments.begin(), _segments.begin() + static_cast<ptrdiff_t>(count));
    for (const auto& s : doomed) {
        // Unlinked now; the descriptor closes when the last reader lets go.
        auto removed = co_await _disk.remove_file(s->path);
        if (!removed && removed.error().code != io_errc::not_found) {
            co_return failure{io_failure(removed.error(), "delete " + s->path)};
        }
    }
    auto stored = co_await store_log_start_offset();
    if (!stored) co_return stored;
    co_return storage_result<void>{};
}

// ---- producer state ----

namespace {

// Snapshots kept: the latest is the one open uses; one more in case it is
// found damaged.
constexpr size_t producer_snapshots_kept = 2;

}  // namespace

// Best effort: a snapshot that is not written only makes the next open
// replay from an older one (or from the log start).
task<void> partition_log::write_producer_snapshot(int64_t offset, std::vector<std::byte> bytes) {
    const std::string path =
        _directory + "/" + segment_file_name(offset, segment_file_kind::producer_snapshot);
    const std::string temporary = path + ".tmp";
    auto opened = co_await _disk.open(temporary, uring::open_mode::create_read_write,
                                      direct_io::never);
    if (!opened) {
        ++_stats.producer_snapshot_failures;
        co_return;
    }
    auto& file = **opened;
    auto truncated = co_await file.truncate(0);
    auto written = truncated ? co_await file.write_at(0, bytes)
                             : io_result<void>(failure{truncated.error()});
    auto synced = written ? co_await file.sync() : written;
    [[maybe_unused]] auto closed = co_await file.close();
    auto renamed = synced ? co_await _disk.rename(temporary, path) : synced;
    if (!renamed) {
        ++_stats.producer_snapshot_failures;
        [[maybe_unused]] auto removed = co_await _disk.remove_file(temporary);
        co_return;
    }
    ++_stats.producer_snapshots;
    // The rename is made durable by the caller's directory sync; older
    // snapshots beyond the few kept go (a resurrected one is harmless: open
    // takes the latest).
    auto names = _disk.list_directory(_directory);
    if (!names) co_return;
    std::vector<int64_t> offsets;
    for (const auto& name : *names) {
        auto parsed = parse_segment_file_name(name);
        if (parsed && parsed->kind == segment_file_kind::producer_snapshot) {
            offsets.push_back(parsed->base_offset);
        }
    }
    std::sort(offsets.begin(), offsets.end(), std::greater<>());
    for (size_t i = producer_snapshots_kept; i < offsets.size(); ++i) {
        [[maybe_unused]] auto removed = co_await _disk.remove_file(
            _directory + "/" + segment_file_name(offsets[i], segment_file_kind::producer_snapshot));
    }
}

// A producer batch seen by the tail scan of open(), kept until the snapshot
// to start from is chosen.
void partition_log::note_tail_batch(const batch_header& header) {
    if (!_tail_scan_from) _tail_scan_from = header.base_offset;
    if (header.has_producer_id()) _tail_producer_batches.push_back(header);
}

void partition_log::replay_producer_batch(const batch_header& header) {
    // Idle time counts from the batch's own time (as Kafka), never from the future.
    const int64_t now_ms = _executor.wall_time_ms();
    const int64_t seen_ms = header.max_timestamp_ms == no_timestamp
                                ? now_ms
                                : std::min(header.max_timestamp_ms, now_ms);
    const int64_t append_time_ms = header.timestamps() == timestamp_type::log_append_time
                                       ? header.max_timestamp_ms
                                       : no_timestamp;
    _producers.record(header, header.base_offset, header.last_offset(), append_time_ms, seen_ms);
    ++_recovery.producer_batches_replayed;
}

task<storage_result<bool>> partition_log::read_producer_snapshot(int64_t offset) {
    const std::string path =
        _directory + "/" + segment_file_name(offset, segment_file_kind::producer_snapshot);
    auto opened = co_await _disk.open(path, uring::open_mode::read_only, direct_io::never);
    if (!opened) co_return false;
    auto size = co_await (*opened)->size();
    // A few hundred bytes per producer: anything huge is not ours.
    if (!size || *size > (uint64_t{1} << 30)) {
        [[maybe_unused]] auto closed = co_await (*opened)->close();
        co_return false;
    }
    std::vector<std::byte> bytes(*size);
    auto got = co_await (*opened)->read_at(0, bytes);
    [[maybe_unused]] auto closed = co_await (*opened)->close();
    if (!got || *got != bytes.size()) co_return false;
    auto decoded = producer_snapshot::decode(bytes);
    if (!decoded || decoded->offset != offset) co_return false;
    _producers = std::move(decoded->state);
    co_return true;
}

// After recovery: the latest good snapshot at or below the log end, then the
// producer batches after it. Snapshots above the log end (its tail was cut)
// are deleted: the offsets they describe will be written anew.
task<storage_result<void>> partition_log::load_producer_state(std::vector<int64_t> snapshots) {
    std::sort(snapshots.begin(), snapshots.end(), std::greater<>());
    std::optional<int64_t> start;
    for (const int64_t offset : snapshots) {
        if (offset > _next_offset) {
            [[maybe_unused]] auto removed = co_await _disk.remove_file(
                _directory + "/" + segment_file_name(offset, segment_file_kind::producer_snapshot));
            continue;
        }
        if (start) continue;
        _producers = producer_state{};
        auto loaded = co_await read_producer_snapshot(offset);
        if (!loaded) co_return failure{loaded.error()};
        if (*loaded) start = offset;
    }
    if (!start) _producers = producer_state{};
    _recovery.producer_snapshot_offset = start;
    const int64_t from = start.value_or(_segments.front()->base_offset);
    if (_tail_scan_from && *_tail_scan_from <= from) {
        for (const batch_header& header : _tail_producer_batches) {
            if (header.base_offset >= from) replay_producer_batch(header);
        }
    } else if (from < _next_offset) {
        auto replayed = co_await replay_producers(from);
        if (!replayed) co_return replayed;
    }
    _tail_producer_batches = {};
    _tail_scan_from.reset();
    co_return storage_result<void>{};
}

// Reads the segments back from `from_offset` to the log end for their
// producer batches (no usable snapshot near the end).
task<storage_result<void>> partition_log::replay_producers(int64_t from_offset) {
    for (const auto& s : _segments) {
        if (s->next_offset <= from_offset || s->size_bytes == 0) continue;
        if (!s->file) continue;
        batch_scanner scanner(_disk, *s->file, s->path, 0, s->size_bytes, stored_batch_bytes_max,
                              {s->base_offset, s->next_offset});
        for (;;) {
            auto next = co_await scanner.next();
            if (!next) co_return failure{next.error()};
            if (!*next) break;
            const batch_header& header = (**next).header;
            if (header.base_offset < from_offset || !header.has_producer_id()) continue;
            replay_producer_batch(header);
            ++_recovery.producer_batches_read_back;
        }
    }
    co_return storage_result<void>{};
}

task<void> partition_log::run_producer_expiry() {
    while (!_closing) {
        co_await _executor.sleep(_config.producer_id_expiration_check_interval, _stop_expiry);
        if (_closing) break;
        _stats.producers_expired += _producers.expire(
            _executor.wall_time_ms(), _config.producer_id_expiration.count());
    }
    _expiry_running = false;
    if (_expiry_close_waiter) _executor.schedule(std::exchange(_expiry_close_waiter, nullptr));
}

// ---- close ----

task<void> partition_log::close() {
    _closing = true;
    _stop_interval_sync.fire();
    _stop_retention.fire();
    _stop_expiry.fire();
    // Each background task clears its flag and resumes its waiter when done.
    struct wait_stopped {
        const bool& running;
        std::coroutine_handle<>& waiter;
        bool await_ready() const noexcept { return !running; }
        void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_stopped{_flusher_running, _close_waiter};
    co_await wait_stopped{_interval_sync_running, _interval_close_waiter};
    co_await wait_stopped{_retention_running, _retention_close_waiter};
    co_await wait_stopped{_expiry_running, _expiry_close_waiter};
    // A clean close: the active segment trimmed to its last batch (as Kafka's
    // tools expect) with complete index files, then the marker that lets the
    // next open skip the full scan. Best effort: any failure here only costs
    // a longer scan on open.
    bool clean = !_offline && _pending.empty();
    for (auto& s : _segments) {
        if (!s->file) continue;
        if (!s->sealed && clean) {
            auto trimmed = co_await s->file->truncate(s->size_bytes);
            auto synced = trimmed ? co_await s->file->sync() : trimmed;
            clean = synced.ok();
            if (clean && s->index) {
                [[maybe_unused]] auto sealed_index = s->index->seal();
                clean = (co_await write_index_files(*s)).ok();
            }
        }
        [[maybe_unused]] auto closed = co_await s->file->close();
        s->file.reset();
    }
    if (clean) {
        // The producer state at the log end: the next open replays nothing.
        co_await write_producer_snapshot(_next_offset, _producers.encode_snapshot(_next_offset));
        const std::string marker = _directory + "/" + clean_shutdown_marker;
        auto opened = co_await _disk.open(marker, uring::open_mode::create_read_write,
                                          direct_io::never);
        if (opened) {
            [[maybe_unused]] auto synced = co_await (*opened)->sync();
            [[maybe_unused]] auto closed = co_await (*opened)->close();
            [[maybe_unused]] auto dir_synced = co_await _disk.sync_directory(_directory);
        }
    }
}

}  // namespace tl::storage
