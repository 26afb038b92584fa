// An informer (SPEC §10): list, then watch from the list's resourceVersion; resume the watch where it
// stopped when the server ends it or the connection drops; list again when the version is too old (410 Gone);
// retry with exponential backoff and full jitter on transport errors, 429 and 5xx. Keeps a cache of the
// objects (by namespace/name) and reports every list and every event.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/kube/client.h"

namespace vmesh::kube {

struct InformerOptions {
  // The collection path, e.g. ResourcePath("v1", "services") for all namespaces.
  std::string collection;
  std::string label_selector;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  int watch_timeout_seconds = 300;
};

struct InformerHandlers {
  // After every (re)list, with the complete set.
  std::function<void(const std::map<std::string, boost::json::value>&)> on_list;
  // Every ADDED / MODIFIED / DELETED event (bookmarks only move the version).
  std::function<void(const WatchEvent&)> on_event;
};

struct InformerStats {
  int lists = 0;
  int watches = 0;
  int relists_after_gone = 0;
  int retries = 0;
};

class Informer {
 public:
  Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers);

  // Runs until `keep_going()` returns false (checked after every list and event, and before every retry).
  boost::asio::awaitable<void> Run(std::function<bool()> keep_going);

  const std::map<std::string, boost::json::value>& cache() const { return cache_.objects; }
  const std::string& resource_version() const { return cache_.resource_version; }
  const InformerStats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<void> Sleep(int attempt);
  std::string Query(bool watch) const;

  KubeClient& client_;
  InformerOptions options_;
  InformerHandlers handlers_;
  ObjectCache cache_;
  InformerStats stats_;
};

}  // namespace vmesh::kube
