#include "e2e/kubesim/faults.h"

#include <gtest/gtest.h>

namespace vmesh::kubesim {
namespace {

HttpRequest Post(const std::string& body) { return HttpRequest{"POST", FaultInjector::kAdminPath, "", "", body}; }

TEST(FaultInjectorTest, AdminEndpointSetsAndValidates) {
  FaultInjector faults;
  HttpResponse set = faults.HandleAdmin(Post(
      R"({"latencyMs": 250, "errorRate": 0.25, "seed": 9, "dropWatchAfterEvents": 3, "dropWatchAfterSeconds": 1.5,
          "expireNextWatch": true})"));
  EXPECT_EQ(set.status, 200) << set.body;
  FaultConfig c = faults.config();
  EXPECT_EQ(c.latency.count(), 250);
  EXPECT_DOUBLE_EQ(c.error_rate, 0.25);
  EXPECT_EQ(c.seed, 9u);
  EXPECT_EQ(c.drop_watch_after_events, 3u);
  EXPECT_EQ(c.drop_watch_after.count(), 1500);
  EXPECT_TRUE(c.expire_next_watch);
  EXPECT_TRUE(faults.TakeExpireNextWatch());
  EXPECT_FALSE(faults.TakeExpireNextWatch());

  for (const char* bad : {R"({"errorRate": 1.5})", R"({"latencyMs": -1})", R"({"expireNextWatch": 1})",
                          R"({"unknown": 1})", "[]", "not json"}) {
    HttpResponse r = faults.HandleAdmin(Post(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find(R"("kind":"Status")"), std::string::npos);
  }
  EXPECT_EQ(faults.config().latency.count(), 250);  // unchanged by the rejected requests
  EXPECT_EQ(faults.HandleAdmin(HttpRequest{"GET", FaultInjector::kAdminPath}).status, 200);
  EXPECT_EQ(faults.HandleAdmin(HttpRequest{"DELETE", FaultInjector::kAdminPath}).status, 405);
}

TEST(FaultInjectorTest, ErrorsFollowRateAndSeed) {
  FaultConfig config;
  config.error_rate = 0.3;
  config.seed = 5;
  FaultInjector a(config);
  FaultInjector b(config);
  int errors = 0;
  int too_many = 0;
  for (int i = 0; i < 2000; ++i) {
    auto ea = a.MaybeFail();
    auto eb = b.MaybeFail();
    ASSERT_EQ(ea.has_value(), eb.has_value());
    if (!ea) continue;
    ASSERT_EQ(ea->status, eb->status);
    ++errors;
    if (ea->status == 429) ++too_many;
    EXPECT_TRUE(ea->status == 429 || ea->status == 500);
  }
  EXPECT_NEAR(errors, 600, 100);
  EXPECT_NEAR(too_many, errors / 2, 80);
  config.error_rate = 0;
  a.Set(config);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(a.MaybeFail().has_value());
}

TEST(FaultInjectorTest, WatchTargets) {
  EXPECT_TRUE(IsWatchTarget("/api/v1/pods?watch=1"));
  EXPECT_TRUE(IsWatchTarget("/api/v1/pods?labelSelector=a&watch=true&resourceVersion=3"));
  EXPECT_FALSE(IsWatchTarget("/api/v1/pods"));
  EXPECT_FALSE(IsWatchTarget("/api/v1/pods?watch=0"));
  EXPECT_FALSE(IsWatchTarget("/api/v1/pods?nowatch=1"));
  EXPECT_NE(ExpiredWatchLine().find(R"("code":410)"), std::string::npos);
}

}  // namespace
}  // namespace vmesh::kubesim
