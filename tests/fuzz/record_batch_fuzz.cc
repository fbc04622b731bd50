// Fuzzes src/storage/record_batch: arbitrary bytes through peek_batch_size,
// read_batch_header, validate_batch (both policies) and a raw record_reader walk
// must never crash, hang or read out of bounds (ASan and UBSan watch every read;
// every key, value and header byte handed out is read back). Random bytes rarely
// carry a right CRC, so each input is also tried with its CRC recomputed: that
// lets the fuzzer reach the structural checks behind the CRC.
//
// For every batch that validates, the properties the broker relies on are
// checked, and a violation aborts:
// - the walk of an uncompressed batch succeeds with exactly recordCount records
//   and strictly increasing offset deltas, within lastOffsetDelta;
// - the append mutators (base offset, leader epoch, LogAppendTime) keep it valid;
// - the builder, fed the decoded records, makes a batch that validates and
//   decodes to the same records.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "storage/record_batch.h"

namespace {

using namespace tl::storage;

constexpr validation_options producer_options{};
constexpr validation_options log_options{.offset_deltas = offset_delta_policy::allow_gaps,
                                         .record_count = record_count_policy::allow_empty};

// Fails the run with a message; libFuzzer saves the input that got here.
#define FUZZ_CHECK(condition)                                                                     \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)

// Reads every byte so that ASan sees a view that points outside the input.
volatile uint8_t sink;
void touch(byte_span bytes) {
    uint8_t sum = 0;
    for (std::byte b : bytes) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
    sink = sum;
}
void touch(const std::optional<byte_span>& bytes) {
    if (bytes) touch(*bytes);
}

// A raw walk over bytes nobody validated: must end (in success or an error)
// within recordCount + 1 steps.
void walk_unvalidated(byte_span data) {
    auto reader = record_reader::open(data);
    if (!reader) return;
    const int64_t max_steps = int64_t{reader->header().record_count} + 1;
    record_view record;
    for (int64_t step = 0;; ++step) {
        FUZZ_CHECK(step <= max_steps);
        auto more = reader->next(record);
        if (!more || !*more) return;
        touch(record.key);
        touch(record.value);
        auto headers = record.headers();
        record_header header;
        while (headers.next(header)) {
            touch(header.key);
            touch(header.value);
        }
    }
}

struct decoded_record {
    int64_t timestamp_delta_ms;
    int32_t offset_delta;
    std::optional<byte_span> key;
    std::optional<byte_span> value;
    std::vector<record_header> headers;
};

bool same_bytes(const std::optional<byte_span>& a, const std::optional<byte_span>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->size() == b->size() && std::equal(a->begin(), a->end(), b->begin());
}

std::vector<decoded_record> decode_all(byte_span batch, const batch_header& header) {
    std::vector<decoded_record> records;
    int32_t previous_delta = -1;
    auto walked = for_each_record(batch, [&](const record_view& r) {
        FUZZ_CHECK(r.offset_delta > previous_delta);
        FUZZ_CHECK(r.offset_delta <= header.last_offset_delta);
        previous_delta = r.offset_delta;
        decoded_record d{r.timestamp_delta_ms, r.offset_delta, r.key, r.value, {}};
        touch(r.key);
        touch(r.value);
        auto headers = r.headers();
        record_header h;
        while (headers.next(h)) {
            touch(h.key);
            touch(h.value);
            d.headers.push_back(h);
        }
        FUZZ_CHECK(d.headers.size() == static_cast<size_t>(r.header_count));
        records.push_back(std::move(d));
    });
    FUZZ_CHECK(walked.ok());
    FUZZ_CHECK(records.size() == static_cast<size_t>(header.record_count));
    return records;
}

void check_rebuilt(const batch_header& header, const std::vector<decoded_record>& records) {
    record_batch_builder builder;
    builder.set_base_offset(header.base_offset)
        .set_producer(header.producer_id, header.producer_epoch, header.base_sequence)
        .set_last_offset_delta(header.last_offset_delta);
    for (const decoded_record& r : records) {
        builder.add_record({.timestamp_ms = r.timestamp_delta_ms,  // base timestamp 0
                            .key = r.key,
                            .value = r.value,
                            .headers = r.headers,
                            .offset_delta = r.offset_delta});
    }
    const std::vector<std::byte> rebuilt = builder.build();
    auto rebuilt_header = validate_batch(rebuilt, log_options);
    FUZZ_CHECK(rebuilt_header.ok());
    FUZZ_CHECK(rebuilt_header->record_count == header.record_count);
    const std::vector<decoded_record> again = decode_all(rebuilt, *rebuilt_header);
    for (size_t i = 0; i < records.size(); ++i) {
        FUZZ_CHECK(again[i].offset_delta == records[i].offset_delta);
        // The builder measures from the first record; deltas wrap like Kafka's longs.
        FUZZ_CHECK(static_cast<uint64_t>(again[i].timestamp_delta_ms) ==
                   static_cast<uint64_t>(records[i].timestamp_delta_ms) -
                       static_cast<uint64_t>(records[0].timestamp_delta_ms));
        FUZZ_CHECK(same_bytes(again[i].key, records[i].key));
        FUZZ_CHECK(same_bytes(again[i].value, records[i].value));
        FUZZ_CHECK(again[i].headers.size() == records[i].headers.size());
        for (size_t h = 0; h < records[i].headers.size(); ++h) {
            FUZZ_CHECK(same_bytes(again[i].headers[h].key, records[i].headers[h].key));
            FUZZ_CHECK(same_bytes(again[i].headers[h].value, records[i].headers[h].value));
        }
    }
}

void check_valid(byte_span batch, const batch_header& header, const validation_options& options) {
    FUZZ_CHECK(header.size_bytes() == batch.size());
    FUZZ_CHECK(header.magic == batch_magic_v2);
    FUZZ_CHECK(header.record_count >= 0);
    FUZZ_CHECK(header.last_offset_delta >= header.record_count - 1);

    std::vector<std::byte> copy(batch.begin(), batch.end());
    assign_base_offset(copy, header.base_offset ^ 0x5555);
    set_partition_leader_epoch(copy, header.partition_leader_epoch ^ 1);
    set_log_append_time(copy, header.max_timestamp_ms ^ 0x1234);
    auto stamped = validate_batch(copy, options);
    FUZZ_CHECK(stamped.ok());
    FUZZ_CHECK(stamped->timestamps() == timestamp_type::log_append_time);
    FUZZ_CHECK(stamped->record_count == header.record_count);

    if (header.compression() != compression_codec::none) return;
    check_rebuilt(header, decode_all(batch, header));
}

void try_batch(byte_span data) {
    for (const validation_options& options : {producer_options, log_options}) {
        auto header = validate_batch(data, options);
        if (header) check_valid(data, *header, options);
    }
    walk_unvalidated(data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const byte_span input = std::as_bytes(std::span(data, size));
    auto header = read_batch_header(input);
    FUZZ_CHECK(header.ok() == (size >= batch_header_size_bytes));
    auto size_bytes = peek_batch_size(input, default_max_batch_size_bytes);
    if (size_bytes) FUZZ_CHECK(*size_bytes >= batch_header_size_bytes);

    try_batch(input);
    if (!size_bytes || *size_bytes > size) return 0;
    // The first batch of a longer input, as a segment scan would see it.
    const byte_span first = input.first(*size_bytes);
    if (first.size() != size) try_batch(first);
    // The same bytes with the CRC they would need.
    std::vector<std::byte> resealed(first.begin(), first.end());
    recompute_crc(resealed);
    try_batch(resealed);
    return 0;
}
