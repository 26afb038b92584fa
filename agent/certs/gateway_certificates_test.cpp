// The gateway certificate manager against a kubesim cluster (SPEC §8), with a test gateway CA playing the hub: the
// key persisted before its CSR leaves, the kubernetes.io/tls Secrets written with ca.crt in every gateway namespace,
// cacerts never touched, a restarted agent resuming its request, renewal at 2/3, a foreign Secret left alone, and a
// removed directive taking its Secrets with it.
#include "agent/certs/gateway_certificates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <map>
#include <optional>

#include "common/base/base64.h"
#include "common/base/test_paths.h"
#include "common/kube/config.h"
#include "common/metrics/metrics.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/verify.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kMesh[] = "istiod-istio-system-c1";
constexpr char kSpiffe[] = "spiffe://vm1.vmesh.vmesh-gateway/cluster/c1/mesh/istiod-istio-system-c1/ingress";

// The hub's side: a gateway CA that signs what it is asked for (the hub's checks are tested in hub/ca).
struct TestGatewayCa {
  TestGatewayCa()
      : key(*pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256())),
        ca(*pki::IssueRootCa(key, pki::RootCaProfile{"vmesh", "vmesh gateway CA vmesh/vm1"}, pki::Clock::now())) {}

  link::v1::IssuedCertificate Issue(const link::v1::CertificateSigningRequest& request,
                                    const std::string& san = kSpiffe,
                                    std::chrono::seconds ttl = std::chrono::hours(24)) const {
    auto signer = pki::CaSigner::Create(ca, key);
    auto csr = pki::Csr::FromPem(request.csr_pem());
    pki::LeafProfile profile{
        .subject = {.common_name = "gw"}, .uri_sans = {san}, .server_auth = true, .client_auth = true, .ttl = ttl};
    auto cert = pki::IssueLeaf(*signer, *csr, profile, pki::Clock::now());
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    link::v1::IssuedCertificate issued;
    issued.set_mesh(request.mesh());
    issued.set_request_id(request.request_id());
    issued.set_gateway_role(request.gateway_role());
    issued.set_certificate_chain_pem(cert->ToPem());
    issued.set_root_pem(ca.ToPem());
    return issued;
  }

  pki::PrivateKey key;
  pki::Certificate ca;
};

std::map<std::string, std::string> DecodedData(const json::value& secret) {
  std::map<std::string, std::string> out;
  if (!secret.is_object() || !secret.get_object().contains("data")) return out;
  for (const auto& [k, v] : secret.at("data").get_object()) out[std::string(k)] = *Base64Decode(v.get_string());
  return out;
}

class GatewayCertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> args;
    for (const char* seed : {"istio.yaml", "istio-egress.yaml"}) {
      args.push_back("--seed");
      args.push_back(testpaths::SourceDir() + "/e2e/kubesim/seeds/" + seed);
    }
    Status s = cluster_.Start(testpaths::BinaryDir() + "/e2e/kubesim/kubesim", "c1", args);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = kube::LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    client_ = std::move(*kube::MakeKubeClient(*config));
    probe_ = std::move(*kube::MakeKubeClient(*config));
  }

  std::unique_ptr<GatewayCertificateManager> NewManager() {
    GatewayCertificateOptions options{.cluster = "c1"};
    options.clock = [this] { return std::chrono::system_clock::now() + clock_offset_; };
    options.csr_retry_interval = std::chrono::seconds(60);
    options.metrics = &metrics_;
    return std::make_unique<GatewayCertificateManager>(
        *client_, options, [this](link::v1::Envelope envelope) -> Status {
          if (!hub_up_) return MakeError("no session with the hub");
          EXPECT_TRUE(envelope.has_certificate_signing_request());
          csrs_.push_back(envelope.certificate_signing_request());
          // What the cluster holds at the moment the CSR leaves.
          key_at_send_.push_back(
              DecodedData(Get("/api/v1/namespaces/vmesh-system/secrets/vmesh-gw-" + std::string(kMesh) + "-" +
                              envelope.certificate_signing_request().gateway_role()))["key.pem"]);
          return OkStatus();
        });
  }

  link::v1::GatewayCertificateDirective Directive(const std::string& generation = "gen-1") const {
    link::v1::GatewayCertificateDirective d;
    d.set_mesh(kMesh);
    d.set_virtual_mesh("vmesh/vm1");
    d.set_role("ingress");
    d.add_namespaces("istio-system");
    d.add_namespaces("gateways");
    d.set_spiffe_id(kSpiffe);
    d.set_generation(generation);
    d.set_trust_bundle_pem(ca_.ca.ToPem());
    return d;
  }

  template <typename T>
  T Run(asio::awaitable<T> task) {
    std::optional<T> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    return std::move(*out);
  }
  void RunVoid(asio::awaitable<void> task) {
    asio::co_spawn(io_, std::move(task), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io_.restart();
    io_.run();
  }
  json::value Get(const std::string& path) {
    asio::io_context io;
    json::value out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto r = co_await probe_->Get(path);
          if (r.ok() && r->ok()) out = r->body;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    return out;
  }
  void Send(const std::string& method, const std::string& path, const json::value& body) {
    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto r = co_await probe_->Request(method, path, json::serialize(body));
          EXPECT_TRUE(r.ok() && r->ok()) << method << " " << path << ": " << (r.ok() ? r->Describe() : "");
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
  }
  void CreateNamespace(const std::string& name) {
    Send("POST", "/api/v1/namespaces",
         json::value{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  }
  json::value GatewaySecret(const std::string& ns) {
    return Get("/api/v1/namespaces/" + ns + "/secrets/vmesh-gateway-ingress");
  }
  link::v1::GatewayCertificateReport Report(const GatewayCertificateManager& m) {
    auto reports = m.Reports();
    EXPECT_EQ(reports.size(), 1u);
    if (reports.empty() || reports.begin()->second.empty()) return {};
    return reports.begin()->second[0];
  }

  kubesim::TestCluster cluster_;
  kube::KubeClientPtr client_;
  kube::KubeClientPtr probe_;
  asio::io_context io_;
  TestGatewayCa ca_;
  bool hub_up_ = true;
  std::chrono::seconds clock_offset_{0};
  std::vector<link::v1::CertificateSigningRequest> csrs_;
  std::vector<std::string> key_at_send_;
  metrics::Registry metrics_;
};

TEST_F(GatewayCertificatesTest, KeyInClusterFirstThenTlsSecretsWithCaInEveryNamespaceAndNoCacerts) {
  CreateNamespace("gateways");
  auto m = NewManager();
  ASSERT_TRUE(Run(m->OnDirective(Directive())).ok());
  ASSERT_EQ(csrs_.size(), 1u);
  EXPECT_EQ(csrs_[0].gateway_role(), "ingress");
  EXPECT_EQ(csrs_[0].mesh(), kMesh);
  EXPECT_EQ(csrs_[0].directive_generation(), "gen-1");
  ASSERT_FALSE(key_at_send_[0].empty()) << "the key is persisted in the cluster before the CSR leaves";
  EXPECT_EQ(csrs_[0].csr_pem().find("PRIVATE"), std::string::npos);
  auto csr = pki::Csr::FromPem(csrs_[0].csr_pem());
  ASSERT_TRUE(csr.ok());
  EXPECT_EQ(Report(*m).status().phase(), api::v1::REQUESTED);

  auto issued = ca_.Issue(csrs_[0]);
  RunVoid(m->OnIssued(issued));
  auto leaf = *pki::Certificate::FromPem(issued.certificate_chain_pem());
  for (const char* ns : {"istio-system", "gateways"}) {
    json::value secret = GatewaySecret(ns);
    ASSERT_TRUE(secret.is_object()) << ns;
    EXPECT_EQ(secret.at("type").as_string(), "kubernetes.io/tls");
    EXPECT_EQ(secret.at("metadata").at("labels").at("app.kubernetes.io/managed-by").as_string(), "vmesh");
    EXPECT_EQ(secret.at("metadata").at("labels").at("networking.vmesh.dev/virtual-mesh").as_string(), "vmesh.vm1");
    auto data = DecodedData(secret);
    EXPECT_EQ(data["tls.crt"], leaf.ToPem());
    EXPECT_EQ(data["ca.crt"], ca_.ca.ToPem());
    EXPECT_EQ(data["tls.key"], key_at_send_[0]);
    auto key = pki::PrivateKey::FromPem(data["tls.key"]);
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(pki::KeyMatchesCertificate(*key, leaf).ok());
  }
  EXPECT_FALSE(Get("/api/v1/namespaces/istio-system/secrets/cacerts").is_object()) << "cacerts is never written";
  EXPECT_FALSE(Get("/api/v1/namespaces/vmesh-system/secrets/vmesh-gw-" + std::string(kMesh) + "-ingress").is_object())
      << "the pending key is forgotten once installed";
  auto report = Report(*m);
  EXPECT_EQ(report.status().phase(), api::v1::INSTALLED);
  EXPECT_EQ(report.status().serial(), leaf.serial_hex());
  EXPECT_EQ(report.status().role(), "ingress");
  EXPECT_EQ(report.installed_generation(), "gen-1");
  EXPECT_THAT(report.status().secrets(),
              ElementsAre("istio-system/vmesh-gateway-ingress", "gateways/vmesh-gateway-ingress"));
  EXPECT_EQ(report.status().error(), "");
  EXPECT_EQ(metrics_.Value("vmesh_agent_gateway_certificate_not_after_seconds", {{"mesh", kMesh}, {"role", "ingress"}}),
            static_cast<double>(
                std::chrono::duration_cast<std::chrono::seconds>(leaf.not_after().time_since_epoch()).count()));

  // The same directive again (a reconnect, a restarted agent): nothing new.
  auto restarted = NewManager();
  ASSERT_TRUE(Run(restarted->OnDirective(Directive())).ok());
  EXPECT_EQ(csrs_.size(), 1u);
  EXPECT_EQ(Report(*restarted).status().phase(), api::v1::INSTALLED);
  EXPECT_EQ(Report(*restarted).status().serial(), leaf.serial_hex());

  // Removing the directive removes the Secrets vmesh wrote.
  ASSERT_TRUE(Run(restarted->OnDirectiveRemoved("gwcert/" + std::string(kMesh) + "/ingress")).ok());
  EXPECT_FALSE(GatewaySecret("istio-system").is_object());
  EXPECT_FALSE(GatewaySecret("gateways").is_object());
  EXPECT_TRUE(restarted->Reports().empty());
  EXPECT_THAT(metrics_.Render(), ::testing::Not(HasSubstr("role=\"ingress\"")));
}

TEST_F(GatewayCertificatesTest, ARestartedAgentResendsTheCsrOfItsPersistedKey) {
  CreateNamespace("gateways");
  hub_up_ = false;
  auto m = NewManager();
  ASSERT_TRUE(Run(m->OnDirective(Directive())).ok());
  EXPECT_TRUE(csrs_.empty());
  auto persisted =
      DecodedData(Get("/api/v1/namespaces/vmesh-system/secrets/vmesh-gw-" + std::string(kMesh) + "-ingress"));
  ASSERT_FALSE(persisted["key.pem"].empty());
  m.reset();
  hub_up_ = true;
  auto restarted = NewManager();
  ASSERT_TRUE(Run(restarted->OnDirective(Directive())).ok());
  ASSERT_EQ(csrs_.size(), 1u);
  EXPECT_EQ(key_at_send_[0], persisted["key.pem"]) << "the same key, not a new one";
  RunVoid(restarted->OnIssued(ca_.Issue(csrs_[0])));
  EXPECT_EQ(Report(*restarted).status().phase(), api::v1::INSTALLED);
  EXPECT_EQ(DecodedData(GatewaySecret("gateways"))["tls.key"], persisted["key.pem"]);
}

TEST_F(GatewayCertificatesTest, WhatDoesNotMatchTheDirectiveIsNotInstalled) {
  CreateNamespace("gateways");
  auto m = NewManager();
  ASSERT_TRUE(Run(m->OnDirective(Directive())).ok());
  ASSERT_EQ(csrs_.size(), 1u);
  // Another identity.
  RunVoid(m->OnIssued(ca_.Issue(csrs_[0], "spiffe://vm1.vmesh.vmesh-gateway/cluster/c2/mesh/x/ingress")));
  EXPECT_EQ(Report(*m).status().phase(), api::v1::CERTIFICATE_FAILED);
  EXPECT_THAT(Report(*m).status().error(), HasSubstr("does not carry exactly the URI SAN " + std::string(kSpiffe)));
  EXPECT_FALSE(GatewaySecret("istio-system").is_object());
  // Another CA (a foreign VirtualMesh's).
  TestGatewayCa foreign;
  RunVoid(m->OnIssued(foreign.Issue(csrs_[0])));
  EXPECT_THAT(Report(*m).status().error(), HasSubstr("does not verify against the VirtualMesh's gateway CA"));
  EXPECT_FALSE(GatewaySecret("istio-system").is_object());
  // The hub's refusal is the status's error.
  auto refused = ca_.Issue(csrs_[0]);
  refused.clear_certificate_chain_pem();
  refused.set_error("cluster c1 may not request a certificate for mesh x");
  RunVoid(m->OnIssued(refused));
  EXPECT_THAT(Report(*m).status().error(), HasSubstr("the hub refused the ingress gateway certificate of mesh"));
  // A correct answer still installs (the request is still pending).
  RunVoid(m->OnIssued(ca_.Issue(csrs_[0])));
  EXPECT_EQ(Report(*m).status().phase(), api::v1::INSTALLED);
  EXPECT_EQ(Report(*m).status().error(), "");
}

TEST_F(GatewayCertificatesTest, AForeignSecretIsNeverOverwritten) {
  CreateNamespace("gateways");
  Send("POST", "/api/v1/namespaces/gateways/secrets",
       json::value{{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "vmesh-gateway-ingress"}, {"namespace", "gateways"}}},
                   {"type", "Opaque"},
                   {"data", {{"user", Base64Encode("mine")}}}});
  auto m = NewManager();
  ASSERT_TRUE(Run(m->OnDirective(Directive())).ok());
  EXPECT_TRUE(csrs_.empty());
  EXPECT_EQ(Report(*m).status().phase(), api::v1::CERTIFICATE_FAILED);
  EXPECT_THAT(Report(*m).status().error(),
              HasSubstr("Secret gateways/vmesh-gateway-ingress exists and was not written by vmesh"));
  EXPECT_EQ(DecodedData(GatewaySecret("gateways"))["user"], "mine");
}

TEST_F(GatewayCertificatesTest, RenewsAtTwoThirdsOfTheLifetimeAndOnANewGeneration) {
  CreateNamespace("gateways");
  auto m = NewManager();
  ASSERT_TRUE(Run(m->OnDirective(Directive())).ok());
  RunVoid(m->OnIssued(ca_.Issue(csrs_[0], kSpiffe, std::chrono::hours(3))));
  const std::string first = Report(*m).status().serial();
  RunVoid(m->Tick());
  EXPECT_EQ(csrs_.size(), 1u) << "nothing due yet";
  clock_offset_ = std::chrono::minutes(125);  // past 2/3 of 3 h (+1 min skew allowance in notBefore)
  RunVoid(m->Tick());
  ASSERT_EQ(csrs_.size(), 2u);
  EXPECT_NE(key_at_send_[1], key_at_send_[0]) << "a new key";
  RunVoid(m->OnIssued(ca_.Issue(csrs_[1])));
  EXPECT_NE(Report(*m).status().serial(), first);
  EXPECT_EQ(Report(*m).status().phase(), api::v1::INSTALLED);
  clock_offset_ = std::chrono::seconds(0);
  // A new gateway CA (generation): a new certificate.
  ASSERT_TRUE(Run(m->OnDirective(Directive("gen-2"))).ok());
  ASSERT_EQ(csrs_.size(), 3u);
  EXPECT_EQ(csrs_[2].directive_generation(), "gen-2");
}

}  // namespace
}  // namespace vmesh::agent
