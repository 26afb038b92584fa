// MeshCertState (cert_plan.h) as a Secret of the agent's state namespace (SPEC §2 vmesh-agent, §5.2): the
// pending key survives an agent restart, so the agent resends the CSR for it instead of generating another.
//
// Secret `vmesh-ca-<mesh>`, type Opaque, label app.kubernetes.io/managed-by=vmesh, annotation
// vmesh.dev/mesh=<mesh>; data keys (base64 as always in `data`):
//   pending-key.pem, pending-generation, pending-request-id,
//   installed-generation, installed-serial, installed-not-after, renew-at (Unix seconds),
//   restart-serial, restart-istiod-only, restart-requested ("true" / absent).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "agent/certs/cert_plan.h"
#include "common/base/resource_names.h"
#include "common/base/result.h"

namespace vmesh::agent {

// "vmesh-ca-<mesh>" (common/base/resource_names.h).
using vmesh::CertStateSecretName;

// The whole Secret (apiVersion, kind, metadata without resourceVersion, type, data).
boost::json::object CertStateToSecret(const MeshCertState& state, const std::string& mesh,
                                      const std::string& state_namespace);

// Reads a Secret written by CertStateToSecret; fails when a data value is not base64 or a time is not a number.
Result<MeshCertState> CertStateFromSecret(const boost::json::value& secret);

}  // namespace vmesh::agent
