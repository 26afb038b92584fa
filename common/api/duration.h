// Parsing and printing of durations as manifests write them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::api {

// Parses the proto3 JSON form ("240s", "1.5s") and the Go/Kubernetes form ("4m", "1h30m", "500ms",
// "2h45m0.5s"). Negative durations are rejected. The error message says which forms are accepted.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// The proto3 JSON form: whole seconds as "240s", fractions as "1.500s" (3, 6 or 9 digits).
std::string FormatDuration(std::int64_t seconds, std::int32_t nanos);

}  // namespace vmesh::api
