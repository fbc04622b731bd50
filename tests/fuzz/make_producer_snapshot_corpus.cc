// Writes the seed corpus of producer_snapshot_fuzz: an empty state and a few
// states with producers at different epochs, window sizes and sequences, so
// the fuzzer starts past the CRC. The files are committed in
// tests/fuzz/corpus/producer_snapshot/; regenerate with
//   ninja -C <fuzz build> tests/fuzz/make_producer_snapshot_corpus &&
//   <fuzz build>/tests/fuzz/make_producer_snapshot_corpus tests/fuzz/corpus/producer_snapshot
// Output is deterministic.
#include <cstdio>
#include <string>
#include <vector>

#include "storage/producer_state.h"

namespace {

using namespace tl::storage;

bool write_file(const std::string& path, const std::vector<std::byte>& data) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return false;
    const bool written = std::fwrite(data.data(), 1, data.size(), file) == data.size();
    return std::fclose(file) == 0 && written;
}

batch_header batch(int64_t producer_id, int16_t epoch, int32_t sequence, int32_t records) {
    batch_header h;
    h.producer_id = producer_id;
    h.producer_epoch = epoch;
    h.base_sequence = sequence;
    h.last_offset_delta = records - 1;
    h.record_count = records;
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    bool ok = write_file(dir + "/empty.bin", producer_state{}.encode_snapshot(0));

    producer_state one;
    one.record(batch(1, 0, 0, 3), 0, 2, no_timestamp, 1'700'000'000'000);
    ok = ok && write_file(dir + "/one_producer.bin", one.encode_snapshot(3));

    producer_state many;
    int64_t offset = 10;
    for (int i = 0; i < 9; ++i) {
        const auto h = batch(i % 3, static_cast<int16_t>(i % 2), 2 * (i / 3), 2);
        many.record(h, offset, offset + 1, i % 2 == 0 ? no_timestamp : 1'700'000'000'000 + i, i);
        offset += 2;
    }
    for (int i = 0; i < 7; ++i) {
        many.record(batch(7, 4, 5 * i, 5), offset, offset + 4, no_timestamp, 100);
        offset += 5;
    }
    ok = ok && write_file(dir + "/many_producers.bin", many.encode_snapshot(offset));
    if (!ok) {
        std::fprintf(stderr, "cannot write the corpus in %s\n", dir.c_str());
        return 1;
    }
    return 0;
}
