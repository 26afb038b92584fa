// Runs the real vmesh-hub binary: exit codes, one-line reasons, what `init` leaves on disk, and `serve` as a
// separate process (ports, endpoints.json, the admin credential, TLS floor, the data-dir lock, SIGTERM).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/link/client.h"
#include "common/link/http.h"
#include "common/pki/aead.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"
#include "hub/store/store.h"
#include "vmesh/config/v1/config.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace {

using ::testing::HasSubstr;

struct ProcessResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

ProcessResult Hub(const std::string& args) {
  std::string cmd = vmesh::testpaths::BinaryDir() + "/hub/vmesh-hub " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class HubCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-hubcli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts `vmesh-hub serve ARGS...` with stdout and stderr going to `log`.
  pid_t StartServe(std::vector<std::string> args, const std::string& log) {
    const std::string binary = vmesh::testpaths::BinaryDir() + "/hub/vmesh-hub";
    args.insert(args.begin(), {binary, "serve"});
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    children_.push_back(pid);
    return pid;
  }
  // Exit code of a child (waits), -1 if it died of a signal.
  int Wait(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Waits (bounded) until `path` exists or the child exits; true when it exists. `exit_code` receives the child's
  // exit code when it exited.
  bool WaitForFile(const std::string& path, pid_t pid, int* exit_code = nullptr) {
    for (int i = 0; i < 1000; ++i) {
      if (std::filesystem::exists(path)) return true;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
        return std::filesystem::exists(path);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string dir_;
  std::vector<pid_t> children_;
};

ProcessResult Shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(HubCliTest, InitCreatesThenKeeps) {
  ProcessResult first = Hub("init --data-dir " + dir_ + "/d --hub-name hub-x --advertise-host hub.example");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("created link CA"));
  EXPECT_THAT(first.output, HasSubstr("hub hub-x initialized"));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/d/admin.vmeshconfig").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ProcessResult second = Hub("init --data-dir " + dir_ + "/d");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("kept    link CA"));
  EXPECT_THAT(second.output, HasSubstr("hub hub-x initialized")) << "the first name stays";
}

TEST_F(HubCliTest, ConfigFileSuppliesTheSameSettings) {
  std::string config = dir_ + "/hub.yaml";
  FILE* f = std::fopen(config.c_str(), "w");
  std::fprintf(f, "data-dir: %s/d\nhub-name: from-file\n", dir_.c_str());
  std::fclose(f);
  ProcessResult r = Hub("init --config " + config);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("hub from-file initialized"));
}

TEST_F(HubCliTest, BadInvocationsExitNonZeroWithOneLine) {
  for (const std::string& args : {std::string("init"), std::string("init --data-dir x --bogus"),
                                  std::string("frobnicate"), std::string("init --data-dir x --log-format xml"),
                                  std::string("init --data-dir " + dir_ + "/d --hub-name Not_Valid")}) {
    ProcessResult r = Hub(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_THAT(r.output, ::testing::StartsWith("vmesh-hub: ")) << args;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
  }
  ProcessResult help = Hub("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("vmesh-hub init --data-dir DIR"));
  EXPECT_THAT(help.output, HasSubstr("vmesh-hub serve --data-dir DIR"));
  EXPECT_THAT(Hub("serve --help").output, HasSubstr("--api-listen"));
  for (const char* flag : {"--store", "--kubeconfig", "--leader-elect-lease-duration", "--leader-elect-renew-deadline",
                           "--leader-elect-retry-period", "--leader-elect-lease-name", "--replica-id"}) {
    EXPECT_THAT(Hub("serve --help").output, HasSubstr(flag));
  }
  EXPECT_THAT(Hub("init --help").output, HasSubstr("--kubeconfig"));
}

TEST_F(HubCliTest, ServeRefusesBadFlagsWithOneLine) {
  ASSERT_EQ(Hub("init --data-dir " + dir_ + "/d").exit_code, 0);
  const std::string d = " --data-dir " + dir_ + "/d";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"serve" + d + " --bogus", "bogus"},
           {"serve" + d + " --kubeconfig " + dir_ + "/kc", "--kubeconfig needs --store kubernetes"},
           {"serve" + d + " --store etcd", "--store"},
           {"serve" + d + " --agent-listen nonsense", "--agent-listen"},
           {"serve" + d + " --idle-timeout soon", "--idle-timeout"},
           {"serve" + d + " --root-key-encryption-key-file " + dir_ + "/missing", "missing"},
           {"serve --data-dir " + dir_ + "/empty", "vmesh-hub init"},
           {"serve", "--data-dir"}}) {
    ProcessResult r = Hub(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_THAT(r.output, ::testing::StartsWith("vmesh-hub: ")) << args;
    EXPECT_THAT(r.output, HasSubstr(says)) << args;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
  }
}

// Leader-election flags are checked before anything starts, with either store; unsafe timings are refused with
// the reason.
TEST_F(HubCliTest, ServeRefusesBadLeaderElectionFlags) {
  ASSERT_EQ(Hub("init --data-dir " + dir_ + "/d").exit_code, 0);
  const std::string d = " --data-dir " + dir_ + "/d --store kubernetes";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"serve" + d + " --leader-elect-lease-duration soon", "--leader-elect-lease-duration"},
           {"serve" + d + " --leader-elect-renew-deadline 15s",
            "--leader-elect-renew-deadline 15s must be shorter than --leader-elect-lease-duration 15s"},
           {"serve" + d + " --leader-elect-lease-duration 5s",
            "--leader-elect-renew-deadline 10s must be shorter than --leader-elect-lease-duration 5s"},
           {"serve" + d + " --leader-elect-retry-period 10s",
            "--leader-elect-retry-period 10s must be shorter than --leader-elect-renew-deadline 10s"},
           {"serve" + d + " --leader-elect-retry-period 0s", "--leader-elect-retry-period"},
           {"serve" + d + " --leader-elect-lease-name Not_A_Name", "--leader-elect-lease-name"},
           {"serve" + d + " --replica-id \"\"", "--replica-id"},
           {"serve --data-dir " + dir_ + "/d --replica-id r1", "--replica-id needs --store kubernetes"}}) {
    ProcessResult r = Hub(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_THAT(r.output, ::testing::StartsWith("vmesh-hub: serve: ")) << args;
    EXPECT_THAT(r.output, HasSubstr(says)) << args;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
  }
}

// --store kubernetes needs a management cluster: an absent kubeconfig, no in-cluster service account, or an API
// server nobody answers at fail in one line, naming what is missing.
TEST_F(HubCliTest, ServeWithTheKubernetesStoreFailsClearlyWithoutACluster) {
  ASSERT_EQ(Hub("init --data-dir " + dir_ + "/d").exit_code, 0);
  const std::string d = " --data-dir " + dir_ + "/d --store kubernetes";
  ProcessResult absent = Hub("serve" + d + " --kubeconfig " + dir_ + "/absent.yaml");
  EXPECT_EQ(absent.exit_code, 2) << absent.output;
  EXPECT_THAT(absent.output, ::testing::StartsWith("vmesh-hub: serve: --kubeconfig " + dir_ + "/absent.yaml"));
  EXPECT_EQ(std::count(absent.output.begin(), absent.output.end(), '\n'), 1) << absent.output;

  ProcessResult no_cluster = Hub("serve" + d);  // (the test does not run in a pod)
  EXPECT_EQ(no_cluster.exit_code, 2) << no_cluster.output;
  EXPECT_THAT(no_cluster.output, HasSubstr("without --kubeconfig needs the in-cluster service account"));

  const std::string kubeconfig = dir_ + "/unreachable.yaml";
  ASSERT_TRUE(vmesh::WriteFileAtomically(kubeconfig,
                                         "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                         "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', "
                                         "insecure-skip-tls-verify: true}}]\n"
                                         "users: [{name: u, user: {token: t}}]\n"
                                         "contexts: [{name: c, context: {cluster: c, user: u}}]\n",
                                         0600)
                  .ok());
  ProcessResult unreachable = Hub("serve" + d + " --kubeconfig " + kubeconfig);
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;
  EXPECT_THAT(unreachable.output,
              ::testing::StartsWith("vmesh-hub: serve: cannot reach the Kubernetes API server https://127.0.0.1:1"));
  EXPECT_EQ(std::count(unreachable.output.begin(), unreachable.output.end(), '\n'), 1) << unreachable.output;

  ProcessResult init = Hub("init --data-dir " + dir_ + "/k --store kubernetes --kubeconfig " + kubeconfig);
  EXPECT_EQ(init.exit_code, 1) << init.output;
  EXPECT_THAT(init.output, HasSubstr("cannot reach the Kubernetes API server"));
}

// The bytes of the store files (hub.db and its WAL/shared-memory files).
std::string StoreBytes(const std::string& data) {
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (auto content = vmesh::ReadFile(data + "/hub.db" + suffix); content.ok()) bytes += *content;
  }
  return bytes;
}

std::string WriteKek(const std::string& path, char fill, mode_t mode) {
  EXPECT_TRUE(vmesh::WriteFileAtomically(path, std::string(64, fill) + "\n", mode).ok());
  return path;
}

// Like ssh with a private key: a key-encryption key file that group or others may read is refused, by init and
// by serve, with one line naming the file and its mode.
TEST_F(HubCliTest, KeyEncryptionKeyReadableByOthersIsRefused) {
  const std::string kek = WriteKek(dir_ + "/kek", 'a', 0644);
  const std::string data = dir_ + "/d";
  ProcessResult init = Hub("init --data-dir " + data + " --root-key-encryption-key-file " + kek);
  EXPECT_EQ(init.exit_code, 2);
  EXPECT_THAT(init.output, HasSubstr(kek + " has mode 0644"));
  EXPECT_EQ(std::count(init.output.begin(), init.output.end(), '\n'), 1) << init.output;
  EXPECT_FALSE(std::filesystem::exists(data + "/hub.db")) << "nothing created with a refused key";

  ASSERT_EQ(Hub("init --data-dir " + data).exit_code, 0);
  // Started like a real server: were the key accepted, it would serve (and this test would see endpoints.json).
  pid_t serve = StartServe({"--data-dir", data, "--agent-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                            "--root-key-encryption-key-file", kek},
                           dir_ + "/serve.log");
  int code = -1;
  EXPECT_FALSE(WaitForFile(data + "/endpoints.json", serve, &code)) << "served with a key others can read";
  EXPECT_EQ(code, 2);
  const std::string out = *vmesh::ReadFile(dir_ + "/serve.log");
  EXPECT_THAT(out, HasSubstr(kek + " has mode 0644"));
  EXPECT_THAT(out, HasSubstr("chmod 600"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  ASSERT_TRUE(vmesh::WriteFileAtomically(dir_ + "/short", "0123456789\n", 0600).ok());
  ProcessResult r = Hub("init --data-dir " + data + " --root-key-encryption-key-file " + dir_ + "/short");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("not a 256-bit key"));
}

// A hub initialized and run without a key-encryption key, with a root stored in plain; then served with one: the
// link CA key and the root key are sealed in place, no "PRIVATE KEY" is left in the store files, and the hub
// works. Then a wrong key, and no key, each fail with one line.
TEST_F(HubCliTest, ServeWithAKeyEncryptionKeySealsKeysStoredBeforeIt) {
  const std::string data = dir_ + "/d";
  ASSERT_EQ(Hub("init --data-dir " + data).exit_code, 0);
  auto root_key = *vmesh::pki::PrivateKey::Generate(vmesh::pki::KeySpec::EcdsaP256());
  {
    auto store = vmesh::hub::OpenSqliteStore(data + "/hub.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto root = *vmesh::pki::IssueRootCa(root_key, {.common_name = "old root"}, std::chrono::system_clock::now());
    ASSERT_TRUE((*store)
                    ->PutRootCaIfAbsent({"vmesh/old", root.ToPem(), "", root_key.ToPem(), "generated",
                                         std::chrono::system_clock::now()})
                    .ok());
  }
  ASSERT_NE(StoreBytes(data).find("PRIVATE KEY"), std::string::npos) << "precondition: stored in plain";

  const std::string kek = WriteKek(dir_ + "/kek", 'a', 0600);
  pid_t hub = StartServe({"--data-dir", data, "--agent-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                          "--root-key-encryption-key-file", kek},
                         dir_ + "/serve.log");
  ASSERT_TRUE(WaitForFile(data + "/endpoints.json", hub)) << *vmesh::ReadFile(dir_ + "/serve.log");
  vmesh::config::v1::AdminConfig admin;
  ASSERT_TRUE(vmesh::api::DecodeInto(*vmesh::ReadFile(data + "/admin.vmeshconfig"), &admin).empty());
  auto tls = *vmesh::link::TlsContext::Client({admin.hub_ca(), admin.client_certificate(), admin.client_key()});
  auto clusters = vmesh::link::Fetch(tls, {"GET", admin.hub_url() + "/v1/clusters", "", "application/json"});
  ASSERT_TRUE(clusters.ok()) << clusters.error().message;
  EXPECT_EQ(clusters->status, 200) << "the sealed link CA still serves";
  ::kill(hub, SIGTERM);
  EXPECT_EQ(Wait(hub), 0);
  const std::string log = *vmesh::ReadFile(dir_ + "/serve.log");
  EXPECT_THAT(log, HasSubstr("link CA sealed now; 1 root key(s) sealed now"));
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos) << "never log keys";

  EXPECT_EQ(StoreBytes(data).find("PRIVATE KEY"), std::string::npos) << "a plain key is left in the store files";
  {
    auto store = *vmesh::hub::OpenSqliteStore(data + "/hub.db");
    ASSERT_TRUE(vmesh::pki::IsSealed((*store->GetLinkCa())->key_pem));
    auto root = *store->GetRootCa("vmesh/old");
    ASSERT_TRUE(root.has_value());
    ASSERT_TRUE(vmesh::pki::IsSealed(root->key_pem));
    EXPECT_EQ(vmesh::pki::Open(std::string(32, '\xaa'), root->key_pem, "vmesh/old")->value(), root_key.ToPem());
  }

  const std::string wrong = WriteKek(dir_ + "/wrong", 'b', 0600);
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--root-key-encryption-key-file", wrong}, "wrong --root-key-encryption-key-file"},
           {{}, "start the hub with --root-key-encryption-key-file"}}) {
    std::vector<std::string> argv = {"--data-dir",  data,           "--agent-listen",
                                     "127.0.0.1:0", "--api-listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t refused = StartServe(argv, dir_ + "/refused.log");
    int code = -1;
    EXPECT_FALSE(WaitForFile(data + "/endpoints.json", refused, &code)) << says;
    EXPECT_EQ(code, 1) << says;
    const std::string out = *vmesh::ReadFile(dir_ + "/refused.log");
    EXPECT_THAT(out, HasSubstr(says));
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

TEST_F(HubCliTest, ServeOnPortZeroPublishesItsEndpointsAndStopsOnSigterm) {
  const std::string data = dir_ + "/d";
  ASSERT_EQ(Hub("init --data-dir " + data + " --hub-name hub-s").exit_code, 0);
  pid_t hub = StartServe({"--data-dir", data, "--agent-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"},
                         dir_ + "/serve.log");
  ASSERT_TRUE(WaitForFile(data + "/endpoints.json", hub)) << *vmesh::ReadFile(dir_ + "/serve.log");

  boost::json::value endpoints = boost::json::parse(*vmesh::ReadFile(data + "/endpoints.json"));
  const std::string api_url(endpoints.at("apiUrl").as_string());
  const std::string agent_url(endpoints.at("agentUrl").as_string());
  ASSERT_THAT(api_url, ::testing::StartsWith("https://127.0.0.1:"));
  ASSERT_THAT(agent_url, ::testing::StartsWith("wss://127.0.0.1:"));
  EXPECT_NE(api_url, "https://127.0.0.1:0");

  // admin.vmeshconfig now names the bound API port, and its credential works there.
  vmesh::config::v1::AdminConfig admin;
  ASSERT_TRUE(vmesh::api::DecodeInto(*vmesh::ReadFile(data + "/admin.vmeshconfig"), &admin).empty());
  EXPECT_EQ(admin.hub_url(), api_url);
  struct stat st {};
  ASSERT_EQ(::stat((data + "/admin.vmeshconfig").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto tls = vmesh::link::TlsContext::Client({admin.hub_ca(), admin.client_certificate(), admin.client_key()});
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  auto health = vmesh::link::Fetch(*tls, {"GET", admin.hub_url() + "/healthz", "", "text/plain"});
  ASSERT_TRUE(health.ok()) << health.error().message;
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  auto clusters = vmesh::link::Fetch(*tls, {"GET", admin.hub_url() + "/v1/clusters", "", "application/json"});
  ASSERT_TRUE(clusters.ok()) << clusters.error().message;
  EXPECT_EQ(clusters->status, 200) << clusters->body;

  // The real core behind the API: ready after its first reconcile, applies, lists, and exports metrics.
  auto fetch = [&](std::string method, std::string path, std::string body = "") {
    auto r = vmesh::link::Fetch(*tls, {std::move(method), api_url + path, std::move(body), "application/yaml"});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : vmesh::link::HttpResponse{};
  };
  int ready = 0;
  for (int i = 0; i < 500 && (ready = fetch("GET", "/readyz").status) != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ready, 200);
  const std::string vm =
      "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: vm1}\nspec:\n"
      "  meshes: [{name: istiod-istio-system-c1}]\n  mtlsConfig: {shared: {}}\n";
  auto applied = fetch("POST", "/v1/apply", vm);
  EXPECT_EQ(applied.status, 200) << applied.body;
  EXPECT_THAT(applied.body, HasSubstr("virtualmesh vmesh/vm1 created"));
  auto listed = fetch("GET", "/v1/objects/virtualmeshes");
  EXPECT_EQ(listed.status, 200);
  EXPECT_THAT(listed.body, HasSubstr("\"vm1\""));
  EXPECT_THAT(fetch("GET", "/metrics").body, HasSubstr("vmesh_hub_connected_agents"));

  // Registration hands out the bound agent endpoint, and bootstrap works there.
  auto registered = fetch("POST", "/v1/clusters", R"({"name":"c1"})");
  ASSERT_EQ(registered.status, 201) << registered.body;
  vmesh::config::v1::BootstrapBundle bundle;
  ASSERT_TRUE(vmesh::api::DecodeInto(registered.body, &bundle).empty()) << registered.body;
  EXPECT_EQ(bundle.hub_url(), agent_url);
  auto agent_key = *vmesh::pki::PrivateKey::Generate(vmesh::pki::KeySpec::EcdsaP256());
  vmesh::link::v1::BootstrapRequest boot;
  boot.set_cluster_name("c1");
  boot.set_token(bundle.token());
  boot.set_csr_pem(vmesh::pki::Csr::Create(agent_key, {})->ToPem());
  auto anonymous = *vmesh::link::TlsContext::Client({bundle.hub_ca(), "", ""});
  const std::string bootstrap_url = "https" + agent_url.substr(3) + "/v1/bootstrap";
  auto booted =
      vmesh::link::Fetch(anonymous, {"POST", bootstrap_url, boot.SerializeAsString(), "application/x-protobuf"});
  ASSERT_TRUE(booted.ok()) << booted.error().message;
  EXPECT_EQ(booted->status, 200) << booted->body;

  // TLS below 1.2 is refused on the agent endpoint (the client is allowed to offer 1.1; the server says no),
  // while 1.2 completes.
  const std::string agent_port = agent_url.substr(agent_url.rfind(':') + 1);
  ProcessResult tls11 =
      Shell("openssl s_client -tls1_1 -cipher DEFAULT@SECLEVEL=0 -connect 127.0.0.1:" + agent_port + " </dev/null");
  EXPECT_NE(tls11.exit_code, 0) << tls11.output;
  EXPECT_THAT(tls11.output, HasSubstr("protocol version"));
  ProcessResult tls12 = Shell("openssl s_client -tls1_2 -connect 127.0.0.1:" + agent_port + " </dev/null");
  EXPECT_EQ(tls12.exit_code, 0) << tls12.output;
  EXPECT_THAT(tls12.output, HasSubstr("TLSv1.2"));

  // One server per data directory.
  ProcessResult second = Hub("serve --data-dir " + data + " --agent-listen 127.0.0.1:0 --api-listen 127.0.0.1:0");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.output, HasSubstr("serve.lock"));
  EXPECT_EQ(std::count(second.output.begin(), second.output.end(), '\n'), 1) << second.output;

  ASSERT_EQ(::kill(hub, SIGTERM), 0);
  EXPECT_EQ(Wait(hub), 0) << *vmesh::ReadFile(dir_ + "/serve.log");
  EXPECT_THAT(*vmesh::ReadFile(dir_ + "/serve.log"), HasSubstr("serving agents on " + agent_url));

  // The lock went with the process: serve starts again on the same directory.
  std::filesystem::remove(data + "/endpoints.json");
  pid_t again = StartServe({"--data-dir", data, "--agent-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"},
                           dir_ + "/serve2.log");
  ASSERT_TRUE(WaitForFile(data + "/endpoints.json", again)) << *vmesh::ReadFile(dir_ + "/serve2.log");
  ASSERT_EQ(::kill(again, SIGINT), 0);
  EXPECT_EQ(Wait(again), 0);
}

}  // namespace
