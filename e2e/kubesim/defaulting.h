// Server-side defaults of built-in kinds, as kube-apiserver fills them in on every create and update
// (a subset: the fields clients and controllers commonly read back). Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>

#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

// Fills in missing defaults of `object`, a `type` object; leaves set fields alone.
void ApplyDefaults(const ResourceType& type, boost::json::object& object);

}  // namespace vmesh::kubesim
