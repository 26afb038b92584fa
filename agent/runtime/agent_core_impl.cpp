#include "agent/runtime/agent_core_impl.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "agent/apply/applier.h"
#include "agent/certs/certificate_manager.h"
#include "agent/certs/gateway_certificates.h"
#include "agent/discovery/discovery_watcher.h"
#include "agent/restart/restarter.h"
#include "common/base/resource_names.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;

class AgentCoreImpl final : public AgentCore {
 public:
  AgentCoreImpl(asio::io_context& io, kube::KubeClient& client, AgentCoreOptions options, HubSend send)
      : io_(io),
        options_(std::move(options)),
        send_(std::move(send)),
        watcher_(io, client,
                 DiscoveryWatcherOptions{.cluster = options_.cluster,
                                         .hub_namespace = options_.hub_namespace,
                                         .debounce = options_.discovery_debounce}),
        applier_(client, "vmesh-agent", ApplierRetry{}, options_.cluster),
        restarter_(client, RestarterOptions{.metrics = options_.metrics}),
        certs_(
            client,
            CertificateManagerOptions{.cluster = options_.cluster,
                                      .state_namespace = options_.state_namespace,
                                      .metrics = options_.metrics,
                                      .spare_keys = true},
            send_, [this](const std::string& mesh) { return watcher_.FindMesh(mesh); }, restarter_),
        gateway_certs_(
            client,
            GatewayCertificateOptions{
                .cluster = options_.cluster, .state_namespace = options_.state_namespace, .metrics = options_.metrics},
            send_),
        tick_timer_(io) {}

  void Start() override {
    watcher_.OnChange([this](link::v1::DiscoveryReport delta) {
      if (!session_up_ || !full_report_sent_) return;  // the next full report carries it
      if (Status s = send_(WrapReport(std::move(delta))); !s.ok()) {
        spdlog::warn("discovery delta not sent ({}); the next session starts with a full report", s.error().message);
        full_report_sent_ = false;
      }
    });
    watcher_.Start();
    asio::co_spawn(io_, TickLoop(), asio::detached);
  }

  void Stop() override {
    stopped_ = true;
    watcher_.Stop();
    tick_timer_.cancel();
  }

  asio::awaitable<Status> ApplyResource(const link::v1::Resource& resource) override {
    switch (resource.body_case()) {
      case link::v1::Resource::kKubeObject: {
        Status s = co_await applier_.Apply(resource.kube_object());
        Count(s.ok() ? "vmesh_agent_outputs_applied_total" : "vmesh_agent_outputs_failed_total");
        co_return s;
      }
      case link::v1::Resource::kCertificate:
        co_return co_await certs_.OnDirective(resource.certificate());
      case link::v1::Resource::kRestart:
        co_return co_await certs_.OnRestartDirective(resource.restart());
      case link::v1::Resource::kGatewayCertificate:
        co_return co_await gateway_certs_.OnDirective(resource.gateway_certificate());
      default:
        co_return MakeError("resource " + resource.name() + ": this agent does not know its type (upgrade the agent)");
    }
  }

  asio::awaitable<Status> RemoveResource(const std::string& name) override {
    switch (LinkResourceTypeOf(name)) {
      case LinkResourceType::kKube: {
        auto ref = ParseKubeResourceName(name);
        if (!ref.ok()) co_return ref.error();
        Status s = co_await applier_.Remove(*ref);
        if (s.ok()) Count("vmesh_agent_outputs_removed_total");
        co_return s;
      }
      case LinkResourceType::kCert:
        co_return co_await certs_.OnDirectiveRemoved(MeshOfResourceName(name));
      case LinkResourceType::kRestart:
        co_return OkStatus();  // a restart that was done stays done
      case LinkResourceType::kGatewayCert:
        co_return co_await gateway_certs_.OnDirectiveRemoved(name);
      case LinkResourceType::kUnknown:
        break;
    }
    co_return MakeError("resource " + name + ": this agent does not know its type (upgrade the agent)");
  }

  asio::awaitable<Result<bool>> PruneOutputs(const std::set<std::string>& desired) override {
    std::set<std::string> keys;
    for (const auto& name : desired) {
      if (LinkResourceTypeOf(name) != LinkResourceType::kKube) continue;
      auto ref = ParseKubeResourceName(name);
      if (!ref.ok()) co_return ref.error().Wrap("prune");  // a name the link accepted: the hub is confused
      keys.insert(OutputKey(ref->api_version, ref->kind, ref->ns, ref->name));
    }
    if (keys.empty()) co_return false;  // indistinguishable from a view that is not there yet: never prune on it
    auto pruned = co_await applier_.Prune(std::move(keys));
    if (!pruned.ok()) co_return pruned.error();
    spdlog::info("pruned {} outputs the hub no longer wants (left by an earlier run)", *pruned);
    co_return true;
  }

  asio::awaitable<void> OnIssuedCertificate(const link::v1::IssuedCertificate& issued) override {
    if (!issued.gateway_role().empty()) {
      co_await gateway_certs_.OnIssued(issued);
    } else {
      co_await certs_.OnIssued(issued);
    }
  }

  void OnSessionStarted(std::chrono::seconds) override {
    session_up_ = true;
    full_report_sent_ = false;
    certs_.OnSessionStarted();
    gateway_certs_.OnSessionStarted();
    asio::co_spawn(io_, SendFullReport(++session_), asio::detached);
  }

  void OnSessionEnded() override {
    session_up_ = false;
    full_report_sent_ = false;
  }

  bool ClusterSynced() const override { return watcher_.synced(); }

  link::v1::StatusReport MakeStatusReport() override {
    link::v1::StatusReport report;
    std::set<std::string> reported;
    for (auto& status : certs_.Statuses()) {
      reported.insert(status.mesh());
      *report.add_meshes() = std::move(status);
    }
    // Meshes without a certificate directive (no shared trust) are reported too, for their outputs.
    for (const auto& mesh : watcher_.Meshes()) {
      if (!reported.count(mesh.metadata().name())) report.add_meshes()->set_mesh(mesh.metadata().name());
    }
    // Limited trust: each mesh's gateway certificates, and their failures as the mesh's errors.
    auto gateways = gateway_certs_.Reports();
    for (auto& m : *report.mutable_meshes()) {
      auto it = gateways.find(m.mesh());
      if (it == gateways.end()) continue;
      for (auto& g : it->second) {
        if (!g.status().error().empty()) m.add_errors(g.status().error());
        *m.add_gateway_certificates() = std::move(g);
      }
      gateways.erase(it);
    }
    for (auto& [mesh, reports] : gateways) {
      auto* m = report.add_meshes();
      m->set_mesh(mesh);
      for (auto& g : reports) {
        if (!g.status().error().empty()) m->add_errors(g.status().error());
        *m->add_gateway_certificates() = std::move(g);
      }
    }
    return report;
  }

 private:
  static link::v1::Envelope WrapReport(link::v1::DiscoveryReport report) {
    link::v1::Envelope envelope;
    *envelope.mutable_discovery_report() = std::move(report);
    return envelope;
  }

  void Count(const char* metric) {
    if (options_.metrics) options_.metrics->Increment(metric);
  }

  // Waits until the cluster is synced (the first discovery ran), then sends everything discovered.
  asio::awaitable<void> SendFullReport(std::uint64_t session) {
    asio::steady_timer timer(io_);
    while (!stopped_ && session == session_ && session_up_ && !watcher_.synced()) {
      timer.expires_after(std::chrono::milliseconds(100));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (stopped_ || session != session_ || !session_up_) co_return;
    auto full = watcher_.FullReport();
    spdlog::info("reporting discovery to the hub: {} meshes, {} destinations, {} workloads", full.meshes_size(),
                 full.destinations_size(), full.workloads_size());
    if (Status s = send_(WrapReport(std::move(full))); !s.ok()) {
      spdlog::warn("full discovery report not sent: {}", s.error().message);
      co_return;
    }
    full_report_sent_ = true;
  }

  asio::awaitable<void> TickLoop() {
    while (!stopped_) {
      tick_timer_.expires_after(options_.tick_interval);
      boost::system::error_code ec;
      co_await tick_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped_) break;
      co_await certs_.Tick();
      co_await gateway_certs_.Tick();
    }
  }

  asio::io_context& io_;
  AgentCoreOptions options_;
  HubSend send_;
  DiscoveryWatcher watcher_;
  KubeApplier applier_;
  Restarter restarter_;
  CertificateManager certs_;
  GatewayCertificateManager gateway_certs_;
  asio::steady_timer tick_timer_;
  bool stopped_ = false;
  bool session_up_ = false;
  bool full_report_sent_ = false;
  std::uint64_t session_ = 0;
};

}  // namespace

void DeclareAgentCoreMetrics(metrics::Registry& registry) {
  registry.DeclareCounter("vmesh_agent_outputs_applied_total", "Kubernetes outputs applied (server-side apply)");
  registry.DeclareCounter("vmesh_agent_outputs_failed_total", "Kubernetes outputs the cluster refused");
  registry.DeclareCounter("vmesh_agent_outputs_removed_total", "Kubernetes outputs removed at the hub's request");
}

AgentCorePtr MakeAgentCore(asio::io_context& io, kube::KubeClient& client, AgentCoreOptions options, HubSend send) {
  return std::make_unique<AgentCoreImpl>(io, client, std::move(options), std::move(send));
}

}  // namespace vmesh::agent
