// One small test per Raft rule of src/raft/node.h. Each test builds one to
// five nodes in memory, feeds them hand-made messages or connects them
// through a tiny synchronous network (`cluster` below: every ready is
// "persisted" at once, then its messages delivered), and checks the rule
// through the messages and readies that come out. The randomized, faulty
// counterpart is tests/sim/raft_sim.cc.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "raft/node.h"

namespace tl::raft {
namespace {

using bytes = std::vector<std::byte>;

bytes data(uint8_t v, size_t size = 1) { return bytes(size, std::byte{v}); }

options options_for(node_id id) {
    options o;
    o.id = id;
    o.election_ticks = 10;
    o.heartbeat_ticks = 1;
    o.random_seed = 42;
    return o;
}

durable_state bootstrap(std::vector<node_id> voters) {
    durable_state s;
    s.snapshot.meta.configuration.voters = std::move(voters);
    return s;
}

entry make_entry(index_t index, term_t term, entry_kind kind = entry_kind::normal) {
    return entry{.term = term, .index = index, .kind = kind, .data = data(static_cast<uint8_t>(index))};
}

// Takes a ready, "persists" it and advances; returns it.
ready cycle(node& n) {
    ready r = n.take_ready();
    n.advance();
    return r;
}

std::vector<message> all_messages(const ready& r) {
    std::vector<message> out = r.messages;
    out.insert(out.end(), r.messages_after_persist.begin(), r.messages_after_persist.end());
    return out;
}

std::vector<message> drain(node& n) {
    std::vector<message> out;
    while (n.has_ready()) {
        auto m = all_messages(cycle(n));
        out.insert(out.end(), m.begin(), m.end());
    }
    return out;
}

// A synchronous network of nodes.
struct cluster {
    std::map<node_id, std::unique_ptr<node>> nodes;
    std::set<node_id> isolated;
    std::map<node_id, std::vector<entry>> applied;
    std::map<node_id, std::vector<read_state>> reads;
    std::vector<message> dropped;

    explicit cluster(std::vector<node_id> ids, options base = options_for(1)) {
        for (node_id id : ids) {
            options o = base;
            o.id = id;
            o.random_seed = id;
            nodes[id] = std::make_unique<node>(o, bootstrap(ids));
        }
    }
    node& operator[](node_id id) { return *nodes.at(id); }

    // Delivers until no node has anything more to say.
    void settle(int rounds_max = 1000) {
        for (int round = 0; round < rounds_max; ++round) {
            std::vector<message> wire;
            for (auto& [id, n] : nodes) {
                while (n->has_ready()) {
                    ready r = cycle(*n);
                    for (auto& e : r.committed_entries) applied[id].push_back(e);
                    for (auto& s : r.read_states) reads[id].push_back(s);
                    for (auto& m : all_messages(r)) wire.push_back(std::move(m));
                }
            }
            if (wire.empty()) return;
            for (auto& m : wire) {
                if (isolated.contains(m.from) || isolated.contains(m.to) || !nodes.contains(m.to)) {
                    dropped.push_back(std::move(m));
                    continue;
                }
                nodes[m.to]->step(std::move(m));
            }
        }
        FAIL() << "the cluster never settles";
    }

    void elect(node_id id) {
        for (int i = 0; i < 40 && (*this)[id].get_role() != role::leader; ++i) {
            (*this)[id].tick();
            settle();
        }
        ASSERT_EQ((*this)[id].get_role(), role::leader);
    }
};

message vote_request(node_id from, node_id to, term_t term, term_t last_term, index_t last_index,
                     message_kind kind = message_kind::vote) {
    return message{.kind = kind, .from = from, .to = to, .term = term, .log_term = last_term,
                   .index = last_index};
}

// A follower whose log holds entries of the given terms at 1, 2, ...
std::unique_ptr<node> follower_with_log(node_id id, std::vector<term_t> terms,
                                        std::vector<node_id> voters = {1, 2, 3}) {
    durable_state s = bootstrap(voters);
    for (size_t i = 0; i < terms.size(); ++i) s.entries.push_back(make_entry(i + 1, terms[i]));
    s.hard.term = terms.empty() ? 0 : terms.back();
    return std::make_unique<node>(options_for(id), std::move(s));
}

// ---------------------------------------------------------------- elections

TEST(RaftVote, GrantsOnlyToALogAtLeastAsUpToDate) {
    // Our log ends at (index 2, term 2).
    const auto check = [](term_t last_term, index_t last_index, bool granted) {
        auto n = follower_with_log(1, {1, 2});
        n->step(vote_request(2, 1, 3, last_term, last_index));
        auto out = drain(*n);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].kind, message_kind::vote_response);
        EXPECT_EQ(!out[0].reject, granted) << last_term << "/" << last_index;
    };
    check(2, 1, false);  // same last term, shorter
    check(1, 5, false);  // older last term, longer
    check(2, 2, true);   // equal
    check(2, 3, true);   // same term, longer
    check(3, 1, true);   // newer last term
}

TEST(RaftVote, OneVotePerTermAndAHigherTermClearsIt) {
    auto n = follower_with_log(1, {});
    n->step(vote_request(2, 1, 1, 0, 0));
    auto out = drain(*n);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].reject);
    EXPECT_EQ(n->get_status().voted_for, 2u);
    n->step(vote_request(3, 1, 1, 0, 0));  // same term, another candidate
    out = drain(*n);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].reject);
    n->step(vote_request(2, 1, 1, 0, 0));  // the same candidate again (a retry)
    out = drain(*n);
    EXPECT_FALSE(out[0].reject);
    n->step(vote_request(3, 1, 2, 0, 0));  // a higher term: bump, vote again
    out = drain(*n);
    EXPECT_FALSE(out[0].reject);
    EXPECT_EQ(n->term(), 2u);
    EXPECT_EQ(n->get_status().voted_for, 3u);
}

TEST(RaftVote, AnyMessageOfAHigherTermBumpsTheTerm) {
    auto n = follower_with_log(1, {1});
    n->step(message{.kind = message_kind::heartbeat, .from = 2, .to = 1, .term = 5});
    EXPECT_EQ(n->term(), 5u);
    EXPECT_EQ(n->leader(), 2u);
    // A stale message is answered with our term and changes nothing.
    n->step(message{.kind = message_kind::append, .from = 3, .to = 1, .term = 4, .log_term = 1, .index = 1});
    auto out = drain(*n);
    EXPECT_EQ(n->leader(), 2u);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().kind, message_kind::append_response);
    EXPECT_EQ(out.back().term, 5u);
}

TEST(RaftPreVote, CampaignsWithoutBumpingTheTerm) {
    auto n = follower_with_log(1, {1});
    for (int i = 0; i < 20 && n->get_role() == role::follower; ++i) n->tick();
    EXPECT_EQ(n->get_role(), role::pre_candidate);
    EXPECT_EQ(n->term(), 1u);
    auto out = drain(*n);
    ASSERT_EQ(out.size(), 2u);
    for (auto& m : out) {
        EXPECT_EQ(m.kind, message_kind::pre_vote);
        EXPECT_EQ(m.term, 2u);  // the term it would campaign in
    }
    // A pre-vote granted by a quorum starts the real election.
    n->step(message{.kind = message_kind::pre_vote_response, .from = 2, .to = 1, .term = 2});
    EXPECT_EQ(n->get_role(), role::candidate);
    EXPECT_EQ(n->term(), 2u);
}

TEST(RaftPreVote, ARecipientKeepsItsTermAndASickyFollowerIgnoresIt) {
    auto n = follower_with_log(1, {1});
    n->step(vote_request(2, 1, 2, 1, 1, message_kind::pre_vote));
    auto out = drain(*n);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].reject);
    EXPECT_EQ(n->term(), 1u);  // unchanged
    EXPECT_EQ(n->get_status().voted_for, no_node);
    // Having heard from a leader within the election timeout, it ignores both
    // pre-votes and votes.
    n->step(message{.kind = message_kind::heartbeat, .from = 3, .to = 1, .term = 1});
    drain(*n);
    n->step(vote_request(2, 1, 2, 1, 1, message_kind::pre_vote));
    n->step(vote_request(2, 1, 2, 1, 1, message_kind::vote));
    EXPECT_TRUE(drain(*n).empty());
    EXPECT_EQ(n->term(), 1u);
}

TEST(RaftCheckQuorum, ALeaderWithoutAQuorumStepsDown) {
    cluster c({1, 2, 3});
    c.elect(1);
    c.isolated = {2, 3};
    for (int i = 0; i < 25; ++i) {
        c[1].tick();
        c.settle();
    }
    EXPECT_EQ(c[1].get_role(), role::follower);
}

TEST(RaftElection, ANewLeaderAppendsANoOp) {
    cluster c({1, 2, 3});
    c.elect(1);
    const entry& last = c[1].log().at(c[1].log().last_index());
    EXPECT_EQ(last.kind, entry_kind::no_op);
    EXPECT_EQ(last.term, c[1].term());
    EXPECT_EQ(c[1].commit_index(), last.index);  // committed by the quorum
    for (node_id id : {1, 2, 3}) {
        ASSERT_FALSE(c.applied[id].empty()) << id;
        EXPECT_EQ(c.applied[id].back().kind, entry_kind::no_op);
    }
}

TEST(RaftElection, OneNodeElectsItselfOnceItsVoteIsDurable) {
    node n(options_for(1), bootstrap({1}));
    for (int i = 0; i < 20 && n.get_role() != role::candidate; ++i) n.tick();
    ASSERT_EQ(n.get_role(), role::candidate);
    ready r = n.take_ready();
    ASSERT_TRUE(r.hard_state.has_value());
    EXPECT_EQ(r.hard_state->voted_for, 1u);
    EXPECT_EQ(n.get_role(), role::candidate);  // not before the vote is durable
    n.advance();
    EXPECT_EQ(n.get_role(), role::leader);
}

// ---------------------------------------------------------------- replication

TEST(RaftAppend, ConsistencyCheckAndConflictTruncation) {
    auto n = follower_with_log(1, {1, 1, 2, 2});
    // prev (4, term 3) does not match: rejected.
    n->step(message{.kind = message_kind::append, .from = 2, .to = 1, .term = 3, .log_term = 3, .index = 4,
                    .entries = {make_entry(5, 3)}});
    auto out = drain(*n);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].reject);
    // prev (2, term 1) matches; entries 3 and 4 of term 3 replace ours of term 2.
    n->step(message{.kind = message_kind::append, .from = 2, .to = 1, .term = 3, .log_term = 1, .index = 2,
                    .entries = {make_entry(3, 3), make_entry(4, 3)}, .commit = 3});
    ready r = n->take_ready();
    ASSERT_EQ(r.entries.size(), 2u);
    EXPECT_EQ(r.entries.front().index, 3u);  // overwrite from 3 on
    ASSERT_EQ(r.messages_after_persist.size(), 1u);
    EXPECT_FALSE(r.messages_after_persist[0].reject);
    EXPECT_EQ(r.messages_after_persist[0].index, 4u);
    n->advance();
    EXPECT_EQ(n->log_term_at(4), 3u);
    EXPECT_EQ(n->log().last_index(), 4u);
    EXPECT_EQ(n->commit_index(), 3u);
}

TEST(RaftAppend, RejectionCarriesAFastBacktrackingHint) {
    // Follower: terms 1 1 1 4 4 4 4; the leader's log has 1 1 1 5 5 5 5 5 5.
    auto n = follower_with_log(1, {1, 1, 1, 4, 4, 4, 4});
    n->step(message{.kind = message_kind::append, .from = 2, .to = 1, .term = 5, .log_term = 5, .index = 9});
    auto out = drain(*n);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].reject);
    // The largest index <= min(9, our last 7) with term <= 5: 7 (term 4).
    EXPECT_EQ(out[0].reject_hint, 7u);
    EXPECT_EQ(out[0].hint_term, 4u);
    // The leader skips every index of term 4 at once: its largest index <= 7
    // with term <= 4 is 3, so it probes at prev = 3.
    cluster c({1, 2, 3});
    raft_log leader_log(0, 0, {make_entry(1, 1), make_entry(2, 1), make_entry(3, 1), make_entry(4, 5),
                               make_entry(5, 5)});
    EXPECT_EQ(leader_log.find_conflict_by_term(7, 4), 3u);
}

TEST(RaftCommit, OnlyEntriesOfTheCurrentTermAreCommittedByCounting) {
    // Leader 1 in term 3 holds an entry of term 1 at index 1 and no other.
    durable_state s = bootstrap({1, 2, 3});
    s.entries.push_back(make_entry(1, 1));
    s.hard.term = 2;
    options o = options_for(1);
    node leader(o, std::move(s));
    for (int i = 0; i < 30 && leader.get_role() != role::candidate; ++i) {
        leader.tick();
        if (leader.get_role() == role::pre_candidate) {
            leader.step(message{.kind = message_kind::pre_vote_response, .from = 2, .to = 1, .term = 3});
        }
    }
    drain(leader);
    leader.step(message{.kind = message_kind::vote_response, .from = 2, .to = 1, .term = 3});
    ASSERT_EQ(leader.get_role(), role::leader);
    drain(leader);
    // Follower 2 acknowledges index 1 (term 1) only: a quorum holds it, yet
    // it is not committed: it is of an earlier term.
    leader.step(message{.kind = message_kind::append_response, .from = 2, .to = 1, .term = 3, .index = 1});
    drain(leader);
    EXPECT_EQ(leader.commit_index(), 0u);
    // Index 2 (the no-op of term 3) acknowledged: both commit.
    leader.step(message{.kind = message_kind::append_response, .from = 2, .to = 1, .term = 3, .index = 2});
    drain(leader);
    EXPECT_EQ(leader.commit_index(), 2u);
}

TEST(RaftReplication, PipeliningStaysWithinTheInflightWindow) {
    options o = options_for(1);
    o.max_inflight_appends = 2;
    o.max_entries_bytes_per_append = 1;  // one entry per append
    cluster c({1, 2}, o);
    c.elect(1);
    c.isolated = {2};  // appends vanish: nothing is acknowledged
    for (uint8_t i = 0; i < 10; ++i) ASSERT_TRUE(c[1].propose(data(i)).ok());
    c.settle();
    size_t appends = 0;
    for (auto& m : c.dropped) {
        if (m.kind == message_kind::append && m.to == 2 && !m.entries.empty() && m.entries[0].index > 1) {
            ++appends;
        }
    }
    EXPECT_EQ(appends, 2u);
    EXPECT_EQ(c[1].get_status().progress.at(2).inflight.size(), 2u);
}

TEST(RaftSnapshot, AFollowerBehindTheCompactedLogGetsTheSnapshot) {
    cluster c({1, 2, 3});
    c.elect(1);
    c.isolated = {3};
    for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE(c[1].propose(data(i)).ok());
    c.settle();
    const index_t applied = c[1].get_status().applied;
    ASSERT_GE(applied, 6u);
    ASSERT_TRUE(c[1].compact(applied, data(0xAB, 3)).ok());
    EXPECT_EQ(c[1].log().snapshot_index(), applied);
    c.isolated.clear();
    c.dropped.clear();
    for (int i = 0; i < 5 && c[3].log().snapshot_index() != applied; ++i) {
        c[1].tick();
        c.settle();
    }
    EXPECT_EQ(c[3].log().snapshot_index(), applied);
    EXPECT_EQ(c[3].commit_index(), c[1].commit_index());
    EXPECT_EQ(c[1].get_status().progress.at(3).match, c[1].log().last_index());
}

// ---------------------------------------------------------------- membership

TEST(RaftMembership, AddAndRemoveOneAtATime) {
    cluster c({1, 2, 3});
    c.elect(1);
    // A fourth server joins as a learner with an empty configuration.
    options o = options_for(4);
    c.nodes[4] = std::make_unique<node>(o, durable_state{});
    auto added = c[1].propose_membership({membership_change::kind::add_learner, 4});
    ASSERT_TRUE(added.ok());
    // Effective on append, one at a time: a second change waits for the first.
    EXPECT_TRUE(c[1].config().is_learner(4));
    auto second = c[1].propose_membership({membership_change::kind::add_voter, 4});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, errc::change_in_progress);
    c.settle();
    EXPECT_TRUE(c[4].config().is_learner(4));
    ASSERT_TRUE(c[1].propose_membership({membership_change::kind::add_voter, 4}).ok());
    c.settle();
    EXPECT_EQ(c[1].config().voters, (std::vector<node_id>{1, 2, 3, 4}));
    EXPECT_EQ(c[4].config().voters.size(), 4u);
    // Invalid changes are refused.
    auto again = c[1].propose_membership({membership_change::kind::add_voter, 4});
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, errc::invalid_change);
    // Removing the leader: it steps down once the change commits.
    ASSERT_TRUE(c[1].propose_membership({membership_change::kind::remove, 1}).ok());
    c.settle();
    EXPECT_NE(c[1].get_role(), role::leader);
    EXPECT_FALSE(c[2].config().contains(1));
    // The others elect a leader among themselves.
    c.isolated = {1};
    for (int i = 0; i < 40 && c[2].get_role() != role::leader && c[3].get_role() != role::leader &&
                    c[4].get_role() != role::leader;
         ++i) {
        for (node_id id : {2, 3, 4}) c[id].tick();
        c.settle();
    }
    EXPECT_TRUE(c[2].get_role() == role::leader || c[3].get_role() == role::leader ||
                c[4].get_role() == role::leader);
}

TEST(RaftMembership, ConfigurationEncodingRoundTrips) {
    configuration config{.voters = {1, 5, 9}, .learners = {7}};
    auto decoded = decode_configuration(encode_configuration(config));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, config);
    auto bytes = encode_configuration(config);
    bytes.pop_back();
    EXPECT_FALSE(decode_configuration(bytes).has_value());
}

// ---------------------------------------------------------------- transfer

TEST(RaftTransfer, TheTargetIsBroughtUpToDateThenTakesOver) {
    cluster c({1, 2, 3});
    c.elect(1);
    c.isolated = {3};
    ASSERT_TRUE(c[1].propose(data(1)).ok());
    c.settle();
    c.isolated.clear();
    ASSERT_TRUE(c[1].transfer_leadership(3).ok());
    // Proposals are refused during the transfer.
    auto refused = c[1].propose(data(2));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, errc::transfer_in_progress);
    c.settle();
    EXPECT_EQ(c[3].get_role(), role::leader);
    EXPECT_EQ(c[1].get_role(), role::follower);
    EXPECT_EQ(c[1].leader(), 3u);
}

// ---------------------------------------------------------------- reads

TEST(RaftReadIndex, AnsweredOnlyAfterAQuorumConfirmsAndTheIndexIsApplied) {
    cluster c({1, 2, 3});
    c.elect(1);
    c.isolated = {2, 3};
    ASSERT_TRUE(c[1].read_index(77).ok());
    c.settle();
    EXPECT_TRUE(c.reads[1].empty());  // no quorum confirmed leadership yet
    c.isolated = {3};
    c[1].tick();  // the next heartbeat round reaches node 2
    c.settle();
    ASSERT_EQ(c.reads[1].size(), 1u);
    EXPECT_EQ(c.reads[1][0].context, 77u);
    EXPECT_EQ(c.reads[1][0].index, c[1].commit_index());
    // A follower forwards the read; its answer waits until it applied the index.
    ASSERT_TRUE(c[2].read_index(78).ok());
    c.settle();
    ASSERT_EQ(c.reads[2].size(), 1u);
    EXPECT_EQ(c.reads[2][0].context, 78u);
    EXPECT_LE(c.reads[2][0].index, c[2].get_status().applied);
}

TEST(RaftReadIndex, AFollowerWithoutALeaderRefuses) {
    node n(options_for(1), bootstrap({1, 2, 3}));
    auto r = n.read_index(1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, errc::no_leader);
}

// ---------------------------------------------------------------- durability

TEST(RaftDurability, AcknowledgementsWaitForPersistence) {
    auto n = follower_with_log(1, {1});
    n->step(vote_request(3, 1, 2, 1, 1));
    n->step(message{.kind = message_kind::append, .from = 3, .to = 1, .term = 2, .log_term = 1, .index = 1,
                    .entries = {make_entry(2, 2)}});
    ready r = n->take_ready();
    EXPECT_TRUE(r.messages.empty());
    ASSERT_EQ(r.messages_after_persist.size(), 2u);
    EXPECT_EQ(r.messages_after_persist[0].kind, message_kind::vote_response);
    EXPECT_EQ(r.messages_after_persist[1].kind, message_kind::append_response);
    ASSERT_TRUE(r.hard_state.has_value());
    EXPECT_EQ(r.hard_state->voted_for, 3u);
    EXPECT_EQ(r.entries.size(), 1u);
    // One ready at a time: what happens meanwhile waits for the next.
    EXPECT_FALSE(n->has_ready());
    n->step(message{.kind = message_kind::heartbeat, .from = 3, .to = 1, .term = 2});
    EXPECT_FALSE(n->has_ready());
    n->advance();
    EXPECT_TRUE(n->has_ready());
}

TEST(RaftDurability, RecoveryFromALogAheadOfTheHardState) {
    // A crash kept entries of term 3 but not the hard state that said term 3.
    durable_state s = bootstrap({1, 2, 3});
    s.entries = {make_entry(1, 1), make_entry(2, 3)};
    s.hard = hard_state{.term = 2, .voted_for = 2, .commit = 9};
    node n(options_for(1), std::move(s));
    EXPECT_EQ(n.term(), 3u);
    EXPECT_EQ(n.get_status().voted_for, no_node);  // that vote was never sent
    EXPECT_EQ(n.commit_index(), 2u);               // clamped to the log
}

}  // namespace
}  // namespace tl::raft
