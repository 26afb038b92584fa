// The hub's API endpoint through the real link server (TLS, admin vs. non-admin client certificates), over the
// real ObjectService and a fake HubCore.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "common/pki/csr.h"
#include "common/pki/verify.h"
#include "hub/init/hub_init.h"
#include "hub/server/routes.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig: {shared: {}}
  federation: {permissive: {}}
)";

// Canned discovery and preview; records what the routes asked of it.
class FakeHubCore final : public HubCore {
 public:
  Status Start() override { return OkStatus(); }
  void Stop() override {}
  bool Ready() const override { return ready; }
  link::WebSocketRoute ConnectRoute() override { return {}; }
  link::IdentityCheck IdentityCheck() override {
    return [](const link::PeerIdentity&) { return true; };
  }
  void TriggerReconcile() override { ++reconciles; }
  void OnDeregistered(const std::string&) override {}
  Result<std::string> RequestMeshRestart(const std::string& mesh) override {
    if (mesh != "istiod-istio-system-c1") return MakeError("mesh " + mesh + " is not known to the hub");
    return std::string("restart-1");
  }
  Result<std::string> StartRootRotation(const std::string& key) override {
    rotations.push_back("start " + key);
    if (key != "vmesh/vm1") return MakeError("VirtualMesh " + key + " does not exist", ErrorCode::kNotFound);
    return std::string("root rotation of VirtualMesh vmesh/vm1 started: phase TRUST_BOTH");
  }
  Result<std::string> AbortRootRotation(const std::string& key) override {
    rotations.push_back("abort " + key);
    return MakeError("the rotation is in its last phase", ErrorCode::kConflict);
  }
  std::vector<std::string> rotations;
  std::vector<api::v1::Mesh> Meshes() const override {
    api::v1::Mesh m;
    m.set_api_version("discovery.vmesh.dev/v1");
    m.set_kind("Mesh");
    m.mutable_metadata()->set_name("istiod-istio-system-c1");
    m.mutable_metadata()->set_namespace_("vmesh");
    m.mutable_spec()->set_cluster("c1");
    return {m};
  }
  std::vector<api::v1::Destination> Destinations() const override { return {}; }
  std::vector<api::v1::Workload> Workloads() const override { return {}; }
  std::vector<SessionInfo> Sessions() const override {
    return {SessionInfo{.cluster = "c1",
                        .connected = true,
                        .remote_address = "127.0.0.1:5555",
                        .agent_version = "0.1.0",
                        .resources_desired = 3,
                        .resources_held = 2,
                        .in_sync = false,
                        .rejected = {{"kube/x", "bad field"}}}};
  }
  Result<DesiredState> Preview(const api::v1::VirtualMesh& vm) const override {
    previewed = vm.metadata().name();
    DesiredState d;
    VirtualMeshResult r;
    r.key = vm.metadata().namespace_() + "/" + vm.metadata().name();
    r.status.set_state(api::v1::ACCEPTED);
    d.statuses.push_back(r);
    link::v1::Resource cert;
    cert.set_name("cert/istiod-istio-system-c1");
    cert.mutable_certificate()->set_mesh("istiod-istio-system-c1");
    cert.mutable_certificate()->set_virtual_mesh(r.key);
    link::v1::Resource se;
    se.set_name("kube/networking.istio.io/v1beta1/ServiceEntry/istio-system/x");
    se.mutable_kube_object()->set_json(R"({"kind":"ServiceEntry","metadata":{"name":"x"}})");
    d.resources["c1"] = {std::make_shared<const link::v1::Resource>(cert),
                         std::make_shared<const link::v1::Resource>(se)};
    return d;
  }

  std::atomic<bool> ready{false};
  std::atomic<int> reconciles{0};
  mutable std::string previewed;
};

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-apiroutes-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(InitHub({.data_dir = dir_, .hub_name = "hub1"}, std::chrono::system_clock::now()).ok());
    store_ = std::move(*OpenSqliteStore(StorePath(dir_)));
    auto ca = LoadLinkCa(*store_);
    ASSERT_TRUE(ca.ok());
    registration_ = std::make_unique<RegistrationService>(*store_, *ca, RegistrationOptions{.hub_name = "hub1"},
                                                          [] { return std::chrono::system_clock::now(); });
    objects_ = std::make_unique<ObjectService>(*store_, "vmesh", [] { return std::chrono::system_clock::now(); });
    metrics_.DeclareGauge("vmesh_test_gauge", "a gauge for the test");
    metrics_.Set("vmesh_test_gauge", {}, 7);
    routes_ = std::make_unique<HubRoutes>(
        HubRoutes{*registration_, *store_, "hub1", "vmesh", nullptr, objects_.get(), &core_, &metrics_});
    ca_pem_ = ca->certificate().ToPem();
    auto tls =
        link::TlsContext::Server({*ReadFile(ServerCertificatePath(dir_)), *ReadFile(ServerKeyPath(dir_)), ca_pem_});
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    server_ = std::make_unique<link::Server>(loop_.context(), link::ServerOptions{.tls = *tls});
    InstallApiRoutes(*server_, *routes_);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "https://127.0.0.1:" + std::to_string(server_->port());

    config::v1::AdminConfig admin;
    ASSERT_TRUE(api::DecodeInto(*ReadFile(AdminConfigPath(dir_)), &admin).empty());
    admin_tls_ = *link::TlsContext::Client({ca_pem_, admin.client_certificate(), admin.client_key()});
    admin_serial_ = pki::Certificate::FromPem(admin.client_certificate())->serial_hex();
    anonymous_tls_ = *link::TlsContext::Client({ca_pem_, "", ""});
    link_ca_ = std::make_unique<pki::CaSigner>(*ca);
    routes_->link_ca = link_ca_.get();
    // A certificate of the same CA that is not the admin's (as an agent's would be).
    auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    pki::LeafProfile profile{.uri_sans = {"spiffe://hub1/cluster/c9"}, .client_auth = true};
    auto cert = pki::IssueLeaf(*ca, *pki::Csr::Create(key, {}), profile, std::chrono::system_clock::now());
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    other_tls_ = *link::TlsContext::Client({ca_pem_, cert->ToPem(), key.ToPem()});
  }
  void TearDown() override {
    server_->Stop();
    loop_.Stop();
    std::filesystem::remove_all(dir_);
  }
  link::HttpResponse Call(const link::TlsContextPtr& tls, std::string method, std::string path, std::string body = "") {
    auto r = link::Fetch(tls, {std::move(method), base_ + path, std::move(body), "application/yaml"});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : link::HttpResponse{};
  }
  link::HttpResponse Admin(std::string method, std::string path, std::string body = "") {
    return Call(admin_tls_, std::move(method), std::move(path), std::move(body));
  }
  link::PeerIdentity AdminPeer() const {
    link::PeerIdentity peer;
    peer.authenticated = true;
    peer.uri_sans = {"spiffe://hub1/admin"};
    peer.serial_hex = admin_serial_;
    return peer;
  }
  // A TLS client with a fresh key and a certificate for it from the link CA (`uri` SAN, client auth).
  link::TlsContextPtr ClientFor(const std::string& uri, std::string* serial = nullptr) {
    auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    pki::LeafProfile profile{.uri_sans = {uri}, .client_auth = true};
    auto cert = pki::IssueLeaf(*link_ca_, *pki::Csr::Create(key, {}), profile, std::chrono::system_clock::now());
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    if (serial != nullptr) *serial = cert->serial_hex();
    return *link::TlsContext::Client({ca_pem_, cert->ToPem(), key.ToPem()});
  }
  static json::value Parse(const link::HttpResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v;
  }

  link::EventLoop loop_{1};
  std::string dir_;
  StorePtr store_;
  std::unique_ptr<RegistrationService> registration_;
  std::unique_ptr<ObjectService> objects_;
  metrics::Registry metrics_;
  FakeHubCore core_;
  std::unique_ptr<HubRoutes> routes_;
  std::unique_ptr<link::Server> server_;
  std::string base_;
  std::string ca_pem_;
  link::TlsContextPtr admin_tls_;
  link::TlsContextPtr anonymous_tls_;
  link::TlsContextPtr other_tls_;
  std::string admin_serial_;
  std::unique_ptr<pki::CaSigner> link_ca_;
};

TEST_F(ApiRoutesTest, HealthAndMetricsNeedNoCertificateReadyzWaitsForTheCore) {
  auto health = Call(anonymous_tls_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  auto metrics = Call(anonymous_tls_, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("vmesh_test_gauge 7"));

  auto not_ready = Call(anonymous_tls_, "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.content_type, "text/plain");
  EXPECT_FALSE(not_ready.body.empty());
  core_.ready = true;
  auto ready = Call(anonymous_tls_, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(ApiRoutesTest, OnlyTheAdminMayUseTheApi) {
  EXPECT_EQ(Call(anonymous_tls_, "GET", "/v1/objects/virtualmeshes").status, 401);
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/apply"},
                                                        {"GET", "/v1/objects/virtualmeshes"},
                                                        {"GET", "/v1/sessions"},
                                                        {"POST", "/v1/meshes/restart"},
                                                        {"POST", "/v1/preview"},
                                                        {"POST", "/v1/delete"}}) {
    auto r = Call(other_tls_, method, path, kVm);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_THAT(r.body, HasSubstr("admin credential")) << path;
  }
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty()) << "a refused apply wrote nothing";
}

// The admin SAN is not enough: a certificate from the link CA that claims the admin identity but whose serial was
// never pinned (e.g. minted by someone holding a copy of the link CA key, or an admin certificate issued by an
// older hub before rotation) is refused.
TEST_F(ApiRoutesTest, AdminCertificateMustBePinnedBySerial) {
  auto unpinned = ClientFor("spiffe://hub1/admin");
  auto r = Call(unpinned, "GET", "/v1/objects/virtualmeshes");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("not a credential this hub pinned"));
  EXPECT_EQ(Call(unpinned, "POST", "/v1/apply", kVm).status, 403);
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty());
  EXPECT_EQ(Admin("GET", "/v1/objects/virtualmeshes").status, 200);
}

// POST /v1/admin/rotate signs the CSR's key as the new admin credential and revokes the caller's.
TEST_F(ApiRoutesTest, AdminRotationRevokesTheCallersCertificate) {
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  const std::string csr = pki::Csr::Create(key, {})->ToPem();
  EXPECT_EQ(Call(other_tls_, "POST", "/v1/admin/rotate", json::serialize(json::object{{"csr", csr}})).status, 403);
  EXPECT_EQ(Admin("POST", "/v1/admin/rotate", "{}").status, 400);
  EXPECT_EQ(Admin("POST", "/v1/admin/rotate", R"({"csr": "not a csr"})").status, 400);
  EXPECT_EQ(Admin("GET", "/v1/objects/virtualmeshes").status, 200) << "refused rotations revoke nothing";

  auto r = Admin("POST", "/v1/admin/rotate", json::serialize(json::object{{"csr", csr}}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = Parse(r).as_object();
  auto cert = *pki::Certificate::FromPem(std::string(answer.at("certificate").as_string()));
  EXPECT_EQ(cert.serial_hex(), std::string(answer.at("serial").as_string()));
  EXPECT_TRUE(pki::KeyMatchesCertificate(key, cert).ok());
  auto rotated = *link::TlsContext::Client({ca_pem_, cert.ToPem(), key.ToPem()});

  auto old = Admin("GET", "/v1/objects/virtualmeshes");
  EXPECT_EQ(old.status, 403);
  EXPECT_THAT(old.body, HasSubstr("revoked"));
  EXPECT_EQ(Admin("POST", "/v1/admin/rotate", json::serialize(json::object{{"csr", csr}})).status, 403);
  EXPECT_EQ(Call(rotated, "GET", "/v1/objects/virtualmeshes").status, 200);
}

TEST_F(ApiRoutesTest, ApplyCreatesThenLeavesUnchangedAndTriggersReconcile) {
  auto created = Admin("POST", "/v1/apply", kVm);
  ASSERT_EQ(created.status, 200) << created.body;
  json::value v = Parse(created);
  EXPECT_EQ(v.at("messages").at(0).as_string(), "virtualmesh vmesh/vm1 created");
  const json::object& result = v.at("results").at(0).as_object();
  EXPECT_EQ(result.at("kind").as_string(), "VirtualMesh");
  EXPECT_EQ(result.at("namespace").as_string(), "vmesh");
  EXPECT_EQ(result.at("name").as_string(), "vm1");
  EXPECT_EQ(result.at("outcome").as_string(), "created");
  EXPECT_EQ(result.at("generation").to_number<int64_t>(), 1);
  EXPECT_EQ(core_.reconciles, 1);

  auto again = Admin("POST", "/v1/apply", kVm);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Parse(again).at("results").at(0).at("outcome").as_string(), "unchanged");
  EXPECT_EQ(core_.reconciles, 1) << "nothing changed, nothing to reconcile";
}

TEST_F(ApiRoutesTest, MalformedManifestIs400NamingTheFieldAndConflictIs409) {
  std::string bad = kVm;
  bad.replace(bad.find("mtlsConfig: {shared: {}}"), 24,
              "mtlsConfig: {shared: {rootCertificateAuthority: {generated: {ttlDays: ten}}}}");
  auto r = Admin("POST", "/v1/apply", bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_THAT(r.body, HasSubstr("spec.mtlsConfig.shared.rootCertificateAuthority.generated.ttlDays"));
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty());

  ASSERT_EQ(Admin("POST", "/v1/apply", kVm).status, 200);
  std::string stale = kVm;
  stale.replace(stale.find("metadata: {name: vm1}"), 21, "metadata: {name: vm1, resourceVersion: \"99999\"}");
  stale.replace(stale.find("permissive: {}"), 14, "flatNetwork: true");
  auto conflict = Admin("POST", "/v1/apply", stale);
  EXPECT_EQ(conflict.status, 409) << conflict.body;
}

TEST_F(ApiRoutesTest, GetListOneAndNotFound) {
  ASSERT_EQ(Admin("POST", "/v1/apply", kVm).status, 200);
  auto list = Admin("GET", "/v1/objects/virtualmeshes");
  ASSERT_EQ(list.status, 200) << list.body;
  json::value l = Parse(list);
  EXPECT_EQ(l.at("kind").as_string(), "List");
  ASSERT_EQ(l.at("items").as_array().size(), 1u);
  EXPECT_EQ(l.at("items").at(0).at("metadata").at("name").as_string(), "vm1");
  EXPECT_EQ(l.at("items").at(0).at("spec").at("meshes").at(0).at("name").as_string(), "istiod-istio-system-c1")
      << "protobuf JSON names";

  // Kinds in any accepted spelling; one object by name.
  EXPECT_EQ(Admin("GET", "/v1/objects/VirtualMesh").status, 200);
  EXPECT_EQ(Admin("GET", "/v1/objects/vm").status, 200);
  EXPECT_EQ(Parse(routes_->Api(link::HttpRequest{.method = "GET",
                                                 .target = "/v1/objects/VIRTUALMESH/vm1",
                                                 .path = "/v1/objects/VIRTUALMESH/vm1",
                                                 .peer = AdminPeer()}))
                .at("metadata")
                .at("name")
                .as_string(),
            "vm1");
  auto one = Admin("GET", "/v1/objects/virtualmeshes?name=vm1");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Parse(one).at("metadata").at("generation").to_number<int64_t>(), 1);

  auto missing = Admin("GET", "/v1/objects/virtualmeshes?name=nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("virtualmesh vmesh/nope not found"));
  EXPECT_EQ(Admin("GET", "/v1/objects/accesspolicies?name=nope").status, 404);

  // Discovery comes from the core.
  auto meshes = Admin("GET", "/v1/objects/meshes");
  ASSERT_EQ(meshes.status, 200);
  EXPECT_EQ(Parse(meshes).at("items").at(0).at("spec").at("cluster").as_string(), "c1");
  EXPECT_EQ(Admin("GET", "/v1/objects/meshes?name=istiod-istio-system-c1").status, 200);
  EXPECT_EQ(Admin("GET", "/v1/objects/workloads").status, 200);
  EXPECT_EQ(Admin("GET", "/v1/objects/certificates").status, 200);
  EXPECT_EQ(Parse(Admin("GET", "/v1/objects/clusters")).at("kind").as_string(), "List");
}

TEST_F(ApiRoutesTest, DeleteByManifestAndByName) {
  ASSERT_EQ(Admin("POST", "/v1/apply", kVm).status, 200);
  auto deleted = Admin("POST", "/v1/delete", kVm);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Parse(deleted).at("messages").at(0).as_string(), "virtualmesh vmesh/vm1 deleted");
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty());
  auto again = Admin("POST", "/v1/delete", kVm);
  EXPECT_EQ(again.status, 404);
  EXPECT_THAT(again.body, HasSubstr("vmesh/vm1 not found"));

  ASSERT_EQ(Admin("POST", "/v1/apply", kVm).status, 200);
  const int before = core_.reconciles;
  auto by_name = Admin("DELETE", "/v1/objects/virtualmesh?namespace=vmesh&name=vm1");
  ASSERT_EQ(by_name.status, 200) << by_name.body;
  EXPECT_THAT(by_name.body, HasSubstr("virtualmesh vmesh/vm1 deleted"));
  EXPECT_EQ(core_.reconciles, before + 1);
  EXPECT_EQ(Admin("DELETE", "/v1/objects/virtualmesh?namespace=vmesh&name=vm1").status, 404);
  // The path form, as routed by the handler.
  ASSERT_EQ(Admin("POST", "/v1/apply", kVm).status, 200);
  auto path_form = routes_->Api(link::HttpRequest{.method = "DELETE",
                                                  .target = "/v1/objects/virtualmeshes/vmesh/vm1",
                                                  .path = "/v1/objects/virtualmeshes/vmesh/vm1",
                                                  .peer = AdminPeer()});
  EXPECT_EQ(path_form.status, 200) << path_form.body;
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty());
  EXPECT_EQ(Admin("DELETE", "/v1/objects/meshes?name=istiod-istio-system-c1").status, 400) << "discovered: read-only";
}

TEST_F(ApiRoutesTest, PreviewReturnsPerClusterResources) {
  auto r = Admin("POST", "/v1/preview", kVm);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Parse(r);
  EXPECT_EQ(core_.previewed, "vm1");
  EXPECT_EQ(v.at("status").at("state").as_string(), "ACCEPTED");
  const json::array& c1 = v.at("clusters").at("c1").as_array();
  ASSERT_EQ(c1.size(), 2u);
  EXPECT_EQ(c1[0].at("name").as_string(), "cert/istiod-istio-system-c1");
  EXPECT_EQ(c1[0].at("certificate").at("virtualMesh").as_string(), "vmesh/vm1");
  EXPECT_EQ(c1[1].at("object").at("kind").as_string(), "ServiceEntry");
  EXPECT_TRUE(objects_->ListVirtualMeshes()->empty()) << "preview stores nothing";

  auto two = Admin("POST", "/v1/preview", std::string(kVm) + "---\n" + kVm);
  EXPECT_EQ(two.status, 400);
  EXPECT_THAT(two.body, HasSubstr("exactly one VirtualMesh"));
}

TEST_F(ApiRoutesTest, RotateRootStartsOrAbortsWithTheCoresAnswer) {
  auto started = Admin("POST", "/v1/virtualmeshes/rotate-root", R"({"name":"vm1"})");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_THAT(std::string(Parse(started).at("message").as_string()), HasSubstr("phase TRUST_BOTH"));
  EXPECT_EQ(Admin("POST", "/v1/virtualmeshes/rotate-root", R"({"name":"nope","namespace":"other"})").status, 404);
  auto refused = Admin("POST", "/v1/virtualmeshes/rotate-root", R"({"name":"vm1","abort":true})");
  EXPECT_EQ(refused.status, 409);
  EXPECT_THAT(refused.body, HasSubstr("last phase"));
  EXPECT_EQ(Admin("POST", "/v1/virtualmeshes/rotate-root", R"({})").status, 400);
  EXPECT_EQ(core_.rotations, (std::vector<std::string>{"start vmesh/vm1", "start other/nope", "abort vmesh/vm1"}));
  EXPECT_EQ(Call(other_tls_, "POST", "/v1/virtualmeshes/rotate-root", R"({"name":"vm1"})").status, 403);
}

TEST_F(ApiRoutesTest, MeshRestartAndSessions) {
  auto ok = Admin("POST", "/v1/meshes/restart", R"({"mesh":"istiod-istio-system-c1"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Parse(ok).at("requestId").as_string(), "restart-1");
  auto unknown = Admin("POST", "/v1/meshes/restart", R"({"mesh":"nope"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("mesh nope"));
  EXPECT_EQ(Admin("POST", "/v1/meshes/restart", R"({"cluster":"x"})").status, 400);

  auto sessions = Admin("GET", "/v1/sessions");
  ASSERT_EQ(sessions.status, 200);
  const json::value parsed = Parse(sessions);
  const json::value& s = parsed.at("items").at(0);
  EXPECT_EQ(s.at("cluster").as_string(), "c1");
  EXPECT_EQ(s.at("resourcesDesired").to_number<int>(), 3);
  EXPECT_EQ(s.at("inSync").as_bool(), false);
  EXPECT_EQ(s.at("rejected").at("kube/x").as_string(), "bad field");
}

TEST(ApiKindTest, AcceptsSpellings) {
  EXPECT_EQ(*ApiKind("VirtualMeshes"), "VirtualMesh");
  EXPECT_EQ(*ApiKind("vm"), "VirtualMesh");
  EXPECT_EQ(*ApiKind("accesspolicy"), "AccessPolicy");
  EXPECT_EQ(*ApiKind("Certs"), "Certificate");
  EXPECT_FALSE(ApiKind("pods").ok());
}

}  // namespace
}  // namespace vmesh::hub
