// What the broker advertises in ApiVersions, kept apart from what we have
// schemas for: a schema (kafka/messages/api_table.h) says we can decode and
// encode an API's versions; only a handler makes the broker serve them. The
// handler table passes its own (api key, versions) list here, and ApiVersions
// lists exactly that.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kafka/messages/api_versions.h"

namespace tl::kafka {

struct api_version_range {
    int16_t api_key = 0;
    int16_t min_version = 0;
    int16_t max_version = 0;
};

// The api_keys entries of an ApiVersions response for the implemented APIs,
// sorted by key. Asserts that each range is non-empty, that keys are unique
// and that every range lies inside the API's schema: advertising a version we
// cannot parse is a programmer error.
[[nodiscard]] std::vector<api_versions_response::api_version> advertised_api_versions(
    std::span<const api_version_range> implemented);

}  // namespace tl::kafka
