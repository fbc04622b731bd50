#include "kafka/server/dispatcher.h"

#include <algorithm>
#include <array>

#include "kafka/messages/api_table.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/shard.h"

namespace tl::kafka {
namespace {

struct api_entry {
    api_version_range versions;
    handler_fn handler;
};

// Produce and Fetch start where record batches (magic 2) do: v3 and v4.
// Older versions carry the legacy message formats, which Tidelog never
// stores. Everything else: the whole range Kafka 3.8 serves.
constexpr auto api_table = std::to_array<api_entry>({
    {{api_keys::produce, 3, 11}, handle_produce},
    {{api_keys::fetch, 4, 16}, handle_fetch},
    {{api_keys::list_offsets, 0, 8}, handle_list_offsets},
    {{api_keys::metadata, 0, 12}, handle_metadata},
    {{api_keys::api_versions, 0, 3}, handle_api_versions},
    {{api_keys::create_topics, 0, 7}, handle_create_topics},
    {{api_keys::delete_topics, 0, 6}, handle_delete_topics},
    {{api_keys::create_partitions, 0, 3}, handle_create_partitions},
    {{api_keys::delete_records, 0, 2}, handle_delete_records},
    {{api_keys::describe_configs, 0, 4}, handle_describe_configs},
    {{api_keys::alter_configs, 0, 2}, handle_alter_configs},
    {{api_keys::incremental_alter_configs, 0, 1}, handle_incremental_alter_configs},
    {{api_keys::describe_cluster, 0, 1}, handle_describe_cluster},
    {{api_keys::offset_for_leader_epoch, 0, 4}, handle_offset_for_leader_epoch},
    // Consumer groups (src/kafka/groups). FindCoordinator must include v0:
    // librdkafka's probe for the group coordinator feature.
    {{api_keys::find_coordinator, 0, 5}, handle_find_coordinator},
    {{api_keys::join_group, 0, 9}, handle_join_group},
    {{api_keys::sync_group, 0, 5}, handle_sync_group},
    {{api_keys::heartbeat, 0, 4}, handle_heartbeat},
    {{api_keys::leave_group, 0, 5}, handle_leave_group},
    {{api_keys::offset_commit, 0, 9}, handle_offset_commit},
    {{api_keys::offset_fetch, 0, 9}, handle_offset_fetch},
    {{api_keys::describe_groups, 0, 5}, handle_describe_groups},
    {{api_keys::list_groups, 0, 5}, handle_list_groups},
    {{api_keys::delete_groups, 0, 2}, handle_delete_groups},
    {{api_keys::offset_delete, 0, 0}, handle_offset_delete},
    // Idempotent producers: ids only; transactional ids are refused.
    {{api_keys::init_producer_id, 0, 5}, handle_init_producer_id},
});

constexpr std::array<api_version_range, api_table.size()> ranges() {
    std::array<api_version_range, api_table.size()> out{};
    for (size_t i = 0; i < api_table.size(); ++i) out[i] = api_table[i].versions;
    return out;
}
constexpr auto implemented = ranges();

const api_entry* find_entry(int16_t api_key) noexcept {
    const auto it = std::ranges::find(api_table, api_key,
                                      [](const api_entry& e) { return e.versions.api_key; });
    return it == api_table.end() ? nullptr : &*it;
}

}  // namespace

std::span<const api_version_range> implemented_apis() noexcept { return implemented; }

broker_dispatcher::broker_dispatcher(broker_context& context, kafka_probe* probe)
    : _context(context), _probe(probe) {}

bool broker_dispatcher::serves(int16_t api_key, int16_t api_version) const noexcept {
    const api_entry* entry = find_entry(api_key);
    return entry != nullptr && api_version >= entry->versions.min_version &&
           api_version <= entry->versions.max_version;
}

task<response> broker_dispatcher::handle(request_context& request) {
    const api_entry* entry = find_entry(request.api_key());
    TL_ASSERT(entry != nullptr, "dispatching an API that is not served");
    if (_probe == nullptr) co_return co_await entry->handler(_context, request);
    request.probe = _probe;
    const steady_time started = reactor::shard::local().now();
    response reply = co_await entry->handler(_context, request);
    _probe->request_handled(request.api_key(), reactor::shard::local().now() - started);
    co_return reply;
}

std::vector<std::byte> broker_dispatcher::unsupported_api_versions(int32_t correlation_id) const {
    api_versions_response body;
    body.error_code = code(error_code::unsupported_version);
    body.api_keys = advertised_api_versions(implemented_apis());
    writer w;
    encode_response_frame(w, correlation_id, 0, body);
    TL_ASSERT(w.ok(), "ApiVersions v0 always encodes");
    return std::move(w).take();
}

}  // namespace tl::kafka
