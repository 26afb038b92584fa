// Issue "hub–agent link" end to end: vmesh-hub, vmesh-agent, vmeshctl and kubesim as real processes.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/api/manifest.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"
#include "e2e/harness/fleet.h"
#include "e2e/proxy/tcp_proxy.h"
#include "vmesh/config/v1/config.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

class LinkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
    ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << hub_.Log();
  }

  // A cluster with Istio, registered and with its agent started.
  ClusterUnderTest& AddCluster(const std::string& name, const std::vector<std::string>& agent_args = {},
                               const std::string& hub_url = "") {
    clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, static_cast<int>(clusters_.size()) + 1));
    auto& cluster = *clusters_.back();
    EXPECT_TRUE(cluster.StartKubesim({"istio.yaml"}).ok());
    auto bundle = hub_.Register(name);
    EXPECT_TRUE(bundle.ok()) << (bundle.ok() ? "" : bundle.error().message);
    std::string path = *bundle;
    if (!hub_url.empty()) path = *RewriteBundleHubUrl(path, hub_url);
    EXPECT_TRUE(cluster.StartAgent(path, agent_args).ok());
    return cluster;
  }

  bool WaitForState(const std::string& cluster, const std::string& state, std::chrono::milliseconds timeout = 30s) {
    return WaitFor([&] { return hub_.ClusterState(cluster) == state; }, timeout);
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  std::vector<std::string> serve_args_ = {"--ping-interval",   "1s",     "--idle-timeout", "4s",
                                          "--max-frame-bytes", "1048576"};
  HubProcess hub_{binaries_};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

// A hand-driven agent session on /v1/connect, for what a well-behaved agent never sends.
class RawSession {
 public:
  RawSession(boost::asio::io_context& io, const std::string& url, link::TlsContextPtr tls) {
    link::ConnectionHandlers handlers;
    handlers.on_message = [this](const link::ConnectionPtr&, std::string message) {
      link::v1::Envelope envelope;
      std::lock_guard lock(mu_);
      if (envelope.ParseFromString(message)) received_.push_back(envelope);
      cv_.notify_all();
    };
    handlers.on_closed = [this](const link::ConnectionPtr&, const link::CloseInfo& info) {
      std::lock_guard lock(mu_);
      closed_ = info;
      cv_.notify_all();
    };
    link::DialOptions options;
    options.url = url + "/v1/connect";
    options.tls = std::move(tls);
    link::Dial(io, options, handlers, [this](Result<link::ConnectionPtr> r) {
      std::lock_guard lock(mu_);
      dialed_ = true;
      if (r.ok()) {
        connection_ = *r;
      } else {
        dial_error_ = r.error().message;
      }
      cv_.notify_all();
    });
  }
  ~RawSession() {
    if (connection_) connection_->Close();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return closed_.has_value() || !connection_; });
  }
  // Waits for the dial's outcome: "" when connected, else the error.
  std::string Dialed() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return dialed_; });
    return dialed_ ? dial_error_ : "dial timed out";
  }
  void Send(const link::v1::Envelope& envelope) { ASSERT_TRUE(connection_->Send(envelope.SerializeAsString()).ok()); }
  void SendRaw(std::string bytes) { ASSERT_TRUE(connection_->Send(std::move(bytes)).ok()); }
  std::optional<link::v1::Envelope> WaitFor(link::v1::Envelope::MessageCase which) {
    std::unique_lock lock(mu_);
    std::optional<link::v1::Envelope> found;
    cv_.wait_for(lock, 20s, [&] {
      for (const auto& e : received_) {
        if (e.message_case() == which) {
          found = e;
          return true;
        }
      }
      return closed_.has_value();
    });
    return found;
  }
  std::optional<link::CloseInfo> WaitClosed() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return closed_.has_value(); });
    return closed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool dialed_ = false;
  std::string dial_error_;
  link::ConnectionPtr connection_;
  std::vector<link::v1::Envelope> received_;
  std::optional<link::CloseInfo> closed_;
};

// An agent identity obtained through /v1/bootstrap, the way vmesh-agent does it.
struct RawIdentity {
  std::string cluster;
  link::TlsContextPtr tls;
};

Result<RawIdentity> BootstrapWithBundle(const std::string& bundle_path) {
  config::v1::BootstrapBundle bundle;
  if (!api::DecodeInto(ReadFileOr(bundle_path), &bundle).empty()) return MakeError("bad bundle " + bundle_path);
  const std::string cluster = bundle.cluster();
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  if (!key.ok()) return key.error();
  link::v1::BootstrapRequest request;
  request.set_cluster_name(cluster);
  request.set_token(bundle.token());
  request.set_csr_pem(pki::Csr::Create(*key, {})->ToPem());
  auto anonymous = link::TlsContext::Client({bundle.hub_ca(), "", ""});
  if (!anonymous.ok()) return anonymous.error();
  link::FetchRequest fetch;
  fetch.url = "https" + bundle.hub_url().substr(3) + "/v1/bootstrap";
  fetch.body = request.SerializeAsString();
  fetch.content_type = "application/x-protobuf";
  auto answer = link::Fetch(*anonymous, fetch);
  if (!answer.ok()) return answer.error();
  if (answer->status != 200)
    return MakeError("bootstrap: HTTP " + std::to_string(answer->status) + ": " + answer->body);
  link::v1::BootstrapResponse response;
  if (!response.ParseFromString(answer->body)) return MakeError("bootstrap: bad response");
  auto tls = link::TlsContext::Client({bundle.hub_ca(), response.certificate_pem(), key->ToPem()});
  if (!tls.ok()) return tls.error();
  return RawIdentity{cluster, *tls};
}

Result<RawIdentity> BootstrapRaw(HubProcess& hub, const std::string& cluster) {
  auto bundle_path = hub.Register(cluster);
  if (!bundle_path.ok()) return bundle_path.error();
  return BootstrapWithBundle(*bundle_path);
}

link::v1::Envelope HelloFor(const std::string& cluster) {
  link::v1::Envelope envelope;
  envelope.set_id(1);
  envelope.mutable_hello()->set_cluster_name(cluster);
  envelope.mutable_hello()->set_agent_version("raw-test");
  return envelope;
}

TEST_F(LinkE2eTest, RegisterConnectAndResumeAfterHubRestart) {
  auto& c1 = AddCluster("cluster-1");
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();
  auto list = hub_.Ctl({"cluster", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("cluster-1"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("CONNECTED"), std::string::npos) << list.output;

  // The identity lives in the cluster: a Secret in the agent's state namespace.
  auto secret = c1.Kubectl({"get", "secret", "-n", "vmesh-system", "vmesh-agent-identity", "-o", "name"});
  EXPECT_EQ(secret.exit_code, 0) << secret.output;

  // Something for the hub to sync: a VirtualMesh over the cluster's mesh gives it a certificate directive.
  const std::string vm = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes: [{name: istiod-istio-system-cluster-1, namespace: vmesh}]
  mtlsConfig:
    shared: {rootCertificateAuthority: {generated: {rsaKeySizeBytes: 2048}}}
)";
  auto manifest = c1.kubesim().WriteFile("vm.yaml", vm);
  ASSERT_TRUE(manifest.ok());
  auto applied = hub_.Ctl({"apply", "-f", *manifest});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  auto in_sync = [&] {
    auto answer = hub_.Api("GET", "/v1/sessions");
    boost::system::error_code ec;
    auto v = boost::json::parse(answer.body, ec);
    if (answer.status != 200 || ec || !v.is_object()) return false;
    for (const auto& item : v.as_object().at("items").as_array()) {
      const auto& o = item.as_object();
      if (o.at("cluster").as_string() != "cluster-1") continue;
      return o.at("connected").as_bool() && o.at("inSync").as_bool() && o.at("resourcesHeld").to_number<int64_t>() > 0;
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(in_sync, 30s)) << hub_.Api("GET", "/v1/sessions").body << Logs();

  // The hub restarts on the same ports; the agent reconnects with its stored identity (its one-time token is
  // spent) and the session resumes from what the agent holds: nothing is resent.
  ASSERT_EQ(hub_.Stop(), 0) << Logs();
  ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << Logs();
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();
  ASSERT_TRUE(WaitFor(in_sync, 30s)) << hub_.Api("GET", "/v1/sessions").body << Logs();
  EXPECT_LE(hub_.Metric("vmesh_hub_messages_total", "type=\"resource_update\""), 0)
      << "the restarted hub resent resources the agent already held";
  EXPECT_TRUE(c1.agent_running()) << Logs();
}

TEST_F(LinkE2eTest, BootstrapTokensAreSingleUseExpiringAndExact) {
  AddCluster("cluster-1");
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();

  // Replayed: the token of a bundle that was used once.
  auto bundle = hub_.Register("cluster-r");
  ASSERT_TRUE(bundle.ok());
  auto first = BootstrapWithBundle(*bundle);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto replayed = BootstrapWithBundle(*bundle);
  ASSERT_FALSE(replayed.ok());
  EXPECT_NE(replayed.error().message.find("403"), std::string::npos) << replayed.error().message;
  EXPECT_NE(replayed.error().message.find("already used"), std::string::npos) << replayed.error().message;

  // Expired: a bundle with a one-second lifetime, used after it ran out.
  auto short_lived = hub_.Register("cluster-e", "1s");
  ASSERT_TRUE(short_lived.ok());
  std::this_thread::sleep_for(2s);
  ClusterUnderTest expired(binaries_, "cluster-e", 6);
  ASSERT_TRUE(expired.StartKubesim({"istio.yaml"}).ok());
  ASSERT_TRUE(expired.StartAgent(*short_lived).ok());
  ASSERT_TRUE(WaitFor([&] { return !expired.agent_running(); }, 30s)) << expired.AgentLog();
  EXPECT_NE(expired.AgentLog().find("expired"), std::string::npos) << expired.AgentLog();

  // Wrong: a token that was never issued.
  auto wrong_bundle = hub_.Register("cluster-w");
  ASSERT_TRUE(wrong_bundle.ok());
  std::string text = ReadFileOr(*wrong_bundle);
  config::v1::BootstrapBundle wrong_token;
  ASSERT_TRUE(api::DecodeInto(text, &wrong_token).empty());
  const std::string real_token = wrong_token.token();
  std::string token = real_token;
  token[0] = token[0] == 'A' ? 'B' : 'A';
  wrong_token.set_token(token);
  ClusterUnderTest wrong(binaries_, "cluster-w", 7);
  ASSERT_TRUE(wrong.StartKubesim({"istio.yaml"}).ok());
  auto wrong_path = wrong.kubesim().WriteFile("wrong.yaml", api::Encode(wrong_token, api::Format::kYaml));
  ASSERT_TRUE(wrong_path.ok());
  ASSERT_TRUE(wrong.StartAgent(*wrong_path).ok());
  ASSERT_TRUE(WaitFor([&] { return !wrong.agent_running(); }, 30s)) << wrong.AgentLog();
  EXPECT_NE(wrong.AgentLog().find("invalid bootstrap token"), std::string::npos) << wrong.AgentLog();
  EXPECT_EQ(wrong.AgentLog().find(token), std::string::npos) << "the token must not be logged";

  EXPECT_EQ(hub_.ClusterState("cluster-1"), "CONNECTED") << "the hub kept serving the good agent";
  EXPECT_EQ(hub_.Log().find(real_token), std::string::npos) << "the hub must not log tokens";
}

TEST_F(LinkE2eTest, ConnectRefusesMissingForeignAndRevokedCertificates) {
  auto raw = BootstrapRaw(hub_, "cluster-r");
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  link::EventLoop loop(1);
  config::v1::AdminConfig admin;
  ASSERT_TRUE(api::DecodeInto(ReadFileOr(hub_.admin_config()), &admin).empty());

  {  // No client certificate.
    RawSession session(loop.context(), hub_.agent_url(), *link::TlsContext::Client({admin.hub_ca(), "", ""}));
    std::string error = session.Dialed();
    EXPECT_NE(error.find("401"), std::string::npos) << error;
  }
  {  // A certificate from another CA: the TLS handshake fails.
    auto now = std::chrono::system_clock::now();
    auto other_ca_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    pki::RootCaProfile root_profile;
    root_profile.common_name = "another CA";
    auto other_root = *pki::IssueRootCa(other_ca_key, root_profile, now);
    auto other = *pki::CaSigner::Create(other_root, std::move(other_ca_key));
    auto leaf_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    pki::LeafProfile leaf;
    leaf.subject.common_name = "cluster-r";
    leaf.uri_sans = {"spiffe://vmesh-hub/cluster/cluster-r"};
    leaf.client_auth = true;
    auto cert = *pki::IssueLeaf(other, *pki::Csr::Create(leaf_key, {}), leaf, now);
    RawSession session(loop.context(), hub_.agent_url(),
                       *link::TlsContext::Client({admin.hub_ca(), cert.ToPem(), leaf_key.ToPem()}));
    std::string error = session.Dialed();
    EXPECT_FALSE(error.empty());
  }
  {  // The registered identity works; deregistering closes the live session with 1008.
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.Send(HelloFor("cluster-r"));
    ASSERT_TRUE(session.WaitFor(link::v1::Envelope::kWelcome).has_value());
    auto out = hub_.Ctl({"cluster", "deregister", "cluster-r"});
    ASSERT_EQ(out.exit_code, 0) << out.output;
    auto closed = session.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation) << closed->ToString();
  }
  {  // ... and its certificate is refused from then on.
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    std::string error = session.Dialed();
    EXPECT_NE(error.find("403"), std::string::npos) << error;
  }
}

TEST_F(LinkE2eTest, HostileFramesCloseOrNackWhileOthersAreServed) {
  auto& c1 = AddCluster("cluster-1");
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();
  auto raw = BootstrapRaw(hub_, "cluster-r");
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  link::EventLoop loop(1);

  {  // Over the frame limit (the hub runs with 1 MiB here).
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.SendRaw(std::string(2u << 20, 'x'));
    auto closed = session.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, link::CloseCode::kMessageTooBig) << closed->ToString();
  }
  {  // Garbage bytes.
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.SendRaw("\xff\xff\xff\xff garbage");
    auto closed = session.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, link::CloseCode::kUnsupportedData) << closed->ToString();
  }
  {  // A Hello claiming another cluster.
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.Send(HelloFor("cluster-1"));
    auto closed = session.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, link::CloseCode::kPolicyViolation) << closed->ToString();
  }
  {  // A valid frame with no known message is NACKed, and so is a report about another cluster's mesh; the
     // session goes on.
    RawSession session(loop.context(), hub_.agent_url(), raw->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.Send(HelloFor("cluster-r"));
    ASSERT_TRUE(session.WaitFor(link::v1::Envelope::kWelcome).has_value());
    link::v1::Envelope unknown;
    unknown.set_id(7);
    session.Send(unknown);
    auto nack = session.WaitFor(link::v1::Envelope::kProtocolNack);
    ASSERT_TRUE(nack.has_value());
    EXPECT_EQ(nack->protocol_nack().envelope_id(), 7u);

    link::v1::Envelope report;
    report.set_id(8);
    auto* mesh = report.mutable_discovery_report()->add_meshes();
    mesh->mutable_metadata()->set_name("istiod-istio-system-cluster-1");
    mesh->mutable_spec()->set_cluster("cluster-1");
    report.mutable_discovery_report()->set_full_state(true);
    session.Send(report);
    EXPECT_TRUE(WaitFor(
        [&] {
          auto n = session.WaitFor(link::v1::Envelope::kProtocolNack);
          return n.has_value();
        },
        5s));
    EXPECT_FALSE(session.WaitClosed().has_value() && false);
  }
  EXPECT_EQ(hub_.ClusterState("cluster-1"), "CONNECTED") << Logs();
  EXPECT_TRUE(c1.agent_running()) << Logs();
  EXPECT_TRUE(hub_.running()) << Logs();
}

TEST_F(LinkE2eTest, AgentNoticesDroppedAndBlackholedConnectionsAndReconnects) {
  TcpProxy proxy("127.0.0.1", hub_.agent_port());
  ASSERT_TRUE(proxy.Start().ok());
  auto& c1 = AddCluster("cluster-1", {"--ping-interval", "1s", "--idle-timeout", "4s"},
                        "wss://127.0.0.1:" + std::to_string(proxy.port()));
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();
  // Through the proxy: the bootstrap request, then the session.
  const int initial = proxy.accepted();
  EXPECT_GE(initial, 1);

  // Reset: the agent reconnects (backoff starts at 1 s).
  proxy.DropAll();
  ASSERT_TRUE(WaitFor([&] { return proxy.accepted() > initial && proxy.open() >= 1; }, 30s)) << Logs();
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();

  // Black hole: neither side hears the other; the hub declares the agent dead within its idle timeout.
  proxy.SetMode(ProxyMode::kBlackhole);
  ASSERT_TRUE(WaitForState("cluster-1", "DISCONNECTED", 20s)) << Logs();
  int before = proxy.accepted();
  proxy.SetMode(ProxyMode::kForward);
  ASSERT_TRUE(WaitFor([&] { return proxy.accepted() > before; }, 30s)) << "the agent never redialed\n" << Logs();
  ASSERT_TRUE(WaitForState("cluster-1", "CONNECTED")) << Logs();
  EXPECT_TRUE(c1.agent_running());
}

TEST_F(LinkE2eTest, KillNineLosesNoCommittedRegistration) {
  // Registered, then the hub is killed at once: the bundle it handed out still works after a restart.
  auto bundle = hub_.Register("cluster-k");
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  hub_.Kill9();
  ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << Logs();
  auto identity = BootstrapWithBundle(*bundle);
  ASSERT_TRUE(identity.ok()) << identity.error().message;

  // Bootstrapped, then killed again: the identity is still valid (and the token still spent) after a restart.
  hub_.Kill9();
  ASSERT_TRUE(hub_.Serve(serve_args_).ok()) << Logs();
  link::EventLoop loop(1);
  {
    RawSession session(loop.context(), hub_.agent_url(), identity->tls);
    ASSERT_EQ(session.Dialed(), "");
    session.Send(HelloFor("cluster-k"));
    EXPECT_TRUE(session.WaitFor(link::v1::Envelope::kWelcome).has_value());
  }
  auto replayed = BootstrapWithBundle(*bundle);
  ASSERT_FALSE(replayed.ok());
  EXPECT_NE(replayed.error().message.find("already used"), std::string::npos) << replayed.error().message;
}

TEST_F(LinkE2eTest, TlsBelowOnePointTwoIsRefused) {
  auto out = kubesim::RunProcess(
      {"openssl", "s_client", "-tls1_1", "-connect", "127.0.0.1:" + std::to_string(hub_.agent_port())}, 20s);
  EXPECT_NE(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output.find("BEGIN CERTIFICATE"), std::string::npos) << "no handshake: " << out.output;
}

}  // namespace
}  // namespace vmesh::e2e
