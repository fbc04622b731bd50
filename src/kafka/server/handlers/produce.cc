// Produce: validates each partition's batch on the connection's shard (so
// CRC and record checks spread over the shards that receive the traffic),
// then appends it on the partition's owner, all partitions at once, and
// answers when every append has reached the storage durability point of the
// flush mode (acks=1 and acks=all alike on a single node). acks=0 gets no
// response at all; if one of its partitions failed, the connection is closed
// instead, as Kafka does, so the producer learns of it.
#include <vector>

#include "kafka/messages/produce.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/condition.h"
#include "reactor/submit_to.h"
#include "storage/compression.h"
#include "storage/record_batch.h"

namespace tl::kafka {
namespace {

using partition_response = produce_response::partition_produce_response;

task<void> append_one(broker_context& context, unsigned owner, std::string_view topic,
                      int32_t partition, std::span<const std::byte> batch,
                      partition_response& out) {
    cluster::partition_manager* manager = &context.manager(owner);
    auto appended = co_await reactor::submit_to(
        owner, [&]() { return manager->append(topic, partition, batch, true); });
    if (!appended) {
        out.error_code = code(to_error_code(appended.error()));
        out.base_offset = -1;
        co_return;
    }
    out.base_offset = appended->base_offset;
    out.log_append_time_ms = appended->log_append_time_ms;
    out.log_start_offset = appended->log_start_offset;
}

// Kafka's checks of a Produce v3+ partition payload: exactly one magic-2
// batch, whole and consistent, within the topic's max.message.bytes.
error_code check_batch(std::span<const std::byte> records, const cluster::topic_metadata& topic,
                       int16_t version) {
    if (records.empty()) return error_code::invalid_record;
    auto size = storage::peek_batch_size(records, topic.log.max_batch_bytes);
    if (!size) return to_error_code(size.error());
    if (*size != records.size()) {
        // More than one batch (or trailing bytes): Kafka refuses both.
        return error_code::invalid_record;
    }
    auto header = storage::validate_batch(
        records, {.max_batch_size_bytes = topic.log.max_batch_bytes,
                  .offset_deltas = storage::offset_delta_policy::exact,
                  .record_count = storage::record_count_policy::require_records});
    if (!header) return to_error_code(header.error());
    if (header->is_control()) return error_code::invalid_record;  // only coordinators write these
    // No transaction coordinator yet: no batch can belong to a transaction.
    if (header->is_transactional()) return error_code::invalid_txn_state;
    // Kafka's LogValidator: an idempotent batch has a sequence and an epoch.
    if (header->has_producer_id() &&
        (header->base_sequence < 0 || header->producer_epoch < 0)) {
        return error_code::invalid_record;
    }
    if (header->compression() == storage::compression_codec::zstd && version < 7) {
        return error_code::unsupported_compression_type;
    }
    if (header->compression() != storage::compression_codec::none) {
        // Kafka checks the records inside too; both snappy framings decode.
        auto inner = storage::validate_compressed_records(
            records, *header, storage::offset_delta_policy::exact);
        if (!inner) return to_error_code(inner.error());
    }
    return error_code::none;
}

}  // namespace

task<response> handle_produce(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<produce_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const produce_request& req = *decoded;
    const int16_t version = request.api_version();
    const bool acks_valid = req.acks == 0 || req.acks == 1 || req.acks == -1;

    auto image = context.image();
    produce_response body;
    // Sized up front: appends in flight hold references into it.
    body.responses.resize(req.topic_data.size());
    reactor::gate appends;
    bool failed = false;
    for (size_t t = 0; t < req.topic_data.size(); ++t) {
        const auto& topic_in = req.topic_data[t];
        auto& topic_out = body.responses[t];
        topic_out.name = topic_in.name;
        topic_out.partition_responses.resize(topic_in.partition_data.size());
        const cluster::topic_metadata* topic = image->find(topic_in.name);
        for (size_t i = 0; i < topic_in.partition_data.size(); ++i) {
            const auto& in = topic_in.partition_data[i];
            auto& out = topic_out.partition_responses[i];
            out.index = in.index;
            error_code error = error_code::none;
            if (!acks_valid) {
                error = error_code::invalid_required_acks;
            } else if (topic == nullptr || in.index < 0 || in.index >= topic->partition_count) {
                error = error_code::unknown_topic_or_partition;
            } else if (!in.records.has_value()) {
                error = error_code::invalid_record;
            } else {
                error = check_batch(in.records->span(), *topic, version);
            }
            if (error != error_code::none) {
                out.error_code = code(error);
                out.base_offset = -1;
                failed = true;
                continue;
            }
            const unsigned owner = topic->owners[static_cast<size_t>(in.index)];
            appends.spawn(append_one(context, owner, topic->name, in.index, in.records->span(),
                                     out));
        }
    }
    co_await appends.wait();
    if (req.acks == 0) {
        for (const auto& topic_out : body.responses) {
            for (const auto& out : topic_out.partition_responses) {
                failed = failed || out.error_code != 0;
            }
        }
        co_return failed ? response::close_connection() : response::no_response();
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
