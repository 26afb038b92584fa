// User-provided root CAs end to end (SPEC §4, §5.1 `rootCertificateAuthority.secret`): an enterprise root made
// with the openssl CLI goes to the hub with `vmeshctl create root-secret`, a VirtualMesh over two kubesim clusters
// names it, and every cluster's Istio ends up with an intermediate that chains to the user's root — checked with
// `openssl verify` against the user's own file. Also: a Secret whose key does not match is refused at apply
// naming key.pem, and a VirtualMesh naming a missing Secret is INVALID naming it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/base/base64.h"
#include "common/base/files.h"
#include "common/pki/certificate.h"
#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class UserRootE2eTest : public ::testing::Test {
 protected:
  void StartHub() {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    ASSERT_TRUE(hub_.Serve({"--status-interval", "1s"}).ok()) << hub_.Log();
  }

  void StartClusters(int n) {
    for (int i = 1; i <= n; ++i) {
      const std::string name = "cluster-" + std::to_string(i);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, i));
      auto& cluster = *clusters_.back();
      ASSERT_TRUE(cluster.StartKubesim({"istio.yaml"}).ok()) << name;
      auto bundle = hub_.Register(name);
      ASSERT_TRUE(bundle.ok()) << bundle.error().message;
      ASSERT_TRUE(cluster.StartAgent(*bundle).ok());
    }
    for (auto& c : clusters_) {
      ASSERT_TRUE(WaitFor([&] { return hub_.ClusterState(c->name()) == "CONNECTED"; }, 30s)) << Logs();
    }
  }

  // Runs openssl in the test directory; the command's output on failure.
  void Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = kubesim::RunProcess(argv, 60s);
    ASSERT_EQ(out.exit_code, 0) << out.output;
  }

  // An enterprise root CA as an operator would make one: CA:TRUE, keyCertSign. Returns {cert path, key path}.
  std::pair<std::string, std::string> MakeEnterpriseRoot(const std::string& name) {
    const std::string cert = Path(name + ".pem");
    const std::string key = Path(name + ".key");
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
             "/O=Example Corp/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", "-keyout", key, "-out", cert});
    return {cert, key};
  }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  std::string WriteManifest(const std::string& text) {
    static int n = 0;
    const std::string path = Path("manifest-" + std::to_string(++n) + ".yaml");
    std::ofstream(path) << text;
    return path;
  }

  boost::json::value GetVirtualMesh(const std::string& name) {
    auto out = hub_.Ctl({"get", "virtualmeshes", name, "-o", "json"});
    return out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
  }

  bool WaitForState(const std::string& name, const std::string& state, std::chrono::milliseconds timeout) {
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

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-user-root-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

constexpr char kVirtualMesh[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: corp, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig:
    shared:
      rootCertificateAuthority:
        secret: {name: SECRET_NAME}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)";

std::string VirtualMeshUsing(const std::string& secret) {
  std::string vm = kVirtualMesh;
  vm.replace(vm.find("SECRET_NAME"), 11, secret);
  return vm;
}

TEST_F(UserRootE2eTest, EveryClusterChainsToTheUsersRoot) {
  StartHub();
  const auto [root_cert, root_key] = MakeEnterpriseRoot("corp-root");
  ASSERT_FALSE(HasFailure());
  auto created = hub_.Ctl({"create", "root-secret", "corp-root", "--root-cert", root_cert, "--key", root_key});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("secret vmesh/corp-root created"));

  // The hub shows names, type and keys; never the key.
  auto table = hub_.Ctl({"get", "secrets"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("corp-root"));
  EXPECT_THAT(table.output, HasSubstr("vmesh.dev/root-ca"));
  EXPECT_THAT(table.output, HasSubstr("key.pem,root-cert.pem"));
  const std::string key_pem = *ReadFile(root_key);
  for (const char* format : {"json", "yaml"}) {
    auto shown = hub_.Ctl({"get", "secrets", "corp-root", "-o", format});
    ASSERT_EQ(shown.exit_code, 0) << shown.output;
    EXPECT_THAT(shown.output, Not(HasSubstr("PRIVATE KEY"))) << format;
    EXPECT_THAT(shown.output, Not(HasSubstr(Base64Encode(key_pem)))) << format;
    EXPECT_THAT(shown.output, HasSubstr("vmesh.dev/redacted")) << format;
  }

  StartClusters(2);
  ASSERT_FALSE(HasFailure());
  auto applied = hub_.Ctl({"apply", "-f", WriteManifest(VirtualMeshUsing("corp-root"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForState("corp", "ACCEPTED", 120s)) << hub_.Ctl({"describe", "virtualmesh", "corp"}).output << Logs();

  const auto user_root = pki::Certificate::FromPem(*ReadFile(root_cert));
  ASSERT_TRUE(user_root.ok());
  for (auto& c : clusters_) {
    SCOPED_TRACE(c->name());
    auto files = Cacerts(*c);
    for (const char* key : {"ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"}) {
      ASSERT_TRUE(files.count(key)) << "cacerts lacks " << key;
    }
    // root-cert.pem is the user's root itself.
    auto installed_root = pki::Certificate::FromPem(files["root-cert.pem"]);
    ASSERT_TRUE(installed_root.ok());
    EXPECT_EQ(installed_root->Fingerprint(), user_root->Fingerprint());
    EXPECT_EQ(pki::ParsePemBundle(files["root-cert.pem"])->size(), 1u) << "the trust bundle is the one root";

    // openssl agrees, trusting only the user's own file: the intermediate chains to it.
    const std::string dir = Path(c->name());
    std::filesystem::create_directories(dir);
    for (const auto& [name, content] : files) std::ofstream(dir + "/" + name) << content;
    auto verify = kubesim::RunProcess(
        {"openssl", "verify", "-CAfile", root_cert, "-untrusted", dir + "/cert-chain.pem", dir + "/ca-cert.pem"}, 20s);
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    auto issuer = kubesim::RunProcess({"openssl", "x509", "-in", dir + "/ca-cert.pem", "-noout", "-issuer"}, 20s);
    EXPECT_THAT(issuer.output, HasSubstr("corp-root"));
    // The intermediate's key was made in the cluster: ECDSA P-256 as directed.
    auto key_text = kubesim::RunProcess({"openssl", "pkey", "-in", dir + "/ca-key.pem", "-noout", "-text"}, 20s);
    EXPECT_THAT(key_text.output, HasSubstr("P-256"));
  }
  // The user's key was given to the hub; no cluster ever receives it.
  for (auto& c : clusters_) {
    auto secrets = c->Kubectl({"get", "secrets", "-A", "-o", "json"});
    EXPECT_THAT(secrets.output, Not(HasSubstr(Base64Encode(key_pem)))) << c->name();
  }
}

TEST_F(UserRootE2eTest, KeyOfAnotherCertificateIsRefusedNamingKeyPem) {
  StartHub();
  const auto [root_cert, root_key] = MakeEnterpriseRoot("corp-root");
  const auto [other_cert, other_key] = MakeEnterpriseRoot("other-root");
  ASSERT_FALSE(HasFailure());
  auto refused = hub_.Ctl({"create", "root-secret", "corp-root", "--root-cert", root_cert, "--key", other_key});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("Secret vmesh/corp-root: data[key.pem]: does not match root-cert.pem"));
  auto listed = hub_.Ctl({"get", "secrets", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, Not(HasSubstr("corp-root"))) << "nothing stored";

  // A certificate that is not a CA is refused too, naming root-cert.pem.
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
           "/CN=leaf", "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", Path("leaf.key"), "-out",
           Path("leaf.pem")});
  auto leaf = hub_.Ctl({"create", "root-secret", "leaf", "--root-cert", Path("leaf.pem"), "--key", Path("leaf.key")});
  EXPECT_EQ(leaf.exit_code, 1) << leaf.output;
  EXPECT_THAT(leaf.output, HasSubstr("data[root-cert.pem]: is not a CA certificate"));
}

TEST_F(UserRootE2eTest, VirtualMeshNamingAMissingSecretIsInvalidNamingIt) {
  StartHub();
  auto applied = hub_.Ctl({"apply", "-f", WriteManifest(VirtualMeshUsing("no-such-root"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForState("corp", "INVALID", 30s)) << hub_.Ctl({"describe", "virtualmesh", "corp"}).output;
  auto vm = GetVirtualMesh("corp");
  const auto& errors = vm.as_object().at("status").as_object().at("errors").as_array();
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(std::string(errors[0].as_string()),
              HasSubstr("spec.mtlsConfig.shared.rootCertificateAuthority.secret: secret vmesh/no-such-root does not "
                        "exist"));
  auto check = hub_.Ctl({"check"});
  EXPECT_NE(check.exit_code, 0);
  EXPECT_THAT(check.output, HasSubstr("no-such-root"));
}

}  // namespace
}  // namespace vmesh::e2e
