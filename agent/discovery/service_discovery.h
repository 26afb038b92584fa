// Discovery of destinations and workloads in one cluster (SPEC §3.3), as a pure function of Kubernetes
// objects and the meshes DiscoverMeshes found.
//
// Which mesh a pod belongs to: its istio.io/rev label, else the revision in its sidecar.istio.io/status
// annotation, else its namespace's (below), else the default-revision mesh. Which mesh a namespace belongs
// to: istio.io/rev=<rev> on the namespace, or istio-injection=enabled (the default revision); a namespace
// with istio-injection=disabled belongs to none. The default-revision mesh is the one with an empty revision
// (the first by name), or the only mesh.
//
// Destinations: one per Service (not ExternalName) in a namespace of a mesh, or selecting at least one
// sidecar-injected pod (security.istio.io/tlsMode=istio). Named "<service>-<namespace>-<cluster>" in the
// hub namespace. Ports keep the Kubernetes protocol (TCP/UDP/SCTP) and appProtocol; the translator derives the
// Istio protocol. Endpoints come from the Service's Endpoints object (addresses ready, notReadyAddresses not),
// enriched from the pod they point at (labels without the controllers' hash labels, which change with every
// rollout; service account; named container ports), sorted by IP.
// External addresses: LoadBalancer ingress IPs/hostnames, the nodes' addresses for NodePort Services, plus
// spec.externalIPs.
//
// Workloads: sidecar-injected pods grouped by their controller (Deployment through its ReplicaSet,
// StatefulSet, DaemonSet, other owners as themselves, bare pods as kind Pod), named
// "<controller>-<namespace>-<cluster>"; labels are the pod's without the controllers' hash labels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/discovery/istio_discovery.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::agent {

inline constexpr char kTlsModeLabel[] = "security.istio.io/tlsMode";

// Destinations ordered by namespace/name. Malformed objects are skipped, never thrown on.
std::vector<api::v1::Destination> DiscoverDestinations(const ClusterSnapshot& snapshot,
                                                       const std::vector<api::v1::Mesh>& meshes);

// Workloads ordered by namespace/name.
std::vector<api::v1::Workload> DiscoverWorkloads(const ClusterSnapshot& snapshot,
                                                 const std::vector<api::v1::Mesh>& meshes);

// The keys the hub's DiscoveryState uses for DiscoveryReport removals: "<namespace>/<name>" of the Service
// (destinations), "<namespace>/<metadata.name>" (workloads).
std::string DestinationKey(const api::v1::Destination& d);
std::string WorkloadKey(const api::v1::Workload& w);

}  // namespace vmesh::agent
