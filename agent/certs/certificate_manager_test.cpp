// The certificate manager and the restarter against a kubesim cluster (SPEC §5.2–§5.6), with a test CA playing
// the hub: keys persisted before their CSR leaves, cacerts written complete and verified, foreign cacerts left
// alone, a restarted agent resuming its request, and the ordered rolling restart kubesim's istiod plays out.
#include "agent/certs/certificate_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <optional>

#include "agent/certs/cacerts.h"
#include "agent/certs/cert_state_secret.h"
#include "agent/restart/restarter.h"
#include "common/base/base64.h"
#include "common/base/test_paths.h"
#include "common/kube/config.h"
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
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kMesh[] = "istiod-istio-system-c1";
constexpr char kRootFingerprintAnnotation[] = "kubesim.vmesh.dev/trusted-root-fingerprint";
constexpr char kLoadedRootAnnotation[] = "kubesim.vmesh.dev/loaded-root-fingerprint";

// The hub's side of the certificate exchange: a VirtualMesh root that signs intermediates.
struct TestHubCa {
  TestHubCa()
      : key(*pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256())),
        root(*pki::IssueRootCa(key, pki::RootCaProfile{"vmesh", "vmesh root CA vmesh/vm1"}, pki::Clock::now())) {}

  link::v1::IssuedCertificate Issue(const link::v1::CertificateSigningRequest& request,
                                    pki::TimePoint now = pki::Clock::now()) const {
    auto signer = pki::CaSigner::Create(root, key);
    auto csr = pki::Csr::FromPem(request.csr_pem());
    pki::IntermediateProfile profile;
    profile.common_name = "vmesh intermediate c1/" + request.mesh();
    profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
    auto cert = pki::IssueIntermediate(*signer, *csr, profile, now);
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    link::v1::IssuedCertificate issued;
    issued.set_mesh(request.mesh());
    issued.set_request_id(request.request_id());
    issued.set_certificate_chain_pem(cert->ToPem());
    issued.set_root_pem(root.ToPem());
    return issued;
  }

  pki::PrivateKey key;
  pki::Certificate root;
};

std::map<std::string, std::string> DecodedData(const json::value& secret) {
  std::map<std::string, std::string> out;
  if (!secret.is_object() || !secret.get_object().contains("data")) return out;
  for (const auto& [k, v] : secret.at("data").get_object()) out[std::string(k)] = *Base64Decode(v.get_string());
  return out;
}

std::string Annotation(const json::value& o, const std::string& key, bool template_annotation) {
  const json::value* meta = &o.at("metadata");
  if (template_annotation) meta = &o.at("spec").at("template").at("metadata");
  if (!meta->get_object().contains("annotations")) return "";
  const auto& a = meta->at("annotations").get_object();
  auto it = a.find(key);
  return it == a.end() ? "" : std::string(it->value().get_string());
}

class CertificateManagerTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& seeds) {
    std::vector<std::string> args = {"--pod-ready-delay-ms", "50"};
    for (const auto& s : seeds) {
      args.push_back("--seed");
      args.push_back(testpaths::SourceDir() + "/e2e/kubesim/seeds/" + s);
    }
    Status s = cluster_.Start(testpaths::BinaryDir() + "/e2e/kubesim/kubesim", "c1", args);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = kube::LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    client_ = std::move(*kube::MakeKubeClient(*config));
    probe_ = std::move(*kube::MakeKubeClient(*config));
    restarter_ = std::make_unique<Restarter>(*client_);
  }

  std::unique_ptr<CertificateManager> NewManager() {
    CertificateManagerOptions options{.cluster = "c1"};
    options.clock = [this] { return std::chrono::system_clock::now() + clock_offset_; };
    return std::make_unique<CertificateManager>(
        *client_, options,
        [this](link::v1::Envelope envelope) -> Status {
          if (!hub_up_) return MakeError("no session with the hub");
          EXPECT_TRUE(envelope.has_certificate_signing_request());
          csrs_.push_back(envelope.certificate_signing_request());
          // What the cluster holds at the moment the CSR leaves.
          state_at_send_.push_back(Get("/api/v1/namespaces/vmesh-system/secrets/vmesh-ca-" + std::string(kMesh)));
          return OkStatus();
        },
        [this](const std::string& name) -> std::optional<api::v1::Mesh> {
          if (name != kMesh) return std::nullopt;
          return mesh_;
        },
        *restarter_);
  }

  link::v1::CertificateDirective Directive(const std::string& generation, bool auto_restart = false) const {
    link::v1::CertificateDirective d;
    d.set_mesh(kMesh);
    d.set_virtual_mesh("vmesh/vm1");
    d.set_key_algorithm(api::v1::ECDSA_P256);
    d.set_generation(generation);
    d.set_trust_bundle_pem(ca_.root.ToPem());
    d.set_auto_restart_pods(auto_restart);
    return d;
  }

  // Runs one coroutine to completion on io_.
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

  // A synchronous GET on its own io_context (also usable from inside the fake HubSend).
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
  json::array List(const std::string& path) {
    json::value list = Get(path);
    return list.is_object() ? list.at("items").get_array() : json::array{};
  }
  void Pause(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    t.wait();
  }

  // The first status of the manager (there is one mesh).
  link::v1::MeshStatus Status1(const CertificateManager& m) {
    auto statuses = m.Statuses();
    EXPECT_EQ(statuses.size(), 1u);
    return statuses.empty() ? link::v1::MeshStatus{} : statuses[0];
  }

  // Directive -> CSR -> issued -> installed, returning the installed intermediate.
  pki::Certificate InstallOnce(CertificateManager& m, const link::v1::CertificateDirective& d) {
    const size_t before = csrs_.size();
    Status s = Run(m.OnDirective(d));
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(csrs_.size(), before + 1);
    link::v1::IssuedCertificate issued = ca_.Issue(csrs_.back());
    RunVoid(m.OnIssued(issued));
    return *pki::Certificate::FromPem(issued.certificate_chain_pem());
  }

  kubesim::TestCluster cluster_;
  kube::KubeClientPtr client_;
  kube::KubeClientPtr probe_;
  std::unique_ptr<Restarter> restarter_;
  asio::io_context io_;
  TestHubCa ca_;
  bool hub_up_ = true;
  std::chrono::system_clock::duration clock_offset_{};
  std::vector<link::v1::CertificateSigningRequest> csrs_;
  std::vector<json::value> state_at_send_;
  api::v1::Mesh mesh_ = [] {
    api::v1::Mesh m;
    m.mutable_metadata()->set_name(kMesh);
    m.mutable_spec()->set_cluster("c1");
    m.mutable_spec()->set_installation_namespace("istio-system");
    m.mutable_spec()->set_istio_version("1.20.3");
    m.mutable_spec()->set_ca_hot_reload(true);
    return m;
  }();
};

const char kCacerts[] = "/api/v1/namespaces/istio-system/secrets/cacerts";
const char kState[] = "/api/v1/namespaces/vmesh-system/secrets/vmesh-ca-istiod-istio-system-c1";

TEST_F(CertificateManagerTest, PersistsTheKeyBeforeTheCsrAndInstallsAVerifiedCacerts) {
  Start({"istio.yaml", "bookinfo.yaml"});
  auto manager = NewManager();
  ASSERT_TRUE(Run(manager->OnDirective(Directive("g1"))).ok());

  // The key was in the state namespace when the CSR left, and the CSR is for that key.
  ASSERT_EQ(csrs_.size(), 1u);
  EXPECT_EQ(csrs_[0].mesh(), kMesh);
  EXPECT_EQ(csrs_[0].directive_generation(), "g1");
  auto persisted = CertStateFromSecret(state_at_send_[0]);
  ASSERT_TRUE(persisted.ok()) << persisted.error().message;
  ASSERT_FALSE(persisted->pending_key_pem.empty());
  EXPECT_EQ(persisted->pending_request_id, csrs_[0].request_id());
  auto key = pki::PrivateKey::FromPem(persisted->pending_key_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(pki::Csr::FromPem(csrs_[0].csr_pem())->public_key()->Equals(key->public_key()));
  EXPECT_EQ(csrs_[0].csr_pem().find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(Status1(*manager).certificate().phase(), api::v1::REQUESTED);
  // Nothing new happens when the directive comes again: no second key, no second CSR.
  ASSERT_TRUE(Run(manager->OnDirective(Directive("g1"))).ok());
  EXPECT_EQ(csrs_.size(), 1u);

  link::v1::IssuedCertificate issued = ca_.Issue(csrs_[0]);
  RunVoid(manager->OnIssued(issued));
  json::value cacerts = Get(kCacerts);
  ASSERT_TRUE(cacerts.is_object()) << "no cacerts";
  auto files = DecodedData(cacerts);
  std::vector<std::string> names;
  for (const auto& [k, v] : files) names.push_back(k);
  EXPECT_THAT(names, ElementsAre("ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"));
  EXPECT_EQ(cacerts.at("metadata").at("labels").at(kManagedByLabel), kManagedByValue);
  EXPECT_EQ(files["root-cert.pem"], ca_.root.ToPem());
  auto intermediate = pki::Certificate::FromPem(files["ca-cert.pem"]);
  ASSERT_TRUE(intermediate.ok());
  EXPECT_TRUE(pki::VerifyChain(*intermediate, {ca_.root}, {}, pki::Clock::now()).ok());
  EXPECT_TRUE(pki::KeyMatchesCertificate(*pki::PrivateKey::FromPem(files["ca-key.pem"]), *intermediate).ok());
  EXPECT_EQ(files["cert-chain.pem"], intermediate->ToPem() + ca_.root.ToPem());

  // Recorded as installed, the pending key forgotten.
  auto state = CertStateFromSecret(Get(kState));
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->pending_key_pem.empty());
  EXPECT_EQ(state->installed_serial, intermediate->serial_hex());
  EXPECT_EQ(state->installed_generation, "g1");
  auto status = Status1(*manager);
  EXPECT_EQ(status.certificate().phase(), api::v1::INSTALLED);
  EXPECT_EQ(status.certificate().serial(), intermediate->serial_hex());
  EXPECT_EQ(status.installed_generation(), "g1");
  EXPECT_THAT(status.errors(), IsEmpty());

  // The first switch away from Istio's self-signed root: without autoRestartPods the status lists what needs a
  // restart, and nothing is restarted.
  RunVoid(manager->Tick());
  status = Status1(*manager);
  EXPECT_THAT(status.pending_restarts(),
              UnorderedElementsAre("Deployment/istio-system/istiod", "Deployment/istio-system/istio-eastwestgateway",
                                   "Deployment/bookinfo/productpage-v1", "Deployment/bookinfo/reviews-v1",
                                   "Deployment/bookinfo/ratings-v1"));
  EXPECT_EQ(status.restarts_total(), 5u);
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    EXPECT_EQ(Annotation(d, kRestartedForAnnotation, true), "") << d.at("metadata").at("name");
  }

  // A second intermediate under the same root: new key, root-cert.pem byte-identical.
  const pki::Certificate second = InstallOnce(*manager, Directive("g2"));
  ASSERT_EQ(csrs_.size(), 2u);
  EXPECT_NE(csrs_[1].request_id(), csrs_[0].request_id());
  EXPECT_FALSE(pki::Csr::FromPem(csrs_[1].csr_pem())->public_key()->Equals(key->public_key()));
  auto files2 = DecodedData(Get(kCacerts));
  EXPECT_EQ(files2["root-cert.pem"], files["root-cert.pem"]);
  EXPECT_EQ(files2["ca-cert.pem"], second.ToPem());
  EXPECT_NE(files2["ca-cert.pem"], files["ca-cert.pem"]);
  EXPECT_EQ(Status1(*manager).certificate().serial(), second.serial_hex());
}

TEST_F(CertificateManagerTest, LeavesAUserCacertsAloneUntilItIsHandedOver) {
  Start({"istio.yaml"});
  json::value user = {{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", {{"name", "cacerts"}, {"namespace", "istio-system"}}},
                      {"data", {{"root-cert.pem", Base64Encode("the user's root")}}}};
  auto created = Run(client_->Create("/api/v1/namespaces/istio-system/secrets", user));
  ASSERT_TRUE(created.ok() && created->ok());
  const json::value before = Get(kCacerts);

  auto manager = NewManager();
  ASSERT_TRUE(Run(manager->OnDirective(Directive("g1"))).ok());
  ASSERT_EQ(csrs_.size(), 1u);
  RunVoid(manager->OnIssued(ca_.Issue(csrs_[0])));

  EXPECT_EQ(Get(kCacerts), before);
  auto status = Status1(*manager);
  EXPECT_EQ(status.certificate().phase(), api::v1::CERTIFICATE_FAILED);
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_THAT(status.errors(0), HasSubstr("not managed by vmesh"));
  EXPECT_THAT(status.errors(0), HasSubstr("kubectl -n istio-system label secret cacerts"));
  RunVoid(manager->Tick());
  EXPECT_EQ(Get(kCacerts), before);

  // Handed over as the message says: the next tick installs the certificate that was waiting.
  auto labelled = Run(client_->MergePatch(
      kCacerts, json::parse(R"({"metadata":{"labels":{")" + std::string(kManagedByLabel) + R"(":"vmesh"}}})")));
  ASSERT_TRUE(labelled.ok() && labelled->ok());
  RunVoid(manager->Tick());
  EXPECT_EQ(DecodedData(Get(kCacerts))["root-cert.pem"], ca_.root.ToPem());
  EXPECT_EQ(Status1(*manager).certificate().phase(), api::v1::INSTALLED);
  EXPECT_EQ(csrs_.size(), 1u);
}

TEST_F(CertificateManagerTest, ARestartedManagerResendsTheCsrForThePersistedKey) {
  Start({"istio.yaml"});
  hub_up_ = false;
  auto first = NewManager();
  ASSERT_TRUE(Run(first->OnDirective(Directive("g1"))).ok());
  EXPECT_THAT(csrs_, IsEmpty());
  EXPECT_EQ(Status1(*first).certificate().phase(), api::v1::REQUESTED);
  auto persisted = CertStateFromSecret(Get(kState));
  ASSERT_TRUE(persisted.ok());
  ASSERT_FALSE(persisted->pending_key_pem.empty());

  // The session comes up: the next tick sends the CSR for the key that waited.
  hub_up_ = true;
  first->OnSessionStarted();
  RunVoid(first->Tick());
  ASSERT_EQ(csrs_.size(), 1u);
  EXPECT_EQ(csrs_[0].request_id(), persisted->pending_request_id);
  const auto key = pki::PrivateKey::FromPem(persisted->pending_key_pem);
  EXPECT_TRUE(pki::Csr::FromPem(csrs_[0].csr_pem())->public_key()->Equals(key->public_key()));
  // Ticks within the retry interval do not repeat it.
  RunVoid(first->Tick());
  EXPECT_EQ(csrs_.size(), 1u);

  // The agent restarts before the answer: the new manager asks again for the same key.
  first.reset();
  auto second = NewManager();
  ASSERT_TRUE(Run(second->OnDirective(Directive("g1"))).ok());
  ASSERT_EQ(csrs_.size(), 2u);
  EXPECT_EQ(csrs_[1].request_id(), persisted->pending_request_id);
  EXPECT_TRUE(pki::Csr::FromPem(csrs_[1].csr_pem())->public_key()->Equals(key->public_key()));
  EXPECT_EQ(CertStateFromSecret(Get(kState))->pending_key_pem, persisted->pending_key_pem);

  link::v1::IssuedCertificate issued = ca_.Issue(csrs_[1]);
  RunVoid(second->OnIssued(issued));
  auto files = DecodedData(Get(kCacerts));
  EXPECT_TRUE(pki::KeyMatchesCertificate(*key, *pki::Certificate::FromPem(files["ca-cert.pem"])).ok());
  EXPECT_EQ(Status1(*second).certificate().phase(), api::v1::INSTALLED);

  // A late duplicate answer (to the first send) changes nothing.
  const std::string version = Get(kCacerts).at("metadata").at("resourceVersion").as_string().c_str();
  RunVoid(second->OnIssued(ca_.Issue(csrs_[0])));
  EXPECT_EQ(Get(kCacerts).at("metadata").at("resourceVersion").as_string(), version);
}

TEST_F(CertificateManagerTest, RenewsAtTwoThirdsOfTheLifetimeAndRetriesAfterAHubError) {
  Start({"istio.yaml"});
  auto manager = NewManager();
  const auto installing = std::chrono::system_clock::now();
  const pki::Certificate first = InstallOnce(*manager, Directive("g1"));
  const auto installed = std::chrono::system_clock::now();
  RunVoid(manager->Tick());
  EXPECT_EQ(csrs_.size(), 1u);
  // 2/3 of the lifetime, counted from when the agent received the certificate (notBefore is backdated).
  const auto renew_at = CertStateFromSecret(Get(kState))->renew_at;
  EXPECT_GE(renew_at, std::chrono::floor<std::chrono::seconds>(RenewalTime(first, installing)));
  EXPECT_LE(renew_at, RenewalTime(first, installed));

  // At 2/3 of the lifetime: a new key and its CSR, for the same directive generation.
  clock_offset_ = renew_at - std::chrono::system_clock::now() + std::chrono::seconds(1);
  RunVoid(manager->Tick());
  ASSERT_EQ(csrs_.size(), 2u);
  EXPECT_EQ(csrs_[1].directive_generation(), "g1");
  EXPECT_FALSE(
      pki::KeyMatchesCertificate(*pki::PrivateKey::FromPem(CertStateFromSecret(Get(kState))->pending_key_pem), first)
          .ok());
  EXPECT_EQ(Status1(*manager).certificate().serial(), first.serial_hex());

  // The hub refuses: FAILED with its reason; the CSR goes again after the retry interval, not before.
  link::v1::IssuedCertificate refused;
  refused.set_mesh(kMesh);
  refused.set_request_id(csrs_[1].request_id());
  refused.set_error("mesh istiod-istio-system-c1 is not owned by cluster c1");
  RunVoid(manager->OnIssued(refused));
  auto status = Status1(*manager);
  EXPECT_EQ(status.certificate().phase(), api::v1::CERTIFICATE_FAILED);
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_THAT(status.errors(0), HasSubstr("is not owned by cluster c1"));
  RunVoid(manager->Tick());
  EXPECT_EQ(csrs_.size(), 2u);
  clock_offset_ += std::chrono::seconds(301);
  RunVoid(manager->Tick());
  ASSERT_EQ(csrs_.size(), 3u);
  EXPECT_EQ(csrs_[2].request_id(), csrs_[1].request_id());

  RunVoid(manager->OnIssued(ca_.Issue(csrs_[2], std::chrono::system_clock::now() + clock_offset_)));
  status = Status1(*manager);
  EXPECT_EQ(status.certificate().phase(), api::v1::INSTALLED);
  EXPECT_NE(status.certificate().serial(), first.serial_hex());
  EXPECT_THAT(status.errors(), IsEmpty());
  EXPECT_GT(CertStateFromSecret(Get(kState))->renew_at, renew_at);
  RunVoid(manager->Tick());
  EXPECT_EQ(csrs_.size(), 3u);
}

TEST_F(CertificateManagerTest, AutoRestartGoesIstiodThenGatewaysThenWorkloadsOnce) {
  Start({"istio.yaml", "bookinfo.yaml"});
  // Wait until the self-signed Istio root is mirrored and the sidecars trust it.
  for (int i = 0; i < 200; ++i) {
    bool trusted = true;
    for (const auto& p : List("/api/v1/namespaces/bookinfo/pods"))
      trusted &= !Annotation(p, kRootFingerprintAnnotation, false).empty();
    if (trusted && Get("/api/v1/namespaces/bookinfo/configmaps/istio-ca-root-cert").is_object()) break;
    Pause(std::chrono::milliseconds(50));
  }

  auto manager = NewManager();
  const pki::Certificate cert = InstallOnce(*manager, Directive("g1", /*auto_restart=*/true));
  const std::string serial = cert.serial_hex();
  const std::string root_fp = ca_.root.Fingerprint();

  // Tick until the restart is done, noting at which tick each Deployment was restarted and whether the root
  // ConfigMaps carried the new root by then.
  std::map<std::string, int> restarted_at;
  std::map<std::string, bool> roots_current_when_restarted;
  bool done = false;
  // Snapshot 0 follows the install (which already took the first step); snapshot n follows tick n.
  for (int tick = 0; tick < 600 && !done; ++tick) {
    if (tick > 0) RunVoid(manager->Tick());
    bool roots_current = true;
    for (const auto& cm : List("/api/v1/configmaps?fieldSelector=metadata.name%3Distio-ca-root-cert")) {
      roots_current &= std::string(cm.at("data").at("root-cert.pem").as_string()) == ca_.root.ToPem();
    }
    for (const auto& d : List("/apis/apps/v1/deployments")) {
      const std::string name(d.at("metadata").at("name").as_string());
      if (Annotation(d, kRestartedForAnnotation, true) == serial && !restarted_at.count(name)) {
        restarted_at[name] = tick;
        roots_current_when_restarted[name] = roots_current;
      }
    }
    auto status = Status1(*manager);
    done = status.restarts_total() == 5 && status.restarts_done() == 5;
    if (!done) Pause(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(done) << Status1(*manager).DebugString();
  ASSERT_EQ(restarted_at.size(), 5u);
  EXPECT_LT(restarted_at["istiod"], restarted_at["istio-eastwestgateway"]);
  EXPECT_TRUE(roots_current_when_restarted["istio-eastwestgateway"]);
  for (const char* w : {"productpage-v1", "reviews-v1", "ratings-v1"}) {
    EXPECT_LT(restarted_at["istio-eastwestgateway"], restarted_at[w]) << w;
  }
  EXPECT_THAT(Status1(*manager).pending_restarts(), IsEmpty());
  EXPECT_TRUE(CertStateFromSecret(Get(kState))->restart_serial.empty());

  // Every pod ends on the new root: istiod loaded it, every sidecar trusts it.
  bool settled = false;
  for (int i = 0; i < 200 && !settled; ++i) {
    settled = true;
    for (const auto& p : List("/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod")) {
      settled &= Annotation(p, kLoadedRootAnnotation, false) == root_fp;
    }
    for (const auto& p : List("/api/v1/namespaces/bookinfo/pods")) {
      settled &= Annotation(p, kRootFingerprintAnnotation, false) == root_fp;
    }
    if (!settled) Pause(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(settled);

  // The same restart again (vmeshctl mesh restart for this serial) restarts nothing.
  std::map<std::string, int64_t> generations;
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    generations[std::string(d.at("metadata").at("name").as_string())] =
        d.at("metadata").at("generation").to_number<int64_t>();
  }
  link::v1::RestartDirective again;
  again.set_mesh(kMesh);
  again.set_certificate_serial(serial);
  again.set_request_id("r1");
  ASSERT_TRUE(Run(manager->OnRestartDirective(again)).ok());
  for (int i = 0; i < 3; ++i) RunVoid(manager->Tick());
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    const std::string name(d.at("metadata").at("name").as_string());
    EXPECT_EQ(d.at("metadata").at("generation").to_number<int64_t>(), generations[name]) << name;
  }
  EXPECT_EQ(Status1(*manager).restarts_done(), 5u);
  EXPECT_TRUE(CertStateFromSecret(Get(kState))->restart_serial.empty());
}

// Without autoRestartPods nothing restarts until `vmeshctl mesh restart` (a RestartDirective) asks for it.
TEST_F(CertificateManagerTest, WithoutAutoRestartTheRestartWaitsForARestartDirective) {
  Start({"istio.yaml", "bookinfo.yaml"});
  auto manager = NewManager();
  link::v1::RestartDirective restart;
  restart.set_mesh(kMesh);
  restart.set_request_id("r1");
  // Nothing installed yet: refused (NACK) with the reason.
  Status early = Run(manager->OnRestartDirective(restart));
  ASSERT_FALSE(early.ok());
  EXPECT_THAT(early.error().message, HasSubstr("no vmesh certificate installed"));

  const pki::Certificate cert = InstallOnce(*manager, Directive("g1"));
  for (int i = 0; i < 5; ++i) RunVoid(manager->Tick());
  EXPECT_EQ(Status1(*manager).pending_restarts_size(), 5);
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    EXPECT_EQ(Annotation(d, kRestartedForAnnotation, true), "") << d.at("metadata").at("name");
  }

  ASSERT_TRUE(Run(manager->OnRestartDirective(restart)).ok());
  for (int i = 0; i < 600 && !CertStateFromSecret(Get(kState))->restart_serial.empty(); ++i) {
    RunVoid(manager->Tick());
    Pause(std::chrono::milliseconds(50));
  }
  auto status = Status1(*manager);
  EXPECT_EQ(status.restarts_done(), 5u) << status.DebugString();
  EXPECT_THAT(status.pending_restarts(), IsEmpty());
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    EXPECT_EQ(Annotation(d, kRestartedForAnnotation, true), cert.serial_hex()) << d.at("metadata").at("name");
  }
}

// A root rotation (SPEC §5.5) as the agent sees it: each phase is a directive of its own. A restart is owed — and
// reported as restart_owed_for, which the hub's phase gate waits on — when the trust bundle changes (old -> old+new,
// old+new -> new) and when the root the intermediate chains to changes under a byte-identical bundle (ISSUE_NEW);
// not for a renewal under the same root.
TEST_F(CertificateManagerTest, RootRotationPhasesOweRestartsUntilTheyAreDone) {
  Start({"istio.yaml", "bookinfo.yaml"});
  auto manager = NewManager();
  const TestHubCa next;
  auto run_restarts = [&] {
    for (int i = 0; i < 600 && !Status1(*manager).restart_owed_for().empty(); ++i) {
      RunVoid(manager->Tick());
      Pause(std::chrono::milliseconds(20));
    }
    return Status1(*manager).restart_owed_for().empty();
  };
  auto install = [&](const std::string& generation, const std::string& bundle, const TestHubCa& signer) {
    link::v1::CertificateDirective d = Directive(generation, /*auto_restart=*/true);
    d.set_trust_bundle_pem(bundle);
    const size_t before = csrs_.size();
    EXPECT_TRUE(Run(manager->OnDirective(d)).ok());
    EXPECT_EQ(csrs_.size(), before + 1);
    link::v1::IssuedCertificate issued = signer.Issue(csrs_.back());
    RunVoid(manager->OnIssued(issued));
    EXPECT_EQ(Status1(*manager).installed_generation(), generation);
    return pki::Certificate::FromPem(issued.certificate_chain_pem())->serial_hex();
  };
  const std::string old_pem = ca_.root.ToPem();
  const std::string both = old_pem + next.root.ToPem();

  install("g1", old_pem, ca_);  // from Istio's own root: owed
  EXPECT_FALSE(Status1(*manager).restart_owed_for().empty());
  ASSERT_TRUE(run_restarts());

  const std::string trust_both = install("g2", both, ca_);  // TRUST_BOTH: the bundle changed
  EXPECT_EQ(Status1(*manager).restart_owed_for(), trust_both);
  ASSERT_TRUE(run_restarts());
  const std::string bundle_bytes = DecodedData(Get(kCacerts))["root-cert.pem"];

  const std::string issue_new = install("g3", both, next);  // ISSUE_NEW: same bundle, new anchor
  EXPECT_EQ(Status1(*manager).restart_owed_for(), issue_new);
  auto cacerts = DecodedData(Get(kCacerts));
  EXPECT_EQ(cacerts["root-cert.pem"], bundle_bytes) << "byte-identical within the rotation";
  EXPECT_THAT(cacerts["cert-chain.pem"], HasSubstr(next.root.ToPem()));
  EXPECT_THAT(cacerts["cert-chain.pem"], Not(HasSubstr(old_pem)));
  ASSERT_TRUE(run_restarts());
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    EXPECT_EQ(Annotation(d, kRestartedForAnnotation, true), issue_new) << d.at("metadata").at("name");
  }

  const std::string trust_new = install("g4", next.root.ToPem(), next);  // TRUST_NEW: the bundle changed
  EXPECT_EQ(Status1(*manager).restart_owed_for(), trust_new);
  ASSERT_TRUE(run_restarts());
  EXPECT_EQ(DecodedData(Get(kCacerts))["root-cert.pem"], next.root.ToPem());

  install("g5", next.root.ToPem(), next);  // a renewal under the new root: nothing owed
  EXPECT_EQ(Status1(*manager).restart_owed_for(), "");
}

// Istio 1.18 does not hot-reload cacerts: under the same root only istiod is restarted.
TEST_F(CertificateManagerTest, SameRootOnIstio118RestartsOnlyIstiod) {
  Start({"istio-1.18.yaml", "bookinfo.yaml"});
  mesh_.mutable_spec()->set_istio_version("1.18.2");
  mesh_.mutable_spec()->set_ca_hot_reload(false);
  auto manager = NewManager();
  const pki::Certificate first = InstallOnce(*manager, Directive("g1", /*auto_restart=*/true));
  // The first install switches roots: run that restart to its end.
  for (int i = 0; i < 600 && !CertStateFromSecret(Get(kState))->restart_serial.empty(); ++i) {
    RunVoid(manager->Tick());
    Pause(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(CertStateFromSecret(Get(kState))->restart_serial.empty()) << Status1(*manager).DebugString();

  const pki::Certificate second = InstallOnce(*manager, Directive("g2", /*auto_restart=*/true));
  for (int i = 0; i < 600 && !CertStateFromSecret(Get(kState))->restart_serial.empty(); ++i) {
    RunVoid(manager->Tick());
    Pause(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(CertStateFromSecret(Get(kState))->restart_serial.empty()) << Status1(*manager).DebugString();
  std::map<std::string, std::string> restarted_for;
  for (const auto& d : List("/apis/apps/v1/deployments")) {
    restarted_for[std::string(d.at("metadata").at("name").as_string())] = Annotation(d, kRestartedForAnnotation, true);
  }
  EXPECT_EQ(restarted_for["istiod"], second.serial_hex());
  for (const char* other : {"istio-eastwestgateway", "productpage-v1", "reviews-v1", "ratings-v1"}) {
    EXPECT_EQ(restarted_for[other], first.serial_hex()) << other;
  }
}

// Which workloads belong to a mesh: istiod, its gateways, and sidecar-injected Deployments, StatefulSets and
// DaemonSets (by their pods' labels or their namespace's injection label), not the others.
TEST_F(CertificateManagerTest, RestarterFindsTheMeshWorkloads) {
  Start({"istio.yaml", "bookinfo.yaml"});
  auto create = [&](const std::string& collection, const std::string& body) {
    auto r = Run(client_->Create(collection, json::parse(body)));
    ASSERT_TRUE(r.ok() && r->ok()) << body;
  };
  const std::string pod_spec = R"("spec":{"containers":[{"name":"app","image":"app:1"}]})";
  auto workload = [&](const std::string& kind, const std::string& ns, const std::string& name,
                      const std::string& template_labels) {
    return R"({"apiVersion":"apps/v1","kind":")" + kind + R"(","metadata":{"name":")" + name + R"(","namespace":")" +
           ns + R"("},"spec":{"selector":{"matchLabels":{"app":")" + name +
           R"("}},"template":{"metadata":{"labels":{"app":")" + name + R"(")" + template_labels + "}}," + pod_spec +
           "}}}";
  };
  create("/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop",
         "labels":{"istio-injection":"enabled"}}})");
  create("/apis/apps/v1/namespaces/shop/statefulsets", workload("StatefulSet", "shop", "db", ""));
  create("/apis/apps/v1/namespaces/shop/daemonsets", workload("DaemonSet", "shop", "node-agent", ""));
  create("/apis/apps/v1/namespaces/shop/deployments",
         workload("Deployment", "shop", "opted-out", R"(,"sidecar.istio.io/inject":"false")"));
  create("/apis/apps/v1/namespaces/default/deployments", workload("Deployment", "default", "plain", ""));
  create("/apis/apps/v1/namespaces/default/deployments",
         workload("Deployment", "default", "injected", R"(,"security.istio.io/tlsMode":"istio")"));

  auto gathered = Run(restarter_->Gather(mesh_));
  ASSERT_TRUE(gathered.ok()) << gathered.error().message;
  std::map<std::string, WorkloadRole> roles;
  for (const auto& w : *gathered) roles[w.Id()] = w.role;
  EXPECT_THAT(roles,
              UnorderedElementsAre(std::pair("Deployment/istio-system/istiod", WorkloadRole::kIstiod),
                                   std::pair("Deployment/istio-system/istio-eastwestgateway", WorkloadRole::kGateway),
                                   std::pair("Deployment/bookinfo/productpage-v1", WorkloadRole::kWorkload),
                                   std::pair("Deployment/bookinfo/reviews-v1", WorkloadRole::kWorkload),
                                   std::pair("Deployment/bookinfo/ratings-v1", WorkloadRole::kWorkload),
                                   std::pair("StatefulSet/shop/db", WorkloadRole::kWorkload),
                                   std::pair("DaemonSet/shop/node-agent", WorkloadRole::kWorkload),
                                   std::pair("Deployment/default/injected", WorkloadRole::kWorkload)));

  // A mesh of another revision owns none of them.
  api::v1::Mesh canary = mesh_;
  canary.mutable_spec()->set_revision("canary");
  auto none = Run(restarter_->Gather(canary));
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

}  // namespace
}  // namespace vmesh::agent
