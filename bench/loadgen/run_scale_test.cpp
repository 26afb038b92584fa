// Smoke test of bench/run-scale (vmesh_run_scale) so the tool cannot rot: a small run (5 agents, 3 destinations,
// 2 providers) must print one JSON document with every field, everything ACCEPTED, every change ACKed by every
// other agent, and a hub restart that re-issues no certificate and re-sends no resource. No time limits are
// asserted: the times must only be measured (non-negative).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "e2e/kubesim/subprocess.h"

namespace {

namespace json = boost::json;

json::object RunScale(const std::vector<std::string>& extra, std::string* output) {
  std::vector<std::string> argv = {
      RUN_SCALE_BINARY, "--agents", "5", "--destinations", "3", "--providers", "2", "--changes", "2",
      "--idle-seconds", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = vmesh::kubesim::RunProcess(argv, std::chrono::minutes(8));
  *output = result.output;
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("{\"benchmark\"", 0) != 0) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object()) return v.as_object();
  }
  ADD_FAILURE() << "no JSON document in the output:\n" << result.output;
  return {};
}

double Number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    ADD_FAILURE() << "missing field " << key;
    return -1;
  }
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  ADD_FAILURE() << key << " is not a number: " << json::serialize(*v);
  return -1;
}

TEST(RunScale, RestrictiveSmallFleetReportsEveryMeasurement) {
  std::string output;
  json::object r = RunScale({}, &output);
  ASSERT_FALSE(r.empty());
  SCOPED_TRACE(output);
  EXPECT_EQ(r.at("ok"), json::value(true)) << json::serialize(r.at("errors"));
  EXPECT_EQ(r.at("federation"), json::value("restrictive"));
  EXPECT_EQ(Number(r, "agents"), 5);
  EXPECT_EQ(Number(r, "connected"), 5);
  EXPECT_EQ(r.at("accepted"), json::value(true));
  for (const char* seconds :
       {"register_and_bootstrap_seconds", "all_connected_seconds", "apply_to_accepted_seconds", "change_p50_seconds",
        "change_p99_seconds", "restart_all_reconnected_seconds", "restart_accepted_seconds",
        "hub_cpu_percent_while_idle", "apply_to_accepted_hub_cpu_seconds", "change_hub_cpu_seconds"}) {
    EXPECT_GE(Number(r, seconds), 0) << seconds;
  }
  EXPECT_LE(Number(r, "change_p50_seconds"), Number(r, "change_p99_seconds"));
  // Every mesh got exactly one intermediate: one CSR per agent, each signed and installed.
  EXPECT_EQ(Number(r, "certificates_installed"), 5);
  EXPECT_EQ(Number(r, "csrs_sent"), 5);
  EXPECT_EQ(Number(r, "hub_csrs_signed"), 5);
  EXPECT_EQ(Number(r, "certificate_errors"), 0);
  // 2 providers x 3 destinations federated to 5 meshes: outputs were applied.
  EXPECT_GT(Number(r, "outputs_applied"), 0);
  // Memory figures are real readings of the hub process.
  EXPECT_GT(Number(r, "hub_rss_kib_before_agents"), 0);
  EXPECT_GE(Number(r, "hub_rss_kib_peak"), Number(r, "hub_rss_kib_steady"));
  EXPECT_GT(Number(r, "hub_rss_kib_steady"), 0);
  EXPECT_GE(Number(r, "hub_rss_kib_peak_after_changes"), Number(r, "hub_rss_kib_peak"));
  EXPECT_TRUE(r.contains("hub_kib_per_agent"));
  // Both changes reached the 4 other agents, and cost bytes on the wire.
  EXPECT_EQ(Number(r, "changes"), 2);
  EXPECT_EQ(Number(r, "change_acks"), 2 * 4);
  EXPECT_GT(Number(r, "change_hub_bytes_sent"), 0);
  EXPECT_GT(Number(r, "change_resource_update_bytes_received"), 0);
  // The reconnect storm: everyone back, no certificate re-issued, no resource re-sent (the agents hold what the new
  // hub wants: it sends no update at all).
  EXPECT_EQ(Number(r, "restart_reconnected"), 5);
  EXPECT_EQ(Number(r, "restart_hub_csrs_signed"), 0);
  EXPECT_EQ(Number(r, "restart_csrs_sent"), 0);
  EXPECT_EQ(Number(r, "restart_certificates_installed"), 0);
  EXPECT_EQ(Number(r, "restart_hub_resource_updates_sent"), 0);
  EXPECT_EQ(Number(r, "restart_resource_updates_received"), 0);
  EXPECT_EQ(Number(r, "restart_outputs_applied"), 0);
  EXPECT_GT(Number(r, "file_descriptor_limit"), 0);
}

TEST(RunScale, PermissiveSmallFleetFederatesEverything) {
  std::string output;
  json::object r = RunScale({"--permissive", "--no-restart"}, &output);
  ASSERT_FALSE(r.empty());
  SCOPED_TRACE(output);
  EXPECT_EQ(r.at("ok"), json::value(true)) << json::serialize(r.at("errors"));
  EXPECT_EQ(r.at("federation"), json::value("permissive"));
  EXPECT_EQ(r.at("accepted"), json::value(true));
  EXPECT_EQ(Number(r, "change_acks"), 2 * 4);
  EXPECT_FALSE(r.contains("restart_reconnected"));
}

}  // namespace
