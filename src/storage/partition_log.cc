#include "storage/partition_log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <absl/strings/str_format.h>

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
    // The page holding written_bytes when that is not page aligned: the next
    // O_DIRECT write rewrites it with the new bytes appended.
    aligned_buffer tail_page{direct_io_alignment};
};

struct partition_log::pending_batch {
    std::shared_ptr<segment> target;
    std::vector<std::byte> bytes;
    int64_t base_offset = 0;
    int64_t last_offset = 0;
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

constexpr size_t scan_chunk_bytes = 1024 * 1024;
constexpr size_t segment_name_digits = 20;

storage_error io_failure(const io_error& error, std::string detail) {
    const storage_errc code =
        error.code == io_errc::no_space ? storage_errc::disk_full : storage_errc::io_failure;
    return storage_error{code, error, std::move(detail)};
}

std::optional<int64_t> parse_segment_name(std::string_view name) {
    if (!name.ends_with(".log")) return std::nullopt;
    const std::string_view digits = name.substr(0, name.size() - 4);
    if (digits.size() != segment_name_digits) return std::nullopt;
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value < 0) return std::nullopt;
    return value;
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
    }
    std::string text = what;
    if (!detail.empty()) text += ": " + detail;
    if (io.sys_errno != 0) text += " (" + io.message() + ")";
    return text;
}

partition_log::partition_log(disk& d, executor& e, std::string directory, log_config config)
    : _disk(d), _executor(e), _directory(std::move(directory)), _config(config) {}

// Normally destroyed after close(). The crash simulator also destroys a log
// whose tasks its executor has abandoned (a power cut): nothing here may
// touch the waiters or files then.
partition_log::~partition_log() = default;

std::string partition_log::segment_path(int64_t base_offset) const {
    return absl::StrFormat("%s/%020d.log", _directory, base_offset);
}

uint64_t partition_log::size_bytes() const noexcept {
    uint64_t total = 0;
    for (const auto& s : _segments) total += s->size_bytes;
    return total;
}

// ---- open and recovery ----

task<storage_result<std::unique_ptr<partition_log>>> partition_log::open(disk& d, executor& e,
                                                                         std::string directory,
                                                                         log_config config) {
    TL_ASSERT(config.segment_bytes >= log_config::min_segment_bytes &&
              config.segment_bytes <= log_config::max_segment_bytes);
    std::unique_ptr<partition_log> log(new partition_log(d, e, std::move(directory), config));
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
    for (const auto& name : *names) {
        if (auto base = parse_segment_name(name)) bases.push_back(*base);
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
    auto recovered = co_await recover_tail(*_segments.back());
    if (!recovered) co_return recovered;
    _log_start_offset = _segments.front()->base_offset;
    _next_offset = _written_end_offset = _durable_end_offset = _synced_end_offset =
        _segments.back()->next_offset;
    auto start = co_await load_log_start_offset();
    if (!start) co_return start;
    if (_config.flush == flush_mode::interval) {
        _interval_sync_running = true;
        _executor.spawn(run_interval_sync());
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

task<storage_result<void>> partition_log::recover_tail(segment& s) {
    s.next_offset = s.base_offset;
    auto opened = co_await _disk.open(s.path, uring::open_mode::create_read_write,
                                      direct_io::preferred);
    if (!opened) co_return failure{io_failure(opened.error(), s.path)};
    s.file = std::move(*opened);
    auto file_size = co_await s.file->size();
    if (!file_size) co_return failure{io_failure(file_size.error(), s.path)};

    // Scan batch by batch through an aligned window of the file.
    aligned_buffer window(scan_chunk_bytes);
    uint64_t window_start = 0;
    size_t window_bytes = 0;
    auto ensure = [&](uint64_t from, size_t length) -> task<storage_result<bool>> {
        if (from >= window_start && from + length <= window_start + window_bytes) co_return true;
        const uint64_t start = align_down(from, direct_io_alignment);
        const size_t needed = align_up(from + length - start, direct_io_alignment);
        if (needed > window.size()) window = aligned_buffer(align_up(needed, scan_chunk_bytes));
        auto got = co_await s.file->read_at(start, window.span());
        if (!got) co_return failure{io_failure(got.error(), s.path)};
        window_start = start;
        window_bytes = *got;
        co_return from + length <= window_start + window_bytes;
    };

    uint64_t position = 0;
    int64_t expected_offset = s.base_offset;
    while (position < *file_size) {
        const size_t prefix = std::min<uint64_t>(batch_length_prefix_bytes, *file_size - position);
        auto have_prefix = co_await ensure(position, prefix);
        if (!have_prefix) co_return failure{have_prefix.error()};
        auto bytes_at = [&](uint64_t at, size_t length) {
            return std::span<const std::byte>(window.data() + (at - window_start), length);
        };
        auto size = peek_batch_size(bytes_at(position, prefix), _config.max_batch_bytes);
        if (!size) {
            if (size.error() != batch_errc::zero_length) _recovery.tail_error = size.error();
            break;
        }
        if (position + *size > *file_size) {
            _recovery.tail_error = batch_errc::truncated;
            break;
        }
        auto have_batch = co_await ensure(position, *size);
        if (!have_batch) co_return failure{have_batch.error()};
        if (!*have_batch) {
            _recovery.tail_error = batch_errc::truncated;
            break;
        }
        auto header = validate_batch(bytes_at(position, *size),
                                     {.max_batch_size_bytes = _config.max_batch_bytes,
                                      .offset_deltas = offset_delta_policy::allow_gaps,
                                      .record_count = record_count_policy::allow_empty});
        if (!header) {
            _recovery.tail_error = header.error();
            break;
        }
        // A stale but intact batch left beyond an earlier truncation has the
        // wrong offsets: the log ends where the sequence breaks.
        if (header->base_offset != expected_offset) {
            _recovery.tail_error = batch_errc::invalid_offset_delta;
            break;
        }
        position += *size;
        expected_offset = header->last_offset() + 1;
        s.max_timestamp_ms = std::max(s.max_timestamp_ms, header->max_timestamp_ms);
        ++_recovery.batches_recovered;
    }
    _recovery.bytes_scanned += position;
    s.size_bytes = s.written_bytes = position;
    s.next_offset = expected_offset;

    if (_recovery.tail_error) {
        // Cut the torn or corrupt tail, then preallocate again: the region
        // past the end reads as zeros, so no stale batch can reappear.
        _recovery.bytes_truncated = *file_size - position;
        auto cut = co_await s.file->truncate(position);
        if (!cut) co_return failure{io_failure(cut.error(), s.path)};
    }
    auto allocated = co_await s.file->allocate(0, std::max<uint64_t>(_config.segment_bytes, position));
    if (!allocated) co_return failure{io_failure(allocated.error(), s.path)};
    s.allocated_bytes = std::max<uint64_t>(_config.segment_bytes, position);
    auto synced = co_await s.file->sync();
    if (!synced) co_return failure{io_failure(synced.error(), s.path)};

    if (position % direct_io_alignment != 0) {
        const uint64_t page = align_down(position, direct_io_alignment);
        auto have_page = co_await ensure(page, position - page);
        if (!have_page) co_return failure{have_page.error()};
        std::memcpy(s.tail_page.data(), window.data() + (page - window_start), position - page);
    }
    co_return storage_result<void>{};
}

// ---- append ----

std::shared_ptr<partition_log::segment> partition_log::active_for(size_t batch_bytes,
                                                                 int64_t now_ms) {
    const std::shared_ptr<segment>& current = _segments.back();
    segment& active = *current;
    const bool full = active.size_bytes + batch_bytes > _config.segment_bytes;
    const bool old = active.first_append_ms != no_timestamp &&
                     now_ms - active.first_append_ms >= _config.segment_ms.count();
    if (active.size_bytes == 0 || (!full && !old)) return current;
    auto next = std::make_shared<segment>();
    next->base_offset = _next_offset;
    next->next_offset = _next_offset;
    next->path = segment_path(_next_offset);
    _segments.push_back(next);
    return next;
}

task<storage_result<append_result>> partition_log::append(std::span<const std::byte> batch) {
    if (_closing) co_return failure{storage_error{storage_errc::closed, {}, _directory}};
    if (_offline) co_return failure{storage_error{storage_errc::log_offline, _offline->io,
                                                  _offline->message()}};
    auto header = validate_batch(batch, {.max_batch_size_bytes = _config.max_batch_bytes});
    if (!header) {
        const storage_errc code = header.error() == batch_errc::too_large
                                      ? storage_errc::batch_too_large
                                      : storage_errc::corrupt_batch;
        co_return failure{storage_error{code, {}, std::string(name(header.error()))}};
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
    target.size_bytes += pending.bytes.size();
    target.next_offset = pending.last_offset + 1;
    target.max_timestamp_ms = std::max(target.max_timestamp_ms, max_timestamp_ms);
    if (target.first_append_ms == no_timestamp) target.first_append_ms = now_ms;
    _next_offset = pending.last_offset + 1;
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
        co_await _executor.sleep(_config.flush_interval);
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
            auto synced = co_await target.file->sync();
            if (!synced) {
                // A failed fdatasync may have dropped dirty pages: the file's
                // state is unknown, so stop rather than vouch for it.
                const storage_error error = io_failure(synced.error(), "fdatasync " + target.path);
                _offline = error;
                _pending.clear();
                _next_offset = _written_end_offset = _durable_end_offset;
                fail_pending(error);
                break;
            }
            _synced_end_offset = _written_end_offset;
            _bytes_since_sync = 0;
        }
        _durable_end_offset = _written_end_offset;
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

    aligned_buffer buffer(length);
    std::memcpy(buffer.data(), s.tail_page.data(), carried);
    size_t at = carried;
    for (size_t i = 0; i < count; ++i) {
        std::memcpy(buffer.data() + at, _pending[i].bytes.data(), _pending[i].bytes.size());
        at += _pending[i].bytes.size();
    }
    std::memset(buffer.data() + at, 0, length - at);

    if (start + length > s.allocated_bytes) {
        // A batch larger than what remains of the preallocation.
        auto grown = co_await s.file->allocate(s.allocated_bytes, start + length - s.allocated_bytes);
        if (!grown) co_return failure{io_failure(grown.error(), "extend " + s.path)};
        s.allocated_bytes = start + length;
    }
    auto written = co_await s.file->write_at(start, buffer.span());
    if (!written) co_return failure{io_failure(written.error(), "write " + s.path)};

    s.written_bytes += payload;
    const uint64_t tail = s.written_bytes % direct_io_alignment;
    if (tail != 0) {
        const size_t page_in_buffer = align_down(s.written_bytes, direct_io_alignment) - start;
        std::memcpy(s.tail_page.data(), buffer.data() + page_in_buffer, tail);
    }
    for (size_t i = 0; i < count; ++i) {
        pending_batch& p = _pending.front();
        _written_end_offset = p.last_offset + 1;
        _cache_bytes += p.bytes.size();
        _cache.push_back(cached_batch{p.base_offset, p.last_offset, std::move(p.bytes)});
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
    s.sealed = true;
    s.tail_page = aligned_buffer();
    co_return storage_result<void>{};
}

void partition_log::trim_cache() {
    while (!_cache.empty() && _cache_bytes > _config.cache_bytes) {
        _cache_bytes -= _cache.front().bytes.size();
        _cache.pop_front();
    }
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
        if (!s.file) {
            auto opened = co_await _disk.open(s.path, uring::open_mode::read_only,
                                              direct_io::preferred);
            if (!opened) co_return failure{io_failure(opened.error(), s.path)};
            if (!s.file) s.file = std::move(*opened);
        }
        const uint64_t readable = s.written_bytes;
        aligned_buffer window(scan_chunk_bytes);
        uint64_t window_start = 0;
        size_t window_bytes = 0;
        uint64_t position = 0;
        while (position < readable) {
            const size_t prefix = batch_length_prefix_bytes;
            if (position + prefix > window_start + window_bytes || position < window_start) {
                window_start = align_down(position, direct_io_alignment);
                auto got = co_await s.file->read_at(window_start, window.span());
                if (!got) co_return failure{io_failure(got.error(), s.path)};
                window_bytes = *got;
            }
            auto size = peek_batch_size(
                std::span<const std::byte>(window.data() + (position - window_start),
                                           std::min<size_t>(prefix, window_start + window_bytes - position)),
                _config.max_batch_bytes);
            if (!size) {
                co_return failure{storage_error{
                    storage_errc::io_failure, {},
                    absl::StrFormat("unreadable batch at byte %d of %s: %s", position, s.path,
                                    name(size.error()))}};
            }
            if (position + *size > window_start + window_bytes) {
                window_start = align_down(position, direct_io_alignment);
                const size_t needed = align_up(position + *size - window_start, direct_io_alignment);
                if (needed > window.size()) window = aligned_buffer(needed);
                auto got = co_await s.file->read_at(window_start, window.span());
                if (!got) co_return failure{io_failure(got.error(), s.path)};
                window_bytes = *got;
                if (position + *size > window_start + window_bytes) {
                    co_return failure{storage_error{storage_errc::io_failure, {},
                                                    "short segment " + s.path}};
                }
            }
            const std::span<const std::byte> batch(window.data() + (position - window_start),
                                                   *size);
            // Never serve a corrupt batch: check it as recovery would.
            auto header = validate_batch(batch, {.max_batch_size_bytes = _config.max_batch_bytes,
                                                 .offset_deltas = offset_delta_policy::allow_gaps,
                                                 .record_count = record_count_policy::allow_empty});
            if (!header) {
                co_return failure{storage_error{
                    storage_errc::io_failure, {},
                    absl::StrFormat("corrupt batch at byte %d of %s: %s", position, s.path,
                                    name(header.error()))}};
            }
            position += *size;
            if (header->last_offset() < from_offset) continue;
            if (header->base_offset >= bound) break;
            if (!out.batches.empty() && out.batches.size() + batch.size() > request.max_bytes) break;
            out.batches.insert(out.batches.end(), batch.begin(), batch.end());
        }
        if (s.next_offset <= from_offset) break;  // nothing more to find here
        from_offset = s.next_offset;
    }
    co_return storage_result<void>{};
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
    while (!_cache.empty() && _cache.front().base_offset < _log_start_offset) {
        _cache_bytes -= _cache.front().bytes.size();
        _cache.pop_front();
    }
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

// ---- close ----

task<void> partition_log::close() {
    _closing = true;
    struct wait_flusher {
        partition_log& log;
        bool await_ready() const noexcept { return !log._flusher_running; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log._close_waiter = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_flusher{*this};
    struct wait_interval_sync {
        partition_log& log;
        bool await_ready() const noexcept { return !log._interval_sync_running; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log._interval_close_waiter = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_interval_sync{*this};
    for (auto& s : _segments) {
        if (!s->file) continue;
        if (!s->sealed && !_offline) {
            // Trim the preallocation so the file ends at its last batch, as
            // Kafka's tools expect; recovery preallocates again on open.
            // Best effort: a failure here only costs a longer scan on open.
            auto trimmed = co_await s->file->truncate(s->size_bytes);
            if (trimmed) [[maybe_unused]] auto synced = co_await s->file->sync();
        }
        [[maybe_unused]] auto closed = co_await s->file->close();
        s->file.reset();
    }
}

}  // namespace tl::storage
