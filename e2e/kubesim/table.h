// Server-side printing: objects as a meta.k8s.io/v1 Table, which `kubectl get` asks for
// (Accept: application/json;as=Table;v=v1;g=meta.k8s.io) to print the familiar columns (READY, STATUS,
// UP-TO-DATE, ...). Rows carry the object's metadata (PartialObjectMetadata), as kube-apiserver's default
// includeObject=Metadata does. Kinds without their own columns get NAME and AGE. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string_view>
#include <vector>

#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

// Whether an Accept header asks for a Table.
bool WantsTable(std::string_view accept);

// A Table of `objects`; `now` is the reference for the AGE column.
boost::json::object RenderTable(const ResourceType& type, const std::vector<ObjectPtr>& objects,
                                std::chrono::system_clock::time_point now);

// Kubernetes' short human-readable durations: "45s", "3m20s", "5h", "12d", ...
std::string HumanDuration(std::chrono::seconds age);

}  // namespace vmesh::kubesim
