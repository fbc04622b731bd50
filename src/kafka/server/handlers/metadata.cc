// Metadata: brokers (the registered ones, at their advertised addresses;
// this one alone until it is registered), the controller (the Raft leader of
// the metadata log), the cluster id, and topics with their partitions'
// leaders and replicas (the placement's).
//
// Which topics: v0 empty list = all; v1+ null = all, empty = none; v10+ may
// name topics by id. Unknown topics are auto-created when the broker allows
// it and the request does (v4+; always for v0-3) and described in the same
// response: the controller answers only once every shard has opened the new
// partitions (Kafka says LEADER_NOT_AVAILABLE first; clients accept both).
// Without auto-creation they get UNKNOWN_TOPIC_OR_PARTITION.
#include <string>
#include <vector>

#include "kafka/messages/metadata.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<void> auto_create_topics(broker_context& context, std::vector<std::string> names) {
    std::vector<cluster::new_topic> topics;
    topics.reserve(names.size());
    for (std::string& name : names) {
        topics.push_back({.name = std::move(name),
                          .partitions = context.settings().num_partitions,
                          .replication_factor = 1,
                          .configs = {}});
    }
    cluster::controller* c = &context.controller();
    auto outcomes = co_await reactor::submit_to(cluster::controller_shard, [&]() {
        return c->create_topics(std::move(topics), false);
    });
    for (const auto& o : outcomes) {
        using cluster::controller_errc;
        if (o.error.code != controller_errc::none &&
            o.error.code != controller_errc::topic_already_exists &&
            o.error.code != controller_errc::invalid_topic_name) {
            spdlog::warn("kafka: auto-creating a topic failed: {}", o.error.message);
        }
    }
}

namespace {

void describe_topic(const cluster::topic_metadata& topic,
                    metadata_response::metadata_response_topic& out) {
    out.error_code = code(error_code::none);
    out.name = topic.name;
    out.topic_id = to_uuid(topic.id);
    out.is_internal = cluster::is_internal_topic(topic.name);
    out.partitions.resize(static_cast<size_t>(topic.partition_count));
    for (int32_t p = 0; p < topic.partition_count; ++p) {
        auto& partition = out.partitions[static_cast<size_t>(p)];
        partition.error_code = code(error_code::none);
        partition.partition_index = p;
        const auto& replicas = topic.replicas[static_cast<size_t>(p)];
        partition.leader_id = topic.leader(p);
        partition.leader_epoch = 0;
        partition.replica_nodes.assign(replicas.begin(), replicas.end());
        partition.isr_nodes.assign(replicas.begin(), replicas.end());
    }
}

}  // namespace

task<response> handle_metadata(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<metadata_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const metadata_request& req = *decoded;
    const int16_t version = request.api_version();
    const kafka_settings& settings = context.settings();

    auto image = context.image();
    const bool all_topics = !req.topics.has_value() || (version == 0 && req.topics->empty());
    const bool may_create = settings.auto_create_topics &&
                            (version < 4 || req.allow_auto_topic_creation);

    metadata_response body;
    bool self_listed = false;
    for (const cluster::broker_record& b : image->brokers()) {
        self_listed = self_listed || b.node_id == settings.node_id;
        body.brokers.push_back(
            {.node_id = b.node_id, .host = b.host, .port = b.port, .rack = b.rack});
    }
    if (!self_listed) {
        body.brokers.push_back({.node_id = settings.node_id,
                                .host = settings.advertised_host,
                                .port = settings.advertised_port,
                                .rack = std::nullopt});
    }
    body.cluster_id = image->cluster_id();
    const int32_t leader = context.controller().leader_id();
    body.controller_id = leader >= 0 ? leader : settings.node_id;

    if (all_topics) {
        for (const auto& topic : image->topics()) {
            describe_topic(*topic, body.topics.emplace_back());
        }
        co_return make_response(request, body);
    }

    std::vector<std::string> to_create;
    std::vector<size_t> created_slots;
    for (const auto& wanted : *req.topics) {
        auto& out = body.topics.emplace_back();
        const cluster::topic_metadata* topic = nullptr;
        if (wanted.name.has_value()) {
            topic = image->find(*wanted.name);
            out.name = *wanted.name;
        } else if (!(wanted.topic_id == uuid{})) {
            topic = image->find(to_topic_id(wanted.topic_id));
            out.name = std::nullopt;
            out.topic_id = wanted.topic_id;
            if (topic == nullptr) {
                out.error_code = code(error_code::unknown_topic_id);
                continue;
            }
        } else {
            out.error_code = code(error_code::invalid_request);
            continue;
        }
        if (topic != nullptr) {
            describe_topic(*topic, out);
            continue;
        }
        if (may_create && cluster::validate_topic_name(*wanted.name).ok()) {
            to_create.emplace_back(*wanted.name);
            created_slots.push_back(body.topics.size() - 1);
            out.error_code = code(error_code::leader_not_available);
        } else if (!cluster::validate_topic_name(*wanted.name).ok()) {
            out.error_code = code(error_code::invalid_topic_exception);
        } else {
            out.error_code = code(error_code::unknown_topic_or_partition);
        }
    }
    if (!to_create.empty()) {
        co_await auto_create_topics(context, std::move(to_create));
        // Topics described above view the first image: keep it alive too.
        const auto described = image;
        image = context.image();
        for (size_t slot : created_slots) {
            auto& out = body.topics[slot];
            const cluster::topic_metadata* topic = image->find(*out.name);
            if (topic != nullptr) describe_topic(*topic, out);
        }
        co_return make_response(request, body);
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
