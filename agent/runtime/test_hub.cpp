#include "agent/runtime/test_hub.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "hub/init/hub_init.h"

namespace vmesh::agent::test {

TestHub::TestHub() {
  char tmpl[] = "/tmp/vmesh-testhub-XXXXXX";
  dir_ = mkdtemp(tmpl);
  auto init = hub::InitHub({.data_dir = dir_, .hub_name = "hub1"}, std::chrono::system_clock::now());
  EXPECT_TRUE(init.ok()) << init.error().message;
  store_ = std::move(*hub::OpenSqliteStore(hub::StorePath(dir_)));
  auto ca = hub::LoadLinkCa(*store_);
  EXPECT_TRUE(ca.ok()) << ca.error().message;
  const std::string ca_pem = ca->certificate().ToPem();
  auto tls = link::TlsContext::Server(
      {*ReadFile(hub::ServerCertificatePath(dir_)), *ReadFile(hub::ServerKeyPath(dir_)), ca_pem});
  EXPECT_TRUE(tls.ok()) << tls.error().message;
  link::ServerOptions options{.tls = *tls};
  options.identity_check = [this](const link::PeerIdentity& peer) {
    auto cluster = hub::ClusterFromSpiffeId("hub1", peer.spiffe_id());
    return cluster.ok() && registration_->CheckPeer(*cluster, peer.serial_hex).ok();
  };
  server_ = std::make_unique<link::Server>(loop_.context(), options);
  Status started = server_->Start();
  EXPECT_TRUE(started.ok()) << started.error().message;
  url_ = "wss://127.0.0.1:" + std::to_string(server_->port());
  registration_ = std::make_unique<hub::RegistrationService>(
      *store_, *ca, hub::RegistrationOptions{.hub_name = "hub1", .agent_url = url_},
      [] { return std::chrono::system_clock::now(); });
  routes_ = std::make_unique<hub::HubRoutes>(hub::HubRoutes{*registration_, *store_, "hub1", "vmesh", {}});
  server_->Handle("/v1/bootstrap",
                  link::HttpRoute{link::ClientCertPolicy::kOptional,
                                  [this](const link::HttpRequest& r) { return routes_->Bootstrap(r); }});
  server_->Handle("/v1/connect",
                  link::WebSocketRoute{link::ClientCertPolicy::kRequired, [this](const link::HttpRequest& request) {
                                         {
                                           std::lock_guard lock(mu_);
                                           serials_.push_back(request.peer.serial_hex);
                                         }
                                         link::ConnectionHandlers handlers;
                                         handlers.on_open = [this](const link::ConnectionPtr& c) {
                                           std::lock_guard lock(mu_);
                                           session_ = c;
                                         };
                                         handlers.on_message = [this](const link::ConnectionPtr& c, std::string m) {
                                           OnMessage(c, m);
                                         };
                                         return link::UpgradeDecision::Accept(std::move(handlers));
                                       }});
}

TestHub::~TestHub() {
  server_->Stop();
  loop_.Stop();
  std::filesystem::remove_all(dir_);
}

std::string TestHub::RegisterYaml(const std::string& cluster, std::chrono::seconds ttl) {
  auto bundle = registration_->Register(cluster, ttl);
  EXPECT_TRUE(bundle.ok()) << bundle.error().message;
  return bundle.ok() ? api::Encode(*bundle, api::Format::kYaml) : "";
}

AgentIdentity TestHub::BootstrapAgent(const std::string& cluster) {
  auto bundle = ParseBootstrapBundle(RegisterYaml(cluster));
  EXPECT_TRUE(bundle.ok()) << bundle.error().message;
  if (!bundle.ok()) return {};
  auto id = Bootstrap(*bundle, "test");
  EXPECT_TRUE(id.ok()) << id.error().message;
  return id.ok() ? *id : AgentIdentity{};
}

void TestHub::OnMessage(const link::ConnectionPtr& c, const std::string& bytes) {
  link::v1::Envelope envelope;
  if (!envelope.ParseFromString(bytes)) {
    c->Close(link::CloseCode::kProtocolError, "undecodable");
    return;
  }
  {
    std::lock_guard lock(mu_);
    received_.push_back(envelope);
  }
  link::v1::Envelope answer;
  if (envelope.has_hello()) {
    answer.mutable_welcome()->set_hub_name("hub1");
    answer.mutable_welcome()->set_status_interval_seconds(1);
  } else if (envelope.has_identity_renewal_request()) {
    auto cluster = hub::ClusterFromSpiffeId("hub1", c->peer().spiffe_id());
    auto cert = cluster.ok() ? registration_->RenewIdentity(*cluster, envelope.identity_renewal_request().csr_pem())
                             : Result<std::string>(cluster.error());
    if (cert.ok()) {
      answer.mutable_identity_renewal_response()->set_certificate_pem(*cert);
    } else {
      answer.mutable_identity_renewal_response()->set_error(cert.error().message);
    }
  } else {
    return;
  }
  (void)c->Send(answer.SerializeAsString());
}

bool TestHub::Push(const link::v1::ResourceUpdate& update) {
  link::ConnectionPtr c;
  {
    std::lock_guard lock(mu_);
    c = session_;
  }
  if (!c || !c->is_open()) return false;
  link::v1::Envelope envelope;
  *envelope.mutable_resource_update() = update;
  return c->Send(envelope.SerializeAsString()).ok();
}

void TestHub::CloseSession(uint16_t code, const std::string& reason) {
  std::lock_guard lock(mu_);
  if (session_) session_->Close(code, reason);
}

std::vector<link::v1::Envelope> TestHub::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::vector<link::v1::Hello> TestHub::Hellos() const {
  std::vector<link::v1::Hello> out;
  for (const auto& e : Received()) {
    if (e.has_hello()) out.push_back(e.hello());
  }
  return out;
}

std::vector<link::v1::Ack> TestHub::Acks() const {
  std::vector<link::v1::Ack> out;
  for (const auto& e : Received()) {
    if (e.has_ack()) out.push_back(e.ack());
  }
  return out;
}

std::vector<std::string> TestHub::SessionSerials() const {
  std::lock_guard lock(mu_);
  return serials_;
}

}  // namespace vmesh::agent::test
