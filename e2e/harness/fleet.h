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
  std::string Log() const { return daemon_.Log() + init_output_; }

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
  // Starts vmesh-agent with the bundle; `hub_url_override` (e.g. a proxy's) replaces the bundle's hub URL.
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

// Rewrites a bootstrap bundle's hub URL (to route an agent through a proxy). Returns the new bundle's path.
Result<std::string> RewriteBundleHubUrl(const std::string& bundle_path, const std::string& hub_url);

}  // namespace vmesh::e2e
