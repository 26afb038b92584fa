#include "common/pki/aead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/base/files.h"

namespace vmesh::pki {
namespace {

using ::testing::HasSubstr;

const std::string kKey(32, '\x42');

TEST(pkiAead, SealOpenRoundTripWithFreshNonces) {
  auto a = Seal(kKey, "-----BEGIN PRIVATE KEY-----secret", "vmesh/vm1");
  auto b = Seal(kKey, "-----BEGIN PRIVATE KEY-----secret", "vmesh/vm1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(IsSealed(*a));
  EXPECT_NE(*a, *b) << "random nonce";
  EXPECT_EQ(a->find("secret"), std::string::npos);
  EXPECT_EQ(Open(kKey, *a, "vmesh/vm1")->value(), "-----BEGIN PRIVATE KEY-----secret");
}

TEST(pkiAead, WrongKeyAlteredDataOrOtherAssociatedDataFail) {
  std::string sealed = *Seal(kKey, "secret", "vmesh/vm1");
  EXPECT_THAT(Open(std::string(32, '\x43'), sealed, "vmesh/vm1").error().message, HasSubstr("does not authenticate"));
  EXPECT_THAT(Open(kKey, sealed, "vmesh/vm2").error().message, HasSubstr("does not authenticate"));
  std::string altered = sealed;
  altered[altered.size() - 5] = altered[altered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Open(kKey, altered, "vmesh/vm1").ok());
  EXPECT_FALSE(Open(kKey, sealed.substr(0, 30), "vmesh/vm1").ok());
  EXPECT_FALSE(Open(kKey, "plain text", "vmesh/vm1").ok());
  EXPECT_THAT(Seal("short", "x", "").error().message, HasSubstr("32 bytes"));
}

TEST(pkiAead, SecureStringWipesAndMoves) {
  std::string plain = "-----BEGIN PRIVATE KEY-----secret";
  const size_t size = plain.size();
  Cleanse(plain);
  EXPECT_EQ(plain, std::string(size, '\0')) << "wiped in place, size kept";

  SecureString a(std::string("-----BEGIN PRIVATE KEY-----secret"));
  const char* buffer = a.value().data();
  SecureString b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(b.value().data(), buffer) << "a heap buffer is taken over, not copied";
  EXPECT_EQ(b.view(), "-----BEGIN PRIVATE KEY-----secret");
  b.Clear();
  EXPECT_TRUE(b.empty());
  SecureString small(std::string("short"));
  SecureString moved = std::move(small);
  EXPECT_EQ(moved.value(), "short");
  EXPECT_TRUE(small.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(pkiAead, KeyFilesInRawHexOrBase64) {
  char tmpl[] = "/tmp/vmesh-kek-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_TRUE(WriteFileAtomically(dir + "/raw", kKey, 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/hex", std::string(64, 'a') + "\n", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/b64", "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/bad", "password123\n", 0600).ok());
  EXPECT_EQ(*LoadKeyEncryptionKey(dir + "/raw"), kKey);
  EXPECT_EQ(*LoadKeyEncryptionKey(dir + "/hex"), std::string(32, '\xaa'));
  EXPECT_EQ(*LoadKeyEncryptionKey(dir + "/b64"), kKey);
  auto bad = LoadKeyEncryptionKey(dir + "/bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("not a 256-bit key"));
  EXPECT_EQ(bad.error().message.find("password123"), std::string::npos) << "never echo the content";
  std::filesystem::remove_all(dir);
}

// Like ssh with a private key: a key-encryption key that group or others can read is refused, naming the file and
// its mode; so are files that cannot be a key (too large, empty, a directory).
TEST(pkiAead, KeyFileReadableByOthersIsRefused) {
  char tmpl[] = "/tmp/vmesh-kek-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/kek";
  ASSERT_TRUE(WriteFileAtomically(path, std::string(64, 'a') + "\n", 0644).ok());
  auto shared = LoadKeyEncryptionKey(path);
  ASSERT_FALSE(shared.ok());
  EXPECT_THAT(shared.error().message, HasSubstr(path));
  EXPECT_THAT(shared.error().message, HasSubstr("mode 0644"));
  EXPECT_THAT(shared.error().message, HasSubstr("chmod 600"));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_THAT(LoadKeyEncryptionKey(path).error().message, HasSubstr("mode 0640"));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(LoadKeyEncryptionKey(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadKeyEncryptionKey(path).ok()) << "read-only for the owner is fine";

  ASSERT_TRUE(WriteFileAtomically(dir + "/big", std::string(4096, 'a'), 0600).ok());
  EXPECT_THAT(LoadKeyEncryptionKey(dir + "/big").error().message, HasSubstr("too large for a 256-bit key"));
  ASSERT_TRUE(WriteFileAtomically(dir + "/empty", "", 0600).ok());
  EXPECT_THAT(LoadKeyEncryptionKey(dir + "/empty").error().message, HasSubstr("is empty"));
  EXPECT_THAT(LoadKeyEncryptionKey(dir).error().message, HasSubstr("not a regular file"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vmesh::pki
