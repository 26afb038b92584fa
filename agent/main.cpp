// vmesh-agent: wires the agent's parts together (SPEC §2 vmesh-agent); the logic lives in agent/<area>/.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "agent/runtime/agent_core_impl.h"
#include "agent/runtime/hub_link.h"
#include "agent/runtime/identity.h"
#include "common/api/duration.h"
#include "common/base/files.h"
#include "common/cli/cli.h"
#include "common/kube/client.h"
#include "common/kube/config.h"
#include "common/link/admin_http.h"
#include "common/link/event_loop.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"

namespace {

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace vmesh;

constexpr char kUsage[] =
    R"(vmesh-agent — the workload-cluster side of vmesh: discovers Istio, installs the mesh's intermediate CA,
applies the hub's outputs and reports status. Private keys never leave this cluster.

Usage:
  vmesh-agent --cluster NAME --bootstrap FILE [flags]
  vmesh-agent --help | --version

The bootstrap bundle (from `vmeshctl cluster register NAME`) is used once: the identity it buys is kept in
Secret vmesh-agent-identity of --state-namespace (or --identity-file), and a restarted agent resumes with it.
While the hub cannot be reached or answers 502/503/504 (e.g. no replica leads yet), the bootstrap is retried
with backoff for up to 10 minutes; a refused token (401/403) ends the agent at once.
Without --kubeconfig the in-cluster service account is used.

)";

int Usage(const std::string& message) {
  std::fprintf(stderr, "vmesh-agent: %s\n", message.c_str());
  return 2;
}

int Fail(const std::string& message) {
  spdlog::critical("{}", message);
  std::fprintf(stderr, "vmesh-agent: %s\n", message.c_str());
  return 1;
}

// Runs `task` on the loop's thread and waits for its result.
template <typename T>
T RunOn(asio::io_context& io, asio::awaitable<T> task) {
  std::promise<T> promise;
  auto future = promise.get_future();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { promise.set_value(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  return future.get();
}

template <typename F>
void RunOnVoid(asio::io_context& io, F f) {
  std::promise<void> done;
  asio::post(io, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

Result<std::chrono::milliseconds> DurationFlag(const po::variables_map& vm, const char* name) {
  auto d = api::ParseDuration(vm[name].as<std::string>());
  if (!d.ok()) return d.error().Wrap(std::string("--") + name);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (ms.count() <= 0) return MakeError(std::string("--") + name + " must be positive");
  return ms;
}

// The stored identity, or a new one from the bootstrap bundle (stored before it is returned).
Result<agent::AgentIdentity> ObtainIdentity(asio::io_context& io, agent::IdentityStore& store,
                                            const std::string& cluster, const std::string& bootstrap_path,
                                            bool* usage_error) {
  Result<std::optional<agent::AgentIdentity>> stored = MakeError("not loaded");
  for (int attempt = 0; attempt < 5; ++attempt) {
    stored = RunOn(io, store.Load());
    if (stored.ok()) break;
    spdlog::warn("reading the agent identity from {}: {} (retrying)", store.Describe(), stored.error().message);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  if (!stored.ok()) return stored.error().Wrap("reading the agent identity from " + store.Describe());
  if (stored->has_value()) {
    const agent::AgentIdentity& id = **stored;
    if (id.cluster != cluster) {
      *usage_error = true;
      return MakeError("the identity in " + store.Describe() + " belongs to cluster " + id.cluster + ", not " +
                       cluster);
    }
    spdlog::info("using the stored identity in {} (the bootstrap bundle is not used again)", store.Describe());
    return id;
  }
  if (bootstrap_path.empty()) {
    *usage_error = true;
    return MakeError("no identity stored in " + store.Describe() + ": --bootstrap FILE is required");
  }
  auto text = ReadFile(bootstrap_path);
  if (!text.ok()) {
    *usage_error = true;
    return text.error().Wrap("--bootstrap");
  }
  auto bundle = agent::ParseBootstrapBundle(*text);
  if (!bundle.ok()) {
    *usage_error = true;
    return bundle.error().Wrap(bootstrap_path);
  }
  if (bundle->cluster() != cluster) {
    *usage_error = true;
    return MakeError(bootstrap_path + " registers cluster " + bundle->cluster() + ", not " + cluster);
  }
  spdlog::info("bootstrapping cluster {} with the hub at {}", cluster, bundle->hub_url());
  // A hub that is not reachable yet, or has no leader for a moment (503), is waited for; a refusal is final.
  auto id = agent::BootstrapWithRetry([&] { return agent::Bootstrap(*bundle, VMESH_VERSION); }, {},
                                      [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); });
  if (!id.ok()) return id.error();
  Status saved = MakeError("not saved");
  for (int attempt = 0; attempt < 5; ++attempt) {
    saved = RunOn(io, store.Save(*id));
    if (saved.ok()) break;
    spdlog::warn("storing the new identity in {}: {} (retrying)", store.Describe(), saved.error().message);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  if (!saved.ok()) {
    return saved.error().Wrap("the hub issued an identity but storing it in " + store.Describe() +
                              " failed (the bootstrap token is used up: register the cluster again)");
  }
  spdlog::info("registered with hub {}; identity stored in {}", id->hub_name, store.Describe());
  return id;
}

int Run(const po::variables_map& vm) {
  const std::string cluster = vm.count("cluster") ? vm["cluster"].as<std::string>() : "";
  if (cluster.empty()) return Usage("--cluster is required");
  auto ping = DurationFlag(vm, "ping-interval");
  if (!ping.ok()) return Usage(ping.error().message);
  auto idle = DurationFlag(vm, "idle-timeout");
  if (!idle.ok()) return Usage(idle.error().message);
  auto admin_address = link::ParseListenAddress(vm["admin-listen"].as<std::string>());
  if (!admin_address.ok()) return Usage("--admin-listen: " + admin_address.error().message);
  const std::string state_namespace = vm["state-namespace"].as<std::string>();
  const std::string bootstrap_path = vm.count("bootstrap") ? vm["bootstrap"].as<std::string>() : "";

  Result<kube::ClusterConfig> kube_config = MakeError("unset");
  if (vm.count("kubeconfig")) {
    kube_config = kube::LoadKubeconfig(vm["kubeconfig"].as<std::string>());
  } else {
    kube_config = kube::InClusterConfig([](const char* name) { return std::getenv(name); });
    if (!kube_config.ok()) kube_config = kube_config.error().Wrap("in-cluster config (or pass --kubeconfig)");
  }
  if (!kube_config.ok()) return Usage(kube_config.error().message);
  auto client = kube::MakeKubeClient(*kube_config);
  if (!client.ok()) return Usage("kubernetes client: " + client.error().message);

  link::EventLoop loop(1);
  asio::io_context& io = loop.context();

  agent::IdentityStorePtr identities = vm.count("identity-file")
                                           ? agent::MakeFileIdentityStore(vm["identity-file"].as<std::string>())
                                           : agent::MakeSecretIdentityStore(**client, state_namespace);
  bool usage_error = false;
  auto identity = ObtainIdentity(io, *identities, cluster, bootstrap_path, &usage_error);
  if (!identity.ok()) return usage_error ? Usage(identity.error().message) : Fail(identity.error().message);

  metrics::Registry registry;
  agent::DeclareHubLinkMetrics(registry);
  agent::DeclareAgentCoreMetrics(registry);
  registry.DeclareGauge("vmesh_agent_ready", "1 once the first sync with the hub and the cluster completed");

  agent::SyncStateStorePtr sync_state = agent::MakeConfigMapSyncStateStore(**client, state_namespace);
  agent::HubLinkOptions link_options;
  link_options.agent_version = VMESH_VERSION;
  link_options.connection.ping_interval = *ping;
  link_options.connection.idle_timeout = *idle;
  link_options.metrics = &registry;
  agent::HubLink hub_link(io, *identity, *identities, *sync_state, link_options);

  agent::AgentCoreOptions core_options;
  core_options.cluster = cluster;
  core_options.state_namespace = state_namespace;
  core_options.hub_namespace = vm["hub-namespace"].as<std::string>();
  core_options.metrics = &registry;
  agent::AgentCorePtr core = agent::MakeAgentCore(io, **client, core_options, hub_link.Sender());
  RunOnVoid(io, [&] { core->Start(); });
  if (Status s = hub_link.Start(*core); !s.ok()) {
    RunOnVoid(io, [&] { core->Stop(); });
    return Fail(s.error().message);
  }

  registry.DeclareCounter("vmesh_agent_admin_connections_refused_total",
                          "Admin HTTP connections closed at accept: the connection limit was reached.");
  link::AdminHttpOptions admin_options;
  admin_options.on_connection_refused = [&registry] {
    registry.Increment("vmesh_agent_admin_connections_refused_total");
  };
  link::AdminHttpServer admin(io, admin_address->first, admin_address->second, admin_options);
  admin.Handle("/healthz", [](const link::HttpRequest&) { return link::HttpResponse::Text(200, "ok\n"); });
  admin.Handle("/readyz", [&](const link::HttpRequest&) {
    const bool hub = hub_link.synced();
    const bool cluster_synced = core->ClusterSynced();
    if (hub && cluster_synced) return link::HttpResponse::Text(200, "ready\n");
    std::string why = "not ready:";
    if (!hub) why += " waiting for the first sync with the hub;";
    if (!cluster_synced) why += " waiting for the first discovery of the cluster;";
    return link::HttpResponse::Text(503, why + "\n");
  });
  admin.Handle("/metrics", [&](const link::HttpRequest&) {
    registry.Set("vmesh_agent_ready", {}, hub_link.synced() && core->ClusterSynced() ? 1 : 0);
    return link::HttpResponse{200, "text/plain; version=0.0.4", registry.Render(), {}};
  });
  if (Status s = admin.Start(); !s.ok()) {
    hub_link.Stop();
    RunOnVoid(io, [&] { core->Stop(); });
    return Fail("--admin-listen: " + s.error().message);
  }
  spdlog::info("vmesh-agent {} for cluster {} running; admin on {}:{}", VMESH_VERSION, cluster, admin_address->first,
               admin.port());

  std::promise<int> signalled;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) { signalled.set_value(ec ? 0 : signal); });
  const int signal = signalled.get_future().get();
  spdlog::info("signal {} received: stopping", signal);

  admin.Stop();
  hub_link.Stop();
  RunOnVoid(io, [&] { core->Stop(); });
  loop.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Flags", 120);
  options.add_options()                                                                                  //
      ("help,h", "show this help")                                                                       //
      ("version", "print the version")                                                                   //
      ("cluster", po::value<std::string>(), "this cluster's name, as registered at the hub (required)")  //
      ("bootstrap", po::value<std::string>(),
       "bootstrap bundle from `vmeshctl cluster register` (needed until an identity is stored)")                    //
      ("kubeconfig", po::value<std::string>(), "kubeconfig of this cluster (default: in-cluster service account)")  //
      ("state-namespace", po::value<std::string>()->default_value("vmesh-system"),
       "namespace for the agent's identity, pending CA keys and sync state")  //
      ("admin-listen", po::value<std::string>()->default_value("127.0.0.1:9902"),
       "plain-HTTP address for /healthz, /readyz and /metrics")  //
      ("identity-file", po::value<std::string>(),
       "keep the identity in this file (mode 0600) instead of a Secret")  //
      ("hub-namespace", po::value<std::string>()->default_value("vmesh"),
       "namespace of the discovery objects at the hub")                                             //
      ("ping-interval", po::value<std::string>()->default_value("10s"), "WebSocket ping interval")  //
      ("idle-timeout", po::value<std::string>()->default_value("30s"), "a hub silent for this long is considered gone");
  cli::AddCommonOptions(options);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto vm = cli::Parse(args, options);
  if (!vm.ok()) return Usage(vm.error().message + " (see vmesh-agent --help)");
  if (vm->count("help")) {
    std::cout << kUsage << options;
    return 0;
  }
  if (vm->count("version")) {
    std::cout << "vmesh-agent " << VMESH_VERSION << "\n";
    return 0;
  }
  if (Status s = log::Init("vmesh-agent", (*vm)["log-level"].as<std::string>(), (*vm)["log-format"].as<std::string>());
      !s.ok()) {
    return Usage(s.error().message);
  }
  return Run(*vm);
}
