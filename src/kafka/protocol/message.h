// What every generated message header (kafka/messages/*.h) includes.
//
// A generated message is a plain struct: snake_case fields, each initialised
// to its schema default, std::optional where a version allows null, and
// nested structs for arrays of structs. Its static members describe the
// schema (api_key, min_version, max_version, is_flexible(version)); decode()
// and encode() convert it from and to the wire for one version. Decoded
// strings and bytes are views into the input (see reader.h for lifetimes);
// messages built for encoding may view any storage that outlives encode().
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/result.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/reader.h"
#include "kafka/protocol/types.h"
#include "kafka/protocol/writer.h"

namespace tl::kafka {

enum class message_kind : uint8_t { request, response, header };

}  // namespace tl::kafka
