#include "e2e/kubesim/mtls_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pki/csr.h"
#include "common/pki/issuer.h"

namespace vmesh::kubesim {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Ca {
  pki::Certificate cert;
  pki::PrivateKey key;
};

Ca MakeRoot(const std::string& name) {
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto cert = pki::IssueRootCa(*key, pki::RootCaProfile{"vmesh", name}, pki::Clock::now());
  return Ca{*cert, *key};
}

// cert-chain.pem of an intermediate under `root`: the intermediate, then the root.
std::string Chain(const Ca& root) {
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto csr = pki::Csr::Create(*key, {});
  auto signer = pki::CaSigner::Create(root.cert, root.key);
  pki::IntermediateProfile profile;
  profile.common_name = "intermediate";
  profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  return pki::IssueIntermediate(*signer, *csr, profile, pki::Clock::now())->ToPem() + root.cert.ToPem();
}

WorkloadTrust W(const std::string& cluster, const std::string& pod, const std::string& trusts,
                const std::string& presents) {
  return WorkloadTrust{cluster, "app/" + pod, trusts, presents};
}

class MtlsCheckTest : public ::testing::Test {
 protected:
  Ca old_ = MakeRoot("old");
  Ca new_ = MakeRoot("new");
  std::string old_chain_ = Chain(old_);
  std::string new_chain_ = Chain(new_);
  std::string both_ = old_.cert.ToPem() + new_.cert.ToPem();
};

TEST_F(MtlsCheckTest, PairsAcrossClustersVerifyBothWays) {
  // Mid-rotation states that interoperate: everyone trusts both roots, chains of either root.
  auto report = CheckMutualTls({W("c1", "a", both_, old_chain_), W("c2", "b", both_, new_chain_),
                                W("c3", "c", both_, old_chain_), W("c3", "d", both_, new_chain_)},
                               pki::Clock::now());
  EXPECT_EQ(report.workloads, 4);
  EXPECT_EQ(report.pairs, 5) << "c and d share a cluster";
  EXPECT_THAT(report.failures, IsEmpty());
}

TEST_F(MtlsCheckTest, AWorkloadThatDoesNotTrustThePeersRootFails) {
  // b dropped the old root too early while a still presents an old chain.
  auto report =
      CheckMutualTls({W("c1", "a", both_, old_chain_), W("c2", "b", new_.cert.ToPem(), new_chain_)}, pki::Clock::now());
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].client, "c1/app/a");
  EXPECT_EQ(report.failures[0].server, "c2/app/b");
  EXPECT_THAT(report.failures[0].reason, HasSubstr("c2/app/b does not accept the chain of c1/app/a"));

  // Two roots that never met.
  report = CheckMutualTls({W("c1", "a", old_.cert.ToPem(), old_chain_), W("c2", "b", new_.cert.ToPem(), new_chain_)},
                          pki::Clock::now());
  EXPECT_EQ(report.failures.size(), 1u);
}

TEST_F(MtlsCheckTest, AChainEndingInAnUntrustedCopyOfARootIsRefused) {
  // The presented chain carries its root; that alone must not make it trusted.
  auto report = CheckMutualTls(
      {W("c1", "a", old_.cert.ToPem(), old_chain_), W("c2", "b", old_.cert.ToPem(), new_chain_)}, pki::Clock::now());
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_THAT(report.failures[0].reason, HasSubstr("does not accept the chain of c2/app/b"));
}

TEST_F(MtlsCheckTest, PodsWithoutRecordedTrustAreNotWorkloadsYet) {
  boost::json::object pod{{"metadata", boost::json::object{{"namespace", "app"}, {"name", "p"}}}};
  EXPECT_FALSE(WorkloadTrustOf(pod, "c1").has_value());
  pod["metadata"].as_object()["annotations"] =
      boost::json::object{{kTrustedRootsAnnotation, both_}, {kPresentedChainAnnotation, old_chain_}};
  auto w = WorkloadTrustOf(pod, "c1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->pod, "app/p");
  EXPECT_EQ(w->trusted_roots_pem, both_);
}

}  // namespace
}  // namespace vmesh::kubesim
