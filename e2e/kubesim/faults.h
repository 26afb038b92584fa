// FaultInjector: the faults kubesim can inject so that clients' retry, resume and relist paths get
// exercised (SPEC §11): added latency, a rate of 500/429 answers, watches dropped after N events or S
// seconds, and a forced 410 Expired on the next watch.
//
// Configured from flags at start and at run time through the admin endpoint `/kubesim/faults` (GET shows
// the configuration, POST/PUT replace the fields present in a JSON object):
//   {"latencyMs": 0, "errorRate": 0.0, "seed": 1, "dropWatchAfterEvents": 0, "dropWatchAfterSeconds": 0,
//    "expireNextWatch": false}
// Zero disables a fault. Error decisions come from a generator seeded with `seed` (reseeded whenever the
// seed is set), so a given sequence of requests sees the same errors every run.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

#include "e2e/kubesim/api_handler.h"

namespace vmesh::kubesim {

struct FaultConfig {
  std::chrono::milliseconds latency{0};  // added before every answer (and before a watch starts)
  double error_rate = 0;                 // fraction of non-watch API requests answered 500 or 429
  uint64_t seed = 1;
  uint64_t drop_watch_after_events = 0;           // a watch's connection is cut after this many events (0: never)
  std::chrono::milliseconds drop_watch_after{0};  // ... or after this long (0: never)
  bool expire_next_watch = false;                 // the next watch gets one ERROR event with 410 Expired
};

class FaultInjector {
 public:
  explicit FaultInjector(FaultConfig config = {});

  FaultConfig config() const;
  void Set(const FaultConfig& config);

  // Answers GET (the configuration) and POST/PUT (a JSON object with some of the fields above) on the
  // admin endpoint. Fields of the wrong type or out of range give 400 and change nothing.
  HttpResponse HandleAdmin(const HttpRequest& request);

  // For a request that is not a watch: an error answer (500 InternalError or 429 TooManyRequests, with a
  // Status body) at the configured rate, or nullopt.
  std::optional<HttpResponse> MaybeFail();

  // True once after expire_next_watch was set (and clears it).
  bool TakeExpireNextWatch();

  // The admin endpoint's path.
  static constexpr const char* kAdminPath = "/kubesim/faults";

 private:
  mutable std::mutex mu_;
  FaultConfig config_;
  std::mt19937_64 random_;
};

// Whether a request target asks for a watch (the `watch` parameter, decoded as kube-apiserver does).
bool IsWatchTarget(const std::string& target);

// The single ERROR line (410 Expired Status) that a forcibly expired watch gets.
std::string ExpiredWatchLine();

}  // namespace vmesh::kubesim
