#include "common/api/duration.h"

#include <cmath>
#include <cstdio>

namespace vmesh::api {
namespace {

constexpr char kForms[] = R"(expected a duration such as "240s", "4m", "1h30m" or "500ms")";

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  auto fail = [&](const std::string& why) -> Result<std::chrono::nanoseconds> {
    return MakeError(std::string(kForms) + ", got \"" + std::string(text) + "\"" +
                     (why.empty() ? "" : " (" + why + ")"));
  };
  if (text.empty()) return fail("");
  if (text.front() == '-') return fail("durations must not be negative");
  if (text == "0") return std::chrono::nanoseconds(0);
  long double total_ns = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return fail("");
    std::string number(text.substr(start, i - start));
    if (number.find('.') != number.rfind('.') || number == ".") return fail("");
    size_t unit_start = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    long double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit.empty()) {
      return fail("missing unit");
    } else {
      return fail("unknown unit \"" + std::string(unit) + "\"");
    }
    total_ns += std::strtold(number.c_str(), nullptr) * scale;
    // Protobuf durations are limited to about 10,000 years.
    if (total_ns > 315576000000.0L * 1e9L) return fail("too large");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total_ns)));
}

std::string FormatDuration(std::int64_t seconds, std::int32_t nanos) {
  if (nanos == 0) return std::to_string(seconds) + "s";
  char buf[16];
  if (nanos % 1000000 == 0) {
    std::snprintf(buf, sizeof buf, "%03d", nanos / 1000000);
  } else if (nanos % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%06d", nanos / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%09d", nanos);
  }
  return std::to_string(seconds) + "." + buf + "s";
}

}  // namespace vmesh::api
