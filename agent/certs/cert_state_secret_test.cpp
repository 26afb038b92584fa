#include "agent/certs/cert_state_secret.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "agent/certs/cacerts.h"
#include "common/base/base64.h"

namespace vmesh::agent {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

TEST(CertStateSecretTest, RoundTripsEveryField) {
  MeshCertState s;
  s.pending_generation = "g2";
  s.pending_key_pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
  s.pending_request_id = "r-1";
  s.installed_generation = "g1";
  s.installed_serial = "7f01";
  s.renew_at = Clock::time_point(seconds(1800000000));
  s.installed_not_after = Clock::time_point(seconds(1900000000));
  s.restart_serial = "7f01";
  s.restart_istiod_only = true;
  s.restart_requested = true;

  json::object secret = CertStateToSecret(s, "istiod-istio-system-c1", "vmesh-system");
  EXPECT_EQ(secret["metadata"].at("name"), "vmesh-ca-istiod-istio-system-c1");
  EXPECT_EQ(secret["metadata"].at("namespace"), "vmesh-system");
  EXPECT_EQ(secret["metadata"].at("labels").at(kManagedByLabel), kManagedByValue);
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_EQ(*Base64Decode(secret["data"].at("pending-key.pem").as_string()), s.pending_key_pem);

  // Through JSON text, as the API server returns it.
  auto back = CertStateFromSecret(json::parse(json::serialize(secret)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->pending_generation, s.pending_generation);
  EXPECT_EQ(back->pending_key_pem, s.pending_key_pem);
  EXPECT_EQ(back->pending_request_id, s.pending_request_id);
  EXPECT_EQ(back->installed_generation, s.installed_generation);
  EXPECT_EQ(back->installed_serial, s.installed_serial);
  EXPECT_EQ(back->renew_at, s.renew_at);
  EXPECT_EQ(back->installed_not_after, s.installed_not_after);
  EXPECT_EQ(back->restart_serial, s.restart_serial);
  EXPECT_TRUE(back->restart_istiod_only);
  EXPECT_TRUE(back->restart_requested);
}

TEST(CertStateSecretTest, EmptyStateHasNoDataAndReadsBackEmpty) {
  json::object secret = CertStateToSecret(MeshCertState{}, "m", "ns");
  EXPECT_TRUE(secret["data"].as_object().empty());
  auto back = CertStateFromSecret(secret);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->pending_key_pem.empty());
  EXPECT_EQ(back->renew_at, Clock::time_point{});
  EXPECT_FALSE(back->restart_requested);
}

TEST(CertStateSecretTest, RejectsDamagedData) {
  auto bad_base64 = CertStateFromSecret(json::parse(R"({"data":{"pending-key.pem":"%%%"}})"));
  ASSERT_FALSE(bad_base64.ok());
  EXPECT_THAT(bad_base64.error().message, HasSubstr("pending-key.pem"));
  auto bad_time = CertStateFromSecret(json::value{{"data", {{"renew-at", Base64Encode("soon")}}}});
  ASSERT_FALSE(bad_time.ok());
  EXPECT_THAT(bad_time.error().message, HasSubstr("renew-at"));
}

}  // namespace
}  // namespace vmesh::agent
