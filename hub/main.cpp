// vmesh-hub: wires the hub's parts together; the logic lives in hub/<area>/.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/api/dns.h"
#include "common/api/duration.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/cli/cli.h"
#include "common/kube/client.h"
#include "common/kube/config.h"
#include "common/kube/leader_election.h"
#include "common/kube/run_task.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/pki/aead.h"
#include "common/pki/secure_string.h"
#include "hub/api/object_service.h"
#include "hub/ca/ca_service.h"
#include "hub/init/hub_init.h"
#include "hub/registration/registration.h"
#include "hub/server/role_gate.h"
#include "hub/server/routes.h"
#include "hub/session/hub_core.h"
#include "hub/store/kube_store.h"
#include "vmesh/config/v1/config.pb.h"

namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    R"(vmesh-hub — the fleet side of vmesh: VirtualMesh intent, root CAs, cluster registry, status.

Usage:
  vmesh-hub init --data-dir DIR [--hub-name NAME] [--advertise-host HOST]... [--api-url URL]
                 [--root-key-encryption-key-file FILE] [--store sqlite|kubernetes [--kubeconfig FILE]]
  vmesh-hub serve --data-dir DIR [--agent-listen 0.0.0.0:9900] [--api-listen 127.0.0.1:9901]
                  [--store sqlite|kubernetes [--kubeconfig FILE] [--leader-elect-* ...]] [flags]
  vmesh-hub --help | --version
  vmesh-hub <command> --help

Commands:
  init    Create the hub's link CA, its TLS server certificate and DIR/admin.vmeshconfig (the credential
          vmeshctl uses). Safe to re-run: existing material is never overwritten. With --store kubernetes the
          hub name, link CA and admin pin go into the cluster; the server certificate and admin.vmeshconfig
          into DIR (one DIR per replica, if you like).
  serve   Serve agents (WSS: /v1/bootstrap, /v1/connect) and the admin API (HTTPS, admin client certificate;
          /healthz, /readyz and /metrics without one) until SIGINT/SIGTERM. Once listening it writes
          DIR/endpoints.json and points admin.vmeshconfig at the bound API address.
          --store sqlite (default): the store is DIR/hub.db; one serve per data directory (DIR/serve.lock).
          --store kubernetes: the store is the management cluster; several replicas elect a leader through
          the Lease --leader-elect-lease-name in --namespace. Only the leader runs the hub; a follower answers
          /healthz, /metrics, and 503 "not the leader; lease NS/NAME held by X" everywhere else.

Every flag can also come from a YAML file (--config FILE; keys are the flag names).
)";

// One line on stderr; exit code 2 for bad flags or config, 1 for failures at run time.
int Fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "vmesh-hub: %s\n", message.c_str());
  return code;
}

// Where the management cluster is: --kubeconfig FILE, else the in-cluster service account. Errors are
// configuration errors (exit 2).
vmesh::Result<vmesh::kube::ClusterConfig> KubeConfigFrom(const po::variables_map& vm) {
  if (vm.count("kubeconfig")) {
    const std::string path = vm["kubeconfig"].as<std::string>();
    auto config = vmesh::kube::LoadKubeconfig(path);
    if (!config.ok()) return vmesh::MakeError("--kubeconfig " + path + ": " + config.error().message);
    return config;
  }
  auto config = vmesh::kube::InClusterConfig([](const char* name) { return std::getenv(name); });
  if (!config.ok()) {
    return vmesh::MakeError("--store kubernetes without --kubeconfig needs the in-cluster service account: " +
                            config.error().message);
  }
  return config;
}

// A client of the management cluster that has answered once (GET /version): an unreachable or refusing API
// server fails here, in one line, rather than somewhere inside the store.
vmesh::Result<vmesh::kube::KubeClientPtr> ConnectKube(const vmesh::kube::ClusterConfig& config,
                                                      std::chrono::milliseconds request_timeout) {
  auto client = vmesh::kube::MakeKubeClient(config, request_timeout);
  if (!client.ok()) return client.error().Wrap("Kubernetes API client for " + config.server);
  auto version = vmesh::kube::RunTask((*client)->Get("/version"));
  if (!version.ok()) {
    return vmesh::MakeError("cannot reach the Kubernetes API server " + config.server + ": " + version.error().message);
  }
  if (!version->ok()) {
    return vmesh::MakeError("the Kubernetes API server " + config.server + " refused: " + version->Describe());
  }
  return std::move(*client);
}

vmesh::Result<vmesh::hub::StorePtr> OpenKubeStore(const vmesh::kube::ClusterConfig& config,
                                                  const std::string& hub_namespace,
                                                  const std::optional<std::string>& kek) {
  auto client = ConnectKube(config, std::chrono::seconds(30));
  if (!client.ok()) return client.error();
  auto store =
      vmesh::hub::OpenKubernetesStore(std::move(*client), {.hub_namespace = hub_namespace, .key_encryption_key = kek});
  if (!store.ok()) return store.error().Wrap("Kubernetes store in namespace " + hub_namespace);
  return store;
}

int RunInit(const std::vector<std::string>& args) {
  po::options_description options("vmesh-hub init");
  options.add_options()                                                                                       //
      ("help,h", "show this help")                                                                            //
      ("data-dir", po::value<std::string>(), "directory for the hub's store and credentials (created 0700)")  //
      ("hub-name", po::value<std::string>()->default_value("vmesh-hub"),
       "name in agent identities (spiffe://NAME/cluster/...); fixed by the first init")  //
      ("advertise-host", po::value<std::vector<std::string>>()->composing(),
       "host name or IP agents use to reach the hub (repeatable; localhost and 127.0.0.1 always included)")  //
      ("api-url", po::value<std::string>()->default_value("https://127.0.0.1:9901"),
       "hub API URL written into admin.vmeshconfig")  //
      ("root-key-encryption-key-file", po::value<std::string>(),
       "seal the link CA key (and any root key stored in plain) at rest with this AES-256 key; mode 0600 or "
       "stricter")  //
      ("store", po::value<std::string>()->default_value("sqlite"),
       "where the hub keeps its state: sqlite (DIR/hub.db) or kubernetes (the management cluster; the server "
       "certificate and admin.vmeshconfig still go into DIR)")  //
      ("kubeconfig", po::value<std::string>(),
       "with --store kubernetes: the management cluster's kubeconfig (default: the in-cluster service account)")  //
      ("namespace", po::value<std::string>()->default_value("vmesh"),
       "with --store kubernetes: the hub namespace (its objects, Secrets and ConfigMaps)");
  vmesh::cli::AddCommonOptions(options);
  auto vm = vmesh::cli::Parse(args, options);
  if (!vm.ok()) return Fail(vm.error().message);
  if (vm->count("help")) {
    std::cout << "Usage: vmesh-hub init --data-dir DIR [flags]\n\n" << options;
    return 0;
  }
  if (auto s =
          vmesh::log::Init("vmesh-hub", (*vm)["log-level"].as<std::string>(), (*vm)["log-format"].as<std::string>());
      !s.ok()) {
    return Fail(s.error().message);
  }
  if (!vm->count("data-dir")) return Fail("init: --data-dir is required");
  vmesh::hub::InitOptions init;
  init.data_dir = (*vm)["data-dir"].as<std::string>();
  init.hub_name = (*vm)["hub-name"].as<std::string>();
  if (vm->count("advertise-host")) init.advertise_hosts = (*vm)["advertise-host"].as<std::vector<std::string>>();
  init.api_url = (*vm)["api-url"].as<std::string>();
  if (vm->count("root-key-encryption-key-file")) {
    auto key = vmesh::pki::LoadKeyEncryptionKey((*vm)["root-key-encryption-key-file"].as<std::string>());
    if (!key.ok()) return Fail("init: " + key.error().message);
    init.key_encryption_key = std::move(*key);
  }
  const std::string store_kind = (*vm)["store"].as<std::string>();
  if (store_kind != "sqlite" && store_kind != "kubernetes")
    return Fail("init: --store \"" + store_kind + "\": expected sqlite or kubernetes");
  const std::string hub_namespace = (*vm)["namespace"].as<std::string>();
  if (auto problem = vmesh::api::Dns1123LabelProblem(hub_namespace)) return Fail("init: --namespace: " + *problem);
  if (store_kind == "sqlite" && vm->count("kubeconfig")) return Fail("init: --kubeconfig needs --store kubernetes");
  vmesh::Result<vmesh::hub::InitReport> report = vmesh::MakeError("unset");
  if (store_kind == "kubernetes") {
    auto config = KubeConfigFrom(*vm);
    if (!config.ok()) return Fail("init: " + config.error().message);
    auto store = OpenKubeStore(*config, hub_namespace, init.key_encryption_key);
    if (!store.ok()) return Fail("init: " + store.error().message, 1);
    report = vmesh::hub::InitHub(**store, init, std::chrono::system_clock::now());
  } else {
    report = vmesh::hub::InitHub(init, std::chrono::system_clock::now());
  }
  if (!report.ok()) return Fail("init: " + report.error().message);
  if (report->hub_name != init.hub_name) {
    spdlog::warn("the hub is already named {} (the name is fixed at the first init); --hub-name {} ignored",
                 report->hub_name, init.hub_name);
  }
  for (const auto& what : report->created) std::cout << "created " << what << "\n";
  for (const auto& what : report->kept) std::cout << "kept    " << what << " (exists)\n";
  std::cout << "hub " << report->hub_name << " initialized in " << init.data_dir
            << (store_kind == "kubernetes" ? " and the Kubernetes store (namespace " + hub_namespace + ")" : "")
            << "\n";
  return 0;
}

// "host:port" or "[v6]:port".
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

vmesh::Result<ListenAddress> ParseListen(const std::string& flag, const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return vmesh::MakeError(flag + " \"" + text + "\": expected HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) > 65535)
    return vmesh::MakeError(flag + " \"" + text + "\": the port must be a number from 0 to 65535");
  return ListenAddress{host, static_cast<uint16_t>(std::stoi(port))};
}

bool IsWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::" || host.empty(); }

std::string UrlHostPort(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

vmesh::Result<std::chrono::seconds> ParseSeconds(const po::variables_map& vm, const char* flag) {
  const std::string text = vm[flag].as<std::string>();
  auto d = vmesh::api::ParseDuration(text);
  if (!d.ok()) return vmesh::MakeError(std::string("--") + flag + ": " + d.error().message);
  auto s = std::chrono::duration_cast<std::chrono::seconds>(*d);
  if (s.count() <= 0) return vmesh::MakeError(std::string("--") + flag + " \"" + text + "\": must be at least 1s");
  return s;
}

// Points admin.vmeshconfig at the bound API address; everything else in it stays as it is.
vmesh::Status RewriteAdminConfig(const std::string& path, const std::string& api_url) {
  auto text = vmesh::ReadFile(path, vmesh::ReadOptions{.no_follow = true});
  if (!text.ok()) return text.error();
  vmesh::pki::SecureString secret(std::move(*text));
  vmesh::config::v1::AdminConfig admin;
  if (auto errors = vmesh::api::DecodeInto(secret.value(), &admin); !errors.empty())
    return vmesh::MakeError(path + ": " + vmesh::api::JoinErrors(errors));
  if (admin.hub_url() == api_url) return vmesh::OkStatus();
  admin.set_hub_url(api_url);
  return vmesh::WriteFileAtomically(path, vmesh::api::Encode(admin, vmesh::api::Format::kYaml), 0600);
}

// Holds DIR/serve.lock for the life of the process: one `serve` per data directory.
vmesh::Result<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/serve.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return vmesh::MakeError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return vmesh::MakeError("another vmesh-hub serve holds the lock " + path + " (one server per data directory)");
  }
  return fd;
}

vmesh::Result<std::chrono::milliseconds> ParseMillis(const po::variables_map& vm, const char* flag) {
  const std::string text = vm[flag].as<std::string>();
  auto d = vmesh::api::ParseDuration(text);
  if (!d.ok()) return vmesh::MakeError(std::string("--") + flag + ": " + d.error().message);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (ms.count() <= 0) return vmesh::MakeError(std::string("--") + flag + " \"" + text + "\": must be positive");
  return ms;
}

// --replica-id: $POD_NAME (a Deployment's pod), else <hostname>-<pid>.
std::string DefaultReplicaId() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "vmesh-hub");
  return std::string(host) + "-" + std::to_string(::getpid());
}

// Keys stored in plain before the key-encryption key was configured get sealed (one transaction); a wrong key
// fails here. Counts only: never key material. Then the private values of Secrets.
vmesh::Status SealAtRest(vmesh::hub::Store& store, const std::string& hub_namespace, const std::string& kek) {
  auto sealed = vmesh::hub::SealKeysAtRest(store, kek);
  if (!sealed.ok()) return sealed.error();
  spdlog::info("keys at rest: link CA {}; {} root key(s) sealed now, {} already sealed",
               sealed->link_ca_sealed ? "sealed now" : "already sealed", sealed->roots_sealed,
               sealed->roots_already_sealed);
  auto secrets = vmesh::hub::ObjectService(
                     store, hub_namespace, [] { return std::chrono::system_clock::now(); }, kek)
                     .SealStoredSecrets();
  if (!secrets.ok()) return secrets.error().Wrap("sealing stored Secrets");
  if (*secrets > 0) {
    // An empty update only checkpoints: the plain values must not linger in the write-ahead log.
    if (auto s = store.ReplaceStoredKeys({}); !s.ok()) return s.error();
    spdlog::info("sealed the private values of {} Secret(s) stored in plain", *secrets);
  }
  return vmesh::OkStatus();
}

// One leadership term: the hub core and the routes over it. Requests in flight keep it alive after it ended.
struct HubTerm {
  vmesh::hub::HubCorePtr core;
  std::unique_ptr<vmesh::hub::HubRoutes> routes;
};

// Leadership changes, handed from the elector's strand (whose callbacks must not block) to one thread that starts
// and stops hub cores in order.
class RoleQueue {
 public:
  struct Event {
    bool lead = false;
    std::string reason;
  };
  void Push(Event e) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      events_.push_back(std::move(e));
    }
    cv_.notify_one();
  }
  // Blocks; nullopt once closed.
  std::optional<Event> Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !events_.empty(); });
    if (closed_) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool closed_ = false;
};

int RunServe(const std::vector<std::string>& args) {
  po::options_description options("vmesh-hub serve");
  options.add_options()                                                                             //
      ("help,h", "show this help")                                                                  //
      ("data-dir", po::value<std::string>(), "the directory `vmesh-hub init` prepared (required)")  //
      ("agent-listen", po::value<std::string>()->default_value("0.0.0.0:9900"),
       "HOST:PORT of the agent endpoint (WSS); port 0 picks a free port")  //
      ("api-listen", po::value<std::string>()->default_value("127.0.0.1:9901"),
       "HOST:PORT of the API endpoint (HTTPS, admin client certificate); port 0 picks a free port")  //
      ("advertise-host", po::value<std::string>(),
       "host agents use to reach the agent endpoint, written into bootstrap bundles (default: the listen "
       "host, or 127.0.0.1 for a wildcard); must be in the server certificate (init --advertise-host)")  //
      ("store", po::value<std::string>()->default_value("sqlite"),
       "sqlite (DIR/hub.db, one replica) or kubernetes (the management cluster; several replicas with leader "
       "election)")  //
      ("kubeconfig", po::value<std::string>(),
       "with --store kubernetes: the management cluster's kubeconfig (default: the in-cluster service account)")  //
      ("namespace", po::value<std::string>()->default_value("vmesh"),
       "the hub namespace of API objects (and, with --store kubernetes, of the hub's Lease, Secrets and "
       "ConfigMaps)")  //
      ("leader-elect-lease-duration", po::value<std::string>()->default_value("15s"),
       "with --store kubernetes: how long followers wait, after they last saw the Lease change, before taking it "
       "over")  //
      ("leader-elect-renew-deadline", po::value<std::string>()->default_value("10s"),
       "with --store kubernetes: the leader steps down (and stops signing) when it could not renew the Lease for "
       "this long; shorter than the lease duration")  //
      ("leader-elect-retry-period", po::value<std::string>()->default_value("2s"),
       "with --store kubernetes: how often replicas try to acquire or renew the Lease; shorter than the renew "
       "deadline")  //
      ("leader-elect-lease-name", po::value<std::string>()->default_value("vmesh-hub"),
       "with --store kubernetes: the coordination.k8s.io Lease in --namespace the replicas elect their leader "
       "with")  //
      ("replica-id", po::value<std::string>(),
       "with --store kubernetes: this replica's identity in the Lease (default: $POD_NAME, else "
       "<hostname>-<pid>)")  //
      ("root-key-encryption-key-file", po::value<std::string>(),
       "seal the link CA key and VirtualMesh root keys at rest with this AES-256 key (32 bytes, 64 hex or 44 base64 "
       "characters; mode 0600 or stricter); keys stored in plain earlier are sealed at start")                     //
      ("identity-ttl", po::value<std::string>()->default_value("24h"), "lifetime of agent identity certificates")  //
      ("status-interval", po::value<std::string>()->default_value("10s"), "how often agents send status reports")  //
      ("ping-interval", po::value<std::string>()->default_value("10s"), "WebSocket ping interval")                 //
      ("idle-timeout", po::value<std::string>()->default_value("30s"), "a silent agent is dead after this long")   //
      ("retry-rejected-after", po::value<std::string>()->default_value("30s"),
       "offer a resource an agent rejected (NACK) again after this long")  //
      ("intermediate-ttl", po::value<std::string>(),
       "lifetime of every mesh intermediate CA, overriding intermediateCertOptions.ttlDays (e.g. 10m to watch "
       "rotation at 2/3 of it; never beyond the root)")                                                              //
      ("max-frame-bytes", po::value<std::size_t>()->default_value(16u << 20), "largest WebSocket message accepted")  //
      ("csr-rate-per-minute", po::value<double>()->default_value(10),
       "CSRs (intermediate CAs and identity renewals) each cluster may have signed per minute; more are refused "
       "naming the limit")  //
      ("csr-burst", po::value<double>()->default_value(10),
       "CSRs a cluster may send at once before the rate applies")  //
      ("max-connections", po::value<std::size_t>()->default_value(1024),
       "connections each endpoint serves at once; further ones are closed at accept (logged, and counted in "
       "vmesh_hub_connections_refused_total)")  //
      ("request-timeout", po::value<std::string>()->default_value("10s"),
       "a TLS handshake, or one HTTP request from its first byte, not complete within this is closed (slow "
       "clients)")  //
      ("keep-alive-timeout", po::value<std::string>()->default_value("30s"),
       "an idle HTTP keep-alive connection is closed after this long");
  vmesh::cli::AddCommonOptions(options);
  auto vm = vmesh::cli::Parse(args, options);
  if (!vm.ok()) return Fail(vm.error().message);
  if (vm->count("help")) {
    std::cout << "Usage: vmesh-hub serve --data-dir DIR [flags]\n\n" << options;
    return 0;
  }
  if (auto s =
          vmesh::log::Init("vmesh-hub", (*vm)["log-level"].as<std::string>(), (*vm)["log-format"].as<std::string>());
      !s.ok()) {
    return Fail(s.error().message);
  }
  if (!vm->count("data-dir")) return Fail("serve: --data-dir is required");
  const std::string dir = (*vm)["data-dir"].as<std::string>();
  const std::string store_kind = (*vm)["store"].as<std::string>();
  if (store_kind != "sqlite" && store_kind != "kubernetes")
    return Fail("serve: --store \"" + store_kind + "\": expected sqlite or kubernetes");
  const bool kube = store_kind == "kubernetes";
  if (!kube) {
    for (const char* flag : {"kubeconfig", "replica-id"}) {
      if (vm->count(flag)) return Fail(std::string("serve: --") + flag + " needs --store kubernetes");
    }
  }
  auto agent_listen = ParseListen("--agent-listen", (*vm)["agent-listen"].as<std::string>());
  if (!agent_listen.ok()) return Fail("serve: " + agent_listen.error().message);
  auto api_listen = ParseListen("--api-listen", (*vm)["api-listen"].as<std::string>());
  if (!api_listen.ok()) return Fail("serve: " + api_listen.error().message);
  const std::string hub_namespace = (*vm)["namespace"].as<std::string>();
  if (auto problem = vmesh::api::Dns1123LabelProblem(hub_namespace)) return Fail("serve: --namespace: " + *problem);
  vmesh::Result<std::chrono::seconds> identity_ttl = ParseSeconds(*vm, "identity-ttl");
  vmesh::Result<std::chrono::seconds> status_interval = ParseSeconds(*vm, "status-interval");
  vmesh::Result<std::chrono::seconds> ping_interval = ParseSeconds(*vm, "ping-interval");
  vmesh::Result<std::chrono::seconds> idle_timeout = ParseSeconds(*vm, "idle-timeout");
  vmesh::Result<std::chrono::seconds> retry_rejected = ParseSeconds(*vm, "retry-rejected-after");
  vmesh::Result<std::chrono::seconds> request_timeout = ParseSeconds(*vm, "request-timeout");
  vmesh::Result<std::chrono::seconds> keep_alive_timeout = ParseSeconds(*vm, "keep-alive-timeout");
  std::optional<std::chrono::seconds> intermediate_ttl;
  if (vm->count("intermediate-ttl")) {
    auto ttl = ParseSeconds(*vm, "intermediate-ttl");
    if (!ttl.ok()) return Fail("serve: " + ttl.error().message);
    if (*ttl < std::chrono::minutes(1)) return Fail("serve: --intermediate-ttl must be at least 1m");
    intermediate_ttl = *ttl;
  }
  for (const auto* d : {&identity_ttl, &status_interval, &ping_interval, &idle_timeout, &retry_rejected,
                        &request_timeout, &keep_alive_timeout}) {
    if (!d->ok()) return Fail("serve: " + d->error().message);
  }
  // Leader election (checked with either store, so that a typo fails the same way everywhere).
  vmesh::kube::LeaderElectionConfig election{
      .lease_namespace = hub_namespace,
      .lease_name = (*vm)["leader-elect-lease-name"].as<std::string>(),
      .identity = vm->count("replica-id") ? (*vm)["replica-id"].as<std::string>() : DefaultReplicaId(),
      .release_on_stop = true};
  {
    auto lease_duration = ParseMillis(*vm, "leader-elect-lease-duration");
    auto renew_deadline = ParseMillis(*vm, "leader-elect-renew-deadline");
    auto retry_period = ParseMillis(*vm, "leader-elect-retry-period");
    for (const auto* d : {&lease_duration, &renew_deadline, &retry_period}) {
      if (!d->ok()) return Fail("serve: " + d->error().message);
    }
    election.lease_duration = *lease_duration;
    election.renew_deadline = *renew_deadline;
    election.retry_period = *retry_period;
    if (auto problem = vmesh::api::Dns1123SubdomainProblem(election.lease_name))
      return Fail("serve: --leader-elect-lease-name " + vmesh::api::QuoteValue(election.lease_name) + " " + *problem);
    if (auto s = vmesh::kube::ValidateLeaderElectionConfig(election); !s.ok())
      return Fail("serve: " + s.error().message);
  }
  const std::string lease_ref = hub_namespace + "/" + election.lease_name;
  const std::size_t max_frame = (*vm)["max-frame-bytes"].as<std::size_t>();
  if (max_frame < 1024) return Fail("serve: --max-frame-bytes must be at least 1024");
  const vmesh::hub::RateLimit csr_rate{(*vm)["csr-rate-per-minute"].as<double>(), (*vm)["csr-burst"].as<double>()};
  if (!(csr_rate.per_minute > 0)) return Fail("serve: --csr-rate-per-minute must be positive");
  if (!(csr_rate.burst >= 1)) return Fail("serve: --csr-burst must be at least 1");
  const std::size_t max_connections = (*vm)["max-connections"].as<std::size_t>();
  if (max_connections < 1) return Fail("serve: --max-connections must be at least 1");
  std::optional<std::string> kek;
  if (vm->count("root-key-encryption-key-file")) {
    auto key = vmesh::pki::LoadKeyEncryptionKey((*vm)["root-key-encryption-key-file"].as<std::string>());
    if (!key.ok()) return Fail("serve: " + key.error().message);
    kek = std::move(*key);
  }
  if ((!kube && !vmesh::FileExists(vmesh::hub::StorePath(dir))) ||
      !vmesh::FileExists(vmesh::hub::ServerCertificatePath(dir)) ||
      !vmesh::FileExists(vmesh::hub::ServerKeyPath(dir))) {
    return Fail("serve: " + dir + " is not an initialized hub data directory (run vmesh-hub init --data-dir " + dir +
                (kube ? " --store kubernetes" : "") + " first)");
  }
  std::optional<vmesh::kube::ClusterConfig> kube_config;
  if (kube) {
    auto config = KubeConfigFrom(*vm);
    if (!config.ok()) return Fail("serve: " + config.error().message);
    kube_config = std::move(*config);
  }

  // The SQLite store is one process's: DIR/serve.lock. The Kubernetes store is shared by the replicas, and the
  // Lease decides which of them writes.
  std::optional<int> lock;
  if (!kube) {
    auto locked = LockDataDir(dir);
    if (!locked.ok()) return Fail("serve: " + locked.error().message, 1);
    lock = *locked;
  }
  // endpoints.json describes a running server: a stale one must not mislead whoever waits for it.
  const std::string endpoints_path = dir + "/endpoints.json";
  std::remove(endpoints_path.c_str());

  vmesh::Result<vmesh::hub::StorePtr> store = vmesh::MakeError("unset");
  // The elector's own client: each Lease request must finish within a retry period, so that a hanging request
  // never holds up the next attempt for long.
  vmesh::kube::KubeClientPtr lease_client;
  if (kube) {
    auto client = ConnectKube(*kube_config, election.retry_period);
    if (!client.ok()) return Fail("serve: " + client.error().message, 1);
    lease_client = std::move(*client);
    store = OpenKubeStore(*kube_config, hub_namespace, kek);
  } else {
    store = vmesh::hub::OpenSqliteStore(vmesh::hub::StorePath(dir));
  }
  if (!store.ok()) return Fail("serve: " + store.error().message, 1);
  const std::string init_hint = kube ? "run vmesh-hub init --store kubernetes --namespace " + hub_namespace + " first"
                                     : "run vmesh-hub init first";
  auto hub_name = (*store)->GetSetting(vmesh::hub::kHubNameSetting);
  if (!hub_name.ok()) return Fail("serve: " + hub_name.error().message, 1);
  if (!hub_name->has_value())
    return Fail("serve: " + (kube ? "the Kubernetes store in namespace " + hub_namespace : dir) + " has no hub name (" +
                    init_hint + ")",
                1);
  if (kek && !kube) {
    // With the Kubernetes store only the leader writes: it seals when it starts its term.
    if (auto s = SealAtRest(**store, hub_namespace, *kek); !s.ok()) return Fail("serve: " + s.error().message, 1);
  }
  auto link_ca = vmesh::hub::LoadLinkCa(**store, kek);
  if (!link_ca.ok()) return Fail("serve: " + link_ca.error().message, 1);
  if (!kube) {
    // Data directories from before admin serials were pinned: pin admin.vmeshconfig's certificate, once.
    if (auto pinned = vmesh::hub::PinAdminCredentialOnce(
            **store, *link_ca, **hub_name, vmesh::hub::AdminConfigPath(dir), std::chrono::system_clock::now());
        !pinned.ok()) {
      return Fail("serve: admin credential: " + pinned.error().message, 1);
    } else if (pinned->has_value()) {
      spdlog::info("pinned the admin certificate of {} (serial {})", vmesh::hub::AdminConfigPath(dir), **pinned);
    }
  }
  auto server_cert = vmesh::ReadFile(vmesh::hub::ServerCertificatePath(dir));
  auto server_key = vmesh::ReadFile(vmesh::hub::ServerKeyPath(dir), vmesh::ReadOptions{.no_follow = true});
  if (!server_cert.ok()) return Fail("serve: " + server_cert.error().message, 1);
  if (!server_key.ok()) return Fail("serve: " + server_key.error().message, 1);
  vmesh::pki::SecureString server_key_pem(std::move(*server_key));
  auto tls = vmesh::link::TlsContext::Server({*server_cert, server_key_pem.value(), link_ca->certificate().ToPem()});
  server_key_pem.Clear();
  if (!tls.ok()) return Fail("serve: server TLS: " + tls.error().message, 1);

  // SIGINT/SIGTERM are taken by sigwait below; block them before any thread starts so that every thread
  // inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto clock = [] { return std::chrono::system_clock::now(); };
  vmesh::link::EventLoop loop(2);
  // The elector keeps its own thread: the store's calls block the loop's threads (for up to a request timeout
  // when the API server is unreachable), and the watchdog must end a term at the renew deadline regardless.
  std::optional<vmesh::link::EventLoop> election_loop;
  if (kube) election_loop.emplace(1);
  vmesh::metrics::Registry metrics;
  vmesh::hub::RoleGate gate(kube ? std::optional<std::string>(lease_ref) : std::nullopt, metrics);
  std::unique_ptr<vmesh::kube::LeaderElector> elector;

  metrics.DeclareCounter("vmesh_hub_connections_refused_total",
                         "Connections closed at accept by endpoint (agent|api): --max-connections were served.");
  auto refused = [&metrics](const char* endpoint) {
    return [&metrics, endpoint] { metrics.Increment("vmesh_hub_connections_refused_total", {{"endpoint", endpoint}}); };
  };
  vmesh::link::ConnectionOptions connection;
  connection.max_message_bytes = max_frame;
  connection.ping_interval = *ping_interval;
  connection.idle_timeout = *idle_timeout;
  // The identity check is the current term's (the core's), looked up per handshake.
  vmesh::link::ServerOptions agent_options{
      .host = agent_listen->host,
      .port = agent_listen->port,
      .tls = *tls,
      .connection = connection,
      .identity_check = [&gate](const vmesh::link::PeerIdentity& peer) { return gate.CheckIdentity(peer); },
      .tls_handshake_timeout = *request_timeout,
      .request_timeout = *request_timeout,
      .keep_alive_timeout = *keep_alive_timeout,
      .max_connections = max_connections,
      .on_connection_refused = refused("agent")};
  vmesh::link::Server agent_server(loop.context(), agent_options);
  // Manifests may be as large as the codec accepts.
  vmesh::link::Server api_server(loop.context(), vmesh::link::ServerOptions{.host = api_listen->host,
                                                                            .port = api_listen->port,
                                                                            .tls = *tls,
                                                                            .max_request_body_bytes = 8u << 20,
                                                                            .tls_handshake_timeout = *request_timeout,
                                                                            .request_timeout = *request_timeout,
                                                                            .keep_alive_timeout = *keep_alive_timeout,
                                                                            .max_connections = max_connections,
                                                                            .on_connection_refused = refused("api")});
  vmesh::hub::InstallGatedRoutes(agent_server, api_server, gate);
  if (auto s = agent_server.Start(); !s.ok()) return Fail("serve: agent endpoint: " + s.error().message, 1);

  std::string agent_host = vm->count("advertise-host")      ? (*vm)["advertise-host"].as<std::string>()
                           : IsWildcard(agent_listen->host) ? std::string("127.0.0.1")
                                                            : agent_listen->host;
  const std::string agent_url = "wss://" + UrlHostPort(agent_host, agent_server.port());
  vmesh::hub::RegistrationService registration(
      **store, *link_ca,
      vmesh::hub::RegistrationOptions{.hub_name = **hub_name, .agent_url = agent_url, .identity_ttl = *identity_ttl},
      clock);
  vmesh::hub::ObjectService objects(**store, hub_namespace, clock, kek);
  vmesh::hub::CaService ca(**store, kek, clock);
  if (intermediate_ttl) ca.set_intermediate_ttl(*intermediate_ttl);
  if (kube) {
    // Fencing: nothing is signed unless this replica holds the Lease and renewed it within the renew deadline.
    auto guard = [&elector, &gate]() -> vmesh::Status {
      if (elector && elector->MaySign()) return vmesh::OkStatus();
      return vmesh::MakeError(gate.NotLeaderMessage());
    };
    registration.set_signing_guard(guard);
    ca.set_signing_guard(guard);
  }

  // A term: a fresh core over the store, installed in the gate (so /readyz says "loading" until Start() is done).
  auto begin_term = [&]() -> vmesh::Result<std::shared_ptr<HubTerm>> {
    if (kube && kek) {
      if (auto s = SealAtRest(**store, hub_namespace, *kek); !s.ok()) return s.error();
    }
    auto term = std::make_shared<HubTerm>();
    term->core = vmesh::hub::MakeHubCore(
        vmesh::hub::HubCoreDeps{loop.context(), **store, registration, objects, ca, metrics, clock},
        vmesh::hub::HubCoreOptions{
            .hub_name = **hub_name,
            .hub_namespace = hub_namespace,
            .status_interval = *status_interval,
            .retry_rejected_after = std::chrono::duration_cast<std::chrono::milliseconds>(*retry_rejected),
            .csr_rate = csr_rate});
    vmesh::hub::HubCore* core = term->core.get();
    term->routes = std::make_unique<vmesh::hub::HubRoutes>(vmesh::hub::HubRoutes{
        registration, **store, **hub_name, hub_namespace,
        [core](const std::string& cluster) { core->OnDeregistered(cluster); }, &objects, core, &metrics, &*link_ca});
    auto leader = std::make_shared<vmesh::hub::LeaderTerm>();
    leader->api = [term](const vmesh::link::HttpRequest& r) { return term->routes->Api(r); };
    leader->bootstrap = [term](const vmesh::link::HttpRequest& r) { return term->routes->Bootstrap(r); };
    leader->connect = [term, route = core->ConnectRoute()](const vmesh::link::HttpRequest& r) {
      return route.on_upgrade(r);
    };
    leader->identity_check = core->IdentityCheck();
    gate.Lead(leader);
    if (auto s = core->Start(); !s.ok()) {
      gate.Follow();
      core->Stop();
      return s.error();
    }
    (**store).SetChangeListener([weak = std::weak_ptr<HubTerm>(term)] {
      if (auto t = weak.lock()) t->core->TriggerReconcile();
    });
    return term;
  };
  std::shared_ptr<HubTerm> term;

  if (auto s = api_server.Start(); !s.ok()) {
    agent_server.Stop();
    return Fail("serve: API endpoint: " + s.error().message, 1);
  }

  // With leader election, terms begin and end on this thread as the elector reports; a term that cannot begin
  // is fatal (the process exits 1 and releases the Lease, so that another replica can try).
  RoleQueue role_events;
  std::thread role_thread;
  std::mutex fatal_mu;
  std::string fatal;
  if (kube) {
    elector = std::make_unique<vmesh::kube::LeaderElector>(
        *lease_client, election,
        vmesh::kube::LeaderElectionCallbacks{.on_started_leading =
                                                 [&role_events] {
                                                   role_events.Push({true, ""});
                                                 },
                                             .on_stopped_leading =
                                                 [&role_events](const std::string& reason) {
                                                   role_events.Push({false, reason});
                                                 },
                                             .on_new_holder =
                                                 [&gate, &lease_ref](const std::string& holder) {
                                                   gate.SetHolder(holder);
                                                   spdlog::info("lease {} is held by {}", lease_ref,
                                                                holder.empty() ? "nobody" : holder);
                                                 }});
    role_thread = std::thread([&] {
      while (auto event = role_events.Pop()) {
        if (event->lead) {
          if (term || !elector->MaySign()) continue;  // already leading, or lost again meanwhile (a stop follows)
          auto begun = begin_term();
          if (!begun.ok()) {
            spdlog::error("cannot start the hub core as leader: {}", begun.error().message);
            {
              std::lock_guard lock(fatal_mu);
              fatal = "starting the hub core as leader: " + begun.error().message;
            }
            ::kill(::getpid(), SIGTERM);
            return;
          }
          term = std::move(*begun);
          spdlog::info("became leader (lease {}, transitions {}, replica {})", lease_ref, elector->transitions(),
                       election.identity);
        } else if (term) {
          // Fenced already (the CA and registration refuse to sign); then sessions go (1012) and the core stops.
          spdlog::warn("lost leadership (lease {}: {}); closing agent sessions and stopping the hub core", lease_ref,
                       event->reason);
          gate.Follow();
          term->core->StepDown();
          term.reset();
          spdlog::info("now a follower (lease {})", lease_ref);
        }
      }
    });
    elector->Start(election_loop->context().get_executor());
  } else {
    auto begun = begin_term();
    if (!begun.ok()) {
      api_server.Stop();
      agent_server.Stop();
      return Fail("serve: " + begun.error().message, 1);
    }
    term = std::move(*begun);
  }

  const std::string api_host =
      IsWildcard(api_listen->host)
          ? (vm->count("advertise-host") ? (*vm)["advertise-host"].as<std::string>() : std::string("127.0.0.1"))
          : api_listen->host;
  const std::string api_url = "https://" + UrlHostPort(api_host, api_server.port());
  // admin.vmeshconfig first: endpoints.json appearing tells scripts that everything is in place.
  if (auto s = RewriteAdminConfig(vmesh::hub::AdminConfigPath(dir), api_url); !s.ok()) {
    spdlog::warn("admin.vmeshconfig not updated with the API address {}: {}", api_url, s.error().message);
  }
  const std::string endpoints =
      boost::json::serialize(boost::json::object{{"agentUrl", agent_url}, {"apiUrl", api_url}}) + "\n";
  if (auto s = vmesh::WriteFileAtomically(endpoints_path, endpoints, 0644); !s.ok()) {
    spdlog::error("cannot write {}/endpoints.json: {}", dir, s.error().message);
  }
  if (kube) {
    spdlog::info(
        "hub {} replica {} serving agents on {} API on {} (Kubernetes store, namespace {}; leader election "
        "on lease {})",
        **hub_name, election.identity, agent_url, api_url, hub_namespace, lease_ref);
  } else {
    spdlog::info("hub {} serving agents on {} API on {} (data dir {})", **hub_name, agent_url, api_url, dir);
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::string fatal_message;
  {
    std::lock_guard lock(fatal_mu);
    fatal_message = fatal;
  }
  if (fatal_message.empty()) spdlog::info("{}: shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  api_server.Stop();
  agent_server.Stop();
  if (kube) {
    role_events.Close();
    role_thread.join();
  }
  // The core stops while this replica still holds the Lease; only then is the Lease released, so the next leader
  // never overlaps with this one.
  gate.Follow();
  if (term) term->core->Stop();
  term.reset();
  if (elector) {
    std::promise<void> released;
    elector->Stop([&released] { released.set_value(); });
    if (released.get_future().wait_for(election.retry_period * 2) != std::future_status::ready) {
      spdlog::warn("the lease {} was not released in time; other replicas take over when it expires", lease_ref);
    }
  }
  if (election_loop) election_loop->Stop();
  loop.Stop();
  std::remove(endpoints_path.c_str());
  if (!fatal_message.empty()) return Fail("serve: " + fatal_message, 1);
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "vmesh-hub " << VMESH_VERSION << "\n";
    return 0;
  }
  if (command == "init") return RunInit(args);
  if (command == "serve") return RunServe(args);
  return Fail("unknown command \"" + command + "\" (see vmesh-hub --help)");
}
