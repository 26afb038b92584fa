// vmesh-hub: wires the hub's parts together; the logic lives in hub/<area>/.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "common/api/dns.h"
#include "common/api/duration.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/cli/cli.h"
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
#include "hub/server/routes.h"
#include "hub/session/hub_core.h"
#include "vmesh/config/v1/config.pb.h"

namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    R"(vmesh-hub — the fleet side of vmesh: VirtualMesh intent, root CAs, cluster registry, status.

Usage:
  vmesh-hub init --data-dir DIR [--hub-name NAME] [--advertise-host HOST]... [--api-url URL]
                 [--root-key-encryption-key-file FILE]
  vmesh-hub serve --data-dir DIR [--agent-listen 0.0.0.0:9900] [--api-listen 127.0.0.1:9901] [flags]
  vmesh-hub --help | --version
  vmesh-hub <command> --help

Commands:
  init    Create the hub's link CA, its TLS server certificate and DIR/admin.vmeshconfig (the credential
          vmeshctl uses). Safe to re-run: existing material is never overwritten.
  serve   Serve agents (WSS: /v1/bootstrap, /v1/connect) and the admin API (HTTPS, admin client certificate;
          /healthz, /readyz and /metrics without one) from the SQLite store in DIR, until SIGINT/SIGTERM. Once
          listening it writes DIR/endpoints.json and points admin.vmeshconfig at the bound API address.
          One serve per data directory (DIR/serve.lock).

Every flag can also come from a YAML file (--config FILE; keys are the flag names).
)";

// One line on stderr; exit code 2 for bad flags or config, 1 for failures at run time.
int Fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "vmesh-hub: %s\n", message.c_str());
  return code;
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
       "stricter");
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
  auto report = vmesh::hub::InitHub(init, std::chrono::system_clock::now());
  if (!report.ok()) return Fail("init: " + report.error().message);
  if (report->hub_name != init.hub_name) {
    spdlog::warn("the hub is already named {} (the name is fixed at the first init); --hub-name {} ignored",
                 report->hub_name, init.hub_name);
  }
  for (const auto& what : report->created) std::cout << "created " << what << "\n";
  for (const auto& what : report->kept) std::cout << "kept    " << what << " (exists)\n";
  std::cout << "hub " << report->hub_name << " initialized in " << init.data_dir << "\n";
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
       "host, or 127.0.0.1 for a wildcard); must be in the server certificate (init --advertise-host)")       //
      ("store", po::value<std::string>()->default_value("sqlite"), "sqlite (kubernetes: not in this build)")  //
      ("namespace", po::value<std::string>()->default_value("vmesh"), "the hub namespace of API objects")     //
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
  if (store_kind == "kubernetes") return Fail("serve: --store kubernetes is not supported in this build");
  if (store_kind != "sqlite") return Fail("serve: --store \"" + store_kind + "\": expected sqlite or kubernetes");
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
  if (!vmesh::FileExists(vmesh::hub::StorePath(dir)) || !vmesh::FileExists(vmesh::hub::ServerCertificatePath(dir)) ||
      !vmesh::FileExists(vmesh::hub::ServerKeyPath(dir))) {
    return Fail("serve: " + dir + " is not an initialized hub data directory (run vmesh-hub init --data-dir " + dir +
                " first)");
  }

  auto lock = LockDataDir(dir);
  if (!lock.ok()) return Fail("serve: " + lock.error().message, 1);
  // endpoints.json describes a running server: a stale one must not mislead whoever waits for it.
  const std::string endpoints_path = dir + "/endpoints.json";
  std::remove(endpoints_path.c_str());

  auto store = vmesh::hub::OpenSqliteStore(vmesh::hub::StorePath(dir));
  if (!store.ok()) return Fail("serve: " + store.error().message, 1);
  auto hub_name = (*store)->GetSetting(vmesh::hub::kHubNameSetting);
  if (!hub_name.ok()) return Fail("serve: " + hub_name.error().message, 1);
  if (!hub_name->has_value()) return Fail("serve: " + dir + " has no hub name (run vmesh-hub init first)", 1);
  if (kek) {
    // Keys stored before the key-encryption key was configured get sealed now (one transaction); a wrong key
    // fails here. Counts only: never key material.
    auto sealed = vmesh::hub::SealKeysAtRest(**store, *kek);
    if (!sealed.ok()) return Fail("serve: " + sealed.error().message, 1);
    spdlog::info("keys at rest: link CA {}; {} root key(s) sealed now, {} already sealed",
                 sealed->link_ca_sealed ? "sealed now" : "already sealed", sealed->roots_sealed,
                 sealed->roots_already_sealed);
    // Then the private values of Secrets (a user-provided root's key.pem), once the key is known to be right.
    auto secrets = vmesh::hub::ObjectService(
                       **store, hub_namespace, [] { return std::chrono::system_clock::now(); }, kek)
                       .SealStoredSecrets();
    if (!secrets.ok()) return Fail("serve: sealing stored Secrets: " + secrets.error().message, 1);
    if (*secrets > 0) {
      // An empty update only checkpoints: the plain values must not linger in the write-ahead log.
      if (auto s = (*store)->ReplaceStoredKeys({}); !s.ok()) return Fail("serve: " + s.error().message, 1);
      spdlog::info("sealed the private values of {} Secret(s) stored in plain", *secrets);
    }
  }
  auto link_ca = vmesh::hub::LoadLinkCa(**store, kek);
  if (!link_ca.ok()) return Fail("serve: " + link_ca.error().message, 1);
  // Data directories from before admin serials were pinned: pin admin.vmeshconfig's certificate, once.
  if (auto pinned = vmesh::hub::PinAdminCredentialOnce(**store, *link_ca, **hub_name, vmesh::hub::AdminConfigPath(dir),
                                                       std::chrono::system_clock::now());
      !pinned.ok()) {
    return Fail("serve: admin credential: " + pinned.error().message, 1);
  } else if (pinned->has_value()) {
    spdlog::info("pinned the admin certificate of {} (serial {})", vmesh::hub::AdminConfigPath(dir), **pinned);
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
  vmesh::metrics::Registry metrics;
  std::unique_ptr<vmesh::hub::RegistrationService> registration;
  std::unique_ptr<vmesh::hub::ObjectService> objects;
  std::unique_ptr<vmesh::hub::CaService> ca;
  vmesh::hub::HubCorePtr core;
  std::unique_ptr<vmesh::hub::HubRoutes> routes;

  // The agent endpoint binds first: its port goes into bootstrap bundles. The core (and its identity check)
  // exists only afterwards, so the check is looked up per handshake.
  struct LateIdentityCheck {
    std::mutex mu;
    vmesh::link::IdentityCheck check;
  };
  auto identity = std::make_shared<LateIdentityCheck>();
  metrics.DeclareCounter("vmesh_hub_connections_refused_total",
                         "Connections closed at accept by endpoint (agent|api): --max-connections were served.");
  auto refused = [&metrics](const char* endpoint) {
    return [&metrics, endpoint] { metrics.Increment("vmesh_hub_connections_refused_total", {{"endpoint", endpoint}}); };
  };
  vmesh::link::ConnectionOptions connection;
  connection.max_message_bytes = max_frame;
  connection.ping_interval = *ping_interval;
  connection.idle_timeout = *idle_timeout;
  vmesh::link::ServerOptions agent_options{.host = agent_listen->host,
                                           .port = agent_listen->port,
                                           .tls = *tls,
                                           .connection = connection,
                                           .identity_check =
                                               [identity](const vmesh::link::PeerIdentity& peer) {
                                                 vmesh::link::IdentityCheck check;
                                                 {
                                                   std::lock_guard lock(identity->mu);
                                                   check = identity->check;
                                                 }
                                                 return check && check(peer);
                                               },
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
  if (auto s = agent_server.Start(); !s.ok()) return Fail("serve: agent endpoint: " + s.error().message, 1);

  std::string agent_host = vm->count("advertise-host")      ? (*vm)["advertise-host"].as<std::string>()
                           : IsWildcard(agent_listen->host) ? std::string("127.0.0.1")
                                                            : agent_listen->host;
  const std::string agent_url = "wss://" + UrlHostPort(agent_host, agent_server.port());
  registration = std::make_unique<vmesh::hub::RegistrationService>(
      **store, *link_ca,
      vmesh::hub::RegistrationOptions{.hub_name = **hub_name, .agent_url = agent_url, .identity_ttl = *identity_ttl},
      clock);
  objects = std::make_unique<vmesh::hub::ObjectService>(**store, hub_namespace, clock, kek);
  ca = std::make_unique<vmesh::hub::CaService>(**store, kek, clock);
  if (intermediate_ttl) ca->set_intermediate_ttl(*intermediate_ttl);
  core = vmesh::hub::MakeHubCore(
      vmesh::hub::HubCoreDeps{loop.context(), **store, *registration, *objects, *ca, metrics, clock},
      vmesh::hub::HubCoreOptions{
          .hub_name = **hub_name,
          .hub_namespace = hub_namespace,
          .status_interval = *status_interval,
          .retry_rejected_after = std::chrono::duration_cast<std::chrono::milliseconds>(*retry_rejected),
          .csr_rate = csr_rate});
  {
    std::lock_guard lock(identity->mu);
    identity->check = core->IdentityCheck();
  }
  routes = std::make_unique<vmesh::hub::HubRoutes>(
      vmesh::hub::HubRoutes{*registration, **store, **hub_name, hub_namespace,
                            [&core](const std::string& cluster) { core->OnDeregistered(cluster); }, objects.get(),
                            core.get(), &metrics, &*link_ca});
  vmesh::hub::InstallAgentRoutes(agent_server, *routes);
  vmesh::hub::InstallApiRoutes(api_server, *routes);
  if (auto s = api_server.Start(); !s.ok()) {
    agent_server.Stop();
    core->Stop();
    return Fail("serve: API endpoint: " + s.error().message, 1);
  }
  // /readyz says 503 until the core has loaded the store and reconciled once.
  if (auto s = core->Start(); !s.ok()) {
    api_server.Stop();
    agent_server.Stop();
    core->Stop();
    return Fail("serve: " + s.error().message, 1);
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
  spdlog::info("hub {} serving agents on {} API on {} (data dir {})", **hub_name, agent_url, api_url, dir);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("{}: shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  api_server.Stop();
  agent_server.Stop();
  core->Stop();
  loop.Stop();
  std::remove(endpoints_path.c_str());
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
