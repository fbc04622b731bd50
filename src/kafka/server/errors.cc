#include "base/assert.h"
#include "kafka/server/broker_context.h"

namespace tl::kafka {

error_code to_error_code(const cluster::partition_error& error) noexcept {
    using storage::storage_errc;
    if (error.code == cluster::partition_errc::unknown_partition) {
        // In the metadata but not (yet, or any more) open on its owner: the
        // client refreshes its metadata and retries.
        return error_code::not_leader_or_follower;
    }
    switch (error.storage.code) {
        case storage_errc::corrupt_batch: return error_code::corrupt_message;
        case storage_errc::batch_too_large: return error_code::message_too_large;
        case storage_errc::offset_out_of_range: return error_code::offset_out_of_range;
        case storage_errc::closed: return error_code::not_leader_or_follower;
        case storage_errc::disk_full:
        case storage_errc::io_failure:
        case storage_errc::log_offline: return error_code::kafka_storage_error;
        case storage_errc::out_of_order_sequence: return error_code::out_of_order_sequence_number;
        case storage_errc::duplicate_sequence: return error_code::duplicate_sequence_number;
        case storage_errc::invalid_producer_epoch: return error_code::invalid_producer_epoch;
        case storage_errc::unknown_producer_id: return error_code::unknown_producer_id;
    }
    return error_code::unknown_server_error;
}

error_code to_error_code(storage::batch_errc error) noexcept {
    using storage::batch_errc;
    switch (error) {
        case batch_errc::zero_length:
        case batch_errc::truncated:
        case batch_errc::invalid_length:
        case batch_errc::crc_mismatch:
        case batch_errc::invalid_compressed_data: return error_code::corrupt_message;
        case batch_errc::unsupported_magic:
        case batch_errc::invalid_record_count:
        case batch_errc::invalid_offset_delta:
        case batch_errc::invalid_record: return error_code::invalid_record;
        case batch_errc::unsupported_compression: return error_code::unsupported_compression_type;
        case batch_errc::too_large: return error_code::message_too_large;
    }
    return error_code::corrupt_message;
}

error_code to_error_code(cluster::controller_errc error) noexcept {
    using cluster::controller_errc;
    switch (error) {
        case controller_errc::none: return error_code::none;
        case controller_errc::topic_already_exists: return error_code::topic_already_exists;
        case controller_errc::unknown_topic: return error_code::unknown_topic_or_partition;
        case controller_errc::invalid_topic_name: return error_code::invalid_topic_exception;
        case controller_errc::invalid_partitions: return error_code::invalid_partitions;
        case controller_errc::invalid_replication_factor:
            return error_code::invalid_replication_factor;
        case controller_errc::invalid_config: return error_code::invalid_config;
        case controller_errc::internal_topic: return error_code::invalid_request;
        case controller_errc::storage_failure: return error_code::kafka_storage_error;
        case controller_errc::producer_ids_exhausted: return error_code::unknown_server_error;
        case controller_errc::invalid_replica_assignment:
            return error_code::invalid_replica_assignment;
        case controller_errc::not_controller: return error_code::not_controller;
    }
    return error_code::unknown_server_error;
}

}  // namespace tl::kafka
