// What the Kubernetes client makes of the API server's JSON, as pure functions (no I/O): one line of a watch
// stream into a WatchEvent, and list results and watch events into an informer's cache. Everything here reads
// what a (possibly broken or hostile) API server sent: malformed input is an error or ignored, never thrown on.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::kube {

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  boost::json::value object;
};

// One line of a watch stream ({"type": ..., "object": {...}}). Fails for a line that is not a JSON object.
Result<WatchEvent> DecodeWatchEvent(std::string_view line);

// "namespace/name" of an object (just "name" for cluster-scoped ones; empty when it has neither).
std::string ObjectKeyOf(const boost::json::value& object);

// An informer's cache: objects by ObjectKeyOf, and the resourceVersion to watch from.
struct ObjectCache {
  std::map<std::string, boost::json::value> objects;
  std::string resource_version;
};

// Replaces the cache with a List's items and takes its metadata.resourceVersion.
void ApplyList(const boost::json::value& list, ObjectCache& cache);

enum class WatchEffect {
  kChanged,   // ADDED / MODIFIED (and unknown types): the object was stored; DELETED: it was removed
  kBookmark,  // only the resourceVersion moved
  kGone,      // ERROR with code 410: the version is too old, list again
  kError,     // another ERROR: end this watch
};

// Applies one watch event to the cache (and its resourceVersion).
WatchEffect ApplyWatchEvent(const WatchEvent& event, ObjectCache& cache);

}  // namespace vmesh::kube
