// The admin credential and the error messages vmeshctl takes from the hub's answers.
#include "hub/cli/ctl_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/files.h"

namespace vmesh::cli {
namespace {

using ::testing::HasSubstr;

TEST(ServerMessage, TextJsonStatusOrTheCode) {
  EXPECT_EQ(ServerMessage(link::HttpResponse::Text(404, "virtualmesh vmesh/x not found\n")),
            "virtualmesh vmesh/x not found");
  EXPECT_EQ(ServerMessage(link::HttpResponse{
                403, "application/json", R"({"kind":"Status","code":403,"message":"not the admin\n"})", {}}),
            "not the admin");
  EXPECT_EQ(ServerMessage(link::HttpResponse::Text(502, "")), "HTTP 502");
  EXPECT_EQ(ServerMessage(link::HttpResponse::Text(400, "line one\nline two\n")), "line one\nline two");
}

class AdminConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmeshctl-config-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& text) {
    std::string path = dir_ + "/admin.vmeshconfig";
    EXPECT_TRUE(WriteFileAtomically(path, text, 0600).ok());
    return path;
  }
  std::string dir_;
};

TEST_F(AdminConfigTest, ErrorsNameTheFileAndWhatIsWrong) {
  auto missing = LoadAdminConfig(dir_ + "/absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("reading the admin credential " + dir_ + "/absent"));

  auto incomplete = LoadAdminConfig(Write("apiVersion: vmesh.dev/v1\nkind: AdminConfig\nhubUrl: https://h:9901\n"));
  ASSERT_FALSE(incomplete.ok());
  EXPECT_THAT(incomplete.error().message, HasSubstr("lacks hubCa clientCertificate clientKey"));

  auto typo = LoadAdminConfig(Write("hubURL: https://h:9901\n"));
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.error().message, HasSubstr("hubURL"));

  auto bad_pem = LoadAdminConfig(Write("hubUrl: https://h:9901\nhubCa: x\nclientCertificate: y\nclientKey: z\n"));
  ASSERT_TRUE(bad_pem.ok()) << "decoding succeeds; the PEMs are checked when the client is created";
  EXPECT_FALSE(HubClient::Create(*bad_pem).ok());
}

}  // namespace
}  // namespace vmesh::cli
