// DeleteTopics: deletes topics through the controller, which answers once
// every shard has closed and removed their logs (so the name can be reused
// at once, for an empty topic). timeout_ms is ignored.
//
// Kafka's rules (KRaft ControllerApis.deleteTopics), one result per entry:
//   - v0-5 name topics in topic_names; v6 in topics, by name or by id;
//   - v6 with both a name and an id, or neither: INVALID_REQUEST;
//   - a name or id given twice: INVALID_REQUEST for every copy;
//   - an unknown id: UNKNOWN_TOPIC_ID (name null); an unknown name:
//     UNKNOWN_TOPIC_OR_PARTITION.
// v6 results carry the topic's id, and its name when it was named by id;
// error_message from v5.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kafka/messages/delete_topics.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using topic_result = delete_topics_response::deletable_topic_result;

// One entry of the request, as asked.
struct wanted_topic {
    std::optional<std::string_view> name;
    uuid id{};
};

std::vector<wanted_topic> wanted_topics(const delete_topics_request& req, int16_t version) {
    std::vector<wanted_topic> out;
    if (version < 6) {
        for (std::string_view name : req.topic_names) out.push_back({.name = name, .id = {}});
    } else {
        for (const auto& t : req.topics) out.push_back({.name = t.name, .id = t.topic_id});
    }
    return out;
}

}  // namespace

task<response> handle_delete_topics(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<delete_topics_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const delete_topics_request& req = *decoded;
    const int16_t version = request.api_version();
    const auto image = context.image();

    const std::vector<wanted_topic> wanted = wanted_topics(req, version);
    std::map<std::string_view, int> name_uses;
    std::map<cluster::topic_id, int> id_uses;
    for (const wanted_topic& w : wanted) {
        // An entry with both a name and an id is refused on its own.
        const bool has_id = !(w.id == uuid{});
        if (w.name.has_value() && !has_id) ++name_uses[*w.name];
        if (!w.name.has_value() && has_id) ++id_uses[to_topic_id(w.id)];
    }

    delete_topics_response body;
    body.responses.resize(wanted.size());
    std::vector<std::string> messages(wanted.size());
    std::vector<std::string> names;
    std::vector<size_t> slots;
    for (size_t i = 0; i < wanted.size(); ++i) {
        const wanted_topic& w = wanted[i];
        topic_result& out = body.responses[i];
        out.name = w.name;
        out.topic_id = w.id;
        out.error_message = std::nullopt;
        const auto fail = [&](error_code error, std::string message) {
            out.error_code = code(error);
            messages[i] = std::move(message);
        };
        if (w.name.has_value() && !(w.id == uuid{})) {
            fail(error_code::invalid_request, "You may not specify both topic name and topic id.");
        } else if (!w.name.has_value() && w.id == uuid{}) {
            fail(error_code::invalid_request, "Neither topic name nor id were specified.");
        } else if (w.name.has_value() && name_uses[*w.name] > 1) {
            fail(error_code::invalid_request, "Duplicate topic name.");
        } else if (!w.name.has_value() && id_uses[to_topic_id(w.id)] > 1) {
            fail(error_code::invalid_request, "Duplicate topic id.");
        } else if (!w.name.has_value()) {
            const cluster::topic_metadata* topic = image->find(to_topic_id(w.id));
            if (topic == nullptr) {
                fail(error_code::unknown_topic_id, "This server does not host this topic ID.");
            } else {
                out.name = topic->name;
                names.push_back(topic->name);
                slots.push_back(i);
            }
        } else {
            names.emplace_back(*w.name);
            slots.push_back(i);
        }
    }

    if (!names.empty()) {
        cluster::controller* c = &context.controller();
        auto outcomes = co_await reactor::submit_to(
            cluster::controller_shard, [&]() { return c->delete_topics(std::move(names)); });
        for (size_t k = 0; k < slots.size(); ++k) {
            topic_result& out = body.responses[slots[k]];
            out.error_code = code(to_error_code(outcomes[k].error.code));
            if (out.error_code != 0) {
                messages[slots[k]] = std::move(outcomes[k].error.message);
            } else {
                out.topic_id = to_uuid(outcomes[k].id);
            }
        }
    }
    for (size_t i = 0; i < wanted.size(); ++i) {
        if (body.responses[i].error_code != 0) body.responses[i].error_message = messages[i];
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
