// Writes the seed corpus of metadata_load_fuzz: metadata files as
// save_metadata writes them (no topics, one, several with configs, long
// names, producer ids issued), one as a format-1 build wrote it (no
// next_producer_id), and damaged ones (truncated, a flipped byte, a newer
// format).
// The files are committed in tests/fuzz/corpus/metadata_load/; regenerate with
//   ninja -C <build> tests/fuzz/make_metadata_corpus &&
//   <build>/tests/fuzz/make_metadata_corpus tests/fuzz/corpus/metadata_load
// Output is deterministic (fixed seeds).
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "cluster/metadata_store.h"

namespace {

using namespace tl::cluster;

bool write(const std::string& directory, const std::string& name,
           const std::vector<std::byte>& bytes) {
    const std::string path = directory + "/" + name;
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return false;
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    return std::fclose(file) == 0 && ok;
}

std::vector<std::byte> encode(const metadata_snapshot& s) {
    auto bytes = encode_metadata(s);
    if (!bytes.ok()) {
        std::fprintf(stderr, "%s\n", bytes.error().message().c_str());
        std::abort();
    }
    return std::move(*bytes);
}

void put_u32(std::vector<std::byte>& bytes, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::byte>(v >> (8 * (3 - i)));
}

// Format version 1: version 2 without next_producer_id (8 bytes after the
// 16-byte header, the snapshot version and the 2 + 22-byte cluster id).
std::vector<std::byte> encode_version_1(const metadata_snapshot& s) {
    constexpr size_t header_bytes = 16;
    constexpr size_t next_producer_id_at = header_bytes + 8 + 2 + 22;
    auto bytes = encode(s);
    bytes[5] = std::byte{1};
    bytes.erase(bytes.begin() + next_producer_id_at, bytes.begin() + next_producer_id_at + 8);
    put_u32(bytes, 8, static_cast<uint32_t>(bytes.size() - header_bytes));
    const std::span<const std::byte> all(bytes);
    put_u32(bytes, 12, tl::crc32c(all.subspan(header_bytes), tl::crc32c(all.subspan(4, 8))));
    return bytes;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIRECTORY\n", argv[0]);
        return 2;
    }
    const std::string out = argv[1];
    std::mt19937_64 random(2026);
    metadata_snapshot empty{.version = 1, .cluster_id = make_cluster_id(random), .topics = {}};
    metadata_snapshot one = empty;
    one.version = 2;
    one.topics.push_back(
        {.name = "orders", .id = topic_id::random(random), .partition_count = 3, .configs = {}});
    metadata_snapshot several = one;
    several.version = 7;
    several.next_producer_id = 3000;
    several.topics[0].configs = {{"cleanup.policy", "compact,delete"}, {"retention.ms", "1000"}};
    several.topics.push_back({.name = std::string(249, 'x'),
                              .id = topic_id::random(random),
                              .partition_count = 1,
                              .configs = {{"segment.bytes", "65536"}}});
    several.topics.push_back({.name = "a.b_c-1",
                              .id = topic_id::random(random),
                              .partition_count = 64,
                              .configs = {{"message.timestamp.type", ""}}});

    bool ok = write(out, "empty.bin", encode(empty)) && write(out, "one_topic.bin", encode(one)) &&
              write(out, "several_topics.bin", encode(several)) &&
              write(out, "format_1.bin", encode_version_1(one));
    auto truncated = encode(several);
    truncated.resize(truncated.size() / 2);
    ok = ok && write(out, "truncated.bin", truncated);
    auto flipped = encode(several);
    flipped[flipped.size() / 3] ^= std::byte{0x10};
    ok = ok && write(out, "flipped_byte.bin", flipped);
    auto newer = encode(one);
    newer[5] = std::byte{3};
    ok = ok && write(out, "newer_format.bin", newer);
    if (!ok) {
        std::perror("write");
        return 1;
    }
    return 0;
}
