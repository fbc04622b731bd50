// OffsetFetch: committed offsets of one group (v0-7) or several (v8+).
// Topics null (v2+) means every partition the group committed. A partition
// without a commit answers offset -1, empty metadata and no error. Group
// errors (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR...) go at the top
// from v2 and into every partition for v0-1, which have no top-level code.
// require_stable is moot: there are no transactional offsets to wait for.
#include "kafka/messages/offset_fetch.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using wanted_topics = std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>;

struct fetched_group {
    int16_t error = 0;
    std::vector<groups::fetched_offset> offsets;
};

task<fetched_group> fetch_group(broker_context& context, std::string group_id,
                                wanted_topics topics) {
    fetched_group out;
    const auto where = route_group(context, group_id);
    if (!where) {
        out.error = group_error::coordinator_not_available;
        co_return out;
    }
    out.error = co_await reactor::submit_to(where->shard, [&]() -> int16_t {
        groups::group_coordinator* c = context.coordinator(where->shard);
        if (c == nullptr) return group_error::coordinator_not_available;
        return c->fetch_offsets(group_id, where->partition, topics, out.offsets);
    });
    if (out.error != 0) {
        // Partitions asked for still get answered (with the error for v0-1).
        out.offsets.clear();
        if (topics) {
            for (const auto& [topic, partitions] : *topics) {
                for (int32_t p : partitions) {
                    out.offsets.push_back({topic, p, -1, -1, "", out.error});
                }
            }
        }
    }
    co_return out;
}

// Consecutive offsets of one topic share an entry, in the order fetched.
template <typename TopicOut>
void group_by_topic(const std::vector<groups::fetched_offset>& offsets, bool with_errors,
                    std::vector<TopicOut>& out) {
    for (const groups::fetched_offset& f : offsets) {
        if (out.empty() || out.back().name != f.topic) {
            out.emplace_back();
            out.back().name = f.topic;
        }
        auto& p = out.back().partitions.emplace_back();
        p.partition_index = f.partition;
        p.committed_offset = f.offset;
        p.committed_leader_epoch = f.leader_epoch;
        p.metadata = f.metadata;
        p.error_code = with_errors ? f.error : int16_t{0};
    }
}

}  // namespace

task<response> handle_offset_fetch(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<offset_fetch_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const offset_fetch_request& req = *decoded;
    const int16_t version = request.api_version();
    offset_fetch_response body;

    if (version < 8) {
        wanted_topics topics;
        if (req.topics) {
            topics.emplace();
            for (const auto& t : *req.topics) {
                topics->emplace_back(std::string(t.name), t.partition_indexes);
            }
        }
        const fetched_group fetched = co_await fetch_group(context, std::string(req.group_id),
                                                           std::move(topics));
        group_by_topic(fetched.offsets, version < 2, body.topics);
        body.error_code = version >= 2 ? fetched.error : int16_t{0};
        co_return make_response(request, body);
    }
    std::vector<fetched_group> fetched;
    fetched.reserve(req.groups.size());
    for (const auto& g : req.groups) {
        wanted_topics topics;
        if (g.topics) {
            topics.emplace();
            for (const auto& t : *g.topics) {
                topics->emplace_back(std::string(t.name), t.partition_indexes);
            }
        }
        fetched.push_back(
            co_await fetch_group(context, std::string(g.group_id), std::move(topics)));
    }
    for (size_t i = 0; i < req.groups.size(); ++i) {
        auto& out = body.groups.emplace_back();
        out.group_id = req.groups[i].group_id;
        out.error_code = fetched[i].error;
        if (fetched[i].error == 0) group_by_topic(fetched[i].offsets, false, out.topics);
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
