#include "hub/session/restart_gate.h"

namespace vmesh::hub {

void RestartGate::Await(std::set<std::string> clusters) {
  std::lock_guard lock(mu_);
  awaiting_ = std::move(clusters);
}

bool RestartGate::Arrived(const std::string& cluster) {
  std::lock_guard lock(mu_);
  return awaiting_.erase(cluster) > 0 && awaiting_.empty();
}

std::vector<std::string> RestartGate::Expire() {
  std::lock_guard lock(mu_);
  std::vector<std::string> missing(awaiting_.begin(), awaiting_.end());
  awaiting_.clear();
  return missing;
}

bool RestartGate::open() const {
  std::lock_guard lock(mu_);
  return awaiting_.empty();
}

}  // namespace vmesh::hub
