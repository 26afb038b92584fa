// RFC 3339 timestamps ("2024-05-01T12:00:00Z"): the one formatter and parser for every time vmesh writes or
// reads as text (object metadata, bootstrap bundles, logs, error messages, kubesim's objects).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh {

using TimePoint = std::chrono::system_clock::time_point;

// UTC with a "Z" suffix. `fraction_digits` (0..9) fractional-second digits are written after a '.', truncated
// (not rounded): 0 gives "2024-05-01T12:00:00Z", 3 gives "2024-05-01T12:00:00.250Z". Never fails: any
// time_point is formatted (proleptic Gregorian calendar, no time zone database, no locale).
std::string FormatRfc3339(TimePoint t, int fraction_digits = 0);

// Parses an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t', 'z' and a space for
// 'T' are accepted too). Fractions finer than the clock's resolution are truncated; times the clock cannot hold
// (outside about 1678..2261) are refused. The error quotes the text.
Result<TimePoint> ParseRfc3339(std::string_view text);

// The time of a broken-down UTC date and time (month 1..12, day 1..31), e.g. what ASN1_TIME_to_tm gives. No
// range checks: fields out of range carry over as in timegm().
TimePoint UtcTimePoint(int year, int month, int day, int hour, int minute, int second);

}  // namespace vmesh
