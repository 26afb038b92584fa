// vmeshctl against the real vmesh-hub (init + serve on port 0, no agents): the operator's workflow end to end
// through the hub's API — register, apply, get, describe, preview, check, delete, deregister — and a credential
// that does not trust the hub.
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

#include "common/base/files.h"
#include "common/base/test_paths.h"

namespace vmesh::cli {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

constexpr char kVirtualMesh[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared:
      rootCertificateAuthority:
        generated: {ttlDays: 365, rsaKeySizeBytes: 2048}
  federation:
    permissive: {}
  globalAccessPolicy: ENABLED
)";

class RealHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmeshctl-hub-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_EQ(Shell(Bin("hub/vmesh-hub") + " init --data-dir " + dir_ + "/hub >" + dir_ + "/init.log 2>&1"), 0);
    hub_pid_ = ::fork();
    ASSERT_GE(hub_pid_, 0);
    if (hub_pid_ == 0) {
      const std::string log = dir_ + "/serve.log";
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      if (f != nullptr) ::dup2(::fileno(stdout), 2);
      const std::string hub = Bin("hub/vmesh-hub");
      const std::string data = dir_ + "/hub";
      ::execl(hub.c_str(), hub.c_str(), "serve", "--data-dir", data.c_str(), "--agent-listen", "127.0.0.1:0",
              "--api-listen", "127.0.0.1:0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_TRUE(WaitFor([&] { return FileExists(dir_ + "/hub/endpoints.json"); }, 30s)) << ServeLog();
    auto endpoints = boost::json::parse(*ReadFile(dir_ + "/hub/endpoints.json"));
    api_url_ = std::string(endpoints.at("apiUrl").as_string());
    config_ = dir_ + "/hub/admin.vmeshconfig";
  }

  void TearDown() override {
    if (hub_pid_ > 0) {
      ::kill(hub_pid_, SIGTERM);
      int status = 0;
      bool reaped = WaitFor([&] { return ::waitpid(hub_pid_, &status, WNOHANG) == hub_pid_; }, 10s);
      if (!reaped) {
        ::kill(hub_pid_, SIGKILL);
        ::waitpid(hub_pid_, &status, 0);
      }
    }
    std::filesystem::remove_all(dir_);
  }

  static std::string Bin(const std::string& path) { return testpaths::BinaryDir() + "/" + path; }
  static int Shell(const std::string& cmd) {
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return condition();
  }
  std::string ServeLog() const { return ReadFile(dir_ + "/serve.log").ok() ? *ReadFile(dir_ + "/serve.log") : ""; }

  ProcessResult Ctl(const std::string& args, const std::string& config = "") {
    const std::string err_file = dir_ + "/stderr";
    std::string cmd = "VMESHCONFIG=" + (config.empty() ? config_ : config) + " " + Bin("hub/vmeshctl") + " " + args +
                      " 2>" + err_file;
    FILE* p = ::popen(cmd.c_str(), "r");
    ProcessResult result;
    std::array<char, 4096> buf;
    while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) result.out.append(buf.data(), n);
    int status = ::pclose(p);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(err_file).ok() ? *ReadFile(err_file) : "";
    return result;
  }

  std::string dir_;
  pid_t hub_pid_ = -1;
  std::string api_url_;
  std::string config_;
};

TEST_F(RealHubTest, OperatorWorkflow) {
  // The hub answers /readyz once its core has loaded; until then check says it is not ready.
  ASSERT_TRUE(WaitFor([&] { return Ctl("check").exit_code == 0; }, 30s)) << Ctl("check").out << ServeLog();
  EXPECT_THAT(Ctl("check").out, HasSubstr("ok: hub " + api_url_ + " ready; 0 cluster(s) connected"));

  const std::string bundle = dir_ + "/c1.bundle.yaml";
  ProcessResult registered = Ctl("cluster register cluster-1 --ttl 30m --out " + bundle);
  ASSERT_EQ(registered.exit_code, 0) << registered.err;
  EXPECT_THAT(*ReadFile(bundle), HasSubstr("token: "));
  struct stat st {};
  ASSERT_EQ(::stat(bundle.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(Ctl("cluster list").out, HasSubstr("cluster-1  REGISTERED"));

  ProcessResult unconnected = Ctl("check");
  EXPECT_EQ(unconnected.exit_code, 1);
  EXPECT_THAT(unconnected.out, HasSubstr("cluster cluster-1 is REGISTERED (its agent has never connected)"));

  const std::string manifest = dir_ + "/vm.yaml";
  ASSERT_TRUE(WriteFileAtomically(manifest, kVirtualMesh, 0644).ok());
  ProcessResult applied = Ctl("apply -f " + manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "virtualmesh vmesh/vm1 created\n");
  EXPECT_EQ(Ctl("apply -f " + manifest).out, "virtualmesh vmesh/vm1 unchanged\n");

  const std::string bad = dir_ + "/bad.yaml";
  std::string bad_text = kVirtualMesh;
  bad_text.replace(bad_text.find("ttlDays: 365"), 12, "ttlDays: ten");
  ASSERT_TRUE(WriteFileAtomically(bad, bad_text, 0644).ok());
  ProcessResult rejected = Ctl("apply -f " + bad);
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, HasSubstr("vmeshctl: apply -f " + bad + ": document 1, line 12: "));
  EXPECT_THAT(rejected.err, HasSubstr("ttlDays"));

  EXPECT_THAT(Ctl("get virtualmeshes").out, HasSubstr("vmesh      vm1"));
  ProcessResult one = Ctl("get vm vm1 -o json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto vm = boost::json::parse(one.out);
  EXPECT_EQ(vm.at("metadata").at("name").as_string(), "vm1");
  EXPECT_EQ(vm.at("metadata").at("generation").as_int64(), 1);

  ProcessResult described = Ctl("describe virtualmesh vm1");
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_THAT(described.out, HasSubstr("Name:         vm1"));
  EXPECT_THAT(described.out, HasSubstr("rsaKeySizeBytes: 2048"));
  EXPECT_THAT(described.out, HasSubstr("Certificates (latest issued per mesh):\n  none issued"));
  EXPECT_THAT(described.out, ::testing::Not(HasSubstr("Note:"))) << "every API the describe uses answered";

  ProcessResult preview = Ctl("preview -f " + manifest);
  ASSERT_EQ(preview.exit_code, 0) << preview.err;
  EXPECT_THAT(preview.out, HasSubstr("# state: PENDING"));

  ProcessResult restart = Ctl("mesh restart istiod-istio-system-nowhere");
  EXPECT_EQ(restart.exit_code, 1);
  EXPECT_THAT(restart.err, HasSubstr("vmeshctl: restart mesh istiod-istio-system-nowhere: "));

  EXPECT_EQ(Ctl("delete vm vm1").out, "virtualmesh vmesh/vm1 deleted\n");
  ProcessResult gone = Ctl("get vm vm1");
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("vmeshctl: get virtualmeshes vm1: "));
  EXPECT_THAT(gone.err, HasSubstr("not found"));

  EXPECT_EQ(Ctl("cluster deregister cluster-1").exit_code, 0);
  EXPECT_EQ(Ctl("cluster deregister cluster-1").exit_code, 1);
}

TEST_F(RealHubTest, ACredentialOfAnotherHubIsRefusedNamingTheUrl) {
  // Another hub's admin credential, pointed at this hub: its CA does not trust this hub's server certificate.
  ASSERT_EQ(Shell(Bin("hub/vmesh-hub") + " init --data-dir " + dir_ + "/other --api-url " + api_url_ + " >" + dir_ +
                  "/other.log 2>&1"),
            0);
  ProcessResult r = Ctl("get virtualmeshes", dir_ + "/other/admin.vmeshconfig");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("vmeshctl: get virtualmeshes: cannot reach the hub at " + api_url_ + ": "));
}

// `vmeshctl admin rotate`: a new key and certificate in the same (0600) file; the copy of the old credential is
// refused from then on, the new one works, and no key shows up in the hub's log.
TEST_F(RealHubTest, AdminRotateRevokesTheOldCredential) {
  const std::string old_copy = dir_ + "/old.vmeshconfig";
  ASSERT_TRUE(WriteFileAtomically(old_copy, *ReadFile(config_), 0600).ok());
  ProcessResult before = Ctl("cluster list", old_copy);
  ASSERT_EQ(before.exit_code, 0) << before.err;

  ProcessResult rotated = Ctl("admin rotate");
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_THAT(rotated.out, HasSubstr("admin credential rotated"));
  EXPECT_THAT(rotated.out, HasSubstr("is revoked"));
  struct stat st {};
  ASSERT_EQ(::stat(config_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(*ReadFile(config_), *ReadFile(old_copy));

  ProcessResult old = Ctl("cluster list", old_copy);
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_THAT(old.err, HasSubstr("revoked"));
  ProcessResult fresh = Ctl("cluster list");
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(Ctl("admin rotate", old_copy).exit_code, 1) << "a revoked credential cannot rotate itself back";
  EXPECT_EQ(Ctl("cluster list").exit_code, 0);
  EXPECT_EQ(ServeLog().find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace vmesh::cli
