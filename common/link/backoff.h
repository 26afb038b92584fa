// Reconnection delays: exponential backoff with full jitter (SPEC §9: 1 s → 60 s, reset after a stable minute).
//
// delay(attempt) = uniform(0, min(cap, base · 2^attempt)), attempt counting from 0 since the last reset
// ("full jitter", so that agents disconnected together do not come back together). A connection that stayed
// up for at least `stable_period` resets the attempt counter.
//
// Pure: the random source and the time are supplied by the caller, so a seeded source gives a fixed sequence.
// Not thread-safe (one Backoff per reconnecting client).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace vmesh::link {

struct BackoffPolicy {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{60000};
  std::chrono::milliseconds stable_period{60000};
};

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;
  // A uniformly distributed 64-bit value per call.
  using RandomSource = std::function<uint64_t()>;

  // `random` defaults to a std::mt19937_64 seeded from std::random_device.
  explicit Backoff(BackoffPolicy policy, RandomSource random = {});
  // A std::mt19937_64 seeded with `seed`: a deterministic sequence.
  static RandomSource SeededRandom(uint64_t seed);

  // The upper bound of the delay for `attempt`: min(cap, base · 2^attempt), without overflow.
  std::chrono::milliseconds Ceiling(int attempt) const;

  // The delay before the next attempt, uniform in [0, Ceiling(attempt())]; then advances attempt().
  std::chrono::milliseconds Next();
  // Back to attempt 0.
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

  // Connection bookkeeping: call Connected() when a connection is established and Disconnected() when it is
  // lost. Disconnected() resets the counter first if the connection was up for at least stable_period, then
  // returns Next().
  void Connected(Clock::time_point now) { connected_at_ = now; }
  std::chrono::milliseconds Disconnected(Clock::time_point now);

  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  RandomSource random_;
  int attempt_ = 0;
  std::optional<Clock::time_point> connected_at_;
};

}  // namespace vmesh::link
