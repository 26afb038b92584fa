#include "common/link/backoff.h"

#include <algorithm>
#include <random>

namespace vmesh::link {

Backoff::Backoff(BackoffPolicy policy, RandomSource random) : policy_(policy), random_(std::move(random)) {
  if (!random_) {
    std::random_device device;
    random_ = SeededRandom((static_cast<uint64_t>(device()) << 32) ^ device());
  }
}

Backoff::RandomSource Backoff::SeededRandom(uint64_t seed) {
  return [engine = std::mt19937_64(seed)]() mutable { return engine(); };
}

std::chrono::milliseconds Backoff::Ceiling(int attempt) const {
  const int64_t base = std::max<int64_t>(0, policy_.base.count());
  const int64_t cap = std::max<int64_t>(0, policy_.cap.count());
  int64_t ceiling = std::min(base, cap);
  for (int i = 0; i < attempt && ceiling < cap; ++i) ceiling = std::min(cap, ceiling * 2);
  return std::chrono::milliseconds(ceiling);
}

std::chrono::milliseconds Backoff::Next() {
  const int64_t ceiling = Ceiling(attempt_).count();
  // 53 random bits → a double uniform in [0, 1); scaled and rounded to [0, ceiling].
  const double unit = static_cast<double>(random_() >> 11) * 0x1.0p-53;
  const auto delay = static_cast<int64_t>(unit * static_cast<double>(ceiling + 1));
  if (attempt_ < 64) ++attempt_;
  return std::chrono::milliseconds(std::min(delay, ceiling));
}

std::chrono::milliseconds Backoff::Disconnected(Clock::time_point now) {
  if (connected_at_ && now - *connected_at_ >= policy_.stable_period) Reset();
  connected_at_.reset();
  return Next();
}

}  // namespace vmesh::link
