// HTTP routes of vmesh-hub (SPEC §2, §9): the agent endpoint's bootstrap exchange and the API endpoint's
// cluster registry, as handlers over the hub's services. The transport (common/link::Server) enforces TLS and
// client certificates; these handlers decide what the request may do and answer with precise errors.
//
// Bootstrap: POST /v1/bootstrap, body a serialized link.v1.BootstrapRequest (application/x-protobuf); 200 with
// a BootstrapResponse, 403 for a bad/expired/used token, 400 for a malformed request or CSR.
// API (admin client certificate, SAN spiffe://<hub-name>/admin):
//   POST /v1/clusters            {"name": "c1", "ttl": "1h"}  -> 201, the bootstrap bundle as YAML
//   GET  /v1/clusters                                        -> 200, a JSON List of Cluster objects
//   POST /v1/clusters/deregister {"name": "c1"}              -> 200
//   GET  /healthz, /readyz (no client certificate needed)
#pragma once

#include <functional>
#include <string>

#include "common/link/http.h"
#include "hub/registration/registration.h"

namespace vmesh::hub {

struct HubRoutes {
  RegistrationService& registration;
  Store& store;
  std::string hub_name;
  std::string hub_namespace = "vmesh";
  // Called after a cluster was deregistered (the server closes its live session).
  std::function<void(const std::string& cluster)> on_deregistered;

  link::HttpResponse Bootstrap(const link::HttpRequest& request) const;
  link::HttpResponse RegisterCluster(const link::HttpRequest& request) const;
  link::HttpResponse ListClusters(const link::HttpRequest& request) const;
  link::HttpResponse DeregisterCluster(const link::HttpRequest& request) const;

  // 403 unless the peer is this hub's admin.
  std::optional<link::HttpResponse> RequireAdmin(const link::HttpRequest& request) const;
};

}  // namespace vmesh::hub
