// Fuzzes src/raft/codec.h with arbitrary bytes as a Raft message (what a peer
// or an attacker can send over the transport), an entry record and a snapshot
// (what log_store reads back from disk). Decoding must never crash, read out
// of bounds or allocate without bound; whatever decodes must re-encode to the
// very same bytes (the encoding is canonical). Seeds: tests/fuzz/corpus/raft_codec.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/assert.h"
#include "raft/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto input = std::as_bytes(std::span(data, size));
    if (auto m = tl::raft::decode(input); m.ok()) {
        const auto again = tl::raft::encode(*m);
        TL_ASSERT(again.size() == size && std::memcmp(again.data(), data, size) == 0,
                  "a decoded message re-encodes differently");
    }
    if (auto e = tl::raft::decode_entry(input); e.ok()) {
        std::vector<std::byte> again;
        tl::raft::encode_entry(*e, again);
        TL_ASSERT(again.size() == size && std::memcmp(again.data(), data, size) == 0,
                  "a decoded entry re-encodes differently");
    }
    if (auto s = tl::raft::decode_snapshot(input); s.ok()) {
        const auto again = tl::raft::encode_snapshot(*s);
        TL_ASSERT(again.size() == size && std::memcmp(again.data(), data, size) == 0,
                  "a decoded snapshot re-encodes differently");
    }
    return 0;
}
