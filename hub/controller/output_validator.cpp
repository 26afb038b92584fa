#include "hub/controller/output_validator.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/crdschema/builtin_istio.h"
#include "common/sync/sync.h"
#include "hub/translate/federation.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;

// At most this many violations are named per output (the first ones say what to fix).
constexpr size_t kViolationsNamed = 3;
// The cross-cluster verdict cache is dropped whole when it grows past this (it refills with what is current).
constexpr size_t kSharedCacheLimit = 200'000;

std::string VirtualMeshOf(const json::value& object) {
  const json::value* labels = object.is_object() ? object.get_object().if_contains("metadata") : nullptr;
  labels = labels != nullptr && labels->is_object() ? labels->get_object().if_contains("labels") : nullptr;
  const json::value* label =
      labels != nullptr && labels->is_object() ? labels->get_object().if_contains(kVirtualMeshLabel) : nullptr;
  if (label == nullptr || !label->is_string()) return "";
  // "<namespace>.<name>": namespaces are DNS labels (no dots), names may have dots.
  const std::string value(label->get_string());
  const size_t dot = value.find('.');
  return dot == std::string::npos ? "" : value.substr(0, dot) + "/" + value.substr(dot + 1);
}

}  // namespace

OutputValidator::OutputValidator(std::shared_ptr<const crdschema::SchemaSet> fallback, std::string fallback_name)
    : fallback_(std::move(fallback)),
      fallback_name_(fallback_name.empty() ? std::string(crdschema::kBuiltinIstioCrdsName) : std::move(fallback_name)) {
  builtin_.id = "builtin";
}

const crdschema::SchemaSet& OutputValidator::Fallback() {
  return fallback_ ? *fallback_ : crdschema::BuiltinIstioSchemas();
}

const OutputValidator::Compiled& OutputValidator::CompiledFor(const std::string& cluster) const {
  auto it = clusters_.find(cluster);
  return it == clusters_.end() ? builtin_ : it->second;
}

std::string OutputValidator::SchemasName(const std::string& cluster) const {
  return CompiledFor(cluster).schemas ? "the Istio CRDs of cluster " + cluster : fallback_name_;
}

bool OutputValidator::SetClusterSchemas(const std::string& cluster, const link::v1::IstioSchemas& schemas) {
  const std::string before = CompiledFor(cluster).id;
  Compiled next = builtin_;
  if (!schemas.digest().empty()) {
    std::shared_ptr<const crdschema::SchemaSet> set;
    if (auto known = by_digest_.find(schemas.digest()); known != by_digest_.end()) set = known->second.lock();
    if (!set) {
      // Only the digest is trusted to name the content if it matches it: a set is shared by digest.
      std::vector<json::value> crds;
      std::string problem;
      boost::system::error_code ec;
      json::value parsed = json::parse(schemas.crds_json(), ec);
      if (ec || !parsed.is_array()) {
        problem = "the reported CRDs are not a JSON array" + (ec ? " (" + ec.message() + ")" : std::string());
      } else {
        for (auto& crd : parsed.get_array()) crds.push_back(std::move(crd));
        auto loaded = crdschema::SchemaSet::LoadObjects(crds);
        if (loaded.ok()) {
          set = std::make_shared<const crdschema::SchemaSet>(std::move(*loaded));
        } else {
          problem = loaded.error().message;
        }
      }
      if (!set) {
        spdlog::warn(
            "hub: cluster {}: its Istio CRDs (digest {}) cannot be used, validating its outputs against {}: {}",
            cluster, schemas.digest().substr(0, 12), fallback_name_, problem);
      } else {
        by_digest_[schemas.digest()] = set;
      }
    }
    if (set) next = Compiled{std::move(set), schemas.digest()};
  }
  if (next.schemas) {
    clusters_[cluster] = std::move(next);
  } else {
    clusters_.erase(cluster);
  }
  for (auto it = by_digest_.begin(); it != by_digest_.end();) it = it->second.expired() ? by_digest_.erase(it) : ++it;
  if (CompiledFor(cluster).id == before) return false;
  if (const Compiled& now = CompiledFor(cluster); now.schemas) {
    spdlog::info("hub: cluster {}: validating its outputs against its own Istio CRDs (digest {}: {} kinds)", cluster,
                 now.id.substr(0, 12), now.schemas->Kinds().size());
  }
  changed_.insert(cluster);
  return true;
}

void OutputValidator::ForgetCluster(const std::string& cluster) {
  if (clusters_.erase(cluster) > 0) changed_.insert(cluster);
  rejected_.erase(cluster);
}

std::set<std::string> OutputValidator::TakeChanged() {
  std::set<std::string> out;
  out.swap(changed_);
  return out;
}

std::string OutputValidator::Validate(const crdschema::SchemaSet& schemas, const std::string& schemas_id,
                                      const link::v1::Resource& resource) {
  const std::string version = resource.version().empty() ? sync::ContentVersion(resource) : resource.version();
  const std::string key = schemas_id + " " + version;
  if (auto hit = shared_.find(key); hit != shared_.end()) return hit->second;
  ++validations_;
  std::string error;
  boost::system::error_code ec;
  json::value object = json::parse(resource.kube_object().json(), ec);
  if (ec) {
    error = "not JSON (" + ec.message() + ")";
  } else {
    std::vector<crdschema::Violation> violations = schemas.Validate(object);
    for (size_t i = 0; i < violations.size() && i < kViolationsNamed; ++i) {
      error += (i == 0 ? "" : "; ") + crdschema::ToString(violations[i]);
    }
    if (violations.size() > kViolationsNamed) {
      error += "; and " + std::to_string(violations.size() - kViolationsNamed) + " more";
    }
  }
  if (shared_.size() >= kSharedCacheLimit) shared_.clear();
  shared_.emplace(key, error);
  return error;
}

void OutputValidator::Check(std::map<std::string, std::vector<sync::SharedResource>>& resources) {
  std::map<std::string, std::vector<RejectedOutput>> rejected;
  for (auto& [cluster, list] : resources) {
    const Compiled& compiled = CompiledFor(cluster);
    std::vector<sync::SharedResource> kept;
    kept.reserve(list.size());
    for (auto& shared : list) {
      const link::v1::Resource& r = *shared;
      if (r.body_case() != link::v1::Resource::kKubeObject) {
        kept.push_back(std::move(shared));
        continue;
      }
      ObjectVerdicts& cached = by_object_[&r];
      if (!cached.held) cached.held = shared;
      const std::string* error = nullptr;
      for (const auto& [id, e] : cached.by_schemas) {
        if (id == compiled.id) error = &e;
      }
      if (error == nullptr) {
        const crdschema::SchemaSet& schemas = compiled.schemas ? *compiled.schemas : Fallback();
        cached.by_schemas.emplace_back(compiled.id, Validate(schemas, compiled.id, r));
        error = &cached.by_schemas.back().second;
      }
      if (error->empty()) {
        kept.push_back(std::move(shared));
        continue;
      }
      const auto& k = r.kube_object();
      boost::system::error_code ec;
      json::value object = json::parse(k.json(), ec);
      rejected[cluster].push_back(RejectedOutput{
          r.name(), ec ? "" : VirtualMeshOf(object),
          k.kind() + " " + k.namespace_() + "/" + k.name() + " (" + k.api_version() + ") does not validate against " +
              SchemasName(cluster) + ": " + *error + "; vmesh did not send it to cluster " + cluster});
    }
    list = std::move(kept);
  }
  // Objects nobody else holds any more (no result, sender or cache of the reconciler) are gone for good.
  for (auto it = by_object_.begin(); it != by_object_.end();) {
    it = it->second.held.use_count() == 1 ? by_object_.erase(it) : std::next(it);
  }
  for (const auto& [cluster, list] : rejected) {
    auto before = rejected_.find(cluster);
    if (before != rejected_.end() && before->second.size() == list.size()) continue;
    for (const auto& r : list) spdlog::warn("hub: {}", r.message);
  }
  rejected_ = std::move(rejected);
}

}  // namespace vmesh::hub
