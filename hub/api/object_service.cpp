#include "hub/api/object_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/api/secret.h"
#include "common/base/kinds.h"
#include "common/base/random.h"
#include "common/base/time.h"
#include "common/pki/aead.h"
#include "common/pki/certificate.h"
#include "common/pki/secure_string.h"

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

bool SameContent(const api::v1::VirtualMesh& a, const api::v1::VirtualMesh& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a.spec(), b.spec());
}
bool SameContent(const api::v1::AccessPolicy& a, const api::v1::AccessPolicy& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a.spec(), b.spec());
}
bool SameContent(const api::v1::Secret& a, const api::v1::Secret& b) {
  if (a.type() != b.type() || a.data_size() != b.data_size()) return false;
  for (const auto& [k, v] : a.data()) {
    auto it = b.data().find(k);
    if (it == b.data().end() || it->second != v) return false;
  }
  return true;
}

template <typename T>
Result<T> ParseStored(const StoredObject& row) {
  T obj;
  if (!obj.ParseFromString(row.body))
    return MakeError("stored " + row.kind + " " + row.ns + "/" + row.name + " is corrupt");
  return obj;
}

// Applies one object of type T (VirtualMesh, AccessPolicy or Secret): their metadata handling is the same; what
// counts as a content change (bumping the generation) is SameContent's, and `decode`/`encode` turn stored rows into
// objects and back (Secrets seal their keys).
template <typename T, typename Decode, typename Encode>
Result<ApplyResult> ApplyTyped(Store& store, const std::string& kind, T incoming, const std::string& note,
                               TimePoint now, Decode&& decode, Encode&& encode) {
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
  if constexpr (requires { incoming.clear_status(); }) incoming.clear_status();
  auto current = store.GetObject(kind, meta.namespace_(), meta.name());
  if (!current.ok()) return current.error();
  StoredObject row;
  // The uid, generation and creationTimestamp below are what the embedded stores keep; the Kubernetes store ignores
  // them and returns the API server's.
  if (current->has_value()) {
    Result<T> existing = decode(**current);
    if (!existing.ok()) return existing.error();
    const bool content_changed = !SameContent(*existing, incoming);
    if (!content_changed && SameUserMetadata(existing->metadata(), meta)) {
      result.outcome = ApplyOutcome::kUnchanged;
      result.generation = (*current)->generation;
      if (expected && *expected != (*current)->resource_version) {
        return MakeError(std::string(kConflict) + ": " + kind + " " + result.ns + "/" + result.name +
                             " was modified since resourceVersion " + std::to_string(*expected),
                         ErrorCode::kConflict);
      }
      return result;
    }
    row = **current;
    row.generation = (*current)->generation + (content_changed ? 1 : 0);
    if (!expected) expected = (*current)->resource_version;
    result.outcome = ApplyOutcome::kConfigured;
  } else {
    row.kind = kind;
    row.ns = meta.namespace_();
    row.name = meta.name();
    auto uid = RandomUuid();
    if (!uid.ok()) return uid.error().Wrap(kind + " " + result.ns + "/" + result.name + ": metadata.uid");
    row.uid = std::move(*uid);
    row.generation = 1;
    row.creation_timestamp = FormatRfc3339(now);
    if (!expected) expected = 0;
  }
  meta.set_uid(row.uid);
  meta.set_generation(row.generation);
  meta.set_creation_timestamp(row.creation_timestamp);
  meta.clear_resource_version();
  Result<std::string> body = encode(std::move(incoming));
  if (!body.ok()) return body.error();
  row.body = std::move(*body);
  auto stored = store.PutObject(row, expected);
  if (!stored.ok()) return stored.error();  // a conflict carries ErrorCode::kConflict
  // What the store assigned wins: the Kubernetes store's API server sets uid, generation and creationTimestamp.
  result.generation = stored->generation;
  return result;
}

template <typename T>
Result<ApplyResult> ApplyPlain(Store& store, const std::string& kind, const T& incoming, const std::string& note,
                               TimePoint now) {
  return ApplyTyped(store, kind, incoming, note, now, ParseStored<T>,
                    [](const T& obj) -> Result<std::string> { return SerializeDeterministic(obj); });
}

// The associated data a sealed Secret value is bound to: moving it to another Secret or key fails to open.
std::string SealContext(const std::string& ns, const std::string& name, const std::string& key) {
  return "Secret " + ns + "/" + name + " " + key;
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
  if (const KindInfo* k = LookupKind(kind, kUserWritable)) return std::string(k->kind);
  return MakeError("unknown kind \"" + kind + "\" (expected virtualmesh, accesspolicy or secret)",
                   ErrorCode::kInvalidArgument);
}

ObjectService::ObjectService(Store& store, std::string hub_namespace, std::function<TimePoint()> clock,
                             std::optional<std::string> key_encryption_key)
    : store_(store),
      hub_namespace_(std::move(hub_namespace)),
      clock_(std::move(clock)),
      kek_(std::move(key_encryption_key)) {}

Result<ApplyResult> ObjectService::ApplyOne(const api::DecodedObject& decoded) {
  if (const auto* vm = std::get_if<api::v1::VirtualMesh>(&decoded.object)) {
    return ApplyPlain(store_, "VirtualMesh", *vm, decoded.import_note, clock_());
  }
  if (const auto* ap = std::get_if<api::v1::AccessPolicy>(&decoded.object)) {
    return ApplyPlain(store_, "AccessPolicy", *ap, decoded.import_note, clock_());
  }
  if (const auto* secret = std::get_if<api::v1::Secret>(&decoded.object)) {
    api::v1::Secret incoming = *secret;
    api::MergeStringData(&incoming);
    incoming.set_api_version(std::string(api::kCoreApiVersion));
    incoming.set_kind(std::string(api::kSecretKind));
    if (incoming.type().empty()) incoming.set_type("Opaque");
    return ApplyTyped(
        store_, "Secret", std::move(incoming), decoded.import_note, clock_(),
        [this](const StoredObject& row) { return DecodeSecret(row); },
        [this](api::v1::Secret s) { return EncodeSecret(std::move(s)); });
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
  std::string refused;
  for (const auto& d : decoded.objects) {
    if (const auto* secret = std::get_if<api::v1::Secret>(&d.object)) {
      if (Status s = CheckSecret(*secret); !s.ok()) {
        refused +=
            (refused.empty() ? "" : "\n") + ("document " + std::to_string(d.document) + ": " + s.error().message);
      }
      continue;
    }
    if (!std::holds_alternative<api::v1::VirtualMesh>(d.object) &&
        !std::holds_alternative<api::v1::AccessPolicy>(d.object)) {
      return MakeError("document " + std::to_string(d.document) + ": " +
                       api::AsMessage(d.object).GetDescriptor()->name() +
                       " objects are written by the hub from agent reports and cannot be applied");
    }
  }
  if (!refused.empty()) return MakeError(refused);
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

Status ObjectService::CheckSecret(const api::v1::Secret& secret) const {
  if (!api::IsRootCaSecret(secret)) return OkStatus();
  auto pem = api::SecretValue(secret, api::kRootCertKey);
  if (!pem) return OkStatus();  // the codec reported it
  auto cert = pki::Certificate::FromPem(*pem);
  if (!cert.ok()) return OkStatus();
  const TimePoint now = clock_();
  const std::string field = secret.string_data().count(std::string(api::kRootCertKey)) ? "stringData" : "data";
  const std::string who = "Secret " + secret.metadata().namespace_() + "/" + secret.metadata().name() + ": " + field +
                          "[" + std::string(api::kRootCertKey) + "]: ";
  if (cert->not_after() < now) {
    return MakeError(who + "expired at " + FormatRfc3339(cert->not_after()) +
                     ": provide a CA certificate that is valid now");
  }
  if (cert->not_before() > now) {
    return MakeError(who + "is not valid before " + FormatRfc3339(cert->not_before()) + " (is the hub's clock right?)");
  }
  return OkStatus();
}

Result<std::string> ObjectService::EncodeSecret(api::v1::Secret secret) const {
  const std::string ns = secret.metadata().namespace_();
  const std::string name = secret.metadata().name();
  if (kek_) {
    for (auto& [key, value] : *secret.mutable_data()) {
      if (api::IsPublicSecretValue(value)) continue;
      auto sealed = pki::Seal(*kek_, value, SealContext(ns, name, key));
      if (!sealed.ok()) return sealed.error().Wrap("Secret " + ns + "/" + name + " " + key);
      value = std::move(*sealed);
    }
  }
  return SerializeDeterministic(secret);
}

Result<api::v1::Secret> ObjectService::DecodeSecret(const StoredObject& row) const {
  auto secret = ParseStored<api::v1::Secret>(row);
  if (!secret.ok()) return secret.error();
  for (auto& [key, value] : *secret->mutable_data()) {
    if (!pki::IsSealed(value)) continue;
    if (!kek_) {
      return MakeError("Secret " + row.ns + "/" + row.name +
                       " is encrypted: start the hub with --root-key-encryption-key-file");
    }
    auto opened = pki::Open(*kek_, value, SealContext(row.ns, row.name, key));
    if (!opened.ok()) return opened.error().Wrap("Secret " + row.ns + "/" + row.name + " " + key);
    value = opened->value();  // the caller's protobuf holds it from here
  }
  secret->mutable_metadata()->set_resource_version(std::to_string(row.resource_version));
  return secret;
}

Result<int> ObjectService::SealStoredSecrets() {
  if (!kek_) return 0;
  auto rows = store_.ListObjects("Secret");
  if (!rows.ok()) return rows.error();
  // Nothing is written unless every value already sealed opens with this key (a wrong key changes nothing).
  for (const auto& row : *rows) {
    auto secret = ParseStored<api::v1::Secret>(row);
    if (!secret.ok()) return secret.error();
    for (const auto& [key, value] : secret->data()) {
      if (!pki::IsSealed(value)) continue;
      if (auto opened = pki::Open(*kek_, value, SealContext(row.ns, row.name, key)); !opened.ok()) {
        return opened.error().Wrap("Secret " + row.ns + "/" + row.name + " " + key +
                                   " (wrong --root-key-encryption-key-file?)");
      }
    }
  }
  int sealed_count = 0;
  for (auto& row : *rows) {
    auto secret = ParseStored<api::v1::Secret>(row);
    if (!secret.ok()) return secret.error();
    bool changed = false;
    for (auto& [key, value] : *secret->mutable_data()) {
      if (pki::IsSealed(value) || api::IsPublicSecretValue(value)) continue;
      auto sealed = pki::Seal(*kek_, value, SealContext(row.ns, row.name, key));
      if (!sealed.ok()) return sealed.error().Wrap("Secret " + row.ns + "/" + row.name + " " + key);
      pki::Cleanse(value);
      value = std::move(*sealed);
      changed = true;
    }
    if (!changed) continue;
    pki::Cleanse(row.body);
    row.body = SerializeDeterministic(*secret);
    if (auto put = store_.PutObject(row, row.resource_version); !put.ok()) return put.error();
    ++sealed_count;
  }
  return sealed_count;
}

Result<std::vector<api::v1::Secret>> ObjectService::ListSecrets() {
  auto rows = store_.ListObjects("Secret");
  if (!rows.ok()) return rows.error();
  std::vector<api::v1::Secret> out;
  for (const auto& row : *rows) {
    // Listing needs no key material: parse without unsealing, then redact (sealed values are never public).
    auto secret = ParseStored<api::v1::Secret>(row);
    if (!secret.ok()) return secret.error();
    secret->mutable_metadata()->set_resource_version(std::to_string(row.resource_version));
    out.push_back(api::RedactSecret(*secret));
  }
  return out;
}

Result<std::optional<api::v1::Secret>> ObjectService::GetSecret(const std::string& ns, const std::string& name) {
  auto row = store_.GetObject("Secret", ns, name);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return std::optional<api::v1::Secret>();
  auto secret = ParseStored<api::v1::Secret>(**row);
  if (!secret.ok()) return secret.error();
  secret->mutable_metadata()->set_resource_version(std::to_string((*row)->resource_version));
  return std::optional<api::v1::Secret>(api::RedactSecret(*secret));
}

Result<std::optional<api::v1::Secret>> ObjectService::GetSecretData(const std::string& ns, const std::string& name) {
  auto row = store_.GetObject("Secret", ns, name);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return std::optional<api::v1::Secret>();
  auto secret = DecodeSecret(**row);
  if (!secret.ok()) return secret.error();
  return std::optional<api::v1::Secret>(std::move(*secret));
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
  if (!*deleted) {
    return MakeError(Lower(*canonical) + " " + (ns.empty() ? hub_namespace_ : ns) + "/" + name + " not found",
                     ErrorCode::kNotFound);
  }
  if (*canonical == "Secret") {
    const std::string secret_ns = ns.empty() ? hub_namespace_ : ns;
    auto vms = ListVirtualMeshes();
    if (vms.ok()) {
      for (const auto& vm : *vms) {
        const auto& root = vm.spec().mtls_config().shared().root_certificate_authority();
        if (!root.has_secret() || root.secret().name() != name) continue;
        const std::string& ref_ns =
            root.secret().namespace_().empty() ? vm.metadata().namespace_() : root.secret().namespace_();
        if (ref_ns != secret_ns) continue;
        spdlog::warn(
            "Secret {}/{} deleted while VirtualMesh {}/{} names it as its root CA: a root already imported from it "
            "stays in use",
            secret_ns, name, vm.metadata().namespace_(), vm.metadata().name());
      }
    }
  }
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
  c.mutable_metadata()->set_creation_timestamp(FormatRfc3339(record.registered_at));
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
