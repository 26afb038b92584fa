#include "common/kube/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/base/files.h"

namespace vmesh::kube {
namespace {

using ::testing::HasSubstr;

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-kubeconfig-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    EXPECT_TRUE(WriteFileAtomically(dir_ + "/" + name, content, 0600).ok());
    return dir_ + "/" + name;
  }
  std::string dir_;
};

constexpr char kKubeconfig[] = R"(apiVersion: v1
kind: Config
current-context: kind-c1
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0EgUEVN
- name: c2
  cluster:
    server: https://10.0.0.2:6443
    certificate-authority: ca.crt
users:
- name: admin
  user:
    token: s3cr3t
- name: cert-user
  user:
    client-certificate-data: Q0VSVA==
    client-key: key.pem
contexts:
- name: kind-c1
  context: {cluster: c1, user: admin, namespace: apps}
- name: c2
  context: {cluster: c2, user: cert-user}
)";

TEST_F(KubeConfigTest, CurrentContextWithTokenAndInlineCa) {
  auto cfg = LoadKubeconfig(Write("config", kKubeconfig));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "CA PEM");
  EXPECT_EQ(cfg->token, "s3cr3t");
  EXPECT_EQ(cfg->ns, "apps");
  EXPECT_EQ(cfg->context, "kind-c1");
}

TEST_F(KubeConfigTest, NamedContextWithFilesRelativeToTheKubeconfig) {
  Write("ca.crt", "FILE CA");
  Write("key.pem", "KEY");
  auto cfg = LoadKubeconfig(Write("config", kKubeconfig), "c2");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->ca_pem, "FILE CA");
  EXPECT_EQ(cfg->client_certificate_pem, "CERT");
  EXPECT_EQ(cfg->client_key_pem, "KEY");
  EXPECT_EQ(cfg->ns, "default");
}

TEST_F(KubeConfigTest, ErrorsNameTheFileAndTheField) {
  std::string path = Write("config", kKubeconfig);
  EXPECT_THAT(LoadKubeconfig(path, "nope").error().message, HasSubstr("context \"nope\" not found"));
  EXPECT_THAT(LoadKubeconfig(path, "c2").error().message, HasSubstr("clusters[c2].cluster.certificate-authority"));
  Write("ca.crt", "FILE CA");
  EXPECT_THAT(LoadKubeconfig(path, "c2").error().message, HasSubstr("users[cert-user].user.client-key"));
  EXPECT_THAT(LoadKubeconfig(dir_ + "/missing").error().message, HasSubstr("kubeconfig"));
  EXPECT_THAT(LoadKubeconfig(Write("bad", "clusters: [")).error().message, HasSubstr("invalid YAML"));
  EXPECT_THAT(ParseKubeconfig("users:\n- name: u\n  user:\n    exec: {command: aws}\ncontexts:\n- name: x\n  context: "
                              "{cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: https://x}\n",
                              dir_, "cfg", "x")
                  .error()
                  .message,
              HasSubstr("exec and auth-provider credentials are not supported"));
}

TEST_F(KubeConfigTest, InCluster) {
  std::filesystem::create_directory(dir_ + "/sa");
  Write("sa/token", "tok\n");
  Write("sa/ca.crt", "CA");
  Write("sa/namespace", "vmesh-system");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto cfg = InClusterConfig(getenv, dir_ + "/sa");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->server, "https://10.96.0.1:443");
  EXPECT_EQ(cfg->token, "tok");
  EXPECT_EQ(cfg->ns, "vmesh-system");
  env.clear();
  EXPECT_THAT(InClusterConfig(getenv, dir_ + "/sa").error().message, HasSubstr("give --kubeconfig"));
}

}  // namespace
}  // namespace vmesh::kube
