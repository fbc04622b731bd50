// Fuzzes loading the metadata file (load_metadata on src/cluster): the input
// is the whole file image. It is written, durably, as DATA/cluster/metadata
// on a fresh simulated disk (tests/sim, fixed executor seed, so a run is a
// pure function of the input) and loaded.
//
// Properties:
// - load never crashes, hangs or reads out of bounds, and never returns
//   "no metadata" for a file that exists: a snapshot or an error;
// - it agrees with decode_metadata on the same bytes;
// - what loads is canonical: a current-format file encodes back to exactly
//   the input, and that encoding decodes to the same snapshot (so a save
//   after a load writes what was read); an older-format file (version 1)
//   encodes to a current one that decodes to the same snapshot.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/assert.h"
#include "cluster/metadata_store.h"
#include "sim/sim_disk.h"

namespace {

using namespace tl;

task<void> write_image(sim::sim_disk& d, std::vector<std::byte> image) {
    TL_ASSERT((co_await d.make_directory("data")).ok());
    TL_ASSERT((co_await d.make_directory("data/cluster")).ok());
    auto opened = co_await d.open("data/cluster/metadata", uring::open_mode::create_read_write,
                                  storage::direct_io::never);
    TL_ASSERT(opened.ok());
    TL_ASSERT((co_await (*opened)->write_at(0, std::span<const std::byte>(image))).ok());
    TL_ASSERT((co_await (*opened)->sync()).ok());
    TL_ASSERT((co_await (*opened)->close()).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    sim::sim_executor executor(1);
    sim::sim_disk disk(executor);
    executor.run_task(write_image(disk, std::vector<std::byte>(input.begin(), input.end())));
    auto loaded = executor.run_task(cluster::load_metadata(disk, "data"));
    auto decoded = cluster::decode_metadata(input, "data/cluster/metadata");
    TL_ASSERT(loaded.ok() == decoded.ok(), "load and decode disagree");
    if (!loaded.ok()) {
        TL_ASSERT(loaded.error().message() == decoded.error().message());
        TL_ASSERT(!loaded.error().detail.empty(), "an error must say what is wrong");
        return 0;
    }
    TL_ASSERT(loaded->has_value(), "an existing file loaded as no metadata");
    TL_ASSERT(**loaded == *decoded);
    auto encoded = cluster::encode_metadata(**loaded);
    TL_ASSERT(encoded.ok(), "a loaded snapshot must be savable");
    // The header's format version, big-endian at bytes 4-5 (the load checked it).
    const auto format = static_cast<uint16_t>((std::to_integer<unsigned>(input[4]) << 8) |
                                              std::to_integer<unsigned>(input[5]));
    if (format == cluster::metadata_format_version) {
        TL_ASSERT(std::equal(encoded->begin(), encoded->end(), input.begin(), input.end()),
                  "not the one encoding of the snapshot");
    }
    auto again = cluster::decode_metadata(*encoded);
    TL_ASSERT(again.ok() && *again == **loaded);
    return 0;
}
