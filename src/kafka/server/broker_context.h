// What the Kafka handlers of one shard work with: the broker's identity and
// Kafka settings, this shard's partition manager (and so its metadata image),
// every shard's manager (to hop to a partition's owner), the controller and
// this shard's producer-id allocator.
//
//   const auto& image = *context.image();                  // this shard's view
//   unsigned owner = topic->owners[p];
//   auto r = co_await reactor::submit_to(owner, [&] { return context.manager(owner).append(...); });
//
// One per shard; built by the app when the shard starts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "cluster/controller.h"
#include "cluster/metadata_image.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "kafka/groups/group_coordinator.h"
#include "kafka/protocol/error_code.h"
#include "kafka/protocol/types.h"
#include "kafka/server/connection.h"

namespace tl::kafka {

struct kafka_settings {
    int32_t node_id = 0;
    std::string advertised_host = "127.0.0.1";  // what Metadata returns
    int32_t advertised_port = 9092;
    bool auto_create_topics = true;  // auto.create.topics.enable
    int32_t num_partitions = 1;      // num.partitions, for auto-created topics
    connection_limits limits;
};

class broker_context {
public:
    broker_context(const kafka_settings& settings, unsigned shard_id,
                   std::span<cluster::partition_manager* const> managers,
                   cluster::controller* const* controller,
                   std::span<groups::group_coordinator* const> coordinators,
                   cluster::producer_id_allocator& producer_ids)
        : _settings(settings),
          _shard_id(shard_id),
          _managers(managers),
          _controller(controller),
          _coordinators(coordinators),
          _producer_ids(producer_ids) {}

    [[nodiscard]] const kafka_settings& settings() const noexcept { return _settings; }
    [[nodiscard]] unsigned shard_id() const noexcept { return _shard_id; }
    [[nodiscard]] cluster::partition_manager& local() const noexcept {
        return *_managers[_shard_id];
    }
    // Only to be called (or captured) for use on shard `shard`.
    [[nodiscard]] cluster::partition_manager& manager(unsigned shard) const noexcept {
        return *_managers[shard];
    }
    // Only for use on cluster::controller_shard.
    [[nodiscard]] cluster::controller& controller() const noexcept { return **_controller; }
    // Shard `shard`'s group coordinator: only to be read on that shard (it is
    // null until that shard's Kafka service has started).
    [[nodiscard]] groups::group_coordinator* coordinator(unsigned shard) const noexcept {
        return _coordinators[shard];
    }
    [[nodiscard]] groups::group_coordinator* local_coordinator() const noexcept {
        return _coordinators[_shard_id];
    }
    // This shard's producer ids (InitProducerId); use it on this shard only.
    [[nodiscard]] cluster::producer_id_allocator& producer_ids() const noexcept {
        return _producer_ids;
    }
    // This shard's current metadata; hold the pointer across suspensions.
    [[nodiscard]] std::shared_ptr<const cluster::metadata_image> image() const noexcept {
        return local().image();
    }

private:
    const kafka_settings& _settings;
    unsigned _shard_id;
    std::span<cluster::partition_manager* const> _managers;
    cluster::controller* const* _controller;
    std::span<groups::group_coordinator* const> _coordinators;
    cluster::producer_id_allocator& _producer_ids;
};

// Topic ids cross the cluster/kafka boundary as the same 16 bytes.
[[nodiscard]] inline uuid to_uuid(const cluster::topic_id& id) noexcept {
    uuid out;
    out.bytes = id.bytes;
    return out;
}
[[nodiscard]] inline cluster::topic_id to_topic_id(const uuid& id) noexcept {
    cluster::topic_id out;
    out.bytes = id.bytes;
    return out;
}

// Kafka's answer for a failed partition operation.
[[nodiscard]] error_code to_error_code(const cluster::partition_error& error) noexcept;
[[nodiscard]] error_code to_error_code(storage::batch_errc error) noexcept;
[[nodiscard]] error_code to_error_code(cluster::controller_errc error) noexcept;

}  // namespace tl::kafka
