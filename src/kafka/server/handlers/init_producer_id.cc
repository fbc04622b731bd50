// InitProducerId: a producer id and epoch for an idempotent producer, v0-5.
// Ids come from this shard's cluster::producer_id_allocator (blocks of 1000
// the controller persisted before issuing them), so no id is ever issued
// twice, across shards and restarts.
//
// Kafka's rules (KafkaApis.handleInitProducerIdRequest, then
// TransactionCoordinator.handleInitProducerId):
//   - v3+ producer_id/producer_epoch: both -1 (a new producer) or both set;
//     exactly one -1 is INVALID_REQUEST. So is a negative id or epoch
//     otherwise (Kafka would pass it on; nothing can be bumped from it).
//   - transactional_id null, no producer id: a fresh id, epoch 0.
//   - transactional_id null with producer_id and epoch (KIP-360): the same id
//     with epoch + 1, or a fresh id with epoch 0 once epoch + 1 would reach
//     32767 (Short.MAX_VALUE), as Kafka's coordinator does for transactional
//     ids. Kafka 3.8 itself ignores the pair when transactional_id is null
//     and always answers a fresh id (its clients bump an idempotent
//     producer's epoch locally and never send it); Tidelog bumps, as issue
//     #6 specifies, so that a producer keeps its id across the bump.
//   - transactional_id "": INVALID_REQUEST, as in Kafka.
//   - any other transactional_id: INVALID_REQUEST. Tidelog has no
//     transaction coordinator (FindCoordinator key_type 1 answers
//     COORDINATOR_NOT_AVAILABLE "Transactions are not supported."), and the
//     code is chosen so that a transactional client stops instead of
//     retrying: kafkajs retries InitProducerId only on NOT_COORDINATOR,
//     COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS and
//     CONCURRENT_TRANSACTIONS and fails at once on anything else ("sent to an
//     incompatible broker"); the Java client fails fatally on an unexpected
//     code; librdkafka (2.0) retries every non-fatal code every 500 ms until
//     init_transactions() times out, then reports it. COORDINATOR_NOT_AVAILABLE
//     would be retried by all three; TRANSACTIONAL_ID_AUTHORIZATION_FAILED is
//     fatal in all three but sends the operator looking for ACLs that do not
//     exist. Real clients ask FindCoordinator first and never get here.
//   - the allocator failed (the controller could not persist a block):
//     COORDINATOR_LOAD_IN_PROGRESS, what Kafka 3.8's RPCProducerIdManager
//     answers while it has no block ("Producer ID block is full. Waiting for
//     next block"), retriable in every client; ids exhausted (2^63 issued):
//     UNKNOWN_SERVER_ERROR.
//   - on any error producer_id is -1 and producer_epoch -1.
// The response has no error message field.
#include <limits>

#include "kafka/messages/init_producer_id.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

constexpr int64_t no_producer_id = -1;
constexpr int16_t no_producer_epoch = -1;
// Kafka's Short.MAX_VALUE: an epoch never reaches it (it marks exhaustion).
constexpr int16_t epoch_limit = std::numeric_limits<int16_t>::max();

init_producer_id_response error_response(error_code error) {
    init_producer_id_response body;
    body.error_code = code(error);
    body.producer_id = no_producer_id;
    body.producer_epoch = no_producer_epoch;
    return body;
}

error_code allocation_error(cluster::controller_errc error) noexcept {
    return error == cluster::controller_errc::producer_ids_exhausted
               ? error_code::unknown_server_error
               : error_code::coordinator_load_in_progress;
}

}  // namespace

task<response> handle_init_producer_id(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<init_producer_id_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const init_producer_id_request& req = *decoded;
    // Below v3 the fields are not on the wire and decode as -1.
    const bool has_id = req.producer_id != no_producer_id;
    const bool has_epoch = req.producer_epoch != no_producer_epoch;
    if (has_id != has_epoch || (has_id && (req.producer_id < 0 || req.producer_epoch < 0))) {
        co_return make_response(request, error_response(error_code::invalid_request));
    }
    if (req.transactional_id.has_value()) {
        // "" as Kafka; any other id because there are no transactions (above).
        co_return make_response(request, error_response(error_code::invalid_request));
    }
    init_producer_id_response body;
    if (has_id && req.producer_epoch + 1 < epoch_limit) {
        body.producer_id = req.producer_id;
        body.producer_epoch = static_cast<int16_t>(req.producer_epoch + 1);
        co_return make_response(request, body);
    }
    auto id = co_await context.producer_ids().next();
    if (!id) {
        spdlog::warn("kafka: InitProducerId: {}", id.error().message);
        co_return make_response(request, error_response(allocation_error(id.error().code)));
    }
    body.producer_id = *id;
    body.producer_epoch = 0;
    co_return make_response(request, body);
}

}  // namespace tl::kafka
