#include "agent/apply/apply_plan.h"

#include "common/base/kinds.h"
#include "common/base/resource_names.h"

namespace vmesh::agent {

std::string OutputKeyOf(const LiveObject& o) { return OutputKey(o.api_version, o.kind, o.ns, o.name); }

bool IsManagedByVmesh(const LiveObject& o) {
  auto it = o.labels.find(kManagedBy);
  return it != o.labels.end() && it->second == "vmesh";
}

std::vector<LiveObject> PruneCandidates(const std::set<std::string>& desired_keys, const std::vector<LiveObject>& live,
                                        const std::string& cluster) {
  std::vector<LiveObject> out;
  for (const auto& o : live) {
    if (!IsManagedByVmesh(o) || desired_keys.count(OutputKeyOf(o))) continue;
    if (!cluster.empty()) {
      auto owner = o.labels.find(kClusterLabel);
      if (owner == o.labels.end() || owner->second != cluster) continue;
    }
    out.push_back(o);
  }
  return out;
}

Status CheckOutputKind(const std::string& api_version, const std::string& kind) {
  if (IsOutputKind(api_version, kind)) return OkStatus();
  return MakeError(kind + " (" + api_version +
                   ") is not a kind vmesh writes: the agent applies only ServiceEntry, DestinationRule and Gateway "
                   "(networking.istio.io) and AuthorizationPolicy (security.istio.io), v1beta1 or v1");
}

Status CheckTakeover(const LiveObject* existing) {
  if (existing == nullptr || IsManagedByVmesh(*existing)) return OkStatus();
  return MakeError(existing->kind + " " + existing->ns + "/" + existing->name +
                   " exists and was not created by vmesh, so it is left untouched; rename or delete it, or label it " +
                   kManagedBy + "=vmesh to hand it over");
}

}  // namespace vmesh::agent
