// See partition_probe.h. The metric names are those docs/architecture.md
// lists and the dashboards query.
#include "cluster/partition_probe.h"

#include <algorithm>
#include <cstring>

#include "storage/record_batch.h"

namespace tl::cluster {
namespace {

using metrics::descriptor;
using metrics::metric_type;

constexpr descriptor produced_bytes_family{"tidelog_topic_produced_bytes_total",
                                           "Record batch bytes appended by producers, by topic.",
                                           metric_type::counter};
constexpr descriptor produced_records_family{"tidelog_topic_produced_records_total",
                                             "Records appended by producers, by topic.",
                                             metric_type::counter};
constexpr descriptor fetched_bytes_family{"tidelog_topic_fetched_bytes_total",
                                          "Record batch bytes returned to fetches, by topic.",
                                          metric_type::counter};
constexpr descriptor fetched_records_family{"tidelog_topic_fetched_records_total",
                                            "Records in batches returned to fetches, by topic.",
                                            metric_type::counter};
constexpr descriptor log_start_family{"tidelog_partition_log_start_offset",
                                      "First offset of the partition's log.", metric_type::gauge};
constexpr descriptor high_watermark_family{"tidelog_partition_high_watermark",
                                           "End of the partition's durable, readable records.",
                                           metric_type::gauge};
constexpr descriptor log_end_family{"tidelog_partition_log_end_offset",
                                    "Next offset the partition will assign.", metric_type::gauge};
constexpr descriptor size_family{"tidelog_partition_size_bytes",
                                 "Bytes of the partition's segments.", metric_type::gauge};

constexpr descriptor flush_latency_family{
    "tidelog_storage_flush_latency_seconds",
    "Write and fdatasync of one flush group (all appends waiting on one log), by shard.",
    metric_type::histogram};
constexpr descriptor fdatasyncs_family{"tidelog_storage_fdatasyncs_total",
                                       "fdatasyncs of segment files, by shard.",
                                       metric_type::counter};
constexpr descriptor segments_deleted_family{"tidelog_storage_segments_deleted_total",
                                             "Segments deleted by retention, by shard.",
                                             metric_type::counter};
constexpr descriptor retention_bytes_family{"tidelog_storage_retention_bytes_deleted_total",
                                            "Bytes of segments deleted by retention, by shard.",
                                            metric_type::counter};
constexpr descriptor duplicates_family{
    "tidelog_storage_producer_duplicates_total",
    "Retried idempotent batches answered with their original offsets, by shard.",
    metric_type::counter};

int32_t read_be32(const std::byte* p) noexcept {
    uint32_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return static_cast<int32_t>(__builtin_bswap32(v));
}

}  // namespace

partition_probe::partition_probe(metrics::registry& registry, const std::string& topic,
                                 int32_t partition, bool per_partition) {
    const std::string by_topic = metrics::render_labels({{"topic", topic}});
    _registrations.push_back(registry.add(produced_bytes_family, by_topic, _produced_bytes));
    _registrations.push_back(registry.add(produced_records_family, by_topic, _produced_records));
    _registrations.push_back(registry.add(fetched_bytes_family, by_topic, _fetched_bytes));
    _registrations.push_back(registry.add(fetched_records_family, by_topic, _fetched_records));
    if (!per_partition) return;
    const std::string labels =
        metrics::render_labels({{"topic", topic}, {"partition", std::to_string(partition)}});
    _registrations.push_back(registry.add(log_start_family, labels, _log_start_offset));
    _registrations.push_back(registry.add(high_watermark_family, labels, _high_watermark));
    _registrations.push_back(registry.add(log_end_family, labels, _log_end_offset));
    _registrations.push_back(registry.add(size_family, labels, _size_bytes));
}

void partition_probe::publish(const storage::partition_log& log) noexcept {
    _log_start_offset.set(log.log_start_offset());
    _high_watermark.set(log.high_watermark());
    _log_end_offset.set(log.log_end_offset());
    _size_bytes.set(log.size_bytes());
}

std::vector<metrics::registration> register_storage_probe(metrics::registry& registry,
                                                          unsigned shard_id,
                                                          const storage::storage_probe& probe) {
    const std::string shard = metrics::render_labels({{"shard", std::to_string(shard_id)}});
    std::vector<metrics::registration> out;
    out.push_back(registry.add(flush_latency_family, shard, probe.flush_latency));
    out.push_back(registry.add(fdatasyncs_family, shard, probe.fdatasyncs));
    out.push_back(registry.add(segments_deleted_family, shard, probe.segments_deleted));
    out.push_back(registry.add(retention_bytes_family, shard, probe.retention_bytes_deleted));
    out.push_back(registry.add(duplicates_family, shard, probe.producer_duplicates));
    return out;
}

batch_totals count_batches(std::span<const std::byte> batches) noexcept {
    namespace field = storage::batch_field;
    // base_offset and batch_length precede what batch_length counts.
    constexpr size_t length_prefix_bytes = field::batch_length + 4;
    batch_totals totals;
    size_t at = 0;
    while (batches.size() - at >= field::records) {
        const int32_t length = read_be32(batches.data() + at + field::batch_length);
        if (length <= 0) break;
        const size_t size = static_cast<size_t>(length) + length_prefix_bytes;
        if (size > batches.size() - at) break;
        totals.records += static_cast<uint64_t>(
            std::max<int32_t>(0, read_be32(batches.data() + at + field::record_count)));
        totals.bytes += size;
        at += size;
    }
    return totals;
}

}  // namespace tl::cluster
