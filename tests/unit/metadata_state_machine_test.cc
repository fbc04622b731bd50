// Proves the controller's state machine (src/cluster/metadata_state_machine.h)
// and its frontend (controller_frontend.h) with the in-memory proposer:
// - determinism: two machines applying the same log end identical (state,
//   outcomes, snapshot bytes), and snapshot -> restore -> continue equals
//   continuous apply, over seeded random logs full of conflicting records;
// - re-validation on apply: racing creates, deletes of what is gone, stale
//   partition growth and producer-id blocks end as outcomes with the exact
//   errors, filed under their request ids (bounded per origin);
// - delete and recreate under the same name; producer-id blocks never
//   overlap, across snapshot/restore too; placement is round-robin over the
//   registered brokers, and images mark which partitions are local;
// - the metadata file's formats 1, 2 and 3 load through snapshot_from_legacy;
//   state snapshots are strict (every truncation refused);
// - the frontend answers exactly as the local controller does (the messages
//   its tests and the admin API tests expect), waits for the image, and
//   reports a race lost on apply with the winner's error.
//
// Pure state machine cases run on the test thread; frontend cases on one
// reactor shard (the frontend waits on reactor conditions).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <set>

#include "cluster/controller_frontend.h"
#include "cluster/metadata_state_machine.h"
#include "cluster/metadata_validation.h"
#include "reactor/smp.h"

namespace tl::cluster {
namespace {

topic_id id_from(uint64_t seed) {
    std::mt19937_64 random(seed);
    return topic_id::random(random);
}

std::string cluster_id_from(uint64_t seed) {
    std::mt19937_64 random(seed);
    return make_cluster_id(random);
}

broker_record broker(int32_t node, int64_t incarnation = 1) {
    return {.node_id = node,
            .host = "broker-" + std::to_string(node),
            .port = 9092,
            .rack = {},
            .incarnation = incarnation};
}

// A log under construction, applied as it grows.
struct harness {
    explicit harness(int32_t local_node = 0)
        : machine(image_options{.local_node = local_node},
                  [this](std::shared_ptr<const metadata_image> image) {
                      published.push_back(std::move(image));
                  }) {}

    // Appends and applies one record; returns its request id.
    request_id add(int32_t origin, metadata_record_body body) {
        const request_id id{.origin_node = origin, .sequence = ++sequences[origin]};
        raft::entry e{.term = 1,
                      .index = machine.last_applied() + 1,
                      .kind = raft::entry_kind::normal,
                      .data = encode_record({id, std::move(body)})};
        machine.apply(e);
        log.push_back(std::move(e));
        return id;
    }
    const request_outcome& outcome(const request_id& id) const {
        const request_outcome* o = machine.outcome_of(id);
        TL_ASSERT(o != nullptr);
        return *o;
    }

    std::vector<std::shared_ptr<const metadata_image>> published;
    metadata_state_machine machine;
    std::vector<raft::entry> log;
    std::map<int32_t, uint64_t> sequences;
};

create_topic_record create(std::string name, topic_id id, int32_t partitions,
                           std::span<const broker_record> brokers) {
    return {.name = std::move(name),
            .id = id,
            .partitions = partitions,
            .replication_factor = 1,
            .assignments = place_partitions(brokers, 0, partitions, 1, 0),
            .configs = {}};
}

void expect_same(const metadata_state_machine& a, const metadata_state_machine& b) {
    EXPECT_EQ(a.state(), b.state());
    EXPECT_EQ(a.outcomes(), b.outcomes());
    EXPECT_EQ(a.last_applied(), b.last_applied());
    EXPECT_EQ(a.take_snapshot(), b.take_snapshot());
}

// ---- the state machine ----

TEST(MetadataStateMachine, StartsEmptyAndPublishes) {
    harness h;
    ASSERT_EQ(h.published.size(), 1u);
    EXPECT_EQ(h.published[0]->version(), 0);
    EXPECT_TRUE(h.machine.state().cluster_id.empty());
    const auto set = h.add(1, set_cluster_id_record{cluster_id_from(1)});
    EXPECT_EQ(h.outcome(set).error.code, controller_errc::none);
    EXPECT_EQ(h.machine.state().cluster_id, cluster_id_from(1));
    EXPECT_EQ(h.published.back()->cluster_id(), cluster_id_from(1));
    const auto again = h.add(2, set_cluster_id_record{cluster_id_from(2)});
    EXPECT_EQ(h.outcome(again).error.code, controller_errc::none);
    EXPECT_EQ(h.machine.state().cluster_id, cluster_id_from(1)) << "the first one stays";
    EXPECT_EQ(h.published.size(), 2u) << "no change, no new image";
}

TEST(MetadataStateMachine, RacingCreatesTheSecondGetsTopicAlreadyExists) {
    harness h;
    h.add(1, register_broker_record{broker(1)});
    const auto first = h.add(1, create("orders", id_from(1), 3, h.machine.state().brokers));
    const auto second = h.add(2, create("orders", id_from(2), 5, h.machine.state().brokers));
    EXPECT_EQ(h.outcome(first).error.code, controller_errc::none);
    EXPECT_EQ(h.outcome(first).topic, id_from(1));
    EXPECT_EQ(h.outcome(second).error, (controller_error{controller_errc::topic_already_exists,
                                                         "Topic 'orders' already exists."}));
    ASSERT_EQ(h.machine.state().topics.size(), 1u);
    EXPECT_EQ(h.machine.state().topics[0].id, id_from(1));
    EXPECT_EQ(h.machine.state().topics[0].partition_count, 3);
    EXPECT_EQ(h.outcome(second).version, h.outcome(first).version);
}

TEST(MetadataStateMachine, ARequestCommittedTwiceAppliesOnce) {
    harness h;
    h.add(1, register_broker_record{broker(1)});
    const auto created = h.add(1, create("orders", id_from(1), 1, h.machine.state().brokers));
    const request_outcome first = h.outcome(created);
    raft::entry again = h.log.back();
    again.index = h.machine.last_applied() + 1;
    h.machine.apply(again);
    EXPECT_EQ(h.machine.last_applied(), again.index);
    EXPECT_EQ(h.outcome(created), first) << "not topic_already_exists";
    EXPECT_EQ(h.machine.state().topics.size(), 1u);
}

TEST(MetadataStateMachine, ReplicasMustBeRegisteredBrokers) {
    harness h;
    h.add(1, register_broker_record{broker(1)});
    auto record = create("t", id_from(1), 2, h.machine.state().brokers);
    record.assignments[1] = {5};
    const auto id = h.add(1, record);
    EXPECT_EQ(h.outcome(id).error.code, controller_errc::invalid_replica_assignment);
    EXPECT_EQ(h.outcome(id).error.message, "Partition 1: broker 5 is not registered.");
    EXPECT_TRUE(h.machine.state().topics.empty());
}

TEST(MetadataStateMachine, DeleteAndRecreateUnderTheSameName) {
    harness h(1);
    h.add(1, register_broker_record{broker(1)});
    const auto brokers = h.machine.state().brokers;
    h.add(1, create("t", id_from(1), 2, brokers));
    const auto deleted = h.add(1, delete_topic_record{id_from(1)});
    EXPECT_EQ(h.outcome(deleted).error.code, controller_errc::none);
    EXPECT_EQ(h.published.back()->find("t"), nullptr);
    const auto again = h.add(1, delete_topic_record{id_from(1)});
    EXPECT_EQ(h.outcome(again).error,
              (controller_error{controller_errc::unknown_topic,
                                "This server does not host this topic-partition."}));
    const auto recreated = h.add(1, create("t", id_from(2), 4, brokers));
    EXPECT_EQ(h.outcome(recreated).error.code, controller_errc::none);
    const topic_metadata* t = h.published.back()->find("t");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, id_from(2));
    EXPECT_EQ(t->partition_count, 4);
    EXPECT_EQ(h.published.back()->find(id_from(1)), nullptr);

    h.add(1, create(std::string(offsets_topic_name), id_from(3), 1, brokers));
    const auto internal = h.add(1, delete_topic_record{id_from(3)});
    EXPECT_EQ(h.outcome(internal).error.code, controller_errc::internal_topic);
}

TEST(MetadataStateMachine, PartitionGrowthIsRevalidated) {
    harness h;
    h.add(1, register_broker_record{broker(1)});
    const auto brokers = h.machine.state().brokers;
    h.add(1, create("t", id_from(1), 2, brokers));
    auto grow = [&](int32_t count, int32_t from) {
        return create_partitions_record{
            .id = id_from(1),
            .count = count,
            .replication_factor = 1,
            .assignments = place_partitions(brokers, from, count - from, 1, 0)};
    };
    const auto first = h.add(1, grow(4, 2));
    const auto same = h.add(2, grow(4, 2));   // raced to the same count
    const auto stale = h.add(2, grow(5, 2));  // computed from 2 partitions, now 4
    EXPECT_EQ(h.outcome(first).error.code, controller_errc::none);
    EXPECT_EQ(h.outcome(same).error,
              (controller_error{controller_errc::invalid_partitions,
                                "Topic currently has 4 partitions, which is higher than or equal "
                                "to the requested 4."}));
    EXPECT_EQ(h.outcome(stale).error.code, controller_errc::not_controller);
    EXPECT_EQ(h.machine.state().topics[0].partition_count, 4);
    EXPECT_EQ(h.machine.state().topics[0].assignments.size(), 4u);
    const auto gone =
        h.add(1, create_partitions_record{
                     .id = id_from(9), .count = 3, .replication_factor = 1, .assignments = {{1}}});
    EXPECT_EQ(h.outcome(gone).error.code, controller_errc::unknown_topic);
}

TEST(MetadataStateMachine, ConfigsAreRevalidatedAndReplacedWhole) {
    harness h;
    h.add(1, register_broker_record{broker(1)});
    auto record = create("t", id_from(1), 1, h.machine.state().brokers);
    record.configs = {{"retention.ms", "1000"}};
    h.add(1, record);
    const auto altered =
        h.add(1, alter_topic_config_record{id_from(1), {{"segment.bytes", "1048576"}}});
    EXPECT_EQ(h.outcome(altered).error.code, controller_errc::none);
    EXPECT_EQ(h.machine.state().topics[0].configs, (config_map{{"segment.bytes", "1048576"}}));
    const auto bad = h.add(1, alter_topic_config_record{id_from(1), {{"retention.ms", "soon"}}});
    EXPECT_EQ(h.outcome(bad).error.code, controller_errc::invalid_config);
    EXPECT_NE(h.outcome(bad).error.message.find("retention.ms"), std::string::npos);
    const auto unknown = h.add(1, alter_topic_config_record{id_from(2), {}});
    EXPECT_EQ(h.outcome(unknown).error.code, controller_errc::unknown_topic);
}

TEST(MetadataStateMachine, ProducerIdBlocksNeverOverlap) {
    harness h;
    const auto a = h.add(1, allocate_producer_ids_record{.node_id = 1, .first = 0, .count = 1000});
    const auto b = h.add(2, allocate_producer_ids_record{.node_id = 2, .first = 0, .count = 1000});
    const auto c = h.add(2, allocate_producer_ids_record{.node_id = 2, .first = 1000, .count = 10});
    EXPECT_EQ(h.outcome(a).producer_ids, (producer_id_block{.first = 0, .count = 1000}));
    EXPECT_EQ(h.outcome(b).error.code, controller_errc::not_controller) << "lost the race";
    EXPECT_EQ(h.outcome(c).producer_ids, (producer_id_block{.first = 1000, .count = 10}));
    EXPECT_EQ(h.machine.state().next_producer_id, 1010);

    // Across a snapshot: the restored machine refuses anything below 1010.
    harness restored;
    restored.machine.restore(raft::snapshot{.meta = {.index = h.machine.last_applied()},
                                            .data = h.machine.take_snapshot()});
    restored.sequences = h.sequences;
    const auto stale =
        restored.add(3, allocate_producer_ids_record{.node_id = 3, .first = 1009, .count = 1});
    EXPECT_EQ(restored.outcome(stale).error.code, controller_errc::not_controller);
    const auto last = restored.add(
        3, allocate_producer_ids_record{
               .node_id = 3, .first = std::numeric_limits<int64_t>::max() - 5, .count = 5});
    EXPECT_EQ(restored.outcome(last).error.code, controller_errc::none);
    EXPECT_EQ(restored.machine.state().next_producer_id, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(restored.outcome(a).producer_ids.count, 1000) << "outcomes survive the snapshot";
}

TEST(MetadataStateMachine, BrokerRegistrationAndPlacement) {
    harness h(2);
    h.add(3, register_broker_record{broker(3)});
    h.add(1, register_broker_record{broker(1)});
    h.add(2, register_broker_record{broker(2, 5)});
    const auto older = h.add(2, register_broker_record{broker(2, 4)});
    EXPECT_EQ(h.outcome(older).error.code, controller_errc::not_controller);
    ASSERT_EQ(h.machine.state().brokers.size(), 3u);
    EXPECT_EQ(h.machine.state().brokers[0].node_id, 1) << "sorted by node id";
    EXPECT_EQ(h.machine.state().brokers[1].incarnation, 5);

    h.add(1, create("t", id_from(1), 5, h.machine.state().brokers));
    const topic_metadata* t = h.published.back()->find("t");
    ASSERT_NE(t, nullptr);
    const std::vector<replica_list> expected{{1}, {2}, {3}, {1}, {2}};
    EXPECT_EQ(t->replicas, expected) << "round-robin by node id";
    EXPECT_EQ(t->local, (std::vector<uint8_t>{0, 1, 0, 0, 1})) << "node 2's view";
    EXPECT_EQ(t->leader(2), 3);

    const auto three = place_partitions(h.machine.state().brokers, 4, 2, 3, 0);
    EXPECT_EQ(three, (std::vector<replica_list>{{2, 3, 1}, {3, 1, 2}}));
    EXPECT_EQ(place_partitions({}, 0, 2, 1, 7), (std::vector<replica_list>{{7}, {7}}));
}

TEST(MetadataStateMachine, OutcomesAreBoundedPerOrigin) {
    harness h;
    std::vector<request_id> ids;
    for (size_t i = 0; i < metadata_state_machine::max_outcomes_per_origin + 10; ++i) {
        ids.push_back(h.add(4, delete_topic_record{id_from(1)}));
    }
    h.add(5, delete_topic_record{id_from(1)});
    EXPECT_EQ(h.machine.outcome_of(ids[9]), nullptr);
    EXPECT_NE(h.machine.outcome_of(ids[10]), nullptr);
    EXPECT_EQ(h.machine.outcomes().size(), metadata_state_machine::max_outcomes_per_origin + 1);
    EXPECT_EQ(h.machine.last_sequence(4), ids.back().sequence);
    EXPECT_EQ(h.machine.last_sequence(5), 1u);
    EXPECT_EQ(h.machine.last_sequence(6), 0u);
    // A request older than the window counts as applied long ago.
    const size_t before = h.machine.outcomes().size();
    h.machine.apply(raft::entry{.term = 1,
                                .index = h.machine.last_applied() + 1,
                                .kind = raft::entry_kind::normal,
                                .data = encode_record({ids[0], delete_topic_record{id_from(1)}})});
    EXPECT_EQ(h.machine.outcomes().size(), before);
    EXPECT_EQ(h.machine.outcome_of(ids[0]), nullptr);
}

// A random log over a few names, ids and brokers: most records conflict
// with something.
std::vector<metadata_record_body> random_log(uint64_t seed, size_t length) {
    std::mt19937_64 random(seed);
    auto pick = [&](uint64_t n) { return random() % n; };
    std::vector<broker_record> brokers{broker(1), broker(2), broker(3)};
    std::vector<metadata_record_body> out;
    out.push_back(set_cluster_id_record{cluster_id_from(seed)});
    for (size_t i = 0; i < length; ++i) {
        const topic_id id = id_from(pick(6));
        switch (pick(7)) {
            case 0:
                out.push_back(register_broker_record{
                    broker(static_cast<int32_t>(1 + pick(3)), static_cast<int64_t>(pick(4)))});
                break;
            case 1:
            case 2: {
                const auto partitions = static_cast<int32_t>(1 + pick(4));
                auto record = create("t" + std::to_string(pick(4)), id, partitions, brokers);
                if (pick(3) == 0) record.configs = {{"retention.ms", std::to_string(pick(9))}};
                if (pick(9) == 0) record.configs = {{"retention.ms", "x"}};
                out.push_back(std::move(record));
                break;
            }
            case 3:
                out.push_back(delete_topic_record{id});
                break;
            case 4: {
                const auto from = static_cast<int32_t>(1 + pick(4));
                const auto count = from + static_cast<int32_t>(1 + pick(2));
                out.push_back(create_partitions_record{
                    .id = id,
                    .count = count,
                    .replication_factor = 1,
                    .assignments = place_partitions(brokers, from, count - from, 1, 0)});
                break;
            }
            case 5:
                out.push_back(alter_topic_config_record{
                    id, {{"segment.bytes", std::to_string(1048576 + pick(3))}}});
                break;
            default:
                out.push_back(allocate_producer_ids_record{
                    .node_id = 1, .first = static_cast<int64_t>(pick(5000)), .count = 1000});
        }
    }
    return out;
}

TEST(MetadataStateMachine, ApplyIsDeterministicAndSnapshotsResumeExactly) {
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        const auto bodies = random_log(seed, 200);
        harness a(1);
        for (size_t i = 0; i < bodies.size(); ++i) {
            a.add(static_cast<int32_t>(1 + i % 3), bodies[i]);
            if (i % 17 == 0) {
                // Raft's own entries only advance the applied index.
                raft::entry noop{.term = 2,
                                 .index = a.machine.last_applied() + 1,
                                 .kind = raft::entry_kind::no_op,
                                 .data = {}};
                a.machine.apply(noop);
                a.log.push_back(noop);
            }
        }
        harness b(2);
        for (const raft::entry& e : a.log) b.machine.apply(e);
        SCOPED_TRACE(seed);
        expect_same(a.machine, b.machine);

        // Snapshot at a random point, restore elsewhere, continue.
        const size_t cut = seed * 7 % a.log.size();
        harness c(3);
        for (size_t i = 0; i < cut; ++i) c.machine.apply(a.log[i]);
        harness d(3);
        d.machine.restore(raft::snapshot{.meta = {.index = c.machine.last_applied()},
                                         .data = c.machine.take_snapshot()});
        EXPECT_EQ(d.published.back()->version(), c.machine.state().version);
        for (size_t i = cut; i < a.log.size(); ++i) d.machine.apply(a.log[i]);
        expect_same(a.machine, d.machine);

        // Producer-id blocks issued along the way never overlap.
        std::vector<producer_id_block> blocks;
        for (const auto& [id, o] : a.machine.outcomes()) {
            if (o.error.code == controller_errc::none && o.producer_ids.count > 0) {
                blocks.push_back(o.producer_ids);
            }
        }
        std::ranges::sort(blocks, {}, &producer_id_block::first);
        for (size_t i = 1; i < blocks.size(); ++i) {
            EXPECT_GE(blocks[i].first, blocks[i - 1].end());
        }
    }
}

TEST(MetadataStateMachine, SnapshotsAreStrict) {
    harness h;
    for (const auto& body : random_log(99, 30)) h.add(1, body);
    const auto bytes = h.machine.take_snapshot();
    for (size_t length = 0; length < bytes.size(); ++length) {
        harness other;
        EXPECT_FALSE(other.machine.restore_bytes(5, std::span(bytes).first(length)).ok()) << length;
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    harness other;
    EXPECT_FALSE(other.machine.restore_bytes(5, longer).ok());
    EXPECT_TRUE(other.machine.restore_bytes(5, bytes).ok());
    EXPECT_EQ(other.machine.last_applied(), 5u);
    EXPECT_EQ(other.machine.state(), h.machine.state());
}

TEST(MetadataStateMachine, OldMetadataFilesLoadThroughSnapshotFromLegacy) {
    metadata_snapshot legacy;
    legacy.version = 12;
    legacy.cluster_id = cluster_id_from(3);
    legacy.next_producer_id = 0;
    legacy.topics.push_back(topic_record{
        .name = "a", .id = id_from(1), .partition_count = 3, .configs = {{"retention.ms", "5"}}});
    legacy.topics.push_back(topic_record{.name = "b", .id = id_from(2), .partition_count = 1});
    for (uint16_t format : {uint16_t{1}, uint16_t{2}, uint16_t{3}}) {
        SCOPED_TRACE(format);
        auto file = encode_metadata(legacy, format);
        ASSERT_TRUE(file.ok()) << file.error().message();
        auto decoded = decode_metadata(*file);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message();
        auto snapshot = metadata_state_machine::snapshot_from_legacy(*decoded, 4);
        ASSERT_TRUE(snapshot.ok()) << snapshot.error();
        harness h(4);
        ASSERT_TRUE(h.machine.restore_bytes(0, *snapshot).ok());
        EXPECT_EQ(h.machine.state().version, 12);
        EXPECT_EQ(h.machine.state().cluster_id, legacy.cluster_id);
        const topic_metadata* a = h.published.back()->find("a");
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->replicas, (std::vector<replica_list>{{4}, {4}, {4}}));
        EXPECT_EQ(a->local, (std::vector<uint8_t>{1, 1, 1}));
        EXPECT_EQ(a->config.overrides().at("retention.ms"), "5");
        // And the log continues from it.
        h.add(4, register_broker_record{broker(4)});
        const auto grown = h.add(
            4, create_partitions_record{
                   .id = id_from(2), .count = 2, .replication_factor = 1, .assignments = {{4}}});
        EXPECT_EQ(h.outcome(grown).error.code, controller_errc::none);
    }
}

// ---- the frontend ----

std::unique_ptr<reactor::smp> start_shard() {
    reactor::reactor_options options;
    options.shard_count = 1;
    options.pinning = reactor::cpu_pinning::floating;
    auto started = reactor::smp::start(options);
    TL_ASSERT(started.ok(), "smp start");
    return std::move(*started);
}

// Records what was published; every image counts as adopted at once, but
// waiting for a version never published is an error.
struct recording_publisher final : image_publisher {
    void publish(std::shared_ptr<const metadata_image> image) override {
        versions.push_back(image->version());
    }
    task<void> wait_published(int64_t version) override {
        TL_ASSERT(!versions.empty() && versions.back() >= version,
                  "waiting for an unpublished image");
        waited.push_back(version);
        co_return;
    }
    std::vector<int64_t> versions;
    std::vector<int64_t> waited;
};

// Applies another broker's record just before each of ours: the race a
// frontend cannot see when it validates.
struct racing_proposer final : metadata_proposer {
    racing_proposer(metadata_state_machine& m) : machine(m), inner(m) {}
    task<result<raft::index_t, std::string>> propose(std::vector<std::byte> record) override {
        if (rival) {
            auto rival_bytes = encode_record({{.origin_node = 9, .sequence = ++rival_sequence},
                                              *std::exchange(rival, std::nullopt)});
            (void)co_await inner.propose(std::move(rival_bytes));
        }
        co_return co_await inner.propose(std::move(record));
    }
    task<void> wait_applied(raft::index_t index) override { return inner.wait_applied(index); }

    metadata_state_machine& machine;
    in_memory_proposer inner;
    std::optional<metadata_record_body> rival;
    uint64_t rival_sequence = 0;
};

struct frontend_fixture {
    frontend_fixture()
        : machine(image_options{.local_node = 1},
                  [this](std::shared_ptr<const metadata_image> i) { publisher.publish(i); }),
          proposer(machine),
          frontend(
              frontend_settings{
                  .node_id = 1, .max_partitions_per_topic = 100, .offsets_topic_partitions = 3},
              machine, proposer, publisher, 42) {}
    recording_publisher publisher;
    metadata_state_machine machine;
    racing_proposer proposer;
    controller_frontend frontend;
};

TEST(ControllerFrontend, BootstrapsAClusterAndAnswersLikeTheController) {
    auto shards = start_shard();
    shards->run_on(0, []() -> task<void> {
        frontend_fixture f;
        auto& fe = f.frontend;
        EXPECT_TRUE((co_await fe.bootstrap(broker(1))).ok());
        EXPECT_FALSE(fe.image()->cluster_id().empty());
        EXPECT_EQ(fe.image()->brokers().size(), 1u);
        const topic_metadata* offsets = fe.image()->find(offsets_topic_name);
        EXPECT_TRUE(offsets != nullptr && offsets->partition_count == 3 &&
                    offsets->config.overrides().at("cleanup.policy") == "compact");
        const auto after_bootstrap = f.proposer.inner.log().size();
        EXPECT_TRUE((co_await fe.bootstrap(broker(1))).ok());
        EXPECT_EQ(f.proposer.inner.log().size(), after_bootstrap) << "nothing to do again";

        std::vector<new_topic> topics(7);
        topics[0] = {.name = "ok", .partitions = 4, .replication_factor = 1, .configs = {}};
        topics[1] = {.name = "bad/name", .partitions = 1, .replication_factor = 1, .configs = {}};
        topics[2] = {.name = "ok", .partitions = 1, .replication_factor = 1, .configs = {}};
        topics[3] = {.name = "zero", .partitions = 0, .replication_factor = 1, .configs = {}};
        topics[4] = {.name = "many", .partitions = 101, .replication_factor = 1, .configs = {}};
        topics[5] = {.name = "rf", .partitions = 1, .replication_factor = 3, .configs = {}};
        topics[6] = {.name = "cfg",
                     .partitions = 1,
                     .replication_factor = 1,
                     .configs = {{"retention.ms", "soon"}}};
        auto out = co_await fe.create_topics(topics, false);
        EXPECT_EQ(out[0].error.code, controller_errc::none);
        EXPECT_FALSE(out[0].id.is_zero());
        EXPECT_EQ(out[1].error.code, controller_errc::invalid_topic_name);
        EXPECT_EQ(out[2].error, (controller_error{controller_errc::topic_already_exists,
                                                  "Topic 'ok' already exists."}));
        EXPECT_EQ(out[3].error, (controller_error{controller_errc::invalid_partitions,
                                                  "Number of partitions must be between 1 and "
                                                  "100, got 0."}));
        EXPECT_EQ(out[4].error.code, controller_errc::invalid_partitions);
        EXPECT_EQ(out[5].error, (controller_error{controller_errc::invalid_replication_factor,
                                                  "Replication factor must be 1 on a "
                                                  "single-node cluster, got 3."}));
        EXPECT_EQ(out[6].error.code, controller_errc::invalid_config);
        const topic_metadata* ok = fe.image()->find("ok");
        EXPECT_TRUE(ok != nullptr && ok->id == out[0].id && ok->partition_count == 4);
        EXPECT_TRUE(ok != nullptr && ok->is_local(3));
        EXPECT_EQ(f.publisher.waited.back(), fe.image()->version()) << "answered after the image";

        auto validated = co_await fe.create_topics(
            {{.name = "dry", .partitions = 1, .replication_factor = 1, .configs = {}}}, true);
        EXPECT_EQ(validated[0].error.code, controller_errc::none);
        EXPECT_EQ(fe.image()->find("dry"), nullptr) << "validate_only creates nothing";

        auto grown =
            co_await fe.create_partitions({{"ok", 6}, {"ok", 2}, {"nope", 3}, {"ok", 101}}, false);
        EXPECT_EQ(grown[0].code, controller_errc::none);
        EXPECT_EQ(grown[1], (controller_error{controller_errc::invalid_partitions,
                                              "Topic currently has 6 partitions, which is higher "
                                              "than or equal to the requested 2."}));
        EXPECT_EQ(grown[2], (controller_error{controller_errc::unknown_topic,
                                              "Topic 'nope' does not exist."}));
        EXPECT_EQ(grown[3], (controller_error{controller_errc::invalid_partitions,
                                              "Number of partitions must be at most 100, got "
                                              "101."}));
        EXPECT_EQ(fe.image()->find("ok")->partition_count, 6);

        auto set_retention = [](const topic_config& c) -> result<topic_config, config_error> {
            topic_config next = c;
            if (auto set = next.set("retention.ms", "60000"); !set) return failure{set.error()};
            return next;
        };
        EXPECT_EQ((co_await fe.alter_config("ok", set_retention, false)).code,
                  controller_errc::none);
        EXPECT_EQ(fe.image()->find("ok")->config.overrides().at("retention.ms"), "60000");
        EXPECT_EQ(
            (co_await fe.alter_config("nope", set_retention, false)),
            (controller_error{controller_errc::unknown_topic, "Topic 'nope' does not exist."}));
        const auto log_before = f.proposer.inner.log().size();
        EXPECT_EQ((co_await fe.alter_config("ok", set_retention, false)).code,
                  controller_errc::none);
        EXPECT_EQ(f.proposer.inner.log().size(), log_before) << "no change, no record";

        auto deleted = co_await fe.delete_topics({"ok", "ok", std::string(offsets_topic_name)});
        EXPECT_EQ(deleted[0].error.code, controller_errc::none);
        EXPECT_EQ(deleted[0].id, out[0].id);
        EXPECT_EQ(deleted[1].error, (controller_error{controller_errc::unknown_topic,
                                                      "This server does not host this "
                                                      "topic-partition."}));
        EXPECT_EQ(deleted[2].error,
                  (controller_error{controller_errc::internal_topic,
                                    "Topic __consumer_offsets is a kafka internal topic and is "
                                    "not allowed to be deleted."}));

        auto first = co_await fe.allocate_producer_ids(1000);
        auto second = co_await fe.allocate_producer_ids(10);
        EXPECT_TRUE(first.ok() && first->first == 0 && first->count == 1000);
        EXPECT_TRUE(second.ok() && second->first == 1000 && second->count == 10);
    });
}

TEST(ControllerFrontend, ARaceLostOnApplyGetsTheExactError) {
    auto shards = start_shard();
    shards->run_on(0, []() -> task<void> {
        frontend_fixture f;
        EXPECT_TRUE((co_await f.frontend.bootstrap(broker(1))).ok());
        // Another broker creates "orders" between our validation and our apply.
        f.proposer.rival = create("orders", id_from(77), 1, f.machine.state().brokers);
        auto out = co_await f.frontend.create_topics(
            {{.name = "orders", .partitions = 2, .replication_factor = 1, .configs = {}}}, false);
        EXPECT_EQ(out[0].error, (controller_error{controller_errc::topic_already_exists,
                                                  "Topic 'orders' already exists."}));
        EXPECT_EQ(f.frontend.image()->find("orders")->id, id_from(77));

        // A rival producer-id block: ours is retried after it.
        f.proposer.rival = allocate_producer_ids_record{.node_id = 9, .first = 0, .count = 500};
        auto block = co_await f.frontend.allocate_producer_ids(100);
        EXPECT_TRUE(block.ok() && block->first == 500 && block->count == 100);

        // A proposal that is not committed.
        f.proposer.inner.fail_next("no leader");
        auto lost = co_await f.frontend.delete_topics({"orders"});
        EXPECT_EQ(lost[0].error.code, controller_errc::not_controller);
        EXPECT_NE(lost[0].error.message.find("no leader"), std::string::npos);
        EXPECT_NE(f.frontend.image()->find("orders"), nullptr);

        // Exhaustion, as the controller reports it.
        f.proposer.rival = allocate_producer_ids_record{
            .node_id = 9, .first = std::numeric_limits<int64_t>::max() - 10, .count = 5};
        auto exhausted = co_await f.frontend.allocate_producer_ids(100);
        EXPECT_FALSE(exhausted.ok());
        if (!exhausted.ok()) {
            EXPECT_EQ(exhausted.error().code, controller_errc::producer_ids_exhausted);
        }
    });
}

TEST(ControllerFrontend, ARestartedFrontendNumbersAfterItsLoggedRequests) {
    auto shards = start_shard();
    shards->run_on(0, []() -> task<void> {
        frontend_fixture f;
        EXPECT_TRUE((co_await f.frontend.bootstrap(broker(1))).ok());
        const uint64_t before = f.machine.last_sequence(1);
        EXPECT_GT(before, 0u);
        // A second frontend over the same machine (as after a restart).
        controller_frontend again(frontend_settings{.node_id = 1}, f.machine, f.proposer,
                                  f.publisher, 7);
        auto out = co_await again.create_topics(
            {{.name = "x", .partitions = 1, .replication_factor = 1, .configs = {}}}, false);
        EXPECT_EQ(out[0].error.code, controller_errc::none);
        EXPECT_EQ(f.machine.last_sequence(1), before + 1);
    });
}

}  // namespace
}  // namespace tl::cluster
