// Leader election over a coordination.k8s.io/v1 Lease (docs/hub-on-kubernetes.md "Leader election"), with
// client-go's algorithm and defaults (lease duration 15 s, renew deadline 10 s, retry period 2 s):
//
//   - Every retry period a replica reads the Lease. It may write itself in as holder when the Lease is absent,
//     has no holder (released), names this replica already, or has not changed for the record's
//     leaseDurationSeconds as measured by this replica's own clock since it last saw the record change (clocks
//     of different replicas are never compared). Taking the Lease from another holder (or from nobody) sets
//     acquireTime and increments leaseTransitions; renewing keeps both and moves renewTime (MicroTime).
//   - Every write carries the resourceVersion read, so of two replicas racing for the Lease one gets 409
//     Conflict and stays a follower.
//   - The leader stops leading when no renewal succeeded within the renew deadline, measured from the start of
//     the last successful attempt.
//
// Fencing: MaySign() is true only while leading and now < start of the last successful renewal + renew
// deadline. Since the renew deadline is shorter than the lease duration, and another replica can only take
// over a lease duration after it saw that renewal, a leader that cannot renew stops signing before anybody else
// may start. MaySign() turns false at the deadline by itself, before on_stopped_leading has run.
//
// With release_on_stop, Stop() clears holderIdentity (like client-go's ReleaseOnCancel), so a follower takes
// over at its next retry instead of waiting for the lease to expire.
//
// Threading: Start() runs the election on a strand of the given executor; callbacks run on that strand and must
// not block (hand long work to another thread). MaySign(), IsLeader(), ObservedHolder(), transitions() and
// Stop() may be called from any thread. The client and the clock must outlive the elector, and the elector
// must outlive its coroutines: call Stop() and wait for its `done` (or stop the executor) before destroying it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/kube/client.h"
#include "common/link/clock.h"

namespace vmesh::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // this replica's holderIdentity; unique among the candidates
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_stop = true;
};

// OK when the config can elect safely: namespace, name and identity set, every duration positive,
// retry_period < renew_deadline < lease_duration. The error names the setting (by its --leader-elect-* flag).
Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

struct LeaderElectionCallbacks {
  // This replica became the leader (MaySign() is true).
  std::function<void()> on_started_leading;
  // This replica stopped leading (MaySign() is already false): `reason` says why, for the log.
  std::function<void(const std::string& reason)> on_stopped_leading;
  // The holder seen in the Lease changed ("" when nobody holds it); also for this replica.
  std::function<void(const std::string& holder)> on_new_holder;
};

class LeaderElector {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  // `clock` measures lease expiry, the renew deadline and the retry period; `wall_clock` gives the MicroTimes
  // written into the Lease (informational: no replica relies on another's wall clock).
  LeaderElector(KubeClient& client, LeaderElectionConfig config, LeaderElectionCallbacks callbacks,
                link::ClockPtr clock = link::SteadyClock(), WallClock wall_clock = std::chrono::system_clock::now);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Starts campaigning on a strand of `executor`. Once only.
  void Start(boost::asio::any_io_executor executor);

  // Stops campaigning; a leader stops leading (on_stopped_leading) and, with release_on_stop, releases the Lease.
  // `done` runs on the elector's strand when the elector has finished (after the release attempt). Does not
  // block; idempotent (a second `done` runs too).
  void Stop(std::function<void()> done = nullptr);

  bool IsLeader() const { return MaySign(); }
  // True only while this replica leads and its last successful renewal is younger than the renew deadline.
  bool MaySign() const;
  // The holderIdentity last seen in the Lease ("" when none or not read yet).
  std::string ObservedHolder() const;
  // leaseTransitions last seen in (or written to) the Lease.
  std::int64_t transitions() const;
  const LeaderElectionConfig& config() const { return config_; }

 private:
  struct State;

  boost::asio::awaitable<void> Campaign();
  boost::asio::awaitable<void> Watchdog();
  // One attempt; true when this replica holds the Lease afterwards.
  boost::asio::awaitable<bool> TryAcquireOrRenew();
  boost::asio::awaitable<void> Release();
  void Observe(const boost::json::object& spec, link::Clock::TimePoint now);
  void StartLeading(link::Clock::TimePoint renewed);
  void StopLeading(const std::string& reason);
  void Finish();

  KubeClient& client_;
  const LeaderElectionConfig config_;
  LeaderElectionCallbacks callbacks_;
  link::ClockPtr clock_;
  WallClock wall_clock_;
  std::shared_ptr<State> state_;  // strand-confined parts and the locked, shared parts

  mutable std::mutex mu_;  // guards the fields below (read from any thread)
  bool leading_ = false;
  link::Clock::TimePoint last_renew_{};
  std::string holder_;
  std::int64_t transitions_ = 0;
};

}  // namespace vmesh::kube
