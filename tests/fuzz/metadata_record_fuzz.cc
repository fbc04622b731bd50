// Fuzzes decoding one record of the controller's metadata log
// (decode_record, src/cluster/metadata_records.h): the input is the entry's
// bytes as Raft would hand them to the state machine.
//
// Properties:
// - decoding never crashes, hangs, reads out of bounds or allocates beyond
//   what the input can hold: a record or an error with a message;
// - what decodes is well formed (check_record) and canonical: it encodes back
//   to exactly the input, so no two byte strings mean the same record.
//
// Seeds (corpus/metadata_record): one record of each type, as
// tests/unit/metadata_records_test.cc builds them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/assert.h"
#include "cluster/metadata_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tl;
    const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    auto decoded = cluster::decode_record(input);
    if (!decoded.ok()) {
        TL_ASSERT(!decoded.error().empty(), "an error must say what is wrong");
        return 0;
    }
    TL_ASSERT(!cluster::check_record(*decoded).has_value(), "decoded a malformed record");
    const auto encoded = cluster::encode_record(*decoded);
    TL_ASSERT(std::ranges::equal(encoded, input), "not the one encoding of the record");
    return 0;
}
