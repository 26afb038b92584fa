// The hub's post-restart gate (SPEC §5.4: a hub outage has no effect on clusters). A cluster's outputs depend on
// the other clusters' destinations; a hub that just restarted does not know them yet and would remove them from
// the clusters that come back first, then add them again. So after a restart no cluster gets updates until every
// cluster that had an agent before reported its discovery again, or the grace period passed (the caller times
// it and calls Expire()).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace vmesh::hub {

class RestartGate {
 public:
  // Closes the gate until each of `clusters` arrived (open again at once when empty).
  void Await(std::set<std::string> clusters);
  // The cluster's discovery is known now (or the cluster is gone). True when this opened the gate.
  bool Arrived(const std::string& cluster);
  // The grace period passed: opens the gate. Returns the clusters still missing (none when it was open).
  std::vector<std::string> Expire();
  bool open() const;

 private:
  mutable std::mutex mu_;
  std::set<std::string> awaiting_;
};

}  // namespace vmesh::hub
