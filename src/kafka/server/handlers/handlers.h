// One handler per Kafka API, each in its own file beside this one. A handler
// decodes its request (decode_or_close), does the work — hopping to
// partition owners or the controller with submit_to — and returns the encoded
// response frame (make_response, which also counts the response's error codes
// in the shard's kafka_probe). Strings in a response message view storage
// that the handler keeps alive until make_response returns.
#pragma once

#include <spdlog/spdlog.h>

#include "kafka/protocol/frame.h"
#include "kafka/server/broker_context.h"
#include "kafka/server/connection.h"
#include "kafka/server/probe.h"

namespace tl::kafka {

// Encodes `body` as the response to `request`; a body that cannot be encoded
// in the request's version is a handler bug: logged, and the connection closed.
template <typename M>
[[nodiscard]] response make_response(const request_context& request, const M& body) {
    if (request.probe != nullptr) {
        auto count = [&request](int16_t error) {
            request.probe->error_returned(request.api_key(), error);
        };
        if constexpr (requires { for_each_error_code(body, count); }) {
            for_each_error_code(body, count);
        }
    }
    // Counted first so the frame is written into one allocation: a Fetch
    // response holds megabytes of records that regrowth would copy again.
    writer counter = writer::counting();
    encode_response_frame(counter, request.correlation_id(), request.api_version(), body);
    std::vector<std::byte> buffer;
    buffer.reserve(counter.size());
    writer w(std::move(buffer));
    encode_response_frame(w, request.correlation_id(), request.api_version(), body);
    if (!w.ok()) {
        spdlog::error("kafka: cannot encode {} v{}: {}", M::message_name, request.api_version(),
                      to_string(w.error()));
        return response::close_connection();
    }
    return response::of(std::move(w).take());
}

using handler_fn = task<response> (*)(broker_context&, request_context&);

task<response> handle_api_versions(broker_context&, request_context&);
task<response> handle_metadata(broker_context&, request_context&);
task<response> handle_produce(broker_context&, request_context&);
task<response> handle_fetch(broker_context&, request_context&);
task<response> handle_list_offsets(broker_context&, request_context&);
task<response> handle_create_topics(broker_context&, request_context&);
task<response> handle_delete_topics(broker_context&, request_context&);
task<response> handle_create_partitions(broker_context&, request_context&);
task<response> handle_delete_records(broker_context&, request_context&);
task<response> handle_describe_configs(broker_context&, request_context&);
task<response> handle_alter_configs(broker_context&, request_context&);
task<response> handle_incremental_alter_configs(broker_context&, request_context&);
task<response> handle_describe_cluster(broker_context&, request_context&);
task<response> handle_offset_for_leader_epoch(broker_context&, request_context&);
task<response> handle_find_coordinator(broker_context&, request_context&);
task<response> handle_join_group(broker_context&, request_context&);
task<response> handle_sync_group(broker_context&, request_context&);
task<response> handle_heartbeat(broker_context&, request_context&);
task<response> handle_leave_group(broker_context&, request_context&);
task<response> handle_offset_commit(broker_context&, request_context&);
task<response> handle_offset_fetch(broker_context&, request_context&);
task<response> handle_describe_groups(broker_context&, request_context&);
task<response> handle_list_groups(broker_context&, request_context&);
task<response> handle_delete_groups(broker_context&, request_context&);
task<response> handle_offset_delete(broker_context&, request_context&);
task<response> handle_init_producer_id(broker_context&, request_context&);

// Auto-creates `names` (Metadata with allow_auto_topic_creation) with the
// broker's num.partitions; topics that exist meanwhile are fine.
task<void> auto_create_topics(broker_context& context, std::vector<std::string> names);

}  // namespace tl::kafka
