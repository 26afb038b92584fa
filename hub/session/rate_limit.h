// Per-cluster rate limits of the hub (CSRs an agent may have signed). Pure: time is passed in.
#pragma once

#include <chrono>
#include <string>

namespace vmesh::hub {

// `per_minute` tokens a minute, at most `burst` saved up.
struct RateLimit {
  double per_minute = 10;
  double burst = 10;

  // "10 per minute (burst 10)"
  std::string ToString() const;
};

// A token bucket, full at creation. A clock that goes backwards adds nothing.
class TokenBucket {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  TokenBucket(RateLimit limit, TimePoint now) : limit_(limit), tokens_(limit.burst), last_(now) {}

  // Takes one token if there is one.
  bool TryTake(TimePoint now);
  const RateLimit& limit() const { return limit_; }

 private:
  RateLimit limit_;
  double tokens_;
  TimePoint last_;
};

}  // namespace vmesh::hub
