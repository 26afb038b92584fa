// Issue 16, SPEC §5.5: phased root rotation with zero failed requests. One hub, three kubesim clusters with Istio
// and bookinfo, three agents, as real processes. At every step of a rotation the pairwise mTLS check
// (e2e/kubesim/mtls_check.h: each workload's recorded trust bundle against every other cluster's workloads'
// presented chains, verified with OpenSSL) must find no failed pair: through the phases, with the hub killed
// mid-phase, and with an agent offline holding a phase until it comes back.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>

#include "common/base/base64.h"
#include "common/pki/certificate.h"
#include "e2e/harness/fleet.h"
#include "e2e/harness/mtls_sample.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

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
    shared:
      rootCertificateAuthority:
        generated: {keyAlgorithm: ECDSA_P256, orgName: vmesh-rotation}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)";

class RotationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << hub_.Log();
    for (int i = 1; i <= 3; ++i) {
      const std::string name = "cluster-" + std::to_string(i);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, i));
      ASSERT_TRUE(
          clusters_.back()->StartKubesim({"istio.yaml", "bookinfo.yaml"}, {"--pod-ready-delay-ms", "200"}).ok());
      auto bundle = hub_.Register(name);
      ASSERT_TRUE(bundle.ok()) << bundle.error().message;
      bundles_.push_back(*bundle);
      ASSERT_TRUE(clusters_.back()->StartAgent(*bundle).ok());
    }
    for (auto& c : clusters_) {
      ASSERT_TRUE(WaitFor([&] { return hub_.ClusterState(c->name()) == "CONNECTED"; }, 30s)) << Logs();
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          return hub_.Ctl({"get", "meshes"}).output.find("cluster-3") != std::string::npos;
        },
        30s))
        << Logs();
    const std::string manifest = Manifest();
    ASSERT_FALSE(HasFailure());
    const std::string path = dir_.path() + "/vm.yaml";
    std::ofstream(path) << manifest;
    auto applied = hub_.Ctl({"apply", "-f", path});
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    // Settled on the first root: ACCEPTED, every restart done, every pair of workloads able to talk.
    ASSERT_TRUE(WaitFor([&] { return Settled() && SampleMutualTls(clusters_).report.failures.empty(); }, 180s))
        << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << SampleMutualTls(clusters_).Describe() << Logs();
    first_root_ = RootCert(*clusters_[0]);
    ASSERT_FALSE(first_root_.empty());
  }

  // The VirtualMesh to apply; a fixture may first create what it names.
  virtual std::string Manifest() { return kVirtualMesh; }

  boost::json::value VirtualMesh() {
    auto out = hub_.Ctl({"get", "virtualmeshes", "vm1", "-o", "json"});
    return out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
  }

  // ACCEPTED, no rotation in progress, no mesh with restarts pending.
  bool Settled() {
    auto vm = VirtualMesh();
    if (JsonString(vm, {"status", "state"}) != "ACCEPTED" || JsonAt(vm, {"status", "rootRotation"})) return false;
    const boost::json::value* meshes = JsonAt(vm, {"status", "meshes"});
    if (!meshes || !meshes->is_object()) return false;
    for (const auto& [key, mesh] : meshes->as_object()) {
      if (JsonAt(mesh, {"pendingRestarts"})) return false;
    }
    return true;
  }

  std::string RootCert(ClusterUnderTest& cluster) {
    auto out = cluster.Kubectl({"get", "secret", "cacerts", "-n", "istio-system", "-o", "json"});
    return Base64Decode(JsonString(ParseJson(out.output), {"data", "root-cert.pem"})).value_or("");
  }

  // Samples the pairwise mTLS check until `done` holds (checked after each sample) or `timeout` passes, recording
  // the rotation phases seen. Every sample must find every pair of workloads able to complete mTLS.
  bool RunWhileSampling(const std::function<bool(const boost::json::value& vm)>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      MtlsSample sample = SampleMutualTls(clusters_);
      ++samples_;
      EXPECT_TRUE(sample.error.empty()) << sample.error;
      EXPECT_GT(sample.report.pairs, 0);
      if (!sample.report.failures.empty()) {
        ++failed_samples_;
        ADD_FAILURE() << "failed pairs in phase " << last_phase_ << ": " << sample.Describe();
      }
      auto vm = VirtualMesh();
      const std::string phase = JsonString(vm, {"status", "rootRotation", "phase"});
      if (!phase.empty()) {
        last_phase_ = phase;
        if (phases_.empty() || phases_.back() != phase) phases_.push_back(phase);
      }
      if (done(vm)) return true;
    }
    return false;
  }

  ProcessOutput Rotate(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"rotate", "root", "vm1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hub_.Ctl(args);
  }

  // The rotation is over: no status.rootRotation, ACCEPTED, restarts done.
  std::function<bool(const boost::json::value&)> Finished() {
    return [this](const boost::json::value&) { return Settled(); };
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  std::vector<std::string> serve_args_ = {"--status-interval", "1s"};
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-rotation-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
  std::vector<std::string> bundles_;
  std::string first_root_;
  std::vector<std::string> phases_;
  std::string last_phase_ = "(none)";
  int samples_ = 0;
  int failed_samples_ = 0;
};

TEST_F(RotationE2eTest, RotationOverThreeClustersFailsNoPair) {
  auto started = Rotate();
  ASSERT_EQ(started.exit_code, 0) << started.output;
  EXPECT_NE(started.output.find("phase TRUST_BOTH"), std::string::npos) << started.output;
  // Describe shows the progress while it runs.
  auto describe = hub_.Ctl({"describe", "virtualmesh", "vm1"});
  EXPECT_NE(describe.output.find("Root rotation:"), std::string::npos) << describe.output;
  // A second rotation while one runs is refused.
  auto again = Rotate();
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("in progress already"), std::string::npos) << again.output;

  ASSERT_TRUE(RunWhileSampling(Finished(), 300s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(failed_samples_, 0) << "of " << samples_ << " samples";
  EXPECT_EQ(phases_, (std::vector<std::string>{"TRUST_BOTH", "ISSUE_NEW", "TRUST_NEW"}));

  // Every cluster ends on one new root, the same everywhere, and every pair still works.
  const std::string root = RootCert(*clusters_[0]);
  auto parsed = pki::ParsePemBundle(root);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 1u) << "the old root is gone from root-cert.pem";
  EXPECT_NE(root, first_root_);
  for (auto& c : clusters_) EXPECT_EQ(RootCert(*c), root) << c->name();
  EXPECT_TRUE(SampleMutualTls(clusters_).report.failures.empty());
  // Nothing is left to abort.
  EXPECT_NE(Rotate({"--abort"}).exit_code, 0);
}

TEST_F(RotationE2eTest, AHubKilledMidPhaseResumesAndFinishes) {
  ASSERT_EQ(Rotate().exit_code, 0);
  // Kill it once the rotation is past its first phase.
  ASSERT_TRUE(RunWhileSampling(
      [](const boost::json::value& vm) {
        return JsonString(vm, {"status", "rootRotation", "phase"}) == "ISSUE_NEW";
      },
      240s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  hub_.Kill9();
  // The clusters keep working without the hub.
  for (int i = 0; i < 3; ++i) {
    auto sample = SampleMutualTls(clusters_);
    EXPECT_TRUE(sample.report.failures.empty()) << sample.Describe();
  }
  ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << hub_.Log();
  ASSERT_TRUE(RunWhileSampling(Finished(), 300s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(failed_samples_, 0) << "of " << samples_ << " samples";
  // Resumed where it was: it never went back to a phase it had left.
  EXPECT_EQ(phases_, (std::vector<std::string>{"TRUST_BOTH", "ISSUE_NEW", "TRUST_NEW"}));
  const std::string root = RootCert(*clusters_[0]);
  EXPECT_NE(root, first_root_);
  for (auto& c : clusters_) EXPECT_EQ(RootCert(*c), root) << c->name();
}

TEST_F(RotationE2eTest, AnOfflineAgentHoldsThePhaseUntilItReturns) {
  ClusterUnderTest& offline = *clusters_[2];
  offline.StopAgent();
  ASSERT_TRUE(WaitFor([&] { return hub_.ClusterState(offline.name()) == "DISCONNECTED"; }, 60s)) << Logs();
  ASSERT_EQ(Rotate().exit_code, 0);
  // The two others acknowledge TRUST_BOTH; the phase holds, naming the cluster it waits for.
  ASSERT_TRUE(RunWhileSampling(
      [](const boost::json::value& vm) {
        return JsonString(vm, {"status", "rootRotation", "progress"}) == "2/3";
      },
      180s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  // Still held a while later.
  ASSERT_FALSE(RunWhileSampling(
      [](const boost::json::value& vm) {
        return JsonString(vm, {"status", "rootRotation", "phase"}) != "TRUST_BOTH";
      },
      10s));
  auto vm = VirtualMesh();
  const boost::json::value* waiting = JsonAt(vm, {"status", "rootRotation", "waitingFor"});
  ASSERT_TRUE(waiting && waiting->is_array() && waiting->as_array().size() == 1u) << boost::json::serialize(vm);
  const std::string line(waiting->as_array()[0].as_string());
  EXPECT_NE(line.find("cluster cluster-3"), std::string::npos) << line;
  EXPECT_NE(line.find("disconnected"), std::string::npos) << line;
  auto describe = hub_.Ctl({"describe", "virtualmesh", "vm1"});
  EXPECT_NE(describe.output.find("Waiting for mesh istiod-istio-system-cluster-3.vmesh (cluster cluster-3)"),
            std::string::npos)
      << describe.output;
  EXPECT_NE(describe.output.find("TRUST_BOTH (2/3 meshes acknowledged"), std::string::npos) << describe.output;

  ASSERT_TRUE(offline.StartAgent(bundles_[2]).ok());
  ASSERT_TRUE(RunWhileSampling(Finished(), 300s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(failed_samples_, 0) << "of " << samples_ << " samples";
  const std::string root = RootCert(*clusters_[0]);
  EXPECT_NE(root, first_root_);
  for (auto& c : clusters_) EXPECT_EQ(RootCert(*c), root) << c->name();
}

TEST_F(RotationE2eTest, AnAbortBeforeTheLastPhaseRollsBackToTheOldRoot) {
  ASSERT_EQ(Rotate().exit_code, 0);
  ASSERT_TRUE(RunWhileSampling(
      [](const boost::json::value& vm) {
        return JsonString(vm, {"status", "rootRotation", "phase"}) == "ISSUE_NEW";
      },
      240s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  auto aborted = Rotate({"--abort"});
  ASSERT_EQ(aborted.exit_code, 0) << aborted.output;
  EXPECT_NE(aborted.output.find("ROLLBACK_ISSUE_OLD"), std::string::npos) << aborted.output;
  ASSERT_TRUE(RunWhileSampling(Finished(), 300s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(failed_samples_, 0) << "of " << samples_ << " samples";
  EXPECT_EQ(phases_.back(), "ROLLBACK_TRUST_OLD");
  for (auto& c : clusters_) EXPECT_EQ(RootCert(*c), first_root_) << c->name() << ": back on the old root alone";
}

// A root from a Secret (rootCertificateAuthority.secret): putting another root into the Secret starts the rotation
// by itself, with the same guarantee.
class SecretRootRotationE2eTest : public RotationE2eTest {
 protected:
  std::string Manifest() override {
    auto [cert, key] = MakeRoot("corp-root-1");
    auto created = hub_.Ctl({"create", "root-secret", "corp-root", "--root-cert", cert, "--key", key});
    EXPECT_EQ(created.exit_code, 0) << created.output;
    std::string vm = kVirtualMesh;
    const std::string generated = "generated: {keyAlgorithm: ECDSA_P256, orgName: vmesh-rotation}";
    vm.replace(vm.find(generated), generated.size(), "secret: {name: corp-root}");
    return vm;
  }

  // A root CA made with the openssl CLI, as an operator would. Returns {cert path, key path}.
  std::pair<std::string, std::string> MakeRoot(const std::string& name) {
    const std::string cert = dir_.path() + "/" + name + ".pem";
    const std::string key = dir_.path() + "/" + name + ".key";
    auto out = kubesim::RunProcess({"openssl",
                                    "req",
                                    "-x509",
                                    "-newkey",
                                    "ec",
                                    "-pkeyopt",
                                    "ec_paramgen_curve:P-256",
                                    "-nodes",
                                    "-days",
                                    "30",
                                    "-subj",
                                    "/O=Example Corp/CN=" + name,
                                    "-addext",
                                    "basicConstraints=critical,CA:TRUE",
                                    "-addext",
                                    "keyUsage=critical,keyCertSign,cRLSign",
                                    "-keyout",
                                    key,
                                    "-out",
                                    cert},
                                   60s);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return {cert, key};
  }
};

TEST_F(SecretRootRotationE2eTest, ANewRootInTheSecretIsRotatedToWithoutAFailedPair) {
  auto [cert, key] = MakeRoot("corp-root-2");
  auto updated = hub_.Ctl({"create", "root-secret", "corp-root", "--root-cert", cert, "--key", key});
  ASSERT_EQ(updated.exit_code, 0) << updated.output;
  ASSERT_TRUE(RunWhileSampling(
      [](const boost::json::value& vm) {
        return JsonAt(vm, {"status", "rootRotation"}) != nullptr;
      },
      60s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(JsonString(VirtualMesh(), {"status", "rootRotation", "reason"}), "secret vmesh/corp-root changed");
  ASSERT_TRUE(RunWhileSampling(Finished(), 300s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  EXPECT_EQ(failed_samples_, 0) << "of " << samples_ << " samples";
  EXPECT_EQ(phases_, (std::vector<std::string>{"TRUST_BOTH", "ISSUE_NEW", "TRUST_NEW"}));
  auto installed = pki::Certificate::FromPem(RootCert(*clusters_[0]));
  auto wanted = pki::Certificate::FromPem(ReadFileOr(cert));
  ASSERT_TRUE(installed.ok() && wanted.ok());
  EXPECT_EQ(installed->Fingerprint(), wanted->Fingerprint()) << "the Secret's new root is the root now";
  for (auto& c : clusters_) EXPECT_EQ(RootCert(*c), RootCert(*clusters_[0])) << c->name();
}

}  // namespace
}  // namespace vmesh::e2e
