// The vocabulary of the Raft core: identifiers, log entries, configurations,
// durable state, snapshots and messages. Plain values with no behaviour; the
// state machine that uses them is `node.h`.
//
// Everything here is copied freely: a message owns its entries, a snapshot
// owns its bytes. The core is single-threaded: whoever owns a `raft::node`
// (one shard) owns everything it hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tl::raft {

// A server's identity, chosen by the operator; never 0.
using node_id = uint64_t;
// A Raft term; terms only grow. Term 0 exists only before any election.
using term_t = uint64_t;
// A log position. Index 0 is the empty prefix (the bootstrap snapshot); the
// first entry ever proposed has index 1.
using index_t = uint64_t;

inline constexpr node_id no_node = 0;

enum class entry_kind : uint8_t {
    normal,         // application data, handed to the state machine when committed
    configuration,  // an encoded `configuration` (see encode_configuration)
    no_op,          // appended by every new leader (see node.h, "commit")
};

struct entry {
    term_t term = 0;
    index_t index = 0;
    entry_kind kind = entry_kind::normal;
    std::vector<std::byte> data;

    friend bool operator==(const entry&, const entry&) = default;
};

// The membership of the group. Voters elect and count towards the commit
// quorum; learners only receive the log (a new server catches up as a learner
// before it is promoted, so adding it never stalls commits). Both sorted,
// disjoint.
struct configuration {
    std::vector<node_id> voters;
    std::vector<node_id> learners;

    bool is_voter(node_id id) const noexcept;
    bool is_learner(node_id id) const noexcept;
    bool contains(node_id id) const noexcept { return is_voter(id) || is_learner(id); }
    size_t quorum() const noexcept { return voters.size() / 2 + 1; }

    friend bool operator==(const configuration&, const configuration&) = default;
};

// A configuration entry's data. `decode_configuration` returns nullopt for
// bytes that are not an encoded configuration (a torn or foreign entry).
std::vector<std::byte> encode_configuration(const configuration& config);
std::optional<configuration> decode_configuration(std::span<const std::byte> data);

// What a server must have on stable storage before it acknowledges a vote or
// an append (see node.h, "durability"). `commit` is persisted only as a hint
// that saves re-learning it; losing it is safe.
struct hard_state {
    term_t term = 0;
    node_id voted_for = no_node;
    index_t commit = 0;

    friend bool operator==(const hard_state&, const hard_state&) = default;
};

// A snapshot covers the log up to and including `index`; `configuration` is
// the membership in force at `index`.
struct snapshot_meta {
    index_t index = 0;
    term_t term = 0;
    configuration configuration;

    friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

struct snapshot {
    snapshot_meta meta;
    std::vector<std::byte> data;  // the application's state at meta.index, opaque to Raft
};

enum class message_kind : uint8_t {
    pre_vote,             // "would you vote for me at `term`?" (the sender keeps its term)
    pre_vote_response,    // reject=false: yes
    vote,                 // a candidate's request; log_term/index describe its last entry
    vote_response,        // reject=false: vote granted
    append,               // entries after (index, log_term); commit = the leader's commit
    append_response,      // index = the last index now matching the leader; reject: see hint
    heartbeat,            // commit = min(leader commit, follower match); context = read round
    heartbeat_response,   // context echoes the heartbeat's
    install_snapshot,     // snapshot: the leader's latest; sent when `next` was compacted away
    timeout_now,          // leadership transfer: campaign now, skipping pre-vote
    read_index,           // a follower forwards a client's read; context = the caller's
    read_index_response,  // index = the read index for that context; reject: no leader ready
};

std::string_view to_string(message_kind kind) noexcept;

struct message {
    message_kind kind = message_kind::append;
    node_id from = no_node;
    node_id to = no_node;
    term_t term = 0;
    // append: the term and index of the entry preceding `entries`;
    // vote/pre_vote: the candidate's last log term and index;
    // append_response/read_index_response: the index acknowledged.
    term_t log_term = 0;
    index_t index = 0;
    std::vector<entry> entries;
    index_t commit = 0;
    // Responses: true when refused. A refused append carries the follower's
    // hint for fast backtracking: the largest index at or below `index` whose
    // term is at most the leader's `log_term` (reject_hint, hint_term).
    bool reject = false;
    index_t reject_hint = 0;
    term_t hint_term = 0;
    // heartbeat(_response): the leader's read round; read_index(_response):
    // the caller's context; vote: 1 when the election is a leadership transfer
    // (a sticky follower must not ignore it).
    uint64_t context = 0;
    std::optional<snapshot> snapshot;  // install_snapshot only
};

}  // namespace tl::raft
