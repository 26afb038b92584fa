// The load generator's fleet (issue 17, SPEC §13): N simulated clusters in one process, each with the real
// agent's HubLink (bootstrap with the real agent::Bootstrap, mTLS WebSocket sessions, reconnects with the real
// backoff, the sync receiver, ACKs, status reports) in front of a SimulatedCluster (simulated_cluster.h).
// The links are spread over a few event loops, one thread each (HubLink runs on exactly one thread).
//
// Besides running the agents, the fleet observes them for the benchmark: how many have a session, how many
// sessions each had, and — for one watched change at a time — when each agent ACKed the update that brought
// it the ServiceEntry of a watched host (the ACK follows the held versions being saved, which is when the
// fleet's SyncStateStore notes the time).
//
// Threading: the public methods are for one controlling thread (not an event loop's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/loadgen/simulated_cluster.h"
#include "common/base/result.h"
#include "common/metrics/metrics.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::loadgen {

struct FleetOptions {
  int agents = 10;
  int destinations = 20;
  // Event loops (threads) the links run on.
  int threads = 2;
  // Threads registering and bootstrapping clusters at once.
  int bootstrap_threads = 4;
  // Cluster i is named <prefix><i>.
  std::string cluster_prefix = "c-";
};

// Registers one cluster with the hub (the admin API's POST /v1/clusters, as `vmeshctl cluster register` does)
// and returns its bootstrap bundle. Called from several threads at once.
using Registrar = std::function<Result<config::v1::BootstrapBundle>(const std::string& cluster)>;

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();  // Stop()
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Registers and bootstraps every cluster (each gets its own identity key and client certificate).
  Status Bootstrap(const Registrar& registrar);
  // Starts every link (they connect at once).
  Status Start();
  // Stops every link, then the event loops. Idempotent.
  void Stop();

  int size() const { return static_cast<int>(agents_.size()); }
  std::string cluster(int i) const;
  // Agents with a session up now.
  int Connected() const;
  // Agents whose sessions since Start() are at least `n` (n = 2: reconnected once).
  int WithSessionsAtLeast(int n) const;
  int Sessions(int i) const;

  // Adds destination `name` in cluster i (on its event loop) and watches for the ServiceEntry of its host
  // ("<name>.apps.svc.<cluster>.") in every other cluster. Returns when the delta report was handed to the link.
  Status AddDestination(int i, const std::string& name);
  // Agents other than the origin of the watched change that ACKed it so far.
  int WatchedAcks() const;
  // Their latencies (seconds from AddDestination()).
  std::vector<double> WatchedLatencies() const;

  ClusterCounters& counters() { return counters_; }
  // The links' metrics (vmesh_agent_link_messages_total / _bytes_total by direction and type, ACKs, ...),
  // summed over the fleet.
  metrics::Registry& link_metrics() { return link_metrics_; }

 private:
  struct Agent;
  struct Loop;

  FleetOptions options_;
  ClusterCounters counters_;
  metrics::Registry link_metrics_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::unique_ptr<Agent>> agents_;
  bool stopped_ = false;

  // The watched change.
  mutable std::mutex watch_mu_;
  std::string watch_prefix_;  // "" = nothing watched
  int watch_origin_ = -1;
  std::chrono::steady_clock::time_point watch_start_{};
};

}  // namespace vmesh::loadgen
