#include "common/base/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace vmesh {
namespace {

using ::testing::HasSubstr;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-files-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }
  std::string dir_;
};

TEST_F(FilesTest, AtomicWriteReplacesWithTheRequestedMode) {
  std::string p = dir_ + "/key.pem";
  ::umask(0);
  ASSERT_TRUE(WriteFileAtomically(p, "one", 0600).ok());
  EXPECT_EQ(Mode(p), 0600u);
  ASSERT_TRUE(WriteFileAtomically(p, "two", 0600).ok());
  EXPECT_EQ(*ReadFile(p), "two");
  ::umask(022);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1) << "no temporary files left";
}

TEST_F(FilesTest, WriteNewFileNeverReplaces) {
  std::string p = dir_ + "/admin.vmeshconfig";
  ASSERT_TRUE(WriteNewFile(p, "first", 0600).ok());
  Status again = WriteNewFile(p, "second", 0600);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("already exists"));
  EXPECT_EQ(*ReadFile(p), "first");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(FilesTest, ErrorsNameThePath) {
  EXPECT_THAT(ReadFile(dir_ + "/missing").error().message, HasSubstr(dir_ + "/missing"));
  EXPECT_FALSE(WriteFileAtomically(dir_ + "/no/such/dir/f", "x", 0600).ok());
  ASSERT_TRUE(MakeDirectories(dir_ + "/a/b/c", 0700).ok());
  EXPECT_EQ(Mode(dir_ + "/a/b/c"), 0700u);
  EXPECT_TRUE(MakeDirectories(dir_ + "/a/b/c", 0700).ok()) << "idempotent";
  ASSERT_TRUE(WriteNewFile(dir_ + "/file", "x", 0644).ok());
  EXPECT_THAT(MakeDirectories(dir_ + "/file", 0700).error().message, HasSubstr("not a directory"));
}

}  // namespace
}  // namespace vmesh
