// Federation variants end to end (SPEC §3.1, §4, §6, §7): one hub, three kubesim clusters with Istio and bookinfo,
// three agents. A NodePort east-west gateway, a flat network, restrictive federation, an apply the API server
// rejects (FAILED, then recovery), AccessPolicy translation, and `vmeshctl preview` against live discovery.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "common/crdschema/yaml_to_json.h"
#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The value at a dotted path of objects ("a.b.c"), or null.
const json::value* At(const json::value& v, const std::string& path) {
  const json::value* cur = &v;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) {
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(part);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string StrAt(const json::value& v, const std::string& path) {
  const json::value* s = At(v, path);
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
}

// The JSON text at a path ("null" when absent).
std::string JsonTextAt(const json::value& v, const std::string& path) {
  const json::value* x = At(v, path);
  return x != nullptr ? json::serialize(*x) : "null";
}

std::int64_t IntAt(const json::value& v, const std::string& path) {
  const json::value* i = At(v, path);
  return i != nullptr && i->is_number() ? i->to_number<std::int64_t>() : -1;
}

// Three clusters: cluster-1 and cluster-3 with smart DNS, cluster-2 without (as in federation_e2e_test).
class FederationVariantsE2eTest : public ::testing::Test {
 protected:
  // Starts the hub and the kubesim clusters; agents come with StartAgents() so a test can change a cluster
  // first (or start them at once).
  void StartFleet(const std::vector<std::string>& hub_args = {}) {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    std::vector<std::string> args = {"--status-interval", "1s"};
    args.insert(args.end(), hub_args.begin(), hub_args.end());
    ASSERT_TRUE(hub_.Serve(args).ok()) << hub_.Log();
    const std::vector<std::vector<std::string>> seeds = {{"istio-smart-dns.yaml", "bookinfo.yaml"},
                                                         {"istio.yaml", "bookinfo.yaml"},
                                                         {"istio-smart-dns.yaml", "bookinfo.yaml"}};
    for (size_t i = 0; i < seeds.size(); ++i) {
      const std::string name = "cluster-" + std::to_string(i + 1);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, static_cast<int>(i) + 1));
      ASSERT_TRUE(clusters_.back()->StartKubesim(seeds[i]).ok());
    }
  }

  void StartAgents() {
    for (auto& c : clusters_) {
      auto bundle = hub_.Register(c->name());
      ASSERT_TRUE(bundle.ok());
      ASSERT_TRUE(c->StartAgent(*bundle).ok());
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          auto out = hub_.Ctl({"get", "meshes"}).output;
          for (auto& c : clusters_) {
            if (out.find("istiod-istio-system-" + c->name()) == std::string::npos) return false;
          }
          return true;
        },
        30s))
        << Logs();
  }

  std::string WriteManifest(const std::string& text) {
    static int n = 0;
    std::string path = dir_.path() + "/m" + std::to_string(++n) + ".yaml";
    std::ofstream(path) << text;
    return path;
  }

  ProcessOutput Apply(const std::string& text) { return hub_.Ctl({"apply", "-f", WriteManifest(text)}); }

  ProcessOutput KubectlApply(ClusterUnderTest& c, const std::string& text) {
    return c.Kubectl({"apply", "-f", WriteManifest(text)});
  }

  json::value VirtualMesh(const std::string& name) {
    return ParseJson(hub_.Ctl({"get", "virtualmeshes", name, "-o", "json"}).output);
  }

  std::string State(const std::string& name) { return StrAt(VirtualMesh(name), "status.state"); }

  void WaitAccepted(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    ASSERT_TRUE(WaitFor([&] { return State(name) == "ACCEPTED"; }, timeout))
        << hub_.Ctl({"describe", "virtualmesh", name}).output << Logs();
  }

  // Names of the objects of a kind in a namespace of the cluster.
  std::set<std::string> Names(ClusterUnderTest& c, const std::string& kind, const std::string& ns = "istio-system") {
    auto out = c.Kubectl({"get", kind, "-n", ns, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"});
    std::set<std::string> names;
    std::istringstream lines(out.output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  }

  // ServiceEntries in the cluster for hosts of other clusters (the remote ones).
  std::set<std::string> RemoteEntries(ClusterUnderTest& c) {
    std::set<std::string> remote;
    for (const auto& n : Names(c, "serviceentries")) {
      if (n.find(".svc.cluster-") != std::string::npos && n.find(".svc." + c.name() + ".") == std::string::npos) {
        remote.insert(n);
      }
    }
    return remote;
  }

  json::value Get(ClusterUnderTest& c, const std::string& kind, const std::string& name,
                  const std::string& ns = "istio-system") {
    return ParseJson(c.Kubectl({"get", kind, name, "-n", ns, "-o", "json"}).output);
  }

  // The vmesh-managed objects of the given kinds in all namespaces of a cluster.
  std::vector<json::value> Managed(ClusterUnderTest& c, const std::vector<std::string>& kinds) {
    std::vector<json::value> out;
    for (const auto& kind : kinds) {
      auto list =
          ParseJson(c.Kubectl({"get", kind, "-A", "-l", "app.kubernetes.io/managed-by=vmesh", "-o", "json"}).output);
      const json::value* items = At(list, "items");
      if (items == nullptr || !items->is_array()) continue;
      for (const auto& item : items->as_array()) out.push_back(item);
    }
    return out;
  }

  // POST /kubesim/faults (the admin endpoint is never faulted itself).
  void SetFaults(ClusterUnderTest& c, const std::string& body) {
    constexpr char kPost[] = R"(import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).status))";
    auto out = kubesim::RunProcess(
        {"python3", "-c", kPost, "http://127.0.0.1:" + std::to_string(c.kubesim().port()) + "/kubesim/faults", body},
        20s);
    ASSERT_EQ(out.exit_code, 0) << out.output;
    ASSERT_EQ(out.output, "200\n");
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-federation-variants-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

// A VirtualMesh over the three meshes with ECDSA P-256 keys and no restarts; `federation` and `extra` (further
// spec lines) vary per test.
std::string VirtualMeshYaml(const std::string& federation, const std::string& extra = "") {
  return R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  - {name: istiod-istio-system-cluster-3, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: false
    shared: {rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}},
             intermediateCertOptions: {keyAlgorithm: ECDSA_P256}}
  federation: )" +
         federation + "\n" + extra;
}

// A Service whose port differs from its target port (reviews' pods listen on 9080).
constexpr char kReviewsAlt[] = R"(apiVersion: v1
kind: Service
metadata: {name: reviews-alt, namespace: bookinfo, labels: {app: reviews-alt}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 80, targetPort: 9080, protocol: TCP}]
)";

// SPEC §6: a NodePort east-west gateway is reached on its node port at a node address.
TEST_F(FederationVariantsE2eTest, NodePortEastWestGateway) {
  ASSERT_NO_FATAL_FAILURE(StartFleet());
  auto& c1 = *clusters_[0];
  auto patched = c1.Kubectl({"patch", "service", "istio-eastwestgateway", "-n", "istio-system", "--type", "merge", "-p",
                             R"({"spec":{"type":"NodePort"}})"});
  ASSERT_EQ(patched.exit_code, 0) << patched.output;
  auto svc = Get(c1, "service", "istio-eastwestgateway");
  ASSERT_EQ(StrAt(svc, "spec.type"), "NodePort");
  std::int64_t node_port = -1;
  for (const auto& p : At(svc, "spec.ports")->as_array()) {
    if (StrAt(p, "name") == "tls") node_port = IntAt(p, "nodePort");
  }
  ASSERT_GT(node_port, 0) << svc;
  // kubesim serves no Node objects, so the node address is the host IP of the gateway's pods (what the agent
  // falls back to when Nodes cannot be listed).
  ProcessOutput host_ip;
  ASSERT_TRUE(WaitFor(
      [&] {
        host_ip = c1.Kubectl({"get", "pods", "-n", "istio-system", "-l", "istio=eastwestgateway", "-o",
                              "jsonpath={.items[0].status.hostIP}"});
        return host_ip.exit_code == 0 && !host_ip.output.empty();
      },
      30s))
      << host_ip.output;
  ASSERT_NO_FATAL_FAILURE(StartAgents());

  auto applied = Apply(VirtualMeshYaml("{permissive: {}}"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1"));
  const std::string host = "reviews.bookinfo.svc.cluster-1.global";
  for (size_t i = 1; i < clusters_.size(); ++i) {
    auto& receiver = *clusters_[i];
    ASSERT_TRUE(WaitFor([&] { return Names(receiver, "serviceentries").count(host) == 1; }, 30s))
        << receiver.name() << Logs();
    auto entry = Get(receiver, "serviceentry", host);
    const json::value* endpoints = At(entry, "spec.endpoints");
    ASSERT_TRUE(endpoints != nullptr && endpoints->is_array() && !endpoints->as_array().empty()) << entry;
    for (const auto& e : endpoints->as_array()) {
      EXPECT_EQ(StrAt(e, "address"), host_ip.output) << entry;
      EXPECT_EQ(IntAt(e, "ports.http"), node_port) << entry;
    }
  }
  // cluster-2's services keep reaching cluster-2's LoadBalancer gateway on 15443.
  auto lb_ip = clusters_[1]->Kubectl({"get", "service", "istio-eastwestgateway", "-n", "istio-system", "-o",
                                      "jsonpath={.status.loadBalancer.ingress[0].ip}"});
  ASSERT_TRUE(WaitFor(
      [&] { return Names(*clusters_[0], "serviceentries").count("reviews.bookinfo.svc.cluster-2.global") == 1; }, 30s));
  auto other = Get(*clusters_[0], "serviceentry", "reviews.bookinfo.svc.cluster-2.global");
  EXPECT_EQ(StrAt(At(other, "spec.endpoints")->as_array().at(0), "address"), lb_ip.output) << other;
  EXPECT_EQ(IntAt(At(other, "spec.endpoints")->as_array().at(0), "ports.http"), 15443) << other;
  // The Gateway in cluster-1 listens on the gateway's container port (the node port maps onto it).
  auto gateway = Get(c1, "gateway", "vmesh-vm1-eastwest");
  EXPECT_EQ(IntAt(At(gateway, "spec.servers")->as_array().at(0), "port.number"), 15443) << gateway;
}

// SPEC §6: flatNetwork — no gateways; remote endpoints are the pods themselves on their target ports.
TEST_F(FederationVariantsE2eTest, FlatNetworkUsesPodAddresses) {
  ASSERT_NO_FATAL_FAILURE(StartFleet());
  ASSERT_EQ(KubectlApply(*clusters_[0], kReviewsAlt).exit_code, 0);
  // A flat network needs no east-west gateway: cluster-2 has none.
  auto deleted = clusters_[1]->Kubectl({"delete", "service", "istio-eastwestgateway", "-n", "istio-system"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  ASSERT_NO_FATAL_FAILURE(StartAgents());
  auto applied = Apply(VirtualMeshYaml("{permissive: {}, flatNetwork: true}"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1"));

  const std::string host = "reviews-alt.bookinfo.svc.cluster-1.global";
  auto& c2 = *clusters_[1];
  ASSERT_TRUE(WaitFor(
      [&] {
        auto entry = Get(c2, "serviceentry", host);
        const json::value* e = At(entry, "spec.endpoints");
        return e != nullptr && e->is_array() && !e->as_array().empty();
      },
      30s))
      << Logs();
  // The pod IPs behind reviews in cluster-1, as its Endpoints list them.
  auto ips = clusters_[0]->Kubectl(
      {"get", "endpoints", "reviews-alt", "-n", "bookinfo", "-o", "jsonpath={.subsets[0].addresses[*].ip}"});
  std::set<std::string> pod_ips;
  std::istringstream words(ips.output);
  for (std::string ip; words >> ip;) pod_ips.insert(ip);
  ASSERT_FALSE(pod_ips.empty()) << ips.output;

  auto entry = Get(c2, "serviceentry", host);
  std::set<std::string> addresses;
  for (const auto& e : At(entry, "spec.endpoints")->as_array()) {
    addresses.insert(StrAt(e, "address"));
    EXPECT_EQ(IntAt(e, "ports.http"), 9080) << entry;  // the target port, not the Service's 80
    // The pod's labels (for subsets) and its identity.
    EXPECT_EQ(StrAt(e, "labels.app"), "reviews") << entry;
    EXPECT_EQ(StrAt(e, "labels.version"), "v1") << entry;
    const json::value* labels = At(e, "labels");
    EXPECT_TRUE(labels != nullptr && labels->is_object() &&
                labels->as_object().if_contains("security.istio.io/tlsMode") != nullptr &&
                *labels->as_object().if_contains("security.istio.io/tlsMode") == "istio")
        << entry;
    EXPECT_EQ(StrAt(e, "serviceAccount"), "bookinfo-reviews") << entry;
  }
  EXPECT_EQ(addresses, pod_ips) << entry;
  EXPECT_EQ(IntAt(At(entry, "spec.ports")->as_array().at(0), "number"), 80) << entry;
  EXPECT_EQ(StrAt(entry, "spec.location"), "MESH_INTERNAL");

  // Every remote service everywhere, and not a single Gateway (nor a source-side ServiceEntry).
  for (auto& c : clusters_) {
    ASSERT_TRUE(WaitFor([&] { return RemoteEntries(*c).size() >= 6; }, 30s)) << c->name() << Logs();
    EXPECT_TRUE(Names(*c, "gateways").empty()) << c->name();
    EXPECT_TRUE(Managed(*c, {"gateways"}).empty()) << c->name();
    for (const auto& n : Names(*c, "serviceentries")) {
      EXPECT_EQ(n.find(".svc." + c->name() + "."), std::string::npos) << c->name() << " has a local entry " << n;
    }
  }

  // Without flatNetwork, cluster-2's mesh lacks the east-west gateway federation needs: INVALID, saying so.
  applied = Apply(VirtualMeshYaml("{permissive: {}}"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto vm = VirtualMesh("vm1");
        const json::value* meshes = At(vm, "status.meshes");
        if (meshes == nullptr || !meshes->is_object()) return false;
        const json::value* m = meshes->as_object().if_contains("istiod-istio-system-cluster-2.vmesh");
        return m != nullptr && StrAt(*m, "state") == "INVALID" &&
               json::serialize(*m).find("no east-west gateway") != std::string::npos;
      },
      30s))
      << hub_.Ctl({"get", "virtualmeshes", "vm1", "-o", "yaml"}).output;
}

// SPEC §3.1: restrictive federation — only the selected services, only in the selected meshes.
TEST_F(FederationVariantsE2eTest, RestrictiveFederationSelectors) {
  ASSERT_NO_FATAL_FAILURE(StartFleet());
  ASSERT_NO_FATAL_FAILURE(StartAgents());
  // reviews (by namespace and labels) from anywhere to cluster-3; ratings of cluster-2 (by reference) to
  // cluster-1.
  auto applied = Apply(VirtualMeshYaml(R"(
    selectors:
    - destinationSelectors: [{kubeServiceMatcher: {namespaces: [bookinfo], labels: {app: reviews}}}]
      meshes: [{name: istiod-istio-system-cluster-3, namespace: vmesh}]
    - destinationSelectors:
      - kubeServiceRefs: {services: [{name: ratings, namespace: bookinfo, clusterName: cluster-2}]}
      meshes: [{name: istiod-istio-system-cluster-1, namespace: vmesh}])"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1"));

  const std::map<std::string, std::set<std::string>> expected = {
      {"cluster-1", {"ratings.bookinfo.svc.cluster-2.global"}},
      {"cluster-2", {}},
      {"cluster-3", {"reviews.bookinfo.svc.cluster-1.global", "reviews.bookinfo.svc.cluster-2.global"}}};
  for (auto& c : clusters_) {
    const auto& want = expected.at(c->name());
    EXPECT_TRUE(WaitFor([&] { return RemoteEntries(*c) == want; }, 30s))
        << c->name() << ": " << c->Kubectl({"get", "serviceentries", "-A"}).output << Logs();
  }
  // The source side: gateways where something is exported (cluster-1: reviews; cluster-2: reviews, ratings),
  // none in cluster-3, which exports nothing.
  EXPECT_EQ(Names(*clusters_[0], "gateways").size(), 1u);
  EXPECT_EQ(Names(*clusters_[1], "gateways").size(), 1u);
  EXPECT_TRUE(Names(*clusters_[2], "gateways").empty());
  // productpage is federated nowhere.
  for (auto& c : clusters_) {
    for (const auto& n : Names(*c, "serviceentries")) EXPECT_EQ(n.find("productpage"), std::string::npos) << n;
  }
  // Widening the selection: ratings of cluster-2 now to every mesh.
  applied = Apply(VirtualMeshYaml(R"(
    selectors:
    - destinationSelectors: [{kubeServiceMatcher: {namespaces: [bookinfo], labels: {app: reviews}}}]
      meshes: [{name: istiod-istio-system-cluster-3, namespace: vmesh}]
    - destinationSelectors:
      - kubeServiceRefs: {services: [{name: ratings, namespace: bookinfo, clusterName: cluster-2}]})"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(
      WaitFor([&] { return RemoteEntries(*clusters_[2]).count("ratings.bookinfo.svc.cluster-2.global") == 1; }, 30s))
      << Logs();
  EXPECT_TRUE(RemoteEntries(*clusters_[1]).empty());
}

// SPEC §4: an API server that rejects the writes makes the mesh FAILED with the server's message; once the
// server recovers, the hub re-offers what the agent rejected (--retry-rejected-after) and everything converges.
// First while the mesh's certificate is being installed, then while outputs of an update are applied.
TEST_F(FederationVariantsE2eTest, RejectedApplyFailsThenRecovers) {
  ASSERT_NO_FATAL_FAILURE(StartFleet({"--retry-rejected-after", "2s"}));
  ASSERT_NO_FATAL_FAILURE(StartAgents());
  auto& c2 = *clusters_[1];
  const std::string mesh_key = "istiod-istio-system-cluster-2.vmesh";
  // Waits until cluster-2's mesh is FAILED with an error containing every word of `needles`; returns it.
  auto wait_failed = [&](const std::vector<std::string>& needles) {
    std::string found;
    bool ok = WaitFor(
        [&] {
          auto vm = VirtualMesh("vm1");
          const json::value* meshes = At(vm, "status.meshes");
          if (meshes == nullptr || !meshes->is_object() || !meshes->as_object().contains(mesh_key)) return false;
          const json::value& m = meshes->as_object().at(mesh_key);
          const json::value* errors = At(m, "errors");
          if (StrAt(m, "state") != "FAILED" || errors == nullptr || !errors->is_array()) return false;
          for (const auto& e : errors->as_array()) {
            if (!e.is_string()) continue;
            const std::string text(e.as_string());
            bool all = true;
            for (const auto& n : needles) all = all && text.find(n) != std::string::npos;
            if (all) found = text;
          }
          return !found.empty();
        },
        60s);
    EXPECT_TRUE(ok) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
    return found;
  };

  // 1. Every request of cluster-2's API server fails while the VirtualMesh is applied.
  ASSERT_NO_FATAL_FAILURE(SetFaults(c2, R"({"errorRate": 1.0})"));
  auto applied = Apply(VirtualMeshYaml("{permissive: {}}"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  // The server's own words (500 InternalError or 429 TooManyRequests) reach the status and describe.
  std::string message = wait_failed({"injected by kubesim"});
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(State("vm1"), "FAILED") << json::serialize(VirtualMesh("vm1"));
  auto described = hub_.Ctl({"describe", "virtualmesh", "vm1"});
  EXPECT_NE(described.output.find("FAILED"), std::string::npos) << described.output;
  EXPECT_NE(described.output.find(message), std::string::npos) << described.output;

  ASSERT_NO_FATAL_FAILURE(SetFaults(c2, R"({"errorRate": 0})"));
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1", 60s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto remote = RemoteEntries(c2);
        return remote.count("reviews.bookinfo.svc.cluster-1.global") &&
               remote.count("reviews.bookinfo.svc.cluster-3.global");
      },
      30s))
      << c2.Kubectl({"get", "serviceentries", "-A"}).output << Logs();
  EXPECT_EQ(Names(c2, "gateways").size(), 1u);
  EXPECT_EQ(Names(c2, "secrets").count("cacerts"), 1u) << "the intermediate is installed after recovery";
  auto vm = VirtualMesh("vm1");
  const json::value* errors = At(vm, "status.errors");
  EXPECT_TRUE(errors == nullptr || (errors->is_array() && errors->as_array().empty())) << vm;

  // 2. An update whose new outputs (the global access policy) cluster-2's API server refuses to write.
  ASSERT_NO_FATAL_FAILURE(SetFaults(c2, R"({"errorRate": 1.0})"));
  applied = Apply(VirtualMeshYaml("{permissive: {}}", "  globalAccessPolicy: ENABLED\n"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  message = wait_failed({"AuthorizationPolicy", "injected by kubesim"});
  ASSERT_FALSE(message.empty());
  // The other clusters are unaffected.
  EXPECT_TRUE(WaitFor([&] { return Names(*clusters_[0], "authorizationpolicies").count("vmesh-global-deny"); }, 30s));
  ASSERT_NO_FATAL_FAILURE(SetFaults(c2, R"({"errorRate": 0})"));
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1", 60s));
  EXPECT_TRUE(WaitFor([&] { return Names(c2, "authorizationpolicies").count("vmesh-global-deny") == 1; }, 30s))
      << c2.Kubectl({"get", "authorizationpolicies", "-A"}).output << Logs();
  EXPECT_EQ(IntAt(VirtualMesh("vm1"), "status.observedGeneration"), 2);
}

// SPEC §7: AccessPolicy → ALLOW AuthorizationPolicy in the destination's cluster and namespace.
TEST_F(FederationVariantsE2eTest, AccessPolicyTranslation) {
  ASSERT_NO_FATAL_FAILURE(StartFleet());
  // cluster-1's mesh gets its own trust domain, so the principal shows where it comes from.
  auto patched = clusters_[0]->Kubectl(
      {"patch", "configmap", "istio", "-n", "istio-system", "--type", "merge", "-p",
       R"({"data":{"mesh":"trustDomain: td-one.example\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n"}})"});
  ASSERT_EQ(patched.exit_code, 0) << patched.output;
  ASSERT_NO_FATAL_FAILURE(StartAgents());
  ASSERT_TRUE(WaitFor(
      [&] {
        return hub_.Ctl({"get", "meshes", "istiod-istio-system-cluster-1", "-o", "json"})
                   .output.find("td-one.example") != std::string::npos;
      },
      30s))
      << hub_.Ctl({"get", "meshes", "istiod-istio-system-cluster-1", "-o", "yaml"}).output;

  auto applied = Apply(VirtualMeshYaml("{permissive: {}}", R"(  globalAccessPolicy: ENABLED
---
apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: pp-reviews, namespace: vmesh}
spec:
  sourceSelector:
  - kubeServiceAccountRefs: {serviceAccounts: [{name: bookinfo-productpage, namespace: bookinfo, clusterName: cluster-1}]}
  destinationSelector:
  - kubeServiceRefs: {services: [{name: reviews, namespace: bookinfo, clusterName: cluster-2}]}
  allowedPorts: [9080]
  allowedMethods: [GET, HEAD]
  allowedPaths: ["/reviews/*"]
)"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_NO_FATAL_FAILURE(WaitAccepted("vm1"));

  const std::string policy = "vmesh-pp-reviews-reviews";
  auto& c2 = *clusters_[1];
  ASSERT_TRUE(WaitFor([&] { return Names(c2, "authorizationpolicies", "bookinfo").count(policy) == 1; }, 30s))
      << c2.Kubectl({"get", "authorizationpolicies", "-A"}).output << Logs();
  auto ap = Get(c2, "authorizationpolicy", policy, "bookinfo");
  EXPECT_EQ(StrAt(ap, "spec.action"), "ALLOW") << ap;
  EXPECT_EQ(JsonTextAt(ap, "spec.selector.matchLabels"), R"({"app":"reviews"})") << ap;
  const json::value* rules = At(ap, "spec.rules");
  ASSERT_TRUE(rules != nullptr && rules->is_array() && rules->as_array().size() == 1) << ap;
  const json::value& rule = rules->as_array().at(0);
  EXPECT_EQ(JsonTextAt(rule, "from"),
            R"([{"source":{"principals":["td-one.example/ns/bookinfo/sa/bookinfo-productpage"]}}])")
      << ap;
  // (as values: the server may order keys differently)
  EXPECT_EQ(ParseJson(JsonTextAt(rule, "to")),
            ParseJson(R"([{"operation":{"ports":["9080"],"methods":["GET","HEAD"],"paths":["/reviews/*"]}}])"))
      << ap;
  // Nowhere else: reviews of cluster-1 and cluster-3 are not selected.
  for (size_t i : {0u, 2u}) {
    EXPECT_EQ(Names(*clusters_[i], "authorizationpolicies", "bookinfo").count(policy), 0u) << clusters_[i]->name();
  }
  // Every mesh: the deny-all and an ALLOW-all on its east-west gateway.
  for (auto& c : clusters_) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto names = Names(*c, "authorizationpolicies");
          return names.count("vmesh-global-deny") && names.count("vmesh-allow-istio-eastwestgateway");
        },
        30s))
        << c->name() << c->Kubectl({"get", "authorizationpolicies", "-A"}).output;
    auto deny = Get(*c, "authorizationpolicy", "vmesh-global-deny");
    const json::value* deny_spec = At(deny, "spec");
    EXPECT_TRUE(deny_spec == nullptr || (deny_spec->is_object() && deny_spec->as_object().empty())) << deny;
    auto allow = Get(*c, "authorizationpolicy", "vmesh-allow-istio-eastwestgateway");
    EXPECT_EQ(StrAt(allow, "spec.action"), "ALLOW") << allow;
    EXPECT_EQ(StrAt(allow, "spec.selector.matchLabels.istio"), "eastwestgateway") << allow;
    EXPECT_EQ(JsonTextAt(allow, "spec.rules"), "[{}]") << allow;
  }
}

// SPEC §2: `vmeshctl preview -f` computes every cluster's outputs from live discovery and applies nothing.
TEST_F(FederationVariantsE2eTest, PreviewAgainstLiveDiscovery) {
  ASSERT_NO_FATAL_FAILURE(StartFleet());
  ASSERT_NO_FATAL_FAILURE(StartAgents());
  // Every cluster's bookinfo services are known to the hub.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto out = hub_.Ctl({"get", "destinations"}).output;
        for (auto& c : clusters_) {
          for (const char* svc : {"productpage", "reviews", "ratings"}) {
            if (out.find(std::string(svc) + "-bookinfo-" + c->name()) == std::string::npos) return false;
          }
        }
        return true;
      },
      30s))
      << hub_.Ctl({"get", "destinations"}).output;
  std::string vm = VirtualMeshYaml("{permissive: {}}", "  globalAccessPolicy: ENABLED\n");
  auto out = hub_.Ctl({"preview", "-f", WriteManifest(vm)});
  ASSERT_EQ(out.exit_code, 0) << out.output;

  // Split the output at the "# cluster: NAME" comments; each part is YAML (comments and documents).
  std::map<std::string, std::string> parts;
  std::string current;
  std::istringstream lines(out.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# cluster: ", 0) == 0) {
      current = line.substr(11);
      continue;
    }
    if (!current.empty()) parts[current] += line + "\n";
  }
  ASSERT_EQ(parts.size(), 3u) << out.output;

  auto schemas = crdschema::SchemaSet::LoadFile(testpaths::IstioCrdsFile());
  ASSERT_TRUE(schemas.ok());
  for (auto& c : clusters_) {
    ASSERT_TRUE(parts.count(c->name())) << out.output;
    auto docs = crdschema::YamlDocumentsToJson(parts[c->name()]);
    ASSERT_TRUE(docs.ok()) << c->name() << ": " << docs.error().message;
    std::map<std::string, int> kinds;
    for (const auto& doc : *docs) {
      if (!doc.is_object()) continue;
      const std::string api_version = StrAt(doc, "apiVersion");
      if (api_version.find("istio.io/") == std::string::npos) continue;  // certificate directives
      ++kinds[StrAt(doc, "kind")];
      auto errors = schemas->Validate(doc);
      EXPECT_TRUE(errors.empty()) << c->name() << " " << StrAt(doc, "kind") << " " << StrAt(doc, "metadata.name")
                                  << ": "
                                  << (errors.empty() ? "" : errors.front().path + ": " + errors.front().message);
      const json::value* labels = At(doc, "metadata.labels");
      ASSERT_TRUE(labels != nullptr && labels->is_object());
      const json::value* managed_by = labels->as_object().if_contains("app.kubernetes.io/managed-by");
      EXPECT_TRUE(managed_by != nullptr && *managed_by == "vmesh") << json::serialize(doc);
    }
    // Two remote clusters x three bookinfo services, plus the local entries for the exported ones.
    EXPECT_EQ(kinds["ServiceEntry"], 9) << c->name() << parts[c->name()];
    EXPECT_EQ(kinds["DestinationRule"], 9) << c->name();
    EXPECT_EQ(kinds["Gateway"], 1) << c->name();
    EXPECT_GE(kinds["AuthorizationPolicy"], 2) << c->name();
    EXPECT_NE(parts[c->name()].find("reviews.bookinfo.svc." + c->name() + ".global"), std::string::npos);
  }

  // Nothing was stored or applied.
  auto listed = hub_.Ctl({"get", "virtualmeshes", "-o", "json"});
  EXPECT_EQ(listed.output.find("vm1"), std::string::npos) << listed.output;
  for (auto& c : clusters_) {
    EXPECT_TRUE(Managed(*c, {"serviceentries", "destinationrules", "gateways", "authorizationpolicies"}).empty())
        << c->name();
    EXPECT_EQ(Names(*c, "secrets").count("cacerts"), 0u) << c->name();
  }
}

}  // namespace
}  // namespace vmesh::e2e
