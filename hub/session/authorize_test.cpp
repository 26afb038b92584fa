#include "hub/session/authorize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

const std::map<std::string, std::string> kOwners = {{"istiod-istio-system-c1", "c1"}, {"istiod-istio-system-c2", "c2"}};

TEST(Authorize, HelloMustNameTheConnectionsCluster) {
  link::v1::Envelope e;
  e.mutable_hello()->set_cluster_name("c1");
  EXPECT_EQ(AuthorizeEnvelope("c1", e, kOwners).verdict, Verdict::kAccept);
  auto a = AuthorizeEnvelope("c2", e, kOwners);
  EXPECT_EQ(a.verdict, Verdict::kClose);
  EXPECT_THAT(a.reason, HasSubstr("authenticated as cluster \"c2\""));
}

TEST(Authorize, DiscoveryForAnotherClusterIsRefused) {
  link::v1::Envelope e;
  auto* m = e.mutable_discovery_report()->add_meshes();
  m->mutable_metadata()->set_name("istiod-istio-system-c2");
  m->mutable_spec()->set_cluster("c2");
  auto a = AuthorizeEnvelope("c1", e, kOwners);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("claims cluster \"c2\""));
  EXPECT_EQ(AuthorizeEnvelope("c2", e, kOwners).verdict, Verdict::kAccept);
  link::v1::Envelope removal;
  removal.mutable_discovery_report()->add_removed_meshes("istiod-istio-system-c2");
  EXPECT_EQ(AuthorizeEnvelope("c1", removal, kOwners).verdict, Verdict::kNack);
}

TEST(Authorize, AMeshNameOwnedByAnotherClusterCannotBeTakenOver) {
  link::v1::Envelope e;
  auto* m = e.mutable_discovery_report()->add_meshes();
  m->mutable_metadata()->set_name("istiod-istio-system-c2");
  m->mutable_spec()->set_cluster("c1");  // claims its own cluster, but the name is c2's
  auto a = AuthorizeEnvelope("c1", e, kOwners);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("already reported by cluster \"c2\""));
}

TEST(Authorize, CsrOnlyForMeshesOfTheOwnCluster) {
  link::v1::Envelope e;
  e.mutable_certificate_signing_request()->set_mesh("istiod-istio-system-c2");
  auto a = AuthorizeEnvelope("c1", e, kOwners);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("of cluster \"c2\" refused"));
  EXPECT_EQ(AuthorizeEnvelope("c2", e, kOwners).verdict, Verdict::kAccept);
  e.mutable_certificate_signing_request()->set_mesh("nope");
  EXPECT_THAT(AuthorizeEnvelope("c2", e, kOwners).reason, HasSubstr("unknown mesh"));
}

TEST(Authorize, HubMessagesAndUnknownMessagesAreNackedNotFatal) {
  link::v1::Envelope update;
  update.mutable_resource_update();
  EXPECT_EQ(AuthorizeEnvelope("c1", update, kOwners).verdict, Verdict::kNack);
  // A message from a newer protocol version: a field number this build does not know.
  link::v1::Envelope future;
  std::string bytes = "\x08\x07";             // id = 7
  bytes += std::string("\xfa\x06\x02hi", 5);  // field 111, length-delimited "hi"
  ASSERT_TRUE(future.ParseFromString(bytes));
  EXPECT_EQ(future.message_case(), link::v1::Envelope::MESSAGE_NOT_SET);
  auto a = AuthorizeEnvelope("c1", future, kOwners);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("unknown message type"));
}

TEST(Authorize, StatusOnlyForOwnMeshes) {
  link::v1::Envelope e;
  e.mutable_status_report()->add_meshes()->set_mesh("istiod-istio-system-c1");
  EXPECT_EQ(AuthorizeEnvelope("c1", e, kOwners).verdict, Verdict::kAccept);
  EXPECT_EQ(AuthorizeEnvelope("c2", e, kOwners).verdict, Verdict::kNack);
}

}  // namespace
}  // namespace vmesh::hub
