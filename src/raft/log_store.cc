#include "raft/log_store.h"

#include <algorithm>
#include <charconv>

#include <absl/strings/str_format.h>

#include "base/crc32c.h"
#include "raft/codec.h"

namespace tl::raft {
namespace {

using uring::io_errc;
using uring::open_mode;
using storage::direct_io;

constexpr std::string_view hard_state_name = "hard_state";
constexpr std::string_view snapshot_name = "snapshot";
constexpr std::string_view snapshot_temporary_name = "snapshot.tmp";
constexpr std::string_view segment_prefix = "log.";
constexpr size_t segment_digits = 20;
constexpr size_t hard_state_slot_bytes = 64;
constexpr size_t hard_state_record_bytes = 4 + 8 * 4 + 4;
constexpr size_t snapshot_header_bytes = 12;
constexpr size_t record_header_bytes = 8;
constexpr std::array<char, 4> hard_state_magic{'T', 'L', 'H', 'S'};
constexpr std::array<char, 4> snapshot_magic{'T', 'L', 'S', 'N'};

void put_u32(std::byte* at, uint32_t v) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<std::byte>(v >> (8 * (3 - i)));
}
void put_u64(std::byte* at, uint64_t v) {
    for (int i = 0; i < 8; ++i) at[i] = static_cast<std::byte>(v >> (8 * (7 - i)));
}
uint64_t get(const std::byte* at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | std::to_integer<uint64_t>(at[i]);
    return v;
}

std::string io_message(const uring::io_error& e, std::string_view what) {
    return absl::StrFormat("%s: %s", what, e.message());
}

template <typename T>
result<void, std::string> check(const uring::io_result<T>& r, std::string_view what) {
    if (r.ok()) return {};
    return failure{io_message(r.error(), what)};
}

// Reads the whole of `path`; nullopt when it does not exist.
task<result<std::optional<std::vector<std::byte>>, std::string>> read_whole(
    storage::disk& disk, std::string path, uint64_t limit) {
    auto opened = co_await disk.open(path, open_mode::read_only, direct_io::never);
    if (!opened) {
        if (opened.error().code == io_errc::not_found) {
            co_return std::optional<std::vector<std::byte>>{};
        }
        co_return failure{io_message(opened.error(), "cannot open " + path)};
    }
    auto& file = **opened;
    auto size = co_await file.size();
    if (!size) {
        [[maybe_unused]] auto closed = co_await file.close();
        co_return failure{io_message(size.error(), "cannot stat " + path)};
    }
    if (*size > limit) {
        [[maybe_unused]] auto closed = co_await file.close();
        co_return failure{absl::StrFormat("%s: %d bytes, more than %d", path, *size, limit)};
    }
    std::vector<std::byte> bytes(*size);
    auto got = co_await file.read_at(0, bytes);
    [[maybe_unused]] auto closed = co_await file.close();
    if (!got) co_return failure{io_message(got.error(), "cannot read " + path)};
    if (*got != bytes.size()) {
        co_return failure{absl::StrFormat("%s: read %d of %d bytes", path, *got, bytes.size())};
    }
    co_return std::optional<std::vector<std::byte>>{std::move(bytes)};
}

std::optional<index_t> parse_segment_name(std::string_view name) {
    if (!name.starts_with(segment_prefix)) return std::nullopt;
    name.remove_prefix(segment_prefix.size());
    if (name.size() != segment_digits) return std::nullopt;
    index_t first = 0;
    auto [end, problem] = std::from_chars(name.data(), name.data() + name.size(), first);
    if (problem != std::errc{} || end != name.data() + name.size() || first == 0) {
        return std::nullopt;
    }
    return first;
}

}  // namespace

log_store::log_store(storage::disk& disk, std::string directory, log_store_options options)
    : _disk(disk), _directory(std::move(directory)), _options(options) {}

log_store::~log_store() = default;

task<result<std::unique_ptr<log_store>, std::string>> log_store::open(storage::disk& disk,
                                                                      std::string directory) {
    co_return co_await open(disk, std::move(directory), log_store_options{});
}

task<result<std::unique_ptr<log_store>, std::string>> log_store::open(
    storage::disk& disk, std::string directory, log_store_options options) {
    TL_ASSERT(options.segment_bytes > 0);
    std::unique_ptr<log_store> store(new log_store(disk, std::move(directory), options));
    auto loaded = co_await store->load();
    if (!loaded) {
        co_await store->close();
        co_return failure{loaded.error()};
    }
    co_return std::move(store);
}

index_t log_store::last_index() const noexcept {
    for (auto it = _segments.rbegin(); it != _segments.rend(); ++it) {
        if (!it->offsets.empty()) return std::max(it->last(), _snapshot_index);
    }
    return _snapshot_index;
}

std::string log_store::segment_path(index_t first) const {
    return absl::StrFormat("%s/%s%020d", _directory, segment_prefix, first);
}

task<result<void, std::string>> log_store::sync_directory() {
    co_return check(co_await _disk.sync_directory(_directory), "cannot sync " + _directory);
}

task<void> log_store::close() {
    if (_active) {
        [[maybe_unused]] auto closed = co_await _active->close();
    }
    if (_hard_state_file) {
        [[maybe_unused]] auto closed = co_await _hard_state_file->close();
    }
    _active.reset();
    _hard_state_file.reset();
}

// ---------------------------------------------------------------- loading

task<result<void, std::string>> log_store::load() {
    auto made = co_await _disk.make_directory(_directory);
    if (made) {
        // The new folder's entry must be durable before anything in it.
        const auto slash = _directory.rfind('/');
        if (slash != std::string::npos && slash > 0) {
            const std::string parent = _directory.substr(0, slash);
            auto synced = check(co_await _disk.sync_directory(parent), "cannot sync " + parent);
            if (!synced) co_return synced;
        }
    } else if (made.error().code != io_errc::already_exists) {
        co_return failure{io_message(made.error(), "cannot create " + _directory)};
    }
    auto names = _disk.list_directory(_directory);
    if (!names) co_return failure{io_message(names.error(), "cannot list " + _directory)};
    if (std::find(names->begin(), names->end(), snapshot_temporary_name) != names->end()) {
        // A snapshot write that crashed before its rename: never authoritative.
        auto removed = co_await _disk.remove_file(_directory + "/" +
                                                  std::string(snapshot_temporary_name));
        if (!removed) co_return failure{io_message(removed.error(), "cannot remove snapshot.tmp")};
    }
    if (auto r = co_await load_hard_state(); !r) co_return r;
    if (auto r = co_await load_snapshot(); !r) co_return r;

    std::vector<index_t> firsts;
    for (const auto& name : *names) {
        if (auto first = parse_segment_name(name)) firsts.push_back(*first);
    }
    std::sort(firsts.begin(), firsts.end());
    std::vector<entry> entries;
    for (size_t i = 0; i < firsts.size(); ++i) {
        segment s{.first = firsts[i], .path = segment_path(firsts[i]), .offsets = {}, .size = 0};
        if (!_segments.empty() && s.first != _segments.back().last() + 1) {
            co_return failure{absl::StrFormat(
                "%s: starts at index %d, but the previous segment ends at %d", s.path, s.first,
                _segments.back().last())};
        }
        if (auto r = co_await load_segment(s, i + 1 == firsts.size(), entries); !r) co_return r;
        _segments.push_back(std::move(s));
    }

    // Keep the log after the snapshot only if it agrees with it.
    const index_t log_first = _segments.empty() ? 0 : _segments.front().first;
    const index_t log_last = entries.empty() ? 0 : entries.back().index;
    bool agrees = _segments.empty() || log_first == _snapshot_index + 1;
    if (!agrees && log_first <= _snapshot_index && log_last >= _snapshot_index) {
        agrees = entries[_snapshot_index - log_first].term == _snapshot_term;
    }
    if (!agrees) {
        if (auto r = co_await remove_segments_from(0); !r) co_return r;
        entries.clear();
    }
    std::erase_if(entries, [&](const entry& e) { return e.index <= _snapshot_index; });
    _recovered.entries = std::move(entries);
    if (!_segments.empty()) {
        if (auto r = co_await open_active(); !r) co_return r;
    }
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::load_hard_state() {
    const std::string path = _directory + "/" + std::string(hard_state_name);
    auto bytes = co_await read_whole(_disk, path, 2 * hard_state_slot_bytes);
    if (!bytes) co_return failure{bytes.error()};
    if (!bytes->has_value()) co_return result<void, std::string>{};
    const auto& file = **bytes;
    // The valid slot with the highest sequence; none valid means no write
    // ever completed (see the header).
    bool found = false;
    for (size_t slot = 0; slot < 2; ++slot) {
        const size_t at = slot * hard_state_slot_bytes;
        if (file.size() < at + hard_state_record_bytes) continue;
        const std::byte* p = file.data() + at;
        if (!std::equal(hard_state_magic.begin(), hard_state_magic.end(), p,
                        [](char c, std::byte b) { return static_cast<std::byte>(c) == b; })) {
            continue;
        }
        const uint32_t stored = static_cast<uint32_t>(get(p + 36, 4));
        if (crc32c(std::span(p, 36)) != stored) continue;
        const uint64_t sequence = get(p + 4, 8);
        if (found && sequence <= _hard_state_sequence) continue;
        found = true;
        _hard_state_sequence = sequence;
        _recovered.hard = hard_state{.term = get(p + 12, 8),
                                     .voted_for = get(p + 20, 8),
                                     .commit = get(p + 28, 8)};
    }
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::load_snapshot() {
    const std::string path = _directory + "/" + std::string(snapshot_name);
    auto bytes = co_await read_whole(_disk, path, max_snapshot_file_bytes);
    if (!bytes) co_return failure{bytes.error()};
    if (!bytes->has_value()) co_return result<void, std::string>{};
    const auto& file = **bytes;
    if (file.size() < snapshot_header_bytes ||
        !std::equal(snapshot_magic.begin(), snapshot_magic.end(), file.begin(),
                    [](char c, std::byte b) { return static_cast<std::byte>(c) == b; })) {
        co_return failure{path + ": not a Tidelog Raft snapshot (bad magic or size)"};
    }
    const uint64_t length = get(file.data() + 4, 4);
    if (length != file.size() - snapshot_header_bytes) {
        co_return failure{absl::StrFormat("%s: header says %d bytes, file has %d", path, length,
                                          file.size() - snapshot_header_bytes)};
    }
    const auto body = std::span(file).subspan(snapshot_header_bytes);
    const uint32_t stored = static_cast<uint32_t>(get(file.data() + 8, 4));
    if (const uint32_t computed = crc32c(body); computed != stored) {
        co_return failure{absl::StrFormat("%s: CRC mismatch (stored 0x%08x, computed 0x%08x)",
                                          path, stored, computed)};
    }
    auto decoded = decode_snapshot(body);
    if (!decoded) co_return failure{path + ": " + decoded.error()};
    _recovered.snapshot = std::move(*decoded);
    _snapshot_index = _recovered.snapshot.meta.index;
    _snapshot_term = _recovered.snapshot.meta.term;
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::load_segment(segment& s, bool last,
                                                        std::vector<entry>& entries) {
    auto bytes = co_await read_whole(_disk, s.path, uint64_t{1} << 40);
    if (!bytes) co_return failure{bytes.error()};
    TL_ASSERT(bytes->has_value(), "a listed segment vanished");
    const auto& file = **bytes;
    uint64_t at = 0;
    // Whether a bad record at `from` is a torn tail: only in the last
    // segment, and only if nothing but it (or zeros, as a file system may
    // leave after a crash that extended the file) follows.
    auto torn_tail = [&](uint64_t from, uint64_t record_end) {
        if (!last) return false;
        if (record_end >= file.size()) return true;
        return std::all_of(file.begin() + static_cast<std::ptrdiff_t>(from), file.end(),
                           [](std::byte b) { return b == std::byte{0}; });
    };
    while (at < file.size()) {
        const uint64_t left = file.size() - at;
        const uint64_t length = left < record_header_bytes ? left : get(file.data() + at, 4);
        const uint64_t record_end = at + record_header_bytes + length;
        if (left < record_header_bytes || length > left - record_header_bytes) {
            if (torn_tail(at, record_end)) break;
            co_return failure{absl::StrFormat("%s: record cut short at offset %d", s.path, at)};
        }
        const auto body = std::span(file).subspan(at + record_header_bytes, length);
        const uint32_t stored = static_cast<uint32_t>(get(file.data() + at + 4, 4));
        if (length > max_log_record_bytes || crc32c(body) != stored) {
            if (torn_tail(at, record_end)) break;
            co_return failure{
                absl::StrFormat("%s: corrupt record at offset %d (%s)", s.path, at,
                                length > max_log_record_bytes ? "length" : "CRC mismatch")};
        }
        auto decoded = decode_entry(body);
        if (!decoded) {
            if (torn_tail(at, record_end)) break;  // e.g. zeros: length 0, CRC 0
            co_return failure{
                absl::StrFormat("%s: bad entry at offset %d: %s", s.path, at, decoded.error())};
        }
        const index_t expected = s.first + s.offsets.size();
        if (decoded->index != expected) {
            co_return failure{absl::StrFormat("%s: entry %d at offset %d, expected %d", s.path,
                                              decoded->index, at, expected)};
        }
        s.offsets.push_back(at);
        entries.push_back(std::move(*decoded));
        at = record_end;
    }
    s.size = at;
    if (at < file.size()) {
        // Drop the torn tail so that appends continue from a clean record.
        auto opened = co_await _disk.open(s.path, open_mode::read_write, direct_io::never);
        if (!opened) co_return failure{io_message(opened.error(), "cannot open " + s.path)};
        auto truncated = co_await (*opened)->truncate(at);
        auto synced = truncated ? co_await (*opened)->sync() : truncated;
        [[maybe_unused]] auto closed = co_await (*opened)->close();
        if (!synced) co_return failure{io_message(synced.error(), "cannot truncate " + s.path)};
    }
    co_return result<void, std::string>{};
}

// ---------------------------------------------------------------- writing

task<result<void, std::string>> log_store::open_active() {
    TL_ASSERT(!_segments.empty());
    if (_active) {
        [[maybe_unused]] auto closed = co_await _active->close();
    }
    _active.reset();
    const std::string& path = _segments.back().path;
    auto opened = co_await _disk.open(path, open_mode::create_read_write, direct_io::never);
    if (!opened) co_return failure{io_message(opened.error(), "cannot open " + path)};
    _active = std::move(*opened);
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::remove_segments_from(size_t position) {
    if (position >= _segments.size()) co_return result<void, std::string>{};
    if (_active) {
        [[maybe_unused]] auto closed = co_await _active->close();
    }
    _active.reset();
    // Last first: whatever a crash leaves is a prefix of the log.
    while (_segments.size() > position) {
        const std::string path = _segments.back().path;
        auto removed = co_await _disk.remove_file(path);
        if (!removed && removed.error().code != io_errc::not_found) {
            co_return failure{io_message(removed.error(), "cannot remove " + path)};
        }
        _segments.pop_back();
    }
    if (auto r = co_await sync_directory(); !r) co_return r;
    if (!_segments.empty()) co_return co_await open_active();
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::truncate_from(index_t index) {
    TL_ASSERT(index > _snapshot_index, "truncating into the snapshot");
    size_t keep = _segments.size();
    while (keep > 0 && _segments[keep - 1].first >= index) --keep;
    // Whole segments first (then the directory is synced), so that the log
    // on disk never has a gap.
    if (keep < _segments.size() && keep > 0) {
        if (auto r = co_await remove_segments_from(keep); !r) co_return r;
    } else if (keep == 0) {
        // Everything goes; keep the first file (emptied) to append to.
        if (auto r = co_await remove_segments_from(1); !r) co_return r;
    }
    TL_ASSERT(!_segments.empty());
    segment& s = _segments.back();
    if (index > s.last()) co_return result<void, std::string>{};
    if (index < s.first) {
        // The kept segment starts after `index` (all compacted below it):
        // start over at `index` in a fresh file.
        if (auto r = co_await remove_segments_from(0); !r) co_return r;
        co_return result<void, std::string>{};
    }
    const uint64_t cut = s.offsets[index - s.first];
    auto truncated = co_await _active->truncate(cut);
    if (!truncated) co_return failure{io_message(truncated.error(), "cannot truncate " + s.path)};
    s.offsets.resize(index - s.first);
    s.size = cut;
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::append(const std::vector<entry>& entries) {
    const index_t first = entries.front().index;
    if (first <= last_index() && !_segments.empty()) {
        if (auto r = co_await truncate_from(first); !r) co_return r;
    }
    TL_ASSERT(first == last_index() + 1 || (_segments.empty() && first == _snapshot_index + 1),
              "entries must continue the log");
    // Start a segment if there is none, the active one is full, or the log
    // restarts after the snapshot (everything before it was discarded).
    const bool need_new = _segments.empty() || _segments.back().size >= _options.segment_bytes ||
                          (_segments.back().offsets.empty() && _segments.back().first != first);
    if (need_new) {
        if (_active) {
            // Only the last segment may have a torn tail (see the header).
            if (auto r = check(co_await _active->sync(), "cannot sync " + _segments.back().path);
                !r) {
                co_return r;
            }
        }
        if (!_segments.empty() && _segments.back().offsets.empty()) {
            if (auto r = co_await remove_segments_from(_segments.size() - 1); !r) co_return r;
        }
        _segments.push_back(segment{.first = first, .path = segment_path(first), .offsets = {},
                                    .size = 0});
        if (auto r = co_await open_active(); !r) co_return r;
        auto truncated = co_await _active->truncate(0);  // a leftover of an earlier life
        if (!truncated) co_return failure{io_message(truncated.error(), "cannot create segment")};
        if (auto r = co_await sync_directory(); !r) co_return r;
    }
    segment& s = _segments.back();
    std::vector<std::byte> buffer;
    std::vector<uint64_t> offsets;
    for (const auto& e : entries) {
        offsets.push_back(s.size + buffer.size());
        const size_t header_at = buffer.size();
        buffer.resize(buffer.size() + record_header_bytes);
        encode_entry(e, buffer);
        const size_t length = buffer.size() - header_at - record_header_bytes;
        TL_ASSERT(length <= max_log_record_bytes, "entry too large for the log");
        const auto body = std::span(buffer).subspan(header_at + record_header_bytes, length);
        put_u32(buffer.data() + header_at, static_cast<uint32_t>(length));
        put_u32(buffer.data() + header_at + 4, crc32c(body));
    }
    auto written = co_await _active->write_at(s.size, std::span<const std::byte>(buffer));
    if (!written) co_return failure{io_message(written.error(), "cannot write " + s.path)};
    s.size += buffer.size();
    s.offsets.insert(s.offsets.end(), offsets.begin(), offsets.end());
    co_return check(co_await _active->sync(), "cannot sync " + s.path);
}

task<result<void, std::string>> log_store::write_snapshot_file(const snapshot& s) {
    const std::string path = _directory + "/" + std::string(snapshot_name);
    const std::string temporary = _directory + "/" + std::string(snapshot_temporary_name);
    const auto body = encode_snapshot(s);
    std::vector<std::byte> file(snapshot_header_bytes);
    std::transform(snapshot_magic.begin(), snapshot_magic.end(), file.begin(),
                   [](char c) { return static_cast<std::byte>(c); });
    put_u32(file.data() + 4, static_cast<uint32_t>(body.size()));
    put_u32(file.data() + 8, crc32c(body));
    file.insert(file.end(), body.begin(), body.end());

    auto opened = co_await _disk.open(temporary, open_mode::create_read_write, direct_io::never);
    if (!opened) co_return failure{io_message(opened.error(), "cannot create " + temporary)};
    auto& out = **opened;
    auto truncated = co_await out.truncate(0);
    auto written = truncated ? co_await out.write_at(0, std::span<const std::byte>(file))
                             : uring::io_result<void>(failure{truncated.error()});
    auto synced = written ? co_await out.sync() : written;
    [[maybe_unused]] auto closed = co_await out.close();
    if (!synced) co_return failure{io_message(synced.error(), "cannot write " + temporary)};
    auto renamed = co_await _disk.rename(temporary, path);
    if (!renamed) co_return failure{io_message(renamed.error(), "cannot rename to " + path)};
    if (auto r = co_await sync_directory(); !r) co_return r;
    _snapshot_index = s.meta.index;
    _snapshot_term = s.meta.term;
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::write_hard_state(const hard_state& h) {
    const std::string path = _directory + "/" + std::string(hard_state_name);
    if (!_hard_state_file) {
        auto opened = co_await _disk.open(path, open_mode::create_read_write, direct_io::never);
        if (!opened) co_return failure{io_message(opened.error(), "cannot open " + path)};
        _hard_state_file = std::move(*opened);
        if (auto r = co_await sync_directory(); !r) co_return r;
    }
    const uint64_t sequence = _hard_state_sequence + 1;
    std::array<std::byte, hard_state_record_bytes> record{};
    std::transform(hard_state_magic.begin(), hard_state_magic.end(), record.begin(),
                   [](char c) { return static_cast<std::byte>(c); });
    put_u64(record.data() + 4, sequence);
    put_u64(record.data() + 12, h.term);
    put_u64(record.data() + 20, h.voted_for);
    put_u64(record.data() + 28, h.commit);
    put_u32(record.data() + 36, crc32c(std::span(record).first(36)));
    auto written = co_await _hard_state_file->write_at((sequence % 2) * hard_state_slot_bytes,
                                                       std::span<const std::byte>(record));
    auto synced = written ? co_await _hard_state_file->sync() : written;
    if (!synced) co_return failure{io_message(synced.error(), "cannot write " + path)};
    _hard_state_sequence = sequence;
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::persist(const ready& r) {
    if (r.snapshot) {
        // A received snapshot replaces the whole log.
        TL_ASSERT(r.snapshot->meta.index >= _snapshot_index, "snapshots never go back");
        if (auto w = co_await write_snapshot_file(*r.snapshot); !w) co_return w;
        if (auto w = co_await remove_segments_from(0); !w) co_return w;
    }
    if (!r.entries.empty()) {
        if (auto w = co_await append(r.entries); !w) co_return w;
    }
    if (r.hard_state) {
        if (auto w = co_await write_hard_state(*r.hard_state); !w) co_return w;
    }
    co_return result<void, std::string>{};
}

task<result<void, std::string>> log_store::compact(const snapshot& s) {
    TL_ASSERT(s.meta.index >= _snapshot_index, "snapshots never go back");
    if (auto w = co_await write_snapshot_file(s); !w) co_return w;
    // Whole segments at or below the snapshot, never the active one. They go
    // first to last: a crash leaves a suffix, which the snapshot covers.
    size_t drop = 0;
    while (drop + 1 < _segments.size() && _segments[drop].last() <= s.meta.index) ++drop;
    if (drop == 0) co_return result<void, std::string>{};
    for (size_t i = 0; i < drop; ++i) {
        auto removed = co_await _disk.remove_file(_segments[i].path);
        if (!removed && removed.error().code != io_errc::not_found) {
            co_return failure{io_message(removed.error(), "cannot remove " + _segments[i].path)};
        }
    }
    _segments.erase(_segments.begin(), _segments.begin() + static_cast<std::ptrdiff_t>(drop));
    co_return co_await sync_directory();
}

task<result<void, std::string>> bootstrap(log_store& store, const configuration& voters,
                                          std::vector<std::byte> data) {
    TL_ASSERT(!voters.voters.empty(), "a bootstrap needs voters");
    const durable_state& now = store.recovered();
    const bool pristine = now.hard == hard_state{} && now.snapshot.meta == snapshot_meta{} &&
                          now.entries.empty() && store.last_index() == 0;
    if (!pristine) co_return result<void, std::string>{};
    snapshot initial{.meta = {.index = 0, .term = 0, .configuration = voters},
                     .data = std::move(data)};
    if (auto w = co_await store.write_snapshot_file(initial); !w) co_return w;
    store._recovered.snapshot = std::move(initial);
    co_return result<void, std::string>{};
}

}  // namespace tl::raft
