// Small objects the agent keeps in its state namespace (identity Secret, sync ConfigMap): read and write their
// string data through the Kubernetes API. Secrets are base64-encoded on the wire; callers see plain strings.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/kube/client.h"

namespace vmesh::agent {

enum class StateKind { kSecret, kConfigMap };

using StateData = std::map<std::string, std::string>;

// Creates the namespace when it does not exist (409 from a concurrent creation is fine).
boost::asio::awaitable<Status> EnsureNamespace(kube::KubeClient& client, std::string ns);

// The object's data, or nothing when it does not exist. Errors for API failures and undecodable data.
boost::asio::awaitable<Result<std::optional<StateData>>> ReadStateObject(kube::KubeClient& client, StateKind kind,
                                                                         std::string ns, std::string name);

// Replaces the object's data in one server-side apply (field manager vmesh-agent), creating the namespace and
// the object when missing. The object carries the label app.kubernetes.io/managed-by: vmesh-agent.
boost::asio::awaitable<Status> WriteStateObject(kube::KubeClient& client, StateKind kind, std::string ns,
                                                std::string name, StateData data);

}  // namespace vmesh::agent
