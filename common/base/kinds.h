// The one table of the kinds vmesh reads, writes and serves: each kind's REST plural, API group and version, scope,
// short names and the roles it plays. Hub translation, the hub's API and vmeshctl, the agent (applier allowlist,
// restarter, discovery) and kubesim look kinds up here instead of spelling them out again.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace vmesh {

// What vmesh does with a kind (a bit set: a kind may play several roles).
enum KindRole : unsigned {
  kKubeBuiltin = 1u << 0,   // a Kubernetes built-in the agent reads or writes (ConfigMap, Secret, Deployment, ...)
  kIstioOutput = 1u << 1,   // written by hub translation and applied by the agent: the applier's allowlist
  kHubApi = 1u << 2,        // served by the hub's API (/v1/objects/<kind>, `vmeshctl get`)
  kUserWritable = 1u << 3,  // applied and deleted by users; the hub writes the other kHubApi kinds itself
};

struct KindInfo {
  std::string_view kind;         // "ServiceEntry"
  std::string_view plural;       // "serviceentries": the REST resource
  std::string_view group;        // "networking.istio.io"; "" for the core group
  std::string_view version;      // the version vmesh writes unless told otherwise ("v1beta1")
  bool namespaced;               //
  unsigned roles;                // KindRole bits
  std::string_view short_names;  // space-separated ("vm vms"), as `kubectl get` accepts

  // "group/version", or just "version" for the core group.
  std::string ApiVersion() const;
};

// Every kind, vmesh's API kinds first in the order `vmeshctl` lists them.
std::span<const KindInfo> Kinds();

// The kind spelled exactly `kind` ("ConfigMap"), or nullptr.
const KindInfo* FindKind(std::string_view kind);

// The kind of a REST resource ("apps", "deployments"), or nullptr.
const KindInfo* FindKindByPlural(std::string_view group, std::string_view plural);

// A user's spelling in any case: the kind, its plural or a short name ("vm", "VirtualMeshes", "cert"), among the
// kinds with any of `roles`; nullptr when none matches.
const KindInfo* LookupKind(std::string_view spelling, unsigned roles);

// "networking.istio.io" of "networking.istio.io/v1beta1"; "" of "v1".
std::string_view GroupOf(std::string_view api_version);

// Whether the agent may apply `kind` of `api_version`: a kIstioOutput kind of its group, v1beta1 or v1 (what
// every supported Istio serves).
bool IsOutputKind(std::string_view api_version, std::string_view kind);

}  // namespace vmesh
