// Proves the classic rebalance protocol of one group, as Kafka's
// GroupCoordinator runs it: joins (MEMBER_ID_REQUIRED first), a rebalance of
// three members with leader and followers, followers' SyncGroup waiting for
// the leader's stored assignment, session expiry, rebalance timeouts, static
// member replacement without a rebalance, protocol selection and
// INCONSISTENT_GROUP_PROTOCOL, fencing errors, leaving, and offset-commit
// checks. The group is pure logic: a manual clock drives its deadlines
// through tick(), and a fake store holds its writes until the test completes
// them, as the log's append would.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "kafka/groups/group.h"

namespace tl::kafka::groups {
namespace {

using namespace group_errors;
using std::chrono::milliseconds;

class fake_store final : public group_store {
public:
    void store_group(const group& g, store_callback done) override {
        stored.push_back(g.to_record());
        pending.push_back(std::move(done));
    }
    std::string fresh_uuid() override { return fmt::format("u{}", ++_uuids); }
    int64_t wall_time_ms() const noexcept override { return 1000; }
    // Completes every pending write with `error`.
    void complete(int16_t error = 0) {
        auto now = std::move(pending);
        pending.clear();
        for (auto& done : now) {
            if (done) done(error);
        }
    }

    std::vector<group_value> stored;
    std::vector<store_callback> pending;

private:
    int _uuids = 0;
};

protocol_entry protocol(std::string name, int tag = 0) {
    return {std::move(name), {static_cast<std::byte>(tag)}};
}

class group_test : public ::testing::Test {
protected:
    group_test() { settings.initial_rebalance_delay_ms = 0; }

    join_args args(std::string member_id,
                   std::vector<protocol_entry> protocols = {protocol("range")},
                   std::string client = "c") {
        join_args a;
        a.member_id = std::move(member_id);
        a.client_id = std::move(client);
        a.client_host = "/127.0.0.1";
        a.session_timeout_ms = 10'000;
        a.rebalance_timeout_ms = 30'000;
        a.protocol_type = "consumer";
        a.protocols = std::move(protocols);
        return a;
    }
    std::shared_ptr<std::optional<join_result>> join(join_args a) {
        auto out = std::make_shared<std::optional<join_result>>();
        g.join(std::move(a), now(), [out](join_result r) { *out = std::move(r); });
        return out;
    }
    std::shared_ptr<std::optional<sync_result>> sync(
        const std::string& member, int32_t generation,
        std::vector<std::pair<std::string, std::vector<std::byte>>> assignments = {}) {
        auto out = std::make_shared<std::optional<sync_result>>();
        sync_args a;
        a.member_id = member;
        a.generation = generation;
        a.assignments = std::move(assignments);
        g.sync(std::move(a), now(), [out](sync_result r) { *out = std::move(r); });
        return out;
    }
    steady_time now() const { return clock.now(); }
    void advance(milliseconds by) {
        clock.advance(by);
        g.tick(now());
    }
    // A dynamic member's two-step join (MEMBER_ID_REQUIRED, then with its id).
    std::pair<std::string, std::shared_ptr<std::optional<join_result>>> join_new(
        std::string client = "c") {
        auto a = args("", {protocol("range")}, client);
        a.require_known_member_id = true;
        auto first = join(a);
        EXPECT_TRUE(first->has_value());
        EXPECT_EQ((*first)->error, member_id_required);
        a.member_id = (*first)->member_id;
        return {a.member_id, join(a)};
    }
    // Brings a one-member group to Stable; returns the member id.
    std::string stable_single() {
        auto [id, joined] = join_new();
        EXPECT_TRUE(joined->has_value());
        auto synced = sync(id, 1, {{id, {std::byte{7}}}});
        store.complete();
        EXPECT_TRUE(synced->has_value());
        EXPECT_EQ(g.state(), group_state::stable);
        return id;
    }

    manual_clock clock;
    group_settings settings;
    fake_store store;
    group g{"g", settings, store};
};

TEST_F(group_test, first_member_learns_its_id_then_leads_generation_1) {
    auto a = args("");
    a.require_known_member_id = true;
    auto first = join(a);
    ASSERT_TRUE(first->has_value());
    EXPECT_EQ((*first)->error, member_id_required);
    EXPECT_EQ((*first)->member_id, "c-u1");
    EXPECT_EQ(g.members().size(), 0u);  // pending, not a member yet

    a.member_id = "c-u1";
    auto second = join(a);
    ASSERT_TRUE(second->has_value());
    const join_result& r = **second;
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.generation, 1);
    EXPECT_EQ(r.leader, "c-u1");
    EXPECT_EQ(r.protocol_name, "range");
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(g.state(), group_state::completing_rebalance);

    auto synced = sync("c-u1", 1, {{"c-u1", {std::byte{9}}}});
    EXPECT_FALSE(synced->has_value()) << "answered before the group was stored";
    ASSERT_EQ(store.pending.size(), 1u);
    EXPECT_EQ(store.stored.back().members.at(0).assignment, std::vector<std::byte>{std::byte{9}});
    store.complete();
    ASSERT_TRUE(synced->has_value());
    EXPECT_EQ((*synced)->error, 0);
    EXPECT_EQ((*synced)->assignment, std::vector<std::byte>{std::byte{9}});
    EXPECT_EQ(g.state(), group_state::stable);
}

TEST_F(group_test, three_members_rebalance_with_leader_and_followers) {
    settings.initial_rebalance_delay_ms = 100;
    auto m1 = join(args("", {protocol("range")}, "a"));
    auto m2 = join(args("", {protocol("range")}, "b"));
    auto m3 = join(args("", {protocol("range")}, "c"));
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
    EXPECT_FALSE(m1->has_value()) << "the initial delay holds the first join";
    advance(milliseconds(100));
    ASSERT_TRUE(m1->has_value() && m2->has_value() && m3->has_value());
    const std::string leader = (*m1)->leader;
    int leaders = 0;
    for (const auto* r : {&**m1, &**m2, &**m3}) {
        EXPECT_EQ(r->error, 0);
        EXPECT_EQ(r->generation, 1);
        EXPECT_EQ(r->leader, leader);
        if (r->member_id == leader) {
            ++leaders;
            EXPECT_EQ(r->members.size(), 3u);
        } else {
            EXPECT_TRUE(r->members.empty()) << "followers get no member list";
        }
    }
    EXPECT_EQ(leaders, 1);

    std::vector<std::string> ids = {(*m1)->member_id, (*m2)->member_id, (*m3)->member_id};
    std::vector<std::shared_ptr<std::optional<sync_result>>> syncs;
    for (const auto& id : ids) {
        if (id != leader) syncs.push_back(sync(id, 1));
    }
    for (auto& s : syncs) EXPECT_FALSE(s->has_value()) << "followers wait for the leader";
    std::vector<std::pair<std::string, std::vector<std::byte>>> assignments;
    for (size_t i = 0; i < ids.size(); ++i) {
        assignments.emplace_back(ids[i], std::vector<std::byte>{static_cast<std::byte>(i)});
    }
    syncs.push_back(sync(leader, 1, assignments));
    store.complete();
    for (auto& s : syncs) {
        ASSERT_TRUE(s->has_value());
        EXPECT_EQ((*s)->error, 0);
        EXPECT_EQ((*s)->assignment.size(), 1u);
    }
    EXPECT_EQ(g.state(), group_state::stable);
}

TEST_F(group_test, session_expiry_removes_the_member_and_rebalances) {
    const std::string first = stable_single();
    auto [second, joined] = join_new("d");
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
    EXPECT_EQ(g.heartbeat({first, std::nullopt}, 1, now()), rebalance_in_progress);
    auto rejoined = join(args(first));
    ASSERT_TRUE(joined->has_value() && rejoined->has_value());
    EXPECT_EQ((*joined)->generation, 2);
    auto s1 = sync(first, 2, {{first, {}}, {second, {}}});
    auto s2 = sync(second, 2);
    store.complete();
    ASSERT_EQ(g.state(), group_state::stable);

    // Only `first` keeps heartbeating.
    for (int i = 0; i < 12; ++i) {
        advance(milliseconds(1000));
        if (g.state() == group_state::stable) {
            EXPECT_EQ(g.heartbeat({first, std::nullopt}, 2, now()), 0);
        }
    }
    EXPECT_EQ(g.members().count(second), 0u);
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
    auto again = join(args(first));
    ASSERT_TRUE(again->has_value());
    EXPECT_EQ((*again)->generation, 3);
    EXPECT_EQ((*again)->members.size(), 1u);
}

TEST_F(group_test, members_that_miss_the_rebalance_timeout_are_removed) {
    const std::string first = stable_single();
    auto [second, joined] = join_new("d");
    EXPECT_FALSE(joined->has_value()) << "waits for the known member to rejoin";
    advance(milliseconds(30'000));
    ASSERT_TRUE(joined->has_value());
    EXPECT_EQ((*joined)->error, 0);
    EXPECT_EQ((*joined)->generation, 2);
    EXPECT_EQ((*joined)->leader, second);
    EXPECT_EQ(g.members().count(first), 0u);
}

TEST_F(group_test, rejoining_while_stable_starts_a_rebalance) {
    const std::string first = stable_single();
    auto rejoined = join(args(first));
    // Alone in the group, it completes at once into a new generation.
    ASSERT_TRUE(rejoined->has_value());
    EXPECT_EQ((*rejoined)->generation, 2);
    EXPECT_EQ(g.state(), group_state::completing_rebalance);
}

TEST_F(group_test, static_member_rejoins_without_a_rebalance) {
    auto a = args("");
    a.group_instance_id = "i1";
    auto joined = join(a);
    ASSERT_TRUE(joined->has_value());
    EXPECT_EQ((*joined)->error, 0) << "static members skip MEMBER_ID_REQUIRED";
    const std::string old_id = (*joined)->member_id;
    auto synced = sync(old_id, 1, {{old_id, {std::byte{5}}}});
    store.complete();
    ASSERT_EQ(g.state(), group_state::stable);

    // Restarted: same instance id, no member id, same protocols.
    auto again = join(a);
    EXPECT_FALSE(again->has_value()) << "answered once the new id is stored";
    store.complete();
    ASSERT_TRUE(again->has_value());
    const join_result& r = **again;
    EXPECT_EQ(r.error, 0);
    EXPECT_NE(r.member_id, old_id);
    EXPECT_EQ(r.generation, 1) << "no new generation";
    EXPECT_EQ(g.state(), group_state::stable);
    auto resynced = sync(r.member_id, 1);
    ASSERT_TRUE(resynced->has_value());
    EXPECT_EQ((*resynced)->assignment, std::vector<std::byte>{std::byte{5}});
    EXPECT_EQ(g.heartbeat({old_id, std::string("i1")}, 1, now()), unknown_member_id);
    EXPECT_EQ(g.heartbeat({r.member_id, std::string("i1")}, 1, now()), 0);

    // Leaving by instance id.
    auto left = g.leave({{"", std::string("i1")}}, now());
    EXPECT_EQ(left, std::vector<int16_t>{0});
    EXPECT_TRUE(g.members().empty());
}

TEST_F(group_test, static_member_with_another_member_id_is_fenced) {
    auto a = args("");
    a.group_instance_id = "i1";
    auto joined = join(a);
    const std::string id = (*joined)->member_id;
    sync(id, 1, {{id, {}}});
    store.complete();
    // Another member id claiming the instance: in the map, but not this member.
    auto b = args("c-other");
    b.group_instance_id = "i1";
    auto fenced_join = join(b);
    ASSERT_TRUE(fenced_join->has_value());
    EXPECT_EQ((*fenced_join)->error, fenced_instance_id);
}

TEST_F(group_test, protocol_is_chosen_by_votes_among_common_ones) {
    settings.initial_rebalance_delay_ms = 10;
    auto m1 = join(args("", {protocol("a"), protocol("b")}, "x"));
    auto m2 = join(args("", {protocol("b"), protocol("a")}, "y"));
    auto m3 = join(args("", {protocol("b"), protocol("c"), protocol("a")}, "z"));
    advance(milliseconds(10));
    ASSERT_TRUE(m1->has_value());
    EXPECT_EQ((*m1)->protocol_name, "b");
}

TEST_F(group_test, a_member_without_a_common_protocol_is_refused) {
    stable_single();
    auto other = join(args("", {protocol("RoundRobinAssigner")}, "kafkajs"));
    ASSERT_TRUE(other->has_value());
    EXPECT_EQ((*other)->error, inconsistent_group_protocol);
    auto a = args("");
    a.protocol_type = "connect";
    auto wrong_type = join(a);
    EXPECT_EQ((*wrong_type)->error, inconsistent_group_protocol);
    EXPECT_EQ(g.state(), group_state::stable) << "the group is undisturbed";
}

TEST_F(group_test, fencing_errors) {
    const std::string id = stable_single();
    EXPECT_EQ(g.heartbeat({id, std::nullopt}, 0, now()), illegal_generation);
    EXPECT_EQ(g.heartbeat({"nobody", std::nullopt}, 1, now()), unknown_member_id);
    auto stale = sync(id, 7);
    EXPECT_EQ((*stale)->error, illegal_generation);
    auto unknown = join(args("nobody"));
    EXPECT_EQ((*unknown)->error, unknown_member_id);
    auto bad_timeout = args("");
    bad_timeout.session_timeout_ms = 1;
    EXPECT_EQ((*join(bad_timeout))->error, invalid_session_timeout);
    EXPECT_EQ(g.check_commit({id, std::nullopt}, 0, now()), illegal_generation);
    EXPECT_EQ(g.check_commit({"nobody", std::nullopt}, 1, now()), unknown_member_id);
    EXPECT_EQ(g.check_commit({id, std::nullopt}, 1, now()), 0);
    EXPECT_EQ(g.check_commit({"", std::nullopt}, -1, now()), unknown_member_id)
        << "simple commits only while the group has no members";
}

TEST_F(group_test, leaving_rebalances_the_rest) {
    settings.initial_rebalance_delay_ms = 10;
    auto m1 = join(args("", {protocol("range")}, "a"));
    auto m2 = join(args("", {protocol("range")}, "b"));
    advance(milliseconds(10));
    const std::string a = (*m1)->member_id;
    const std::string b = (*m2)->member_id;
    const std::string leader = (*m1)->leader;
    sync(leader, 1, {{a, {}}, {b, {}}});
    store.complete();
    ASSERT_EQ(g.state(), group_state::stable);
    EXPECT_EQ(g.leave({{b, std::nullopt}, {"ghost", std::nullopt}}, now()),
              (std::vector<int16_t>{0, unknown_member_id}));
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
    auto rejoin = join(args(a));
    ASSERT_TRUE(rejoin->has_value());
    EXPECT_EQ((*rejoin)->generation, 2);
    EXPECT_EQ((*rejoin)->leader, a);
    EXPECT_EQ(g.check_commit({a, std::nullopt}, 2, now()), rebalance_in_progress)
        << "no commits while the group waits for its assignment";
}

TEST_F(group_test, empty_group_takes_simple_commits_and_a_failed_store_rebalances) {
    EXPECT_EQ(g.check_commit({"", std::nullopt}, -1, now()), 0);
    g.apply_commit("t", 0, offset_value{.offset = 4, .leader_epoch = -1, .metadata = "",
                                        .commit_timestamp_ms = 1, .expire_timestamp_ms = {}});
    EXPECT_EQ(g.offsets().size(), 1u);

    auto [id, joined] = join_new();
    auto synced = sync(id, 1, {{id, {}}});
    store.complete(coordinator_not_available);
    ASSERT_TRUE(synced->has_value());
    EXPECT_EQ((*synced)->error, coordinator_not_available);
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
}

TEST_F(group_test, a_stored_group_loads_back) {
    const std::string id = stable_single();
    const group_value record = store.stored.back();
    fake_store other_store;
    group loaded("g", settings, other_store);
    loaded.load(record, now());
    EXPECT_EQ(loaded.state(), group_state::stable);
    EXPECT_EQ(loaded.generation(), 1);
    ASSERT_EQ(loaded.members().count(id), 1u);
    EXPECT_EQ(loaded.members().at(id)->assignment, std::vector<std::byte>{std::byte{7}});
    EXPECT_EQ(loaded.heartbeat({id, std::nullopt}, 1, now()), 0);
    EXPECT_EQ(loaded.to_record().members, record.members);
}

}  // namespace
}  // namespace tl::kafka::groups
