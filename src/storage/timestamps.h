// Shared by the batch codec and the indexes.
#pragma once

#include <cstdint>

namespace tl::storage {

// Kafka's RecordBatch.NO_TIMESTAMP: a batch (or an empty time index) without a timestamp.
inline constexpr int64_t no_timestamp = -1;

}  // namespace tl::storage
