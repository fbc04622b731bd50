// One uncompressed Kafka v2 record batch, built in place from feed messages.
//
// The feed path's counterpart of storage::record_batch_builder: the buffer is
// allocated once, at construction, and add() encodes straight into it, so the
// hot path never allocates. The batch is what a non-idempotent producer would
// send: magic 2, no compression, CreateTime, base offset 0 (the log assigns
// offsets), producer id / epoch / base sequence -1, partition leader epoch -1.
// Every finished batch passes storage::validate_batch with the strict policies.
//
// Owned and used by one shard. The span finish() returns points into the
// encoder and stays valid until the next reset() (or the encoder's end).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace tl::feed {

// Record headers a feed writes. Names are part of the topic's format:
//   "seq"     8-byte big-endian int64 (Kafka's LongSerializer): the MoldUDP64
//             sequence number, or the per-queue arrival counter of raw feeds
//   "session" the 10 ASCII bytes of the MoldUDP64 session, spaces kept
//   "rx_ns"   8-byte big-endian int64: receive time, ns since the Unix epoch
struct feed_headers {
    std::optional<int64_t> sequence;
    std::optional<std::span<const char>> session;
    int64_t receive_ns = 0;
};

inline constexpr std::string_view header_sequence = "seq";
inline constexpr std::string_view header_session = "session";
inline constexpr std::string_view header_receive_ns = "rx_ns";

// Bounds of the encoder (also the feed config's batch_bytes bounds).
inline constexpr size_t batch_encoder_min_capacity_bytes = 16 * 1024;
inline constexpr size_t batch_encoder_max_capacity_bytes = 1024 * 1024;
inline constexpr size_t max_session_header_bytes = 64;

class batch_encoder {
public:
    batch_encoder(size_t capacity_bytes, int32_t max_records);

    batch_encoder(const batch_encoder&) = delete;
    batch_encoder& operator=(const batch_encoder&) = delete;

    // Empties the batch (and makes a finished one writable again).
    void reset() noexcept;

    // Appends one record (offset delta = its index). Returns false, changing
    // nothing, when the record would take the batch past capacity_bytes or
    // max_records: finish() this batch and add the record to the next. A
    // record that does not fit even an empty batch is the caller's to drop.
    // The spans are copied; they need only live for the call.
    [[nodiscard]] bool add(int64_t timestamp_ms, std::optional<std::span<const std::byte>> key,
                           std::span<const std::byte> value, const feed_headers& headers) noexcept;

    // Writes the 61-byte header and the CRC and returns the whole batch. At
    // least one record must have been added (asserted). add() is refused
    // (asserted) until reset().
    [[nodiscard]] std::span<const std::byte> finish() noexcept;

    [[nodiscard]] int32_t record_count() const noexcept { return _record_count; }
    // Bytes of the batch so far, header included.
    [[nodiscard]] size_t size_bytes() const noexcept { return _size_bytes; }
    [[nodiscard]] size_t capacity_bytes() const noexcept { return _capacity_bytes; }
    [[nodiscard]] int32_t max_records() const noexcept { return _max_records; }
    [[nodiscard]] bool empty() const noexcept { return _record_count == 0; }

private:
    std::unique_ptr<std::byte[]> _buffer;
    size_t _capacity_bytes;
    int32_t _max_records;
    size_t _size_bytes;
    int32_t _record_count = 0;
    int64_t _base_timestamp_ms = 0;
    int64_t _max_timestamp_ms = 0;
    bool _finished = false;
};

}  // namespace tl::feed
