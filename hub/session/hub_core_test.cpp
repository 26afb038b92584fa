// The hub's live core over the real link server: agents are link clients with identities from Register +
// Bootstrap, the store is SQLite in a temp dir.
#include "hub/session/hub_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/pki/csr.h"
#include "common/pki/verify.h"
#include "common/sync/sync.h"
#include "hub/init/hub_init.h"

namespace vmesh::hub {
namespace {

using link::v1::Envelope;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kWait{10};

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig:
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)";

std::string MeshName(const std::string& cluster) { return "istiod-istio-system-" + cluster; }

api::v1::Mesh MeshOf(const std::string& cluster) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name(MeshName(cluster));
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_trust_domain("cluster.local");
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->mutable_service()->set_name("istio-eastwestgateway");
  gw->mutable_service()->set_namespace_("istio-system");
  gw->set_external_tls_port(15443);
  gw->add_external_addresses("172.18.0.1");
  (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
  return m;
}

api::v1::Destination ReviewsOf(const std::string& cluster) {
  api::v1::Destination d;
  d.mutable_metadata()->set_name("reviews-bookinfo-" + cluster);
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* s = d.mutable_spec();
  s->set_cluster(cluster);
  s->mutable_mesh()->set_name(MeshName(cluster));
  s->mutable_mesh()->set_namespace_("vmesh");
  s->set_name("reviews");
  s->set_namespace_("bookinfo");
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_port(9080);
  p->set_protocol("TCP");
  p->set_target_port("9080");
  auto* e = s->add_endpoints();
  e->set_ip("10.2.0.5");
  e->set_ready(true);
  return d;
}

// An agent as the hub sees it: a link client speaking Envelopes, recording everything it receives.
class TestAgent {
 public:
  TestAgent(boost::asio::io_context& io, std::string url, link::TlsContextPtr tls, std::string cluster)
      : io_(io), url_(std::move(url)), tls_(std::move(tls)), cluster_(std::move(cluster)) {}

  Status Connect() {
    std::promise<Result<link::ConnectionPtr>> done;
    auto future = done.get_future();
    link::ConnectionHandlers handlers;
    // The handlers share the inbox, not the agent: the connection may end after the agent is gone.
    handlers.on_message = [in = in_](const link::ConnectionPtr&, std::string message) {
      Envelope e;
      std::lock_guard lock(in->mu);
      if (e.ParseFromString(message)) in->received.push_back(std::move(e));
    };
    handlers.on_closed = [in = in_](const link::ConnectionPtr&, const link::CloseInfo& info) {
      std::lock_guard lock(in->mu);
      in->closed = info;
    };
    link::Dial(io_, {url_, tls_, {}}, std::move(handlers),
               [&done](Result<link::ConnectionPtr> r) { done.set_value(std::move(r)); });
    auto r = future.get();
    if (!r.ok()) return r.error();
    connection_ = *r;
    return OkStatus();
  }

  std::uint64_t Send(Envelope e) {
    e.set_id(++next_id_);
    EXPECT_TRUE(connection_->Send(e.SerializeAsString()).ok());
    return e.id();
  }
  void SendRaw(std::string bytes) { EXPECT_TRUE(connection_->Send(std::move(bytes)).ok()); }
  void Close() { connection_->Close(link::CloseCode::kNormal, "test done"); }

  void Hello(const sync::ResourceReceiver& receiver) {
    Envelope e;
    *e.mutable_hello() = receiver.MakeHello(cluster_, "test-agent");
    Send(e);
  }
  void Discover(std::vector<api::v1::Mesh> meshes, std::vector<api::v1::Destination> destinations = {},
                std::vector<api::v1::Workload> workloads = {}) {
    Envelope e;
    auto* r = e.mutable_discovery_report();
    r->set_full_state(true);
    for (auto& m : meshes) *r->add_meshes() = std::move(m);
    for (auto& d : destinations) *r->add_destinations() = std::move(d);
    for (auto& w : workloads) *r->add_workloads() = std::move(w);
    Send(e);
  }

  // Waits for the first envelope received after `from` that satisfies `match`; its index, or -1.
  int WaitFor(const std::function<bool(const Envelope&)>& match, std::size_t from = 0) {
    int found = -1;
    link::test::WaitFor(
        [&] {
          std::lock_guard lock(in_->mu);
          for (std::size_t i = from; i < in_->received.size(); ++i) {
            if (match(in_->received[i])) {
              found = static_cast<int>(i);
              return true;
            }
          }
          return false;
        },
        kWait);
    return found;
  }
  Envelope At(int i) {
    std::lock_guard lock(in_->mu);
    return in_->received.at(static_cast<std::size_t>(i));
  }
  std::size_t count() {
    std::lock_guard lock(in_->mu);
    return in_->received.size();
  }

  // A barrier: an Envelope with no message, which the hub answers with a ProtocolNack after everything it had
  // queued for this agent before. Returns what arrived from `from` up to (not including) that answer.
  std::vector<Envelope> Probe(std::size_t from) {
    const std::uint64_t id = Send(Envelope());
    const int at = WaitFor(
        [id](const Envelope& e) { return e.has_protocol_nack() && e.protocol_nack().envelope_id() == id; }, from);
    EXPECT_GE(at, 0) << "no answer to the probe";
    std::lock_guard lock(in_->mu);
    if (at < 0) return {};
    return {in_->received.begin() + static_cast<std::ptrdiff_t>(from), in_->received.begin() + at};
  }

  // Applies and ACKs every update until `done(receiver)` holds (or the wait times out).
  bool SyncUntil(sync::ResourceReceiver& receiver, const std::function<bool(const sync::ResourceReceiver&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done(receiver)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      const int at = WaitFor([](const Envelope& e) { return e.has_resource_update(); }, cursor_);
      if (at < 0) return false;
      cursor_ = static_cast<std::size_t>(at) + 1;
      Envelope ack;
      *ack.mutable_ack() = receiver.Apply(
          At(at).resource_update(), [](const link::v1::Resource&) { return OkStatus(); },
          [](const std::string&) { return OkStatus(); });
      Send(ack);
    }
    return true;
  }

  std::optional<link::CloseInfo> WaitClosed() {
    link::test::WaitFor(
        [&] {
          std::lock_guard lock(in_->mu);
          return in_->closed.has_value();
        },
        kWait);
    std::lock_guard lock(in_->mu);
    return in_->closed;
  }

  std::size_t cursor_ = 0;  // first update SyncUntil has not handled

 private:
  boost::asio::io_context& io_;
  std::string url_;
  link::TlsContextPtr tls_;
  std::string cluster_;
  link::ConnectionPtr connection_;
  std::uint64_t next_id_ = 0;
  struct Inbox {
    std::mutex mu;
    std::vector<Envelope> received;
    std::optional<link::CloseInfo> closed;
  };
  std::shared_ptr<Inbox> in_ = std::make_shared<Inbox>();
};

bool Holds(const sync::ResourceReceiver& r, const std::string& name) { return r.held().count(name) > 0; }

class HubCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { StartHub({}); }

  void StartHub(HubCoreOptions options) {
    char tmpl[] = "/tmp/vmesh-hubcore-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(InitHub({.data_dir = dir_, .hub_name = "hub1"}, std::chrono::system_clock::now()).ok());
    store_ = std::move(*OpenSqliteStore(StorePath(dir_)));
    auto link_ca = LoadLinkCa(*store_);
    ASSERT_TRUE(link_ca.ok());
    link_ca_pem_ = link_ca->certificate().ToPem();
    auto clock = [] { return std::chrono::system_clock::now(); };
    registration_ =
        std::make_unique<RegistrationService>(*store_, *link_ca, RegistrationOptions{.hub_name = "hub1"}, clock);
    objects_ = std::make_unique<ObjectService>(*store_, "vmesh", clock);
    ca_ = std::make_unique<CaService>(*store_, std::nullopt, clock);
    options.hub_name = "hub1";
    options.reconcile_delay = std::chrono::milliseconds(5);
    options_ = options;
    StartCoreAndServer();
  }

  // The live half of the hub (core and agent listener) over the existing store.
  void StartCoreAndServer() {
    auto clock = [] { return std::chrono::system_clock::now(); };
    core_ =
        MakeHubCore(HubCoreDeps{loop_.context(), *store_, *registration_, *objects_, *ca_, metrics_, clock}, options_);
    ASSERT_TRUE(core_->Start().ok());
    EXPECT_TRUE(core_->Ready());
    auto tls = link::TlsContext::Server(
        {*ReadFile(ServerCertificatePath(dir_)), *ReadFile(ServerKeyPath(dir_)), link_ca_pem_});
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    server_ = std::make_unique<link::Server>(
        loop_.context(), link::ServerOptions{.tls = *tls, .identity_check = core_->IdentityCheck()});
    server_->Handle("/v1/connect", core_->ConnectRoute());
    ASSERT_TRUE(server_->Start().ok());
    url_ = "wss://127.0.0.1:" + std::to_string(server_->port()) + "/v1/connect";
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (core_) core_->Stop();
    loop_.Stop();
    std::filesystem::remove_all(dir_);
  }

  // Register + Bootstrap: the client TLS context of a fresh agent identity.
  link::TlsContextPtr Identity(const std::string& cluster) {
    auto bundle = registration_->Register(cluster, std::chrono::hours(1));
    EXPECT_TRUE(bundle.ok());
    auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    link::v1::BootstrapRequest request;
    request.set_cluster_name(cluster);
    request.set_token(bundle->token());
    request.set_csr_pem(pki::Csr::Create(key, {})->ToPem());
    auto response = registration_->Bootstrap(request);
    EXPECT_TRUE(response.ok()) << response.error().message;
    return *link::TlsContext::Client({link_ca_pem_, response->certificate_pem(), key.ToPem()});
  }

  std::unique_ptr<TestAgent> Agent(const std::string& cluster, link::TlsContextPtr tls = nullptr) {
    if (!tls) tls = Identity(cluster);
    auto agent = std::make_unique<TestAgent>(loop_.context(), url_, tls, cluster);
    Status s = agent->Connect();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return agent;
  }

  // Connected, greeted and discovered.
  std::unique_ptr<TestAgent> Joined(const std::string& cluster, sync::ResourceReceiver& receiver,
                                    std::vector<api::v1::Destination> destinations = {}) {
    auto agent = Agent(cluster);
    agent->Hello(receiver);
    EXPECT_GE(agent->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
    agent->Discover({MeshOf(cluster)}, std::move(destinations));
    return agent;
  }

  api::v1::VirtualMesh Vm() { return **objects_->GetVirtualMesh("vmesh", "vm1"); }

  bool WaitReconcileAfter(double count) {
    return link::test::WaitFor([&] { return metrics_.Value("vmesh_hub_reconcile_seconds") > count; }, kWait);
  }

  std::optional<SessionInfo> Session(const std::string& cluster) {
    for (auto& s : core_->Sessions()) {
      if (s.cluster == cluster) return s;
    }
    return std::nullopt;
  }

  void RestartWith(HubCoreOptions options) {
    options.hub_name = options_.hub_name;
    options.reconcile_delay = options_.reconcile_delay;
    options_ = options;
    RestartHub();
  }

  void RestartHub() {
    server_->Stop();
    core_->Stop();
    server_.reset();
    core_.reset();
    StartCoreAndServer();
  }

  link::EventLoop loop_{2};
  HubCoreOptions options_;
  std::string dir_;
  StorePtr store_;
  std::string link_ca_pem_;
  std::unique_ptr<RegistrationService> registration_;
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<CaService> ca_;
  metrics::Registry metrics_;
  HubCorePtr core_;
  std::unique_ptr<link::Server> server_;
  std::string url_;
};

TEST_F(HubCoreTest, HelloGetsWelcomeAndTheDesiredResourcesThenAcksAndReconnectsResendNothing) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  core_->TriggerReconcile();
  sync::ResourceReceiver r1;
  auto tls = Identity("c1");
  auto a1 = Agent("c1", tls);
  a1->Hello(r1);
  const int welcome = a1->WaitFor([](const Envelope& e) { return e.has_welcome(); });
  ASSERT_GE(welcome, 0);
  EXPECT_EQ(welcome, 0) << "Welcome comes first";
  EXPECT_EQ(a1->At(welcome).welcome().hub_name(), "hub1");
  EXPECT_EQ(a1->At(welcome).welcome().status_interval_seconds(), 10u);
  a1->Discover({MeshOf("c1")});

  ASSERT_TRUE(a1->SyncUntil(r1, [](const auto& r) { return Holds(r, "cert/istiod-istio-system-c1"); }));
  ASSERT_TRUE(link::test::WaitFor([&] { return Session("c1") && Session("c1")->in_sync; }, kWait));
  EXPECT_TRUE(Session("c1")->connected);
  EXPECT_GE(Session("c1")->resources_held, 1u);
  EXPECT_EQ(metrics_.Value("vmesh_hub_connected_agents"), 1);
  EXPECT_GE(metrics_.Value("vmesh_hub_acks_total", {{"result", "ack"}}), 1);
  EXPECT_EQ(metrics_.Value("vmesh_hub_messages_total", {{"direction", "in"}, {"type", "hello"}}), 1);

  // ACKed: another reconcile with nothing changed sends nothing.
  const double before = metrics_.Value("vmesh_hub_reconcile_seconds");
  core_->TriggerReconcile();
  ASSERT_TRUE(WaitReconcileAfter(before));
  for (const auto& e : a1->Probe(a1->cursor_)) EXPECT_FALSE(e.has_resource_update()) << e.DebugString();

  // Reconnect with the versions held: nothing is resent.
  a1->Close();
  ASSERT_TRUE(a1->WaitClosed().has_value());
  ASSERT_TRUE(link::test::WaitFor([&] { return !Session("c1")->connected; }, kWait));
  EXPECT_EQ(metrics_.Value("vmesh_hub_connected_agents"), 0);
  auto again = Agent("c1", tls);
  const double before_hello = metrics_.Value("vmesh_hub_reconcile_seconds");
  again->Hello(r1);
  ASSERT_GE(again->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  ASSERT_TRUE(WaitReconcileAfter(before_hello)) << "a Hello triggers a reconcile";
  auto after = again->Probe(0);
  ASSERT_FALSE(after.empty());
  for (const auto& e : after) EXPECT_FALSE(e.has_resource_update()) << e.DebugString();
  EXPECT_TRUE(Session("c1")->in_sync);
}

TEST_F(HubCoreTest, AfterAHubRestartAgentsKeepWhatTheyHold) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1, r2;
  auto tls1 = Identity("c1"), tls2 = Identity("c2");
  auto a1 = Agent("c1", tls1);
  a1->Hello(r1);
  a1->Discover({MeshOf("c1")});
  auto a2 = Agent("c2", tls2);
  a2->Hello(r2);
  a2->Discover({MeshOf("c2")});
  ASSERT_TRUE(a1->SyncUntil(r1, [](const auto& r) { return Holds(r, "cert/istiod-istio-system-c1"); }));
  ASSERT_TRUE(link::test::WaitFor([&] { return Session("c1") && Session("c1")->in_sync; }, kWait));
  const auto held = r1.held();

  RestartHub();  // the new hub knows nothing of what agents discovered
  ASSERT_TRUE(a1->WaitClosed().has_value());
  auto b2 = Agent("c2", tls2);
  b2->Hello(r2);
  b2->Discover({MeshOf("c2")});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  auto b1 = Agent("c1", tls1);
  double before = metrics_.Value("vmesh_hub_reconcile_seconds");
  b1->Hello(r1);
  ASSERT_GE(b1->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  ASSERT_TRUE(WaitReconcileAfter(before));
  for (const auto& e : b1->Probe(0))
    EXPECT_FALSE(e.has_resource_update()) << "before its discovery: " << e.DebugString();

  before = metrics_.Value("vmesh_hub_reconcile_seconds");
  const std::size_t from = b1->count();
  b1->Discover({MeshOf("c1")});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 2; }, kWait));
  ASSERT_TRUE(WaitReconcileAfter(before));
  for (const auto& e : b1->Probe(from)) EXPECT_FALSE(e.has_resource_update()) << "after: " << e.DebugString();
  EXPECT_TRUE(Session("c1")->in_sync);
  EXPECT_EQ(r1.held(), held);
}

// Holds back one reconcile between computing its result and giving it to the sessions (HubCoreOptions::before_apply).
class ReconcileLatch {
 public:
  // The hook; the core shares the latch, which may outlive the test body.
  static std::function<void()> Hook(const std::shared_ptr<ReconcileLatch>& latch) {
    return [latch] {
      std::unique_lock lock(latch->mu_);
      if (!latch->armed_) return;
      latch->armed_ = false;
      latch->held_ = true;
      latch->changed_.notify_all();
      latch->changed_.wait(lock, [&] { return !latch->held_; });
    };
  }
  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  // Waits until a reconcile is held; false after `timeout`.
  bool WaitHeld(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [this] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    armed_ = false;
    held_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool armed_ = false;
  bool held_ = false;
};

// After a hub restart, a reconcile that read the agents' facts before c1's discovery arrived gives its result to
// the sessions after that discovery opened the restart gate. That result has nothing for c1 (its mesh was not
// known yet) and none of c1's outputs for c2: neither may be sent it, or both agents are sent removals and then
// everything again. Every agent holds what the new hub wants; nothing is sent.
TEST_F(HubCoreTest, AResultComputedBeforeAClustersDiscoveryArrivedIsSentToNoOneAfterARestart) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1, r2;
  auto tls1 = Identity("c1"), tls2 = Identity("c2");
  auto a1 = Agent("c1", tls1), a2 = Agent("c2", tls2);
  a1->Hello(r1);
  a2->Hello(r2);
  a1->Discover({MeshOf("c1")}, {ReviewsOf("c1")});
  a2->Discover({MeshOf("c2")}, {ReviewsOf("c2")});
  // Both agents apply and ACK whatever comes until each holds its certificate directive and outputs, in sync.
  auto ack_new = [](TestAgent& a, sync::ResourceReceiver& r) {
    for (; a.cursor_ < a.count(); ++a.cursor_) {
      Envelope e = a.At(static_cast<int>(a.cursor_));
      if (!e.has_resource_update()) continue;
      Envelope ack;
      *ack.mutable_ack() = r.Apply(
          e.resource_update(), [](const link::v1::Resource&) { return OkStatus(); },
          [](const std::string&) { return OkStatus(); });
      a.Send(ack);
    }
  };
  auto synced = [&](const std::string& cluster, const sync::ResourceReceiver& r) {
    auto s = Session(cluster);
    return s && s->in_sync && Holds(r, "cert/" + MeshName(cluster)) && r.held().size() > 1 &&
           s->resources_held == r.held().size();
  };
  ASSERT_TRUE(link::test::WaitFor(
      [&] {
        ack_new(*a1, r1);
        ack_new(*a2, r2);
        return synced("c1", r1) && synced("c2", r2);
      },
      kWait));
  const auto held1 = r1.held(), held2 = r2.held();
  ASSERT_TRUE(std::any_of(held2.begin(), held2.end(), [](const auto& h) { return h.first.rfind("kube/", 0) == 0; }))
      << "c2 holds outputs for c1's destination";

  auto latch = std::make_shared<ReconcileLatch>();
  options_.before_apply = ReconcileLatch::Hook(latch);
  struct ReleaseAtEnd {
    std::shared_ptr<ReconcileLatch> latch;
    ~ReleaseAtEnd() { latch->Release(); }  // a failed assertion leaves no reconcile held
  } release_at_end{latch};
  RestartHub();  // the new hub waits for both clusters' discovery before updating anyone
  ASSERT_TRUE(a1->WaitClosed().has_value());
  ASSERT_TRUE(a2->WaitClosed().has_value());
  auto b1 = Agent("c1", tls1), b2 = Agent("c2", tls2);
  b1->Hello(r1);
  b2->Hello(r2);
  ASSERT_GE(b1->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  ASSERT_GE(b2->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  b2->Discover({MeshOf("c2")}, {ReviewsOf("c2")});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));

  // A reconcile reads the facts (c2's discovery only) and is held before its result reaches the sessions.
  latch->Arm();
  core_->TriggerReconcile();
  ASSERT_TRUE(latch->WaitHeld(kWait));
  // c1's discovery arrives and opens the restart gate; the probe answered after it says it was handled.
  b1->Discover({MeshOf("c1")}, {ReviewsOf("c1")});
  b1->Probe(0);
  EXPECT_EQ(core_->Meshes().size(), 2u);
  const double before = metrics_.Value("vmesh_hub_reconcile_seconds");
  latch->Release();  // the held result goes to the sessions now
  // The reconcile c1's discovery triggered, then one more: the first was applied once the second is observed.
  ASSERT_TRUE(WaitReconcileAfter(before));
  core_->TriggerReconcile();
  ASSERT_TRUE(WaitReconcileAfter(before + 1));

  for (const auto& e : b1->Probe(0)) EXPECT_FALSE(e.has_resource_update()) << "c1: " << e.DebugString();
  for (const auto& e : b2->Probe(0)) EXPECT_FALSE(e.has_resource_update()) << "c2: " << e.DebugString();
  ASSERT_TRUE(Session("c1") && Session("c2"));
  EXPECT_TRUE(Session("c1")->in_sync) << "the new hub wants what c1's agent holds";
  EXPECT_TRUE(Session("c2")->in_sync) << "the new hub wants what c2's agent holds";
  EXPECT_EQ(r1.held(), held1);
  EXPECT_EQ(r2.held(), held2);
}

TEST_F(HubCoreTest, HelloForAnotherClusterIsClosedWithPolicyViolation) {
  auto a1 = Agent("c1");
  Identity("c2");
  sync::ResourceReceiver other;
  Envelope hello;
  *hello.mutable_hello() = other.MakeHello("c2", "test");
  a1->Send(hello);
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation);
  EXPECT_THAT(closed->reason, HasSubstr("c2"));
}

TEST_F(HubCoreTest, FirstMessageMustBeHello) {
  auto a1 = Agent("c1");
  a1->Discover({MeshOf("c1")});
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kProtocolError);
  EXPECT_TRUE(core_->Meshes().empty());
}

TEST_F(HubCoreTest, CertificateOfADeregisteredClusterIsRefused) {
  auto tls = Identity("c3");
  ASSERT_TRUE(registration_->Deregister("c3").ok());
  TestAgent agent(loop_.context(), url_, tls, "c3");
  Status s = agent.Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("403"));
}

TEST_F(HubCoreTest, DeregisteringClosesTheLiveSession) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  ASSERT_TRUE(registration_->Deregister("c1").ok());
  core_->OnDeregistered("c1");
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation);
  EXPECT_EQ(closed->reason, "cluster deregistered");
  EXPECT_TRUE(core_->Meshes().empty()) << "its discovery is forgotten";
  EXPECT_FALSE(Session("c1").has_value());
}

// A replica that lost the leader election: sessions closed with 1012 (agents reconnect to the new leader), and the
// store is left to the new leader (the cluster is not marked disconnected by the old one).
TEST_F(HubCoreTest, SteppingDownClosesSessionsWithServiceRestartAndLeavesTheStoreAlone) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  ASSERT_EQ((*store_->GetCluster("c1"))->state, ClusterState::kConnected);
  core_->StepDown();
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kServiceRestart);
  EXPECT_EQ((*store_->GetCluster("c1"))->state, ClusterState::kConnected);
  EXPECT_FALSE(core_->Ready());
}

TEST_F(HubCoreTest, GarbageClosesOnlyThatSession) {
  sync::ResourceReceiver r1, r2;
  auto a1 = Joined("c1", r1);
  auto a2 = Joined("c2", r2);
  a1->SendRaw(std::string("\x0a\xff\xff\xff\xff\x0f", 6) + "short");
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kUnsupportedData);
  EXPECT_THAT(closed->reason, HasSubstr("undecodable"));
  a2->Probe(0);  // answered: c2's session goes on
  EXPECT_TRUE(Session("c2")->connected);
}

TEST_F(HubCoreTest, UnknownMessageIsNackedAndTheSessionGoesOn) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  // What a newer agent might send: an Envelope whose message this hub does not know (field 99).
  Envelope e;
  e.set_id(41);
  a1->SendRaw(e.SerializeAsString() + std::string("\x98\x06\x01", 3));
  const int nack = a1->WaitFor([](const Envelope& m) { return m.has_protocol_nack(); });
  ASSERT_GE(nack, 0);
  EXPECT_EQ(a1->At(nack).protocol_nack().envelope_id(), 41u);
  EXPECT_THAT(a1->At(nack).protocol_nack().error(), HasSubstr("unknown message type"));
  a1->Probe(static_cast<std::size_t>(nack) + 1);
  EXPECT_TRUE(Session("c1")->connected);
}

TEST_F(HubCoreTest, DiscoveryClaimingAnotherClustersMeshIsNacked) {
  sync::ResourceReceiver r1, r2;
  auto a1 = Joined("c1", r1);
  auto a2 = Joined("c2", r2);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 2; }, kWait));
  const std::size_t from = a2->count();
  a2->Discover({MeshOf("c1")});  // says cluster c1
  api::v1::Mesh takeover = MeshOf("c2");
  takeover.mutable_metadata()->set_name(MeshName("c1"));  // c1's mesh name, as c2's
  a2->Discover({takeover});
  auto got = a2->Probe(from);
  std::vector<std::string> errors;
  for (const auto& e : got) {
    if (e.has_protocol_nack()) errors.push_back(e.protocol_nack().error());
  }
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], HasSubstr("claims cluster \"c1\""));
  EXPECT_THAT(errors[1], HasSubstr("metadata.name must be \"istiod-istio-system-c2\""));
  auto meshes = core_->Meshes();
  ASSERT_EQ(meshes.size(), 2u);
  EXPECT_EQ(meshes[0].spec().cluster(), "c1");
  EXPECT_EQ(meshes[1].spec().cluster(), "c2");
}

TEST_F(HubCoreTest, CsrIsSignedForOwnMeshAndRefusedForAnotherClusters) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1, r2;
  auto a1 = Joined("c1", r1);
  auto a2 = Joined("c2", r2);
  ASSERT_TRUE(a1->SyncUntil(r1, [](const auto& r) { return Holds(r, "cert/istiod-istio-system-c1"); }));

  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  Envelope csr;
  csr.mutable_certificate_signing_request()->set_mesh(MeshName("c1"));
  csr.mutable_certificate_signing_request()->set_csr_pem(pki::Csr::Create(key, {})->ToPem());
  csr.mutable_certificate_signing_request()->set_request_id("r1");
  a1->Send(csr);
  const int at = a1->WaitFor(
      [](const Envelope& e) { return e.has_issued_certificate() && e.issued_certificate().request_id() == "r1"; });
  ASSERT_GE(at, 0);
  const auto issued = a1->At(at).issued_certificate();
  ASSERT_EQ(issued.error(), "");
  auto root = **store_->GetRootCa("vmesh/vm1");
  EXPECT_EQ(issued.root_pem(), root.certificate_pem);
  auto cert = pki::Certificate::FromPem(issued.certificate_chain_pem());
  ASSERT_TRUE(cert.ok());
  auto chain =
      pki::VerifyChain(*cert, {*pki::Certificate::FromPem(root.certificate_pem)}, {}, std::chrono::system_clock::now());
  EXPECT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 1);
  EXPECT_GT(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", MeshName("c1")}}), 0);

  csr.mutable_certificate_signing_request()->set_mesh(MeshName("c2"));
  csr.mutable_certificate_signing_request()->set_request_id("r2");
  const std::size_t from = a1->count();
  a1->Send(csr);
  const int refused = a1->WaitFor([](const Envelope& e) { return e.has_protocol_nack(); }, from);
  ASSERT_GE(refused, 0);
  EXPECT_THAT(a1->At(refused).protocol_nack().error(), HasSubstr("of cluster \"c2\""));
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "rejected"}}), 1);
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 1);
}

TEST_F(HubCoreTest, StatusReportsMakeTheVirtualMeshAccepted) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1, r2;
  auto a1 = Joined("c1", r1);
  auto a2 = Joined("c2", r2);
  ASSERT_TRUE(link::test::WaitFor([&] { return Vm().status().meshes().size() == 2; }, kWait));
  EXPECT_EQ(Vm().status().state(), api::v1::PENDING) << "certificates not installed yet";
  for (auto* a : {a1.get(), a2.get()}) {
    const std::string cluster = a == a1.get() ? "c1" : "c2";
    // The agent installs an intermediate for the generation the hub directs.
    const int directed = a->WaitFor(
        [](const Envelope& e) {
          if (!e.has_resource_update()) return false;
          for (const auto& r : e.resource_update().upserts()) {
            if (r.has_certificate()) return true;
          }
          return false;
        },
        0);
    ASSERT_GE(directed, 0);
    std::string generation;
    const Envelope update = a->At(directed);
    for (const auto& r : update.resource_update().upserts()) {
      if (r.has_certificate()) generation = r.certificate().generation();
    }
    Envelope e;
    auto* m = e.mutable_status_report()->add_meshes();
    m->set_mesh(MeshName(cluster));
    m->mutable_certificate()->set_phase(api::v1::INSTALLED);
    m->mutable_certificate()->set_serial("abc");
    m->set_installed_generation(generation);
    a->Send(e);
  }
  ASSERT_TRUE(link::test::WaitFor([&] { return Vm().status().state() == api::v1::ACCEPTED; }, kWait))
      << Vm().status().DebugString();
  const auto mesh = Vm().status().meshes().at("istiod-istio-system-c1.vmesh");
  EXPECT_EQ(mesh.certificate().serial(), "abc");
  EXPECT_TRUE(mesh.agent_connected());
  EXPECT_TRUE(mesh.has_last_report_time());
  auto record = **store_->GetCluster("c1");
  EXPECT_EQ(record.state, ClusterState::kConnected);
  EXPECT_TRUE(record.last_heartbeat.has_value());

  // The agent goes away: its mesh is PENDING, the cluster DISCONNECTED.
  a1->Close();
  ASSERT_TRUE(link::test::WaitFor(
      [&] { return Vm().status().meshes().at("istiod-istio-system-c1.vmesh").state() == api::v1::PENDING; }, kWait));
  EXPECT_EQ((**store_->GetCluster("c1")).state, ClusterState::kDisconnected);
}

// The errors of the ProtocolNacks among `envelopes`.
std::vector<std::string> NackErrors(const std::vector<Envelope>& envelopes) {
  std::vector<std::string> out;
  for (const auto& e : envelopes) {
    if (e.has_protocol_nack()) out.push_back(e.protocol_nack().error());
  }
  return out;
}

Envelope CsrFor(const std::string& mesh, const std::string& request_id) {
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  Envelope csr;
  csr.mutable_certificate_signing_request()->set_mesh(mesh);
  csr.mutable_certificate_signing_request()->set_csr_pem(pki::Csr::Create(key, {})->ToPem());
  csr.mutable_certificate_signing_request()->set_request_id(request_id);
  return csr;
}

Envelope StatusFor(const std::string& mesh) {
  Envelope status;
  auto* m = status.mutable_status_report()->add_meshes();
  m->set_mesh(mesh);
  m->mutable_certificate()->set_serial("forged");
  return status;
}

bool AnyIssued(const std::vector<Envelope>& envelopes) {
  for (const auto& e : envelopes) {
    if (e.has_issued_certificate() && !e.issued_certificate().certificate_chain_pem().empty()) return true;
  }
  return false;
}

TEST_F(HubCoreTest, AClusterGetsNothingForAMeshOfAClusterThatNeverConnected) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());  // names c2's mesh, but c2 has no agent yet
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  const std::size_t from = a1->count();
  api::v1::Mesh squat = MeshOf("c1");  // its own cluster, under c2's mesh name
  squat.mutable_metadata()->set_name(MeshName("c2"));
  a1->Discover({MeshOf("c1"), squat});
  a1->Send(CsrFor(MeshName("c2"), "r1"));
  a1->Send(StatusFor(MeshName("c2")));
  const auto got = a1->Probe(from);
  const auto errors = NackErrors(got);
  ASSERT_EQ(errors.size(), 3u) << "report, CSR and status are refused";
  EXPECT_THAT(errors[0], HasSubstr("metadata.name must be \"istiod-istio-system-c1\""));
  EXPECT_THAT(errors[1], HasSubstr("CSR for unknown mesh \"istiod-istio-system-c2\""));
  EXPECT_THAT(errors[2], HasSubstr("status for unknown mesh"));
  EXPECT_FALSE(AnyIssued(got));
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 0);
  EXPECT_FALSE(store_->GetMeshOwner(MeshName("c2"))->has_value());
  ASSERT_EQ(core_->Meshes().size(), 1u);
  EXPECT_EQ(core_->Meshes()[0].metadata().name(), MeshName("c1"));

  // c2 connects later and has its mesh.
  sync::ResourceReceiver r2;
  auto a2 = Joined("c2", r2);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 2; }, kWait));
  EXPECT_EQ(**store_->GetMeshOwner(MeshName("c2")), "c2");
}

// Cluster "x-c2" with Istio in istio-system and cluster "c2" with Istio in istio-system-x both derive the mesh
// name istiod-istio-system-x-c2: only the durable binding tells whose it is.
TEST_F(HubCoreTest, AMeshStaysBoundToItsClusterAcrossHubRestartsAndDeregistration) {
  constexpr char kVmX[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-x-c2}]
  mtlsConfig:
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
)";
  ASSERT_TRUE(objects_->Apply(kVmX).ok());
  const std::string mesh = "istiod-istio-system-x-c2";
  sync::ResourceReceiver rb;
  auto b = Joined("x-c2", rb);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  b->Close();
  ASSERT_TRUE(b->WaitClosed().has_value());

  api::v1::Mesh lookalike = MeshOf("c2");
  lookalike.mutable_metadata()->set_name(mesh);
  lookalike.mutable_spec()->set_installation_namespace("istio-system-x");
  auto tls_a = Identity("c2");
  // Whatever the forging agent tries, it gets a NACK and nothing signed.
  auto attempt = [&](const std::string& when) {
    SCOPED_TRACE(when);
    sync::ResourceReceiver ra;
    auto a = Agent("c2", tls_a);
    a->Hello(ra);
    ASSERT_GE(a->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
    const std::size_t from = a->count();
    a->Discover({lookalike});
    a->Send(CsrFor(mesh, "r-" + when));
    a->Send(StatusFor(mesh));
    const auto got = a->Probe(from);
    const auto errors = NackErrors(got);
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_THAT(errors[0], HasSubstr("Mesh istiod-istio-system-x-c2 is bound to cluster \"x-c2\""));
    EXPECT_THAT(errors[1], HasSubstr("CSR for mesh istiod-istio-system-x-c2 of cluster \"x-c2\" refused"));
    EXPECT_THAT(errors[2], HasSubstr("status for mesh istiod-istio-system-x-c2 of cluster \"x-c2\" refused"));
    EXPECT_FALSE(AnyIssued(got));
    for (const auto& m : core_->Meshes()) EXPECT_NE(m.spec().cluster(), "c2");
    a->Close();
    ASSERT_TRUE(a->WaitClosed().has_value());
  };
  RestartHub();  // a new core over the same store
  attempt("after a hub restart");
  ASSERT_TRUE(registration_->Deregister("x-c2").ok());
  core_->OnDeregistered("x-c2");
  attempt("after the owner was deregistered");
  RestartHub();
  attempt("after the owner was deregistered and the hub restarted");
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 0);
  EXPECT_TRUE(store_->ListIssuedCertificates()->empty());

  // The same cluster registered again has its mesh back.
  auto b2 = Joined("x-c2", rb);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  EXPECT_EQ(core_->Meshes()[0].spec().cluster(), "x-c2");
}

TEST_F(HubCoreTest, AnAmbiguousMeshNameBelongsToTheRegisteredClusterWithTheLongerName) {
  auto tls_x = Identity("x-c2");  // registered, not connected yet
  api::v1::Mesh lookalike = MeshOf("c2");
  lookalike.mutable_metadata()->set_name("istiod-istio-system-x-c2");
  lookalike.mutable_spec()->set_installation_namespace("istio-system-x");
  sync::ResourceReceiver r2;
  auto a2 = Agent("c2");
  a2->Hello(r2);
  ASSERT_GE(a2->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  const std::size_t from = a2->count();
  a2->Discover({lookalike});
  const auto errors = NackErrors(a2->Probe(from));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("is the name of a mesh of cluster \"x-c2\" as well"));
  EXPECT_FALSE(store_->GetMeshOwner("istiod-istio-system-x-c2")->has_value());
  a2->Discover({MeshOf("c2")});  // its unambiguous mesh is fine
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  sync::ResourceReceiver rx;
  auto ax = Agent("x-c2", tls_x);
  ax->Hello(rx);
  ax->Discover({MeshOf("x-c2")});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 2; }, kWait));
  EXPECT_EQ(**store_->GetMeshOwner("istiod-istio-system-x-c2"), "x-c2");
}

TEST_F(HubCoreTest, AReportOverThePerClusterCapIsRefusedWhole) {
  options_.max_objects_per_cluster = 2;
  RestartHub();
  sync::ResourceReceiver r1;
  auto a1 = Agent("c1");
  a1->Hello(r1);
  ASSERT_GE(a1->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  auto service = [](const std::string& name) {
    api::v1::Destination d = ReviewsOf("c1");
    d.mutable_metadata()->set_name(name + "-bookinfo-c1");
    d.mutable_spec()->set_name(name);
    return d;
  };
  const std::size_t from = a1->count();
  a1->Discover({MeshOf("c1")}, {service("a"), service("b"), service("c")});
  const auto errors = NackErrors(a1->Probe(from));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("would hold 3 destinations and workloads, over the hub's cap of 2 per cluster"));
  EXPECT_TRUE(core_->Meshes().empty()) << "nothing of the report was applied";
  EXPECT_TRUE(core_->Destinations().empty());
  a1->Discover({MeshOf("c1")}, {service("a"), service("b")});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Destinations().size() == 2; }, kWait));
}

class HubCoreRetryTest : public HubCoreTest {
 protected:
  void SetUp() override { StartHub({.retry_rejected_after = std::chrono::milliseconds(100)}); }
};

TEST_F(HubCoreRetryTest, RejectedResourceFailsTheMeshAndIsOfferedAgain) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1, r2;
  auto a1 = Joined("c1", r1);
  auto a2 = Joined("c2", r2);
  const std::string cert = "cert/istiod-istio-system-c1";
  auto has_cert = [&](const Envelope& e) {
    if (!e.has_resource_update()) return false;
    for (const auto& r : e.resource_update().upserts()) {
      if (r.name() == cert) return true;
    }
    return false;
  };
  const int first = a1->WaitFor(has_cert);
  ASSERT_GE(first, 0);
  sync::ResourceReceiver failing;
  Envelope ack;
  *ack.mutable_ack() = failing.Apply(
      a1->At(first).resource_update(),
      [](const link::v1::Resource& r) {
        return r.has_certificate() ? Status(MakeError("no room for keys")) : OkStatus();
      },
      [](const std::string&) { return OkStatus(); });
  a1->Send(ack);
  ASSERT_TRUE(link::test::WaitFor(
      [&] { return Vm().status().meshes().at("istiod-istio-system-c1.vmesh").state() == api::v1::FAILED; }, kWait))
      << Vm().status().DebugString();
  EXPECT_THAT(Vm().status().meshes().at("istiod-istio-system-c1.vmesh").errors(0), HasSubstr("no room for keys"));
  EXPECT_EQ(metrics_.Value("vmesh_hub_acks_total", {{"result", "nack"}}), 1);
  EXPECT_EQ(Session("c1")->rejected.count(cert), 1u);
  EXPECT_GE(a1->WaitFor(has_cert, static_cast<std::size_t>(first) + 1), 0) << "offered again after the retry delay";
}

TEST_F(HubCoreTest, MeshRestartIsDirectedToTheOwningAgent) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  EXPECT_FALSE(core_->RequestMeshRestart("istiod-istio-system-nowhere").ok());
  auto id = core_->RequestMeshRestart(MeshName("c1"));
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_FALSE(id->empty());
  ASSERT_TRUE(a1->SyncUntil(r1, [](const auto& r) { return Holds(r, "restart/istiod-istio-system-c1"); }));
  const int at = a1->WaitFor([](const Envelope& e) {
    return e.has_resource_update() && e.resource_update().upserts_size() > 0 &&
           e.resource_update().upserts(0).has_restart();
  });
  ASSERT_GE(at, 0);
  EXPECT_EQ(a1->At(at).resource_update().upserts(0).restart().request_id(), *id);
  EXPECT_EQ(a1->At(at).resource_update().upserts(0).restart().mesh(), MeshName("c1"));
}

TEST_F(HubCoreTest, DiscoveryIsListedAndPreviewStoresNothing) {
  sync::ResourceReceiver r1, r2;
  api::v1::Workload w;
  w.mutable_metadata()->set_name("reviews-v1-bookinfo-c2");
  w.mutable_spec()->set_cluster("c2");
  w.mutable_spec()->mutable_mesh()->set_name(MeshName("c2"));
  w.mutable_spec()->set_namespace_("bookinfo");
  auto a1 = Joined("c1", r1);
  auto a2 = Agent("c2");
  a2->Hello(r2);
  a2->Discover({MeshOf("c2")}, {ReviewsOf("c2")}, {w});
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Workloads().size() == 1; }, kWait));
  EXPECT_EQ(core_->Meshes().size(), 2u);
  ASSERT_EQ(core_->Destinations().size(), 1u);
  EXPECT_EQ(core_->Destinations()[0].spec().name(), "reviews");
  EXPECT_EQ(core_->Workloads()[0].metadata().namespace_(), "vmesh") << "the hub namespace is filled in";

  api::v1::VirtualMesh vm;
  ASSERT_TRUE(api::DecodeInto(kVm, &vm).empty());
  auto preview = core_->Preview(vm);
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  ASSERT_TRUE(preview->resources.count("c1"));
  bool service_entry = false;
  for (const auto& r : preview->resources.at("c1")) {
    service_entry |= r->has_kube_object() && r->kube_object().kind() == "ServiceEntry";
  }
  EXPECT_TRUE(service_entry) << "c2's reviews federated into c1";
  EXPECT_TRUE(store_->ListObjects("VirtualMesh")->empty());
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value());
}

TEST_F(HubCoreTest, IdentityIsRenewedOverTheSession) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  Envelope e;
  e.mutable_identity_renewal_request()->set_csr_pem(pki::Csr::Create(key, {})->ToPem());
  a1->Send(e);
  const int at = a1->WaitFor([](const Envelope& m) { return m.has_identity_renewal_response(); });
  ASSERT_GE(at, 0);
  const auto response = a1->At(at).identity_renewal_response();
  ASSERT_EQ(response.error(), "");
  auto cert = pki::Certificate::FromPem(response.certificate_pem());
  ASSERT_TRUE(cert.ok());
  EXPECT_THAT(cert->uri_sans(), ::testing::ElementsAre("spiffe://hub1/cluster/c1"));
  EXPECT_TRUE(registration_->CheckPeer("c1", cert->serial_hex()).ok());
}

TEST_F(HubCoreTest, ANewerSessionReplacesTheOlder) {
  sync::ResourceReceiver r1;
  auto tls = Identity("c1");
  auto first = Agent("c1", tls);
  first->Hello(r1);
  ASSERT_GE(first->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  auto second = Agent("c1", tls);
  auto closed = first->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation);
  EXPECT_EQ(closed->reason, "replaced by a newer session");
  second->Hello(r1);
  ASSERT_GE(second->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  EXPECT_TRUE(Session("c1")->connected);
  EXPECT_EQ(metrics_.Value("vmesh_hub_connected_agents"), 1);
}

// Renews c1's identity over `agent`'s session: the new certificate and its key.
std::pair<std::string, std::string> RenewOver(TestAgent& agent) {
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  Envelope e;
  e.mutable_identity_renewal_request()->set_csr_pem(pki::Csr::Create(key, {})->ToPem());
  const std::size_t from = agent.count();
  agent.Send(e);
  const int at = agent.WaitFor([](const Envelope& m) { return m.has_identity_renewal_response(); }, from);
  EXPECT_GE(at, 0);
  if (at < 0) return {};
  const auto response = agent.At(at).identity_renewal_response();
  EXPECT_EQ(response.error(), "");
  return {response.certificate_pem(), key.ToPem()};
}

TEST_F(HubCoreTest, RenewalRevokesTheOlderIdentityOnceTheAgentConnectsWithTheNewOne) {
  sync::ResourceReceiver r1;
  auto old_tls = Identity("c1");
  const std::string old_serial = (**store_->GetCluster("c1")).identity_serial;
  auto a1 = Agent("c1", old_tls);
  a1->Hello(r1);
  ASSERT_GE(a1->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  auto [cert_pem, key_pem] = RenewOver(*a1);
  ASSERT_FALSE(cert_pem.empty());
  auto new_tls = *link::TlsContext::Client({link_ca_pem_, cert_pem, key_pem});

  // The agent may not have received the new certificate (a lost response): the old one still works.
  {
    TestAgent again(loop_.context(), url_, old_tls, "c1");
    Status s = again.Connect();
    ASSERT_TRUE(s.ok()) << s.error().message;
    again.Close();
  }
  // The agent connects with the new identity: from now on the old one is refused at the handshake.
  auto a2 = Agent("c1", new_tls);
  a2->Hello(r1);
  ASSERT_GE(a2->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  TestAgent thief(loop_.context(), url_, old_tls, "c1");
  Status stolen = thief.Connect();
  ASSERT_FALSE(stolen.ok()) << "the superseded certificate still opens a session";
  EXPECT_THAT(stolen.error().message, HasSubstr("403"));
  EXPECT_THAT(registration_->CheckPeer("c1", old_serial).error().message, HasSubstr("is revoked"));
  // The new identity keeps working.
  auto a3 = Agent("c1", new_tls);
  a3->Hello(r1);
  EXPECT_GE(a3->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
}

TEST_F(HubCoreTest, TheEleventhCsrInAMinuteIsNackedAndNothingSigned) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(a1->SyncUntil(r1, [](const auto& r) { return Holds(r, "cert/istiod-istio-system-c1"); }));
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  const std::string csr_pem = pki::Csr::Create(key, {})->ToPem();
  const std::size_t from = a1->count();
  std::uint64_t last_id = 0;
  for (int i = 1; i <= 11; ++i) {
    Envelope csr;
    csr.mutable_certificate_signing_request()->set_mesh(MeshName("c1"));
    csr.mutable_certificate_signing_request()->set_csr_pem(csr_pem);
    csr.mutable_certificate_signing_request()->set_request_id("r" + std::to_string(i));
    last_id = a1->Send(csr);
  }
  const int nacked = a1->WaitFor(
      [&](const Envelope& e) { return e.has_protocol_nack() && e.protocol_nack().envelope_id() == last_id; }, from);
  ASSERT_GE(nacked, 0) << "the 11th CSR was not refused";
  EXPECT_THAT(a1->At(nacked).protocol_nack().error(),
              HasSubstr("CSR rate limit of cluster c1 exceeded: at most 10 per minute (burst 10)"));
  std::size_t issued = 0;
  for (const Envelope& e : a1->Probe(from)) {
    if (!e.has_issued_certificate()) continue;
    ++issued;
    EXPECT_EQ(e.issued_certificate().error(), "");
    EXPECT_NE(e.issued_certificate().request_id(), "r11");
  }
  EXPECT_EQ(issued, 10u);
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 10);
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "rate_limited"}}), 1);

  // Identity renewals draw from the same budget.
  Envelope renew;
  renew.mutable_identity_renewal_request()->set_csr_pem(csr_pem);
  const std::size_t before = a1->count();
  a1->Send(renew);
  const int refused = a1->WaitFor([](const Envelope& m) { return m.has_identity_renewal_response(); }, before);
  ASSERT_GE(refused, 0);
  EXPECT_THAT(a1->At(refused).identity_renewal_response().error(), HasSubstr("CSR rate limit"));
  EXPECT_EQ(a1->At(refused).identity_renewal_response().certificate_pem(), "");
}

TEST_F(HubCoreTest, StatusForMeshesTheClusterDidNotReportCreatesNoMetricSeries) {
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  Envelope e;
  for (int i = 0; i < 500; ++i) {
    auto* m = e.mutable_status_report()->add_meshes();
    m->set_mesh("made-up-" + std::to_string(i));
    m->mutable_certificate()->mutable_not_after()->set_seconds(1'900'000'000);
  }
  const std::size_t from = a1->count();
  a1->Send(e);  // refused whole: the cluster did not report these meshes
  EXPECT_THAT(NackErrors(a1->Probe(from)), ::testing::Contains(HasSubstr("has not reported it")));
  Envelope own_report;
  auto* own = own_report.mutable_status_report()->add_meshes();
  own->set_mesh(MeshName("c1"));
  own->mutable_certificate()->mutable_not_after()->set_seconds(1'900'000'000);
  a1->Send(own_report);
  a1->Probe(0);
  EXPECT_EQ(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", MeshName("c1")}}), 1'900'000'000);
  EXPECT_THAT(metrics_.Render(), ::testing::Not(HasSubstr("made-up-")));
}

TEST_F(HubCoreTest, CertificateSeriesPerClusterAreCapped) {
  RestartWith({.max_series_per_cluster = 2});
  sync::ResourceReceiver r1;
  auto a1 = Agent("c1");
  a1->Hello(r1);
  ASSERT_GE(a1->WaitFor([](const Envelope& e) { return e.has_welcome(); }), 0);
  std::vector<api::v1::Mesh> meshes;
  // Four Istio installations in c1: istiod-ns0-c1 ... istiod-ns3-c1.
  auto name = [](int i) { return "istiod-ns" + std::to_string(i) + "-c1"; };
  for (int i = 0; i < 4; ++i) {
    api::v1::Mesh m = MeshOf("c1");
    m.mutable_metadata()->set_name(name(i));
    m.mutable_spec()->set_installation_namespace("ns" + std::to_string(i));
    meshes.push_back(m);
  }
  a1->Discover(meshes);
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 4; }, kWait));
  Envelope e;
  for (int i = 0; i < 4; ++i) {
    auto* m = e.mutable_status_report()->add_meshes();
    m->set_mesh(name(i));
    m->mutable_certificate()->mutable_not_after()->set_seconds(1'900'000'000 + i);
  }
  a1->Send(e);
  a1->Probe(0);
  EXPECT_EQ(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", name(0)}}), 1'900'000'000);
  EXPECT_EQ(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", name(1)}}), 1'900'000'001);
  EXPECT_THAT(metrics_.Render(), ::testing::Not(HasSubstr(name(2))));
  // Deregistering drops the cluster's series.
  ASSERT_TRUE(registration_->Deregister("c1").ok());
  core_->OnDeregistered("c1");
  EXPECT_THAT(metrics_.Render(), ::testing::Not(HasSubstr(name(0))));
}

TEST_F(HubCoreTest, AnAgentSendingFarAheadOfTheHubIsDisconnected) {
  RestartWith({.max_pending_bytes_per_session = 4096});
  sync::ResourceReceiver r1;
  auto a1 = Joined("c1", r1);  // small messages pass
  ASSERT_TRUE(link::test::WaitFor([&] { return core_->Meshes().size() == 1; }, kWait));
  Envelope flood;
  for (int i = 0; i < 200; ++i) {
    auto* m = flood.mutable_status_report()->add_meshes();
    m->set_mesh(MeshName("c1"));
    m->add_errors(std::string(64, 'x'));
  }
  ASSERT_GT(flood.ByteSizeLong(), 4096u);
  a1->Send(flood);
  auto closed = a1->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation);
  EXPECT_THAT(closed->reason, HasSubstr("faster than the hub handles"));
}

}  // namespace
}  // namespace vmesh::hub
