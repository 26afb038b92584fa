// A minimal hub for the agent runtime's tests: the real link server, the real registration (bootstrap tokens,
// identities in SQLite, renewals) and a /v1/connect route speaking just enough of the protocol (Hello ->
// Welcome, renewal requests answered by the registration), recording every envelope it receives and letting
// the test push ResourceUpdates. Tests only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/runtime/identity.h"
#include "common/link/connection.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "hub/registration/registration.h"
#include "hub/server/routes.h"
#include "hub/store/store.h"
#include "vmesh/config/v1/config.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent::test {

class TestHub {
 public:
  TestHub();  // asserts on failure (gtest)
  ~TestHub();

  // A bootstrap bundle for `cluster` (as `vmeshctl cluster register` prints it, YAML).
  std::string RegisterYaml(const std::string& cluster, std::chrono::seconds ttl = std::chrono::hours(1));
  // Registers `cluster` and bootstraps an agent identity for it (asserts on failure).
  AgentIdentity BootstrapAgent(const std::string& cluster);

  // Sends to the live session; false when none.
  bool Push(const link::v1::ResourceUpdate& update);
  // Closes the live session with `code`.
  void CloseSession(uint16_t code = link::CloseCode::kGoingAway, const std::string& reason = "test");

  // Everything received so far (all sessions), in order.
  std::vector<link::v1::Envelope> Received() const;
  // The Hello of each session, in order.
  std::vector<link::v1::Hello> Hellos() const;
  std::vector<link::v1::Ack> Acks() const;
  // Serial (hex) of the client certificate of each accepted session, in order.
  std::vector<std::string> SessionSerials() const;
  std::size_t open_sessions() const { return server_->connection_count(); }

  hub::RegistrationService& registration() { return *registration_; }
  const std::string& url() const { return url_; }

 private:
  void OnMessage(const link::ConnectionPtr& c, const std::string& bytes);

  std::string dir_;
  link::EventLoop loop_{1};
  hub::StorePtr store_;
  std::unique_ptr<hub::RegistrationService> registration_;
  std::unique_ptr<hub::HubRoutes> routes_;
  std::unique_ptr<link::Server> server_;
  std::string url_;

  mutable std::mutex mu_;
  link::ConnectionPtr session_;
  std::vector<link::v1::Envelope> received_;
  std::vector<std::string> serials_;
};

}  // namespace vmesh::agent::test
