// The agent's hub link against an in-test hub (real link server, real registration): bootstrap, sessions, the
// sync protocol through a fake AgentCore, persistence of held versions, identity renewal.
#include "agent/runtime/hub_link.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <mutex>
#include <set>

#include "agent/runtime/test_hub.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/sync/sync.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
using link::test::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Records what the link asks of it; resources whose name contains "bad" are rejected.
class FakeCore final : public AgentCore {
 public:
  asio::awaitable<Status> ApplyResource(const link::v1::Resource& resource) override {
    std::lock_guard lock(mu_);
    applied_.push_back(resource.name());
    if (resource.name().find("bad") != std::string::npos) co_return MakeError("admission webhook denied the object");
    co_return OkStatus();
  }
  asio::awaitable<Status> RemoveResource(const std::string& name) override {
    std::lock_guard lock(mu_);
    removed_.push_back(name);
    co_return OkStatus();
  }
  // Prunes (pretends to) when the desired set names an output.
  asio::awaitable<Result<bool>> PruneOutputs(const std::set<std::string>& desired) override {
    std::lock_guard lock(mu_);
    prunes_.push_back(desired);
    co_return std::any_of(desired.begin(), desired.end(), [](const auto& n) { return n.rfind("kube/", 0) == 0; });
  }
  asio::awaitable<void> OnIssuedCertificate(const link::v1::IssuedCertificate& issued) override { co_return; }
  void OnSessionStarted(std::chrono::seconds) override { ++started_; }
  void OnSessionEnded() override { ++ended_; }
  bool ClusterSynced() const override { return true; }
  link::v1::StatusReport MakeStatusReport() override {
    link::v1::StatusReport report;
    report.add_meshes()->set_mesh("istiod-istio-system-c1");
    return report;
  }

  std::vector<std::string> applied() const {
    std::lock_guard lock(mu_);
    return applied_;
  }
  std::vector<std::string> removed() const {
    std::lock_guard lock(mu_);
    return removed_;
  }
  std::vector<std::set<std::string>> prunes() const {
    std::lock_guard lock(mu_);
    return prunes_;
  }
  std::atomic<int> started_{0};
  std::atomic<int> ended_{0};

 private:
  mutable std::mutex mu_;
  std::vector<std::string> applied_;
  std::vector<std::string> removed_;
  std::vector<std::set<std::string>> prunes_;
};

link::v1::Resource Kube(const std::string& name, const std::string& json) {
  link::v1::Resource r;
  r.set_name(name);
  r.mutable_kube_object()->set_json(json);
  r.set_version(sync::ContentVersion(r));
  return r;
}

class HubLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-hublink-XXXXXX";
    dir_ = mkdtemp(tmpl);
    identity_ = hub_.BootstrapAgent("c1");
    identities_ = MakeFileIdentityStore(dir_ + "/identity.json");
    sync_state_ = MakeMemorySyncStateStore();
  }
  void TearDown() override {
    StopLink();
    std::filesystem::remove_all(dir_);
  }

  void StartLink() { StartLinkWith(HubLinkOptions{}); }
  void StartLinkWith(HubLinkOptions options) {
    options.backoff = {std::chrono::milliseconds(50), std::chrono::milliseconds(200), std::chrono::seconds(60)};
    options.metrics = &metrics_;
    DeclareHubLinkMetrics(metrics_);
    loop_ = std::make_unique<link::EventLoop>(1);
    link_ = std::make_unique<HubLink>(loop_->context(), identity_, *identities_, *sync_state_, options);
    Status s = link_->Start(core_);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void StopLink() {
    if (link_) link_->Stop();
    if (loop_) loop_->Stop();
    link_.reset();
    loop_.reset();
  }

  test::TestHub hub_;
  std::string dir_;
  AgentIdentity identity_;
  IdentityStorePtr identities_;
  SyncStateStorePtr sync_state_;
  metrics::Registry metrics_;
  FakeCore core_;
  std::unique_ptr<link::EventLoop> loop_;
  std::unique_ptr<HubLink> link_;
};

TEST_F(HubLinkTest, HelloWelcomeThenStatusReports) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  EXPECT_TRUE(link_->synced());
  EXPECT_EQ(core_.started_, 1);
  auto hellos = hub_.Hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].cluster_name(), "c1");
  EXPECT_TRUE(hellos[0].resource_versions().empty());
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& e : hub_.Received()) {
      if (e.has_status_report() && e.status_report().meshes_size() == 1) return true;
    }
    return false;
  }));
  // The core can send through the link while the session is up.
  link::v1::Envelope report;
  report.mutable_discovery_report()->set_full_state(true);
  EXPECT_TRUE(link_->Sender()(report).ok());
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& e : hub_.Received()) {
      if (e.has_discovery_report()) return true;
    }
    return false;
  }));
}

TEST_F(HubLinkTest, UpdateIsAppliedInOrderAndAckedAFailingResourceIsNackedWithItsMessage) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  link::v1::ResourceUpdate update;
  update.set_nonce("1");
  update.set_system_version("v1");
  *update.add_upserts() = Kube("kube/a", "{}");
  *update.add_upserts() = Kube("kube/bad", "{}");
  *update.add_upserts() = Kube("kube/c", "{}");
  ASSERT_TRUE(hub_.Push(update));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 1; }));
  auto ack = hub_.Acks()[0];
  EXPECT_EQ(ack.nonce(), "1");
  EXPECT_FALSE(ack.accepted());
  ASSERT_EQ(ack.errors_size(), 1);
  EXPECT_EQ(ack.errors(0).name(), "kube/bad");
  EXPECT_THAT(ack.errors(0).message(), HasSubstr("admission webhook denied"));
  EXPECT_THAT(core_.applied(), ElementsAre("kube/a", "kube/bad", "kube/c"));
  EXPECT_EQ(metrics_.Value("vmesh_agent_nacks_total"), 1);

  link::v1::ResourceUpdate second;
  second.set_nonce("2");
  second.set_system_version("v2");
  second.add_removals("kube/a");
  ASSERT_TRUE(hub_.Push(second));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 2; }));
  EXPECT_TRUE(hub_.Acks()[1].accepted());
  EXPECT_THAT(core_.removed(), ElementsAre("kube/a"));
  EXPECT_EQ(metrics_.Value("vmesh_agent_acks_total"), 1);
}

TEST_F(HubLinkTest, PrunesOnceAfterAnUpdateCompletedTheDesiredSetAndNeverBefore) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  auto push = [&](const std::string& nonce, std::vector<std::string> upserts, std::vector<std::string> removals) {
    link::v1::ResourceUpdate update;
    update.set_nonce(nonce);
    update.set_system_version("v" + nonce);
    for (const auto& name : upserts) *update.add_upserts() = Kube(name, "{}");
    for (const auto& name : removals) update.add_removals(name);
    ASSERT_TRUE(hub_.Push(update));
    ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == static_cast<size_t>(std::stoi(nonce)); }));
  };
  // Welcomed, but no update yet: the agent does not know what the hub wants.
  push("1", {"cert/m1"}, {});
  ASSERT_TRUE(WaitFor([&] { return core_.prunes().size() == 1; }));
  EXPECT_THAT(core_.prunes()[0], UnorderedElementsAre("cert/m1")) << "no output desired: the core declines";
  // The first update naming outputs: the desired set is what the agent holds plus what it refused.
  push("2", {"kube/a", "kube/bad", "kube/c"}, {});
  ASSERT_TRUE(WaitFor([&] { return core_.prunes().size() == 2; }));
  EXPECT_THAT(core_.prunes()[1], UnorderedElementsAre("cert/m1", "kube/a", "kube/bad", "kube/c"));
  // Done for this process: later updates (processed one after the other) prune no more.
  push("3", {}, {"kube/a"});
  push("4", {"kube/d"}, {});
  EXPECT_EQ(core_.prunes().size(), 2u);
}

TEST_F(HubLinkTest, RestartedAgentSaysWhatItHoldsAndDoesNotReapply) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  link::v1::ResourceUpdate update;
  update.set_nonce("1");
  update.set_system_version("v1");
  const auto a = Kube("kube/a", R"({"x":1})");
  *update.add_upserts() = a;
  ASSERT_TRUE(hub_.Push(update));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 1; }));
  StopLink();

  StartLink();  // a new agent process with the same persisted state
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  auto hellos = hub_.Hellos();
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_THAT(hellos[1].resource_versions(), UnorderedElementsAre(Pair("kube/a", a.version())));
  EXPECT_EQ(hellos[1].system_version(), "v1");
  // Offered the same version again, the agent does not re-apply it.
  update.set_nonce("2");
  ASSERT_TRUE(hub_.Push(update));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 2; }));
  EXPECT_TRUE(hub_.Acks()[1].accepted());
  EXPECT_THAT(core_.applied(), ElementsAre("kube/a"));
}

TEST_F(HubLinkTest, ReconnectsAfterTheHubClosesAndResumes) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  hub_.CloseSession(link::CloseCode::kPolicyViolation, "cluster deregistered");
  ASSERT_TRUE(WaitFor([&] { return link_->sessions() == 2 && link_->connected(); }));
  EXPECT_EQ(core_.ended_, 1);
  EXPECT_EQ(core_.started_, 2);
  EXPECT_EQ(hub_.Hellos().size(), 2u);
}

TEST_F(HubLinkTest, RenewalSwapsTheCertificateWithoutDroppingTheSession) {
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  const std::string old_cert = link_->identity().certificate_pem;
  link_->RenewIdentityNow();
  ASSERT_TRUE(WaitFor([&] { return link_->identity().certificate_pem != old_cert; }));
  AgentIdentity renewed = link_->identity();
  EXPECT_TRUE(CheckKeyMatches(renewed.key_pem, renewed.certificate_pem).ok());
  EXPECT_NE(renewed.key_pem, identity_.key_pem) << "a renewal uses a new key";
  // Stored before use.
  asio::io_context io;
  std::optional<Result<std::optional<AgentIdentity>>> stored;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { stored.emplace(co_await identities_->Load()); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  ASSERT_TRUE(stored->ok()) << stored->error().message;
  ASSERT_TRUE(stored->value().has_value());
  EXPECT_EQ(stored->value()->certificate_pem, renewed.certificate_pem);
  // The session was not dropped.
  EXPECT_EQ(link_->sessions(), 1);
  EXPECT_EQ(hub_.SessionSerials().size(), 1u);
  EXPECT_EQ(hub_.open_sessions(), 1u);
  // The next connection presents the new certificate.
  hub_.CloseSession();
  ASSERT_TRUE(WaitFor([&] { return link_->sessions() == 2 && link_->connected(); }));
  auto serials = hub_.SessionSerials();
  ASSERT_EQ(serials.size(), 2u);
  EXPECT_EQ(serials[1], pki::Certificate::FromPem(renewed.certificate_pem)->serial_hex());
  EXPECT_NE(serials[0], serials[1]);
}

TEST_F(HubLinkTest, RenewsOnItsOwnAtTwoThirdsOfTheLifetime) {
  HubLinkOptions options;
  options.renewal_check_interval = std::chrono::milliseconds(20);
  const auto renew_at = *RenewalTime(identity_.certificate_pem);
  std::atomic<bool> late{false};
  options.clock = [&] { return late ? renew_at + std::chrono::seconds(1) : renew_at - std::chrono::seconds(1); };
  StartLinkWith(options);
  ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  const std::string old_cert = link_->identity().certificate_pem;
  late = true;
  ASSERT_TRUE(WaitFor([&] { return link_->identity().certificate_pem != old_cert; }));
  EXPECT_EQ(link_->sessions(), 1);
  // The counter follows the certificate swap (which this test saw first).
  EXPECT_TRUE(WaitFor([&] { return metrics_.Value("vmesh_agent_identity_renewals_total", {{"outcome", "ok"}}) >= 1; }));
  StopLink();  // before the clock's captures go away
}

}  // namespace
}  // namespace vmesh::agent
