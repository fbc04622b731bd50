// The controller's frontend: where a broker's topic changes enter the
// metadata log (DESIGN.md §6). Each request is validated against the
// current state exactly as the local controller does it
// (metadata_validation.h), turned into one record per topic (with the
// random topic id and the placement chosen here), proposed, and answered
// with the outcome the state machine filed for it once applied — so a race
// lost to another broker gets the same error as a request refused up front.
// A successful change is answered only after every shard of this broker has
// adopted the image that contains it (image_publisher::wait_published), as
// the local controller does: a client that created a topic can produce to it
// at once.
//
// The interface is controller.h's, so the Kafka handlers keep theirs. Raft
// is reached only through metadata_proposer; in_memory_proposer (tests, and
// until the Raft driver is wired) applies each record at once.
//
// Threading: the frontend, its state machine, proposer and publisher all
// live on the controller shard; other shards reach it with submit_to. One
// change at a time per broker (later ones queue), as in the local controller.
// The state machine, proposer and publisher must outlive the frontend.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/task.h"
#include "cluster/controller_types.h"
#include "cluster/metadata_image.h"
#include "cluster/metadata_records.h"
#include "cluster/metadata_state_machine.h"
#include "cluster/partition_manager.h"
#include "raft/types.h"
#include "reactor/condition.h"

namespace tl::cluster {

// The metadata log as the frontend sees it (the Raft driver's propose and
// its state machine's progress).
class metadata_proposer {
public:
    virtual ~metadata_proposer() = default;
    // Appends an encoded record; the index it was committed at, or why it
    // was not (no leader, leadership lost, timed out: the frontend answers
    // not_controller).
    virtual task<result<raft::index_t, std::string>> propose(std::vector<std::byte> record) = 0;
    // Completes once the state machine has applied `index`.
    virtual task<void> wait_applied(raft::index_t index) = 0;
};

// Hands the state machine's images to this broker's shards.
class image_publisher {
public:
    virtual ~image_publisher() = default;
    // From the state machine's publish callback: never blocks.
    virtual void publish(std::shared_ptr<const metadata_image> image) = 0;
    // Completes once every shard has adopted an image of at least `version`.
    virtual task<void> wait_published(int64_t version) = 0;
};

// Applies each image on every shard's partition_manager, in order, one
// round at a time; images published during a round are coalesced (the
// newest wins). Stop with stop() before destroying it.
class shard_image_publisher final : public image_publisher {
public:
    explicit shard_image_publisher(std::span<partition_manager* const> managers)
        : _managers(managers) {}
    void publish(std::shared_ptr<const metadata_image> image) override;
    task<void> wait_published(int64_t version) override;
    task<void> stop() { return _background.wait(); }

private:
    task<void> push();

    std::span<partition_manager* const> _managers;
    std::shared_ptr<const metadata_image> _latest;
    int64_t _published = -1;
    bool _pushing = false;
    reactor::condition _advanced;
    reactor::gate _background;
};

// A metadata log of one voter that commits at once: each record is applied
// to `machine` inside propose(). Keeps the log, so tests can replay it.
class in_memory_proposer final : public metadata_proposer {
public:
    explicit in_memory_proposer(metadata_state_machine& machine) : _machine(machine) {}
    task<result<raft::index_t, std::string>> propose(std::vector<std::byte> record) override;
    task<void> wait_applied(raft::index_t index) override;

    [[nodiscard]] const std::vector<raft::entry>& log() const noexcept { return _log; }
    // Tests: the next proposal fails with `error` (as a lost leadership would).
    void fail_next(std::string error) { _fail_next = std::move(error); }

private:
    metadata_state_machine& _machine;
    std::vector<raft::entry> _log;
    std::string _fail_next;
};

struct frontend_settings {
    int32_t node_id = 0;
    int32_t max_partitions_per_topic = 100'000;
    int32_t offsets_topic_partitions = 50;           // offsets.topic.num.partitions
    uint64_t offsets_topic_segment_bytes = 8 << 20;  // offsets.topic.segment.bytes
    // Producer-id blocks refused because another broker's block won the race
    // are retried this many times in all.
    int32_t producer_id_attempts = 8;
};

class controller_frontend {
public:
    // `random_seed` picks topic and cluster ids (std::random_device at the
    // call site; fixed in tests).
    controller_frontend(frontend_settings settings, const metadata_state_machine& machine,
                        metadata_proposer& proposer, image_publisher& publisher,
                        uint64_t random_seed);

    // Run once at start-up, after the log was replayed: gives a new cluster
    // its id, registers this broker (`self`, with a new incarnation) and
    // creates __consumer_offsets if it is missing.
    task<result<void, std::string>> bootstrap(broker_record self);

    [[nodiscard]] std::shared_ptr<const metadata_image> image() const { return _machine.image(); }

    // As controller.h.
    task<std::vector<topic_change_outcome>> create_topics(std::vector<new_topic> topics,
                                                          bool validate_only);
    task<std::vector<topic_change_outcome>> delete_topics(std::vector<std::string> names);
    task<std::vector<controller_error>> create_partitions(std::vector<partition_increase> changes,
                                                          bool validate_only);
    task<controller_error> alter_config(std::string name, config_edit edit, bool validate_only);
    task<result<producer_id_block, controller_error>> allocate_producer_ids(int32_t count);

    [[nodiscard]] const frontend_settings& settings() const noexcept { return _settings; }

private:
    class exclusive;
    // Proposes one record and waits for its outcome (and, on success, for
    // every shard to adopt its image).
    task<request_outcome> submit(metadata_record_body body);
    task<topic_change_outcome> create_one(const new_topic& t);
    topic_id fresh_topic_id();

    const frontend_settings _settings;
    const metadata_state_machine& _machine;
    metadata_proposer& _proposer;
    image_publisher& _publisher;
    std::mt19937_64 _random;
    uint64_t _sequence = 0;
    bool _busy = false;
    reactor::condition _free;
};

}  // namespace tl::cluster
