// One feed's ingest on one shard: the RX queues this shard polls, decoded,
// sequenced, batched per partition and appended to each partition's owner.
//
//   loop (a reactor::poller, polled every iteration of the shard's loop):
//     for each RX queue (line A, line B): burst -> parse Ethernet/IPv4/UDP ->
//       filter -> decode (raw | moldudp64 -> sequencer) -> partition -> the
//       partition's open record batch
//     release held messages whose wait expired; seal open batches whose
//       partition has nothing in flight; each sealed batch becomes one append
//       (submit_to the partition's owner)
//
// Everything is sized when the feed starts or when the topic's partition
// count changes: per partition, max_in_flight + 1 batch buffers of
// batch_bytes. The per-packet path allocates nothing, takes no lock and makes
// no syscall. When every buffer of a partition is in flight and the open one
// is full, records are dropped and counted per queue (the log cannot keep
// up); never hidden.
//
// Created, polled, stopped and destroyed on its shard. The ports and the
// clock belong to the process (feed_runtime) and outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/task.h"
#include "cluster/partition_manager.h"
#include "feed/batch_encoder.h"
#include "feed/feed_config.h"
#include "feed/sequencer.h"
#include "metrics/registry.h"
#include "reactor/condition.h"
#include "reactor/shard.h"

namespace tl::dpdk {
class port;
class tsc_clock;
struct rx_burst;
}  // namespace tl::dpdk

namespace tl::feed {

// One RX queue a shard polls for a feed.
struct queue_binding {
    dpdk::port* port = nullptr;
    uint16_t queue = 0;
    unsigned line = 0;  // 0 = line A (the first port), 1 = line B
};

struct ingest_environment {
    unsigned shard_id = 0;
    std::span<cluster::partition_manager* const> managers;  // every shard's
    metrics::registry* registry = nullptr;                  // this shard's
    const dpdk::tsc_clock* clock = nullptr;
};

class feed_ingest final : public reactor::poller {
public:
    feed_ingest(const feed_config& config, const dpdk_settings& settings,
                std::vector<queue_binding> queues, ingest_environment environment);
    ~feed_ingest();
    feed_ingest(const feed_ingest&) = delete;
    feed_ingest& operator=(const feed_ingest&) = delete;

    bool poll() noexcept override;
    duration_ns max_idle_sleep() const noexcept override;

    // After the poller is removed: seals what is open and waits for every
    // append in flight.
    task<void> drain();
    // Copies the sequencer's and the ports' counters into the metrics; about
    // once a second, from the shard.
    void publish_metrics() noexcept;

private:
    struct partition_state;
    struct queue_state;
    class probe;

    void refresh_topic() noexcept;
    void handle_frame(queue_state& q, std::span<const std::byte> frame, int64_t receive_ns) noexcept;
    void write_record(unsigned line, int64_t receive_ns, std::optional<int64_t> sequence,
                      const std::array<char, 10>* session, std::span<const std::byte> message,
                      std::optional<uint16_t> queue) noexcept;
    int32_t partition_for(std::span<const std::byte> message, const std::array<char, 10>* session,
                          std::optional<uint16_t> queue,
                          std::optional<std::span<const std::byte>>& key) noexcept;
    bool seal(int32_t partition) noexcept;
    bool seal_idle_partitions() noexcept;
    task<void> append(int32_t partition, batch_encoder* batch);
    // The sequencer's output: each message it releases becomes a record.
    struct sequenced_writer {
        feed_ingest* ingest;
        void operator()(uint32_t, const mold_session& session, uint64_t sequence,
                        std::span<const std::byte> message, unsigned line,
                        int64_t receive_ns) const noexcept {
            ingest->write_record(line, receive_ns, static_cast<int64_t>(sequence), &session,
                                 message, std::nullopt);
        }
    };

    const feed_config _config;
    const unsigned _burst_size;
    const duration_ns _idle_sleep;
    ingest_environment _environment;
    std::vector<std::unique_ptr<queue_state>> _queues;
    // Per line, the first of its queues on this shard: where records the
    // sequencer releases count their drops (looked up per record).
    std::array<queue_state*, 2> _first_queue_of_line{};
    std::unique_ptr<dpdk::rx_burst> _burst;
    std::optional<sequencer> _sequencer;
    sequencer_stats _published{};

    // The topic as this shard's metadata image shows it.
    const cluster::metadata_image* _image = nullptr;
    int32_t _partition_count = 0;
    std::vector<uint16_t> _owners;
    std::vector<std::unique_ptr<partition_state>> _partitions;
    // Partitions whose open batch holds records, each listed once.
    std::vector<int32_t> _open;

    // When the burst being handled arrived, on the TSC clock (sequencer time).
    steady_time _burst_time{};
    reactor::gate _appends;
    std::unique_ptr<probe> _probe;
};

}  // namespace tl::feed
