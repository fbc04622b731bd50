#include "kafka/protocol/api_support.h"

#include <algorithm>

#include "base/assert.h"
#include "kafka/messages/api_table.h"

namespace tl::kafka {

std::vector<api_versions_response::api_version> advertised_api_versions(
    std::span<const api_version_range> implemented) {
    std::vector<api_versions_response::api_version> out;
    out.reserve(implemented.size());
    for (const auto& range : implemented) {
        const api_schema* api = find_api_schema(range.api_key);
        TL_ASSERT(api != nullptr, "advertising an API we have no schema for");
        TL_ASSERT(range.min_version <= range.max_version, "empty version range");
        TL_ASSERT(range.min_version >= api->min_version && range.max_version <= api->max_version,
                  "advertising versions outside the API's schema");
        out.push_back({.api_key = range.api_key,
                       .min_version = range.min_version,
                       .max_version = range.max_version});
    }
    std::ranges::sort(out, {}, &api_versions_response::api_version::api_key);
    const auto duplicate = std::ranges::adjacent_find(
        out, [](const auto& a, const auto& b) { return a.api_key == b.api_key; });
    TL_ASSERT(duplicate == out.end(), "an API key advertised twice");
    return out;
}

}  // namespace tl::kafka
