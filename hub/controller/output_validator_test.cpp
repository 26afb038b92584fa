// OutputValidator and its use by HubReconciler: outputs are checked against the schemas of the cluster they go to.
#include "hub/controller/output_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <functional>

#include "common/base/files.h"
#include "common/base/resource_names.h"
#include "common/base/test_paths.h"
#include "common/crdschema/yaml_to_json.h"
#include "common/sync/sync.h"
#include "hub/controller/desired_state.h"
#include "hub/controller/hub_reconciler.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// The vendored CRDs whose metadata.name passes `keep`, with `edit` applied to each, as an agent would report them.
link::v1::IstioSchemas Reported(const std::function<bool(const std::string&)>& keep,
                                const std::function<void(json::object&)>& edit = nullptr) {
  auto text = ReadFile(testpaths::IstioCrdsFile());
  EXPECT_TRUE(text.ok());
  auto docs = crdschema::YamlDocumentsToJson(*text);
  EXPECT_TRUE(docs.ok());
  json::array crds;
  for (auto& d : *docs) {
    if (!d.is_object() || !keep(json::value_to<std::string>(d.at("metadata").at("name")))) continue;
    if (edit) edit(d.get_object());
    crds.push_back(d);
  }
  link::v1::IstioSchemas s;
  s.set_crds_json(json::serialize(crds));
  s.set_digest(std::to_string(std::hash<std::string>()(s.crds_json())));
  return s;
}

link::v1::Resource Kube(const std::string& json_text) {
  json::object o = json::parse(json_text).as_object();
  link::v1::Resource r;
  auto* k = r.mutable_kube_object();
  k->set_api_version(json::value_to<std::string>(o.at("apiVersion")));
  k->set_kind(json::value_to<std::string>(o.at("kind")));
  k->set_namespace_(json::value_to<std::string>(o.at("metadata").at("namespace")));
  k->set_name(json::value_to<std::string>(o.at("metadata").at("name")));
  k->set_json(json_text);
  r.set_name(KubeResourceName(k->api_version(), k->kind(), k->namespace_(), k->name()));
  r.set_version(sync::ContentVersion(r));
  return r;
}

const char kGoodEntry[] = R"({"apiVersion": "networking.istio.io/v1beta1", "kind": "ServiceEntry",
  "metadata": {"name": "reviews", "namespace": "istio-system",
               "labels": {"networking.vmesh.dev/virtual-mesh": "vmesh.vm1"}},
  "spec": {"hosts": ["reviews.bookinfo.svc.c1.global"], "location": "MESH_INTERNAL", "resolution": "STATIC",
           "ports": [{"name": "http", "number": 9080, "protocol": "HTTP"}]}})";
const char kBadEntry[] = R"({"apiVersion": "networking.istio.io/v1beta1", "kind": "ServiceEntry",
  "metadata": {"name": "ratings", "namespace": "istio-system",
               "labels": {"networking.vmesh.dev/virtual-mesh": "vmesh.vm1"}},
  "spec": {"hosts": ["ratings.bookinfo.svc.c1.global"], "location": "MESH_INSIDE", "resolution": "STATIC",
           "ports": [{"name": "http", "number": 9080, "protocol": "HTTP"}]}})";

std::vector<std::string> Names(const std::vector<sync::SharedResource>& list) {
  std::vector<std::string> out;
  for (const auto& r : list) out.push_back(r->name());
  return out;
}

sync::SharedResource Share(link::v1::Resource r) { return std::make_shared<const link::v1::Resource>(std::move(r)); }

TEST(OutputValidatorTest, InvalidOutputsAreHeldBackNamingObjectFieldAndSchemas) {
  OutputValidator v;
  link::v1::Resource cert;
  cert.set_name("cert/istiod-istio-system-c1");
  cert.mutable_certificate()->set_mesh("istiod-istio-system-c1");
  std::map<std::string, std::vector<sync::SharedResource>> resources{
      {"c1", {Share(cert), Share(Kube(kGoodEntry)), Share(Kube(kBadEntry))}}};
  v.Check(resources);
  EXPECT_THAT(Names(resources.at("c1")),
              ::testing::ElementsAre("cert/istiod-istio-system-c1", Kube(kGoodEntry).name()));
  ASSERT_THAT(v.rejected().at("c1"), SizeIs(1));
  const RejectedOutput& r = v.rejected().at("c1").front();
  EXPECT_EQ(r.virtual_mesh, "vmesh/vm1");
  EXPECT_EQ(r.resource, Kube(kBadEntry).name());
  EXPECT_THAT(r.message, AllOf(HasSubstr("ServiceEntry istio-system/ratings"), HasSubstr("spec.location"),
                               HasSubstr("MESH_INSIDE"), HasSubstr("vmesh's built-in Istio 1.30 CRDs"),
                               HasSubstr("not send it to cluster c1")));
}

TEST(OutputValidatorTest, EachClusterIsCheckedAgainstTheSchemasItsAgentReported) {
  OutputValidator v;
  // c2 runs an Istio whose ServiceEntry CRD does not serve v1beta1 (any difference between versions would do).
  auto no_v1beta1 = Reported([](const std::string& name) { return name == "serviceentries.networking.istio.io"; },
                             [](json::object& crd) {
                               json::array kept;
                               for (auto& ver : crd.at("spec").at("versions").as_array()) {
                                 if (ver.at("name").as_string() != "v1beta1") kept.push_back(ver);
                               }
                               crd.at("spec").as_object()["versions"] = kept;
                             });
  EXPECT_TRUE(v.SetClusterSchemas("c2", no_v1beta1));
  EXPECT_THAT(v.TakeChanged(), ::testing::ElementsAre("c2"));
  EXPECT_FALSE(v.SetClusterSchemas("c2", no_v1beta1)) << "the same digest changes nothing";
  EXPECT_THAT(v.TakeChanged(), IsEmpty());

  std::map<std::string, std::vector<sync::SharedResource>> resources{{"c1", {Share(Kube(kGoodEntry))}},
                                                                     {"c2", {Share(Kube(kGoodEntry))}}};
  v.Check(resources);
  EXPECT_THAT(resources.at("c1"), SizeIs(1)) << "c1 has no reported CRDs: the built-in ones accept it";
  EXPECT_THAT(resources.at("c2"), IsEmpty());
  EXPECT_EQ(v.rejected().count("c1"), 0u);
  ASSERT_THAT(v.rejected().at("c2"), SizeIs(1));
  EXPECT_THAT(v.rejected().at("c2").front().message,
              AllOf(HasSubstr("the Istio CRDs of cluster c2"), HasSubstr("not served as networking.istio.io/v1beta1")));

  // Back to the built-in schemas (the agent reports none): the output goes out again.
  EXPECT_TRUE(v.SetClusterSchemas("c2", link::v1::IstioSchemas()));
  resources = {{"c2", {Share(Kube(kGoodEntry))}}};
  v.Check(resources);
  EXPECT_THAT(resources.at("c2"), SizeIs(1));
  EXPECT_THAT(v.rejected(), IsEmpty());
}

TEST(OutputValidatorTest, UnusableReportedCrdsFallBackToTheBuiltInSchemas) {
  OutputValidator v;
  link::v1::IstioSchemas broken;
  broken.set_digest("abc");
  broken.set_crds_json("{not json");
  EXPECT_FALSE(v.SetClusterSchemas("c1", broken)) << "still the built-in schemas";
  EXPECT_EQ(v.SchemasName("c1"), "vmesh's built-in Istio 1.30 CRDs");
  broken.set_crds_json(R"([{"apiVersion": "v1", "kind": "ConfigMap"}])");
  EXPECT_FALSE(v.SetClusterSchemas("c1", broken));
  std::map<std::string, std::vector<sync::SharedResource>> resources{{"c1", {Share(Kube(kGoodEntry))}}};
  v.Check(resources);
  EXPECT_THAT(resources.at("c1"), SizeIs(1));
}

TEST(OutputValidatorTest, VerdictsAreCachedPerContentAndSharedAcrossClusters) {
  OutputValidator v;
  std::map<std::string, std::vector<sync::SharedResource>> resources;
  for (const char* c : {"c1", "c2", "c3"}) resources[c] = {Share(Kube(kGoodEntry)), Share(Kube(kBadEntry))};
  auto copy = resources;
  v.Check(copy);
  EXPECT_EQ(v.validations(), 2u) << "one validation per distinct content and schema set";
  copy = resources;
  v.Check(copy);
  EXPECT_EQ(v.validations(), 2u) << "unchanged outputs are not validated again";
  EXPECT_THAT(v.rejected(), SizeIs(3));
}

// --- With the reconciler ------------------------------------------------------------------------------------

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  federation: {permissive: {}, flatNetwork: true}
  mtlsConfig: {shared: {rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}}}
)";

api::v1::Mesh MeshOf(const std::string& cluster) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  return m;
}

api::v1::Destination Reviews() {
  api::v1::Destination d;
  d.mutable_metadata()->set_name("reviews-bookinfo-c1");
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* s = d.mutable_spec();
  s->set_cluster("c1");
  s->mutable_mesh()->set_name("istiod-istio-system-c1");
  s->mutable_mesh()->set_namespace_("vmesh");
  s->set_name("reviews");
  s->set_namespace_("bookinfo");
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_port(9080);
  p->set_protocol("TCP");
  p->set_target_port("9080");
  auto* e = s->add_endpoints();
  e->set_ip("10.1.0.11");
  e->set_ready(true);
  e->set_service_account("bookinfo-reviews");
  return d;
}

TEST(OutputValidatorReconcilerTest, AnOutputTheClusterWouldRefuseMakesItsMeshFailedNamingIt) {
  char tmpl[] = "/tmp/vmesh-validator-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  TimePoint now = std::chrono::system_clock::now();
  StorePtr store = std::move(*OpenSqliteStore(dir + "/hub.db"));
  ObjectService objects(*store, "vmesh", [&] { return now; });
  CaService ca(*store, std::nullopt, [&] { return now; });
  HubReconciler reconciler(*store, objects, ca);
  reconciler.SetDiscovery("c1", {MeshOf("c1")}, {Reviews()});
  reconciler.SetDiscovery("c2", {MeshOf("c2")}, {});
  for (const char* c : {"c1", "c2"}) reconciler.SetConnected(c, true);
  ASSERT_TRUE(objects.Apply(kVm).ok());

  auto before = reconciler.Reconcile();
  ASSERT_TRUE(before.ok()) << before.error().message;
  const auto with_entry = Names(before->resources.at("c2"));
  ASSERT_THAT(with_entry, Contains(HasSubstr("/ServiceEntry/istio-system/")));

  // c2's Istio knows no ServiceEntry at all (its agent reported only the DestinationRule CRD).
  reconciler.SetIstioSchemas(
      "c2", Reported([](const std::string& name) { return name == "destinationrules.networking.istio.io"; }));
  auto after = reconciler.Reconcile();
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_THAT(after->revalidated_clusters, Contains("c2")) << "its outputs must be offered again";
  EXPECT_THAT(Names(after->resources.at("c2")), Not(Contains(HasSubstr("/ServiceEntry/"))));
  EXPECT_EQ(Names(after->resources.at("c2")).size(), with_entry.size() - 1);

  api::v1::VirtualMesh vm = **objects.GetVirtualMesh("vmesh", "vm1");
  const api::v1::ApprovalStatus& c2 = vm.status().meshes().at("istiod-istio-system-c2.vmesh");
  EXPECT_EQ(c2.state(), api::v1::FAILED);
  ASSERT_GT(c2.errors_size(), 0);
  EXPECT_THAT(c2.errors(c2.errors_size() - 1),
              AllOf(HasSubstr("ServiceEntry istio-system/"), HasSubstr("the Istio CRDs of cluster c2"),
                    HasSubstr("unknown kind ServiceEntry in networking.istio.io/v1beta1")));
  EXPECT_EQ(vm.status().state(), api::v1::FAILED);
  EXPECT_NE(vm.status().meshes().at("istiod-istio-system-c1.vmesh").state(), api::v1::FAILED);

  // The cluster's Istio gains the CRD: the mesh is no longer FAILED and the output goes out.
  reconciler.SetIstioSchemas("c2", Reported([](const std::string& name) {
                               return name == "destinationrules.networking.istio.io" ||
                                      name == "serviceentries.networking.istio.io";
                             }));
  auto fixed = reconciler.Reconcile();
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(Names(fixed->resources.at("c2")), with_entry);
  vm = **objects.GetVirtualMesh("vmesh", "vm1");
  EXPECT_NE(vm.status().meshes().at("istiod-istio-system-c2.vmesh").state(), api::v1::FAILED);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vmesh::hub
