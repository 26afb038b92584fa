// HTTP routes of vmesh-hub (SPEC §2, §9, §14): the agent endpoint's bootstrap exchange and the API endpoint, as
// handlers over the hub's services. The transport (common/link::Server) enforces TLS and client certificates;
// these handlers decide what the request may do and answer with precise errors.
//
// Agent endpoint:
//   POST /v1/bootstrap  body a serialized link.v1.BootstrapRequest (application/x-protobuf); 200 with a
//                       BootstrapResponse, 403 for a bad/expired/used token, 400 for a malformed request or CSR.
//   /v1/connect         the core's WebSocket route (client certificate required).
// API endpoint (admin client certificate, SAN spiffe://<hub-name>/admin, except health and metrics):
//   GET  /healthz, /readyz (503 with the reason until the core is ready), /metrics (Prometheus text)
//   POST /v1/clusters            {"name": "c1", "ttl": "1h"}  -> 201, the bootstrap bundle as YAML
//   GET  /v1/clusters                                        -> 200, a JSON List of Cluster objects
//   POST /v1/clusters/deregister {"name": "c1"}              -> 200
//   POST /v1/apply               manifest -> {"results": [...], "messages": [...]}; 400 codec errors; 409 conflict
//   POST /v1/delete              manifest -> {"messages": [...]}; 404 when something named is absent
//   GET  /v1/objects/<kind>[/<name>], DELETE /v1/objects/<kind>/[<namespace>/]<name>
//        (also /v1/objects/<kind>?name=N&namespace=NS, which needs no prefix routing in the transport)
//   POST /v1/preview             manifest with one VirtualMesh -> {"status": {...}, "clusters": {...}}
//   POST /v1/meshes/restart      {"mesh": "..."} -> {"requestId": "..."}; 404 for an unknown mesh
//   POST /v1/virtualmeshes/rotate-root {"namespace": "...", "name": "...", "abort": false} -> {"message": "..."};
//                                404 no such VirtualMesh / rotation, 409 one in progress or not abortable
//   GET  /v1/sessions            -> {"items": [...]}
//   POST /v1/admin/rotate        {"csr": PEM} -> {"certificate": PEM, "serial": hex}: a new admin certificate for
//                                the CSR's key; the caller's certificate is revoked (403 from then on)
// The admin credential is pinned: a client certificate passes only when it carries the admin SAN *and* its serial
// is an active admin credential in the store (init pins the one it writes; rotation replaces it).
// Errors are text/plain, one line per problem: 400 bad input, 403 not admin, 404 not found, 405 wrong method,
// 409 conflict, 500 internal, 503 not ready.
//
// vmesh-hub serves these through a RoleGate (role_gate.h): a replica that is not the leader answers 503 instead.
//
// Thread safety: handlers may run concurrently on any io thread; the services they call are thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/link/http.h"
#include "common/link/server.h"
#include "common/metrics/metrics.h"
#include "hub/api/object_service.h"
#include "hub/registration/registration.h"
#include "hub/session/hub_core.h"

namespace vmesh::hub {

struct HubRoutes {
  RegistrationService& registration;
  Store& store;
  std::string hub_name;
  std::string hub_namespace = "vmesh";
  // Called after a cluster was deregistered (the server closes its live session).
  std::function<void(const std::string& cluster)> on_deregistered;
  // The API objects, the hub's live core and the metrics registry. The routes that need one answer 503 while it
  // is absent (the bootstrap and cluster-registry routes need none of them).
  ObjectService* objects = nullptr;
  HubCore* core = nullptr;
  const metrics::Registry* metrics = nullptr;
  // Signs rotated admin certificates; /v1/admin/rotate answers 503 without it.
  const pki::CaSigner* link_ca = nullptr;

  link::HttpResponse Bootstrap(const link::HttpRequest& request) const;
  link::HttpResponse RegisterCluster(const link::HttpRequest& request) const;
  link::HttpResponse ListClusters(const link::HttpRequest& request) const;
  link::HttpResponse DeregisterCluster(const link::HttpRequest& request) const;

  link::HttpResponse Healthz(const link::HttpRequest& request) const;
  link::HttpResponse Readyz(const link::HttpRequest& request) const;
  link::HttpResponse Metrics(const link::HttpRequest& request) const;
  link::HttpResponse Apply(const link::HttpRequest& request) const;
  link::HttpResponse DeleteManifest(const link::HttpRequest& request) const;
  // GET (list or one) and DELETE under /v1/objects/.
  link::HttpResponse Objects(const link::HttpRequest& request) const;
  link::HttpResponse Preview(const link::HttpRequest& request) const;
  link::HttpResponse RestartMesh(const link::HttpRequest& request) const;
  link::HttpResponse RotateRoot(const link::HttpRequest& request) const;
  link::HttpResponse Sessions(const link::HttpRequest& request) const;
  link::HttpResponse RotateAdmin(const link::HttpRequest& request) const;

  // Any API-endpoint request, routed by path and method (admin checks included).
  link::HttpResponse Api(const link::HttpRequest& request) const;

  // 403 unless the peer is this hub's admin: the admin SAN and a pinned, unrevoked serial.
  std::optional<link::HttpResponse> RequireAdmin(const link::HttpRequest& request) const;
};

// Registers every API route on `server` (handlers call `routes`, which must outlive the server's use of them).
// /v1/objects/<kind> is registered for every accepted spelling of every kind, and "/v1/objects/" for a transport
// that routes by prefix.
void InstallApiRoutes(link::Server& server, const HubRoutes& routes);
// The same paths and client-certificate policies, answered by `handler` (e.g. a RoleGate in front of the routes).
void InstallApiRoutes(link::Server& server, std::function<link::HttpResponse(const link::HttpRequest&)> handler);

// Registers /v1/bootstrap and, when routes.core is set, the core's /v1/connect on the agent endpoint.
void InstallAgentRoutes(link::Server& server, const HubRoutes& routes);

// The kinds /v1/objects serves, by any accepted spelling (case-insensitive, singular or plural, short names):
// "VirtualMesh", "AccessPolicy", "Secret", "Mesh", "Destination", "Workload", "Cluster", "Certificate"; or an
// error listing the kinds. Secrets are always returned redacted (no private key).
Result<std::string> ApiKind(const std::string& spelling);

}  // namespace vmesh::hub
