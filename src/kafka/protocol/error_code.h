// Kafka's error codes (the ones the broker answers with), by their wire value.
// Names follow Kafka's Errors.java in snake_case.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tl::kafka {

enum class error_code : int16_t {
    unknown_server_error = -1,
    none = 0,
    offset_out_of_range = 1,
    corrupt_message = 2,
    unknown_topic_or_partition = 3,
    invalid_fetch_size = 4,
    leader_not_available = 5,
    not_leader_or_follower = 6,
    request_timed_out = 7,
    message_too_large = 10,
    offset_metadata_too_large = 12,
    coordinator_load_in_progress = 14,
    coordinator_not_available = 15,
    not_coordinator = 16,
    invalid_topic_exception = 17,
    record_list_too_large = 18,
    invalid_required_acks = 21,
    illegal_generation = 22,
    inconsistent_group_protocol = 23,
    invalid_group_id = 24,
    unknown_member_id = 25,
    invalid_session_timeout = 26,
    rebalance_in_progress = 27,
    invalid_commit_offset_size = 28,
    topic_authorization_failed = 29,
    group_authorization_failed = 30,
    unsupported_version = 35,
    topic_already_exists = 36,
    invalid_partitions = 37,
    invalid_replication_factor = 38,
    invalid_replica_assignment = 39,
    invalid_config = 40,
    not_controller = 41,
    invalid_request = 42,
    policy_violation = 44,
    out_of_order_sequence_number = 45,
    duplicate_sequence_number = 46,
    invalid_producer_epoch = 47,
    invalid_txn_state = 48,
    invalid_producer_id_mapping = 49,
    kafka_storage_error = 56,
    unknown_producer_id = 59,
    non_empty_group = 68,
    group_id_not_found = 69,
    fetch_session_id_not_found = 70,
    fenced_leader_epoch = 74,
    unknown_leader_epoch = 75,
    unsupported_compression_type = 76,
    member_id_required = 79,
    group_max_size_reached = 81,
    fenced_instance_id = 82,
    group_subscribed_to_topic = 86,
    invalid_record = 87,
    producer_fenced = 90,
    unknown_topic_id = 100,
    inconsistent_topic_id = 103,
    mismatched_endpoint_type = 114,
    unsupported_endpoint_type = 115,
};

[[nodiscard]] constexpr int16_t code(error_code e) noexcept { return static_cast<int16_t>(e); }

struct error_code_name {
    error_code value;
    std::string_view name;
};

// Every error code above with its name (metrics label them by name).
inline constexpr std::array<error_code_name, 58> error_code_names{{
    {error_code::unknown_server_error, "unknown_server_error"},
    {error_code::none, "none"},
    {error_code::offset_out_of_range, "offset_out_of_range"},
    {error_code::corrupt_message, "corrupt_message"},
    {error_code::unknown_topic_or_partition, "unknown_topic_or_partition"},
    {error_code::invalid_fetch_size, "invalid_fetch_size"},
    {error_code::leader_not_available, "leader_not_available"},
    {error_code::not_leader_or_follower, "not_leader_or_follower"},
    {error_code::request_timed_out, "request_timed_out"},
    {error_code::message_too_large, "message_too_large"},
    {error_code::offset_metadata_too_large, "offset_metadata_too_large"},
    {error_code::coordinator_load_in_progress, "coordinator_load_in_progress"},
    {error_code::coordinator_not_available, "coordinator_not_available"},
    {error_code::not_coordinator, "not_coordinator"},
    {error_code::invalid_topic_exception, "invalid_topic_exception"},
    {error_code::record_list_too_large, "record_list_too_large"},
    {error_code::invalid_required_acks, "invalid_required_acks"},
    {error_code::illegal_generation, "illegal_generation"},
    {error_code::inconsistent_group_protocol, "inconsistent_group_protocol"},
    {error_code::invalid_group_id, "invalid_group_id"},
    {error_code::unknown_member_id, "unknown_member_id"},
    {error_code::invalid_session_timeout, "invalid_session_timeout"},
    {error_code::rebalance_in_progress, "rebalance_in_progress"},
    {error_code::invalid_commit_offset_size, "invalid_commit_offset_size"},
    {error_code::topic_authorization_failed, "topic_authorization_failed"},
    {error_code::group_authorization_failed, "group_authorization_failed"},
    {error_code::unsupported_version, "unsupported_version"},
    {error_code::topic_already_exists, "topic_already_exists"},
    {error_code::invalid_partitions, "invalid_partitions"},
    {error_code::invalid_replication_factor, "invalid_replication_factor"},
    {error_code::invalid_replica_assignment, "invalid_replica_assignment"},
    {error_code::invalid_config, "invalid_config"},
    {error_code::not_controller, "not_controller"},
    {error_code::invalid_request, "invalid_request"},
    {error_code::policy_violation, "policy_violation"},
    {error_code::out_of_order_sequence_number, "out_of_order_sequence_number"},
    {error_code::duplicate_sequence_number, "duplicate_sequence_number"},
    {error_code::invalid_producer_epoch, "invalid_producer_epoch"},
    {error_code::invalid_txn_state, "invalid_txn_state"},
    {error_code::invalid_producer_id_mapping, "invalid_producer_id_mapping"},
    {error_code::kafka_storage_error, "kafka_storage_error"},
    {error_code::unknown_producer_id, "unknown_producer_id"},
    {error_code::non_empty_group, "non_empty_group"},
    {error_code::group_id_not_found, "group_id_not_found"},
    {error_code::fetch_session_id_not_found, "fetch_session_id_not_found"},
    {error_code::fenced_leader_epoch, "fenced_leader_epoch"},
    {error_code::unknown_leader_epoch, "unknown_leader_epoch"},
    {error_code::unsupported_compression_type, "unsupported_compression_type"},
    {error_code::member_id_required, "member_id_required"},
    {error_code::group_max_size_reached, "group_max_size_reached"},
    {error_code::fenced_instance_id, "fenced_instance_id"},
    {error_code::group_subscribed_to_topic, "group_subscribed_to_topic"},
    {error_code::invalid_record, "invalid_record"},
    {error_code::producer_fenced, "producer_fenced"},
    {error_code::unknown_topic_id, "unknown_topic_id"},
    {error_code::inconsistent_topic_id, "inconsistent_topic_id"},
    {error_code::mismatched_endpoint_type, "mismatched_endpoint_type"},
    {error_code::unsupported_endpoint_type, "unsupported_endpoint_type"},
}};

// The name of `value`, or "other" for a code not listed above.
[[nodiscard]] constexpr std::string_view error_name(int16_t value) noexcept {
    for (const auto& entry : error_code_names) {
        if (code(entry.value) == value) return entry.name;
    }
    return "other";
}

}  // namespace tl::kafka
