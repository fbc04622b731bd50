#include "raft/types.h"

#include <algorithm>
#include <cstring>

namespace tl::raft {

namespace {

constexpr std::byte configuration_magic{0xC5};
// A configuration lists at most this many members: Raft groups are small,
// and the bound keeps a corrupt count from allocating.
constexpr uint32_t max_configuration_members = 1024;

void put_u64(std::vector<std::byte>& out, uint64_t value) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}

bool get_u64(std::span<const std::byte>& in, uint64_t& value) {
    if (in.size() < 8) return false;
    value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
    in = in.subspan(8);
    return true;
}

bool get_ids(std::span<const std::byte>& in, std::vector<node_id>& ids) {
    uint64_t count = 0;
    if (!get_u64(in, count) || count > max_configuration_members) return false;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t id = 0;
        if (!get_u64(in, id) || id == no_node) return false;
        if (!ids.empty() && id <= ids.back()) return false;  // sorted, unique
        ids.push_back(id);
    }
    return true;
}

}  // namespace

bool configuration::is_voter(node_id id) const noexcept {
    return std::binary_search(voters.begin(), voters.end(), id);
}

bool configuration::is_learner(node_id id) const noexcept {
    return std::binary_search(learners.begin(), learners.end(), id);
}

std::vector<std::byte> encode_configuration(const configuration& config) {
    std::vector<std::byte> out;
    out.push_back(configuration_magic);
    put_u64(out, config.voters.size());
    for (node_id id : config.voters) put_u64(out, id);
    put_u64(out, config.learners.size());
    for (node_id id : config.learners) put_u64(out, id);
    return out;
}

std::optional<configuration> decode_configuration(std::span<const std::byte> data) {
    if (data.empty() || data[0] != configuration_magic) return std::nullopt;
    data = data.subspan(1);
    configuration config;
    if (!get_ids(data, config.voters) || !get_ids(data, config.learners) || !data.empty()) {
        return std::nullopt;
    }
    for (node_id id : config.learners) {
        if (config.is_voter(id)) return std::nullopt;
    }
    return config;
}

std::string_view to_string(message_kind kind) noexcept {
    switch (kind) {
        case message_kind::pre_vote: return "pre_vote";
        case message_kind::pre_vote_response: return "pre_vote_response";
        case message_kind::vote: return "vote";
        case message_kind::vote_response: return "vote_response";
        case message_kind::append: return "append";
        case message_kind::append_response: return "append_response";
        case message_kind::heartbeat: return "heartbeat";
        case message_kind::heartbeat_response: return "heartbeat_response";
        case message_kind::install_snapshot: return "install_snapshot";
        case message_kind::timeout_now: return "timeout_now";
        case message_kind::read_index: return "read_index";
        case message_kind::read_index_response: return "read_index_response";
    }
    return "?";
}

}  // namespace tl::raft
