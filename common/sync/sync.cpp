#include "common/sync/sync.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

namespace vmesh::sync {

std::string ContentVersion(const Resource& resource) {
  Resource body = resource;
  body.clear_name();
  body.clear_version();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    body.SerializeToCodedStream(&out);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < 10 && i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

void ResourceSender::Upsert(Resource resource) {
  resource.set_version(ContentVersion(resource));
  std::string name = resource.name();
  desired_[name] = std::move(resource);
}

void ResourceSender::Remove(const std::string& name) { desired_.erase(name); }

void ResourceSender::SetDesired(std::vector<Resource> resources) {
  desired_.clear();
  for (auto& r : resources) Upsert(std::move(r));
}

void ResourceSender::SetDesiredVersioned(std::vector<Resource> resources) {
  desired_.clear();
  for (auto& r : resources) {
    if (r.version().empty()) {
      Upsert(std::move(r));
      continue;
    }
    std::string name = r.name();
    desired_[name] = std::move(r);
  }
}

void ResourceSender::Resume(const Hello& hello) {
  agent_.clear();
  for (const auto& [name, version] : hello.resource_versions()) agent_[name] = version;
  in_flight_.reset();
  active_ = true;
  if (!hello.system_version().empty()) system_version_ = hello.system_version();
}

void ResourceSender::Disconnected() {
  in_flight_.reset();
  active_ = false;
}

bool ResourceSender::InSync() const {
  if (agent_.size() != desired_.size()) return false;
  for (const auto& [name, r] : desired_) {
    auto it = agent_.find(name);
    if (it == agent_.end() || it->second != r.version()) return false;
  }
  return true;
}

std::optional<ResourceUpdate> ResourceSender::NextUpdate() {
  if (!active_ || in_flight_) return std::nullopt;
  ResourceUpdate update;
  for (const auto& [name, r] : desired_) {
    auto held = agent_.find(name);
    if (held != agent_.end() && held->second == r.version()) continue;
    auto rejected = rejected_.find(name);
    if (rejected != rejected_.end() && rejected->second == r.version()) continue;  // wait for a change or a retry
    *update.add_upserts() = r;
  }
  for (const auto& [name, version] : agent_) {
    if (desired_.count(name)) continue;
    auto rejected = rejected_.find(name);
    if (rejected != rejected_.end() && rejected->second.empty()) continue;
    update.add_removals(name);
  }
  if (update.upserts_size() == 0 && update.removals_size() == 0) return std::nullopt;
  update.set_nonce(std::to_string(next_nonce_++));
  update.set_system_version(std::to_string(++system_counter_) + "-" + std::to_string(desired_.size()));
  resources_sent_ += static_cast<std::uint64_t>(update.upserts_size());
  in_flight_ = update;
  return update;
}

Status ResourceSender::HandleAck(const Ack& ack) {
  if (!in_flight_) return MakeError("ACK for nonce " + ack.nonce() + " but no update is in flight");
  if (ack.nonce() != in_flight_->nonce()) {
    return MakeError("ACK for nonce " + ack.nonce() + " but the update in flight has nonce " + in_flight_->nonce());
  }
  std::map<std::string, std::string> errors;
  for (const auto& e : ack.errors()) errors[e.name()] = e.message();
  for (const auto& r : in_flight_->upserts()) {
    if (auto e = errors.find(r.name()); e != errors.end()) {
      rejected_[r.name()] = r.version();
      rejected_errors_[r.name()] = e->second;
    } else {
      agent_[r.name()] = r.version();
      rejected_.erase(r.name());
      rejected_errors_.erase(r.name());
    }
  }
  for (const auto& name : in_flight_->removals()) {
    if (auto e = errors.find(name); e != errors.end()) {
      rejected_[name] = "";
      rejected_errors_[name] = e->second;
    } else {
      agent_.erase(name);
      rejected_.erase(name);
      rejected_errors_.erase(name);
    }
  }
  system_version_ = in_flight_->system_version();
  in_flight_.reset();
  return OkStatus();
}

void ResourceSender::RetryRejected() { rejected_.clear(); }

ResourceReceiver::ResourceReceiver(std::map<std::string, std::string> held, std::string system_version)
    : held_(std::move(held)), system_version_(std::move(system_version)) {}

Hello ResourceReceiver::MakeHello(const std::string& cluster, const std::string& agent_version) const {
  Hello hello;
  hello.set_cluster_name(cluster);
  hello.set_agent_version(agent_version);
  for (const auto& [name, version] : held_) (*hello.mutable_resource_versions())[name] = version;
  hello.set_system_version(system_version_);
  return hello;
}

Ack ResourceReceiver::Apply(const ResourceUpdate& update, const Applier& apply, const Remover& remove) {
  Ack ack = StartAck(update);
  for (const Resource* r : UpsertsToApply(update)) RecordUpsert(*r, apply(*r), ack);
  for (const auto& name : RemovalsToApply(update)) RecordRemoval(name, remove(name), ack);
  FinishAck(update, ack);
  return ack;
}

Ack ResourceReceiver::StartAck(const ResourceUpdate& update) const {
  Ack ack;
  ack.set_nonce(update.nonce());
  ack.set_system_version(update.system_version());
  return ack;
}

std::vector<const Resource*> ResourceReceiver::UpsertsToApply(const ResourceUpdate& update) const {
  std::vector<const Resource*> out;
  for (const auto& r : update.upserts()) {
    auto held = held_.find(r.name());
    if (held != held_.end() && held->second == r.version()) continue;
    out.push_back(&r);
  }
  return out;
}

std::vector<std::string> ResourceReceiver::RemovalsToApply(const ResourceUpdate& update) const {
  std::vector<std::string> out;
  for (const auto& name : update.removals()) {
    if (held_.count(name)) out.push_back(name);
  }
  return out;
}

void ResourceReceiver::RecordUpsert(const Resource& resource, const Status& outcome, Ack& ack) {
  if (outcome.ok()) {
    held_[resource.name()] = resource.version();
    ++applied_;
    return;
  }
  auto* e = ack.add_errors();
  e->set_name(resource.name());
  e->set_message(outcome.error().message);
}

void ResourceReceiver::RecordRemoval(const std::string& name, const Status& outcome, Ack& ack) {
  if (outcome.ok()) {
    held_.erase(name);
    return;
  }
  auto* e = ack.add_errors();
  e->set_name(name);
  e->set_message(outcome.error().message);
}

void ResourceReceiver::FinishAck(const ResourceUpdate& update, Ack& ack) {
  ack.set_accepted(ack.errors_size() == 0);
  system_version_ = update.system_version();
}

}  // namespace vmesh::sync
