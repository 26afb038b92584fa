#include "common/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace vmesh::metrics {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, RendersTheTextExpositionFormat) {
  Registry r;
  r.DeclareCounter("vmesh_csrs_signed_total", "CSRs signed.");
  r.DeclareGauge("vmesh_certificate_not_after_seconds", "notAfter of each mesh's intermediate.");
  r.DeclareHistogram("vmesh_reconcile_duration_seconds", "Reconcile duration.", {0.01, 0.1, 1});
  r.Increment("vmesh_csrs_signed_total", {{"cluster", "c1"}});
  r.Increment("vmesh_csrs_signed_total", {{"cluster", "c1"}});
  r.Set("vmesh_certificate_not_after_seconds", {{"mesh", "m\"1"}}, 1.8e9);
  r.Observe("vmesh_reconcile_duration_seconds", {}, 0.05);
  r.Observe("vmesh_reconcile_duration_seconds", {}, 2);
  EXPECT_EQ(r.Render(),
            "# HELP vmesh_certificate_not_after_seconds notAfter of each mesh's intermediate.\n"
            "# TYPE vmesh_certificate_not_after_seconds gauge\n"
            "vmesh_certificate_not_after_seconds{mesh=\"m\\\"1\"} 1800000000\n"
            "# HELP vmesh_csrs_signed_total CSRs signed.\n"
            "# TYPE vmesh_csrs_signed_total counter\n"
            "vmesh_csrs_signed_total{cluster=\"c1\"} 2\n"
            "# HELP vmesh_reconcile_duration_seconds Reconcile duration.\n"
            "# TYPE vmesh_reconcile_duration_seconds histogram\n"
            "vmesh_reconcile_duration_seconds_bucket{le=\"0.01\"} 0\n"
            "vmesh_reconcile_duration_seconds_bucket{le=\"0.1\"} 1\n"
            "vmesh_reconcile_duration_seconds_bucket{le=\"1\"} 1\n"
            "vmesh_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"
            "vmesh_reconcile_duration_seconds_sum 2.05\n"
            "vmesh_reconcile_duration_seconds_count 2\n");
}

TEST(Metrics, ValuesRemovalAndConcurrency) {
  Registry r;
  r.DeclareCounter("vmesh_messages_total", "Messages.");
  r.DeclareGauge("vmesh_connected_agents", "Agents.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) r.Increment("vmesh_messages_total", {{"type", "ack"}});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.Value("vmesh_messages_total", {{"type", "ack"}}), 4000);
  r.Set("vmesh_connected_agents", {}, 3);
  r.Remove("vmesh_connected_agents", {});
  EXPECT_THAT(r.Render(), ::testing::Not(HasSubstr("vmesh_connected_agents 3")));
}

TEST(Metrics, LimitedMetricDropsNewSeriesBeyondItsLimitAndCountsThem) {
  Registry r;
  r.DeclareGauge("vmesh_g", "A gauge labelled from outside.");
  r.DeclareCounter("vmesh_c", "A counter.");
  r.LimitSeries("vmesh_g", 2);
  r.Set("vmesh_g", {{"mesh", "a"}}, 1);
  r.Set("vmesh_g", {{"mesh", "b"}}, 2);
  for (int i = 0; i < 1000; ++i) r.Set("vmesh_g", {{"mesh", "x" + std::to_string(i)}}, 3);
  r.Set("vmesh_g", {{"mesh", "a"}}, 5);  // existing series keep updating
  EXPECT_EQ(r.Value("vmesh_g", {{"mesh", "a"}}), 5);
  EXPECT_EQ(r.Value("vmesh_g", {{"mesh", "x0"}}), 0);
  for (int i = 0; i < 10; ++i) r.Increment("vmesh_c", {{"n", std::to_string(i)}});  // unlimited
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("vmesh_g{mesh=\"b\"} 2\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("x0")));
  EXPECT_THAT(text, HasSubstr("vmesh_c{n=\"9\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE vmesh_metrics_dropped_series_total counter\n"
                              "vmesh_metrics_dropped_series_total{metric=\"vmesh_g\"} 1000\n"));
  r.Remove("vmesh_g", {{"mesh", "b"}});
  r.Set("vmesh_g", {{"mesh", "c"}}, 1);
  EXPECT_EQ(r.Value("vmesh_g", {{"mesh", "c"}}), 1) << "a removed series makes room";
}

}  // namespace
}  // namespace vmesh::metrics
