#include "common/sync/sync.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <algorithm>

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

void ResourceSender::SetDesiredEntry(const std::string& name, SharedResource resource) {
  dirty_.insert(name);
  desired_[name] = std::move(resource);
}

void ResourceSender::Upsert(Resource resource) {
  resource.set_version(ContentVersion(resource));
  std::string name = resource.name();
  SetDesiredEntry(name, std::make_shared<const Resource>(std::move(resource)));
}

void ResourceSender::Remove(const std::string& name) {
  if (desired_.erase(name)) dirty_.insert(name);
}

void ResourceSender::SetDesired(std::vector<Resource> resources) {
  for (const auto& [name, r] : desired_) dirty_.insert(name);
  desired_.clear();
  for (auto& r : resources) Upsert(std::move(r));
}

void ResourceSender::SetDesiredVersioned(std::vector<Resource> resources) {
  for (const auto& [name, r] : desired_) dirty_.insert(name);
  desired_.clear();
  for (auto& r : resources) {
    if (r.version().empty()) {
      Upsert(std::move(r));
      continue;
    }
    std::string name = r.name();
    SetDesiredEntry(name, std::make_shared<const Resource>(std::move(r)));
  }
}

void ResourceSender::SetDesiredShared(const std::vector<SharedResource>& resources) {
  // Both in name order, walked together: entries only here go, entries only there come, the others are compared.
  std::vector<const SharedResource*> wanted;
  wanted.reserve(resources.size());
  for (const auto& r : resources) wanted.push_back(&r);
  auto by_name = [](const SharedResource* a, const SharedResource* b) { return (*a)->name() < (*b)->name(); };
  if (!std::is_sorted(wanted.begin(), wanted.end(), by_name)) std::sort(wanted.begin(), wanted.end(), by_name);
  auto have = desired_.begin();
  for (const SharedResource* w : wanted) {
    SharedResource r = *w;
    if (r->version().empty()) {  // not versioned by the caller: computed here
      Resource versioned = *r;
      versioned.set_version(ContentVersion(versioned));
      r = std::make_shared<const Resource>(std::move(versioned));
    }
    if (have != desired_.end() && have->second == r) {  // the same object: nothing to compare
      ++have;
      continue;
    }
    const std::string& name = r->name();
    while (have != desired_.end() && have->first < name) {
      dirty_.insert(have->first);
      have = desired_.erase(have);
    }
    if (have != desired_.end() && have->first == name) {
      if (have->second != r && have->second->version() != r->version()) dirty_.insert(name);
      have->second = std::move(r);
      ++have;
      continue;
    }
    dirty_.insert(name);
    desired_.emplace_hint(have, name, std::move(r));
  }
  while (have != desired_.end()) {
    dirty_.insert(have->first);
    have = desired_.erase(have);
  }
}

void ResourceSender::Resume(const Hello& hello) {
  agent_.clear();
  for (const auto& [name, version] : hello.resource_versions()) agent_[name] = version;
  // Anything may differ now.
  dirty_.clear();
  for (const auto& [name, r] : desired_) dirty_.insert(name);
  for (const auto& [name, version] : agent_) dirty_.insert(name);
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
    if (it == agent_.end() || it->second != r->version()) return false;
  }
  return true;
}

std::optional<ResourceUpdate> ResourceSender::NextUpdate() {
  if (!active_ || in_flight_) return std::nullopt;
  ResourceUpdate update;
  InFlight sent;
  // Only names that may differ (dirty_, in name order): those found to agree are clean again. The others stay
  // dirty until they agree (after the ACK of this update, or a change).
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    const std::string& name = *it;
    auto want = desired_.find(name);
    auto held = agent_.find(name);
    if (want == desired_.end() && held == agent_.end()) {
      it = dirty_.erase(it);
      continue;
    }
    auto rejected = rejected_.find(name);
    if (want != desired_.end()) {
      const Resource& r = *want->second;
      if (held != agent_.end() && held->second == r.version()) {
        it = dirty_.erase(it);
        continue;
      }
      if (rejected == rejected_.end() || rejected->second != r.version()) {  // else: wait for a change or a retry
        *update.add_upserts() = r;
        sent.upserts.emplace_back(name, r.version());
      }
    } else if (rejected == rejected_.end() || !rejected->second.empty()) {
      sent.removals.push_back(name);
    }
    ++it;
  }
  if (sent.upserts.empty() && sent.removals.empty()) return std::nullopt;
  for (const auto& name : sent.removals) update.add_removals(name);
  update.set_nonce(std::to_string(next_nonce_++));
  update.set_system_version(std::to_string(++system_counter_) + "-" + std::to_string(desired_.size()));
  resources_sent_ += static_cast<std::uint64_t>(update.upserts_size());
  sent.nonce = update.nonce();
  sent.system_version = update.system_version();
  in_flight_ = std::move(sent);
  return update;
}

Status ResourceSender::HandleAck(const Ack& ack) {
  if (!in_flight_) return MakeError("ACK for nonce " + ack.nonce() + " but no update is in flight");
  if (ack.nonce() != in_flight_->nonce) {
    return MakeError("ACK for nonce " + ack.nonce() + " but the update in flight has nonce " + in_flight_->nonce);
  }
  std::map<std::string, std::string> errors;
  for (const auto& e : ack.errors()) errors[e.name()] = e.message();
  for (const auto& [name, version] : in_flight_->upserts) {
    if (auto e = errors.find(name); e != errors.end()) {
      rejected_[name] = version;
      rejected_errors_[name] = e->second;
    } else {
      agent_[name] = version;
      rejected_.erase(name);
      rejected_errors_.erase(name);
    }
  }
  for (const auto& name : in_flight_->removals) {
    if (auto e = errors.find(name); e != errors.end()) {
      rejected_[name] = "";
      rejected_errors_[name] = e->second;
    } else {
      agent_.erase(name);
      rejected_.erase(name);
      rejected_errors_.erase(name);
    }
  }
  system_version_ = in_flight_->system_version;
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
