// The certificates of kubesim's HTTPS listener (--tls): a self-signed CA generated at start and a server
// certificate it issues for 127.0.0.1 and localhost. The CA goes into the kubeconfig
// (certificate-authority-data) so kubectl verifies the server as it would a real cluster.
#pragma once

#include <string>

#include "common/base/result.h"

namespace vmesh::kubesim {

struct ServingCertificates {
  std::string ca_pem;          // the CA certificate clients trust
  std::string cert_chain_pem;  // the server certificate, then the CA
  std::string key_pem;         // the server's private key (PKCS#8)
};

// ECDSA P-256 keys; the CA (CN "kubesim CA <cluster_name>") and the server certificate (SANs IP 127.0.0.1,
// DNS localhost, EKU serverAuth) are valid for a year.
Result<ServingCertificates> GenerateServingCertificates(const std::string& cluster_name);

}  // namespace vmesh::kubesim
