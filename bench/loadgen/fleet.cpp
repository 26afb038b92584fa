#include "bench/loadgen/fleet.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "agent/runtime/hub_link.h"
#include "agent/runtime/identity.h"
#include "common/link/event_loop.h"

namespace vmesh::loadgen {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

// The identity lives in memory only (the simulated cluster has nowhere else to keep it).
class MemoryIdentityStore final : public agent::IdentityStore {
 public:
  explicit MemoryIdentityStore(agent::AgentIdentity identity) : identity_(std::move(identity)) {}
  asio::awaitable<Result<std::optional<agent::AgentIdentity>>> Load() override {
    co_return std::optional<agent::AgentIdentity>(identity_);
  }
  asio::awaitable<Status> Save(const agent::AgentIdentity& identity) override {
    identity_ = identity;
    co_return OkStatus();
  }
  std::string Describe() const override { return "memory"; }

 private:
  agent::AgentIdentity identity_;
};

// Held versions in memory; `on_save` runs when the link saves them, i.e. right before it sends the ACK.
class NotingSyncStateStore final : public agent::SyncStateStore {
 public:
  explicit NotingSyncStateStore(std::function<void()> on_save) : on_save_(std::move(on_save)) {}
  asio::awaitable<Result<agent::SyncState>> Load() override { co_return state_; }
  asio::awaitable<Status> Save(const agent::SyncState& state) override {
    state_ = state;
    on_save_();
    co_return OkStatus();
  }

 private:
  std::function<void()> on_save_;
  agent::SyncState state_;
};

}  // namespace

struct Fleet::Loop {
  link::EventLoop loop{1};
};

struct Fleet::Agent {
  int index = 0;
  std::string cluster;
  Loop* loop = nullptr;
  std::optional<agent::AgentIdentity> identity;
  std::unique_ptr<MemoryIdentityStore> identities;
  std::unique_ptr<NotingSyncStateStore> sync;
  std::unique_ptr<agent::HubLink> link;
  std::unique_ptr<SimulatedCluster> core;
  bool watched_applied = false;  // io thread: the update being applied carries the watched ServiceEntry
  std::atomic<std::int64_t> watched_acked_ns{0};
};

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {
  agent::DeclareHubLinkMetrics(link_metrics_);
  for (int t = 0; t < std::max(1, options_.threads); ++t) loops_.push_back(std::make_unique<Loop>());
  for (int i = 0; i < options_.agents; ++i) {
    auto a = std::make_unique<Agent>();
    a->index = i;
    a->cluster = options_.cluster_prefix + std::to_string(i);
    a->loop = loops_[static_cast<std::size_t>(i) % loops_.size()].get();
    agents_.push_back(std::move(a));
  }
}

Fleet::~Fleet() { Stop(); }

std::string Fleet::cluster(int i) const { return agents_[static_cast<std::size_t>(i)]->cluster; }

Status Fleet::Bootstrap(const Registrar& registrar) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::string first_error;
  auto work = [&] {
    for (std::size_t i = next++; i < agents_.size(); i = next++) {
      Agent& a = *agents_[i];
      auto bundle = registrar(a.cluster);
      Result<agent::AgentIdentity> id =
          bundle.ok() ? agent::Bootstrap(*bundle, "loadgen") : Result<agent::AgentIdentity>(bundle.error());
      if (!id.ok()) {
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = "cluster " + a.cluster + ": " + id.error().message;
        next = agents_.size();
        return;
      }
      a.identity = std::move(*id);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, options_.bootstrap_threads); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  if (!first_error.empty()) return MakeError(first_error);
  return OkStatus();
}

Status Fleet::Start() {
  for (auto& a : agents_) {
    if (!a->identity) return MakeError("cluster " + a->cluster + " was not bootstrapped");
    Agent* raw = a.get();
    a->identities = std::make_unique<MemoryIdentityStore>(*a->identity);
    a->sync = std::make_unique<NotingSyncStateStore>([raw] {
      if (raw->watched_applied) {
        raw->watched_applied = false;
        raw->watched_acked_ns = NowNs();
      }
    });
    agent::HubLinkOptions link_options;
    link_options.agent_version = "loadgen";
    link_options.metrics = &link_metrics_;
    a->link =
        std::make_unique<agent::HubLink>(a->loop->loop.context(), *a->identity, *a->identities, *a->sync, link_options);
    auto on_output = [this, raw](const link::v1::KubeObject& object) {
      if (object.kind() != "ServiceEntry") return;
      std::lock_guard lock(watch_mu_);
      if (!watch_prefix_.empty() && raw->index != watch_origin_ && object.name().rfind(watch_prefix_, 0) == 0) {
        raw->watched_applied = true;
      }
    };
    a->core = std::make_unique<SimulatedCluster>(
        SimulatedClusterOptions{.cluster = a->cluster, .index = a->index, .destinations = options_.destinations},
        a->link->Sender(), counters_, on_output);
    if (Status s = a->link->Start(*a->core); !s.ok()) return s.error().Wrap("cluster " + a->cluster);
  }
  return OkStatus();
}

void Fleet::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& a : agents_) {
    if (a->link) a->link->Stop();
  }
  for (auto& l : loops_) l->loop.Stop();
  for (auto& a : agents_) a->link.reset();  // links go after their io_context stopped, before their cores
  agents_.clear();
}

int Fleet::Connected() const {
  int n = 0;
  for (const auto& a : agents_) n += a->link && a->link->connected() ? 1 : 0;
  return n;
}

int Fleet::WithSessionsAtLeast(int sessions) const {
  int n = 0;
  for (const auto& a : agents_) n += a->link && a->link->sessions() >= sessions ? 1 : 0;
  return n;
}

int Fleet::Sessions(int i) const {
  const auto& a = agents_[static_cast<std::size_t>(i)];
  return a->link ? a->link->sessions() : 0;
}

Status Fleet::AddDestination(int i, const std::string& name) {
  Agent& origin = *agents_[static_cast<std::size_t>(i)];
  for (auto& a : agents_) a->watched_acked_ns = 0;
  {
    std::lock_guard lock(watch_mu_);
    watch_prefix_ = name + ".apps.svc." + origin.cluster + ".";
    watch_origin_ = i;
    watch_start_ = SteadyClock::now();
  }
  std::promise<Status> done;
  auto future = done.get_future();
  asio::post(origin.loop->loop.context(), [&] { done.set_value(origin.core->AddDestination(name)); });
  return future.get();
}

int Fleet::WatchedAcks() const {
  int n = 0;
  for (const auto& a : agents_) n += a->watched_acked_ns.load() != 0 ? 1 : 0;
  return n;
}

std::vector<double> Fleet::WatchedLatencies() const {
  std::int64_t start;
  {
    std::lock_guard lock(watch_mu_);
    start = std::chrono::duration_cast<std::chrono::nanoseconds>(watch_start_.time_since_epoch()).count();
  }
  std::vector<double> out;
  for (const auto& a : agents_) {
    const std::int64_t at = a->watched_acked_ns.load();
    if (at != 0) out.push_back(static_cast<double>(at - start) / 1e9);
  }
  return out;
}

}  // namespace vmesh::loadgen
