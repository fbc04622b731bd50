// Writes the seed corpus of segment_recovery_fuzz: segment images as a broker
// leaves them (batches from record_batch_builder, offsets assigned in sequence
// with assign_base_offset), whole, split in two segments, and with the damage
// recovery must handle: a torn tail, a flipped byte, zero padding, a stale
// batch, a batch above the size bound. Each file is the fuzz input format: one
// control byte, the split header when it asks for two segments, then the image
// (see tests/fuzz/segment_recovery_fuzz.cc).
// The files are committed in tests/fuzz/corpus/segment_recovery/; regenerate with
//   ninja -C <fuzz build> tests/fuzz/make_segment_recovery_corpus &&
//   <fuzz build>/tests/fuzz/make_segment_recovery_corpus tests/fuzz/corpus/segment_recovery
// Output is deterministic (no clock, no randomness).
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/record_batch.h"

namespace {

using namespace tl::storage;
using bytes = std::vector<std::byte>;

constexpr int64_t timestamp_ms = 1'700'000'000'000;

// Control bits, as segment_recovery_fuzz.cc reads them.
constexpr uint8_t large_segments = 0x01;
constexpr uint8_t roll = 0x02;
constexpr uint8_t two_segments = 0x04;
constexpr uint8_t explicit_base = 0x08;
constexpr uint8_t flush_none = 0x10;
constexpr uint8_t flush_interval = 0x20;
constexpr uint8_t small_batches = 0x40;
constexpr uint8_t no_cache = 0x80;

byte_span text(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// A log being written: each batch gets the next offsets, as append() does.
struct log_image {
    bytes image;
    std::vector<size_t> batch_ends;      // byte position after each batch
    std::vector<int64_t> offsets_after;  // next offset after each batch
    int64_t next_offset = 0;

    void append(bytes batch) {
        assign_base_offset(batch, next_offset);
        next_offset += int64_t{read_batch_header(batch)->last_offset_delta} + 1;
        image.insert(image.end(), batch.begin(), batch.end());
        batch_ends.push_back(image.size());
        offsets_after.push_back(next_offset);
    }
};

log_image valid_log() {
    log_image log;
    log.append(record_batch_builder().add_record(timestamp_ms, "k0", "v0").build());
    const record_header headers[] = {{text("trace"), text("abc")}, {text("nil"), std::nullopt}};
    log.append(
        record_batch_builder()
            .set_producer(1234, 5, 0)
            .add_record(
                {.timestamp_ms = timestamp_ms + 1, .value = text("hello"), .headers = headers})
            .add_record({.timestamp_ms = timestamp_ms + 2, .key = text("k")})
            .add_record(timestamp_ms + 3, "k2", std::string(300, 'x'))
            .build());
    // Compacted: records kept at deltas 0 and 4 of a range of 10.
    log.append(
        record_batch_builder()
            .add_record({.timestamp_ms = timestamp_ms + 4, .key = text("a"), .offset_delta = 0})
            .add_record({.timestamp_ms = timestamp_ms + 5, .key = text("b"), .offset_delta = 4})
            .set_last_offset_delta(9)
            .build());
    // Compacted away entirely: an empty batch that keeps its range.
    log.append(record_batch_builder().set_last_offset_delta(3).build());
    log.append(record_batch_builder()
                   .set_transaction_mode(transaction_mode::transactional)
                   .set_producer(5, 0, 0)
                   .set_log_append_time(timestamp_ms + 1000)
                   .add_record(timestamp_ms + 6, "t", "1")
                   .add_record(timestamp_ms + 7, "t", "2")
                   .build());
    log.append(
        record_batch_builder().add_record(timestamp_ms + 8, "big", std::string(2000, 'y')).build());
    log.append(record_batch_builder().add_record(timestamp_ms + 9, "k9", "v9").build());
    return log;
}

void put_le(bytes& out, uint64_t value, size_t count) {
    for (size_t i = 0; i < count; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}

bytes input(uint8_t control, const bytes& image) {
    bytes out{static_cast<std::byte>(control)};
    out.insert(out.end(), image.begin(), image.end());
    return out;
}

bytes split_input(uint8_t control, uint32_t split, uint64_t second_base, const bytes& image) {
    bytes out{static_cast<std::byte>(control | two_segments)};
    put_le(out, split, 4);
    put_le(out, second_base, 8);
    out.insert(out.end(), image.begin(), image.end());
    return out;
}

bool write_file(const std::string& path, const bytes& data) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return false;
    const bool written = std::fwrite(data.data(), 1, data.size(), file) == data.size();
    return std::fclose(file) == 0 && written;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::vector<std::pair<std::string, bytes>> seeds;
    const log_image log = valid_log();

    seeds.emplace_back("valid_log", input(0, log.image));

    // Rolled after the third batch: the second segment is named by its first offset.
    const auto third_end = static_cast<uint32_t>(log.batch_ends[2]);
    const int64_t second_base = log.offsets_after[2];
    seeds.emplace_back("two_segments_roll", split_input(roll, third_end, 0, log.image));
    seeds.emplace_back("two_segments_named_interval_no_cache",
                       split_input(explicit_base | flush_interval | no_cache, third_end,
                                   static_cast<uint64_t>(second_base), log.image));

    bytes torn = log.image;
    torn.resize(torn.size() - 10);
    seeds.emplace_back("torn_tail", input(large_segments, torn));

    // A byte of the fourth batch's records (covered by its CRC).
    bytes flipped = log.image;
    flipped[log.batch_ends[3] + 70] ^= std::byte{0x20};
    seeds.emplace_back("flipped_byte", input(flush_none, flipped));

    // The same damage in the sealed segment: reads must refuse it.
    bytes sealed_flipped = log.image;
    sealed_flipped[log.batch_ends[0] + 70] ^= std::byte{0x20};
    seeds.emplace_back(
        "sealed_flipped_byte",
        split_input(explicit_base, third_end, static_cast<uint64_t>(second_base), sealed_flipped));

    // The zeroed rest of a preallocated segment: the clean end.
    bytes padded = log.image;
    padded.resize((padded.size() / 4096 + 1) * 4096, std::byte{0});
    seeds.emplace_back("zero_padding_roll", input(roll | flush_interval, padded));

    // An intact batch left from before an earlier truncation: out of sequence.
    bytes stale = log.image;
    stale.insert(stale.end(), log.image.begin(), log.image.begin() + log.batch_ends[0]);
    seeds.emplace_back("stale_batch", input(0, stale));

    // A batch above max.message.bytes (8 KiB with small_batches) in the middle.
    log_image large = valid_log();
    large.append(record_batch_builder()
                     .add_record(timestamp_ms + 10, "huge", std::string(10000, 'z'))
                     .build());
    large.append(record_batch_builder().add_record(timestamp_ms + 11, "after", "huge").build());
    seeds.emplace_back("too_large", input(small_batches, large.image));

    for (const auto& [name, data] : seeds) {
        std::string path = dir;
        path.append("/").append(name).append(".bin");
        if (!write_file(path, data)) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            return 1;
        }
    }
    return 0;
}
