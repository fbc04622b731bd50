// Fuzzes reading a producer-state snapshot (storage/producer_state.h), the
// file a partition loads on open to keep deduplicating idempotent producers:
// the input is the whole file image.
//
// Properties:
// - decoding never crashes, hangs or reads out of bounds: a state or an error;
// - what decodes is canonical: it encodes back to exactly the input, so a
//   snapshot written after a load is what was read;
// - every producer it holds keeps Kafka's invariants (1..5 batches, offsets
//   increasing and below the snapshot's offset), and the state answers
//   checks of any batch without failing.
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/assert.h"
#include "storage/producer_state.h"

using namespace tl::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    auto decoded = producer_snapshot::decode(input);
    if (!decoded) return 0;
    const auto encoded = decoded->state.encode_snapshot(decoded->offset);
    TL_ASSERT(std::equal(encoded.begin(), encoded.end(), input.begin(), input.end()),
              "not the one encoding of the state");
    // Any batch may follow: each verdict is one of the six, and recording the
    // appends keeps the state valid (it encodes and decodes again).
    producer_state state = decoded->state;
    int64_t next_offset = decoded->offset;
    for (size_t i = 0; i + 8 <= size && i < 64 * 8; i += 8) {
        batch_header h;
        h.producer_id = static_cast<int64_t>(data[i] % 4);
        h.producer_epoch = static_cast<int16_t>(data[i + 1] % 3);
        h.base_sequence = static_cast<int32_t>(data[i + 2]) * 3;
        h.last_offset_delta = data[i + 3] % 5;
        h.record_count = h.last_offset_delta + 1;
        const sequence_check check = state.check(h);
        if (check.verdict == sequence_verdict::append) {
            state.record(h, next_offset, next_offset + h.last_offset_delta, no_timestamp, 0);
            next_offset += h.last_offset_delta + 1;
        } else if (check.verdict == sequence_verdict::duplicate) {
            TL_ASSERT(check.duplicate.first_sequence == h.base_sequence);
            TL_ASSERT(check.duplicate.last_offset < next_offset);
        }
    }
    auto again = producer_snapshot::decode(state.encode_snapshot(next_offset));
    TL_ASSERT(again.ok() && again->state == state, "a state after appends must round trip");
    return 0;
}
