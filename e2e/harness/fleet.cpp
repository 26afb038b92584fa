#include "e2e/harness/fleet.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/link/client.h"
#include "common/link/tls.h"
#include "e2e/proxy/service_proxy.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::e2e {

namespace fs = std::filesystem;

Binaries Binaries::FromBuild() {
  const std::string bin = testpaths::BinaryDir();
  return Binaries{bin + "/hub/vmesh-hub", bin + "/agent/vmesh-agent", bin + "/hub/vmeshctl",
                  bin + "/e2e/kubesim/kubesim"};
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("VMESH_E2E_KEEP");
  if (path_.empty() || (keep && std::string(keep) == "1")) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fallback;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------------------------

Daemon::~Daemon() { Stop(std::chrono::seconds(5)); }

Status Daemon::Start(const std::vector<std::string>& argv, const std::string& log_path,
                     const std::vector<std::string>& env) {
  log_path_ = log_path;
  // The shell only redirects and then becomes the program (same pid), so signals reach the program itself.
  std::string command = "exec";
  for (const auto& arg : argv) {
    std::string quoted = "'";
    for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += " " + quoted + "'";
  }
  command += " >>'" + log_path + "' 2>&1";
  return process_.Start({"/bin/sh", "-c", command}, env);
}

int Daemon::Stop(std::chrono::milliseconds grace) {
  if (!process_.running()) return -1;
  return process_.Terminate(grace);
}

void Daemon::Kill9() {
  if (!process_.running()) return;
  ::kill(process_.pid(), SIGKILL);
  process_.Terminate(std::chrono::milliseconds(100));  // reaps
}

bool Daemon::running() { return process_.running() && process_.Wait(std::chrono::milliseconds(0)) == -1; }

// ---------------------------------------------------------------------------------------------------------

HubProcess::HubProcess(Binaries binaries)
    : binaries_(std::move(binaries)), dir_("vmesh-hub"), logs_("vmesh-hub-logs") {}

HubProcess::~HubProcess() { daemon_.Stop(std::chrono::seconds(10)); }

Status HubProcess::Init(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {binaries_.hub, "init", "--data-dir", dir_.path()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto out = kubesim::RunProcess(argv, std::chrono::seconds(60));
  init_output_ += out.output;
  if (out.exit_code != 0)
    return MakeError("vmesh-hub init failed (" + std::to_string(out.exit_code) + "): " + out.output);
  return OkStatus();
}

Status HubProcess::Serve(const std::vector<std::string>& extra_args, std::chrono::milliseconds timeout) {
  const std::string endpoints = dir_.path() + "/endpoints.json";
  std::error_code ec;
  fs::remove(endpoints, ec);
  // A restarted hub listens where agents already know to find it.
  const std::string agent_listen = "127.0.0.1:" + std::to_string(agent_port());
  std::vector<std::string> argv = {binaries_.hub,    "serve",      "--data-dir",   dir_.path(),
                                   "--agent-listen", agent_listen, "--api-listen", "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const std::string log = logs_.path() + "/hub-" + std::to_string(++serves_) + ".log";
  if (Status s = daemon_.Start(argv, log); !s.ok()) return s;
  bool up = WaitFor(
      [&] {
        std::string text = ReadFileOr(endpoints);
        if (text.empty()) return false;
        boost::system::error_code jec;
        auto v = boost::json::parse(text, jec);
        if (jec || !v.is_object()) return false;
        const auto& o = v.as_object();
        if (!o.contains("agentUrl") || !o.contains("apiUrl")) return false;
        agent_url_ = std::string(o.at("agentUrl").as_string());
        api_url_ = std::string(o.at("apiUrl").as_string());
        return true;
      },
      timeout);
  if (!up) return MakeError("vmesh-hub serve did not write " + endpoints + "; log:\n" + daemon_.Log());
  return OkStatus();
}

namespace {

uint16_t UrlPort(const std::string& url) {
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<uint16_t>(std::atoi(url.c_str() + colon + 1));
}

// A cluster's state in `vmeshctl cluster list -o json` output, or "".
std::string ClusterStateIn(const ProcessOutput& out, const std::string& cluster) {
  if (out.exit_code != 0) return "";
  const boost::json::value v = ParseJson(out.output);
  const boost::json::value* items = JsonAt(v, {"items"});
  if (!items || !items->is_array()) return "";
  for (const auto& item : items->as_array()) {
    if (JsonString(item, {"metadata", "name"}) == cluster) return JsonString(item, {"status", "state"});
  }
  return "";
}

}  // namespace

uint16_t HubProcess::agent_port() const { return UrlPort(agent_url_); }
uint16_t HubProcess::api_port() const { return UrlPort(api_url_); }

Status HubProcess::AdoptDataDir(const std::string& from) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "serve.lock" || name == "endpoints.json") continue;
    fs::copy(entry.path(), fs::path(dir_.path()) / name,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec) return MakeError("cannot copy " + entry.path().string() + " to " + dir_.path() + ": " + ec.message());
  }
  if (ec) return MakeError("cannot read " + from + ": " + ec.message());
  return OkStatus();
}

std::string HubProcess::AllLogs() const {
  std::string all = init_output_;
  for (int i = 1; i <= serves_; ++i) {
    all += "--- serve " + std::to_string(i) + "\n" + ReadFileOr(logs_.path() + "/hub-" + std::to_string(i) + ".log");
  }
  return all;
}

ProcessOutput HubProcess::Ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {binaries_.vmeshctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return kubesim::RunProcess(argv, timeout, {"VMESHCONFIG=" + admin_config()});
}

HubProcess::ApiAnswer HubProcess::Api(const std::string& method, const std::string& path,
                                      const std::string& body) const {
  config::v1::AdminConfig admin;
  auto errors = api::DecodeInto(ReadFileOr(admin_config()), &admin);
  if (!errors.empty()) return {0, "cannot read " + admin_config() + ": " + errors.front().ToString()};
  auto tls = link::TlsContext::Client({admin.hub_ca(), admin.client_certificate(), admin.client_key()});
  if (!tls.ok()) return {0, tls.error().message};
  link::FetchRequest request;
  request.method = method;
  request.url = api_url_ + path;
  request.body = body;
  request.content_type = "application/json";
  auto response = link::Fetch(*tls, request);
  if (!response.ok()) return {0, response.error().message};
  return {response->status, response->body};
}

double HubProcess::Metric(const std::string& name, const std::string& label_filter) const {
  auto answer = Api("GET", "/metrics");
  if (answer.status != 200) return -1;
  return MetricIn(answer.body, name, label_filter);
}

double MetricIn(const std::string& exposition, const std::string& name, const std::string& label_filter) {
  std::istringstream lines(exposition);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (!label_filter.empty() && line.find(label_filter) == std::string::npos) continue;
    auto space = line.rfind(' ');
    sum += std::atof(line.c_str() + space + 1);
    found = true;
  }
  return found ? sum : -1;
}

std::string HubProcess::ClusterState(const std::string& cluster) const {
  return ClusterStateIn(Ctl({"cluster", "list", "-o", "json"}), cluster);
}

Result<std::string> HubProcess::Register(const std::string& cluster, const std::string& ttl) {
  const std::string out = logs_.path() + "/" + cluster + ".bundle.yaml";
  auto result = Ctl({"cluster", "register", cluster, "--ttl", ttl, "--out", out});
  if (result.exit_code != 0) return MakeError("vmeshctl cluster register " + cluster + ": " + result.output);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

ClusterUnderTest::ClusterUnderTest(Binaries binaries, std::string name, int index)
    : binaries_(std::move(binaries)), name_(std::move(name)), index_(index), logs_("vmesh-agent-" + name_) {}

ClusterUnderTest::~ClusterUnderTest() { agent_.Stop(std::chrono::seconds(10)); }

Status ClusterUnderTest::StartKubesim(const std::vector<std::string>& seeds, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--cluster-index", std::to_string(index_)};
  for (const auto& seed : seeds) {
    args.push_back("--seed");
    args.push_back(testpaths::SourceDir() + "/e2e/kubesim/seeds/" + seed);
  }
  args.push_back("--crds");
  args.push_back(testpaths::IstioCrdsFile());
  args.insert(args.end(), extra.begin(), extra.end());
  return kubesim_.Start(binaries_.kubesim, name_, args);
}

Status ClusterUnderTest::StartAgent(const std::string& bundle_path, const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {binaries_.agent,       "--cluster",      name_,
                                   "--bootstrap",         bundle_path,      "--kubeconfig",
                                   kubesim_.kubeconfig(), "--admin-listen", "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return agent_.Start(argv, logs_.path() + "/agent.log");
}

boost::json::value ParseJson(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  return ec ? boost::json::value() : v;
}

const boost::json::value* JsonAt(const boost::json::value& v, std::initializer_list<const char*> path) {
  const boost::json::value* at = &v;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    at = at->as_object().if_contains(key);
    if (!at) return nullptr;
  }
  return at;
}

std::string JsonString(const boost::json::value& v, std::initializer_list<const char*> path) {
  const boost::json::value* at = JsonAt(v, path);
  if (!at) return "";
  if (at->is_string()) return std::string(at->as_string());
  if (at->is_int64()) return std::to_string(at->as_int64());
  if (at->is_bool()) return at->as_bool() ? "true" : "false";
  return "";
}

std::string MeshState(const boost::json::value& vm, const std::string& mesh_key) {
  const boost::json::value* meshes = JsonAt(vm, {"status", "meshes"});
  if (!meshes || !meshes->is_object() || !meshes->as_object().contains(mesh_key)) return "";
  std::string state = JsonString(meshes->as_object().at(mesh_key), {"state"});
  return state.empty() ? "PENDING" : state;
}

std::string FleetLogs(const HubProcess& hub, const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters) {
  std::string all = "--- hub\n" + hub.Log();
  for (const auto& c : clusters) all += "--- agent " + c->name() + "\n" + c->AgentLog();
  return all;
}

Result<std::string> RewriteBundleHubUrl(const std::string& bundle_path, const std::string& hub_url) {
  config::v1::BootstrapBundle bundle;
  auto errors = api::DecodeInto(ReadFileOr(bundle_path), &bundle);
  if (!errors.empty()) return MakeError("cannot read bundle " + bundle_path + ": " + errors.front().ToString());
  bundle.set_hub_url(hub_url);
  const std::string path = bundle_path + ".rewritten.yaml";
  // A bundle carries a bootstrap token: written like every credential file (mkstemp, 0600, rename).
  if (Status s = WriteFileAtomically(path, api::Encode(bundle, api::Format::kYaml), 0600); !s.ok()) return s.error();
  return path;
}

// ---------------------------------------------------------------------------------------------------------

ManagementCluster::ManagementCluster(Binaries binaries) : binaries_(std::move(binaries)) {}

Status ManagementCluster::Start(const std::vector<std::string>& extra_args) {
  // HTTPS with a bearer token, as a real API server (kubectl sends a token only over TLS, and asks for a user
  // name against an HTTPS server without credentials).
  std::vector<std::string> args = {"--tls", "--token", "vmesh-e2e-management"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (Status s = kubesim_.Start(binaries_.kubesim, "management", args); !s.ok()) return s;
  auto ns = Kubectl({"create", "namespace", "vmesh"});
  if (ns.exit_code != 0) return MakeError("kubectl create namespace vmesh: " + ns.output);
  const std::string crds = testpaths::SourceDir() + "/charts/vmesh-hub/crds/";
  auto applied = Kubectl({"apply", "-f", crds});
  if (applied.exit_code != 0) return MakeError("kubectl apply -f " + crds + ": " + applied.output);
  auto established =
      Kubectl({"wait", "--for", "condition=established", "--timeout", "30s", "-f", crds}, std::chrono::seconds(40));
  if (established.exit_code != 0) {
    return MakeError("kubectl wait --for condition=established -f " + crds + ": " + established.output);
  }
  return OkStatus();
}

Result<std::string> ManagementCluster::KubeconfigVia(uint16_t port, const std::string& name) const {
  std::string text = ReadFileOr(kubeconfig());
  const std::string from = "127.0.0.1:" + std::to_string(kubesim_.port());
  const auto at = text.find(from);
  if (at == std::string::npos) return MakeError(kubeconfig() + " does not name the server " + from);
  text.replace(at, from.size(), "127.0.0.1:" + std::to_string(port));
  if (text.find(from) != std::string::npos) return MakeError(kubeconfig() + " names the server twice");
  return kubesim_.WriteFile(name, text);
}

Result<LeaseRecord> ManagementCluster::Lease(const std::string& name, const std::string& ns) const {
  auto out = Kubectl({"get", "lease", name, "-n", ns, "-o", "json"});
  if (out.exit_code != 0) return MakeError("kubectl get lease " + name + " -n " + ns + ": " + out.output);
  const boost::json::value lease = ParseJson(out.output);
  LeaseRecord record;
  record.holder = JsonString(lease, {"spec", "holderIdentity"});
  record.acquire_time = JsonString(lease, {"spec", "acquireTime"});
  record.renew_time = JsonString(lease, {"spec", "renewTime"});
  record.lease_duration_seconds = std::atoi(JsonString(lease, {"spec", "leaseDurationSeconds"}).c_str());
  record.lease_transitions = std::atoi(JsonString(lease, {"spec", "leaseTransitions"}).c_str());
  return record;
}

// ---------------------------------------------------------------------------------------------------------

HubReplicaSet::HubReplicaSet(Binaries binaries, const ManagementCluster& management, int replicas)
    : binaries_(std::move(binaries)),
      management_(management),
      dir_("vmesh-hub-replicas"),
      service_(ServiceProxyOptions{.port_names = {"agent", "api"}}) {
  for (int i = 0; i < replicas; ++i) replicas_.push_back(std::make_unique<HubProcess>(binaries_));
  kubeconfigs_.resize(replicas);
}

HubReplicaSet::~HubReplicaSet() {
  // Followers first, so that the leader does not hand over to one of them while they stop.
  const int leader = ReadyReplica();
  for (int i = 0; i < size(); ++i) {
    if (i != leader) replicas_[i]->Stop();
  }
  if (leader >= 0) replicas_[leader]->Stop();
  service_.Stop();
}

Status HubReplicaSet::Init(const std::vector<std::string>& extra_args) {
  if (service_.port("api") == 0) {
    if (Status s = service_.Start(); !s.ok()) return s;
  }
  HubProcess init(binaries_);
  std::vector<std::string> args = {"--store",   "kubernetes", "--kubeconfig", management_.kubeconfig(),
                                   "--api-url", api_url()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (Status s = init.Init(args); !s.ok()) return s;
  for (auto& replica : replicas_) {
    if (Status s = replica->AdoptDataDir(init.data_dir()); !s.ok()) return s;
  }
  // The admin credential as init wrote it, pointing at the Service (each replica's copy gets its own API
  // address written by its serve).
  std::error_code ec;
  fs::copy_file(init.admin_config(), admin_config(), fs::copy_options::overwrite_existing, ec);
  if (ec) return MakeError("cannot copy " + init.admin_config() + ": " + ec.message());
  return OkStatus();
}

Status HubReplicaSet::ServeAll(const std::vector<std::string>& serve_args, LeaseTimings timings) {
  serve_args_ = serve_args;
  timings_ = std::move(timings);
  for (int i = 0; i < size(); ++i) {
    if (Status s = Serve(i); !s.ok()) return s;
  }
  return OkStatus();
}

Status HubReplicaSet::Serve(int i) {
  std::vector<std::string> args = {"--store",
                                   "kubernetes",
                                   "--kubeconfig",
                                   kubeconfigs_[i].empty() ? management_.kubeconfig() : kubeconfigs_[i],
                                   "--replica-id",
                                   ReplicaId(i),
                                   "--leader-elect-lease-duration",
                                   timings_.lease_duration,
                                   "--leader-elect-renew-deadline",
                                   timings_.renew_deadline,
                                   "--leader-elect-retry-period",
                                   timings_.retry_period};
  args.insert(args.end(), serve_args_.begin(), serve_args_.end());
  HubProcess& replica = *replicas_[i];
  if (Status s = replica.Serve(args); !s.ok()) return s;
  service_.SetBackend(
      {ReplicaId(i), {{"agent", replica.agent_port()}, {"api", replica.api_port()}}, replica.api_port()});
  return OkStatus();
}

int HubReplicaSet::ReadyReplica() const {
  for (int i = 0; i < size(); ++i) {
    if (replicas_[i]->api_port() != 0 &&
        ProbeHttps(replicas_[i]->api_port(), "/readyz", std::chrono::seconds(1)) == 200) {
      return i;
    }
  }
  return -1;
}

int HubReplicaSet::WaitForReadyReplica(std::chrono::milliseconds timeout, int not_this) const {
  int ready = -1;
  WaitFor(
      [&] {
        for (int i = 0; i < size(); ++i) {
          if (i == not_this || replicas_[i]->api_port() == 0) continue;
          if (ProbeHttps(replicas_[i]->api_port(), "/readyz", std::chrono::milliseconds(500)) == 200) {
            ready = i;
            return true;
          }
        }
        return false;
      },
      timeout);
  return ready;
}

ProcessOutput HubReplicaSet::Ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {binaries_.vmeshctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return kubesim::RunProcess(argv, timeout, {"VMESHCONFIG=" + admin_config()});
}

Result<std::string> HubReplicaSet::Register(const std::string& cluster, const std::string& ttl) {
  const std::string out = dir_.path() + "/" + cluster + ".bundle.yaml";
  auto result = Ctl({"cluster", "register", cluster, "--ttl", ttl, "--out", out});
  if (result.exit_code != 0) return MakeError("vmeshctl cluster register " + cluster + ": " + result.output);
  return RewriteBundleHubUrl(out, agent_url());
}

std::string HubReplicaSet::ClusterState(const std::string& cluster) const {
  return ClusterStateIn(Ctl({"cluster", "list", "-o", "json"}), cluster);
}

std::string HubReplicaSet::Logs() const {
  std::string all;
  for (int i = 0; i < size(); ++i) all += "--- " + ReplicaId(i) + "\n" + replicas_[i]->AllLogs();
  return all;
}

std::string FleetLogs(const HubReplicaSet& hubs, const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters) {
  std::string all = hubs.Logs();
  for (const auto& c : clusters) all += "--- agent " + c->name() + "\n" + c->AgentLog();
  return all;
}

}  // namespace vmesh::e2e
