// The wire and disk encodings of the Raft vocabulary (types.h): messages
// between servers (drivers/transport carries the bytes), and the entries and
// snapshots that log_store keeps on disk.
//
// All integers big-endian. A message is:
//   version 1 | kind 1 | from 8 | to 8 | term 8 | log_term 8 | index 8 |
//   commit 8 | reject 1 | reject_hint 8 | hint_term 8 | context 8 |
//   entry_count 4 | entries | has_snapshot 1 | [snapshot]
// an entry: term 8 | index 8 | kind 1 | data_length 4 | data
// a snapshot: index 8 | term 8 | voter_count 4 | voters 8 each |
//   learner_count 4 | learners 8 each | data_length 4 | data
//
// Decoding takes untrusted bytes (fuzzed: tests/fuzz/raft_codec_fuzz.cc):
// every length is checked against what remains before anything is reserved,
// enums are range-checked, trailing bytes are refused; errors are values.
// Pure functions: any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "raft/types.h"

namespace tl::raft {

inline constexpr uint8_t codec_version = 1;
// Bounds on what decode accepts (the sender's options keep far below them).
inline constexpr uint64_t max_encoded_entry_bytes = 64 << 20;
inline constexpr uint64_t max_encoded_snapshot_bytes = uint64_t{1} << 30;
inline constexpr uint32_t max_configuration_members = 1024;

std::vector<std::byte> encode(const message& m);
result<message, std::string> decode(std::span<const std::byte> bytes);

// One entry, appended to `out`; decode_entry expects exactly one.
void encode_entry(const entry& e, std::vector<std::byte>& out);
result<entry, std::string> decode_entry(std::span<const std::byte> bytes);

std::vector<std::byte> encode_snapshot(const snapshot& s);
result<snapshot, std::string> decode_snapshot(std::span<const std::byte> bytes);

}  // namespace tl::raft
