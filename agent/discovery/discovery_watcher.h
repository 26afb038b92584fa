// The agent's view of its cluster (SPEC §3.3): informers on namespaces, nodes, deployments, Istio's mesh
// ConfigMaps, services, endpoints and pods; after every change (debounced a little) DiscoverMeshes,
// DiscoverDestinations and DiscoverWorkloads run over the informers' caches and the difference to the previous
// result is reported as a delta (only the objects that changed, and the names of those that went away, in the
// form hub/controller/discovery_state.cpp keys them: mesh name, "<namespace>/<service>",
// "<namespace>/<workload name>").
//
// Threading: everything runs on `io`'s thread; call every method there. The informers retry on their own
// (backoff on errors, relist after 410 Gone), so a cluster outage delays discovery but never ends it.
// Stop() cancels the informers; the watcher may be destroyed at any time after Stop() (its coroutines hold
// their own state).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent {

struct DiscoveryWatcherOptions {
  std::string cluster;
  // Namespace of the discovery objects in the hub.
  std::string hub_namespace = "vmesh";
  // Changes arriving within this window are reported together.
  std::chrono::milliseconds debounce{100};
};

class DiscoveryWatcher {
 public:
  DiscoveryWatcher(boost::asio::io_context& io, kube::KubeClient& client, DiscoveryWatcherOptions options);
  ~DiscoveryWatcher();
  DiscoveryWatcher(const DiscoveryWatcher&) = delete;
  DiscoveryWatcher& operator=(const DiscoveryWatcher&) = delete;

  // Starts the informers (once).
  void Start();
  // Cancels the informers and pending reports; listeners are not called afterwards.
  void Stop();

  // Every change after the first sync, as a delta report (full_state = false). Listeners are called on the
  // io_context thread, in registration order.
  void OnChange(std::function<void(link::v1::DiscoveryReport)> listener);

  // Everything currently discovered (full_state = true), for the first report of a session.
  link::v1::DiscoveryReport FullReport() const;
  // True once every informer listed (but the nodes', which may be forbidden) and the first discovery ran.
  bool synced() const;

  std::optional<api::v1::Mesh> FindMesh(const std::string& mesh_name) const;
  // Ordered by name.
  std::vector<api::v1::Mesh> Meshes() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::agent
