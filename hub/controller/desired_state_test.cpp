#include "hub/controller/desired_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "hub/controller/incremental_state.h"

namespace vmesh::hub {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

HubState Load() {
  HubState s;
  auto text = ReadFile(vmesh::testpaths::SourceDir() + "/hub/translate/testdata/permissive/input.yaml");
  EXPECT_TRUE(text.ok());
  auto decoded = api::DecodeManifests(*text);
  EXPECT_TRUE(decoded.ok()) << api::JoinErrors(decoded.errors);
  for (auto& o : decoded.objects) {
    if (auto* vm = std::get_if<api::v1::VirtualMesh>(&o.object)) {
      vm->mutable_metadata()->set_creation_timestamp("2026-01-01T00:00:00Z");
      vm->mutable_metadata()->set_generation(1);
      s.status.virtual_meshes.push_back({*vm});
    }
    if (auto* m = std::get_if<api::v1::Mesh>(&o.object)) {
      const std::string key = m->metadata().name() + ".vmesh";
      s.status.meshes[key] = *m;
      s.status.connected_clusters.insert(m->spec().cluster());
      s.status.reports[key].certificate.set_phase(api::v1::INSTALLED);
    }
    if (auto* d = std::get_if<api::v1::Destination>(&o.object)) s.destinations.push_back(*d);
  }
  return s;
}

std::vector<std::string> Names(const DesiredState& d, const std::string& cluster) {
  std::vector<std::string> out;
  auto it = d.resources.find(cluster);
  if (it == d.resources.end()) return out;
  for (const auto& r : it->second) out.push_back(r->name());
  return out;
}

TEST(DesiredState, CertificatesWaitForTheRootOutputsDoNot) {
  HubState s = Load();
  DesiredState d = ComputeDesiredState(s);
  EXPECT_THAT(d.roots_needed, Contains("vmesh/vm1"));
  for (const auto& name : Names(d, "cluster-1")) EXPECT_EQ(name.rfind("cert/", 0), std::string::npos) << name;
  EXPECT_THAT(Names(d, "cluster-2"),
              Contains("kube/networking.istio.io/v1/ServiceEntry/istio-system/reviews.bookinfo.svc.cluster-1.global"));
  EXPECT_EQ(d.federated_destinations["istiod-istio-system-cluster-2.vmesh"], 2u) << "reviews and db";
}

TEST(DesiredState, EveryActiveMeshGetsACertificateDirectiveThatFollowsTheRoot) {
  HubState s = Load();
  s.roots["vmesh/vm1"] = {"ROOT PEM", "aaaaaaaaaaaaaaaaaaaa"};
  DesiredState d = ComputeDesiredState(s);
  EXPECT_THAT(d.roots_needed, IsEmpty());
  const link::v1::Resource* cert = nullptr;
  for (const auto& r : d.resources.at("cluster-3")) {
    if (r->name() == "cert/istiod-istio-system-cluster-3") cert = r.get();
  }
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->certificate().trust_bundle_pem(), "ROOT PEM");
  EXPECT_EQ(cert->certificate().virtual_mesh(), "vmesh/vm1");
  EXPECT_EQ(cert->certificate().rsa_key_size_bits(), 4096u);
  const std::string generation = cert->certificate().generation();
  s.roots["vmesh/vm1"] = {"NEW ROOT", "bbbbbbbbbbbbbbbbbbbb"};
  DesiredState rotated = ComputeDesiredState(s);
  for (const auto& r : rotated.resources.at("cluster-3")) {
    if (r->name() == cert->name()) EXPECT_NE(r->certificate().generation(), generation);
  }
}

TEST(DesiredState, AMeshIsAcceptedOnlyWithAnIntermediateOfTheCurrentGeneration) {
  HubState s = Load();
  // Every agent reports an INSTALLED certificate, but of an earlier root (e.g. a deleted and re-created
  // VirtualMesh): not ACCEPTED.
  for (auto& [key, report] : s.status.reports) report.installed_generation = "an-earlier-root";
  DesiredState before_root = ComputeDesiredState(s);
  ASSERT_EQ(before_root.statuses.size(), 1u);
  const auto& waiting = before_root.statuses[0].status;
  EXPECT_EQ(waiting.state(), api::v1::PENDING);
  EXPECT_THAT(waiting.meshes().at("istiod-istio-system-cluster-1.vmesh").errors(),
              Contains(::testing::HasSubstr("root CA of vmesh/vm1 to be created")));

  s.roots["vmesh/vm1"] = {"ROOT PEM", "aaaaaaaaaaaaaaaaaaaa"};
  DesiredState stale = ComputeDesiredState(s);
  EXPECT_EQ(stale.statuses[0].status.state(), api::v1::PENDING);
  EXPECT_THAT(stale.statuses[0].status.meshes().at("istiod-istio-system-cluster-2.vmesh").errors(),
              Contains(::testing::HasSubstr("earlier root or options")));

  // The agents install the directed generation: ACCEPTED.
  for (const auto& [cluster, resources] : stale.resources) {
    for (const auto& r : resources) {
      if (r->has_certificate())
        s.status.reports[r->certificate().mesh() + ".vmesh"].installed_generation = r->certificate().generation();
    }
  }
  DesiredState current = ComputeDesiredState(s);
  EXPECT_EQ(current.statuses[0].status.state(), api::v1::ACCEPTED);
}

TEST(DesiredState, InvalidUpdateKeepsTheLastGoodOutputs) {
  HubState s = Load();
  DesiredState before = ComputeDesiredState(s);
  VirtualMeshInput& vm = s.status.virtual_meshes[0];
  vm.last_good_spec = vm.current.spec();
  vm.last_good_generation = 1;
  vm.current.mutable_metadata()->set_generation(2);
  vm.current.mutable_spec()->mutable_federation()->set_hostname_suffix("Not_Valid");
  DesiredState after = ComputeDesiredState(s);
  EXPECT_EQ(after.statuses[0].status.state(), api::v1::INVALID);
  EXPECT_EQ(Names(after, "cluster-2"), Names(before, "cluster-2")) << "nothing deleted because of a typo";
}

TEST(DesiredState, UndiscoveredMeshesGetNothingAndAreNotFederated) {
  HubState s = Load();
  s.status.meshes.erase("istiod-istio-system-cluster-3.vmesh");
  DesiredState d = ComputeDesiredState(s);
  EXPECT_TRUE(Names(d, "cluster-3").empty());
  for (const auto& name : Names(d, "cluster-2")) {
    EXPECT_EQ(name.find("cluster-3"), std::string::npos) << name << ": a pending mesh's services are not federated";
  }
}

// Limited trust (SPEC §8): the VirtualMesh's meshes keep their own CA — no "cert/<mesh>" (cacerts) directive, so no
// restarts — and each mesh's east-west and egress gateways get a gateway certificate directive once the gateway CA
// exists; a mesh is ACCEPTED only when its agent installed every one of them.
TEST(DesiredState, LimitedTrustDirectsGatewayCertificatesAndNoIntermediate) {
  HubState s = Load();
  auto* mtls = s.status.virtual_meshes[0].current.mutable_spec()->mutable_mtls_config();
  mtls->clear_shared();
  mtls->mutable_limited();
  for (auto& [key, mesh] : s.status.meshes) {  // limited trust needs an egress gateway in every mesh
    auto* egress = mesh.mutable_spec()->add_egress_gateways();
    egress->mutable_service()->set_name("istio-egressgateway");
    egress->mutable_service()->set_namespace_("istio-egress");
    (*egress->mutable_workload_labels())["istio"] = "egressgateway";
    egress->set_tls_container_port(8443);
    egress->set_external_tls_port(443);
  }
  for (auto& [key, report] : s.status.reports) report.certificate.Clear();  // no intermediates anywhere

  DesiredState before_ca = ComputeDesiredState(s);
  EXPECT_THAT(before_ca.gateway_cas_needed, Contains("vmesh/vm1"));
  EXPECT_THAT(before_ca.roots_needed, IsEmpty()) << "limited trust needs no root";
  EXPECT_EQ(before_ca.statuses[0].status.state(), api::v1::PENDING);
  EXPECT_THAT(before_ca.statuses[0].status.meshes().at("istiod-istio-system-cluster-1.vmesh").errors(),
              Contains(::testing::HasSubstr("gateway CA of vmesh/vm1 to be created")));

  s.gateway_cas["vmesh/vm1"] = {"GATEWAY CA PEM", "cccccccccccccccccccc"};
  DesiredState d = ComputeDesiredState(s);
  EXPECT_THAT(d.gateway_cas_needed, IsEmpty());
  std::map<std::string, link::v1::GatewayCertificateDirective> directives;
  for (const auto& [cluster, resources] : d.resources) {
    for (const auto& shared : resources) {
      const link::v1::Resource& r = *shared;
      EXPECT_NE(r.name().rfind("cert/", 0), 0u) << r.name() << ": no intermediate under limited trust";
      EXPECT_FALSE(r.has_certificate());
      EXPECT_FALSE(r.has_restart());
      if (r.has_gateway_certificate()) directives[r.name()] = r.gateway_certificate();
    }
  }
  // Every mesh's east-west and egress gateways.
  EXPECT_EQ(directives.size(), 6u);
  ASSERT_TRUE(directives.count("gwcert/istiod-istio-system-cluster-1/egress"));
  const auto& e1 = directives.at("gwcert/istiod-istio-system-cluster-1/egress");
  EXPECT_EQ(e1.mesh(), "istiod-istio-system-cluster-1");
  EXPECT_EQ(e1.virtual_mesh(), "vmesh/vm1");
  EXPECT_EQ(e1.role(), "egress");
  EXPECT_THAT(e1.namespaces(), ::testing::ElementsAre("istio-egress"));
  EXPECT_EQ(e1.spiffe_id(),
            "spiffe://vm1.vmesh.vmesh-gateway/cluster/cluster-1/mesh/istiod-istio-system-cluster-1/egress");
  EXPECT_EQ(e1.trust_bundle_pem(), "GATEWAY CA PEM");
  EXPECT_EQ(e1.generation(), GatewayCertificateGeneration(s.gateway_cas["vmesh/vm1"]));
  const auto& i2 = directives.at("gwcert/istiod-istio-system-cluster-2/ingress");
  EXPECT_THAT(i2.namespaces(), ::testing::ElementsAre("istio-system"));
  EXPECT_EQ(i2.spiffe_id(),
            "spiffe://vm1.vmesh.vmesh-gateway/cluster/cluster-2/mesh/istiod-istio-system-cluster-2/ingress");
  EXPECT_TRUE(directives.count("gwcert/istiod-istio-system-cluster-2/egress"));

  // PENDING until the agents install what was directed, then ACCEPTED (no intermediate required).
  EXPECT_EQ(d.statuses[0].status.state(), api::v1::PENDING);
  EXPECT_THAT(d.statuses[0].status.meshes().at("istiod-istio-system-cluster-1.vmesh").errors(),
              Contains(::testing::HasSubstr("to install its egress gateway certificate (Secret vmesh-gateway-egress")));
  for (const auto& [name, directive] : directives) {
    s.status.reports[directive.mesh() + ".vmesh"].gateway_installed_generations[directive.role()] =
        directive.generation();
  }
  DesiredState installed = ComputeDesiredState(s);
  EXPECT_EQ(installed.statuses[0].status.state(), api::v1::ACCEPTED);

  // The incremental computation agrees.
  IncrementalDesiredState incremental;
  DesiredState inc = incremental.Compute(s);
  EXPECT_EQ(inc.statuses[0].status.state(), api::v1::ACCEPTED);
  for (const auto& [cluster, resources] : d.resources) {
    EXPECT_EQ(Names(inc, cluster), Names(d, cluster)) << cluster;
  }
  // A new gateway CA changes every directive's generation.
  s.gateway_cas["vmesh/vm1"] = {"OTHER CA PEM", "dddddddddddddddddddd"};
  DesiredState rotated = incremental.Compute(s);
  EXPECT_EQ(rotated.statuses[0].status.state(), api::v1::PENDING);
}

}  // namespace
}  // namespace vmesh::hub
