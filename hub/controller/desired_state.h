// From everything the hub knows to what every cluster should hold: the glue between status (SPEC §4),
// certificates (§5) and translation (§6, §7). A pure function; the hub's reconciler feeds its result into one
// sync::ResourceSender per cluster, which sends only the differences.
//
// Per cluster, the resource set is:
//  - "cert/<mesh>": a CertificateDirective for every active mesh of a VirtualMesh with shared trust whose
//    root exists (its generation changes with the root or the intermediate options, which makes the agent
//    request a new certificate);
//  - "gwcert/<mesh>/<ingress|egress>": under limited trust (SPEC §8), a GatewayCertificateDirective for the east-west
//    and the egress gateways of every active mesh whose VirtualMesh's gateway CA exists — and no "cert/<mesh>": each
//    mesh keeps its own CA, so `cacerts` is never written and nothing is restarted;
//  - "kube/<apiVersion>/<kind>/<namespace>/<name>": the federation and access-policy outputs of every
//    VirtualMesh's effective spec (the last good one while the current is INVALID), over its active meshes: those
//    of FederationTranslator and AccessPolicyTranslator under shared trust, of LimitedFederationTranslator under
//    limited trust (no certificate directive then: each mesh keeps its own CA).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/sync/sync.h"
#include "hub/reconcile/virtual_mesh_status.h"
#include "vmesh/api/v1/access_policy.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

struct RootInfo {
  // The roots workloads must trust now: the root, or during a root rotation the bundle of its phase.
  std::string trust_bundle_pem;
  // Fingerprint of the certificate that signs intermediates now.
  std::string fingerprint;
  // "" unless the bundle is not just the signing root's own anchor (a root rotation phase): then a short hash of the
  // bundle, part of the directive generation so that each phase directs a certificate of its own.
  std::string bundle_tag;
};

struct HubState {
  StatusInput status;  // VirtualMeshes, meshes, clusters, agent reports
  std::vector<api::v1::Destination> destinations;
  std::vector<api::v1::AccessPolicy> access_policies;
  // Roots by VirtualMesh key "<namespace>/<name>" (absent until the CA service created or imported one).
  std::map<std::string, RootInfo> roots;
  // Gateway CAs of limited-trust VirtualMeshes by VirtualMesh key (absent until the CA service created one).
  std::map<std::string, RootInfo> gateway_cas;
};

struct DesiredState {
  std::vector<VirtualMeshResult> statuses;  // in the order of state.status.virtual_meshes
  // cluster -> resources (sorted by name), immutable and shared with whoever else holds them (the incremental
  // state's caches, the clusters' senders). Versions are empty from ComputeDesiredState and set to
  // sync::ContentVersion by IncrementalDesiredState.
  std::map<std::string, std::vector<sync::SharedResource>> resources;
  // VirtualMeshes (keys) that need a root created before certificates can be directed.
  std::set<std::string> roots_needed;
  // Limited-trust VirtualMeshes (keys) that need their gateway CA created before gateway certificates can be directed.
  std::set<std::string> gateway_cas_needed;
  // Per mesh key: destinations federated into it, outputs written into its cluster for it.
  std::map<std::string, std::uint32_t> federated_destinations;
  // Clusters whose outputs must be offered again although the computation did not change them (the schemas they
  // are validated against changed; see OutputValidator). Set by HubReconciler::Reconcile.
  std::set<std::string> revalidated_clusters;
  // The clusters whose resources may differ from those of the previous successful HubReconciler::Reconcile();
  // nothing when any may (the first reconcile, one computed from scratch). Set by HubReconciler::Reconcile, which
  // also adds the restart directives of `vmeshctl mesh restart` ("restart/<mesh>") until their agents hold them.
  std::optional<std::set<std::string>> changed_clusters;
  // The clusters whose discovery the facts this result was computed from held. Only they may be sent it: a
  // cluster whose report arrived after those facts were read gets a set computed without its meshes (after a hub
  // restart, the removal of everything its agent holds). Set by HubReconciler::Reconcile.
  std::set<std::string> discovered_clusters;
};

DesiredState ComputeDesiredState(const HubState& state);

// The generation of a mesh's certificate directive under `root` and the VirtualMesh's intermediateCertOptions: it
// changes with the signing root, the trust bundle (each root rotation phase) and the options, and makes the agent
// request a new intermediate when it does.
std::string CertificateGeneration(const RootInfo& root, const api::v1::CommonCertOptions& options);

// Adds to the status of each VirtualMesh under limited trust what users must know (LimitedFederationTranslator::
// Warnings: flatNetwork ignored, AccessPolicies whose remote sources the destination no longer tells apart).
void AddLimitedTrustWarnings(const HubState& state, std::vector<VirtualMeshResult>& statuses);

// The pieces ComputeDesiredState is made of, shared with IncrementalDesiredState.
struct Output;
// The resource carrying one translation output.
link::v1::Resource OutputResource(const Output& output);
// The active meshes of a VirtualMesh (keys of result.active_meshes that are known).
std::map<std::string, api::v1::Mesh> ActiveMeshes(const HubState& state, const VirtualMeshResult& result);
// Whether a destination belongs to one of a VirtualMesh's active meshes.
bool InActiveMesh(const api::v1::Destination& destination, const std::string& virtual_mesh_namespace,
                  const std::map<std::string, api::v1::Mesh>& active);
// The certificate directives of one VirtualMesh (appended to `resources` with their cluster); records the
// generation directed per mesh in `directed` and, while its root does not exist, its key in `roots_needed`.
void CertificateDirectives(const HubState& state, const VirtualMeshResult& result,
                           const std::map<std::string, api::v1::Mesh>& active,
                           std::vector<std::pair<std::string, link::v1::Resource>>& resources,
                           std::map<std::string, std::string>& directed, std::set<std::string>& roots_needed);
// Limited trust: mesh key -> gateway role -> the gateway certificate generation directed now ("" while the gateway CA
// does not exist).
using GatewayDirected = std::map<std::string, std::map<std::string, std::string>>;
// The generation of a gateway certificate directive: changes with the gateway CA.
std::string GatewayCertificateGeneration(const RootInfo& gateway_ca);
// The gateway certificate directives of one VirtualMesh with limited trust (appended to `resources` with their
// cluster): one per active mesh and gateway role the mesh has a gateway of (east-west for "ingress", egress for
// "egress"), naming the namespaces of those gateways. Records what it directs in `directed` and, while the gateway
// CA does not exist, the VirtualMesh's key in `gateway_cas_needed`. Nothing for other trust models.
void GatewayCertificateDirectives(const HubState& state, const VirtualMeshResult& result,
                                  const std::map<std::string, api::v1::Mesh>& active,
                                  std::vector<std::pair<std::string, link::v1::Resource>>& resources,
                                  GatewayDirected& directed, std::set<std::string>& gateway_cas_needed);
// Makes statuses PENDING for meshes whose agent has not installed every gateway certificate directed now.
// `directed`: VirtualMesh key -> GatewayDirected.
void RequireGatewayCertificates(const std::map<std::string, GatewayDirected>& directed,
                                const std::map<std::string, MeshReport>& reports,
                                std::vector<VirtualMeshResult>& statuses);
// Makes statuses PENDING for meshes that have not installed the certificate generation directed now.
// `directed`: VirtualMesh key -> mesh key -> generation.
void RequireCurrentCertificates(const std::map<std::string, std::map<std::string, std::string>>& directed,
                                const std::map<std::string, MeshReport>& reports,
                                std::vector<VirtualMeshResult>& statuses);

}  // namespace vmesh::hub
