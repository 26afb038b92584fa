#include "e2e/kubesim/object_store.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>

#include "common/base/time.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

const ResourceType kNamespaceType = {"", "v1", "namespaces", "Namespace", "namespace", false};

json::object& EnsureObject(json::object& parent, std::string_view key) {
  json::value& v = parent[key];
  if (!v.is_object()) v = json::object();
  return v.get_object();
}

std::string StringAt(const json::object& object, std::string_view section, std::string_view key) {
  auto s = object.find(section);
  if (s == object.end() || !s->value().is_object()) return {};
  auto v = s->value().get_object().find(key);
  if (v == s->value().get_object().end() || !v->value().is_string()) return {};
  return std::string(v->value().get_string());
}

// What a change to bumps metadata.generation: everything but metadata, and but status for kinds with the
// status subresource (as for custom resources: without it, status is just another field).
json::object SpecPart(const json::object& object, bool has_status) {
  json::object out = object;
  out.erase("metadata");
  if (has_status) out.erase("status");
  return out;
}

// Continue tokens are opaque to clients: base64url of {"rv":N,"start":"namespace/name"}.
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(buf >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kBase64Url[(buf << (6 - bits)) & 0x3f];
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::find(kBase64Url, kBase64Url + 64, c);
    if (p == kBase64Url + 64) return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(p - kBase64Url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "ERROR";
}

ObjectStore::ObjectStore() : ObjectStore(Options{}) {}

ObjectStore::ObjectStore(Options options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
  random_.seed(options_.random_seed != 0 ? options_.random_seed : std::random_device{}());
  if (options_.event_log_capacity == 0) options_.event_log_capacity = 1;
}

ApiResult<ObjectPtr> ObjectStore::Get(const ResourceType& type, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto t = objects_.find({type.group, type.resource});
  if (t != objects_.end()) {
    auto it = t->second.find({ns, name});
    if (it != t->second.end()) return it->second;
  }
  return NotFoundError(type.QualifiedResource(), name);
}

ApiResult<ListResult> ObjectStore::List(const ResourceType& type, const std::string& ns,
                                        const ListOptions& options) const {
  std::lock_guard lock(mu_);
  ListResult result;
  result.resource_version = resource_version_;
  ObjectKey start;
  bool has_start = false;
  if (!options.continue_token.empty()) {
    auto decoded = Base64UrlDecode(options.continue_token);
    json::error_code ec;
    json::value token = decoded ? json::parse(*decoded, ec) : json::value();
    if (!decoded || ec || !token.is_object() || !token.get_object().contains("start") ||
        !token.get_object().at("start").is_string() || !token.get_object().contains("rv") ||
        !token.get_object().at("rv").is_int64()) {
      return BadRequestError("invalid continue token");
    }
    std::string key(token.get_object().at("start").get_string());
    size_t slash = key.find('/');
    start = {key.substr(0, slash), slash == std::string::npos ? std::string() : key.substr(slash + 1)};
    has_start = true;
    result.resource_version = static_cast<uint64_t>(token.get_object().at("rv").get_int64());
  }
  std::optional<uint64_t> at = has_start ? std::optional(result.resource_version) : options.exact_resource_version;
  if (at && *at > resource_version_) {
    return ApiError{
        504, "Timeout",
        "Too large resource version: " + std::to_string(*at) + ", current: " + std::to_string(resource_version_)};
  }
  if (at && *at < CompactedThroughLocked()) {
    return has_start ? GoneError(
                           "The provided continue parameter is too old to display a consistent list result. You "
                           "can start a new list without the continue parameter.")
                     : GoneError("The resourceVersion for the provided list is too old.");
  }
  static const Objects kNone;
  auto t = objects_.find({type.group, type.resource});
  const Objects* current = t == objects_.end() ? &kNone : &t->second;
  Objects snapshot;
  if (at && *at < resource_version_) {
    // Rewind the newer changes of this type.
    snapshot = *current;
    for (auto e = log_.rbegin(); e != log_.rend() && e->resource_version > *at; ++e) {
      if (e->group != type.group || e->resource != type.resource) continue;
      const json::object& md = e->object->at("metadata").get_object();
      const json::value* name = md.if_contains("name");
      ObjectKey key{e->ns, name && name->is_string() ? std::string(name->get_string()) : std::string()};
      if (e->type == EventType::kAdded) {
        snapshot.erase(key);
      } else if (e->type == EventType::kModified) {
        snapshot[key] = e->previous;
      } else {
        snapshot[key] = e->object;
      }
    }
    current = &snapshot;
    result.resource_version = *at;
  }
  const Objects& objects = *current;
  auto it = has_start ? objects.upper_bound(start) : objects.begin();
  size_t remaining = 0;
  ObjectKey last;
  for (; it != objects.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) continue;
    const json::object& object = *it->second;
    if (!options.labels.MatchesObject(object) || !options.fields.MatchesObject(object)) continue;
    if (options.limit != 0 && result.items.size() == options.limit) {
      ++remaining;
      continue;
    }
    result.items.push_back(it->second);
    last = it->first;
  }
  if (remaining > 0) {
    json::object token{{"rv", static_cast<int64_t>(result.resource_version)},
                       {"start", last.first + "/" + last.second}};
    result.continue_token = Base64UrlEncode(json::serialize(token));
    result.remaining_item_count = remaining;
  }
  return result;
}

ApiResult<ObjectPtr> ObjectStore::Create(const ResourceType& type, const std::string& ns, json::object object,
                                         Commit commit) {
  ObjectPtr created;
  {
    std::lock_guard lock(mu_);
    json::object& metadata = EnsureObject(object, "metadata");
    std::string name = StringAt(object, "metadata", "name");
    if (name.empty()) {
      std::string prefix = StringAt(object, "metadata", "generateName");
      if (prefix.empty()) {
        return InvalidError(type.kind +
                            " \"\" is invalid: metadata.name: Required value: name or generateName is "
                            "required");
      }
      static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
      do {
        name = prefix;
        for (int i = 0; i < 5; ++i) name += kAlphabet[random_() % (sizeof(kAlphabet) - 1)];
      } while (objects_[{type.group, type.resource}].contains({ns, name}));
      metadata["name"] = name;
    }
    if (type.namespaced && !NamespaceExistsLocked(ns)) return NotFoundError("namespaces", ns);
    Objects& objects = objects_[{type.group, type.resource}];
    if (objects.contains({ns, name})) return AlreadyExistsError(type.QualifiedResource(), name);

    if (type.namespaced) {
      metadata["namespace"] = ns;
    } else {
      metadata.erase("namespace");
    }
    metadata["uid"] = NewUidLocked();
    metadata["creationTimestamp"] = NowRfc3339();
    metadata["generation"] = 1;
    metadata.erase("deletionTimestamp");
    if (type.group.empty() && type.resource == "namespaces") {
      EnsureObject(metadata, "labels")["kubernetes.io/metadata.name"] = name;
      json::object& spec = EnsureObject(object, "spec");
      if (!spec.contains("finalizers")) spec["finalizers"] = json::array{"kubernetes"};
      EnsureObject(object, "status")["phase"] = "Active";
    }
    if (commit == Commit::kDryRun) {
      metadata.erase("resourceVersion");
      return std::make_shared<const json::object>(std::move(object));
    }
    if (type.group.empty() && type.resource == "services") AllocateServiceAddressesLocked(object);
    metadata["resourceVersion"] = std::to_string(++resource_version_);
    created = std::make_shared<const json::object>(std::move(object));
    objects[{ns, name}] = created;
    RecordLocked(EventType::kAdded, {type.group, type.resource}, ns, created);
  }
  NotifyListeners();
  return created;
}

ApiResult<ObjectPtr> ObjectStore::Update(const ResourceType& type, const std::string& ns, const std::string& name,
                                         json::object object, UpdateScope scope, Commit commit) {
  bool changed = false;
  ApiResult<ObjectPtr> result = [&] {
    std::lock_guard lock(mu_);
    const uint64_t before = resource_version_;
    auto updated = UpdateLocked(type, ns, name, std::move(object), scope, commit);
    changed = resource_version_ != before;
    return updated;
  }();
  if (changed) NotifyListeners();
  return result;
}

ApiResult<ObjectPtr> ObjectStore::Mutate(const ResourceType& type, const std::string& ns, const std::string& name,
                                         const Mutation& mutate, UpdateScope scope, Commit commit) {
  bool changed = false;
  ApiResult<ObjectPtr> result = [&]() -> ApiResult<ObjectPtr> {
    std::lock_guard lock(mu_);
    auto t = objects_.find({type.group, type.resource});
    if (t == objects_.end() || !t->second.contains({ns, name})) {
      return NotFoundError(type.QualifiedResource(), name);
    }
    ObjectPtr current = t->second.at({ns, name});
    auto updated = mutate(*current);
    if (!updated.ok()) return updated.error();
    const uint64_t before = resource_version_;
    auto result = UpdateLocked(type, ns, name, std::move(*updated), scope, commit);
    changed = resource_version_ != before;
    return result;
  }();
  if (changed) NotifyListeners();
  return result;
}

ApiResult<ObjectPtr> ObjectStore::UpdateLocked(const ResourceType& type, const std::string& ns, const std::string& name,
                                               json::object object, UpdateScope scope, Commit commit) {
  auto t = objects_.find({type.group, type.resource});
  if (t == objects_.end() || !t->second.contains({ns, name})) return NotFoundError(type.QualifiedResource(), name);
  ObjectPtr& slot = t->second.at({ns, name});
  const json::object& old = *slot;
  const json::object& old_metadata = old.at("metadata").get_object();

  std::string body_name = StringAt(object, "metadata", "name");
  if (!body_name.empty() && body_name != name) {
    return BadRequestError("the name of the object (" + body_name + ") does not match the name on the URL (" + name +
                           ")");
  }
  std::string body_rv = StringAt(object, "metadata", "resourceVersion");
  if (!body_rv.empty() && body_rv != old_metadata.at("resourceVersion").get_string()) {
    return ConflictError(type.QualifiedResource(), name);
  }

  json::object updated;
  if (scope == UpdateScope::kStatus) {
    updated = old;
    if (auto status = object.find("status"); status != object.end()) {
      updated["status"] = status->value();
    } else {
      updated.erase("status");
    }
  } else {
    updated = std::move(object);
    if (type.has_status) {
      if (auto status = old.find("status"); status != old.end()) {
        updated["status"] = status->value();
      } else {
        updated.erase("status");
      }
    }
    json::object& metadata = EnsureObject(updated, "metadata");
    metadata["name"] = name;
    if (type.namespaced) {
      metadata["namespace"] = ns;
    } else {
      metadata.erase("namespace");
    }
    for (const char* key : {"uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
      if (auto it = old_metadata.find(key); it != old_metadata.end()) {
        metadata[key] = it->value();
      } else {
        metadata.erase(key);
      }
    }
    if (SpecPart(updated, type.has_status) != SpecPart(old, type.has_status)) {
      auto gen = old_metadata.find("generation");
      int64_t generation = gen != old_metadata.end() && gen->value().is_int64() ? gen->value().get_int64() : 0;
      metadata["generation"] = generation + 1;
    }
  }
  EnsureObject(updated, "metadata")["resourceVersion"] = old_metadata.at("resourceVersion");
  if (updated == old) return slot;  // no-op: no new resourceVersion, no event
  if (commit == Commit::kDryRun) return std::make_shared<const json::object>(std::move(updated));

  updated["metadata"].get_object()["resourceVersion"] = std::to_string(++resource_version_);
  ObjectPtr previous = slot;
  slot = std::make_shared<const json::object>(std::move(updated));
  RecordLocked(EventType::kModified, t->first, ns, slot, std::move(previous));
  return slot;
}

ApiResult<ObjectPtr> ObjectStore::Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                                         const DeletePreconditions& preconditions, Commit commit) {
  ApiResult<ObjectPtr> result = [&]() -> ApiResult<ObjectPtr> {
    std::lock_guard lock(mu_);
    auto t = objects_.find({type.group, type.resource});
    if (t == objects_.end() || !t->second.contains({ns, name})) return NotFoundError(type.QualifiedResource(), name);
    const json::object& current = *t->second.at({ns, name});
    if (preconditions.uid && *preconditions.uid != StringAt(current, "metadata", "uid")) {
      return ApiError{409, "Conflict",
                      "Precondition failed: UID in precondition: " + *preconditions.uid +
                          ", UID in object meta: " + StringAt(current, "metadata", "uid")};
    }
    if (preconditions.resource_version &&
        *preconditions.resource_version != StringAt(current, "metadata", "resourceVersion")) {
      return ApiError{409, "Conflict",
                      "Precondition failed: ResourceVersion in precondition: " + *preconditions.resource_version +
                          ", ResourceVersion in object meta: " + StringAt(current, "metadata", "resourceVersion")};
    }
    if (commit == Commit::kDryRun) return t->second.at({ns, name});
    if (type.group.empty() && type.resource == "namespaces") {
      // Kubernetes empties a deleted namespace before it disappears; kubesim does both at once.
      for (auto& [key, objects] : objects_) {
        for (auto it = objects.begin(); it != objects.end();) {
          if (it->first.first == name && !(key.group.empty() && key.resource == "namespaces")) {
            ObjectPtr gone = it->second;
            it = objects.erase(it);
            json::object last = *gone;
            last["metadata"].get_object()["resourceVersion"] = std::to_string(++resource_version_);
            RecordLocked(EventType::kDeleted, key, name, std::make_shared<const json::object>(std::move(last)));
          } else {
            ++it;
          }
        }
      }
    }
    return DeleteLocked(type, ns, name);
  }();
  if (result.ok() && commit == Commit::kYes) NotifyListeners();
  return result;
}

ApiResult<ObjectPtr> ObjectStore::DeleteLocked(const ResourceType& type, const std::string& ns,
                                               const std::string& name) {
  Objects& objects = objects_.at({type.group, type.resource});
  auto it = objects.find({ns, name});
  json::object last = *it->second;
  objects.erase(it);
  // As in Kubernetes, the DELETED event carries a new resourceVersion so watchers can resume after it.
  last["metadata"].get_object()["resourceVersion"] = std::to_string(++resource_version_);
  auto deleted = std::make_shared<const json::object>(std::move(last));
  RecordLocked(EventType::kDeleted, {type.group, type.resource}, ns, deleted);
  return deleted;
}

uint64_t ObjectStore::resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

uint64_t ObjectStore::CompactedThroughLocked() const {
  uint64_t compacted = compacted_through_;
  if (options_.event_log_window.count() > 0) {
    const auto cutoff = options_.clock() - options_.event_log_window;
    for (const auto& e : log_) {
      if (e.at >= cutoff) break;
      compacted = e.resource_version;
    }
  }
  return compacted;
}

ApiResult<ObjectStore::EventBatch> ObjectStore::EventsSince(const ResourceType& type, const std::string& ns,
                                                            uint64_t since) const {
  std::lock_guard lock(mu_);
  if (const uint64_t compacted = CompactedThroughLocked(); since < compacted) {
    return GoneError("too old resource version: " + std::to_string(since) + " (" + std::to_string(compacted + 1) + ")");
  }
  EventBatch batch;
  batch.through = std::max(since, resource_version_);
  auto first = std::upper_bound(log_.begin(), log_.end(), since,
                                [](uint64_t rv, const StoredEvent& e) { return rv < e.resource_version; });
  for (auto it = first; it != log_.end(); ++it) {
    if (it->group != type.group || it->resource != type.resource) continue;
    if (!ns.empty() && it->ns != ns) continue;
    batch.events.push_back(*it);
  }
  return batch;
}

int ObjectStore::AddChangeListener(std::function<void()> listener) {
  std::lock_guard lock(listeners_mu_);
  int id = next_listener_id_++;
  listeners_[id] = std::move(listener);
  return id;
}

void ObjectStore::RemoveChangeListener(int id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void ObjectStore::RecordLocked(EventType type, const TypeKey& key, const std::string& ns, ObjectPtr object,
                               ObjectPtr previous) {
  const auto now = options_.clock();
  log_.push_back(
      StoredEvent{resource_version_, type, key.group, key.resource, ns, std::move(object), std::move(previous), now});
  const bool windowed = options_.event_log_window.count() > 0;
  while (log_.size() > options_.event_log_capacity || (windowed && log_.front().at < now - options_.event_log_window)) {
    compacted_through_ = log_.front().resource_version;
    log_.pop_front();
  }
}

bool ObjectStore::NamespaceExistsLocked(const std::string& ns) const {
  auto t = objects_.find({kNamespaceType.group, kNamespaceType.resource});
  return t != objects_.end() && t->second.contains({"", ns});
}

std::string ObjectStore::NewUidLocked() {
  // A random (version 4) UUID.
  uint64_t hi = random_(), lo = random_();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

void ObjectStore::AllocateServiceAddressesLocked(json::object& service) {
  json::object& spec = EnsureObject(service, "spec");
  std::string type = spec.contains("type") && spec["type"].is_string() ? std::string(spec["type"].get_string()) : "";
  if (type == "ExternalName") return;
  if (!spec.contains("clusterIP") || spec["clusterIP"] == "") {
    ++next_service_ip_;
    spec["clusterIP"] = options_.service_ip_prefix + "." + std::to_string((next_service_ip_ / 254) % 256) + "." +
                        std::to_string(next_service_ip_ % 254 + 1);
  }
  if (!spec.contains("clusterIPs")) spec["clusterIPs"] = json::array{spec["clusterIP"]};
  if (type != "NodePort" && type != "LoadBalancer") return;
  if (auto ports = spec.find("ports"); ports != spec.end() && ports->value().is_array()) {
    for (auto& port : ports->value().get_array()) {
      if (port.is_object() && !port.get_object().contains("nodePort"))
        port.get_object()["nodePort"] = next_node_port_++;
    }
  }
}

std::string ObjectStore::NowRfc3339() const { return FormatRfc3339(options_.clock()); }

void ObjectStore::NotifyListeners() {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  for (const auto& listener : listeners) listener();
}

}  // namespace vmesh::kubesim
