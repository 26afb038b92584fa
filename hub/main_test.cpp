// Runs the real vmesh-hub binary: exit codes, one-line reasons, and what `init` leaves on disk.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "common/base/test_paths.h"

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
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

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
}

}  // namespace
