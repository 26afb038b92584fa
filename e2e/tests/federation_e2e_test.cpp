// Issue "federation and access policy": one hub, three kubesim clusters with Istio and bookinfo, three agents.
// Remote services appear as ServiceEntry + DestinationRule, the source cluster gets the Gateway, changes in one
// cluster propagate, and what vmesh did not create is never touched.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

class FederationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    ASSERT_TRUE(hub_.Serve({"--status-interval", "1s"}).ok()) << hub_.Log();
    const std::vector<std::vector<std::string>> seeds = {{"istio-smart-dns.yaml", "bookinfo.yaml"},
                                                         {"istio.yaml", "bookinfo.yaml"},
                                                         {"istio-smart-dns.yaml", "bookinfo.yaml"}};
    for (size_t i = 0; i < seeds.size(); ++i) {
      const std::string name = "cluster-" + std::to_string(i + 1);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, static_cast<int>(i) + 1));
      ASSERT_TRUE(clusters_.back()->StartKubesim(seeds[i]).ok());
      auto bundle = hub_.Register(name);
      ASSERT_TRUE(bundle.ok());
      ASSERT_TRUE(clusters_.back()->StartAgent(*bundle).ok());
    }
  }

  ProcessOutput Apply(const std::string& text) {
    static int n = 0;
    std::string path = dir_.path() + "/m" + std::to_string(++n) + ".yaml";
    std::ofstream(path) << text;
    return hub_.Ctl({"apply", "-f", path});
  }

  std::string State(const std::string& vm) {
    auto out = hub_.Ctl({"get", "virtualmeshes", vm, "-o", "json"});
    auto v = ParseJson(out.output);
    if (!v.is_object() || !v.as_object().contains("status")) return "";
    const auto* state = v.as_object().at("status").as_object().if_contains("state");
    return state ? std::string(state->as_string()) : "";
  }

  // Names of the objects of a kind in the cluster's istio-system namespace (or all namespaces).
  std::set<std::string> Names(ClusterUnderTest& c, const std::string& kind, const std::string& ns = "istio-system") {
    std::vector<std::string> args = {"get", kind, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"};
    if (ns.empty()) {
      args.push_back("-A");
    } else {
      args.push_back("-n");
      args.push_back(ns);
    }
    auto out = c.Kubectl(args);
    std::set<std::string> names;
    std::istringstream lines(out.output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  }

  boost::json::value Get(ClusterUnderTest& c, const std::string& kind, const std::string& name,
                         const std::string& ns = "istio-system") {
    return ParseJson(c.Kubectl({"get", kind, name, "-n", ns, "-o", "json"}).output);
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-federation-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

constexpr char kVirtualMesh[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  - {name: istiod-istio-system-cluster-3, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared: {rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}},
             intermediateCertOptions: {keyAlgorithm: ECDSA_P256}}
  federation: {permissive: {}}
  globalAccessPolicy: ENABLED
---
apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: productpage-to-reviews, namespace: vmesh}
spec:
  sourceSelector:
  - kubeServiceAccountRefs: {serviceAccounts: [{name: bookinfo-productpage, namespace: bookinfo, clusterName: cluster-1}]}
  destinationSelector:
  - kubeServiceRefs: {services: [{name: reviews, namespace: bookinfo, clusterName: cluster-2}]}
  allowedPorts: [9080]
)";

TEST_F(FederationE2eTest, RemoteServicesGatewaysPruneAndAccessPolicy) {
  ASSERT_TRUE(WaitFor(
      [&] {
        auto out = hub_.Ctl({"get", "meshes"});
        return out.output.find("cluster-3") != std::string::npos && out.output.find("cluster-1") != std::string::npos;
      },
      30s))
      << Logs();
  auto applied = Apply(kVirtualMesh);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitFor([&] { return State("vm1") == "ACCEPTED"; }, 90s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();

  // Every remote bookinfo service is in every other cluster as ServiceEntry + DestinationRule.
  for (auto& receiver : clusters_) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto entries = Names(*receiver, "serviceentries");
          for (auto& source : clusters_) {
            if (source == receiver) continue;
            for (const char* svc : {"productpage", "reviews", "ratings"}) {
              if (!entries.count(std::string(svc) + ".bookinfo.svc." + source->name() + ".global")) return false;
            }
          }
          return true;
        },
        60s))
        << receiver->name() << ": " << receiver->Kubectl({"get", "serviceentries", "-A"}).output << Logs();
  }
  // The endpoint of a remote entry is the source cluster's east-west gateway on its TLS port.
  auto entry = Get(*clusters_[1], "serviceentry", "reviews.bookinfo.svc.cluster-1.global");
  auto gateway_ip = clusters_[0]->Kubectl({"get", "service", "istio-eastwestgateway", "-n", "istio-system", "-o",
                                           "jsonpath={.status.loadBalancer.ingress[0].ip}"});
  ASSERT_FALSE(gateway_ip.output.empty());
  std::string serialized = boost::json::serialize(entry);
  EXPECT_NE(serialized.find("\"address\":\"" + gateway_ip.output + "\""), std::string::npos) << serialized;
  EXPECT_NE(serialized.find("15443"), std::string::npos) << serialized;
  EXPECT_NE(serialized.find("MESH_INTERNAL"), std::string::npos) << serialized;
  // The source cluster has the Gateway.
  EXPECT_FALSE(Names(*clusters_[0], "gateways").empty()) << Logs();

  // Global access policy: the deny-all plus the AccessPolicy's ALLOW.
  EXPECT_TRUE(Names(*clusters_[0], "authorizationpolicies").count("vmesh-global-deny"))
      << clusters_[0]->Kubectl({"get", "authorizationpolicies", "-A"}).output;

  // A hand-made ServiceEntry without vmesh's labels survives every prune.
  auto& c2 = *clusters_[1];
  std::string handmade = dir_.path() + "/handmade.yaml";
  std::ofstream(handmade) << R"(apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: handmade, namespace: istio-system}
spec: {hosts: [handmade.example.com], location: MESH_EXTERNAL, ports: [{number: 443, name: tls, protocol: TLS}],
       resolution: DNS}
)";
  ASSERT_EQ(c2.Kubectl({"apply", "-f", handmade}).exit_code, 0);

  // A new Service in cluster 1 appears in clusters 2 and 3; deleting it prunes it.
  std::string details = dir_.path() + "/details.yaml";
  std::ofstream(details) << R"(apiVersion: v1
kind: Service
metadata: {name: details, namespace: bookinfo}
spec: {selector: {app: details}, ports: [{name: http, port: 9080}]}
)";
  ASSERT_EQ(clusters_[0]->Kubectl({"apply", "-f", details}).exit_code, 0);
  const std::string host = "details.bookinfo.svc.cluster-1.global";
  for (size_t i = 1; i < clusters_.size(); ++i) {
    ASSERT_TRUE(WaitFor([&] { return Names(*clusters_[i], "serviceentries").count(host) == 1; }, 30s))
        << clusters_[i]->name() << Logs();
  }
  ASSERT_EQ(clusters_[0]->Kubectl({"delete", "service", "details", "-n", "bookinfo"}).exit_code, 0);
  for (size_t i = 1; i < clusters_.size(); ++i) {
    ASSERT_TRUE(WaitFor([&] { return Names(*clusters_[i], "serviceentries").count(host) == 0; }, 30s))
        << clusters_[i]->name() << Logs();
  }
  EXPECT_TRUE(Names(c2, "serviceentries").count("handmade"));

  // Objects read back from the clusters validate against Istio's CRD schemas.
  auto schemas = crdschema::SchemaSet::LoadFile(testpaths::IstioCrdsFile());
  ASSERT_TRUE(schemas.ok());
  for (auto& c : clusters_) {
    for (const char* kind : {"serviceentries", "destinationrules", "gateways", "authorizationpolicies"}) {
      auto list =
          ParseJson(c->Kubectl({"get", kind, "-A", "-l", "app.kubernetes.io/managed-by=vmesh", "-o", "json"}).output);
      ASSERT_TRUE(list.is_object());
      for (const auto& item : list.as_object().at("items").as_array()) {
        auto errors = schemas->Validate(item);
        EXPECT_TRUE(errors.empty()) << c->name() << " " << kind << ": "
                                    << (errors.empty() ? "" : errors.front().path + ": " + errors.front().message);
      }
    }
  }

  // The hub checked each cluster's outputs against the Istio CRDs that cluster's agent read from its API server.
  for (auto& c : clusters_) {
    EXPECT_NE(hub_.Log().find("cluster " + c->name() + ": validating its outputs against its own Istio CRDs"),
              std::string::npos)
        << Logs();
  }

  // DISABLED removes the deny policy.
  std::string disabled = kVirtualMesh;
  disabled.replace(disabled.find("globalAccessPolicy: ENABLED"), 27, "globalAccessPolicy: DISABLED");
  ASSERT_EQ(Apply(disabled).exit_code, 0);
  ASSERT_TRUE(
      WaitFor([&] { return Names(*clusters_[0], "authorizationpolicies").count("vmesh-global-deny") == 0; }, 30s))
      << Logs();
}

TEST_F(FederationE2eTest, HostnameSuffixNeedsSmartDnsInEveryReceiver) {
  ASSERT_TRUE(WaitFor([&] { return hub_.Ctl({"get", "meshes"}).output.find("cluster-3") != std::string::npos; }, 30s));
  std::string vm = kVirtualMesh;
  vm.replace(vm.find("federation: {permissive: {}}"), 28, "federation: {permissive: {}, hostnameSuffix: corp}");
  ASSERT_EQ(Apply(vm).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto out = hub_.Ctl({"get", "virtualmeshes", "vm1", "-o", "json"});
        auto v = ParseJson(out.output);
        if (!v.is_object()) return false;
        std::string s = boost::json::serialize(v);
        return s.find("INVALID") != std::string::npos && s.find("ISTIO_META_DNS_CAPTURE") != std::string::npos;
      },
      30s))
      << hub_.Ctl({"get", "virtualmeshes", "vm1", "-o", "yaml"}).output;
  auto yaml = hub_.Ctl({"get", "virtualmeshes", "vm1", "-o", "yaml"}).output;
  EXPECT_NE(yaml.find("istiod-istio-system-cluster-2"), std::string::npos) << yaml;
}

}  // namespace
}  // namespace vmesh::e2e
