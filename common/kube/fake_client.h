// An in-process KubeClient for tests: kubesim's API (e2e/kubesim: ApiHandler over an ObjectStore, with its
// fault injector) answers every request without a socket or a child process. It is faithful where tests look:
// the same resourceVersions, Status bodies (404 NotFound, 409 AlreadyExists/Conflict, 410 Expired), label and
// field selectors, paging, merge patch and server-side apply with field ownership, and watches that replay the
// store's change log from a resourceVersion — because it is the same code the kubesim server runs.
//
// The admin endpoint /kubesim/faults works as on the server (errorRate, seed, dropWatchAfterEvents,
// expireNextWatch); latency and time-based watch drops are not simulated.
//
// Watches wait for store changes on the watching coroutine's executor (no polling). CloseWatches() ends every
// open watch as a dropped connection would (an error), so a test can stop an informer deterministically.
//
// Thread-safe like the store: requests and watches may run on any executor; the store may be written from
// any thread. The client must outlive the coroutines using it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/kube/client.h"

namespace vmesh::kubesim {
class ObjectStore;
}  // namespace vmesh::kubesim

namespace vmesh::kube {

struct FakeKubeClientOptions {
  // CustomResourceDefinition manifests (multi-document YAML) whose kinds the fake serves, e.g. Istio's.
  std::vector<std::string> crds_yaml;
  // How many changes watches can resume across (older resourceVersions get 410 Expired).
  size_t event_log_capacity = 10000;
  // Seeds uids and generated names, so runs are repeatable.
  uint64_t random_seed = 1;
};

class FakeKubeClient;
using FakeKubeClientPtr = std::unique_ptr<FakeKubeClient>;

// Fails for CRD manifests it cannot register (invalid ones, or names already in use).
Result<FakeKubeClientPtr> MakeFakeKubeClient(FakeKubeClientOptions options = {});

class FakeKubeClient final : public KubeClient {
 public:
  ~FakeKubeClient() override;
  FakeKubeClient(const FakeKubeClient&) = delete;
  FakeKubeClient& operator=(const FakeKubeClient&) = delete;

  boost::asio::awaitable<Result<ApiResponse>> Request(std::string method, std::string target, std::string body = "",
                                                      std::string content_type = "application/json") override;
  boost::asio::awaitable<Status> Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) override;

  // Loads objects as kubesim's --seed does (multi-document YAML, namespaces created as needed).
  Status Seed(std::string_view yaml);
  // Ends every open watch with an error ("connection closed"). Thread-safe.
  void CloseWatches();
  // Requests answered so far (watches included), for tests that assert how much a component asked.
  int requests() const;

  // The cluster's state, for tests that write or read it directly (thread-safe).
  kubesim::ObjectStore& store();

 private:
  friend Result<FakeKubeClientPtr> MakeFakeKubeClient(FakeKubeClientOptions options);
  struct Impl;
  explicit FakeKubeClient(std::unique_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::kube
