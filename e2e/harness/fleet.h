// The multi-process test fleet: a vmesh-hub, kubesim clusters and vmesh-agents as real processes, each with
// its own temporary directory and log file, driven through vmeshctl and kubectl the way an operator would.
//
// Processes log to files (never to an unread pipe, which would block a chatty process); Log() reads them.
// Everything started is stopped and every directory removed by the destructors (set VMESH_E2E_KEEP=1 to keep
// the directories for a post-mortem). Not thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "e2e/kubesim/subprocess.h"
#include "e2e/kubesim/test_cluster.h"
#include "e2e/proxy/service_proxy.h"

namespace vmesh::e2e {

using kubesim::ProcessOutput;

// The binaries under test (compiled in from CMake).
struct Binaries {
  std::string hub;
  std::string agent;
  std::string vmeshctl;
  std::string kubesim;
  static Binaries FromBuild();
};

// A temporary directory removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `condition` every 50 ms until it holds (true) or `timeout` passes (false).
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

std::string ReadFileOr(const std::string& path, const std::string& fallback = "");

// A long-running product process whose output goes to `log_path`.
class Daemon {
 public:
  Daemon() = default;
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  Status Start(const std::vector<std::string>& argv, const std::string& log_path,
               const std::vector<std::string>& env = {});
  // SIGTERM, SIGKILL after `grace`; returns the exit code (128 + signal when killed).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL at once (a crash); returns once reaped.
  void Kill9();
  bool running();
  pid_t pid() const { return process_.pid(); }
  std::string Log() const { return ReadFileOr(log_path_); }

 private:
  kubesim::ChildProcess process_;
  std::string log_path_;
};

class HubProcess {
 public:
  explicit HubProcess(Binaries binaries);
  ~HubProcess();

  // `vmesh-hub init --data-dir DIR ...`.
  Status Init(const std::vector<std::string>& extra_args = {});
  // `vmesh-hub serve --data-dir DIR --agent-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 ...`; waits for
  // endpoints.json. A second Serve() (a restart) listens on the agent port of the first.
  Status Serve(const std::vector<std::string>& extra_args = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  int Stop() { return daemon_.Stop(); }
  void Kill9() { daemon_.Kill9(); }
  bool running() { return daemon_.running(); }
  pid_t pid() const { return daemon_.pid(); }
  // Copies the files of another hub's data directory (one `init` shared by replicas, as a mounted Secret
  // would be) into this one; the serve lock and endpoints.json are not copied.
  Status AdoptDataDir(const std::string& from);

  // Runs vmeshctl with VMESHCONFIG=<data dir>/admin.vmeshconfig.
  ProcessOutput Ctl(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // One HTTPS request to the API endpoint with the admin credential (status and body; transport errors as
  // status 0 with the error in the body).
  struct ApiAnswer {
    int status = 0;
    std::string body;
  };
  ApiAnswer Api(const std::string& method, const std::string& path, const std::string& body = "") const;
  // A metric's value from /metrics (the sum over label sets containing `label_filter`), or -1 when absent.
  double Metric(const std::string& name, const std::string& label_filter = "") const;
  // The cluster's state as `vmeshctl cluster list -o json` shows it ("CONNECTED", ...), or "" on failure.
  std::string ClusterState(const std::string& cluster) const;

  // `cluster register NAME --out FILE`; returns the bundle path.
  Result<std::string> Register(const std::string& cluster, const std::string& ttl = "1h");

  const std::string& data_dir() const { return dir_.path(); }
  std::string admin_config() const { return dir_.path() + "/admin.vmeshconfig"; }
  const std::string& agent_url() const { return agent_url_; }
  const std::string& api_url() const { return api_url_; }
  uint16_t agent_port() const;
  uint16_t api_port() const;
  // The current serve's log (and init's output).
  std::string Log() const { return daemon_.Log() + init_output_; }
  // Every serve's log so far, oldest first, each after a "--- serve N" line.
  std::string AllLogs() const;

 private:
  Binaries binaries_;
  TempDir dir_;
  TempDir logs_;
  Daemon daemon_;
  std::string agent_url_;
  std::string api_url_;
  std::string init_output_;
  int serves_ = 0;
};

// One workload cluster: a kubesim server (seeded with Istio and, optionally, the sample app) and its agent.
class ClusterUnderTest {
 public:
  ClusterUnderTest(Binaries binaries, std::string name, int index);
  ~ClusterUnderTest();

  // Starts kubesim with the given seed files (names under e2e/kubesim/seeds, e.g. "istio.yaml").
  Status StartKubesim(const std::vector<std::string>& seeds, const std::vector<std::string>& extra_args = {});
  // Starts vmesh-agent with the bundle (RewriteBundleHubUrl routes it through a proxy).
  Status StartAgent(const std::string& bundle_path, const std::vector<std::string>& extra_args = {});
  int StopAgent() { return agent_.Stop(); }
  void KillAgent() { agent_.Kill9(); }
  bool agent_running() { return agent_.running(); }

  ProcessOutput Kubectl(const std::vector<std::string>& args) const { return kubesim_.Kubectl(args); }
  const std::string& name() const { return name_; }
  const std::string& kubeconfig() const { return kubesim_.kubeconfig(); }
  std::string AgentLog() const { return agent_.Log(); }
  kubesim::TestCluster& kubesim() { return kubesim_; }

 private:
  Binaries binaries_;
  std::string name_;
  int index_;
  kubesim::TestCluster kubesim_;
  TempDir logs_;
  Daemon agent_;
};

// JSON as vmeshctl -o json and kubectl -o json print it: parsed (null on bad input), and read along a path of
// object keys.
boost::json::value ParseJson(const std::string& text);
const boost::json::value* JsonAt(const boost::json::value& v, std::initializer_list<const char*> path);
// The string (or integer or boolean, as text) at `path`; "" when absent or of another type.
std::string JsonString(const boost::json::value& v, std::initializer_list<const char*> path);
// A mesh's state in a VirtualMesh's status ("" when the mesh has no entry). PENDING is the enum's zero value,
// which the proto3 JSON mapping leaves out: an entry without a state is PENDING.
std::string MeshState(const boost::json::value& vm, const std::string& mesh_key);

// The hub's and every agent's log, for failure messages.
std::string FleetLogs(const HubProcess& hub, const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters);

// A metric's value in a Prometheus exposition text (the sum over label sets containing `label_filter`), or -1
// when absent.
double MetricIn(const std::string& exposition, const std::string& name, const std::string& label_filter = "");

// Rewrites a bootstrap bundle's hub URL (to route an agent through a proxy). Returns the new bundle's path.
Result<std::string> RewriteBundleHubUrl(const std::string& bundle_path, const std::string& hub_url);

// ---------------------------------------------------------------------------------------------------------
// The hub on Kubernetes (docs/hub-on-kubernetes.md, "Test topology"): a management cluster holding the hub's
// state, hub replicas electing a leader on a Lease, and a Service in front of them.

// A Lease as `kubectl get lease -o json` shows it (times RFC 3339 with microseconds, as the API server
// writes them).
struct LeaseRecord {
  std::string holder;
  std::string acquire_time;
  std::string renew_time;
  int lease_duration_seconds = 0;
  int lease_transitions = 0;
};

// The management cluster: a kubesim serving HTTPS with a bearer token, without Istio, with the namespace `vmesh` and
// the vmesh CRDs (charts/vmesh-hub/crds/) applied with the real kubectl and established.
class ManagementCluster {
 public:
  explicit ManagementCluster(Binaries binaries);

  Status Start(const std::vector<std::string>& extra_args = {});
  ProcessOutput Kubectl(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
    return kubesim_.Kubectl(args, timeout);
  }
  const std::string& kubeconfig() const { return kubesim_.kubeconfig(); }
  uint16_t port() const { return kubesim_.port(); }
  // A copy of the kubeconfig (named `name`) whose server is 127.0.0.1:`port`, e.g. a TcpProxy in front of
  // the API server; the server certificate names 127.0.0.1, so TLS verifies through the proxy too.
  Result<std::string> KubeconfigVia(uint16_t port, const std::string& name) const;
  // The Lease `name` in `ns`, or an error when it does not exist (yet).
  Result<LeaseRecord> Lease(const std::string& name = "vmesh-hub", const std::string& ns = "vmesh") const;
  std::string ServerLog() const { return kubesim_.server_output(); }
  kubesim::TestCluster& kubesim() { return kubesim_; }

 private:
  Binaries binaries_;
  kubesim::TestCluster kubesim_;
};

// client-go's flag values: --leader-elect-lease-duration, --leader-elect-renew-deadline,
// --leader-elect-retry-period.
struct LeaseTimings {
  std::string lease_duration = "15s";
  std::string renew_deadline = "10s";
  std::string retry_period = "2s";
};

// N `vmesh-hub serve --store kubernetes` replicas of one hub (`init --store kubernetes` once; each replica
// serves a copy of its data directory) behind a ServiceProxy with the ports "agent" and "api", whose
// readiness is each replica's /readyz. Replica i (0-based) is named hub-<i+1>, which is also its
// --replica-id and its name in the ServiceProxy. vmeshctl and agents reach the hub through the Service.
class HubReplicaSet {
 public:
  HubReplicaSet(Binaries binaries, const ManagementCluster& management, int replicas);
  ~HubReplicaSet();

  // Starts the Service, then `vmesh-hub init --store kubernetes --kubeconfig ...` (its admin credential
  // pointing at the Service's API port) and copies the data directory to every replica.
  Status Init(const std::vector<std::string>& extra_args = {});
  // The kubeconfig replica i uses from its next serve on (default: the management cluster's), e.g. one that
  // reaches the API server through a TcpProxy so that the test can partition that replica.
  void SetKubeconfig(int i, std::string kubeconfig) { kubeconfigs_[i] = std::move(kubeconfig); }
  // Serves every replica with `serve_args` and `timings`; does not wait for a leader.
  Status ServeAll(const std::vector<std::string>& serve_args, LeaseTimings timings = {});
  // (Re)starts replica i, as Kubernetes restarts a pod (same replica id). Updates its Service endpoint.
  Status Serve(int i);
  void Kill9(int i) { replicas_[i]->Kill9(); }
  int Stop(int i) { return replicas_[i]->Stop(); }

  // The replica whose /readyz answers 200 now (the first one, if ever several did), or -1.
  int ReadyReplica() const;
  // Waits until a replica other than `not_this` answers /readyz 200; its index, or -1 after `timeout`.
  int WaitForReadyReplica(std::chrono::milliseconds timeout, int not_this = -1) const;

  // vmeshctl with the admin credential, through the Service.
  ProcessOutput Ctl(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // `vmeshctl cluster register` through the Service; the bundle's hub URL is the Service's agent port.
  Result<std::string> Register(const std::string& cluster, const std::string& ttl = "1h");
  // `vmeshctl cluster list -o json` through the Service: the cluster's state, or "" on failure.
  std::string ClusterState(const std::string& cluster) const;

  HubProcess& replica(int i) { return *replicas_[i]; }
  const HubProcess& replica(int i) const { return *replicas_[i]; }
  int size() const { return static_cast<int>(replicas_.size()); }
  static std::string ReplicaId(int i) { return "hub-" + std::to_string(i + 1); }
  ServiceProxy& service() { return service_; }
  std::string agent_url() const { return "wss://127.0.0.1:" + std::to_string(service_.port("agent")); }
  std::string api_url() const { return "https://127.0.0.1:" + std::to_string(service_.port("api")); }
  std::string admin_config() const { return dir_.path() + "/admin.vmeshconfig"; }
  // Every replica's every serve log.
  std::string Logs() const;

 private:
  Binaries binaries_;
  const ManagementCluster& management_;
  TempDir dir_;
  ServiceProxy service_;
  std::vector<std::unique_ptr<HubProcess>> replicas_;
  std::vector<std::string> kubeconfigs_;
  std::vector<std::string> serve_args_;
  LeaseTimings timings_;
};

// The replicas' and every agent's log, for failure messages.
std::string FleetLogs(const HubReplicaSet& hubs, const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters);

}  // namespace vmesh::e2e
