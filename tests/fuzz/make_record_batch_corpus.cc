// Writes the seed corpus of record_batch_fuzz: a few small valid batches, one for
// each shape the validator treats differently, so the fuzzer starts past the CRC.
// The files are committed in tests/fuzz/corpus/record_batch/; regenerate with
//   ninja -C <fuzz build> tests/fuzz/make_record_batch_corpus &&
//   <fuzz build>/tests/fuzz/make_record_batch_corpus tests/fuzz/corpus/record_batch
// Output is deterministic (no clock, no randomness).
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

byte_span text(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

constexpr int64_t timestamp_ms = 1'700'000'000'000;

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

    seeds.emplace_back("one_record", record_batch_builder()
                                         .set_base_offset(42)
                                         .set_partition_leader_epoch(7)
                                         .set_producer(1234, 5, 9)
                                         .add_record(timestamp_ms, "k", "v")
                                         .build());

    const record_header headers[] = {{text("trace"), text("abc")}, {text("nil"), std::nullopt}};
    const std::string long_value(200, 'x');  // a two-byte length varint
    seeds.emplace_back(
        "headers_and_nulls",
        record_batch_builder()
            .add_record({.timestamp_ms = timestamp_ms, .value = text("hello"), .headers = headers})
            .add_record({.timestamp_ms = timestamp_ms - 5, .key = text("k")})
            .add_record(
                {.timestamp_ms = timestamp_ms + 70, .key = text(""), .value = text(long_value)})
            .build());

    seeds.emplace_back("empty", record_batch_builder().set_last_offset_delta(3).build());

    seeds.emplace_back("compacted_gaps",
                       record_batch_builder()
                           .set_base_offset(100)
                           .add_record({.timestamp_ms = 1, .key = text("a"), .offset_delta = 0})
                           .add_record({.timestamp_ms = 2, .key = text("b"), .offset_delta = 4})
                           .set_last_offset_delta(9)
                           .build());

    seeds.emplace_back("log_append_time_transactional",
                       record_batch_builder()
                           .set_transaction_mode(transaction_mode::transactional)
                           .set_producer(5, 0, 0x7ffffffe)
                           .set_log_append_time(timestamp_ms + 1000)
                           .add_record(timestamp_ms, "a", "1")
                           .add_record(timestamp_ms + 1, "b", "2")
                           .build());

    const bytes marker_key = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
    const bytes marker_value(6, std::byte{0});
    seeds.emplace_back("control_commit", record_batch_builder()
                                             .set_type(batch_type::control)
                                             .set_transaction_mode(transaction_mode::transactional)
                                             .set_producer(5, 0, no_sequence)
                                             .add_record({.timestamp_ms = timestamp_ms,
                                                          .key = byte_span(marker_key),
                                                          .value = byte_span(marker_value)})
                                             .build());

    // A zstd batch: the payload is opaque at this layer, so any bytes will do.
    bytes compressed = record_batch_builder().add_record(timestamp_ms, "z", "zstd?").build();
    compressed[batch_field::attributes + 1] = std::byte{4};
    recompute_crc(compressed);
    seeds.emplace_back("compressed_opaque", compressed);

    // What a segment scan sees: two batches and the zeroed preallocated tail.
    bytes segment = seeds[0].second;
    segment.insert(segment.end(), seeds[1].second.begin(), seeds[1].second.end());
    segment.resize(segment.size() + 32, std::byte{0});
    seeds.emplace_back("segment_tail", segment);

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
