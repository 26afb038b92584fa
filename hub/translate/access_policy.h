// SPEC §7 / §3.2: the global access policy and AccessPolicies as Istio AuthorizationPolicies (pure).
//
// globalAccessPolicy ENABLED, for every member mesh:
//  - AuthorizationPolicy "vmesh-global-deny" with an empty spec in the mesh's root namespace (Istio's
//    installation namespace): nothing is allowed unless a policy allows it;
//  - an ALLOW-all policy on each ingress and east-west gateway workload, so traffic can still reach the
//    gateways themselves (where a gateway forwards to is governed like any other source);
//  - for each AccessPolicy and each destination it selects (in the VirtualMesh's meshes), an ALLOW policy in
//    the destination's cluster and namespace selecting its workloads: principals of the selected sources
//    ("<trustDomain>/ns/<ns>/sa/<sa>", "*" where a field is omitted), ports/methods/paths as given.
// DISABLED and MESH_DEFAULT: no outputs at all — an ALLOW policy alone would deny everything else for its
// workloads, which Istio's default (allow) must not turn into; earlier vmesh policies are pruned by label.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hub/translate/federation.h"
#include "vmesh/api/v1/access_policy.pb.h"

namespace vmesh::hub {

class AccessPolicyTranslator {
 public:
  AccessPolicyTranslator(std::string virtual_mesh_namespace, std::string virtual_mesh_name,
                         api::v1::VirtualMeshSpec spec, std::map<std::string, api::v1::Mesh> meshes);

  // Every AuthorizationPolicy, sorted by Output::Key().
  std::vector<Output> Translate(const std::vector<api::v1::AccessPolicy>& policies,
                                const std::vector<api::v1::Destination>& destinations) const;

  // Translate in pieces, for callers that recompute per destination. Translate() is, sorted, MeshPolicies() plus
  // DestinationPolicies() of every destination; all empty unless globalAccessPolicy is ENABLED.
  // The per-mesh policies (global deny, gateway allows).
  std::vector<Output> MeshPolicies() const;
  // The rule of each policy (index-aligned with `policies`), computed once for DestinationPolicies().
  std::vector<boost::json::object> Rules(const std::vector<api::v1::AccessPolicy>& policies) const;
  // The ALLOW policies of one destination.
  std::vector<Output> DestinationPolicies(const std::vector<api::v1::AccessPolicy>& policies,
                                          const std::vector<boost::json::object>& rules,
                                          const api::v1::Destination& destination) const;
  bool enabled() const;

  // The principals an identity selector stands for across the VirtualMesh's meshes.
  std::vector<std::string> Principals(const api::v1::IdentitySelector& selector) const;

 private:
  std::string vm_namespace_;
  std::string vm_name_;
  api::v1::VirtualMeshSpec spec_;
  std::map<std::string, api::v1::Mesh> meshes_;
};

// Building blocks shared with the limited-trust translation (limited_federation.h).
// "security.istio.io/v1" when `mesh` reports Istio >= 1.22, else "security.istio.io/v1beta1".
std::string SecurityApiVersion(const api::v1::Mesh& mesh);
// The mesh's trust domain ("cluster.local" when it reported none).
std::string MeshTrustDomain(const api::v1::Mesh& mesh);
// An AuthorizationPolicy in `mesh`'s cluster with the vmesh labels.
Output AuthorizationPolicyOutput(const api::v1::Mesh& mesh, const std::string& ns, const std::string& name,
                                 const std::string& vm_label, boost::json::object spec);

}  // namespace vmesh::hub
