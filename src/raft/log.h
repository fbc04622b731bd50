// The Raft log as one node holds it in memory: a snapshot's last (index,
// term) followed by the entries after it. Pure bookkeeping: what is durable
// is tracked by `node`, stored by the driver.
//
// The controller's log is metadata, small enough to keep whole in memory
// between snapshots; the node compacts it when the application snapshots.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace tl::raft {

class raft_log {
public:
    raft_log() = default;
    // `entries` must be contiguous from snapshot_index + 1.
    raft_log(index_t snapshot_index, term_t snapshot_term, std::vector<entry> entries);

    index_t snapshot_index() const noexcept { return _snapshot_index; }
    term_t snapshot_term() const noexcept { return _snapshot_term; }
    index_t first_index() const noexcept { return _snapshot_index + 1; }
    index_t last_index() const noexcept { return _snapshot_index + _entries.size(); }
    term_t last_term() const noexcept {
        return _entries.empty() ? _snapshot_term : _entries.back().term;
    }
    // The term at `index`: the snapshot's at snapshot_index, nullopt outside
    // [snapshot_index, last_index].
    std::optional<term_t> term_at(index_t index) const noexcept;
    bool matches(index_t index, term_t term) const noexcept {
        auto t = term_at(index);
        return t && *t == term;
    }
    // An entry in [first_index, last_index] (asserted).
    const entry& at(index_t index) const;

    void append(entry e);
    // Appends entries that start at or below last_index + 1, first dropping
    // every entry from entries.front().index on. Returns the number dropped.
    size_t truncate_and_append(std::vector<entry> entries);
    // The first index of `entries` whose term differs from ours or that is
    // past our end; 0 when we hold all of them already.
    index_t find_conflict(const std::vector<entry>& entries) const;
    // The largest index <= `index` whose term is <= `term` (fast backtracking);
    // at least snapshot_index.
    index_t find_conflict_by_term(index_t index, term_t term) const;
    // Entries [from, to], at least one (if from <= to), then more while their
    // data stays under max_bytes.
    std::vector<entry> slice(index_t from, index_t to, uint64_t max_bytes) const;

    // Drops entries <= index (which must be in the log).
    void compact(index_t index);
    // Drops everything; the log restarts after (index, term).
    void restore(index_t index, term_t term);

private:
    index_t _snapshot_index = 0;
    term_t _snapshot_term = 0;
    std::deque<entry> _entries;
};

}  // namespace tl::raft
