// The durable state of one Raft server, in one directory (DATA/controller/).
//
// Files:
//   hard_state          two 64-byte slots written alternately, each
//                       magic "TLHS" | sequence 8 | term 8 | voted_for 8 |
//                       commit 8 | crc 4 (CRC-32C of the fields before it).
//                       The valid slot with the highest sequence wins; a torn
//                       write can only spoil the slot being written, so the
//                       other keeps the previous state. (One write and one
//                       fdatasync per ready, instead of the rename and the
//                       directory sync an atomic replace would cost on every
//                       vote and commit.)
//   snapshot            magic "TLSN" | length 4 | crc 4 | codec.h snapshot;
//                       replaced atomically (snapshot.tmp, fdatasync, rename,
//                       directory sync), as cluster/metadata_store does.
//   log.<first index>   segments (20-digit names) of records:
//                       length 4 | crc 4 | codec.h entry (`length` bytes);
//                       CRC-32C over the entry bytes. A segment is synced
//                       before the next is created, so only the last one can
//                       have a torn tail.
//
// Recovery (open): exactly what was durable. A torn or corrupt record at the
// end of the last segment (its header cut short, its claimed end at or past
// the end of the file, or only zeros from it on, as a file system may leave
// after a crash that extended the file) is dropped and the file truncated
// there; any other bad
// record, a gap between segments or an index out of sequence is an error
// naming the file and the offset. Entries at or below the snapshot are not
// handed out; if the log disagrees with the snapshot (no entry at its index
// with its term, as after a crash while installing a received snapshot) the
// log is discarded, as Raft's InstallSnapshot prescribes.
//
// Threading and lifetime: all calls on the shard that owns `disk`, one at a
// time (persist and compact never overlap: the driver's ready loop serializes
// them). `disk` outlives the store; `persist(r)` reads `r` until it completes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/task.h"
#include "raft/node.h"
#include "raft/types.h"
#include "storage/disk.h"

namespace tl::raft {

struct log_store_options {
    // A new segment is started by the first persist after the active one has
    // reached this size (a soft bound: one ready's entries stay together).
    uint64_t segment_bytes = 16 << 20;
};

inline constexpr uint64_t max_log_record_bytes = 64 << 20;
inline constexpr uint64_t max_snapshot_file_bytes = uint64_t{1} << 30;

class log_store {
public:
    static task<result<std::unique_ptr<log_store>, std::string>> open(storage::disk& disk,
                                                                      std::string directory);
    static task<result<std::unique_ptr<log_store>, std::string>> open(storage::disk& disk,
                                                                      std::string directory,
                                                                      log_store_options options);
    ~log_store();
    log_store(const log_store&) = delete;
    log_store& operator=(const log_store&) = delete;

    // What was durable when opened (plus the bootstrap, if bootstrap() ran):
    // construct the raft::node from a copy of it.
    const durable_state& recovered() const noexcept { return _recovered; }

    // Persists a ready in the order node.h prescribes (snapshot, entries
    // (truncating first), hard state) and makes it durable (fdatasync)
    // before completing. After an error the store's files may hold a prefix
    // of the ready: stop the server (reopen to recover).
    task<result<void, std::string>> persist(const ready& r);
    // After node.compact(): writes the snapshot file, then drops the whole
    // segments at or below s.meta.index.
    task<result<void, std::string>> compact(const snapshot& s);
    // Closes the files (the store may be destroyed without it: then the
    // descriptors are closed synchronously by the disk's files).
    task<void> close();

    // Introspection for tests and status.
    index_t first_index() const noexcept { return _snapshot_index + 1; }
    index_t last_index() const noexcept;
    index_t snapshot_index() const noexcept { return _snapshot_index; }
    size_t segment_count() const noexcept { return _segments.size(); }
    const std::string& directory() const noexcept { return _directory; }

private:
    friend task<result<void, std::string>> bootstrap(log_store&, const configuration&,
                                                     std::vector<std::byte>);
    struct segment {
        index_t first = 1;
        std::string path;
        std::vector<uint64_t> offsets;  // of each record, entry first + i
        uint64_t size = 0;
        index_t last() const noexcept { return first + offsets.size() - 1; }
    };

    log_store(storage::disk& disk, std::string directory, log_store_options options);
    task<result<void, std::string>> load();
    task<result<void, std::string>> load_hard_state();
    task<result<void, std::string>> load_snapshot();
    task<result<void, std::string>> load_segment(segment& s, bool last,
                                                 std::vector<entry>& entries);
    task<result<void, std::string>> write_snapshot_file(const snapshot& s);
    task<result<void, std::string>> write_hard_state(const hard_state& h);
    task<result<void, std::string>> append(const std::vector<entry>& entries);
    task<result<void, std::string>> truncate_from(index_t index);
    task<result<void, std::string>> remove_segments_from(size_t position);
    task<result<void, std::string>> open_active();
    task<result<void, std::string>> sync_directory();
    std::string segment_path(index_t first) const;

    storage::disk& _disk;
    std::string _directory;
    log_store_options _options;
    durable_state _recovered;
    index_t _snapshot_index = 0;
    term_t _snapshot_term = 0;
    uint64_t _hard_state_sequence = 0;
    std::vector<segment> _segments;                // by first index; the last is active
    std::unique_ptr<storage::disk_file> _active;   // the last segment, open for appends
    std::unique_ptr<storage::disk_file> _hard_state_file;
};

// A Raft bootstrap: the first start of a voter with an empty directory
// writes the snapshot at index 0 listing the initial voters (node.h,
// "durable_state"); a store that holds anything (a restart) is left alone.
// Updates recovered() to match.
// `data`: the application's state at index 0 (a state carried over from
// before Raft; the driver restores a non-empty one at start-up).
task<result<void, std::string>> bootstrap(log_store& store, const configuration& voters,
                                          std::vector<std::byte> data = {});

}  // namespace tl::raft
