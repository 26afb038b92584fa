// Every VirtualMesh imported from the Gloo Mesh corpus (third_party/gloo-mesh/virtualmesh-examples.yaml), previewed
// against a discovery fixture with a mesh per referenced name (three clusters' worth of services each),
// produces outputs that validate against the Istio CRD schemas.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "hub/translate/access_policy.h"
#include "hub/translate/federation.h"

namespace vmesh::hub {
namespace {

std::vector<std::string> CorpusDocuments() {
  auto text = ReadFile(vmesh::testpaths::GlooCorpusFile());
  EXPECT_TRUE(text.ok());
  std::vector<std::string> docs;
  if (!text.ok()) return docs;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = text->find("\n---\n", pos);
    docs.push_back(text->substr(pos, next == std::string::npos ? std::string::npos : next - pos + 1));
    pos = next == std::string::npos ? next : next + 5;
  }
  return docs;
}

// A discovered mesh for a ref, in a cluster named after it, with an east-west gateway, smart DNS on (the
// corpus uses suffixes other than "global") and three services.
void AddFixture(const api::v1::ObjectRef& ref, int index, std::map<std::string, api::v1::Mesh>* meshes,
                std::vector<api::v1::Destination>* destinations) {
  const std::string cluster = "cluster-" + std::to_string(index);
  api::v1::Mesh m;
  m.mutable_metadata()->set_name(ref.name());
  m.mutable_metadata()->set_namespace_(ref.namespace_().empty() ? "vmesh" : ref.namespace_());
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_istio_version(index % 2 ? "1.22.0" : "1.20.0");
  m.mutable_spec()->set_smart_dns_proxying_enabled(true);
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->mutable_service()->set_name("istio-eastwestgateway");
  gw->mutable_service()->set_namespace_("istio-system");
  (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
  gw->set_tls_container_port(15443);
  gw->set_external_tls_port(15443);
  gw->add_external_addresses("172.18.0." + std::to_string(index + 1));
  for (const char* svc : {"productpage", "reviews", "ratings"}) {
    api::v1::Destination d;
    auto* s = d.mutable_spec();
    s->set_cluster(cluster);
    s->mutable_mesh()->set_name(m.metadata().name());
    s->mutable_mesh()->set_namespace_(m.metadata().namespace_());
    s->set_name(svc);
    s->set_namespace_("bookinfo");
    (*s->mutable_labels())["app"] = svc;
    (*s->mutable_selector())["app"] = svc;
    auto* p = s->add_ports();
    p->set_name("http");
    p->set_port(9080);
    p->set_target_port("9080");
    auto* e = s->add_endpoints();
    e->set_ip("10." + std::to_string(index) + ".0.10");
    (*e->mutable_labels())["app"] = svc;
    e->set_ready(true);
    destinations->push_back(d);
  }
  (*meshes)[m.metadata().name() + "." + m.metadata().namespace_()] = m;
}

TEST(CorpusPreview, ImportedVirtualMeshesProduceSchemaValidOutputs) {
  auto schemas = crdschema::SchemaSet::LoadFile(vmesh::testpaths::IstioCrdsFile());
  ASSERT_TRUE(schemas.ok()) << schemas.error().message;
  int previewed = 0;
  for (std::string doc : CorpusDocuments()) {
    if (doc.find("apiVersion: networking.mesh.gloo.solo.io/v1") == std::string::npos) continue;
    // Documents rejected only for lacking mtlsConfig are previewed with shared trust added.
    size_t spec_at = doc.find("\nspec:\n");
    if (spec_at != std::string::npos && doc.find("mtlsConfig") == std::string::npos) {
      doc.insert(spec_at + 7, "  mtlsConfig: {shared: {}}\n");
    }
    auto decoded = api::DecodeManifests(doc);
    if (!decoded.ok()) continue;  // rejected documents are covered by the corpus import test
    const auto& vm = std::get<api::v1::VirtualMesh>(decoded.objects[0].object);
    std::map<std::string, api::v1::Mesh> meshes;
    std::vector<api::v1::Destination> destinations;
    for (int i = 0; i < vm.spec().meshes_size(); ++i) AddFixture(vm.spec().meshes(i), i, &meshes, &destinations);
    auto spec = vm.spec();
    if (spec.global_access_policy() == api::v1::VirtualMeshSpec::MESH_DEFAULT) {
      spec.set_global_access_policy(api::v1::VirtualMeshSpec::ENABLED);  // preview the policies too
    }
    FederationTranslator federation(vm.metadata().namespace_(), vm.metadata().name(), spec, meshes);
    AccessPolicyTranslator access(vm.metadata().namespace_(), vm.metadata().name(), spec, meshes);
    auto outputs = federation.TranslateAll(destinations);
    auto policies = access.Translate({}, destinations);
    outputs.insert(outputs.end(), policies.begin(), policies.end());
    EXPECT_FALSE(outputs.empty()) << doc;
    for (const auto& o : outputs) {
      for (const auto& v : schemas->Validate(o.object)) {
        ADD_FAILURE() << o.Key() << ": " << crdschema::ToString(v) << "\nfrom:\n" << doc;
      }
    }
    ++previewed;
  }
  EXPECT_EQ(previewed, 28) << "8 imported as they are + 20 once shared trust is added";
}

}  // namespace
}  // namespace vmesh::hub
