// The memory bound of one shard's read caches.
//
// Every partition log on a shard charges the batches it keeps for readers to
// the shard's cache_budget. When the total passes the limit, the logs written
// least recently give up their oldest batches first, so a busy partition
// keeps its recent data in memory and an idle one does not pin memory.
// Shard-owned: one per shard, used only there; it must outlive its logs.
#pragma once

#include <cstdint>
#include <list>

namespace tl::storage {

class cache_budget;

// What a log exposes to its budget.
class cache_holder {
public:
    // Drops the oldest cached batch; returns the bytes freed (0 if empty).
    virtual uint64_t evict_oldest_cached() noexcept = 0;

protected:
    ~cache_holder() = default;

private:
    friend class cache_budget;
    std::list<cache_holder*>::iterator _lru_position;
    bool _in_lru = false;
};

class cache_budget {
public:
    explicit cache_budget(uint64_t limit_bytes) : _limit_bytes(limit_bytes) {}
    cache_budget(const cache_budget&) = delete;
    cache_budget& operator=(const cache_budget&) = delete;

    uint64_t limit_bytes() const noexcept { return _limit_bytes; }
    uint64_t used_bytes() const noexcept { return _used_bytes; }

    // `holder` now caches `bytes` more: it becomes the most recently used,
    // and the least recently used holders shrink until the total fits.
    void charge(cache_holder& holder, uint64_t bytes) noexcept {
        _used_bytes += bytes;
        touch(holder);
        while (_used_bytes > _limit_bytes && !_lru.empty()) {
            cache_holder* victim = _lru.front();
            const uint64_t freed = victim->evict_oldest_cached();
            if (freed == 0) {
                forget(*victim);
                continue;
            }
            _used_bytes -= freed;
        }
    }
    // `holder` dropped `bytes` on its own (retention, truncation).
    void release(uint64_t bytes) noexcept { _used_bytes -= bytes; }
    // `holder` is going away; it has released all it held.
    void forget(cache_holder& holder) noexcept {
        if (!holder._in_lru) return;
        _lru.erase(holder._lru_position);
        holder._in_lru = false;
    }

private:
    void touch(cache_holder& holder) {
        if (holder._in_lru) {
            _lru.splice(_lru.end(), _lru, holder._lru_position);
        } else {
            holder._lru_position = _lru.insert(_lru.end(), &holder);
            holder._in_lru = true;
        }
    }

    uint64_t _limit_bytes;
    uint64_t _used_bytes = 0;
    std::list<cache_holder*> _lru;  // least recently written first
};

}  // namespace tl::storage
