#include "common/api/gloo_import.h"

namespace vmesh::api {
namespace {

class NamespaceMapper {
 public:
  explicit NamespaceMapper(const std::string& hub_namespace) : hub_namespace_(hub_namespace) {}

  void Map(v1::ObjectRef* ref) {
    if (ref->namespace_() == kGlooNamespace) {
      ref->set_namespace_(hub_namespace_);
      ++mapped_;
    }
  }
  void Map(v1::ObjectMeta* meta) {
    if (meta->namespace_().empty() || meta->namespace_() == kGlooNamespace) {
      meta->set_namespace_(hub_namespace_);
      ++mapped_;
    }
  }
  int mapped() const { return mapped_; }

 private:
  const std::string& hub_namespace_;
  int mapped_ = 0;
};

void MapVirtualMesh(v1::VirtualMesh& vm, NamespaceMapper& mapper) {
  mapper.Map(vm.mutable_metadata());
  v1::VirtualMeshSpec* spec = vm.mutable_spec();
  for (auto& ref : *spec->mutable_meshes()) mapper.Map(&ref);
  if (spec->has_federation()) {
    auto* fed = spec->mutable_federation();
    for (auto& sel : *fed->mutable_selectors()) {
      for (auto& ref : *sel.mutable_meshes()) mapper.Map(&ref);
    }
    for (auto& sel : *fed->mutable_east_west_ingress_gateway_selectors()) {
      for (auto& ref : *sel.mutable_meshes()) mapper.Map(&ref);
    }
  }
  if (spec->mtls_config().shared().root_certificate_authority().has_secret()) {
    mapper.Map(spec->mutable_mtls_config()->mutable_shared()->mutable_root_certificate_authority()->mutable_secret());
  }
}

}  // namespace

ImportResult ImportGlooObject(Object& object, const std::string& hub_namespace) {
  ImportResult result;
  NamespaceMapper mapper(hub_namespace);
  std::string kind;
  if (auto* vm = std::get_if<v1::VirtualMesh>(&object)) {
    kind = "VirtualMesh";
    MapVirtualMesh(*vm, mapper);
    vm->set_api_version(std::string(kNetworkingApiVersion));
    vm->clear_status();
  } else if (auto* ap = std::get_if<v1::AccessPolicy>(&object)) {
    kind = "AccessPolicy";
    mapper.Map(ap->mutable_metadata());
    ap->set_api_version(std::string(kNetworkingApiVersion));
    ap->clear_status();
  } else {
    result.errors.push_back(FieldError{
        "kind", "only VirtualMesh and AccessPolicy can be imported from " + std::string(kGlooNetworkingApiVersion)});
    return result;
  }
  result.note = "imported " + kind + " from " + std::string(kGlooNetworkingApiVersion) + " as " +
                std::string(kNetworkingApiVersion);
  if (mapper.mapped() > 0) {
    result.note += "; namespace " + std::string(kGlooNamespace) + " mapped to " + hub_namespace + " (" +
                   std::to_string(mapper.mapped()) + (mapper.mapped() == 1 ? " place)" : " places)");
  }
  return result;
}

}  // namespace vmesh::api
