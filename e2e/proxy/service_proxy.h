// A stand-in for a Kubernetes Service with readiness, for the HA end-to-end test (docs/hub-on-kubernetes.md,
// "Test topology"): hub replicas behind one address, where new connections go only to a replica whose
// readiness probe (HTTPS GET /readyz, answered by the leader alone) says 200 — the way kube-proxy routes to
// the ready endpoints of a Service.
//
// Like a Service it has named ports (e.g. "agent" and "api"), each listening on 127.0.0.1:0 and relaying to
// the same-named port of a ready backend, round robin. Each backend is probed every `probe_interval`; a probe
// that fails, times out or answers anything but 200 makes the backend unready at once (failure threshold 1),
// one 200 makes it ready. Connections already relayed to a backend that becomes unready are left alone (the
// hub closes them itself, as kube-proxy leaves established connections); a new connection while no backend
// is ready is reset at once (a Service without endpoints rejects).
//
// The probe sends no client certificate and does not verify the server's (it is a probe, as a kubelet's
// HTTPS probe is).
//
// Runs its own thread. Every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace vmesh::e2e {

struct ServiceBackend {
  std::string name;                       // what assertions name, e.g. "hub-1"
  std::map<std::string, uint16_t> ports;  // service port name -> this backend's port on 127.0.0.1
  uint16_t probe_port = 0;                // HTTPS GET probe_path here, on 127.0.0.1
};

struct ServiceProxyOptions {
  std::vector<std::string> port_names = {"default"};
  std::chrono::milliseconds probe_interval{200};
  std::chrono::milliseconds probe_timeout{1000};
  std::string probe_path = "/readyz";
};

class ServiceProxy {
 public:
  explicit ServiceProxy(ServiceProxyOptions options = {});
  ~ServiceProxy();  // Stop()
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  // Listens on 127.0.0.1:0 for every port name and starts probing the backends set so far.
  Status Start();
  // Closes the listeners and every relayed connection; idempotent.
  void Stop();
  // The listening port of a service port (0 for an unknown name or before Start()).
  uint16_t port(const std::string& port_name = "default") const;

  // Adds a backend, or replaces the one of that name (a restarted replica listening on new ports: its
  // established connections are left alone). A backend is unready until its first probe answers 200.
  void SetBackend(ServiceBackend backend);
  void RemoveBackend(const std::string& name);

  bool Ready(const std::string& name) const;
  std::vector<std::string> ReadyBackends() const;

  // One accepted connection: the service port it came in on and the backend it was relayed to ("" when no
  // backend was ready and it was reset).
  struct Route {
    std::string port_name;
    std::string backend;
    std::chrono::steady_clock::time_point at;
  };
  // Every accepted connection so far, in accept order.
  std::vector<Route> Routes() const;
  // One change of a backend's readiness, as the probes saw it.
  struct ReadinessChange {
    std::string backend;
    bool ready = false;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<ReadinessChange> ReadinessChanges() const;
  // Relayed connections currently open to `backend`.
  int OpenConnections(const std::string& backend) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// One HTTPS GET https://127.0.0.1:port/path without a client certificate and without verifying the server:
// the status code, or 0 on a transport failure or timeout. Blocking.
int ProbeHttps(uint16_t port, const std::string& path = "/readyz",
               std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace vmesh::e2e
