// The registry over fake connections that record what is sent and how they were closed.
#include "hub/session/session_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace vmesh::hub {
namespace {

using link::v1::Envelope;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class FakeConnection final : public link::Connection {
 public:
  explicit FakeConnection(std::string address) : address_(std::move(address)) {}
  Status Send(std::string message) override {
    Envelope e;
    EXPECT_TRUE(e.ParseFromString(message));
    sent.push_back(std::move(e));
    return OkStatus();
  }
  void Close(uint16_t code, std::string reason) override {
    if (!close_code) close_code = code;
    close_reason = std::move(reason);
  }
  bool is_open() const override { return !close_code; }
  std::size_t queued_bytes() const override { return 0; }
  const link::PeerIdentity& peer() const override { return peer_; }
  const std::string& remote_address() const override { return address_; }
  const std::string& target() const override { return target_; }

  // The resource updates sent, as "+name" and "-name" per update.
  std::vector<std::vector<std::string>> Updates() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& e : sent) {
      if (!e.has_resource_update()) continue;
      std::vector<std::string> names;
      for (const auto& r : e.resource_update().upserts()) names.push_back("+" + r.name());
      for (const auto& n : e.resource_update().removals()) names.push_back("-" + n);
      out.push_back(std::move(names));
    }
    return out;
  }

  std::vector<Envelope> sent;
  std::optional<uint16_t> close_code;
  std::string close_reason;

 private:
  std::string address_;
  link::PeerIdentity peer_;
  std::string target_ = "/v1/connect";
};

link::v1::Resource Output(const std::string& name, const std::string& body = "x") {
  link::v1::Resource r;
  r.set_name(name);
  r.mutable_restart()->set_mesh(body);  // any body will do
  return r;
}

class SessionRegistryTest : public ::testing::Test {
 protected:
  // A session of `cluster` whose agent said Hello holding nothing.
  // With `held`, its agent holds those resources (at their versions).
  std::pair<SessionPtr, std::shared_ptr<FakeConnection>> Greeted(const std::string& cluster,
                                                                 const std::string& address = "10.0.0.1:1",
                                                                 const std::vector<link::v1::Resource>& held = {}) {
    auto session = std::make_shared<Session>(cluster);
    auto connection = std::make_shared<FakeConnection>(address);
    registry_.Open(session, connection);
    link::v1::Hello hello;
    for (const auto& r : held) (*hello.mutable_resource_versions())[r.name()] = r.version();
    hello.set_cluster_name(cluster);
    hello.set_agent_version("v1");
    Envelope welcome;
    welcome.mutable_welcome()->set_hub_name("hub");
    EXPECT_TRUE(registry_.Greet(session, hello, welcome));
    return {session, connection};
  }

  // A result that may be sent to the clusters in updatable_.
  void Apply(std::map<std::string, std::vector<link::v1::Resource>> resources,
             std::optional<std::set<std::string>> changed = std::nullopt) {
    DesiredState desired;
    for (auto& [cluster, list] : resources) {
      auto& shared = desired.resources[cluster];
      for (auto& r : list) shared.push_back(std::make_shared<const link::v1::Resource>(std::move(r)));
    }
    desired.changed_clusters = std::move(changed);
    registry_.Apply(desired, updatable_);
  }

  // The agent's answer to `update`: the resources named in `errors` fail with their message.
  static Envelope AckOf(const Envelope& update, std::map<std::string, std::string> errors = {}) {
    sync::ResourceReceiver receiver;
    Envelope ack;
    *ack.mutable_ack() = receiver.Apply(
        update.resource_update(),
        [&](const link::v1::Resource& r) {
          auto error = errors.find(r.name());
          return error == errors.end() ? OkStatus() : Status(MakeError(error->second));
        },
        [](const std::string&) { return OkStatus(); });
    return ack;
  }

  metrics::Registry metrics_;
  std::set<std::string> updatable_;
  SessionRegistry registry_{metrics_};
};

TEST_F(SessionRegistryTest, AGreetedSessionGetsWelcomeThenItsDesiredSetOnceItMayBeUpdated) {
  updatable_ = {"c1"};
  auto [session, connection] = Greeted("c1");
  ASSERT_EQ(connection->sent.size(), 1u);
  EXPECT_TRUE(connection->sent[0].has_welcome());
  EXPECT_EQ(metrics_.Value("vmesh_hub_connected_agents"), 1);
  EXPECT_FALSE(registry_.Greet(session, {}, {})) << "a second Hello";

  Apply({{"c1", {Output("a"), Output("b")}}});
  EXPECT_THAT(connection->Updates(), ElementsAre(ElementsAre("+a", "+b")));
  Apply({{"c1", {Output("a"), Output("b")}}});
  EXPECT_EQ(connection->Updates().size(), 1u) << "one update in flight at a time, and nothing new";
  ASSERT_TRUE(registry_.Ack(session, AckOf(connection->sent.back()).ack()).ok());
  auto info = registry_.Sessions();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_TRUE(info[0].in_sync);
  EXPECT_EQ(info[0].resources_desired, 2u);
  EXPECT_EQ(info[0].resources_held, 2u);
}

TEST_F(SessionRegistryTest, UpdatesWaitUntilAResultMayBeSentToTheCluster) {
  auto [session, connection] = Greeted("c1");
  Apply({{"c1", {Output("a")}}});
  EXPECT_THAT(connection->Updates(), IsEmpty());
  updatable_ = {"c1"};
  Apply({{"c1", {Output("a")}}}, std::set<std::string>{});  // nothing changed, but now it may be sent
  EXPECT_THAT(connection->Updates(), ElementsAre(ElementsAre("+a")));
}

// A result computed before the cluster's discovery was known has none of its meshes' resources: applied while
// the cluster may not be updated, it is not sent (which would remove everything the agent holds), nor on a later
// Hello or ACK; the next result that may be sent to it finds nothing to send.
TEST_F(SessionRegistryTest, AResultThatMayNotBeSentToAClusterIsNeitherSentNorSentLater) {
  link::v1::Resource a = Output("a"), b = Output("b");
  a.set_version(sync::ContentVersion(a));
  b.set_version(sync::ContentVersion(b));
  updatable_ = {"c2"};
  auto [s1, c1] = Greeted("c1", "10.0.0.1:1", {a, b});
  auto [s2, c2] = Greeted("c2", "10.0.0.2:2");
  Apply({{"c1", {}}, {"c2", {Output("x")}}});
  EXPECT_THAT(c1->Updates(), IsEmpty()) << "not the removal of what c1's agent holds";
  EXPECT_THAT(c2->Updates(), ElementsAre(ElementsAre("+x")));
  auto [again, c1_again] = Greeted("c1", "10.0.0.1:3", {a, b});
  EXPECT_THAT(c1_again->Updates(), IsEmpty()) << "nor when its agent says Hello again";

  updatable_ = {"c1", "c2"};
  Apply({{"c1", {a, b}}, {"c2", {Output("x")}}}, std::set<std::string>{"c1"});
  EXPECT_THAT(c1_again->Updates(), IsEmpty()) << "its agent holds this result already";
  EXPECT_TRUE(registry_.Sessions()[0].in_sync);
}

TEST_F(SessionRegistryTest, OnlyTheClustersADesiredStateChangedGetANewSet) {
  updatable_ = {"c1", "c2"};
  auto [s1, c1] = Greeted("c1");
  auto [s2, c2] = Greeted("c2");
  Apply({{"c1", {Output("a")}}, {"c2", {Output("b")}}});
  ASSERT_TRUE(registry_.Ack(s1, AckOf(c1->sent.back()).ack()).ok());
  ASSERT_TRUE(registry_.Ack(s2, AckOf(c2->sent.back()).ack()).ok());
  // c2's resources would be different, but the result says only c1 changed: c2 keeps its set.
  Apply({{"c1", {Output("a2")}}, {"c2", {}}}, std::set<std::string>{"c1"});
  EXPECT_THAT(c1->Updates(), ElementsAre(ElementsAre("+a"), ElementsAre("+a2", "-a")));
  EXPECT_THAT(c2->Updates(), ElementsAre(ElementsAre("+b")));
}

TEST_F(SessionRegistryTest, RejectedResourcesAreReportedAndOfferedAgainOnRetry) {
  updatable_ = {"c1"};
  auto [session, connection] = Greeted("c1");
  Apply({{"c1", {Output("a"), Output("b")}}});
  auto outcome = registry_.Ack(session, AckOf(connection->sent.back(), {{"b", "no room"}}).ack());
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->nack);
  EXPECT_TRUE(outcome->rejected_changed);
  EXPECT_THAT(outcome->rejected, ElementsAre(std::pair<const std::string, std::string>("b", "no room")));
  EXPECT_EQ(outcome->held.count("a"), 1u);
  EXPECT_EQ(metrics_.Value("vmesh_hub_acks_total", {{"result", "nack"}}), 1);
  EXPECT_EQ(connection->Updates().size(), 1u) << "a rejected version is not resent by itself";
  EXPECT_TRUE(registry_.RetryRejected("c1"));
  EXPECT_THAT(connection->Updates().back(), ElementsAre("+b"));
  EXPECT_FALSE(registry_.Ack(session, AckOf(connection->sent.front()).ack()).ok()) << "a stale nonce";
}

TEST_F(SessionRegistryTest, ANewerSessionReplacesTheOlderWhoseEndChangesNothing) {
  auto [old_session, old_connection] = Greeted("c1", "10.0.0.1:1");
  auto [session, connection] = Greeted("c1", "10.0.0.2:2");
  EXPECT_EQ(old_connection->close_code, link::CloseCode::kPolicyViolation);
  EXPECT_FALSE(registry_.Current(old_session));
  EXPECT_FALSE(registry_.Closed(old_session, {}));
  EXPECT_TRUE(registry_.Connected("c1"));
  EXPECT_EQ(registry_.Sessions()[0].remote_address, "10.0.0.2:2");
  EXPECT_TRUE(registry_.Closed(session, {})) << "the live session's end disconnects the cluster";
  EXPECT_FALSE(registry_.Connected("c1"));
  EXPECT_EQ(metrics_.Value("vmesh_hub_connected_agents"), 0);
}

TEST_F(SessionRegistryTest, ForgetAndCloseAllCloseTheSessions) {
  auto [s1, c1] = Greeted("c1");
  auto [s2, c2] = Greeted("c2");
  registry_.Forget("c1");
  EXPECT_EQ(c1->close_code, link::CloseCode::kPolicyViolation);
  EXPECT_EQ(c1->close_reason, "cluster deregistered");
  EXPECT_THAT(registry_.CloseAll(), ElementsAre("c2"));
  EXPECT_EQ(c2->close_code, link::CloseCode::kGoingAway);
  auto late = std::make_shared<Session>("c3");
  auto late_connection = std::make_shared<FakeConnection>("10.0.0.3:3");
  registry_.Open(late, late_connection);
  EXPECT_EQ(late_connection->close_code, link::CloseCode::kGoingAway) << "after shutdown, sessions are refused";
}

}  // namespace
}  // namespace vmesh::hub
