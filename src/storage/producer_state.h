// Idempotent producers: what one partition knows of each producer id.
//
// Kafka's idempotent producer numbers its batches per partition (baseSequence,
// one sequence number per record) under a producer id and epoch handed out by
// InitProducerId. The partition keeps, per producer id, its epoch and the
// sequence ranges and offsets of its last five batches (a producer has at most
// five requests in flight), and checks every batch that carries a producer id
// before it gets offsets (Kafka's ProducerStateManager / ProducerAppendInfo):
//
//   - the same epoch and the exact sequence range of one of those batches: a
//     retry of a batch already in the log. Nothing is appended; the client gets
//     the original offsets.
//   - the same epoch, first sequence = last sequence + 1 (0 after INT32_MAX):
//     the next batch, appended.
//   - a lower epoch: a fenced, stale producer (INVALID_PRODUCER_EPOCH).
//   - a higher epoch (an epoch bump): must start at sequence 0.
//   - a producer id with no state (never seen here, expired, or its records
//     removed by retention): must start at sequence 0, else UNKNOWN_PRODUCER_ID,
//     so the client knows to reset (as Kafka 2.x; librdkafka handles it).
//   - anything else with the same epoch is out of order, except a range wholly
//     at or before the oldest batch kept: an old retry whose offsets are no
//     longer known (DUPLICATE_SEQUENCE_NUMBER; clients treat it as success).
//
// The state moves with the log: a batch is recorded when it gets its offsets
// (so five pipelined batches check against each other), forgotten again if
// its write fails (truncate_from), and rebuilt on open from a snapshot plus
// the batches after it (see partition_log.h). Producers idle for
// producer.id.expiration.ms, or whose last batch fell below the log start,
// are removed.
//
// Snapshot file `<20-digit offset>.snapshot` (segment_file_kind::producer_snapshot; the state of every batch below
// `offset`; Kafka's name, our format), all integers big-endian:
//   magic "TLPS" 4 · version 2 (1) · flags 2 (0) · crc 4 (CRC-32C of what
//   follows) · offset 8 · producer count 4 · per producer: id 8, epoch 2,
//   last activity (ms) 8, batch count 1 (1..5), per batch oldest first: first
//   sequence 4, last sequence 4, base offset 8, last offset 8, append time 8.
// Decoding refuses anything else (a torn or foreign file is never half used).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "storage/record_batch.h"

namespace tl::storage {

inline constexpr size_t producer_batches_kept = 5;

struct producer_batch {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    int64_t append_time_ms = no_timestamp;  // LogAppendTime stamped on it, if any

    friend bool operator==(const producer_batch&, const producer_batch&) = default;
};

struct producer_entry {
    int16_t epoch = no_producer_epoch;
    int64_t last_activity_ms = 0;
    uint8_t count = 0;  // batches kept, oldest first
    std::array<producer_batch, producer_batches_kept> batches{};

    [[nodiscard]] const producer_batch& last() const noexcept { return batches[count - 1]; }

    friend bool operator==(const producer_entry&, const producer_entry&) = default;
};

enum class sequence_verdict : uint8_t {
    append,               // in sequence (or no producer id): give it offsets
    duplicate,            // a retry of a kept batch: answer its offsets
    old_duplicate,        // a retry older than the kept batches (DUPLICATE_SEQUENCE_NUMBER)
    out_of_order,         // OUT_OF_ORDER_SEQUENCE_NUMBER
    stale_epoch,          // INVALID_PRODUCER_EPOCH
    unknown_producer,     // UNKNOWN_PRODUCER_ID
};

struct sequence_check {
    sequence_verdict verdict = sequence_verdict::append;
    producer_batch duplicate;  // for sequence_verdict::duplicate
};

[[nodiscard]] std::string_view name(sequence_verdict v) noexcept;

// Kafka's DefaultRecordBatch.incrementSequence: sequences wrap to 0 after INT32_MAX.
[[nodiscard]] int32_t increment_sequence(int32_t sequence, int32_t increment) noexcept;

enum class snapshot_errc : uint8_t { corrupt, unsupported_version };

class producer_state {
public:
    // What a new batch with this header would be (the header is validated; a
    // batch without a producer id is always `append`).
    [[nodiscard]] sequence_check check(const batch_header& header) const;
    // Records a batch that got offsets [base_offset, last_offset] (`now_ms`:
    // the broker's clock, for expiry).
    void record(const batch_header& header, int64_t base_offset, int64_t last_offset,
                int64_t append_time_ms, int64_t now_ms);
    // Forgets batches at or after `offset` (their write failed; the offsets
    // are reused). A producer left with no batch is forgotten.
    void truncate_from(int64_t offset);
    // Forgets producers whose last batch lies below `log_start_offset`.
    size_t evict_below(int64_t log_start_offset);
    // Forgets producers idle for `max_idle_ms` or longer.
    size_t expire(int64_t now_ms, int64_t max_idle_ms);

    [[nodiscard]] const producer_entry* find(int64_t producer_id) const;
    [[nodiscard]] size_t size() const noexcept { return _producers.size(); }
    [[nodiscard]] bool empty() const noexcept { return _producers.empty(); }

    // The snapshot file's bytes for the state below `offset`.
    [[nodiscard]] std::vector<std::byte> encode_snapshot(int64_t offset) const;

    friend bool operator==(const producer_state&, const producer_state&) = default;

private:
    friend struct producer_snapshot;
    std::unordered_map<int64_t, producer_entry> _producers;
};

// A snapshot file read back.
struct producer_snapshot {
    int64_t offset = 0;
    producer_state state;

    [[nodiscard]] static result<producer_snapshot, snapshot_errc> decode(
        std::span<const std::byte> file);
};

}  // namespace tl::storage
