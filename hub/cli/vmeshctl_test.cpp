// Runs the real vmeshctl binary against an HTTPS server with canned API answers (the hub's TLS set-up: server
// certificate and admin credential from `vmesh-hub init`): outputs, exit codes, what it sends, and its errors.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/base/time.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "hub/init/hub_init.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace json = boost::json;

struct Recorded {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class VmeshctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmeshctl-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(hub::InitHub({.data_dir = dir_ + "/hub", .hub_name = "hub1"}, std::chrono::system_clock::now()).ok());
    ASSERT_TRUE(api::DecodeInto(*ReadFile(hub::AdminConfigPath(dir_ + "/hub")), &admin_).empty());
    auto tls = link::TlsContext::Server({*ReadFile(hub::ServerCertificatePath(dir_ + "/hub")),
                                         *ReadFile(hub::ServerKeyPath(dir_ + "/hub")), admin_.hub_ca()});
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    server_ = std::make_unique<link::Server>(loop_.context(), link::ServerOptions{.tls = *tls});
    not_after_ = FormatRfc3339(std::chrono::system_clock::now() + std::chrono::hours(24 * 30));
    SetCannedAnswers();
    ASSERT_TRUE(server_->Start().ok());
    url_ = "https://127.0.0.1:" + std::to_string(server_->port());
    config_ = WriteConfig("admin.vmeshconfig", url_);
  }
  void TearDown() override {
    server_->Stop();
    loop_.Stop();
    std::filesystem::remove_all(dir_);
  }

  // The admin credential pointing at `url`.
  std::string WriteConfig(const std::string& name, const std::string& url) {
    config::v1::AdminConfig admin = admin_;
    admin.set_hub_url(url);
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, api::Encode(admin, api::Format::kYaml), 0600).ok());
    return path;
  }

  link::HttpResponse Json(int status, const std::string& body) {
    return link::HttpResponse{status, "application/json", body, {}};
  }

  // Serves `path` with `answer`, after the admin check, recording every request.
  void Route(const std::string& path, std::function<link::HttpResponse(const link::HttpRequest&)> answer) {
    server_->Handle(path,
                    link::HttpRoute{link::ClientCertPolicy::kRequired, [this, answer](const link::HttpRequest& r) {
                                      {
                                        std::lock_guard lock(mu_);
                                        requests_.push_back({r.method, r.target, r.body, r.header("Content-Type")});
                                      }
                                      if (forbid_ || r.peer.spiffe_id() != "spiffe://hub1/admin") {
                                        return link::HttpResponse::Text(
                                            403,
                                            "this API needs the hub's admin credential (admin.vmeshconfig); "
                                            "spiffe://hub1/cluster/c1 is not it\n");
                                      }
                                      return answer(r);
                                    }});
  }

  void SetCannedAnswers() {
    server_->Handle("/readyz", link::HttpRoute{link::ClientCertPolicy::kOptional, [this](const link::HttpRequest&) {
                                                 return ready_ ? link::HttpResponse::Text(200, "ready\n")
                                                               : link::HttpResponse::Text(503, "store not open yet\n");
                                               }});
    Route("/v1/objects/virtualmeshes", [this](const link::HttpRequest& r) {
      if (r.method == "DELETE") return Json(200, R"({"messages":["virtualmesh vmesh/vm1 deleted"]})");
      if (r.target.find("name=nope") != std::string::npos) {
        return link::HttpResponse::Text(404, "virtualmesh vmesh/nope not found\n");
      }
      if (r.target.find("name=vm1") != std::string::npos) return Json(200, VirtualMeshJson());
      return Json(200, R"({"apiVersion":"v1","kind":"List","items":[)" + VirtualMeshJson() + "]}");
    });
    auto clusters = [this](const link::HttpRequest&) {
      std::string state = Get(cluster2_state_);
      return Json(200, R"({"apiVersion":"v1","kind":"List","items":[
        {"metadata":{"name":"c1","namespace":"vmesh"},"status":{"state":"CONNECTED","agentVersion":"0.1.0",
         "lastHeartbeat":")" +
                           FormatRfc3339(std::chrono::system_clock::now()) +
                           R"("}},
        {"metadata":{"name":"c2","namespace":"vmesh"},"status":{"state":")" +
                           state + R"("}}]})");
    };
    Route("/v1/clusters", [this, clusters](const link::HttpRequest& r) {
      if (r.method == "GET") return clusters(r);
      return link::HttpResponse{201,
                                "application/yaml",
                                "apiVersion: vmesh.dev/v1\nkind: BootstrapBundle\ncluster: c3\nhubUrl: wss://h:9900\n"
                                "token: secret-token\n",
                                {}};
    });
    Route("/v1/objects/clusters", clusters);
    Route("/v1/objects/certificates", [this](const link::HttpRequest&) {
      return Json(200, R"({"apiVersion":"v1","kind":"List","items":[
        {"serial":"c0ffee0000000000000001","virtualMesh":"vmesh/vm1","mesh":"istiod-istio-system-c1",
         "cluster":"c1","notBefore":"2026-01-01T00:00:00Z","notAfter":")" +
                           Get(cert_not_after_) + R"(","publicKeyFingerprint":"ab",
         "issuedAt":"2026-01-01T00:00:00Z"}]})");
    });
    Route("/v1/objects/meshes", [this](const link::HttpRequest&) {
      return Json(200, R"({"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"istiod-istio-system-c1",
        "namespace":"vmesh"},"spec":{"cluster":"c1","installationNamespace":"istio-system","istioVersion":"1.20.3"}}]})");
    });
    Route("/v1/apply", [this](const link::HttpRequest& r) {
      if (r.body.find("ttlDays: ten") != std::string::npos) {
        return link::HttpResponse::Text(
            400,
            "document 1, line 9: VirtualMesh vmesh/vm1: spec.mtlsConfig.shared.rootCertificateAuthority.generated."
            "ttlDays: expected an unsigned integer, got \"ten\"\n"
            "document 1, line 12: VirtualMesh vmesh/vm1: spec.federation.hostnameSuffix: \"-bad\" is not a DNS name\n");
      }
      return Json(200, R"({"results":[{"kind":"VirtualMesh","namespace":"vmesh","name":"vm1","outcome":"created",
        "generation":1,"note":""}],"messages":["virtualmesh vmesh/vm1 created"]})");
    });
    Route("/v1/preview", [this](const link::HttpRequest&) {
      return Json(200, R"({"status":{"state":"PENDING"},"clusters":{"c1":[{"name":"vmesh-global-deny","object":
        {"apiVersion":"security.istio.io/v1beta1","kind":"AuthorizationPolicy","metadata":{"name":"vmesh-global-deny",
        "namespace":"istio-system"},"spec":{}}}]}})");
    });
    Route("/v1/meshes/restart", [this](const link::HttpRequest&) { return Json(200, R"({"requestId":"r-42"})"); });
  }

  std::string VirtualMeshJson() {
    return R"({"apiVersion":"networking.vmesh.dev/v1","kind":"VirtualMesh","metadata":{"name":"vm1","namespace":"vmesh",
      "generation":)" +
           std::to_string(vm_generation_.load()) + R"(,"creationTimestamp":"2026-01-01T00:00:00Z"},
      "spec":{"meshes":[{"name":"istiod-istio-system-c1","namespace":"vmesh"}],"mtlsConfig":{"autoRestartPods":true,
      "shared":{}}},
      "status":{"observedGeneration":2,"state":"ACCEPTED","meshes":{"istiod-istio-system-c1.vmesh":{"state":"ACCEPTED",
      "certificate":{"serial":"c0ffee0000000000000001","notAfter":")" +
           not_after_ +
           R"(","phase":"INSTALLED"},"federatedDestinations":3,"appliedOutputs":7,"agentConnected":true}}}})";
  }

  ProcessResult Ctl(const std::string& args, const std::string& config = "", const std::string& stdin_file = "") {
    const std::string err_file = dir_ + "/stderr";
    std::string cmd = testpaths::BinaryDir() + "/hub/vmeshctl --config " + (config.empty() ? config_ : config) + " " +
                      args + " 2>" + err_file + (stdin_file.empty() ? "" : " <" + stdin_file);
    FILE* p = ::popen(cmd.c_str(), "r");
    ProcessResult result;
    std::array<char, 4096> buf;
    while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) result.out.append(buf.data(), n);
    int status = ::pclose(p);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(err_file).ok() ? *ReadFile(err_file) : "";
    return result;
  }

  // Canned values the test changes between runs; the server thread reads them.
  std::string Get(const std::string& field) {
    std::lock_guard lock(mu_);
    return field;
  }
  void Set(std::string& field, std::string value) {
    std::lock_guard lock(mu_);
    field = std::move(value);
  }

  std::vector<Recorded> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::optional<Recorded> LastRequestTo(const std::string& prefix) {
    auto all = Requests();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->target.rfind(prefix, 0) == 0) return *it;
    }
    return std::nullopt;
  }

  link::EventLoop loop_{1};
  std::string dir_;
  config::v1::AdminConfig admin_;
  std::unique_ptr<link::Server> server_;
  std::string url_;
  std::string config_;
  std::string not_after_;
  std::mutex mu_;
  std::vector<Recorded> requests_;
  std::atomic<bool> forbid_{false};
  std::atomic<bool> ready_{true};
  std::atomic<int64_t> vm_generation_{2};
  std::string cluster2_state_ = "CONNECTED";             // guarded by mu_
  std::string cert_not_after_ = "2099-01-01T00:00:00Z";  // guarded by mu_
};

TEST_F(VmeshctlTest, GetPrintsTablesAndApiObjects) {
  ProcessResult vms = Ctl("get virtualmeshes");
  ASSERT_EQ(vms.exit_code, 0) << vms.err;
  EXPECT_THAT(vms.out, HasSubstr("NAMESPACE  NAME  STATE     MESHES READY  OBSERVED/GENERATION  AGE"));
  EXPECT_THAT(vms.out, HasSubstr("vmesh      vm1   ACCEPTED  1/1           2/2"));

  ProcessResult one = Ctl("get vm vm1 -o json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto parsed = json::parse(one.out);
  EXPECT_EQ(parsed.at("metadata").at("name").as_string(), "vm1");
  EXPECT_EQ(LastRequestTo("/v1/objects/virtualmeshes")->target, "/v1/objects/virtualmeshes?name=vm1");

  ProcessResult yaml = Ctl("-o yaml get clusters");
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_THAT(yaml.out, HasSubstr("kind: List"));
  EXPECT_THAT(yaml.out, HasSubstr("name: c1"));

  ProcessResult clusters = Ctl("cluster list");
  ASSERT_EQ(clusters.exit_code, 0) << clusters.err;
  EXPECT_THAT(clusters.out, HasSubstr("c1    CONNECTED  0.1.0"));

  ProcessResult certs = Ctl("get certificates");
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  EXPECT_THAT(certs.out,
              HasSubstr("c0ffee0000000000  vmesh/vm1    istiod-istio-system-c1  c1       2099-01-01T00:00:00Z"));

  ProcessResult missing = Ctl("get virtualmesh nope");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "vmeshctl: get virtualmeshes nope: virtualmesh vmesh/nope not found\n");
}

TEST_F(VmeshctlTest, DescribeCombinesStatusCertificatesAndAgents) {
  ProcessResult d = Ctl("describe virtualmesh vm1");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("State:        ACCEPTED"));
  EXPECT_THAT(d.out, HasSubstr("istiod-istio-system-c1.vmesh  ACCEPTED  c0ffee0000000000  " + not_after_ + "  3"));
  EXPECT_THAT(d.out, HasSubstr("Certificates (latest issued per mesh):"));
  EXPECT_THAT(d.out, HasSubstr("c0ffee0000000000000001"));
  EXPECT_THAT(d.out, HasSubstr("c1       CONNECTED"));
  EXPECT_THAT(d.out, Not(HasSubstr("Note:")));
}

TEST_F(VmeshctlTest, ApplySendsTheManifestAndPrintsOutcomes) {
  const std::string manifest =
      "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: vm1, namespace: vmesh}\nspec: {}\n";
  const std::string file = dir_ + "/vm.yaml";
  ASSERT_TRUE(WriteFileAtomically(file, manifest, 0644).ok());
  ProcessResult applied = Ctl("apply -f " + file);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "virtualmesh vmesh/vm1 created\n");
  auto request = LastRequestTo("/v1/apply");
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->body, manifest);
  EXPECT_EQ(request->content_type, "application/yaml");

  ProcessResult from_stdin = Ctl("apply -f -", "", file);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(LastRequestTo("/v1/apply")->body, manifest);

  const std::string bad = dir_ + "/bad.yaml";
  ASSERT_TRUE(WriteFileAtomically(bad, manifest + "# ttlDays: ten\n", 0644).ok());
  ProcessResult rejected = Ctl("apply -f " + bad);
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_EQ(
      rejected.err,
      "vmeshctl: apply -f " + bad +
          ": document 1, line 9: VirtualMesh vmesh/vm1: spec.mtlsConfig.shared.rootCertificateAuthority.generated."
          "ttlDays: expected an unsigned integer, got \"ten\"\n"
          "vmeshctl: apply -f " +
          bad +
          ": document 1, line 12: VirtualMesh vmesh/vm1: spec.federation.hostnameSuffix: \"-bad\" is not a "
          "DNS name\n");

  ProcessResult no_file = Ctl("apply -f " + dir_ + "/absent.yaml");
  EXPECT_EQ(no_file.exit_code, 1);
  EXPECT_THAT(no_file.err, HasSubstr("vmeshctl: apply -f " + dir_ + "/absent.yaml: "));
}

TEST_F(VmeshctlTest, DeleteRestartPreviewAndRegister) {
  ProcessResult deleted = Ctl("delete vm vm1");
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "virtualmesh vmesh/vm1 deleted\n");
  auto del = LastRequestTo("/v1/objects/virtualmeshes");
  EXPECT_EQ(del->method, "DELETE");
  EXPECT_EQ(del->target, "/v1/objects/virtualmeshes?name=vm1&namespace=vmesh");

  ProcessResult restart = Ctl("mesh restart istiod-istio-system-c1");
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_THAT(restart.out, HasSubstr("istiod-istio-system-c1 requested (request r-42)"));
  EXPECT_EQ(json::parse(LastRequestTo("/v1/meshes/restart")->body).at("mesh").as_string(), "istiod-istio-system-c1");

  const std::string file = dir_ + "/vm.json";
  ASSERT_TRUE(WriteFileAtomically(file, R"({"kind":"VirtualMesh"})", 0644).ok());
  ProcessResult preview = Ctl("preview -f " + file);
  ASSERT_EQ(preview.exit_code, 0) << preview.err;
  EXPECT_THAT(preview.out, HasSubstr("# state: PENDING\n# cluster: c1\n---\napiVersion: security.istio.io/v1beta1\n"));
  EXPECT_EQ(LastRequestTo("/v1/preview")->content_type, "application/json");

  const std::string bundle = dir_ + "/c3.bootstrap.yaml";
  ProcessResult registered = Ctl("cluster register c3 --ttl 30m --out " + bundle);
  ASSERT_EQ(registered.exit_code, 0) << registered.err;
  EXPECT_THAT(registered.out, HasSubstr("written to " + bundle));
  EXPECT_THAT(registered.out, Not(HasSubstr("secret-token")));
  EXPECT_THAT(*ReadFile(bundle), HasSubstr("token: secret-token"));
  struct stat st {};
  ASSERT_EQ(::stat(bundle.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto body = json::parse(LastRequestTo("/v1/clusters")->body);
  EXPECT_EQ(body.at("name").as_string(), "c3");
  EXPECT_EQ(body.at("ttl").as_string(), "30m");

  ProcessResult printed = Ctl("cluster register c3");
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(printed.out, HasSubstr("token: secret-token"));
}

TEST_F(VmeshctlTest, NotAdminIsAClearError) {
  forbid_ = true;
  ProcessResult r = Ctl("get virtualmeshes");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "vmeshctl: get virtualmeshes: this API needs the hub's admin credential (admin.vmeshconfig); "
            "spiffe://hub1/cluster/c1 is not it\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(VmeshctlTest, UnreachableHubNamesTheUrl) {
  const std::string url = "https://127.0.0.1:" + std::to_string(ClosedPort());
  const std::string config = WriteConfig("down.vmeshconfig", url);
  ProcessResult get = Ctl("get meshes", config);
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.err, HasSubstr("vmeshctl: get meshes: cannot reach the hub at " + url + ": "));

  ProcessResult check = Ctl("check", config);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.out, HasSubstr("cannot reach the hub at " + url));
}

TEST_F(VmeshctlTest, CheckExitCodes) {
  ProcessResult healthy = Ctl("check");
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_THAT(healthy.out, HasSubstr("ok: hub " + url_ + " ready; 2 cluster(s) connected; 1 virtualmesh(es)"));

  Set(cluster2_state_, "DISCONNECTED");
  vm_generation_ = 3;
  Set(cert_not_after_, FormatRfc3339(std::chrono::system_clock::now() + std::chrono::hours(50)));
  ProcessResult sick = Ctl("check");
  EXPECT_EQ(sick.exit_code, 1);
  EXPECT_THAT(sick.out, HasSubstr("cluster c2 is DISCONNECTED (its agent has never connected)\n"));
  EXPECT_THAT(sick.out,
              HasSubstr("virtualmesh vmesh/vm1: status describes generation 2 but the spec is at generation 3"));
  EXPECT_THAT(sick.out,
              HasSubstr("certificate c0ffee0000000000 of mesh istiod-istio-system-c1 (cluster c1) expires in"));
  EXPECT_THAT(sick.out, Not(HasSubstr("ok:")));

  ready_ = false;
  ProcessResult unready = Ctl("check");
  EXPECT_EQ(unready.exit_code, 1);
  EXPECT_THAT(unready.out, HasSubstr("hub at " + url_ + " is not ready: store not open yet"));
}

}  // namespace
}  // namespace vmesh::cli
