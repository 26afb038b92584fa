#include "hub/session/rate_limit.h"

#include <algorithm>
#include <cstdio>

namespace vmesh::hub {

std::string RateLimit::ToString() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%g per minute (burst %g)", per_minute, burst);
  return buf;
}

bool TokenBucket::TryTake(TimePoint now) {
  if (now > last_) {
    const std::chrono::duration<double, std::ratio<60>> elapsed = now - last_;
    tokens_ = std::min(limit_.burst, tokens_ + elapsed.count() * limit_.per_minute);
    last_ = now;
  }
  // Refills add up in floating point: allow for rounding (5 s + 1 s at 10/min is one token).
  if (tokens_ < 1 - 1e-9) return false;
  tokens_ = std::max(0.0, tokens_ - 1);
  return true;
}

}  // namespace vmesh::hub
