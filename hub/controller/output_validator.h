// OutputValidator: every Kubernetes output goes to its cluster only if it validates against the Istio CRD schemas
// of that cluster (issue 11): the schemas its agent read from the cluster's API server (Istio versions differ), or,
// until they arrive (or when they cannot be read or compiled), vmesh's built-in Istio CRDs. An output that does not
// validate is held back and its rejection is reported, so status names the object and the field instead of the
// agent's apply failing (or, worse, the API server pruning a field silently).
//
// Verdicts are cached per output object (outputs are immutable and shared, sync::SharedResource) and schema set,
// and across objects by content version, so a check over unchanged outputs costs a pointer lookup per output and
// an output federated to many clusters is validated once per schema set. Schema sets are shared by digest: a fleet on
// one Istio version compiles one set.
//
// Not thread-safe (the reconciler runs one reconcile at a time).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/crdschema/schema_set.h"
#include "common/sync/sync.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

struct RejectedOutput {
  std::string resource;      // "kube/<apiVersion>/<kind>/<namespace>/<name>"
  std::string virtual_mesh;  // "<namespace>/<name>" from the output's virtual-mesh label ("" without one)
  std::string message;       // names the object, the schemas and the violations
};

class OutputValidator {
 public:
  // `fallback` null: vmesh's built-in Istio CRDs (crdschema::BuiltinIstioSchemas, loaded on first use).
  explicit OutputValidator(std::shared_ptr<const crdschema::SchemaSet> fallback = nullptr,
                           std::string fallback_name = "");

  // Records the schemas `cluster`'s agent reported (an empty digest: none; the fallback applies). CRDs that do not
  // compile are logged and the fallback applies. True when the schemas the cluster is checked against changed.
  bool SetClusterSchemas(const std::string& cluster, const link::v1::IstioSchemas& schemas);
  void ForgetCluster(const std::string& cluster);

  // Validates the Kubernetes outputs of every cluster in `resources`; invalid ones are removed from it and the
  // cluster's rejections replaced by this check's (clusters absent from `resources` have none).
  void Check(std::map<std::string, std::vector<sync::SharedResource>>& resources);

  // Rejections per cluster as of the last Check (clusters without any are absent).
  const std::map<std::string, std::vector<RejectedOutput>>& rejected() const { return rejected_; }
  // Clusters whose schemas changed since the last call (their outputs must be offered again even when the
  // outputs themselves did not change).
  std::set<std::string> TakeChanged();
  // "the Istio CRDs of cluster c1" or the fallback's name.
  std::string SchemasName(const std::string& cluster) const;
  // Validations run so far (cache misses), for tests and metrics.
  std::uint64_t validations() const { return validations_; }

 private:
  struct Compiled {
    std::shared_ptr<const crdschema::SchemaSet> schemas;  // null: the fallback
    std::string id;                                       // digest, or "builtin"
  };
  const crdschema::SchemaSet& Fallback();
  const Compiled& CompiledFor(const std::string& cluster) const;
  std::string Validate(const crdschema::SchemaSet& schemas, const std::string& schemas_name,
                       const link::v1::Resource& resource);

  std::shared_ptr<const crdschema::SchemaSet> fallback_;
  std::string fallback_name_;
  Compiled builtin_;
  std::map<std::string, std::weak_ptr<const crdschema::SchemaSet>> by_digest_;
  std::map<std::string, Compiled> clusters_;
  // Verdicts by output object, while anyone but this cache holds it: schemas id -> error ("" valid).
  struct ObjectVerdicts {
    sync::SharedResource held;  // keeps the address from being reused while cached
    std::vector<std::pair<std::string, std::string>> by_schemas;
  };
  std::unordered_map<const link::v1::Resource*, ObjectVerdicts> by_object_;
  std::unordered_map<std::string, std::string> shared_;  // "<schemas id> <content version>" -> error
  std::map<std::string, std::vector<RejectedOutput>> rejected_;
  std::set<std::string> changed_;
  std::uint64_t validations_ = 0;
};

}  // namespace vmesh::hub
