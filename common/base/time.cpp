#include "common/base/time.h"

#include <cstdint>
#include <cstdio>

namespace vmesh {
namespace {

// H. Hinnant's civil calendar algorithms: exact for every proleptic Gregorian date, no timegm()/gmtime().
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool IsLeap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits at `pos`.
bool Digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool Expect(std::string_view s, size_t& pos, std::string_view one_of) {
  if (pos >= s.size() || one_of.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

}  // namespace

std::string FormatRfc3339(TimePoint t, int fraction_digits) {
  using namespace std::chrono;
  const auto since_epoch = t.time_since_epoch();
  const auto secs = floor<seconds>(since_epoch);
  const std::int64_t nanos = duration_cast<nanoseconds>(since_epoch - secs).count();
  const std::int64_t total = secs.count();
  std::int64_t days = total / 86400;
  std::int64_t rem = total % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = CivilFromDays(days);
  char buf[64];
  int n =
      std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(c.year), c.month, c.day,
                    static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (fraction_digits > 0) {
    if (fraction_digits > 9) fraction_digits = 9;
    char frac[16];
    std::snprintf(frac, sizeof frac, "%09lld", static_cast<long long>(nanos));
    out += '.';
    out.append(frac, static_cast<size_t>(fraction_digits));
  }
  out += 'Z';
  return out;
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  auto bad = [&] {
    return MakeError("\"" + std::string(text) + "\" is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)");
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, pos, 4, year) || !Expect(text, pos, "-") || !Digits(text, pos, 2, month) ||
      !Expect(text, pos, "-") || !Digits(text, pos, 2, day) || !Expect(text, pos, "Tt ") ||
      !Digits(text, pos, 2, hour) || !Expect(text, pos, ":") || !Digits(text, pos, 2, minute) ||
      !Expect(text, pos, ":") || !Digits(text, pos, 2, second)) {
    return bad();
  }
  // Leap seconds (":60") are not representable in a time_point; like most parsers, refuse them.
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return bad();
  }
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!Digits(text, pos, 2, oh) || !Expect(text, pos, ":") || !Digits(text, pos, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  const std::int64_t seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                               std::int64_t{hour} * 3600 + minute * 60 + second - offset_seconds;
  // The clock counts nanoseconds in 64 bits: about 292 years either side of 1970.
  using namespace std::chrono;
  constexpr std::int64_t kLimit = duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count() - 1;
  if (seconds > kLimit || seconds < -kLimit) return bad();
  return TimePoint(duration_cast<TimePoint::duration>(std::chrono::seconds(seconds) + nanoseconds(nanos)));
}

TimePoint UtcTimePoint(int year, int month, int day, int hour, int minute, int second) {
  const std::int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return TimePoint(std::chrono::seconds(days * 86400 + std::int64_t{hour} * 3600 + minute * 60 + second));
}

}  // namespace vmesh
