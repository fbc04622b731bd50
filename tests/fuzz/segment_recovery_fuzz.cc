// Fuzzes segment recovery (partition_log::open on src/storage/partition_log):
// the input is the byte image of a partition's segment files. It is written,
// durably, onto a fresh simulated disk (tests/sim, fixed executor seed, so a
// run is a pure function of the input), the log is opened, read end to end,
// appended to, closed and opened again. A violated property aborts, and
// libFuzzer keeps the input.
//
// Input: one control byte (see `control` below: segment size, a roll after
// recovery, flush mode, batch size bound, cache on or off, one or two
// segments), then for two segments a 12-byte split header (where to cut the
// image and how to name the second segment), then the image of
// 00000000000000000000.log. Two segments exercise the sealed one (trusted,
// never scanned on open) beside the last (scanned and cut at its first bad
// batch).
//
// Properties, all checked against a model scan of the image written here from
// the rules record_batch.h and partition_log.h state:
// - open succeeds (the disk never fails, so recovery has no reason to), within
//   a bounded number of executor steps (no hang, no lost wakeup);
// - the last segment recovers exactly the model's prefix: log end, high
//   watermark, batches and bytes scanned, tail_error, bytes_truncated (a tail
//   error iff bytes were cut), and the file past the cut reads as zeros;
// - reading from the log start to the high watermark, in small and large
//   chunks, serves only batches that validate (allow_gaps, allow_empty), with
//   contiguous offsets when every sealed segment is intact, byte-identical to
//   the image where the model can say what they must be; a read may fail, with
//   a typed error, only inside a sealed segment the model finds damaged (a
//   corrupt batch is refused, not served);
// - a new batch appends at the recovered log end and reads back (with a roll,
//   a second one, in a new segment, after the recovered one is sealed); close
//   trims each file to its batches; after reopen (the clean-restart path,
//   from the index files) the log start, end, segments and every batch are
//   what they were, with no tail cut.
//
// Known bugs are kept out of the run unless asked for: see below.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/sim_disk.h"
#include "sim/sim_executor.h"
#include "storage/partition_log.h"

namespace {

using namespace tl;
using namespace tl::storage;
using sim::sim_disk;
using sim::sim_executor;
using bytes = std::vector<std::byte>;

// Fails the run with a message; libFuzzer saves the input that got here.
#define FUZZ_CHECK(condition)                                                                     \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)

constexpr uint64_t executor_seed = 20240601;
// Resumptions one harness call (open, a read, an append, close) may take
// before we call it a hang. Recovering a 1 MiB image takes a few dozen.
constexpr uint64_t max_steps_per_call = 200'000;
// Reads of one pass over the log at most: each serves at least one batch.
constexpr size_t max_reads_per_pass = 100'000;
constexpr const char* log_directory = "data/t-0";
// segment.ms: with control::roll the harness waits longer than this between two
// appends. Short, because interval flushing wakes every 100 ms meanwhile.
constexpr std::chrono::milliseconds segment_age_max{1000};

// The control byte.
namespace control {
constexpr uint8_t large_segments = 0x01;  // segment.bytes 1 MiB, not 64 KiB
constexpr uint8_t roll = 0x02;            // a second append rolls a segment (segment.ms)
constexpr uint8_t two_segments = 0x04;    // a 12-byte split header follows
constexpr uint8_t explicit_base = 0x08;   // second segment named by the header, not the model
constexpr uint8_t flush_mask = 0x30;      // group, none, interval, group
constexpr int flush_shift = 4;
constexpr uint8_t small_batches = 0x40;  // max_batch_bytes 8 KiB: appends only; stored ones stay
constexpr uint8_t no_cache = 0x80;       // every read, the new batches' too, comes from disk
}  // namespace control
// After the control byte when two_segments is set: split position (u32, little
// endian, modulo image size + 1) then the second base offset (u64, little endian).
constexpr size_t split_header_bytes = 12;

// The corpus inputs named regression-* once found two bugs, both fixed and now
// checked on every run: offsets near INT64_MAX overflowed int64 in recovery
// and append, and reads served a sealed batch whose (CRC-free) baseOffset had
// a flipped bit.

// What the log checks of a batch already on disk (partition_log.cc,
// check_stored_batch, as Kafka's ensureValid): size, magic, CRC, counts.
batch_result<batch_header> stored_batch(byte_span bytes) {
    auto header = read_batch_header(bytes);
    if (!header) return header;
    if (header->size_bytes() != bytes.size()) return failure{batch_errc::invalid_length};
    if (header->magic != batch_magic_v2) return failure{batch_errc::unsupported_magic};
    if (compute_batch_crc(bytes) != header->crc) return failure{batch_errc::crc_mismatch};
    if (header->last_offset_delta < -1 || header->record_count < 0) {
        return failure{batch_errc::invalid_offset_delta};
    }
    return header;
}

int64_t wrapping_add(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

template <typename T>
T load_le(byte_span from) {
    uint64_t value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
        value |= uint64_t{static_cast<uint8_t>(from[i])} << (8 * i);
    }
    return static_cast<T>(value);
}

// ---- the model: what recovery must find in one segment image ----

struct model_batch {
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    size_t position = 0;
    byte_span bytes;
};

struct segment_model {
    std::vector<model_batch> batches;
    size_t end_position = 0;         // bytes accepted, from the start
    int64_t next_offset = 0;         // after the last accepted batch
    std::optional<batch_errc> stop;  // why the scan stopped before the end, if not clean
};


// Batch by batch from `base_offset`, as partition_log.h and record_batch.h
// describe recovery: zero_length is the clean end of written data; any other
// refusal, a batch running past the end, or a base offset out of sequence is
// a tail to cut.
segment_model scan(byte_span image, int64_t base_offset, size_t max_batch_bytes) {
    segment_model m;
    m.next_offset = base_offset;
    size_t position = 0;
    while (position < image.size()) {
        const byte_span rest = image.subspan(position);
        auto size = peek_batch_size(rest.first(std::min(rest.size(), batch_length_prefix_bytes)),
                                    max_batch_bytes);
        if (!size) {
            if (size.error() != batch_errc::zero_length) m.stop = size.error();
            break;
        }
        if (*size > rest.size()) {
            m.stop = batch_errc::truncated;
            break;
        }
        auto header = stored_batch(rest.first(*size));
        if (!header) {
            m.stop = header.error();
            break;
        }
        // Its last offset + 1 must fit int64, or the batch is a bad tail.
        if (header->base_offset != m.next_offset ||
            header->last_offset_delta >= std::numeric_limits<int64_t>::max() - header->base_offset) {
            m.stop = batch_errc::invalid_offset_delta;
            break;
        }
        m.batches.push_back(
            {header->base_offset, header->last_offset(), position, rest.first(*size)});
        m.next_offset = wrapping_add(header->last_offset(), 1);
        position += *size;
    }
    m.end_position = position;
    return m;
}

// ---- the case the input describes ----

struct segment_image {
    int64_t base_offset = 0;
    byte_span bytes;
    segment_model model;
    // Sealed segments only: every byte is a valid batch, in sequence from the
    // base, ending where the next segment begins. What rolling leaves behind.
    bool consistent = false;
};

struct fuzz_case {
    log_config config;
    bool roll = false;
    std::vector<segment_image> segments;
};

std::optional<fuzz_case> parse(byte_span input) {
    if (input.empty()) return std::nullopt;
    const auto flags = static_cast<uint8_t>(input[0]);
    input = input.subspan(1);
    fuzz_case c;
    c.config.segment_bytes = (flags & control::large_segments) != 0 ? 1024 * 1024 : 64 * 1024;
    c.config.segment_ms = segment_age_max;
    c.roll = (flags & control::roll) != 0;
    constexpr flush_mode modes[] = {flush_mode::group, flush_mode::none, flush_mode::interval,
                                    flush_mode::group};
    c.config.flush = modes[(flags & control::flush_mask) >> control::flush_shift];
    if ((flags & control::small_batches) != 0) c.config.max_batch_bytes = 8 * 1024;
    if ((flags & control::no_cache) != 0) c.config.cache_bytes = 0;
    c.config.min_free_bytes = 0;
    c.config.retention_check_interval = std::chrono::milliseconds(0);  // nothing deleted

    std::optional<int64_t> second_base;
    size_t split = input.size();
    if ((flags & control::two_segments) != 0) {
        if (input.size() < split_header_bytes) return std::nullopt;
        const auto split_value = load_le<uint32_t>(input);
        const auto base_value = load_le<uint64_t>(input.subspan(4));
        input = input.subspan(split_header_bytes);
        split = split_value % (input.size() + 1);
        if ((flags & control::explicit_base) != 0) {
            second_base = static_cast<int64_t>(base_value & INT64_MAX);
        } else {
            // Where a roll would have named it: after the first part's batches.
            second_base = scan(input.first(split), 0, stored_batch_bytes_max).next_offset;
        }
        // A second segment named 0 (or below) would be the first one again.
        if (*second_base <= 0) second_base.reset();
    }
    if (!second_base) split = input.size();
    c.segments.push_back({.base_offset = 0, .bytes = input.first(split)});
    if (second_base) {
        c.segments.push_back({.base_offset = *second_base, .bytes = input.subspan(split)});
    }

    for (size_t i = 0; i < c.segments.size(); ++i) {
        segment_image& s = c.segments[i];
        s.model = scan(s.bytes, s.base_offset, stored_batch_bytes_max);
        if (i + 1 < c.segments.size()) {
            s.consistent = s.model.end_position == s.bytes.size() &&
                           s.model.next_offset == c.segments[i + 1].base_offset;
        }
    }
    return c;
}

std::string segment_path(int64_t base_offset) {
    char name[64];
    std::snprintf(name, sizeof(name), "/%020lld.log", static_cast<long long>(base_offset));
    return log_directory + std::string(name);
}

// ---- driving the simulation ----

template <typename T>
T run_bounded(sim_executor& executor, task<T> work) {
    std::optional<T> out;
    executor.spawn([](task<T> w, std::optional<T>& o) -> task<void> {
        o.emplace(co_await std::move(w));
    }(std::move(work), out));
    for (uint64_t steps = 0; !out; ++steps) {
        FUZZ_CHECK(steps < max_steps_per_call);  // a hang
        FUZZ_CHECK(executor.run(1) == 1);        // idle before done: a lost wakeup
    }
    return std::move(*out);
}

// Writes each image through a buffered file and syncs it: durable, as if an
// earlier broker had written it and the machine then restarted.
task<bool> seed_disk(sim_disk& disk, const fuzz_case& c) {
    FUZZ_CHECK((co_await disk.make_directory("data")).ok());
    FUZZ_CHECK((co_await disk.make_directory(log_directory)).ok());
    for (const segment_image& s : c.segments) {
        auto opened = co_await disk.open(segment_path(s.base_offset),
                                         uring::open_mode::create_read_write, direct_io::never);
        FUZZ_CHECK(opened.ok());
        disk_file& file = **opened;
        if (!s.bytes.empty()) FUZZ_CHECK((co_await file.write_at(0, s.bytes)).ok());
        FUZZ_CHECK((co_await file.sync()).ok());
        FUZZ_CHECK((co_await file.close()).ok());
    }
    co_return true;
}

task<bool> close_log(partition_log& log) {
    co_await log.close();
    co_return true;
}

std::unique_ptr<partition_log> open_log(sim_executor& executor, sim_disk& disk,
                                        const log_config& config) {
    auto opened = run_bounded(executor, partition_log::open(disk, executor, log_directory, config));
    if (!opened) {
        std::fprintf(stderr, "open failed: %s\n", opened.error().message().c_str());
    }
    FUZZ_CHECK(opened.ok());  // nothing fails on this disk: recovery cuts, it does not give up
    return std::move(*opened);
}

// ---- reading ----

struct pass_result {
    std::vector<bytes> batches;          // as served, in order (see read_pass)
    std::optional<storage_error> error;  // the read that failed, if one did
    int64_t error_offset = 0;
    bool stalled = false;  // an empty read below the high watermark
};

// Index of the segment holding `offset`: the last whose base is <= it.
size_t segment_of(const fuzz_case& c, int64_t offset) {
    size_t at = 0;
    while (at + 1 < c.segments.size() && c.segments[at + 1].base_offset <= offset) ++at;
    return at;
}

// Every sealed segment is what rolling leaves: the model knows the whole log.
bool all_sealed_consistent(const fuzz_case& c) {
    return std::all_of(c.segments.begin(), c.segments.end() - 1,
                       [](const segment_image& s) { return s.consistent; });
}

// Reads from the log start to the high watermark, `max_bytes` at a time,
// checking each batch as it comes. When the model knows the log is whole,
// offsets follow on exactly and every read finds data; past a damaged sealed
// segment they must still go up (read_result: "whole batches, in offset
// order"; known bug 2), and a read may find nothing (the segment ends before
// its successor begins).
pass_result read_pass(sim_executor& executor, partition_log& log, const fuzz_case& c,
                      size_t max_bytes) {
    pass_result pass;
    const bool whole = all_sealed_consistent(c);
    int64_t start = log.log_start_offset();
    const int64_t high_watermark = log.high_watermark();
    for (size_t reads = 0; start < high_watermark; ++reads) {
        FUZZ_CHECK(reads < max_reads_per_pass);
        auto r = run_bounded(executor, log.read({.start_offset = start, .max_bytes = max_bytes}));
        if (!r) {
            pass.error = r.error();
            pass.error_offset = start;
            return pass;
        }
        FUZZ_CHECK(r->high_watermark == high_watermark);
        FUZZ_CHECK(r->log_start_offset == log.log_start_offset());
        if (r->batches.empty()) {
            FUZZ_CHECK(!whole);
            pass.stalled = true;
            return pass;
        }
        int64_t expected = start;
        int64_t next_start = start;
        byte_span rest(r->batches);
        while (!rest.empty()) {
            auto size = peek_batch_size(rest, stored_batch_bytes_max);
            FUZZ_CHECK(size.ok() && *size <= rest.size());
            const byte_span batch = rest.first(*size);
            auto header = stored_batch(batch);
            // Never a corrupt batch; contiguous offsets (in order, at least),
            // nothing wholly before the start.
            FUZZ_CHECK(header.ok());
            if (whole) FUZZ_CHECK(header->base_offset == expected);
            FUZZ_CHECK(header->base_offset >= expected);
            FUZZ_CHECK(header->last_offset() >= start);
            expected = wrapping_add(header->last_offset(), 1);
            next_start = std::max(next_start, expected);
            // A batch covering no offset (empty, lastOffsetDelta -1) is served
            // or skipped depending on where a read starts: leave it out.
            if (header->last_offset() >= header->base_offset) {
                pass.batches.emplace_back(batch.begin(), batch.end());
            }
            rest = rest.subspan(*size);
        }
        // Each batch is served once: the next read starts past all of these.
        start = next_start;
    }
    if (whole) FUZZ_CHECK(start == high_watermark);
    return pass;
}

// What a pass must have served, where the model knows: every segment up to the
// first inconsistent sealed one, batch for batch (batches that cover no offset,
// lastOffsetDelta -1, are never served: a read from their base skips them).
std::vector<byte_span> expected_batches(const fuzz_case& c, bool& complete) {
    std::vector<byte_span> out;
    complete = true;
    for (const segment_image& s : c.segments) {
        for (const model_batch& b : s.model.batches) {
            if (b.last_offset >= b.base_offset) out.push_back(b.bytes);
        }
        if (&s != &c.segments.back() && !s.consistent) {
            complete = false;
            break;
        }
    }
    return out;
}

// `appended`: what was appended since the image was written, if anything.
void check_pass(const fuzz_case& c, const pass_result& pass, std::span<const bytes> appended = {}) {
    if (pass.error) {
        // Recovery vouched for the last segment: only a sealed one may refuse.
        const size_t at = segment_of(c, pass.error_offset);
        FUZZ_CHECK(at + 1 < c.segments.size());
        FUZZ_CHECK(!c.segments[at].consistent);
        FUZZ_CHECK(pass.error->code == storage_errc::io_failure ||
                   pass.error->code == storage_errc::corrupt_batch);
    }
    bool complete = false;
    std::vector<byte_span> expected = expected_batches(c, complete);
    if (complete) expected.insert(expected.end(), appended.begin(), appended.end());
    const size_t checked = std::min(expected.size(), pass.batches.size());
    for (size_t i = 0; i < checked; ++i) {
        FUZZ_CHECK(std::ranges::equal(expected[i], pass.batches[i]));
    }
    if (complete && !pass.error) FUZZ_CHECK(pass.batches.size() == expected.size());
}

// ---- recovery against the model ----

void check_recovery(sim_disk& disk, const partition_log& log, const fuzz_case& c) {
    const segment_image& last = c.segments.back();
    const segment_model& m = last.model;
    const recovery_report& report = log.recovery();
    FUZZ_CHECK(log.segment_count() == c.segments.size());
    FUZZ_CHECK(report.segments == c.segments.size());
    FUZZ_CHECK(log.log_start_offset() == c.segments.front().base_offset);
    FUZZ_CHECK(log.log_end_offset() == m.next_offset);
    FUZZ_CHECK(log.high_watermark() == log.log_end_offset());
    FUZZ_CHECK(report.batches_recovered == m.batches.size());
    FUZZ_CHECK(report.bytes_scanned == m.end_position);
    FUZZ_CHECK(report.tail_error == m.stop);
    const uint64_t cut = m.stop ? last.bytes.size() - m.end_position : 0;
    FUZZ_CHECK(report.bytes_truncated == cut);
    FUZZ_CHECK(report.bytes_truncated == 0 || report.tail_error.has_value());

    // The recovered prefix is untouched; past a cut the file reads as zeros
    // (cut, then preallocated again), so no stale batch can come back.
    const bytes* file = disk.contents(segment_path(last.base_offset));
    FUZZ_CHECK(file != nullptr);
    FUZZ_CHECK(file->size() >= std::max<uint64_t>(c.config.segment_bytes, m.end_position));
    FUZZ_CHECK(std::equal(last.bytes.begin(),
                          last.bytes.begin() + static_cast<ptrdiff_t>(m.end_position),
                          file->begin()));
    if (m.stop) {
        FUZZ_CHECK(std::all_of(file->begin() + static_cast<ptrdiff_t>(m.end_position), file->end(),
                               [](std::byte b) { return b == std::byte{0}; }));
    }
}

// ---- append, close, reopen ----

bytes new_batch(int serial) {
    record_batch_builder builder;
    const std::string key = "fuzz-" + std::to_string(serial);
    builder.add_record(sim_executor::wall_epoch_ms + serial, key, "appended after recovery");
    builder.add_record(sim_executor::wall_epoch_ms + serial, key, "second record");
    return builder.build();
}

bytes read_one(sim_executor& executor, partition_log& log, int64_t offset) {
    auto r = run_bounded(executor, log.read({.start_offset = offset, .max_bytes = 1}));
    FUZZ_CHECK(r.ok());
    auto size = peek_batch_size(r->batches, default_max_batch_size_bytes);
    FUZZ_CHECK(size.ok() && *size == r->batches.size());
    return r->batches;
}

task<bool> pause(sim_executor& executor, std::chrono::milliseconds delay) {
    co_await executor.sleep(delay);
    co_return true;
}

// What the harness appended, and the size each segment file must have after
// close (trimmed to its batches).
struct append_record {
    std::vector<bytes> batches;  // as stored, with their offsets
    std::map<std::string, uint64_t> file_bytes;
    std::string active_path;
};

// Appends a two-record batch: it must land at the log end, be durable (per the
// flush mode) on return, and read back as stored. False when the log end
// leaves no room for it (refused, nothing changed).
bool append_one(sim_executor& executor, partition_log& log, append_record& record) {
    const int64_t end_before = log.log_end_offset();
    const size_t segments_before = log.segment_count();
    const bytes batch = new_batch(static_cast<int>(record.batches.size()));
    bytes stored = batch;
    assign_base_offset(stored, end_before);
    auto r = run_bounded(executor, log.append(batch));
    if (end_before >= std::numeric_limits<int64_t>::max() - 1) {
        // No room for two more offsets: refused with a typed error.
        FUZZ_CHECK(!r.ok() && r.error().code == storage_errc::offset_out_of_range);
        FUZZ_CHECK(log.log_end_offset() == end_before);
        FUZZ_CHECK(log.segment_count() == segments_before);
        return false;
    }
    FUZZ_CHECK(r.ok());
    FUZZ_CHECK(r->base_offset == end_before);
    FUZZ_CHECK(r->last_offset == wrapping_add(end_before, 1));
    FUZZ_CHECK(log.log_end_offset() == wrapping_add(end_before, 2));
    FUZZ_CHECK(log.high_watermark() == log.log_end_offset());
    FUZZ_CHECK(read_one(executor, log, end_before) == stored);
    // Written to the active segment, or to a new one named by its offset.
    if (log.segment_count() != segments_before) {
        FUZZ_CHECK(log.segment_count() == segments_before + 1);
        record.active_path = segment_path(end_before);
        FUZZ_CHECK(record.file_bytes.emplace(record.active_path, 0).second);
    }
    record.file_bytes[record.active_path] += stored.size();
    record.batches.push_back(std::move(stored));
    return true;
}

void run_case(const fuzz_case& c) {
    sim_executor executor(executor_seed);
    sim_disk disk(executor);
    FUZZ_CHECK(run_bounded(executor, seed_disk(disk, c)));

    std::unique_ptr<partition_log> log = open_log(executor, disk, c.config);
    check_recovery(disk, *log, c);
    const pass_result first_pass = read_pass(executor, *log, c, 1);
    check_pass(c, first_pass);

    // Append; with `roll`, age the active segment past segment.ms so the
    // second append seals it (synced, trimmed) and starts a new one.
    const segment_image& last = c.segments.back();
    append_record record;
    record.active_path = segment_path(last.base_offset);
    record.file_bytes[record.active_path] = last.model.end_position;
    append_one(executor, *log, record);
    if (c.roll) {
        const size_t segments = log->segment_count();
        FUZZ_CHECK(run_bounded(executor, pause(executor, 2 * segment_age_max)));
        // A refused append (no offsets left) rolls nothing.
        if (append_one(executor, *log, record)) FUZZ_CHECK(log->segment_count() == segments + 1);
    }
    const std::vector<bytes>& appended = record.batches;
    const int64_t end_before = log->log_end_offset();
    const int64_t start_before = log->log_start_offset();
    const size_t segments_before = log->segment_count();
    FUZZ_CHECK(run_bounded(executor, close_log(*log)));
    log.reset();
    // Close (or the roll's seal) trimmed the preallocation: each file ends at its
    // last batch, as Kafka's tools expect.
    for (const auto& [path, size] : record.file_bytes) {
        const bytes* file = disk.contents(path);
        FUZZ_CHECK(file != nullptr && file->size() == size);
    }

    // Closed cleanly: the same log comes back, with nothing to cut.
    log = open_log(executor, disk, c.config);
    FUZZ_CHECK(log->log_start_offset() == start_before);
    FUZZ_CHECK(log->log_end_offset() == end_before);
    FUZZ_CHECK(log->high_watermark() == log->log_end_offset());
    FUZZ_CHECK(log->segment_count() == segments_before);
    FUZZ_CHECK(!log->recovery().tail_error.has_value());
    FUZZ_CHECK(log->recovery().bytes_truncated == 0);
    for (const bytes& batch : appended) {
        FUZZ_CHECK(read_one(executor, *log, read_batch_header(batch)->base_offset) == batch);
    }
    const pass_result second_pass = read_pass(executor, *log, c, 64 * 1024);
    check_pass(c, second_pass, appended);
    if (all_sealed_consistent(c)) {
        // The same batches, in bigger chunks, and the new ones after them.
        FUZZ_CHECK(!first_pass.error && !second_pass.error);
        FUZZ_CHECK(second_pass.batches.size() == first_pass.batches.size() + appended.size());
        FUZZ_CHECK(std::equal(first_pass.batches.begin(), first_pass.batches.end(),
                              second_pass.batches.begin()));
        FUZZ_CHECK(std::equal(appended.begin(), appended.end(),
                              second_pass.batches.end() - static_cast<ptrdiff_t>(appended.size())));
    }
    FUZZ_CHECK(run_bounded(executor, close_log(*log)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto c = parse(std::as_bytes(std::span(data, size)));
    if (c) run_case(*c);
    return 0;
}
