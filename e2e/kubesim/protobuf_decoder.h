// Decodes request bodies in the Kubernetes protobuf encoding (application/vnd.kubernetes.protobuf).
//
// kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount|deployment`) send
// protobuf and do not fall back to JSON, so kubesim reads the kinds they create: Namespace, ConfigMap,
// Secret, ServiceAccount and Deployment, and the DeleteOptions body of a typed client's DELETE (helm's release
// storage). The result is the JSON object Kubernetes would have decoded,
// with zero values left out as Go's `omitempty` does. A body of another kind, or with a field this
// decoder does not know, is an error that names it (the caller answers 415). Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::kubesim {

Result<boost::json::object> DecodeKubernetesProtobuf(std::string_view body);

}  // namespace vmesh::kubesim
