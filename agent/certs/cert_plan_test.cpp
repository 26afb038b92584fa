#include "agent/certs/cert_plan.h"

#include <gtest/gtest.h>

namespace vmesh::agent {
namespace {

using namespace std::chrono_literals;

link::v1::CertificateDirective Directive(const std::string& generation) {
  link::v1::CertificateDirective d;
  d.set_mesh("istiod-istio-system-c1");
  d.set_generation(generation);
  return d;
}

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

TEST(CertPlan, FirstDirectiveGeneratesAKey) {
  EXPECT_EQ(DecideCertificate(Directive("g1"), {}, kNow).action, CertAction::kGenerateKey);
}

TEST(CertPlan, AgentRestartedBetweenCsrAndInstallResendsForThePersistedKey) {
  MeshCertState s{.pending_generation = "g1", .pending_key_pem = "KEY", .pending_request_id = "r1"};
  auto d = DecideCertificate(Directive("g1"), s, kNow);
  EXPECT_EQ(d.action, CertAction::kSendPendingCsr);
  // A pending key for an older directive is abandoned for a new one.
  EXPECT_EQ(DecideCertificate(Directive("g2"), s, kNow).action, CertAction::kGenerateKey);
}

TEST(CertPlan, InstalledCertificateIsKeptUntilRenewalOrANewDirective) {
  MeshCertState s{.installed_generation = "g1", .installed_serial = "aa", .renew_at = kNow + 1h};
  EXPECT_EQ(DecideCertificate(Directive("g1"), s, kNow).action, CertAction::kNone);
  EXPECT_EQ(DecideCertificate(Directive("g1"), s, kNow + 1h).action, CertAction::kGenerateKey);
  auto changed = DecideCertificate(Directive("g2"), s, kNow);
  EXPECT_EQ(changed.action, CertAction::kGenerateKey);
  EXPECT_NE(changed.reason.find("generation g2"), std::string::npos);
}

TEST(CertPlan, OnlyTheAnswerToTheRequestInFlightIsAccepted) {
  MeshCertState s{.pending_generation = "g1", .pending_key_pem = "KEY", .pending_request_id = "r2"};
  link::v1::IssuedCertificate issued;
  issued.set_request_id("r1");
  EXPECT_FALSE(AnswersPendingRequest(issued, s)) << "stale answer";
  issued.set_request_id("r2");
  EXPECT_TRUE(AnswersPendingRequest(issued, s));
  EXPECT_FALSE(AnswersPendingRequest(issued, MeshCertState{}));
}

}  // namespace
}  // namespace vmesh::agent
