// The controller's state machine: applies the committed records of the
// metadata log (metadata_records.h) to a metadata_snapshot, and publishes a
// new immutable metadata_image after every record that changed the topics
// or brokers (DESIGN.md §6).
//
// Deterministic: the state after applying a log is a pure function of the
// log (and the snapshot it started from), on every broker and every build
// that reads the same record format. Nothing here reads a clock, a random
// generator, a disk or the local node's identity — except to build images
// (`image_options::local_node` says which partitions are local; it never
// changes the state).
//
// Re-validation on apply: a record was validated by its proposer against a
// state that may since have changed (two brokers creating the same topic,
// say). Each state-dependent rule is checked again (metadata_validation.h);
// a record that no longer passes changes nothing, and its outcome — kept
// under its request_id in a bounded table that is part of the state, so
// snapshots carry it — says why, in Kafka's words, for the proposer to
// answer its client. Outcomes per origin node are bounded
// (max_outcomes_per_origin, oldest dropped first): a proposer reads its
// outcome right after the record is applied.
//
// Idempotent per request: a request id seen before (a proposal the driver
// retried, so that it was committed twice) is skipped, keeping the first
// outcome; so is one older than a full window of its origin's outcomes.
//
// Raft plugs in through apply(entry), take_snapshot() and restore(snapshot)
// (the shape of raft::state_machine). A record this build cannot decode
// stops the broker (TL_ASSERT): skipping it would let brokers diverge.
//
// Threading: one instance per broker, on the controller shard; the publish
// callback runs there, synchronously inside apply()/restore(). Images are
// shared with other shards by pointer (see metadata_image.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cluster/controller_types.h"
#include "cluster/metadata_image.h"
#include "cluster/metadata_records.h"
#include "cluster/metadata_store.h"
#include "raft/types.h"

namespace tl::cluster {

// How one request ended. `version` is the metadata version once it was
// applied: the image to wait for before answering.
struct request_outcome {
    controller_error error;
    topic_id topic;                  // create/delete/partitions/config: the topic
    producer_id_block producer_ids;  // allocate_producer_ids: the block issued
    int64_t version = 0;

    friend bool operator==(const request_outcome&, const request_outcome&) = default;
};

// What images are built with (see metadata_image's constructor).
struct image_options {
    topic_defaults defaults;
    storage::log_config storage_base;
    unsigned shard_count = 1;
    int32_t local_node = 0;
};

// State machine snapshots (take_snapshot/restore):
//   magic            4  "TLSM"
//   format_version   2  1
//   metadata         4 + n  a metadata file image (metadata_store.h, format 3,
//                           with its own CRC), every topic placed
//   outcome_count    4
//   per outcome, by request id:
//     origin_node 4, sequence 8, errc 1, message 4 + n (<= max_outcome_message_bytes),
//     topic id 16, first producer id 8, producer id count 4, version 8
inline constexpr uint16_t state_snapshot_format_version = 1;
inline constexpr size_t max_outcome_message_bytes = 64 * 1024;

class metadata_state_machine {
public:
    using publish_fn = std::function<void(std::shared_ptr<const metadata_image>)>;
    static constexpr size_t max_outcomes_per_origin = 1024;

    // Starts from the empty state (no cluster id, version 0) and publishes
    // its image.
    metadata_state_machine(image_options options, publish_fn on_publish);

    // ---- the raft::state_machine shape ----
    // Committed entries, in order, each exactly once: e.index must be
    // last_applied() + 1. Configuration and no-op entries only advance it.
    void apply(const raft::entry& e);
    // The state at last_applied().
    [[nodiscard]] std::vector<std::byte> take_snapshot() const;
    // Replaces the state with the snapshot's (the bytes were CRC-checked by
    // the log store: a decoding failure is a bug and asserts).
    void restore(const raft::snapshot& s);

    // ---- the same, with errors as values (tests, the integrator) ----
    [[nodiscard]] result<void, std::string> apply_record(raft::index_t index,
                                                         std::span<const std::byte> data);
    [[nodiscard]] result<void, std::string> restore_bytes(raft::index_t index,
                                                          std::span<const std::byte> data);

    // A state machine snapshot holding a metadata file's state (formats 1 to
    // 3, from the local controller): what a single-node broker bootstraps its
    // metadata log with when it finds DATA/cluster/metadata and no log.
    // Partitions never placed go to `node_id`; no outcomes.
    [[nodiscard]] static result<std::vector<std::byte>, std::string> snapshot_from_legacy(
        metadata_snapshot legacy, int32_t node_id);

    [[nodiscard]] raft::index_t last_applied() const noexcept { return _last_applied; }
    [[nodiscard]] const metadata_snapshot& state() const noexcept { return _state; }
    // The last image published.
    [[nodiscard]] const std::shared_ptr<const metadata_image>& image() const noexcept {
        return _image;
    }
    // nullptr when `id` was never applied, or its outcome was dropped.
    [[nodiscard]] const request_outcome* outcome_of(const request_id& id) const noexcept;
    // The highest sequence of `origin` applied and still in the table (0:
    // none): a restarted frontend numbers its requests after it.
    [[nodiscard]] uint64_t last_sequence(int32_t origin) const noexcept;
    [[nodiscard]] const std::map<request_id, request_outcome>& outcomes() const noexcept {
        return _outcomes;
    }

private:
    request_outcome apply_body(const metadata_record& r);
    [[nodiscard]] bool already_applied(const request_id& id) const noexcept;
    [[nodiscard]] std::pair<std::map<request_id, request_outcome>::const_iterator,
                            std::map<request_id, request_outcome>::const_iterator>
    outcomes_of(int32_t origin) const noexcept;
    void record_outcome(const request_id& id, request_outcome outcome);
    void publish();

    const image_options _options;
    const publish_fn _publish;
    metadata_snapshot _state;
    raft::index_t _last_applied = 0;
    std::map<request_id, request_outcome> _outcomes;
    std::shared_ptr<const metadata_image> _image;
};

}  // namespace tl::cluster
