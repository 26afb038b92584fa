#include "common/kube/leader_election.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <vector>

#include "common/base/time.h"

namespace vmesh::kube {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr char kLeaseApiVersion[] = "coordination.k8s.io/v1";

std::string MicroTime(std::chrono::system_clock::time_point t) { return FormatRfc3339(t, 6); }

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t Int(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

Status ValidateLeaderElectionConfig(const LeaderElectionConfig& c) {
  if (c.lease_namespace.empty()) return MakeError("the Lease namespace is empty");
  if (c.lease_name.empty()) return MakeError("--leader-elect-lease-name is empty");
  if (c.identity.empty()) return MakeError("--replica-id is empty");
  if (c.lease_duration < std::chrono::seconds(1))
    return MakeError("--leader-elect-lease-duration " + Seconds(c.lease_duration) + " must be at least 1s");
  if (c.retry_period <= std::chrono::milliseconds(0)) return MakeError("--leader-elect-retry-period must be positive");
  if (c.renew_deadline >= c.lease_duration) {
    return MakeError("--leader-elect-renew-deadline " + Seconds(c.renew_deadline) +
                     " must be shorter than --leader-elect-lease-duration " + Seconds(c.lease_duration) +
                     " (a leader that cannot renew must stop before another replica may take over)");
  }
  if (c.retry_period >= c.renew_deadline) {
    return MakeError("--leader-elect-retry-period " + Seconds(c.retry_period) +
                     " must be shorter than --leader-elect-renew-deadline " + Seconds(c.renew_deadline) +
                     " (the leader must get several renewal attempts within the deadline)");
  }
  return OkStatus();
}

// Touched on the strand only.
struct LeaderElector::State {
  std::optional<asio::strand<asio::any_io_executor>> strand;
  link::TimerPtr retry_timer;
  link::TimerPtr watchdog_timer;
  bool started = false;
  bool stopping = false;
  bool finished = false;
  std::vector<std::function<void()>> done;
  // The Lease's spec as last seen, and when (by clock_) it was seen to change: the local observation clock.
  std::optional<json::object> observed_spec;
  link::Clock::TimePoint observed_time{};
  // The Lease object this replica last wrote (with its resourceVersion), for the release.
  std::optional<json::object> written;
};

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config, LeaderElectionCallbacks callbacks,
                             link::ClockPtr clock, WallClock wall_clock)
    : client_(client),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      clock_(std::move(clock)),
      wall_clock_(std::move(wall_clock)),
      state_(std::make_shared<State>()) {}

LeaderElector::~LeaderElector() = default;

bool LeaderElector::MaySign() const {
  std::lock_guard lock(mu_);
  return leading_ && clock_->Now() < last_renew_ + config_.renew_deadline;
}

std::string LeaderElector::ObservedHolder() const {
  std::lock_guard lock(mu_);
  return holder_;
}

std::int64_t LeaderElector::transitions() const {
  std::lock_guard lock(mu_);
  return transitions_;
}

void LeaderElector::Start(asio::any_io_executor executor) {
  state_->strand.emplace(asio::make_strand(std::move(executor)));
  asio::dispatch(*state_->strand, [this] {
    State& s = *state_;
    if (s.started || s.stopping) {
      if (s.stopping && !s.finished) Finish();
      return;
    }
    s.started = true;
    s.retry_timer = clock_->MakeTimer(*s.strand);
    s.watchdog_timer = clock_->MakeTimer(*s.strand);
    s.watchdog_timer->ExpiresAfter(std::chrono::hours(24 * 365));  // armed when leading
    asio::co_spawn(*s.strand, Campaign(), asio::detached);
    asio::co_spawn(*s.strand, Watchdog(), asio::detached);
  });
}

void LeaderElector::Stop(std::function<void()> done) {
  if (!state_->strand) {  // never started
    std::lock_guard lock(mu_);
    leading_ = false;
    if (done) done();
    return;
  }
  asio::dispatch(*state_->strand, [this, done = std::move(done)]() mutable {
    State& s = *state_;
    if (s.finished) {
      if (done) done();
      return;
    }
    if (done) s.done.push_back(std::move(done));
    if (s.stopping) return;
    s.stopping = true;
    if (!s.started) {
      Finish();
      return;
    }
    s.retry_timer->Cancel();
    s.watchdog_timer->Cancel();
  });
}

asio::awaitable<void> LeaderElector::Campaign() {
  State& s = *state_;
  spdlog::info("leader election: {} campaigning for lease {}/{} (lease duration {}, renew deadline {}, retry {})",
               config_.identity, config_.lease_namespace, config_.lease_name, Seconds(config_.lease_duration),
               Seconds(config_.renew_deadline), Seconds(config_.retry_period));
  while (!s.stopping) {
    co_await TryAcquireOrRenew();
    if (s.stopping) break;
    s.retry_timer->ExpiresAfter(config_.retry_period);
    co_await s.retry_timer->Wait();
  }
  bool was_leading;
  {
    std::lock_guard lock(mu_);
    was_leading = leading_;
  }
  if (was_leading) {
    StopLeading("shutting down");
    if (config_.release_on_stop) co_await Release();
  }
  Finish();
}

void LeaderElector::Finish() {
  State& s = *state_;
  s.finished = true;
  auto done = std::move(s.done);
  s.done.clear();
  for (auto& d : done) d();
}

asio::awaitable<void> LeaderElector::Watchdog() {
  State& s = *state_;
  while (!s.stopping) {
    boost::system::error_code ec = co_await s.watchdog_timer->Wait();
    if (s.stopping) break;
    if (ec) continue;  // re-armed by a renewal
    bool expired;
    {
      std::lock_guard lock(mu_);
      expired = leading_ && clock_->Now() >= last_renew_ + config_.renew_deadline;
    }
    if (expired)
      StopLeading("no renewal of the lease succeeded within the renew deadline " + Seconds(config_.renew_deadline));
    s.watchdog_timer->ExpiresAfter(std::chrono::hours(24 * 365));
  }
}

void LeaderElector::Observe(const json::object& spec, link::Clock::TimePoint now) {
  State& s = *state_;
  if (s.observed_spec && *s.observed_spec == spec) return;
  s.observed_spec = spec;
  s.observed_time = now;
  const std::string holder = Str(spec, "holderIdentity");
  bool changed;
  {
    std::lock_guard lock(mu_);
    changed = holder != holder_;
    holder_ = holder;
    transitions_ = Int(spec, "leaseTransitions");
  }
  if (changed && callbacks_.on_new_holder) callbacks_.on_new_holder(holder);
}

asio::awaitable<bool> LeaderElector::TryAcquireOrRenew() {
  State& s = *state_;
  const link::Clock::TimePoint started = clock_->Now();
  const std::string now_wall = MicroTime(wall_clock_());
  const std::string collection = ResourcePath(kLeaseApiVersion, "leases", config_.lease_namespace);
  const std::string target = ResourcePath(kLeaseApiVersion, "leases", config_.lease_namespace, config_.lease_name);
  const auto duration_seconds =
      static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());

  auto got = co_await client_.Get(target);
  if (!got.ok()) {
    spdlog::debug("leader election: reading lease {}: {}", target, got.error().message);
    co_return false;
  }
  Result<ApiResponse> written = MakeError("unset");
  if (got->status == 404) {
    json::object lease{{"apiVersion", kLeaseApiVersion},
                       {"kind", "Lease"},
                       {"metadata", json::object{{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                       {"spec", json::object{{"holderIdentity", config_.identity},
                                             {"leaseDurationSeconds", duration_seconds},
                                             {"acquireTime", now_wall},
                                             {"renewTime", now_wall},
                                             {"leaseTransitions", 0}}}};
    written = co_await client_.Create(collection, lease);
  } else if (got->ok() && got->body.is_object()) {
    json::object lease = got->body.get_object();
    json::object spec;
    if (auto* sp = lease.if_contains("spec"); sp && sp->is_object()) spec = sp->get_object();
    Observe(spec, clock_->Now());
    const std::string holder = Str(spec, "holderIdentity");
    std::int64_t recorded_duration = Int(spec, "leaseDurationSeconds");
    if (recorded_duration <= 0) recorded_duration = duration_seconds;
    const bool valid = clock_->Now() < s.observed_time + std::chrono::seconds(recorded_duration);
    if (!holder.empty() && holder != config_.identity && valid) co_return false;  // held by another
    json::object next = spec;
    next["holderIdentity"] = config_.identity;
    next["leaseDurationSeconds"] = duration_seconds;
    next["renewTime"] = now_wall;
    if (holder != config_.identity) {
      next["acquireTime"] = now_wall;
      next["leaseTransitions"] = Int(spec, "leaseTransitions") + 1;
    } else if (!next.contains("leaseTransitions")) {
      next["leaseTransitions"] = 0;
    }
    lease["spec"] = std::move(next);
    written = co_await client_.Update(target, lease);  // carries metadata.resourceVersion: 409 when it moved
  } else {
    spdlog::debug("leader election: reading lease {}: {}", target, got->Describe());
    co_return false;
  }
  if (!written.ok()) {
    spdlog::debug("leader election: writing lease {}: {}", target, written.error().message);
    co_return false;
  }
  if (!written->ok() || !written->body.is_object()) {
    spdlog::debug("leader election: writing lease {}: {}", target, written->Describe());
    co_return false;
  }
  const link::Clock::TimePoint now = clock_->Now();
  if (now >= started + config_.renew_deadline) {
    // The answer came too late to count: the renew deadline of this attempt passed while it was in flight.
    co_return false;
  }
  const json::object& lease = written->body.get_object();
  s.written = lease;
  if (auto* sp = lease.if_contains("spec"); sp && sp->is_object()) Observe(sp->get_object(), now);
  if (s.stopping) co_return true;  // Campaign() releases
  StartLeading(started);
  co_return true;
}

void LeaderElector::StartLeading(link::Clock::TimePoint renewed) {
  bool was_leading;
  std::int64_t transitions;
  {
    std::lock_guard lock(mu_);
    was_leading = leading_;
    leading_ = true;
    last_renew_ = renewed;
    transitions = transitions_;
  }
  state_->watchdog_timer->ExpiresAt(renewed + config_.renew_deadline);
  if (was_leading) return;
  spdlog::info("leader election: {} acquired lease {}/{} (transitions {})", config_.identity, config_.lease_namespace,
               config_.lease_name, transitions);
  if (callbacks_.on_started_leading) callbacks_.on_started_leading();
}

void LeaderElector::StopLeading(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (!leading_) return;
    leading_ = false;
  }
  spdlog::warn("leader election: {} stopped leading lease {}/{}: {}", config_.identity, config_.lease_namespace,
               config_.lease_name, reason);
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading(reason);
}

asio::awaitable<void> LeaderElector::Release() {
  State& s = *state_;
  if (!s.written) co_return;
  json::object lease = *s.written;
  json::object spec;
  if (auto* sp = lease.if_contains("spec"); sp && sp->is_object()) spec = sp->get_object();
  if (Str(spec, "holderIdentity") != config_.identity) co_return;
  const std::string now_wall = MicroTime(wall_clock_());
  // As client-go's release: no holder, a one-second duration, the transitions kept.
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = now_wall;
  spec["renewTime"] = now_wall;
  lease["spec"] = std::move(spec);
  const std::string target = ResourcePath(kLeaseApiVersion, "leases", config_.lease_namespace, config_.lease_name);
  auto r = co_await client_.Update(target, lease);
  if (!r.ok()) {
    spdlog::warn("leader election: releasing lease {}/{}: {}", config_.lease_namespace, config_.lease_name,
                 r.error().message);
  } else if (!r->ok()) {
    // 409: somebody wrote the lease since our last renewal; it is theirs now.
    spdlog::warn("leader election: releasing lease {}/{}: {}", config_.lease_namespace, config_.lease_name,
                 r->Describe());
  } else {
    spdlog::info("leader election: {} released lease {}/{}", config_.identity, config_.lease_namespace,
                 config_.lease_name);
    if (r->body.is_object()) {
      if (auto* sp = r->body.get_object().if_contains("spec"); sp && sp->is_object()) {
        Observe(sp->get_object(), clock_->Now());
      }
    }
  }
}

}  // namespace vmesh::kube
