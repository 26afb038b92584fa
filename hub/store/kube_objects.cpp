#include "hub/store/kube_objects.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/api/manifest.h"
#include "common/kube/informer.h"
#include "common/kube/run_task.h"
#include "hub/store/store_errors.h"

namespace vmesh::hub {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace pb = google::protobuf;

// The label of the hub's internal objects (app.kubernetes.io/managed-by=vmesh-hub), which this table never serves.
constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
constexpr char kManagedByHub[] = "vmesh-hub";

// The resources the table serves, indexed by ResourceIndex.
struct Resource {
  std::string_view kind;
  std::string_view api_version;
  std::string_view plural;
  bool custom;  // a vmesh custom resource with spec and a status subresource (else a core Secret)
};
constexpr std::array<Resource, 3> kResources = {{
    {"VirtualMesh", api::kNetworkingApiVersion, "virtualmeshes", true},
    {"AccessPolicy", api::kNetworkingApiVersion, "accesspolicies", true},
    {"Secret", "v1", "secrets", false},
}};
constexpr size_t kSecretIndex = 2;
// How many resourceVersions of its own writes the table remembers (to tell its events from others').
constexpr size_t kOwnVersionsKept = 4096;
// Retries of a write without expected version that raced another writer.
constexpr int kUnconditionalAttempts = 5;

std::optional<size_t> ResourceIndex(std::string_view kind) {
  for (size_t i = 0; i < kResources.size(); ++i) {
    if (kResources[i].kind == kind) return i;
  }
  return std::nullopt;
}

std::string Deterministic(const pb::Message& message) {
  std::string bytes;
  pb::io::StringOutputStream stream(&bytes);
  pb::io::CodedOutputStream out(&stream);
  out.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&out);
  out.Trim();
  return bytes;
}

std::unique_ptr<pb::Message> NewObject(std::string_view kind) {
  if (kind == "VirtualMesh") return std::make_unique<api::v1::VirtualMesh>();
  if (kind == "AccessPolicy") return std::make_unique<api::v1::AccessPolicy>();
  return std::make_unique<api::v1::Secret>();
}

// A new, empty message of the type of `field` ("spec", "status") of `kind`'s message.
std::unique_ptr<pb::Message> NewPart(std::string_view kind, const char* field) {
  auto object = NewObject(kind);
  const pb::FieldDescriptor* f = object->GetDescriptor()->FindFieldByName(field);
  return std::unique_ptr<pb::Message>(object->GetReflection()->GetMessage(*object, f).New());
}

const pb::Message& Part(const pb::Message& object, const char* field) {
  return object.GetReflection()->GetMessage(object, object.GetDescriptor()->FindFieldByName(field));
}

// Decodes a JSON value with the manifest codec (strict: unknown fields are errors).
Status DecodeJson(const json::value& value, pb::Message* message, const std::string& path) {
  auto errors = api::DecodeInto(json::serialize(value), message, path);
  if (!errors.empty()) return MakeError(api::JoinErrors(errors), ErrorCode::kInvalidArgument);
  return OkStatus();
}

std::string StringAt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* ObjectAt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::optional<std::int64_t> ParseVersion(std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string Describe(const Resource& r, const std::string& ns, const std::string& name) {
  return std::string(r.kind) + " " + ns + "/" + name;
}

std::string LabelOf(const json::object& resource, std::string_view label) {
  const json::object* md = ObjectAt(resource, "metadata");
  const json::object* labels = md ? ObjectAt(*md, "labels") : nullptr;
  return labels ? StringAt(*labels, label) : std::string();
}

bool IsInternal(const json::object& resource) { return LabelOf(resource, kManagedByLabel) == kManagedByHub; }

// A Secret the table lists and watches (see the header).
bool IsListedSecret(const json::object& resource) {
  return LabelOf(resource, kSecretApiObjectLabel) == "true" && !IsInternal(resource);
}

bool IsReserved(std::string_view annotation) {
  return annotation == kLastGoodSpecAnnotation || annotation == kLastGoodGenerationAnnotation;
}

// The resource as the API server holds it -> the StoredObject the Store returns (see the mapping in the header).
Result<StoredObject> FromResource(const Resource& r, const json::object& resource) {
  const json::object* md = ObjectAt(resource, "metadata");
  if (md == nullptr) return MakeError(std::string(r.kind) + " without metadata");
  StoredObject out;
  out.kind = std::string(r.kind);
  out.ns = StringAt(*md, "namespace");
  out.name = StringAt(*md, "name");
  const std::string who = Describe(r, out.ns, out.name);
  auto rv = ParseVersion(StringAt(*md, "resourceVersion"));
  if (!rv)
    return MakeError(who + ": metadata.resourceVersion \"" + StringAt(*md, "resourceVersion") +
                     "\" is not an integer (the Kubernetes store needs an API server with integer versions)");
  out.resource_version = *rv;
  out.uid = StringAt(*md, "uid");
  out.creation_timestamp = StringAt(*md, "creationTimestamp");
  const json::value* gen = md->if_contains("generation");
  out.generation = 1;  // real API servers keep no generation for Secrets
  if (gen && gen->is_int64()) out.generation = gen->get_int64();
  if (gen && gen->is_uint64()) out.generation = static_cast<std::int64_t>(gen->get_uint64());

  json::object meta{{"name", out.name}, {"namespace", out.ns}, {"generation", out.generation}};
  if (!out.uid.empty()) meta["uid"] = out.uid;
  if (!out.creation_timestamp.empty()) meta["creationTimestamp"] = out.creation_timestamp;
  if (const json::object* labels = ObjectAt(*md, "labels")) {
    json::object kept = *labels;
    if (!r.custom) kept.erase(kSecretApiObjectLabel);  // the table's mark, not the user's
    if (!kept.empty()) meta["labels"] = std::move(kept);
  }
  json::object annotations;
  std::string last_good_spec, last_good_generation;
  if (const json::object* all = ObjectAt(*md, "annotations")) {
    for (const auto& [key, value] : *all) {
      if (key == kLastGoodSpecAnnotation) {
        last_good_spec = value.is_string() ? std::string(value.get_string()) : "";
      } else if (key == kLastGoodGenerationAnnotation) {
        last_good_generation = value.is_string() ? std::string(value.get_string()) : "";
      } else {
        annotations[key] = value;
      }
    }
  }
  if (!annotations.empty()) meta["annotations"] = std::move(annotations);

  json::object doc{{"apiVersion", r.api_version}, {"kind", r.kind}, {"metadata", std::move(meta)}};
  if (r.custom) {
    if (const json::value* spec = resource.if_contains("spec"); spec && !spec->is_null()) doc["spec"] = *spec;
  } else {
    if (const json::value* type = resource.if_contains("type"); type && !type->is_null()) doc["type"] = *type;
    if (const json::value* data = resource.if_contains("data"); data && !data->is_null()) doc["data"] = *data;
  }
  auto message = NewObject(r.kind);
  if (Status s = DecodeJson(doc, message.get(), ""); !s.ok()) return s.error().Wrap(who);
  out.body = Deterministic(*message);

  if (!r.custom) return out;
  if (const json::value* status = resource.if_contains("status"); status && !status->is_null()) {
    auto decoded = NewPart(r.kind, "status");
    if (Status s = DecodeJson(*status, decoded.get(), "status"); s.ok()) {
      out.status = Deterministic(*decoded);
    } else {
      // The hub rewrites the status it computes: an unreadable one is dropped, not fatal.
      spdlog::warn("{}: status ignored: {}", who, s.error().message);
    }
  }
  if (!last_good_spec.empty()) {
    auto spec = NewPart(r.kind, "spec");
    boost::system::error_code ec;
    json::value parsed = json::parse(last_good_spec, ec);
    auto generation = ParseVersion(last_good_generation);
    if (ec || !generation || !DecodeJson(parsed, spec.get(), "spec").ok()) {
      spdlog::warn("{}: annotation {} ignored: not a spec the hub wrote", who, kLastGoodSpecAnnotation);
    } else {
      out.last_good = Deterministic(*spec);
      out.last_good_generation = *generation;
    }
  }
  return out;
}

// The object (everything but status) to send for `in`: `base` (the current resource, if any) with the labels,
// annotations (and last-good annotations) and content of `in`, keeping what `in` does not change byte for byte
// (a spec equal as a message is not rewritten, so kubectl's JSON spelling does not bump the generation).
Result<json::object> DesiredObject(const Resource& r, const StoredObject& in, const json::object* base,
                                   const StoredObject* base_stored) {
  const std::string who = Describe(r, in.ns, in.name);
  auto message = NewObject(r.kind);
  if (!message->ParseFromString(in.body)) return MakeError(who + ": the body is not a " + std::string(r.kind));
  json::value encoded = api::ToJson(*message);
  const json::object& e = encoded.get_object();
  const json::object* e_meta = ObjectAt(e, "metadata");

  json::object labels, annotations;
  if (const json::object* l = e_meta ? ObjectAt(*e_meta, "labels") : nullptr) labels = *l;
  if (const json::object* a = e_meta ? ObjectAt(*e_meta, "annotations") : nullptr) {
    for (const auto& [key, value] : *a) {
      if (!IsReserved(key)) annotations[key] = value;
    }
  }
  if (!r.custom && StringAt(labels, kManagedByLabel) == kManagedByHub) {
    return MakeError(who + ": the label " + std::string(kManagedByLabel) + "=" + kManagedByHub +
                         " marks the hub's internal Secrets; remove it",
                     ErrorCode::kInvalidArgument);
  }
  if (!r.custom) labels[kSecretApiObjectLabel] = "true";
  if (in.last_good && r.custom) {
    auto spec = NewPart(r.kind, "spec");
    if (!spec->ParseFromString(*in.last_good)) return MakeError(who + ": the last-good spec is corrupt");
    annotations[kLastGoodSpecAnnotation] = json::serialize(api::ToJson(*spec));
    annotations[kLastGoodGenerationAnnotation] = std::to_string(in.last_good_generation);
  }

  json::object out;
  if (base != nullptr) {
    out = *base;
    out.erase("status");
  } else {
    out = json::object{{"apiVersion", r.api_version},
                       {"kind", r.kind},
                       {"metadata", json::object{{"name", in.name}, {"namespace", in.ns}}}};
  }
  json::object& meta = out["metadata"].is_object() ? out["metadata"].get_object() : out["metadata"].emplace_object();
  meta.erase("managedFields");  // left out, the server keeps them and records this write's fields
  auto set_map = [&meta](const char* key, json::object value) {
    const json::object* have = ObjectAt(meta, key);
    if ((have ? *have : json::object()) == value) return;  // absent and empty are the same
    if (value.empty()) {
      meta.erase(key);
    } else {
      meta[key] = std::move(value);
    }
  };
  set_map("labels", std::move(labels));
  set_map("annotations", std::move(annotations));

  std::unique_ptr<pb::Message> current;
  if (base_stored != nullptr) {
    current = NewObject(r.kind);
    if (!current->ParseFromString(base_stored->body)) current.reset();
  }
  if (r.custom) {
    const bool same = current && Deterministic(Part(*current, "spec")) == Deterministic(Part(*message, "spec"));
    if (!same) {
      if (const json::value* spec = e.if_contains("spec")) {
        out["spec"] = *spec;
      } else {
        out.erase("spec");
      }
    }
  } else {
    const auto& secret = static_cast<const api::v1::Secret&>(*message);
    bool same = current != nullptr;
    if (same) {
      const auto& have = static_cast<const api::v1::Secret&>(*current);
      same = have.type() == secret.type() && have.data_size() == secret.data_size();
      for (const auto& [key, value] : secret.data()) {
        auto it = have.data().find(key);
        same = same && it != have.data().end() && it->second == value;
      }
    }
    if (!same) {
      out["type"] = secret.type().empty() ? "Opaque" : secret.type();
      if (const json::value* data = e.if_contains("data")) {
        out["data"] = *data;
      } else {
        out.erase("data");
      }
    }
  }
  return out;
}

// The status message of `in` for the /status subresource (null when empty), or an error for a corrupt one.
Result<json::value> DesiredStatus(const Resource& r, const StoredObject& in) {
  auto status = NewPart(r.kind, "status");
  if (!status->ParseFromString(in.status)) return MakeError(Describe(r, in.ns, in.name) + ": the status is corrupt");
  json::value encoded = api::ToJson(*status);
  if (encoded.is_object() && encoded.get_object().empty()) return json::value(nullptr);
  return encoded;
}

std::string NormalizedStatus(const Resource& r, const std::string& bytes) {
  auto status = NewPart(r.kind, "status");
  if (!status->ParseFromString(bytes)) return bytes;
  return Deterministic(*status);
}

Error ConflictFrom(const Resource& r, const StoredObject& object, const kube::ApiResponse& answer) {
  return MakeError(std::string(kConflict) + ": " + Describe(r, object.ns, object.name) + " was modified or exists (" +
                       answer.Describe() + "); read it again and retry",
                   ErrorCode::kConflict);
}

Error ApiFailure(const std::string& what, const kube::ApiResponse& answer) {
  ErrorCode code = ErrorCode::kUnknown;
  if (answer.status == 400 || answer.status == 422) code = ErrorCode::kInvalidArgument;
  if (answer.status == 401 || answer.status == 403) code = ErrorCode::kPermissionDenied;
  if (answer.status == 404) code = ErrorCode::kNotFound;
  if (answer.status == 409) code = ErrorCode::kConflict;
  if (answer.status == 429 || answer.status >= 500) code = ErrorCode::kUnavailable;
  return MakeError(what + ": " + answer.Describe(), code);
}

class KubeObjectTableImpl final : public KubeObjectTable {
 public:
  KubeObjectTableImpl(kube::KubeClient& client, std::string hub_namespace)
      : client_(client), hub_namespace_(std::move(hub_namespace)) {}
  ~KubeObjectTableImpl() override { Stop(); }

  Status Start() override;
  void Stop() override;
  void SetChangeListener(std::function<void()> listener) override {
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
  }

  Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) override;
  Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                const std::string& name) override;
  Result<std::vector<StoredObject>> ListObjects(const std::string& kind) override;
  Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) override;

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name

  // What the table knows of one object: its newest state, or that it was deleted (a tombstone, kept until the
  // watch has passed the deletion so that an older event cannot bring the object back).
  struct Entry {
    std::int64_t resource_version = 0;
    bool exists = false;
    json::object resource;               // as the API server sent it, without managedFields
    std::optional<StoredObject> stored;  // nullopt when it cannot be read (then `problem`)
    std::optional<Error> problem;
  };

  // A resource as read for a write: from the cache or the API server.
  struct Current {
    json::object resource;
    StoredObject stored;
  };

  // Marks a write to `key` in flight: events for it that arrive meanwhile are judged when it ends.
  class WriteGuard {
   public:
    WriteGuard(KubeObjectTableImpl& table, size_t index, Key key) : table_(table), index_(index), key_(std::move(key)) {
      std::lock_guard lock(table_.mu_);
      ++table_.in_flight_[index_][key_];
    }
    ~WriteGuard() { table_.EndWrite(index_, key_); }
    WriteGuard(const WriteGuard&) = delete;
    WriteGuard& operator=(const WriteGuard&) = delete;

   private:
    KubeObjectTableImpl& table_;
    size_t index_;
    Key key_;
  };

  bool Cached(size_t index, const std::string& ns) const { return index != kSecretIndex || ns == hub_namespace_; }
  std::string Collection(size_t index, const std::string& ns) const {
    return kube::ResourcePath(kResources[index].api_version, kResources[index].plural, ns);
  }
  std::string Target(size_t index, const std::string& ns, const std::string& name) const {
    return kube::ResourcePath(kResources[index].api_version, kResources[index].plural, ns, name);
  }
  Result<kube::ApiResponse> Call(std::string method, std::string target, const json::value& body = nullptr) {
    return kube::RunTask(
        client_.Request(std::move(method), std::move(target), body.is_null() ? std::string() : json::serialize(body)));
  }

  // The object as the API server has it now (nullopt when absent or one of the hub's internal Secrets).
  Result<std::optional<Current>> Fetch(size_t index, const std::string& ns, const std::string& name);
  Result<StoredObject> PutOnce(size_t index, const StoredObject& object, std::optional<std::int64_t> expected,
                               bool* retry);
  // Records the answer of one of this table's writes in the cache (null `resource`: deleted at `rv`).
  void RecordWrite(size_t index, const Key& key, const json::object* resource, std::int64_t rv);

  // Applies a state to the cache unless the cache holds something newer (`own`: this table's write, which may
  // repeat the version it has, e.g. a deletion answered with the last state). True when what the table serves
  // changed. Requires mu_.
  bool ApplyLocked(size_t index, const Key& key, const json::object* resource, std::int64_t rv, bool own);
  // A change seen by the informers: applied, and reported unless it is this table's own. Requires mu_; returns
  // whether to call the listener.
  bool ObserveLocked(size_t index, const Key& key, const json::object* resource, std::int64_t rv);
  void EndWrite(size_t index, const Key& key);
  void OnList(size_t index);
  void OnEvent(size_t index, const kube::WatchEvent& event);
  void Notify();

  kube::KubeClient& client_;
  const std::string hub_namespace_;

  std::mutex mu_;
  std::array<std::map<Key, Entry>, kResources.size()> cache_;                     // guarded by mu_
  std::array<std::map<Key, int>, kResources.size()> in_flight_;                   // guarded by mu_
  std::array<std::map<Key, std::vector<std::int64_t>>, kResources.size()> held_;  // guarded by mu_
  std::set<std::int64_t> own_versions_;                                           // guarded by mu_
  std::deque<std::int64_t> own_order_;                                            // guarded by mu_
  std::array<bool, kResources.size()> listed_{};                                  // guarded by mu_
  bool synced_ = false;                                                           // guarded by mu_
  int running_ = 0;                                                               // guarded by mu_
  std::condition_variable cv_;

  std::mutex listener_mu_;
  std::function<void()> listener_;  // guarded by listener_mu_

  // Declared before io_, which destroys coroutine frames that use them.
  std::array<std::unique_ptr<kube::Informer>, kResources.size()> informers_;
  std::array<asio::cancellation_signal, kResources.size()> cancel_;
  std::atomic<bool> stopping_{false};
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

Status KubeObjectTableImpl::Start() {
  if (thread_.joinable()) return OkStatus();
  // A list that can never succeed would keep the informer retrying forever: say why now.
  for (size_t i = 0; i < kResources.size(); ++i) {
    const Resource& r = kResources[i];
    const std::string collection = Collection(i, r.custom ? "" : hub_namespace_);
    auto answer = Call("GET", collection + "?limit=1");
    if (!answer.ok()) return answer.error().Wrap("listing " + collection);
    if (answer->status == 404 && r.custom) {
      return MakeError("the CustomResourceDefinition " + std::string(r.plural) +
                           ".networking.vmesh.dev is not installed: kubectl apply -f charts/vmesh-hub/crds/",
                       ErrorCode::kUnavailable);
    }
    if (answer->status == 401 || answer->status == 403) {
      const std::string where = r.custom ? std::string(" in all namespaces") : " in namespace " + hub_namespace_;
      const std::string status = r.custom ? ", and update on " + std::string(r.plural) + "/status" : "";
      return MakeError("the hub may not list " + std::string(r.plural) + where + ": " + answer->Describe() +
                           " (grant it get, list, watch, create, update and delete on " + std::string(r.plural) +
                           where + status + ")",
                       ErrorCode::kPermissionDenied);
    }
    if (!answer->ok()) return ApiFailure("listing " + collection, *answer);
  }

  stopping_ = false;
  {
    std::lock_guard lock(mu_);
    listed_.fill(false);
    synced_ = false;
  }
  io_.restart();  // after a Stop()
  work_.emplace(io_.get_executor());
  for (size_t i = 0; i < kResources.size(); ++i) {
    const Resource& r = kResources[i];
    kube::InformerOptions options{.collection = Collection(i, r.custom ? "" : hub_namespace_)};
    // Only the Secrets that are the hub's API objects: never its internal ones, nor the namespace's others.
    if (!r.custom) {
      options.label_selector = std::string(kSecretApiObjectLabel) + "=true," + kManagedByLabel + "!=" + kManagedByHub;
    }
    kube::InformerHandlers handlers{.on_list = [this, i](const auto&) { OnList(i); },
                                    .on_event = [this, i](const kube::WatchEvent& e) { OnEvent(i, e); }};
    informers_[i] = std::make_unique<kube::Informer>(client_, std::move(options), std::move(handlers));
    {
      std::lock_guard lock(mu_);
      ++running_;
    }
    asio::co_spawn(io_, informers_[i]->Run([this] { return !stopping_; }),
                   asio::bind_cancellation_slot(cancel_[i].slot(), [this, i](std::exception_ptr e) {
                     if (e && !stopping_) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         spdlog::error("kubernetes store: the {} informer ended: {}", kResources[i].plural, ex.what());
                       } catch (...) {
                         spdlog::error("kubernetes store: the {} informer ended", kResources[i].plural);
                       }
                     }
                     std::lock_guard lock(mu_);
                     --running_;
                     cv_.notify_all();
                   }));
  }
  thread_ = std::thread([this] { io_.run(); });

  std::unique_lock lock(mu_);
  const bool listed = cv_.wait_for(lock, std::chrono::seconds(60), [this] {
    return std::all_of(listed_.begin(), listed_.end(), [](bool b) { return b; });
  });
  if (!listed) {
    lock.unlock();
    Stop();
    return MakeError("the kubernetes store could not list its objects within 60s", ErrorCode::kUnavailable);
  }
  synced_ = true;
  return OkStatus();
}

void KubeObjectTableImpl::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  asio::post(io_, [this] {
    for (auto& c : cancel_) c.emit(asio::cancellation_type::terminal);
  });
  {
    std::unique_lock lock(mu_);
    // A client whose watch ignores cancellation is cut off by stopping the io_context below.
    cv_.wait_for(lock, std::chrono::seconds(5), [this] { return running_ == 0; });
  }
  work_.reset();
  io_.stop();
  thread_.join();
}

bool KubeObjectTableImpl::ApplyLocked(size_t index, const Key& key, const json::object* resource, std::int64_t rv,
                                      bool own) {
  auto& entries = cache_[index];
  auto it = entries.find(key);
  if (it != entries.end() && (rv < it->second.resource_version || (!own && rv == it->second.resource_version))) {
    return false;  // older than (or the same as) what the cache holds
  }
  if (resource != nullptr && index == kSecretIndex && !IsListedSecret(*resource)) resource = nullptr;
  const bool existed = it != entries.end() && it->second.exists;
  if (resource == nullptr) {
    if (it == entries.end()) {
      entries[key] = Entry{.resource_version = rv};
    } else {
      it->second = Entry{.resource_version = rv};
    }
    return existed;
  }
  Entry entry{.resource_version = rv, .exists = true, .resource = *resource};
  if (auto* md = entry.resource.if_contains("metadata"); md && md->is_object()) md->get_object().erase("managedFields");
  auto stored = FromResource(kResources[index], entry.resource);
  if (stored.ok()) {
    entry.stored = std::move(*stored);
  } else {
    spdlog::warn("kubernetes store: {} is not served: {}", Describe(kResources[index], key.first, key.second),
                 stored.error().message);
    entry.problem = stored.error();
  }
  entries[key] = std::move(entry);
  return true;
}

bool KubeObjectTableImpl::ObserveLocked(size_t index, const Key& key, const json::object* resource, std::int64_t rv) {
  if (!ApplyLocked(index, key, resource, rv, false)) return false;
  if (own_versions_.count(rv)) return false;
  if (auto it = in_flight_[index].find(key); it != in_flight_[index].end() && it->second > 0) {
    held_[index][key].push_back(rv);  // maybe the answer to that write: decided when it ends
    return false;
  }
  return true;
}

void KubeObjectTableImpl::RecordWrite(size_t index, const Key& key, const json::object* resource, std::int64_t rv) {
  std::lock_guard lock(mu_);
  if (own_versions_.insert(rv).second) {
    own_order_.push_back(rv);
    if (own_order_.size() > kOwnVersionsKept) {
      own_versions_.erase(own_order_.front());
      own_order_.pop_front();
    }
  }
  if (Cached(index, key.first)) ApplyLocked(index, key, resource, rv, true);
}

void KubeObjectTableImpl::EndWrite(size_t index, const Key& key) {
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    auto it = in_flight_[index].find(key);
    if (--it->second > 0) return;
    in_flight_[index].erase(it);
    if (auto held = held_[index].find(key); held != held_[index].end()) {
      for (std::int64_t rv : held->second) notify = notify || !own_versions_.count(rv);
      held_[index].erase(held);
    }
  }
  if (notify) Notify();
}

void KubeObjectTableImpl::OnList(size_t index) {
  const auto& listed = informers_[index]->cache();
  const std::int64_t list_rv = ParseVersion(informers_[index]->resource_version()).value_or(0);
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    std::set<Key> seen;
    for (const auto& [k, value] : listed) {
      if (!value.is_object()) continue;
      const json::object* md = ObjectAt(value.get_object(), "metadata");
      auto rv = md ? ParseVersion(StringAt(*md, "resourceVersion")) : std::nullopt;
      if (!rv) continue;
      Key key{StringAt(*md, "namespace"), StringAt(*md, "name")};
      seen.insert(key);
      notify = ObserveLocked(index, key, &value.get_object(), *rv) || notify;
    }
    // Gone from the list: deleted, unless this table wrote it after the list was taken. Tombstones the list has
    // passed are not needed any more.
    for (auto it = cache_[index].begin(); it != cache_[index].end();) {
      if (seen.count(it->first) || it->second.resource_version > list_rv) {
        ++it;
        continue;
      }
      if (it->second.exists) notify = ObserveLocked(index, it->first, nullptr, list_rv) || notify;
      if (!it->second.exists) {
        it = cache_[index].erase(it);
      } else {
        ++it;
      }
    }
    listed_[index] = true;
    notify = notify && synced_;
    cv_.notify_all();
  }
  if (notify) Notify();
}

void KubeObjectTableImpl::OnEvent(size_t index, const kube::WatchEvent& event) {
  if (!event.object.is_object()) return;
  const json::object& object = event.object.get_object();
  const json::object* md = ObjectAt(object, "metadata");
  auto rv = md ? ParseVersion(StringAt(*md, "resourceVersion")) : std::nullopt;
  if (!rv) return;
  Key key{StringAt(*md, "namespace"), StringAt(*md, "name")};
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    const bool deleted = event.type == "DELETED";
    notify = ObserveLocked(index, key, deleted ? nullptr : &object, *rv) && synced_;
    // Past the deletion, no older event of this object can come: the tombstone has done its job.
    if (deleted && !in_flight_[index].count(key)) {
      if (auto it = cache_[index].find(key);
          it != cache_[index].end() && !it->second.exists && it->second.resource_version <= *rv) {
        cache_[index].erase(it);
      }
    }
  }
  if (notify) Notify();
}

void KubeObjectTableImpl::Notify() {
  std::function<void()> listener;
  {
    std::lock_guard lock(listener_mu_);
    listener = listener_;
  }
  if (listener) listener();
}

Result<std::optional<KubeObjectTableImpl::Current>> KubeObjectTableImpl::Fetch(size_t index, const std::string& ns,
                                                                               const std::string& name) {
  const Resource& r = kResources[index];
  auto answer = Call("GET", Target(index, ns, name));
  if (!answer.ok()) return answer.error().Wrap("reading " + Describe(r, ns, name));
  if (answer->status == 404) return std::optional<Current>();
  if (!answer->ok() || !answer->body.is_object()) return ApiFailure("reading " + Describe(r, ns, name), *answer);
  const json::object& resource = answer->body.get_object();
  if (index == kSecretIndex && IsInternal(resource)) return std::optional<Current>();
  auto stored = FromResource(r, resource);
  if (!stored.ok()) return stored.error();
  return std::optional<Current>(Current{resource, std::move(*stored)});
}

Result<StoredObject> KubeObjectTableImpl::PutObject(const StoredObject& object,
                                                    std::optional<std::int64_t> expected_version) {
  auto index = ResourceIndex(object.kind);
  if (!index) {
    return MakeError("the Kubernetes store keeps no " + object.kind + " objects", ErrorCode::kInvalidArgument);
  }
  WriteGuard guard(*this, *index, Key{object.ns, object.name});
  for (int attempt = 1;; ++attempt) {
    bool retry = false;
    auto stored = PutOnce(*index, object, expected_version, &retry);
    if (!retry || attempt >= kUnconditionalAttempts) return stored;
  }
}

Result<StoredObject> KubeObjectTableImpl::PutOnce(size_t index, const StoredObject& object,
                                                  std::optional<std::int64_t> expected, bool* retry) {
  const Resource& r = kResources[index];
  const Key key{object.ns, object.name};
  const std::string who = Describe(r, object.ns, object.name);

  // What the write is based on: nothing (create), the cached object (the version expected), or the API server's
  // (a write without expected version must not trust a cache that may lag behind others' changes).
  std::optional<Current> base;
  if (!expected || *expected != 0) {
    if (expected && Cached(index, object.ns)) {
      std::lock_guard lock(mu_);
      auto it = cache_[index].find(key);
      if (it != cache_[index].end() && it->second.exists && it->second.stored &&
          it->second.resource_version == *expected) {
        base = Current{it->second.resource, *it->second.stored};
      }
    }
    if (!base) {
      auto fetched = Fetch(index, object.ns, object.name);
      if (!fetched.ok()) return fetched.error();
      base = std::move(*fetched);
    }
    if (expected && (!base || base->stored.resource_version != *expected)) {
      return store_errors::Conflict(object, base ? base->stored.resource_version : 0, *expected);
    }
  }

  json::object latest;
  bool wrote = true;
  if (!base) {
    auto desired = DesiredObject(r, object, nullptr, nullptr);
    if (!desired.ok()) return desired.error();
    auto answer = Call("POST", Collection(index, object.ns), *desired);
    if (!answer.ok()) return answer.error().Wrap("creating " + who);
    if (answer->status == 409) {
      *retry = !expected;  // created meanwhile: without expected version, update it
      return ConflictFrom(r, object, *answer);
    }
    if (!answer->ok() || !answer->body.is_object()) return ApiFailure("creating " + who, *answer);
    latest = answer->body.get_object();
  } else {
    auto desired = DesiredObject(r, object, &base->resource, &base->stored);
    if (!desired.ok()) return desired.error();
    json::object unchanged = base->resource;
    unchanged.erase("status");
    if (auto* md = unchanged.if_contains("metadata"); md && md->is_object()) md->get_object().erase("managedFields");
    if (*desired == unchanged) {
      latest = base->resource;
      wrote = false;  // (and its version is not this table's: a kubectl change it matches still gets reported)
    } else {
      auto answer = Call("PUT", Target(index, object.ns, object.name), *desired);
      if (!answer.ok()) return answer.error().Wrap("updating " + who);
      if (answer->status == 409 || answer->status == 404) {
        *retry = !expected;
        return answer->status == 409 ? ConflictFrom(r, object, *answer)
                                     : store_errors::Conflict(object, 0, base->stored.resource_version);
      }
      if (!answer->ok() || !answer->body.is_object()) return ApiFailure("updating " + who, *answer);
      latest = answer->body.get_object();
    }
  }
  auto result = FromResource(r, latest);
  if (!result.ok()) return result.error();
  if (wrote) RecordWrite(index, key, &latest, result->resource_version);

  if (r.custom && NormalizedStatus(r, object.status) != result->status) {
    auto status = DesiredStatus(r, object);
    if (!status.ok()) return status.error();
    json::object request = latest;
    if (status->is_null()) {
      request.erase("status");
    } else {
      request["status"] = std::move(*status);
    }
    if (auto* md = request.if_contains("metadata"); md && md->is_object()) md->get_object().erase("managedFields");
    auto answer = Call("PUT", Target(index, object.ns, object.name) + "/status", request);
    if (!answer.ok()) return answer.error().Wrap("writing the status of " + who);
    if (answer->status == 409) {
      // The object was written: a retry without expected version starts from it.
      *retry = !expected;
      return ConflictFrom(r, object, *answer);
    }
    if (!answer->ok() || !answer->body.is_object()) return ApiFailure("writing the status of " + who, *answer);
    latest = answer->body.get_object();
    result = FromResource(r, latest);
    if (!result.ok()) return result.error();
    RecordWrite(index, key, &latest, result->resource_version);
  }
  return result;
}

Result<std::optional<StoredObject>> KubeObjectTableImpl::GetObject(const std::string& kind, const std::string& ns,
                                                                   const std::string& name) {
  auto index = ResourceIndex(kind);
  if (!index) return std::optional<StoredObject>();
  if (!Cached(*index, ns)) {
    auto fetched = Fetch(*index, ns, name);
    if (!fetched.ok()) return fetched.error();
    if (!fetched->has_value()) return std::optional<StoredObject>();
    return std::optional<StoredObject>(std::move((*fetched)->stored));
  }
  {
    std::lock_guard lock(mu_);
    auto it = cache_[*index].find(Key{ns, name});
    const bool cached = it != cache_[*index].end() && it->second.exists;
    if (cached && it->second.problem) return *it->second.problem;
    if (cached) return std::optional<StoredObject>(*it->second.stored);
    // A Secret of the hub namespace that is not one of the listed (e.g. a root CA created with kubectl without
    // the label) is read by name.
    if (*index != kSecretIndex) return std::optional<StoredObject>();
  }
  auto fetched = Fetch(*index, ns, name);
  if (!fetched.ok()) return fetched.error();
  if (!fetched->has_value()) return std::optional<StoredObject>();
  return std::optional<StoredObject>(std::move((*fetched)->stored));
}

Result<std::vector<StoredObject>> KubeObjectTableImpl::ListObjects(const std::string& kind) {
  auto index = ResourceIndex(kind);
  std::vector<StoredObject> out;
  if (!index) return out;
  std::lock_guard lock(mu_);
  for (const auto& [key, entry] : cache_[*index]) {
    if (entry.exists && entry.stored) out.push_back(*entry.stored);  // unreadable ones were logged when cached
  }
  return out;
}

Result<bool> KubeObjectTableImpl::DeleteObject(const std::string& kind, const std::string& ns,
                                               const std::string& name) {
  auto index = ResourceIndex(kind);
  if (!index) return false;
  const Resource& r = kResources[*index];
  const Key key{ns, name};
  WriteGuard guard(*this, *index, key);
  json::value options = nullptr;
  if (*index == kSecretIndex) {
    // Never one of the hub's internal Secrets: delete exactly the Secret checked (uid precondition).
    auto current = Fetch(*index, ns, name);
    if (!current.ok()) return current.error();
    if (!current->has_value()) return false;
    options = json::object{{"apiVersion", "v1"},
                           {"kind", "DeleteOptions"},
                           {"preconditions", json::object{{"uid", (*current)->stored.uid}}}};
  }
  auto answer = Call("DELETE", Target(*index, ns, name), options);
  if (!answer.ok()) return answer.error().Wrap("deleting " + Describe(r, ns, name));
  if (answer->status == 404) return false;
  if (answer->status == 409 && *index == kSecretIndex) return false;  // replaced meanwhile: not what was checked
  if (!answer->ok()) return ApiFailure("deleting " + Describe(r, ns, name), *answer);
  std::int64_t rv = 0;
  bool terminating = false;
  if (answer->body.is_object()) {
    if (const json::object* md = ObjectAt(answer->body.get_object(), "metadata")) {
      rv = ParseVersion(StringAt(*md, "resourceVersion")).value_or(0);
      terminating = md->contains("deletionTimestamp");  // finalizers hold it: it exists until they are done
    }
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_[*index].find(key); it != cache_[*index].end()) rv = std::max(rv, it->second.resource_version);
  }
  RecordWrite(*index, key, terminating ? &answer->body.get_object() : nullptr, rv);
  return true;
}

}  // namespace

std::unique_ptr<KubeObjectTable> MakeKubeObjectTable(kube::KubeClient& client, std::string hub_namespace) {
  return std::make_unique<KubeObjectTableImpl>(client, std::move(hub_namespace));
}

}  // namespace vmesh::hub
