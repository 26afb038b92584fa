// Where a Kubernetes API server is and how to authenticate to it: from a kubeconfig file (the subset kubectl
// users rely on) or from the in-cluster service account (SPEC §2 vmesh-agent without --kubeconfig).
#pragma once

#include <functional>
#include <string>

#include "common/base/result.h"

namespace vmesh::kube {

struct ClusterConfig {
  std::string server;  // https://host:port
  std::string ca_pem;  // empty: system roots (never used by vmesh itself: always set in practice)
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  // Credentials: a bearer token, or a client certificate and key.
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Default namespace of the context ("default" when unset).
  std::string ns = "default";
  std::string context;
};

// Reads a kubeconfig: the named context, or current-context. Relative file paths are resolved against the
// kubeconfig's directory; *-data fields are base64. Errors name the file and the field.
Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");
Result<ClusterConfig> ParseKubeconfig(const std::string& yaml, const std::string& base_dir, const std::string& source,
                                      const std::string& context = "");

// The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT from `getenv`, token, CA and namespace from
// `service_account_dir` (normally /var/run/secrets/kubernetes.io/serviceaccount).
Result<ClusterConfig> InClusterConfig(
    const std::function<const char*(const char*)>& getenv,
    const std::string& service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace vmesh::kube
