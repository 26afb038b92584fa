#include "common/kube/objects.h"

#include <boost/json.hpp>

#include "common/base/json_fields.h"
#include "common/base/resource_names.h"

namespace vmesh::kube {
namespace {

namespace json = boost::json;

using jsonf::StrAt;

}  // namespace

Result<WatchEvent> DecodeWatchEvent(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return MakeError("undecodable event");
  WatchEvent event;
  if (auto* t = v.get_object().if_contains("type"); t && t->is_string()) event.type = t->get_string();
  if (auto* o = v.get_object().if_contains("object")) event.object = std::move(*o);
  return event;
}

std::string ObjectKeyOf(const json::value& object) {
  const std::string ns = StrAt(object, {"metadata", "namespace"});
  const std::string name = StrAt(object, {"metadata", "name"});
  return ObjectKey(ns, name);
}

void ApplyList(const json::value& list, ObjectCache& cache) {
  cache.objects.clear();
  if (!list.is_object()) return;
  if (const auto* items = list.get_object().if_contains("items"); items && items->is_array()) {
    for (const auto& item : items->get_array()) cache.objects[ObjectKeyOf(item)] = item;
  }
  cache.resource_version = StrAt(list, {"metadata", "resourceVersion"});
}

WatchEffect ApplyWatchEvent(const WatchEvent& event, ObjectCache& cache) {
  if (event.type == "ERROR") {
    const json::value* code = event.object.is_object() ? event.object.get_object().if_contains("code") : nullptr;
    // Compared per representation: to_number<int>() throws for codes that are not exact small integers.
    if (code && ((code->is_int64() && code->get_int64() == 410) || (code->is_uint64() && code->get_uint64() == 410) ||
                 (code->is_double() && code->get_double() == 410.0))) {
      return WatchEffect::kGone;
    }
    return WatchEffect::kError;
  }
  const std::string rv = StrAt(event.object, {"metadata", "resourceVersion"});
  if (!rv.empty()) cache.resource_version = rv;
  if (event.type == "BOOKMARK") return WatchEffect::kBookmark;
  if (event.type == "DELETED") {
    cache.objects.erase(ObjectKeyOf(event.object));
  } else {
    cache.objects[ObjectKeyOf(event.object)] = event.object;
  }
  return WatchEffect::kChanged;
}

}  // namespace vmesh::kube
