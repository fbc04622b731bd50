#include "feed/ingest.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/murmur2.h"
#include "dpdk/port.h"
#include "dpdk/tsc_clock.h"
#include "feed/moldudp64.h"
#include "feed/packet.h"
#include "reactor/submit_to.h"

namespace tl::feed {
namespace {

using metrics::descriptor;
using metrics::metric_type;

constexpr descriptor packets_family{"tidelog_feed_packets_total",
                                    "Frames received from the feed's RX queues.",
                                    metric_type::counter};
constexpr descriptor bytes_family{"tidelog_feed_bytes_total",
                                  "Bytes of the frames received from the feed's RX queues.",
                                  metric_type::counter};
constexpr descriptor filtered_family{
    "tidelog_feed_filtered_packets_total",
    "Frames that were not the feed's UDP traffic (other protocols, other destinations).",
    metric_type::counter};
constexpr descriptor malformed_family{
    "tidelog_feed_malformed_packets_total",
    "UDP datagrams of the feed that its decoder refused (truncated, bad lengths).",
    metric_type::counter};
constexpr descriptor dropped_family{
    "tidelog_feed_dropped_records_total",
    "Records dropped because the log could not keep up (every batch buffer of the "
    "partition in flight) or the topic was not there.",
    metric_type::counter};
constexpr descriptor short_key_family{
    "tidelog_feed_short_key_records_total",
    "Records too short to hold the partitioning key: written to partition 0 without a key.",
    metric_type::counter};
constexpr descriptor written_family{"tidelog_feed_records_written_total",
                                    "Records the feed appended to its topic.",
                                    metric_type::counter};
constexpr descriptor batches_family{"tidelog_feed_batches_written_total",
                                    "Record batches the feed appended to its topic.",
                                    metric_type::counter};
constexpr descriptor append_errors_family{
    "tidelog_feed_append_errors_total",
    "Record batches the log refused (their records are lost to the topic).",
    metric_type::counter};
constexpr descriptor gap_messages_family{
    "tidelog_feed_gap_messages_total",
    "MoldUDP64 messages never received (with A/B arbitration: lost on both lines).",
    metric_type::counter};
constexpr descriptor gap_events_family{"tidelog_feed_gaps_total",
                                       "MoldUDP64 sequence gaps (each a run of lost messages).",
                                       metric_type::counter};
constexpr descriptor duplicate_family{
    "tidelog_feed_duplicate_messages_total",
    "MoldUDP64 messages received again on the same line after delivery.",
    metric_type::counter};
constexpr descriptor out_of_order_family{
    "tidelog_feed_out_of_order_packets_total",
    "MoldUDP64 packets that arrived after a later sequence had been delivered.",
    metric_type::counter};
constexpr descriptor heartbeat_family{"tidelog_feed_heartbeats_total",
                                      "MoldUDP64 heartbeats received.", metric_type::counter};
constexpr descriptor end_of_session_family{"tidelog_feed_end_of_session_total",
                                           "MoldUDP64 end-of-session packets received.",
                                           metric_type::counter};
constexpr descriptor gap_filled_family{
    "tidelog_feed_gap_filled_messages_total",
    "MoldUDP64 messages that arrived after their gap was counted (written out of order): "
    "messages lost = gap_messages - gap_filled_messages.",
    metric_type::counter};
constexpr descriptor hold_timeouts_family{
    "tidelog_feed_hold_timeouts_total",
    "A/B holes released because the other line stayed silent for arbitration.hold_us.",
    metric_type::counter};
constexpr descriptor hold_overflows_family{
    "tidelog_feed_hold_overflows_total",
    "A/B holes released because the hold buffer was full.", metric_type::counter};
constexpr descriptor stale_family{
    "tidelog_feed_stale_messages_total",
    "MoldUDP64 messages dropped as too old to place (beyond the sequence window, or after "
    "end of session).",
    metric_type::counter};
constexpr descriptor line_wins_family{
    "tidelog_feed_arbitration_wins_total",
    "MoldUDP64 messages whose first copy came on this line (A/B arbitration).",
    metric_type::counter};
constexpr descriptor missed_family{
    "tidelog_feed_port_missed_packets_total",
    "Frames the port dropped because its RX ring was full (imissed).", metric_type::counter};
constexpr descriptor no_mbuf_family{
    "tidelog_feed_port_no_mbuf_total",
    "Frames the port dropped for want of a free mbuf (rx_nombuf).", metric_type::counter};

// Records in one batch the feed builds (batch_bytes bounds it first for
// any record of a few bytes or more).
constexpr int32_t max_records_per_batch = 65536;
// RX queues one feed polls on one shard: every queue of both lines.
constexpr size_t max_queues_per_shard = 128;

std::string_view line_name(unsigned line) { return line == 0 ? "a" : "b"; }

}  // namespace

// The feed's series on this shard (feed-wide ones are summed across shards
// at scrape).
class feed_ingest::probe {
public:
    probe(metrics::registry& r, const std::string& feed) {
        const std::string labels = metrics::render_labels({{"feed", feed}});
        _registrations.push_back(r.add(written_family, labels, records_written));
        _registrations.push_back(r.add(batches_family, labels, batches_written));
        _registrations.push_back(r.add(append_errors_family, labels, append_errors));
        _registrations.push_back(r.add(gap_messages_family, labels, gap_messages));
        _registrations.push_back(r.add(gap_events_family, labels, gap_events));
        _registrations.push_back(r.add(duplicate_family, labels, duplicates));
        _registrations.push_back(r.add(out_of_order_family, labels, out_of_order));
        _registrations.push_back(r.add(heartbeat_family, labels, heartbeats));
        _registrations.push_back(r.add(end_of_session_family, labels, end_of_session));
        _registrations.push_back(r.add(gap_filled_family, labels, gap_filled));
        _registrations.push_back(r.add(hold_timeouts_family, labels, hold_timeouts));
        _registrations.push_back(r.add(hold_overflows_family, labels, hold_overflows));
        _registrations.push_back(r.add(stale_family, labels, stale));
    }

    metrics::counter records_written;
    metrics::counter batches_written;
    metrics::counter append_errors;
    metrics::counter gap_messages;
    metrics::counter gap_events;
    metrics::counter duplicates;
    metrics::counter out_of_order;
    metrics::counter heartbeats;
    metrics::counter end_of_session;
    metrics::counter gap_filled;
    metrics::counter hold_timeouts;
    metrics::counter hold_overflows;
    metrics::counter stale;

private:
    std::vector<metrics::registration> _registrations;
};

struct feed_ingest::queue_state {
    queue_state(queue_binding b, metrics::registry& r, const std::string& feed) : binding(b) {
        const std::string labels = metrics::render_labels(
            {{"feed", feed},
             {"line", line_name(b.line)},
             {"queue", std::to_string(b.queue)}});
        registrations.push_back(r.add(packets_family, labels, packets));
        registrations.push_back(r.add(bytes_family, labels, bytes));
        registrations.push_back(r.add(filtered_family, labels, filtered));
        registrations.push_back(r.add(malformed_family, labels, malformed));
        registrations.push_back(r.add(dropped_family, labels, dropped));
        registrations.push_back(r.add(short_key_family, labels, short_keys));
        const std::string line_labels =
            metrics::render_labels({{"feed", feed}, {"line", line_name(b.line)}});
        registrations.push_back(r.add(line_wins_family, line_labels, line_wins));
        if (b.queue == 0) {
            // Port counters are per port: the shard polling queue 0 owns them.
            registrations.push_back(r.add(missed_family, line_labels, port_missed));
            registrations.push_back(r.add(no_mbuf_family, line_labels, port_no_mbuf));
        }
    }

    queue_binding binding;
    // Raw datagrams: the sequence header is the queue's arrival count.
    int64_t next_sequence = 1;
    metrics::counter packets;
    metrics::counter bytes;
    metrics::counter filtered;
    metrics::counter malformed;
    metrics::counter dropped;
    metrics::counter short_keys;
    metrics::counter line_wins;
    metrics::counter port_missed;
    metrics::counter port_no_mbuf;
    std::vector<metrics::registration> registrations;
};

// A partition's batch buffers: one open (filling), the rest in flight or free.
struct feed_ingest::partition_state {
    std::vector<std::unique_ptr<batch_encoder>> buffers;
    std::vector<batch_encoder*> free;
    batch_encoder* open = nullptr;
    unsigned in_flight = 0;
    bool listed_open = false;  // in _open
};

feed_ingest::feed_ingest(const feed_config& config, const dpdk_settings& settings,
                         std::vector<queue_binding> queues, ingest_environment environment)
    : _config(config),
      _burst_size(settings.burst_size),
      _idle_sleep(std::chrono::microseconds(settings.idle_sleep_us)),
      _environment(environment),
      _burst(std::make_unique<dpdk::rx_burst>()),
      _probe(std::make_unique<probe>(*environment.registry, config.name)) {
    TL_ASSERT(_burst_size > 0 && _burst_size <= dpdk::max_burst, "burst size out of bounds");
    TL_ASSERT(!queues.empty() && queues.size() <= max_queues_per_shard,
              "queues per shard out of bounds");
    for (const queue_binding& b : queues) {
        _queues.push_back(std::make_unique<queue_state>(b, *environment.registry, config.name));
        TL_ASSERT(b.line < _first_queue_of_line.size(), "a feed has at most two lines");
        if (_first_queue_of_line[b.line] == nullptr) _first_queue_of_line[b.line] = _queues.back().get();
    }
    if (config.decoder == decoder_kind::moldudp64) {
        sequencer_options options;
        options.lines = static_cast<unsigned>(config.ports.size());
        if (config.arbitration_hold) options.hold_timeout = *config.arbitration_hold;
        _sequencer.emplace(options);
    }
    refresh_topic();
}

feed_ingest::~feed_ingest() {
    TL_ASSERT(_appends.running() == 0, "feed destroyed with appends in flight");
}

duration_ns feed_ingest::max_idle_sleep() const noexcept { return _idle_sleep; }

void feed_ingest::refresh_topic() noexcept {
    const auto& image = _environment.managers[_environment.shard_id]->image();
    if (image.get() == _image) return;
    _image = image.get();
    const cluster::topic_metadata* topic = image ? image->find(_config.topic) : nullptr;
    if (topic == nullptr) {
        _partition_count = 0;
        return;
    }
    _owners = topic->owners;
    const auto count = static_cast<int32_t>(topic->owners.size());
    // Buffers for partitions new to us; a shrink cannot happen in Kafka.
    for (auto p = static_cast<int32_t>(_partitions.size()); p < count; ++p) {
        auto state = std::make_unique<partition_state>();
        for (unsigned i = 0; i <= _config.max_in_flight; ++i) {
            state->buffers.push_back(
                std::make_unique<batch_encoder>(_config.batch_bytes, max_records_per_batch));
            state->free.push_back(state->buffers.back().get());
        }
        _partitions.push_back(std::move(state));
    }
    _partition_count = count;
}

bool feed_ingest::poll() noexcept {
    refresh_topic();
    bool did_work = false;
    dpdk::rx_burst& burst = *_burst;
    for (auto& q : _queues) {
        const uint16_t received =
            q->binding.port->receive(q->binding.queue, burst, static_cast<uint16_t>(_burst_size));
        if (received == 0) continue;
        did_work = true;
        // One clock read per burst: the frames of a burst arrived together.
        const auto burst_ns = static_cast<int64_t>(_environment.clock->now_ns());
        // The sequencer's clock is the same TSC reading (no second clock read).
        _burst_time = steady_time(duration_ns(burst_ns));
        uint64_t bytes = 0;
        for (uint16_t i = 0; i < received; ++i) {
            bytes += burst.frames[i].size();
            const int64_t hardware = static_cast<int64_t>(burst.hardware_ns[i]);
            handle_frame(*q, burst.frames[i], hardware != 0 ? hardware : burst_ns);
        }
        dpdk::port::release(burst);
        q->packets.add(received);
        q->bytes.add(bytes);
    }
    if (_sequencer) {
        const steady_time now(duration_ns(static_cast<int64_t>(_environment.clock->now_ns())));
        _sequencer->expire(now, sequenced_writer{this});
    }
    did_work |= seal_idle_partitions();
    return did_work;
}

void feed_ingest::handle_frame(queue_state& q, std::span<const std::byte> frame,
                               int64_t receive_ns) noexcept {
    udp_datagram datagram;
    if (parse_udp_frame(frame, datagram) != frame_status::ok ||
        (_config.filter && !_config.filter->matches(datagram))) {
        q.filtered.add();
        return;
    }
    if (_config.decoder == decoder_kind::raw) {
        write_record(q.binding.line, receive_ns, q.next_sequence++, nullptr, datagram.payload,
                     q.binding.queue);
        return;
    }
    mold_packet packet;
    if (parse_moldudp64(datagram.payload, packet) != mold_status::ok) {
        q.malformed.add();
        return;
    }
    _sequencer->on_packet(packet, q.binding.line, _burst_time,
                          sequenced_writer{this}, receive_ns);
}

int32_t feed_ingest::partition_for(std::span<const std::byte> message,
                                   const std::array<char, 10>* session,
                                   std::optional<uint16_t> queue,
                                   std::optional<std::span<const std::byte>>& key) noexcept {
    switch (_config.partitioning) {
        case partition_rule::queue:
            return static_cast<int32_t>(queue.value_or(0)) % _partition_count;
        case partition_rule::session:
            if (session == nullptr) return 0;
            return murmur2_partition(std::as_bytes(std::span(*session)), _partition_count);
        case partition_rule::key:
            key = extract_key(message, _config.key_offset, _config.key_length);
            if (!key) return -1;
            return murmur2_partition(*key, _partition_count);
    }
    TL_UNREACHABLE("partition rule");
}

void feed_ingest::write_record(unsigned line, int64_t receive_ns, std::optional<int64_t> sequence,
                               const std::array<char, 10>* session,
                               std::span<const std::byte> message,
                               std::optional<uint16_t> queue) noexcept {
    TL_ASSERT(line < _first_queue_of_line.size() && _first_queue_of_line[line] != nullptr);
    queue_state& q = *_first_queue_of_line[line];
    if (_partition_count == 0) {
        q.dropped.add();
        return;
    }
    std::optional<std::span<const std::byte>> key;
    int32_t partition = partition_for(message, session, queue, key);
    if (partition < 0) {
        q.short_keys.add();
        partition = 0;
    }
    partition_state& p = *_partitions[static_cast<size_t>(partition)];
    feed_headers headers;
    headers.sequence = sequence;
    if (session != nullptr) headers.session = std::span<const char>(*session);
    headers.receive_ns = receive_ns;
    const int64_t timestamp_ms = receive_ns / 1'000'000;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (p.open == nullptr) {
            if (p.free.empty()) break;  // every buffer in flight: the log is behind
            p.open = p.free.back();
            p.free.pop_back();
        }
        if (p.open->add(timestamp_ms, key, message, headers)) {
            if (!p.listed_open) {
                p.listed_open = true;
                _open.push_back(partition);
            }
            return;
        }
        // Full: send it on and start another (a record that does not fit an
        // empty batch cannot be written: the config bounds prevent that).
        if (p.open->record_count() == 0) break;
        seal(partition);
    }
    q.dropped.add();
}

bool feed_ingest::seal(int32_t partition) noexcept {
    partition_state& p = *_partitions[static_cast<size_t>(partition)];
    if (p.open == nullptr || p.open->record_count() == 0) return false;
    batch_encoder* batch = std::exchange(p.open, nullptr);
    ++p.in_flight;
    _appends.spawn(append(partition, batch));
    return true;
}

bool feed_ingest::seal_idle_partitions() noexcept {
    // A partition with a batch in flight keeps filling its open one: under
    // load batches grow (group commit), when idle each burst goes at once.
    bool sealed = false;
    size_t kept = 0;
    for (const int32_t partition : _open) {
        partition_state& p = *_partitions[static_cast<size_t>(partition)];
        if (p.open == nullptr || p.open->record_count() == 0) {
            p.listed_open = false;
        } else if (p.in_flight == 0) {
            sealed |= seal(partition);
            p.listed_open = false;
        } else {
            _open[kept++] = partition;
        }
    }
    _open.resize(kept);
    return sealed;
}

task<void> feed_ingest::append(int32_t partition, batch_encoder* batch) {
    const std::span<const std::byte> bytes = batch->finish();
    const int32_t records = batch->record_count();
    const unsigned owner = _owners[static_cast<size_t>(partition)];
    cluster::partition_manager* manager = _environment.managers[owner];
    const std::string& topic = _config.topic;
    auto appended = co_await reactor::submit_to(
        owner, [&]() { return manager->append(topic, partition, bytes, true); });
    if (appended) {
        _probe->records_written.add(static_cast<uint64_t>(records));
        _probe->batches_written.add();
    } else {
        // Rare and loud: a storage error (disk full, log offline) or a topic
        // deleted under the feed.
        _probe->append_errors.add();
        spdlog::warn("feed {}: {} records not appended to {}-{}", _config.name, records, topic,
                     partition);
    }
    partition_state& p = *_partitions[static_cast<size_t>(partition)];
    batch->reset();
    p.free.push_back(batch);
    --p.in_flight;
}

task<void> feed_ingest::drain() {
    for (auto partition = 0; partition < static_cast<int32_t>(_partitions.size()); ++partition) {
        seal(partition);
    }
    _open.clear();
    for (auto& p : _partitions) p->listed_open = false;
    co_await _appends.wait();
}

void feed_ingest::publish_metrics() noexcept {
    auto advance = [](metrics::counter& c, uint64_t total) {
        if (total > c.value()) c.add(total - c.value());
    };
    if (_sequencer) {
        const sequencer_stats& s = _sequencer->stats();
        advance(_probe->gap_messages, s.gap_messages);
        advance(_probe->gap_events, s.gap_events);
        advance(_probe->duplicates, s.duplicate_messages);
        advance(_probe->out_of_order, s.out_of_order_packets);
        advance(_probe->heartbeats, s.heartbeats);
        advance(_probe->end_of_session, s.end_of_session);
        advance(_probe->gap_filled, s.gap_filled_messages);
        advance(_probe->hold_timeouts, s.hold_timeouts);
        advance(_probe->hold_overflows, s.hold_overflows);
        advance(_probe->stale, s.stale_messages + s.after_end_of_session);
        for (auto& q : _queues) {
            if (q->binding.queue == 0) advance(q->line_wins, s.lines[q->binding.line].arbitration_wins);
        }
    }
    for (auto& q : _queues) {
        if (q->binding.queue != 0) continue;
        const dpdk::port_stats stats = q->binding.port->stats();
        advance(q->port_missed, stats.missed);
        advance(q->port_no_mbuf, stats.no_mbuf);
    }
}

}  // namespace tl::feed
