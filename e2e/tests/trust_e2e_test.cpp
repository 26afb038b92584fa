// Issue "shared trust end to end": one hub, three kubesim clusters with Istio and bookinfo, three agents, as
// real processes. A VirtualMesh with a shared root makes every cluster's Istio use an intermediate of that root,
// whose key was generated in the cluster and never left it; pods are restarted in order onto the new root.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/base/base64.h"
#include "common/pki/certificate.h"
#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

class TrustE2eTest : public ::testing::Test {
 protected:
  void StartFleet(const std::vector<std::vector<std::string>>& seeds) {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    ASSERT_TRUE(hub_.Serve({"--status-interval", "1s"}).ok()) << hub_.Log();
    for (size_t i = 0; i < seeds.size(); ++i) {
      const std::string name = "cluster-" + std::to_string(i + 1);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, static_cast<int>(i) + 1));
      auto& cluster = *clusters_.back();
      ASSERT_TRUE(cluster.StartKubesim(seeds[i]).ok()) << name;
      auto bundle = hub_.Register(name);
      ASSERT_TRUE(bundle.ok()) << bundle.error().message;
      ASSERT_TRUE(cluster.StartAgent(*bundle).ok());
    }
    for (auto& c : clusters_) {
      ASSERT_TRUE(WaitFor([&] { return hub_.ClusterState(c->name()) == "CONNECTED"; }, 30s)) << Logs();
    }
    // Every mesh discovered.
    ASSERT_TRUE(WaitFor(
        [&] {
          auto out = hub_.Ctl({"get", "meshes", "-o", "json"});
          for (auto& c : clusters_) {
            if (out.output.find("istiod-istio-system-" + c->name()) == std::string::npos) return false;
          }
          return out.exit_code == 0;
        },
        30s))
        << hub_.Ctl({"get", "meshes"}).output << Logs();
  }

  std::string WriteManifest(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  ProcessOutput Apply(const std::string& text) {
    static int n = 0;
    return hub_.Ctl({"apply", "-f", WriteManifest("manifest-" + std::to_string(++n) + ".yaml", text)});
  }

  boost::json::value GetVirtualMesh(const std::string& name) {
    auto out = hub_.Ctl({"get", "virtualmeshes", name, "-o", "json"});
    return out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
  }

  bool WaitForVirtualMeshState(const std::string& name, const std::string& state, std::chrono::milliseconds timeout) {
    return WaitFor([&] { return JsonString(GetVirtualMesh(name), {"status", "state"}) == state; }, timeout);
  }

  // The cacerts Secret of a cluster, file name -> content.
  std::map<std::string, std::string> Cacerts(ClusterUnderTest& cluster) {
    std::map<std::string, std::string> files;
    auto out = cluster.Kubectl({"get", "secret", "cacerts", "-n", "istio-system", "-o", "json"});
    if (out.exit_code != 0) return files;
    auto secret = ParseJson(out.output);
    if (!secret.is_object() || !secret.as_object().contains("data")) return files;
    for (const auto& [key, value] : secret.as_object().at("data").as_object()) {
      files[std::string(key)] = Base64Decode(std::string(value.as_string())).value_or("");
    }
    return files;
  }

  // Every pod of the cluster labelled as an Istio workload or gateway, with the root fingerprint it trusts.
  std::map<std::string, std::string> TrustedRoots(ClusterUnderTest& cluster) {
    std::map<std::string, std::string> roots;
    auto out = cluster.Kubectl({"get", "pods", "-A", "-l", "security.istio.io/tlsMode=istio", "-o", "json"});
    auto list = ParseJson(out.output);
    if (!list.is_object()) return roots;
    for (const auto& pod : list.as_object().at("items").as_array()) {
      roots[JsonString(pod, {"metadata", "namespace"}) + "/" + JsonString(pod, {"metadata", "name"})] =
          JsonString(pod, {"metadata", "annotations", "kubesim.vmesh.dev/trusted-root-fingerprint"});
    }
    return roots;
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-trust-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

constexpr char kSharedVirtualMesh[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  - {name: istiod-istio-system-cluster-3, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared:
      rootCertificateAuthority:
        generated: {rsaKeySizeBytes: 4096, orgName: vmesh-e2e}
  federation: {permissive: {}}
)";

TEST_F(TrustE2eTest, SharedGeneratedRootWithOrderedRestarts) {
  StartFleet(
      {{"istio.yaml", "bookinfo.yaml"}, {"istio-smart-dns.yaml", "bookinfo.yaml"}, {"istio.yaml", "bookinfo.yaml"}});
  auto applied = Apply(kSharedVirtualMesh);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForVirtualMeshState("vm1", "ACCEPTED", 120s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();

  std::string root;
  for (auto& c : clusters_) {
    auto files = Cacerts(*c);
    ASSERT_EQ(files.size(), 4u) << c->name();
    for (const char* key : {"ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"}) {
      EXPECT_TRUE(files.count(key)) << c->name() << " lacks " << key;
    }
    if (root.empty()) root = files["root-cert.pem"];
    EXPECT_EQ(files["root-cert.pem"], root) << c->name() << ": root-cert.pem must be byte-identical everywhere";

    // openssl agrees: the intermediate chains to the root, and the key is the certificate's.
    std::string dir = dir_.path() + "/" + c->name();
    std::filesystem::create_directories(dir);
    for (const auto& [name, content] : files) std::ofstream(dir + "/" + name) << content;
    auto verify = kubesim::RunProcess({"openssl", "verify", "-CAfile", dir + "/root-cert.pem", "-untrusted",
                                       dir + "/cert-chain.pem", dir + "/ca-cert.pem"},
                                      20s);
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    auto key_pub = kubesim::RunProcess({"openssl", "pkey", "-in", dir + "/ca-key.pem", "-pubout"}, 20s);
    auto cert_pub = kubesim::RunProcess({"openssl", "x509", "-in", dir + "/ca-cert.pem", "-pubkey", "-noout"}, 20s);
    EXPECT_EQ(key_pub.exit_code, 0);
    EXPECT_EQ(key_pub.output, cert_pub.output) << c->name() << ": ca-key.pem does not match ca-cert.pem";
    // cert-chain.pem: the intermediate first, the root last.
    auto chain = pki::ParsePemBundle(files["cert-chain.pem"]);
    ASSERT_TRUE(chain.ok() && chain->size() >= 2) << c->name();
    EXPECT_EQ(chain->front().ToPem(), pki::Certificate::FromPem(files["ca-cert.pem"])->ToPem());
    EXPECT_EQ(chain->back().ToPem(), pki::Certificate::FromPem(files["root-cert.pem"])->ToPem());
  }

  // Restarts: every Istio pod (istiod, gateways, sidecars) now trusts the VirtualMesh root. A sidecar only
  // records the root istiod mirrors when it starts, so this holds only if istiod was restarted and had
  // published the new root before the gateways and workloads were restarted.
  const std::string fingerprint = pki::Certificate::FromPem(root)->Fingerprint();
  for (auto& c : clusters_) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto roots = TrustedRoots(*c);
          if (roots.empty()) return false;
          for (const auto& [pod, fp] : roots) {
            if (fp != fingerprint) return false;
          }
          return true;
        },
        60s))
        << c->name()
        << ": pods not on the new root: " << c->Kubectl({"get", "pods", "-A", "-o", "yaml"}).output.substr(0, 4000)
        << Logs();
    auto istiod =
        c->Kubectl({"get", "pods", "-n", "istio-system", "-l", "app=istiod", "-o",
                    "jsonpath={.items[*].metadata.annotations.kubesim\\.vmesh\\.dev/loaded-root-fingerprint}"});
    EXPECT_NE(istiod.output.find(fingerprint), std::string::npos) << istiod.output;
  }

  // Private keys never leave their cluster: nothing in the hub's data dir contains any cluster's CA key or
  // agent identity key.
  std::vector<std::string> secrets;
  for (auto& c : clusters_) {
    secrets.push_back(Cacerts(*c)["ca-key.pem"]);
    auto identity = c->Kubectl({"get", "secret", "vmesh-agent-identity", "-n", "vmesh-system", "-o", "json"});
    auto id = ParseJson(identity.output);
    if (id.is_object() && id.as_object().contains("data")) {
      for (const auto& [key, value] : id.as_object().at("data").as_object()) {
        auto decoded = Base64Decode(std::string(value.as_string())).value_or("");
        if (decoded.find("PRIVATE KEY") != std::string::npos) secrets.push_back(decoded);
      }
    }
  }
  ASSERT_GE(secrets.size(), 6u) << "expected a CA key and an identity key per cluster";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(hub_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::string content = ReadFileOr(entry.path().string());
    for (const auto& secret : secrets) {
      // The base64 body of the PEM (its longest line is enough to identify it).
      std::string line = secret.substr(secret.find('\n') + 1, 64);
      EXPECT_EQ(content.find(line), std::string::npos) << entry.path() << " contains a cluster's private key";
    }
  }

  // Nothing restarts twice: the restart annotations stay as they are while the hub keeps reconciling.
  auto before = clusters_[0]->Kubectl(
      {"get", "deployments", "-A", "-o",
       "jsonpath={range "
       ".items[*]}{.metadata.name}={.spec.template.metadata.annotations.vmesh\\.dev/restarted-for-certificate};{end}"});
  std::this_thread::sleep_for(3s);
  auto after = clusters_[0]->Kubectl(
      {"get", "deployments", "-A", "-o",
       "jsonpath={range "
       ".items[*]}{.metadata.name}={.spec.template.metadata.annotations.vmesh\\.dev/restarted-for-certificate};{end}"});
  EXPECT_EQ(before.output, after.output);
}

TEST_F(TrustE2eTest, BadIntentIsRejectedOrReportedPerMesh) {
  StartFleet({{"istio.yaml"}, {"istio.yaml"}});
  // Malformed: rejected at apply time, naming the field.
  auto weak = Apply(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: weak, namespace: vmesh}
spec:
  meshes: [{name: istiod-istio-system-cluster-1, namespace: vmesh}]
  mtlsConfig: {shared: {rootCertificateAuthority: {generated: {rsaKeySizeBytes: 1024}}}}
)");
  EXPECT_NE(weak.exit_code, 0);
  EXPECT_NE(weak.output.find("rsaKeySizeBytes"), std::string::npos) << weak.output;

  // A ref to a mesh nobody discovered: that mesh is PENDING, named.
  auto first = Apply(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: first, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-9, namespace: vmesh}
  mtlsConfig: {shared: {rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}},
               autoRestartPods: false}
)");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto vm = GetVirtualMesh("first");
        return MeshState(vm, "istiod-istio-system-cluster-9.vmesh") == "PENDING";
      },
      30s))
      << hub_.Ctl({"get", "virtualmeshes", "first", "-o", "yaml"}).output << Logs();
  auto describe = hub_.Ctl({"describe", "virtualmesh", "first"});
  EXPECT_NE(describe.output.find("istiod-istio-system-cluster-9"), std::string::npos) << describe.output;

  // A second VirtualMesh claiming a member of the first: INVALID in the second only.
  auto second = Apply(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: second, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig: {shared: {}}
)");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto vm = GetVirtualMesh("second");
        return MeshState(vm, "istiod-istio-system-cluster-1.vmesh") == "INVALID";
      },
      30s))
      << hub_.Ctl({"get", "virtualmeshes", "second", "-o", "yaml"}).output;
  EXPECT_NE(MeshState(GetVirtualMesh("first"), "istiod-istio-system-cluster-1.vmesh"), "INVALID");
}

TEST_F(TrustE2eTest, EcdsaConfigurationEndToEnd) {
  StartFleet({{"istio.yaml", "bookinfo.yaml"}, {"istio.yaml"}});
  auto applied = Apply(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: ec, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForVirtualMeshState("ec", "ACCEPTED", 60s))
      << hub_.Ctl({"describe", "virtualmesh", "ec"}).output << Logs();
  for (auto& c : clusters_) {
    auto files = Cacerts(*c);
    auto key =
        kubesim::RunProcess({"sh", "-c", "printf '%s' \"$0\" | openssl pkey -noout -text", files["ca-key.pem"]}, 20s);
    EXPECT_NE(key.output.find("P-256"), std::string::npos) << c->name() << ": " << key.output;
  }
  auto certificates = hub_.Ctl({"get", "certificates"});
  EXPECT_EQ(certificates.exit_code, 0) << certificates.output;
  EXPECT_NE(certificates.output.find("istiod-istio-system-cluster-1"), std::string::npos) << certificates.output;
}

}  // namespace
}  // namespace vmesh::e2e
