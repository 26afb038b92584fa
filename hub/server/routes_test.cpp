// The hub's bootstrap and cluster-registry routes over the real link server (TLS, client certificates).
#include "hub/server/routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "common/pki/csr.h"
#include "hub/init/hub_init.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

class HubRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-routes-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(InitHub({.data_dir = dir_, .hub_name = "hub1"}, std::chrono::system_clock::now()).ok());
    store_ = std::move(*OpenSqliteStore(StorePath(dir_)));
    auto ca = LoadLinkCa(*store_);
    ASSERT_TRUE(ca.ok());
    registration_ = std::make_unique<RegistrationService>(*store_, *ca, RegistrationOptions{.hub_name = "hub1"},
                                                          [] { return std::chrono::system_clock::now(); });
    routes_ = std::make_unique<HubRoutes>(HubRoutes{*registration_, *store_, "hub1", "vmesh",
                                                    [this](const std::string& c) { deregistered_.push_back(c); }});
    ca_pem_ = ca->certificate().ToPem();
    auto tls =
        link::TlsContext::Server({*ReadFile(ServerCertificatePath(dir_)), *ReadFile(ServerKeyPath(dir_)), ca_pem_});
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    server_ = std::make_unique<link::Server>(loop_.context(), link::ServerOptions{.tls = *tls});
    server_->Handle("/healthz", link::HttpRoute{link::ClientCertPolicy::kOptional, [](const link::HttpRequest&) {
                                                  return link::HttpResponse::Text(200, "ok");
                                                }});
    server_->Handle("/v1/bootstrap",
                    link::HttpRoute{link::ClientCertPolicy::kOptional,
                                    [this](const link::HttpRequest& r) { return routes_->Bootstrap(r); }});
    server_->Handle("/v1/clusters",
                    link::HttpRoute{link::ClientCertPolicy::kRequired, [this](const link::HttpRequest& r) {
                                      return r.method == "GET" ? routes_->ListClusters(r) : routes_->RegisterCluster(r);
                                    }});
    server_->Handle("/v1/clusters/deregister",
                    link::HttpRoute{link::ClientCertPolicy::kRequired,
                                    [this](const link::HttpRequest& r) { return routes_->DeregisterCluster(r); }});
    ASSERT_TRUE(server_->Start().ok());
    base_ = "https://127.0.0.1:" + std::to_string(server_->port());
    config::v1::AdminConfig admin;
    ASSERT_TRUE(api::DecodeInto(*ReadFile(AdminConfigPath(dir_)), &admin).empty());
    admin_tls_ = *link::TlsContext::Client({ca_pem_, admin.client_certificate(), admin.client_key()});
    anonymous_tls_ = *link::TlsContext::Client({ca_pem_, "", ""});
  }
  void TearDown() override {
    server_->Stop();
    loop_.Stop();
    std::filesystem::remove_all(dir_);
  }
  link::HttpResponse Call(const link::TlsContextPtr& tls, std::string method, std::string path, std::string body = "",
                          std::string content_type = "application/json") {
    auto r = link::Fetch(tls, {std::move(method), base_ + path, std::move(body), std::move(content_type)});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : link::HttpResponse{};
  }
  link::HttpResponse Bootstrap(const config::v1::BootstrapBundle& bundle) {
    agent_key_ = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    link::v1::BootstrapRequest req;
    req.set_cluster_name(bundle.cluster());
    req.set_token(bundle.token());
    req.set_csr_pem(pki::Csr::Create(*agent_key_, {})->ToPem());
    return Call(anonymous_tls_, "POST", "/v1/bootstrap", req.SerializeAsString(), "application/x-protobuf");
  }

  link::EventLoop loop_{1};
  std::string dir_;
  StorePtr store_;
  std::unique_ptr<RegistrationService> registration_;
  std::unique_ptr<HubRoutes> routes_;
  std::unique_ptr<link::Server> server_;
  std::string base_;
  std::string ca_pem_;
  link::TlsContextPtr admin_tls_;
  link::TlsContextPtr anonymous_tls_;
  std::optional<pki::PrivateKey> agent_key_;
  std::vector<std::string> deregistered_;
};

TEST_F(HubRoutesTest, RegisterBootstrapListDeregister) {
  EXPECT_EQ(Call(anonymous_tls_, "GET", "/healthz").status, 200);
  EXPECT_EQ(Call(anonymous_tls_, "POST", "/v1/clusters", R"({"name":"c1"})").status, 401) << "admin only";

  auto registered = Call(admin_tls_, "POST", "/v1/clusters", R"({"name":"c1","ttl":"30m"})");
  ASSERT_EQ(registered.status, 201) << registered.body;
  config::v1::BootstrapBundle bundle;
  ASSERT_TRUE(api::DecodeInto(registered.body, &bundle).empty()) << registered.body;
  EXPECT_EQ(bundle.cluster(), "c1");
  EXPECT_EQ(bundle.hub_ca(), ca_pem_);

  auto boot = Bootstrap(bundle);
  ASSERT_EQ(boot.status, 200) << boot.body;
  link::v1::BootstrapResponse response;
  ASSERT_TRUE(response.ParseFromString(boot.body));
  auto cert = *pki::Certificate::FromPem(response.certificate_pem());
  EXPECT_THAT(cert.uri_sans(), ::testing::ElementsAre("spiffe://hub1/cluster/c1"));
  const pki::PrivateKey agent_key = *agent_key_;

  auto replay = Bootstrap(bundle);
  EXPECT_EQ(replay.status, 403);
  EXPECT_THAT(replay.body, HasSubstr("already used"));

  auto list = Call(admin_tls_, "GET", "/v1/clusters");
  ASSERT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("\"name\": \"c1\""));

  // The agent's own identity is not an admin credential.
  auto agent_tls_result = link::TlsContext::Client({ca_pem_, response.certificate_pem(), agent_key.ToPem()});
  ASSERT_TRUE(agent_tls_result.ok()) << agent_tls_result.error().message;
  auto agent_tls = *agent_tls_result;
  auto forbidden = Call(agent_tls, "POST", "/v1/clusters", R"({"name":"c2"})");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_THAT(forbidden.body, HasSubstr("admin credential"));

  ASSERT_EQ(Call(admin_tls_, "POST", "/v1/clusters/deregister", R"({"name":"c1"})").status, 200);
  EXPECT_THAT(deregistered_, ::testing::ElementsAre("c1"));
  EXPECT_FALSE(registration_->CheckPeer("c1", cert.serial_hex()).ok());
  EXPECT_EQ(Call(admin_tls_, "POST", "/v1/clusters/deregister", R"({"name":"c1"})").status, 404);
}

// Each failure's ErrorCode (not its wording) picks the status: a bad CSR is 400, a refused token 403, a cluster
// that bootstrapped already 409.
TEST_F(HubRoutesTest, StatusesFollowTheErrorCodes) {
  auto registered = Call(admin_tls_, "POST", "/v1/clusters", R"({"name":"c1"})");
  ASSERT_EQ(registered.status, 201) << registered.body;
  config::v1::BootstrapBundle bundle;
  ASSERT_TRUE(api::DecodeInto(registered.body, &bundle).empty()) << registered.body;

  link::v1::BootstrapRequest bad_csr;
  bad_csr.set_cluster_name("c1");
  bad_csr.set_token(bundle.token());
  bad_csr.set_csr_pem("not a CSR");
  auto refused = Call(anonymous_tls_, "POST", "/v1/bootstrap", bad_csr.SerializeAsString(), "application/x-protobuf");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("identity CSR"));

  bad_csr.set_token("vmbt_not-the-token");
  EXPECT_EQ(Call(anonymous_tls_, "POST", "/v1/bootstrap", bad_csr.SerializeAsString(), "application/x-protobuf").status,
            403);

  ASSERT_EQ(Bootstrap(bundle).status, 200) << "a refused CSR does not use the token up";
  auto again = Call(admin_tls_, "POST", "/v1/clusters", R"({"name":"c1"})");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_THAT(again.body, HasSubstr("already registered"));
}

TEST_F(HubRoutesTest, BadRequestsGetPreciseErrors) {
  EXPECT_EQ(Call(anonymous_tls_, "POST", "/v1/bootstrap", "garbage", "application/x-protobuf").status, 400);
  auto bad_ttl = Call(admin_tls_, "POST", "/v1/clusters", R"({"name":"c1","ttl":"soon"})");
  EXPECT_EQ(bad_ttl.status, 400);
  EXPECT_THAT(bad_ttl.body, HasSubstr("ttl"));
  EXPECT_EQ(Call(admin_tls_, "POST", "/v1/clusters", R"({"nom":"c1"})").status, 400);
  auto bad_name = Call(admin_tls_, "POST", "/v1/clusters", R"({"name":"Bad_Name"})");
  EXPECT_THAT(bad_name.body, HasSubstr("cluster name"));
}

}  // namespace
}  // namespace vmesh::hub
