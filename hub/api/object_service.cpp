#include "hub/api/object_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>

#include <algorithm>

namespace vmesh::hub {

std::string SerializeDeterministic(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream out(&stream);
  out.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&out);
  out.Trim();
  return bytes;
}

namespace {

std::string NewUid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;  // RFC 4122 version 4
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace

std::string Rfc3339(TimePoint t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  return google::protobuf::util::TimeUtil::ToString(ts);
}

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool SameUserMetadata(const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b) {
  using google::protobuf::util::MessageDifferencer;
  api::v1::ObjectMeta x, y;
  *x.mutable_labels() = a.labels();
  *x.mutable_annotations() = a.annotations();
  *y.mutable_labels() = b.labels();
  *y.mutable_annotations() = b.annotations();
  return MessageDifferencer::Equals(x, y);
}

// Applies one object of type T (VirtualMesh or AccessPolicy) — their layouts are the same.
template <typename T>
Result<ApplyResult> ApplyTyped(Store& store, const std::string& kind, T incoming, const std::string& note,
                               TimePoint now) {
  using google::protobuf::util::MessageDifferencer;
  api::v1::ObjectMeta& meta = *incoming.mutable_metadata();
  ApplyResult result{kind, meta.namespace_(), meta.name(), ApplyOutcome::kCreated, 1, note};
  std::optional<std::int64_t> expected;
  if (!meta.resource_version().empty()) {
    try {
      expected = std::stoll(meta.resource_version());
    } catch (const std::exception&) {
      return MakeError(kind + " " + result.ns + "/" + result.name + ": metadata.resourceVersion \"" +
                       meta.resource_version() + "\" is not a version this hub issued");
    }
  }
  incoming.clear_status();
  auto current = store.GetObject(kind, meta.namespace_(), meta.name());
  if (!current.ok()) return current.error();
  StoredObject row;
  if (current->has_value()) {
    T existing;
    if (!existing.ParseFromString((*current)->body)) return MakeError("stored " + kind + " is corrupt");
    const bool spec_changed = !MessageDifferencer::Equals(existing.spec(), incoming.spec());
    if (!spec_changed && SameUserMetadata(existing.metadata(), meta)) {
      result.outcome = ApplyOutcome::kUnchanged;
      result.generation = (*current)->generation;
      if (expected && *expected != (*current)->resource_version) {
        return MakeError(std::string(kConflict) + ": " + kind + " " + result.ns + "/" + result.name +
                         " was modified since resourceVersion " + std::to_string(*expected));
      }
      return result;
    }
    row = **current;
    row.generation = (*current)->generation + (spec_changed ? 1 : 0);
    if (!expected) expected = (*current)->resource_version;
    result.outcome = ApplyOutcome::kConfigured;
  } else {
    row.kind = kind;
    row.ns = meta.namespace_();
    row.name = meta.name();
    row.uid = NewUid();
    row.generation = 1;
    row.creation_timestamp = Rfc3339(now);
    if (!expected) expected = 0;
  }
  meta.set_uid(row.uid);
  meta.set_generation(row.generation);
  meta.set_creation_timestamp(row.creation_timestamp);
  meta.clear_resource_version();
  row.body = SerializeDeterministic(incoming);
  auto stored = store.PutObject(row, expected);
  if (!stored.ok()) return stored.error();
  result.generation = row.generation;
  return result;
}

template <typename T>
Result<std::vector<T>> ListTyped(Store& store, const std::string& kind) {
  auto rows = store.ListObjects(kind);
  if (!rows.ok()) return rows.error();
  std::vector<T> out;
  for (const auto& row : *rows) {
    T obj;
    if (!obj.ParseFromString(row.body))
      return MakeError("stored " + kind + " " + row.ns + "/" + row.name + " is corrupt");
    if (!row.status.empty()) obj.mutable_status()->ParseFromString(row.status);
    obj.mutable_metadata()->set_resource_version(std::to_string(row.resource_version));
    out.push_back(std::move(obj));
  }
  return out;
}

}  // namespace

std::string ApplyResult::ToString() const {
  const char* what = outcome == ApplyOutcome::kCreated      ? "created"
                     : outcome == ApplyOutcome::kConfigured ? "configured"
                                                            : "unchanged";
  return Lower(kind) + " " + ns + "/" + name + " " + what;
}

Result<std::string> CanonicalKind(const std::string& kind) {
  const std::string k = Lower(kind);
  if (k == "virtualmesh" || k == "virtualmeshes" || k == "vm") return std::string("VirtualMesh");
  if (k == "accesspolicy" || k == "accesspolicies" || k == "ap") return std::string("AccessPolicy");
  return MakeError("unknown kind \"" + kind + "\" (expected virtualmesh or accesspolicy)");
}

ObjectService::ObjectService(Store& store, std::string hub_namespace, std::function<TimePoint()> clock)
    : store_(store), hub_namespace_(std::move(hub_namespace)), clock_(std::move(clock)) {}

Result<ApplyResult> ObjectService::ApplyOne(const api::DecodedObject& decoded) {
  if (const auto* vm = std::get_if<api::v1::VirtualMesh>(&decoded.object)) {
    return ApplyTyped(store_, "VirtualMesh", *vm, decoded.import_note, clock_());
  }
  if (const auto* ap = std::get_if<api::v1::AccessPolicy>(&decoded.object)) {
    return ApplyTyped(store_, "AccessPolicy", *ap, decoded.import_note, clock_());
  }
  const auto& msg = api::AsMessage(decoded.object);
  return MakeError("document " + std::to_string(decoded.document) + ": " + msg.GetDescriptor()->name() +
                   " objects are written by the hub from agent reports and cannot be applied");
}

Result<std::vector<ApplyResult>> ObjectService::Apply(std::string_view manifest) {
  api::DecodeOptions options;
  options.hub_namespace = hub_namespace_;
  api::DecodeResult decoded = api::DecodeManifests(manifest, options);
  if (!decoded.ok()) return MakeError(api::JoinErrors(decoded.errors));
  for (const auto& d : decoded.objects) {
    if (!std::holds_alternative<api::v1::VirtualMesh>(d.object) &&
        !std::holds_alternative<api::v1::AccessPolicy>(d.object)) {
      return MakeError("document " + std::to_string(d.document) + ": " +
                       api::AsMessage(d.object).GetDescriptor()->name() +
                       " objects are written by the hub from agent reports and cannot be applied");
    }
  }
  std::vector<ApplyResult> results;
  for (const auto& d : decoded.objects) {
    auto r = ApplyOne(d);
    if (!r.ok()) return r.error();
    results.push_back(std::move(*r));
  }
  return results;
}

Result<std::vector<api::v1::VirtualMesh>> ObjectService::ListVirtualMeshes() {
  return ListTyped<api::v1::VirtualMesh>(store_, "VirtualMesh");
}

Result<std::vector<api::v1::AccessPolicy>> ObjectService::ListAccessPolicies() {
  return ListTyped<api::v1::AccessPolicy>(store_, "AccessPolicy");
}

Result<std::optional<api::v1::VirtualMesh>> ObjectService::GetVirtualMesh(const std::string& ns,
                                                                          const std::string& name) {
  auto row = store_.GetObject("VirtualMesh", ns, name);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return std::optional<api::v1::VirtualMesh>();
  api::v1::VirtualMesh vm;
  if (!vm.ParseFromString((*row)->body)) return MakeError("stored VirtualMesh " + ns + "/" + name + " is corrupt");
  if (!(*row)->status.empty()) vm.mutable_status()->ParseFromString((*row)->status);
  vm.mutable_metadata()->set_resource_version(std::to_string((*row)->resource_version));
  return std::optional<api::v1::VirtualMesh>(std::move(vm));
}

Status ObjectService::UpdateVirtualMeshStatus(const std::string& ns, const std::string& name,
                                              const api::v1::VirtualMeshStatus& status,
                                              const std::optional<api::v1::VirtualMeshSpec>& last_good,
                                              std::int64_t last_good_gen) {
  auto row = store_.GetObject("VirtualMesh", ns, name);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return MakeError("VirtualMesh " + ns + "/" + name + " no longer exists");
  StoredObject updated = **row;
  updated.status = SerializeDeterministic(status);
  updated.last_good = last_good ? std::optional<std::string>(SerializeDeterministic(*last_good)) : std::nullopt;
  updated.last_good_generation = last_good_gen;
  if (updated.status == (*row)->status && updated.last_good == (*row)->last_good &&
      updated.last_good_generation == (*row)->last_good_generation) {
    return OkStatus();  // written only when it changes
  }
  auto stored = store_.PutObject(updated, (*row)->resource_version);
  if (!stored.ok()) return stored.error();
  return OkStatus();
}

Status ObjectService::Delete(const std::string& kind, const std::string& ns, const std::string& name) {
  auto canonical = CanonicalKind(kind);
  if (!canonical.ok()) return canonical.error();
  auto deleted = store_.DeleteObject(*canonical, ns.empty() ? hub_namespace_ : ns, name);
  if (!deleted.ok()) return deleted.error();
  if (!*deleted)
    return MakeError(Lower(*canonical) + " " + (ns.empty() ? hub_namespace_ : ns) + "/" + name + " not found");
  return OkStatus();
}

}  // namespace vmesh::hub

namespace vmesh::hub {

api::v1::Cluster ClusterObject(const ClusterRecord& record, const std::string& hub_namespace) {
  auto ts = [](TimePoint t) {
    google::protobuf::Timestamp out;
    out.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
    return out;
  };
  api::v1::Cluster c;
  c.set_api_version("discovery.vmesh.dev/v1");
  c.set_kind("Cluster");
  c.mutable_metadata()->set_name(record.name);
  c.mutable_metadata()->set_namespace_(hub_namespace);
  c.mutable_metadata()->set_creation_timestamp(Rfc3339(record.registered_at));
  auto* st = c.mutable_status();
  switch (record.state) {
    case ClusterState::kRegistered:
      st->set_state(api::v1::REGISTERED);
      break;
    case ClusterState::kConnected:
      st->set_state(api::v1::CONNECTED);
      break;
    case ClusterState::kDisconnected:
    case ClusterState::kDeregistered:
      st->set_state(api::v1::DISCONNECTED);
      break;
  }
  st->set_agent_version(record.agent_version);
  st->set_identity_serial(record.identity_serial);
  if (record.identity_not_after) *st->mutable_identity_not_after() = ts(*record.identity_not_after);
  if (record.connected_since) *st->mutable_connected_since() = ts(*record.connected_since);
  if (record.last_heartbeat) *st->mutable_last_heartbeat() = ts(*record.last_heartbeat);
  if (record.state == ClusterState::kDeregistered)
    (*c.mutable_metadata()->mutable_labels())["vmesh.dev/deregistered"] = "true";
  return c;
}

}  // namespace vmesh::hub
