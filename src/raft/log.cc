#include "raft/log.h"

#include <utility>

#include "base/assert.h"

namespace tl::raft {

raft_log::raft_log(index_t snapshot_index, term_t snapshot_term, std::vector<entry> entries)
    : _snapshot_index(snapshot_index), _snapshot_term(snapshot_term) {
    for (auto& e : entries) append(std::move(e));
}

std::optional<term_t> raft_log::term_at(index_t index) const noexcept {
    if (index == _snapshot_index) return _snapshot_term;
    if (index < _snapshot_index || index > last_index()) return std::nullopt;
    return _entries[index - first_index()].term;
}

const entry& raft_log::at(index_t index) const {
    TL_ASSERT(index >= first_index() && index <= last_index(), "log index out of range");
    return _entries[index - first_index()];
}

void raft_log::append(entry e) {
    TL_ASSERT(e.index == last_index() + 1, "log entries must be contiguous");
    TL_ASSERT(e.term >= last_term(), "log terms never decrease");
    _entries.push_back(std::move(e));
}

size_t raft_log::truncate_and_append(std::vector<entry> entries) {
    if (entries.empty()) return 0;
    const index_t from = entries.front().index;
    TL_ASSERT(from > _snapshot_index && from <= last_index() + 1, "append leaves a gap");
    const size_t dropped = last_index() - from + 1;
    _entries.resize(from - first_index());
    for (auto& e : entries) append(std::move(e));
    return dropped;
}

index_t raft_log::find_conflict(const std::vector<entry>& entries) const {
    for (const auto& e : entries) {
        if (!matches(e.index, e.term)) {
            // Below the snapshot everything is committed, hence matching.
            if (e.index <= _snapshot_index) continue;
            return e.index;
        }
    }
    return 0;
}

index_t raft_log::find_conflict_by_term(index_t index, term_t term) const {
    if (index > last_index()) index = last_index();
    while (index > _snapshot_index) {
        if (at(index).term <= term) return index;
        --index;
    }
    return _snapshot_index;
}

std::vector<entry> raft_log::slice(index_t from, index_t to, uint64_t max_bytes) const {
    std::vector<entry> out;
    TL_ASSERT(from >= first_index() && to <= last_index(), "slice out of range");
    uint64_t bytes = 0;
    for (index_t i = from; i <= to; ++i) {
        const entry& e = at(i);
        bytes += e.data.size();
        if (!out.empty() && bytes > max_bytes) break;
        out.push_back(e);
    }
    return out;
}

void raft_log::compact(index_t index) {
    if (index <= _snapshot_index) return;
    TL_ASSERT(index <= last_index(), "compacting past the end of the log");
    _snapshot_term = at(index).term;
    _entries.erase(_entries.begin(), _entries.begin() + static_cast<long>(index - first_index() + 1));
    _snapshot_index = index;
}

void raft_log::restore(index_t index, term_t term) {
    _entries.clear();
    _snapshot_index = index;
    _snapshot_term = term;
}

}  // namespace tl::raft
