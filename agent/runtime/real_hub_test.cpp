// The agent runtime (HubLink + MakeAgentCore) against the real hub core (hub/session) over the link server and a
// kubesim cluster seeded with Istio: bootstrap through the hub's route, a VirtualMesh over the cluster's mesh
// ends with a vmesh-issued `cacerts` in istio-system; deregistration closes the session with 1008.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>

#include "agent/runtime/agent_core_impl.h"
#include "agent/runtime/hub_link.h"
#include "common/api/manifest.h"
#include "common/base/base64.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/kube/client.h"
#include "common/kube/config.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/link/server.h"
#include "e2e/kubesim/test_cluster.h"
#include "hub/init/hub_init.h"
#include "hub/server/routes.h"
#include "hub/session/hub_core.h"

namespace vmesh::agent {
namespace {

using link::test::WaitFor;
using ::testing::HasSubstr;

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}]
  mtlsConfig:
    autoRestartPods: false
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
)";

class RealHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The hub.
    char tmpl[] = "/tmp/vmesh-realhub-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto clock = [] { return std::chrono::system_clock::now(); };
    ASSERT_TRUE(hub::InitHub({.data_dir = dir_, .hub_name = "hub1"}, clock()).ok());
    store_ = std::move(*hub::OpenSqliteStore(hub::StorePath(dir_)));
    auto link_ca = hub::LoadLinkCa(*store_);
    ASSERT_TRUE(link_ca.ok());
    objects_ = std::make_unique<hub::ObjectService>(*store_, "vmesh", clock);
    ca_ = std::make_unique<hub::CaService>(*store_, std::nullopt, clock);
    auto tls = link::TlsContext::Server({*ReadFile(hub::ServerCertificatePath(dir_)),
                                         *ReadFile(hub::ServerKeyPath(dir_)), link_ca->certificate().ToPem()});
    ASSERT_TRUE(tls.ok());
    // The core (which decides identities) needs the registration, which needs the server's URL: the check is
    // forwarded to it once it exists.
    link::ServerOptions server_options{.tls = *tls};
    server_options.identity_check = [this](const link::PeerIdentity& peer) { return identity_check_(peer); };
    server_ = std::make_unique<link::Server>(hub_loop_.context(), server_options);
    ASSERT_TRUE(server_->Start().ok());
    const std::string url = "wss://127.0.0.1:" + std::to_string(server_->port());
    registration_ = std::make_unique<hub::RegistrationService>(
        *store_, *link_ca, hub::RegistrationOptions{.hub_name = "hub1", .agent_url = url}, clock);
    hub::HubCoreOptions options;
    options.hub_name = "hub1";
    options.status_interval = std::chrono::seconds(1);
    options.reconcile_delay = std::chrono::milliseconds(5);
    hub_core_ = hub::MakeHubCore(
        hub::HubCoreDeps{hub_loop_.context(), *store_, *registration_, *objects_, *ca_, hub_metrics_, clock}, options);
    ASSERT_TRUE(hub_core_->Start().ok());
    identity_check_ = hub_core_->IdentityCheck();
    routes_ = std::make_unique<hub::HubRoutes>(hub::HubRoutes{*registration_, *store_, "hub1", "vmesh", {}});
    server_->Handle("/v1/bootstrap",
                    link::HttpRoute{link::ClientCertPolicy::kOptional,
                                    [this](const link::HttpRequest& r) { return routes_->Bootstrap(r); }});
    server_->Handle("/v1/connect", hub_core_->ConnectRoute());

    // The cluster.
    const std::string seeds = testpaths::SourceDir() + "/e2e/kubesim/seeds/";
    Status s = cluster_.Start(KUBESIM_BINARY, "c1",
                              {"--cluster-index", "1", "--pod-ready-delay-ms", "50", "--crds",
                               testpaths::IstioCrdsFile(), "--seed", seeds + "istio.yaml"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = kube::LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok());
    client_ = std::move(*kube::MakeKubeClient(*config));

    // The agent: bootstrap, then link + core on its own loop.
    auto bundle = registration_->Register("c1", std::chrono::hours(1));
    ASSERT_TRUE(bundle.ok());
    auto id = Bootstrap(*bundle, "test");
    ASSERT_TRUE(id.ok()) << id.error().message;
    identities_ = MakeFileIdentityStore(dir_ + "/agent-identity.json");
    sync_state_ = MakeMemorySyncStateStore();
    HubLinkOptions link_options;
    link_options.backoff = {std::chrono::milliseconds(50), std::chrono::milliseconds(300), std::chrono::seconds(60)};
    link_ = std::make_unique<HubLink>(agent_loop_.context(), *id, *identities_, *sync_state_, link_options);
    core_ = MakeAgentCore(agent_loop_.context(), *client_,
                          AgentCoreOptions{.cluster = "c1", .tick_interval = std::chrono::milliseconds(200)},
                          link_->Sender());
    RunOnAgentLoop([&] { core_->Start(); });
    ASSERT_TRUE(link_->Start(*core_).ok());
  }

  void TearDown() override {
    if (link_) link_->Stop();
    if (core_) RunOnAgentLoop([&] { core_->Stop(); });
    agent_loop_.Stop();
    if (server_) server_->Stop();
    if (hub_core_) hub_core_->Stop();
    hub_loop_.Stop();
    std::filesystem::remove_all(dir_);
  }

  void RunOnAgentLoop(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(agent_loop_.context(), [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  bool MeshDiscovered() {
    for (const auto& m : hub_core_->Meshes()) {
      if (m.metadata().name() == "istiod-istio-system-c1") return true;
    }
    return false;
  }

  std::string dir_;
  link::EventLoop hub_loop_{1};
  hub::StorePtr store_;
  std::unique_ptr<hub::RegistrationService> registration_;
  std::unique_ptr<hub::ObjectService> objects_;
  std::unique_ptr<hub::CaService> ca_;
  metrics::Registry hub_metrics_;
  hub::HubCorePtr hub_core_;
  std::unique_ptr<hub::HubRoutes> routes_;
  std::unique_ptr<link::Server> server_;
  link::IdentityCheck identity_check_;

  kubesim::TestCluster cluster_;
  kube::KubeClientPtr client_;
  link::EventLoop agent_loop_{1};
  IdentityStorePtr identities_;
  SyncStateStorePtr sync_state_;
  std::unique_ptr<HubLink> link_;
  AgentCorePtr core_;
};

TEST_F(RealHubTest, VirtualMeshEndsWithAVmeshIssuedCacertsInTheCluster) {
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return MeshDiscovered(); }, std::chrono::seconds(20))) << "the full report reached the hub";
  auto applied = objects_->Apply(kVm);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  hub_core_->TriggerReconcile();

  // cacerts written by the agent from the hub-issued intermediate.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto out = cluster_.Kubectl({"get", "secret", "-n", "istio-system", "cacerts", "-o", "name"});
        return out.exit_code == 0;
      },
      std::chrono::seconds(30)));
  auto issuer =
      cluster_.Kubectl({"get", "secret", "-n", "istio-system", "cacerts", "-o", "jsonpath={.data.ca-cert\\.pem}"});
  ASSERT_EQ(issuer.exit_code, 0);
  auto pem = Base64Decode(issuer.output);
  ASSERT_TRUE(pem.has_value());
  auto cert = pki::Certificate::FromPem(*pem);
  ASSERT_TRUE(cert.ok());
  EXPECT_THAT(cert->subject(), HasSubstr("vmesh intermediate c1/istiod-istio-system-c1"));
  // The hub holds the agent in sync (everything ACKed).
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const auto& s : hub_core_->Sessions()) {
          if (s.cluster == "c1" && s.connected && s.in_sync) return true;
        }
        return false;
      },
      std::chrono::seconds(10)));
}

TEST_F(RealHubTest, DeregistrationClosesTheSessionWith1008AndTheLinkStaysUsable) {
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(registration_->Deregister("c1").ok());
  hub_core_->OnDeregistered("c1");
  ASSERT_TRUE(WaitFor([&] { return !link_->connected(); }, std::chrono::seconds(10)));
  EXPECT_EQ(link_->sessions(), 1);
  EXPECT_TRUE(link_->synced()) << "what was applied stays; readiness is about the first sync";
}

}  // namespace
}  // namespace vmesh::agent
