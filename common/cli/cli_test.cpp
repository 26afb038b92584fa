#include "common/cli/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/files.h"

namespace vmesh::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

po::options_description Options() {
  po::options_description o("test");
  o.add_options()("data-dir", po::value<std::string>(), "dir")                        //
      ("advertise-host", po::value<std::vector<std::string>>()->composing(), "host")  //
      ("port", po::value<int>()->default_value(9900), "port");
  AddCommonOptions(o);
  return o;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& yaml) {
    std::string p = dir_ + "/config.yaml";
    EXPECT_TRUE(WriteFileAtomically(p, yaml, 0644).ok());
    return p;
  }
  std::string dir_;
};

TEST_F(CliTest, FlagsAndConfigFileCombineWithFlagsWinning) {
  std::string path = Write("data-dir: /from/file\nport: 1234\nadvertise-host: [a.example, 10.0.0.1]\n");
  auto vm = Parse({"--config", path, "--data-dir", "/from/flag"}, Options());
  ASSERT_TRUE(vm.ok()) << vm.error().message;
  EXPECT_EQ((*vm)["data-dir"].as<std::string>(), "/from/flag");
  EXPECT_EQ((*vm)["port"].as<int>(), 1234);
  EXPECT_THAT((*vm)["advertise-host"].as<std::vector<std::string>>(), ElementsAre("a.example", "10.0.0.1"));
  EXPECT_EQ((*vm)["log-level"].as<std::string>(), "info");
}

TEST_F(CliTest, ErrorsNameTheFlagOrFileLineAndKey) {
  EXPECT_THAT(Parse({"--bogus"}, Options()).error().message, HasSubstr("bogus"));
  EXPECT_THAT(Parse({"--port", "ten"}, Options()).error().message, HasSubstr("port"));
  std::string path = Write("data-dir: /x\ndata_dir: /y\n");
  EXPECT_THAT(Parse({"--config", path}, Options()).error().message,
              HasSubstr("config.yaml:2: unknown setting \"data_dir\""));
  path = Write("port: ten\n");
  EXPECT_THAT(Parse({"--config", path}, Options()).error().message, HasSubstr("config.yaml: "));
  path = Write("port: [1\n");
  EXPECT_THAT(Parse({"--config", path}, Options()).error().message, HasSubstr("invalid YAML"));
  EXPECT_THAT(Parse({"--config", dir_ + "/missing.yaml"}, Options()).error().message, HasSubstr("missing.yaml"));
}

}  // namespace
}  // namespace vmesh::cli
