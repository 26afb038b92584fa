#include "common/base/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

// A symlink planted where the writer would put its temporary file (the old scheme used PATH.tmp-<pid>) or at the
// target itself never redirects the write to the file it points at.
TEST_F(FilesTest, PlantedSymlinksDoNotRedirectTheWrite) {
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(WriteFileAtomically(victim, "precious", 0644).ok());
  const std::string key = dir_ + "/server.key";
  ASSERT_EQ(::symlink(victim.c_str(), (key + ".tmp-" + std::to_string(::getpid())).c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (key + ".tmp").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(key, "secret", 0600).ok());
  EXPECT_EQ(*ReadFile(victim), "precious");
  EXPECT_EQ(*ReadFile(key), "secret");
  EXPECT_EQ(Mode(key), 0600u);

  // A symlink at the target is replaced by a regular file, not written through.
  const std::string config = dir_ + "/admin.vmeshconfig";
  ASSERT_EQ(::symlink(victim.c_str(), config.c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(config, "credential", 0600).ok());
  EXPECT_EQ(*ReadFile(victim), "precious");
  struct stat st {};
  ASSERT_EQ(::lstat(config.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));

  // WriteNewFile: a dangling symlink at the target counts as existing; nothing is created through it.
  const std::string fresh = dir_ + "/fresh";
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), fresh.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (fresh + ".tmp-" + std::to_string(::getpid())).c_str()), 0);
  EXPECT_THAT(WriteNewFile(fresh, "new", 0600).error().message, HasSubstr("already exists"));
  EXPECT_FALSE(FileExists(dir_ + "/elsewhere"));
  EXPECT_EQ(*ReadFile(victim), "precious");
}

TEST_F(FilesTest, CheckedReadsRefuseSymlinksAndSharedSecrets) {
  const std::string key = dir_ + "/server.key";
  ASSERT_TRUE(WriteFileAtomically(key, "secret", 0600).ok());
  const std::string link = dir_ + "/link.key";
  ASSERT_EQ(::symlink(key.c_str(), link.c_str()), 0);
  EXPECT_EQ(*ReadFile(key, {.no_follow = true}), "secret");
  EXPECT_THAT(ReadFile(link, {.no_follow = true}).error().message, HasSubstr("symbolic link"));
  EXPECT_EQ(*ReadFile(link, {.private_only = true}), "secret") << "links are followed unless no_follow";

  ASSERT_EQ(::chmod(key.c_str(), 0604), 0);
  auto shared = ReadFile(key, {.private_only = true});
  ASSERT_FALSE(shared.ok());
  EXPECT_THAT(shared.error().message, HasSubstr(key + " has mode 0604"));
  EXPECT_THAT(ReadFile(key, {.max_bytes = 3}).error().message, HasSubstr("6 bytes"));
  EXPECT_THAT(ReadFile(dir_, {.max_bytes = 3}).error().message, HasSubstr("not a regular file"));
}

TEST(PrivateFileModeTest, OwnFilesAreUserOnlyRootsMayBeGroupReadableOthersNever) {
  constexpr unsigned kPod = 65532;
  EXPECT_EQ(PrivateFileModeProblem(0100600, kPod, kPod), std::nullopt);
  EXPECT_EQ(PrivateFileModeProblem(0100400, kPod, kPod), std::nullopt);
  EXPECT_THAT(PrivateFileModeProblem(0100640, kPod, kPod).value_or(""), HasSubstr("has mode 0640 (owner uid 65532)"));
  // A Secret mounted for a non-root pod with an fsGroup: root:<fsGroup>, 0440 (or 0640).
  EXPECT_EQ(PrivateFileModeProblem(0100440, 0, kPod), std::nullopt);
  EXPECT_EQ(PrivateFileModeProblem(0100640, 0, kPod), std::nullopt);
  EXPECT_THAT(PrivateFileModeProblem(0100660, 0, kPod).value_or(""), HasSubstr("group must not write"));
  EXPECT_THAT(PrivateFileModeProblem(0100444, 0, kPod).value_or(""), HasSubstr("must not be accessible by others"));
  // Root reading its own file: the strict rule.
  EXPECT_THAT(PrivateFileModeProblem(0100640, 0, 0).value_or(""), HasSubstr("group or others"));
  EXPECT_EQ(PrivateFileModeProblem(0100600, 0, 0), std::nullopt);
  // Another user's group-readable file is not a root-provisioned secret.
  EXPECT_TRUE(PrivateFileModeProblem(0100640, 1000, kPod).has_value());
}

}  // namespace
}  // namespace vmesh
