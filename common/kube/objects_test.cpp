#include "common/kube/objects.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vmesh::kube {
namespace {

namespace json = boost::json;

TEST(WatchEventTest, DecodesTypeAndObject) {
  auto e = DecodeWatchEvent(R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","namespace":"n"}}})");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->type, "ADDED");
  EXPECT_EQ(ObjectKeyOf(e->object), "n/p");
}

TEST(WatchEventTest, RefusesWhatIsNotAnObject) {
  EXPECT_FALSE(DecodeWatchEvent("[1,2]").ok());
  EXPECT_FALSE(DecodeWatchEvent("{\"type\":").ok());
}

TEST(ObjectCacheTest, ListThenEvents) {
  ObjectCache cache;
  ApplyList(json::parse(R"({"kind":"PodList","metadata":{"resourceVersion":"10"},
    "items":[{"metadata":{"name":"a","namespace":"n"}},{"metadata":{"name":"b","namespace":"n"}}]})"),
            cache);
  EXPECT_EQ(cache.resource_version, "10");
  ASSERT_EQ(cache.objects.size(), 2u);

  auto del = DecodeWatchEvent(
      R"({"type":"DELETED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"11"}}})");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(ApplyWatchEvent(*del, cache), WatchEffect::kChanged);
  EXPECT_EQ(cache.objects.count("n/a"), 0u);
  EXPECT_EQ(cache.resource_version, "11");

  auto bookmark = DecodeWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})");
  ASSERT_TRUE(bookmark.ok());
  EXPECT_EQ(ApplyWatchEvent(*bookmark, cache), WatchEffect::kBookmark);
  EXPECT_EQ(cache.resource_version, "12");
  EXPECT_EQ(cache.objects.size(), 1u);
}

TEST(ObjectCacheTest, ErrorEvents) {
  ObjectCache cache;
  auto gone = DecodeWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(ApplyWatchEvent(*gone, cache), WatchEffect::kGone);
  auto other = DecodeWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":500}})");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(ApplyWatchEvent(*other, cache), WatchEffect::kError);
}

// A Status whose code is not a small integer (a broken or hostile API server) used to throw out of the informer
// (boost::json's to_number<int>), ending the agent's watch coroutine.
TEST(ObjectCacheTest, ErrorCodesThatAreNotSmallIntegersAreJustErrors) {
  for (const char* code : {"410.5", "1e300", "-1e300", "4294967706", "18446744073709551615", "\"410\""}) {
    ObjectCache cache;
    auto e = DecodeWatchEvent(std::string(R"({"type":"ERROR","object":{"kind":"Status","code":)") + code + "}}");
    ASSERT_TRUE(e.ok()) << code;
    EXPECT_EQ(ApplyWatchEvent(*e, cache), WatchEffect::kError) << code;
  }
  auto gone = DecodeWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":410.0}})");
  ASSERT_TRUE(gone.ok());
  ObjectCache cache;
  EXPECT_EQ(ApplyWatchEvent(*gone, cache), WatchEffect::kGone);
}

}  // namespace
}  // namespace vmesh::kube
