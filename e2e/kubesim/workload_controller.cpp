#include "e2e/kubesim/workload_controller.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>

#include "common/base/json_fields.h"
#include "common/base/time.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kHashLabel = "pod-template-hash";
constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";

using jsonf::At;
using jsonf::IntAt;
using jsonf::ObjAt;
using jsonf::StrAt;

// The uid of an object's controlling owner of `kind`, or empty.
std::string ControllerUid(const json::object& object, std::string_view kind) {
  const json::value* refs = At(object, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return {};
  for (const auto& ref : refs->get_array()) {
    const json::value* controller = At(ref, {"controller"});
    if (controller && controller->is_bool() && controller->get_bool() && StrAt(ref, {"kind"}) == kind) {
      return StrAt(ref, {"uid"});
    }
  }
  return {};
}

json::array OwnerReference(const json::object& owner, const char* api_version, const char* kind) {
  return json::array{json::object{{"apiVersion", api_version},
                                  {"kind", kind},
                                  {"name", StrAt(owner, {"metadata", "name"})},
                                  {"uid", StrAt(owner, {"metadata", "uid"})},
                                  {"controller", true},
                                  {"blockOwnerDeletion", true}}};
}

bool IsReady(const json::object& pod) {
  const json::value* conditions = At(pod, {"status", "conditions"});
  if (!conditions || !conditions->is_array()) return false;
  for (const auto& c : conditions->get_array()) {
    if (StrAt(c, {"type"}) == "Ready") return StrAt(c, {"status"}) == "True";
  }
  return false;
}

json::value Canonical(const json::value& v) {
  if (v.is_object()) {
    std::vector<std::pair<std::string, json::value>> members;
    for (const auto& [k, child] : v.get_object()) members.emplace_back(std::string(k), Canonical(child));
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    json::object out;
    for (auto& [k, child] : members) out[k] = std::move(child);
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& child : v.get_array()) out.push_back(Canonical(child));
    return out;
  }
  return v;
}

std::string NowRfc3339() { return FormatRfc3339(std::chrono::system_clock::now()); }

// maxUnavailable of a rolling update, resolved against `replicas` (percentages round down).
int64_t MaxUnavailable(const json::object& deployment, int64_t replicas) {
  if (StrAt(deployment, {"spec", "strategy", "type"}) == "Recreate") return replicas;
  const json::value* v = At(deployment, {"spec", "strategy", "rollingUpdate", "maxUnavailable"});
  if (v && v->is_int64()) return v->get_int64();
  std::string text = v && v->is_string() ? std::string(v->get_string()) : "25%";
  if (!text.empty() && text.back() == '%') return replicas * std::atoll(text.c_str()) / 100;
  return std::atoll(text.c_str());
}

// A condition list entry, keeping the timestamps of an unchanged condition so that a pass with nothing
// new writes nothing.
json::object Condition(const json::object& old_status, const std::string& type, bool status, const std::string& reason,
                       const std::string& message) {
  const std::string value = status ? "True" : "False";
  const json::value* conditions = At(old_status, {"conditions"});
  if (conditions && conditions->is_array()) {
    for (const auto& c : conditions->get_array()) {
      if (StrAt(c, {"type"}) == type && StrAt(c, {"status"}) == value && StrAt(c, {"reason"}) == reason &&
          StrAt(c, {"message"}) == message) {
        return c.get_object();
      }
    }
  }
  std::string now = NowRfc3339();
  return json::object{{"type", type},     {"status", value},   {"lastUpdateTime", now}, {"lastTransitionTime", now},
                      {"reason", reason}, {"message", message}};
}

void SetIfPositive(json::object& status, const char* key, int64_t value) {
  if (value > 0) status[key] = value;  // Go's omitempty
}

}  // namespace

std::string PodTemplateHash(const json::value& pod_template) {
  std::string text = json::serialize(Canonical(pod_template));
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  // Kubernetes renders the hash with rand.SafeEncodeString: no vowels, no look-alike characters.
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char digit : std::to_string(hash)) out += kAlphabet[static_cast<unsigned char>(digit) % (sizeof(kAlphabet) - 1)];
  return out;
}

WorkloadController::WorkloadController(const ResourceRegistry& registry, ObjectStore& store, Options options)
    : deployments_(*registry.Find("apps", "v1", "deployments")),
      replica_sets_(*registry.Find("apps", "v1", "replicasets")),
      stateful_sets_(*registry.Find("apps", "v1", "statefulsets")),
      daemon_sets_(*registry.Find("apps", "v1", "daemonsets")),
      pods_(*registry.Find("", "v1", "pods")),
      store_(store),
      options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::steady_clock::now(); };
}

std::vector<ObjectPtr> WorkloadController::Items(const ResourceType& type, const std::string& ns) const {
  auto list = store_.List(type, ns, {});  // fails only on a bad continue token
  return list.ok() ? std::move(list->items) : std::vector<ObjectPtr>();
}

std::optional<SteadyTime> WorkloadController::Reconcile() {
  CollectGarbage();
  for (const auto& d : Items(deployments_, "")) ReconcileDeployment(*d);
  for (const auto& rs : Items(replica_sets_, "")) ReconcileReplicaSet(*rs);
  for (const auto& set : Items(stateful_sets_, "")) ReconcileStatefulSet(*set);
  for (const auto& set : Items(daemon_sets_, "")) ReconcileDaemonSet(*set);
  std::optional<SteadyTime> next;
  std::set<std::string> live;
  for (const auto& pod : Items(pods_, "")) {
    live.insert(StrAt(*pod, {"metadata", "uid"}));
    if (auto ready_at = ReconcilePod(*pod)) next = next ? std::min(*next, *ready_at) : *ready_at;
  }
  std::erase_if(pod_first_seen_, [&](const auto& entry) { return !live.contains(entry.first); });
  return next;
}

void WorkloadController::CollectGarbage() {
  std::set<std::string> deployment_uids, replica_set_uids;
  for (const auto& d : Items(deployments_, "")) deployment_uids.insert(StrAt(*d, {"metadata", "uid"}));
  for (const auto& rs : Items(replica_sets_, "")) {
    std::string owner = ControllerUid(*rs, "Deployment");
    if (!owner.empty() && !deployment_uids.contains(owner)) {
      (void)store_.Delete(replica_sets_, StrAt(*rs, {"metadata", "namespace"}), StrAt(*rs, {"metadata", "name"}));
      continue;
    }
    replica_set_uids.insert(StrAt(*rs, {"metadata", "uid"}));
  }
  std::set<std::string> set_uids;
  for (const auto& set : Items(stateful_sets_, "")) set_uids.insert(StrAt(*set, {"metadata", "uid"}));
  for (const auto& set : Items(daemon_sets_, "")) set_uids.insert(StrAt(*set, {"metadata", "uid"}));
  for (const auto& pod : Items(pods_, "")) {
    std::string rs_owner = ControllerUid(*pod, "ReplicaSet");
    std::string set_owner = ControllerUid(*pod, "StatefulSet");
    if (set_owner.empty()) set_owner = ControllerUid(*pod, "DaemonSet");
    if ((!rs_owner.empty() && !replica_set_uids.contains(rs_owner)) ||
        (!set_owner.empty() && !set_uids.contains(set_owner))) {
      (void)store_.Delete(pods_, StrAt(*pod, {"metadata", "namespace"}), StrAt(*pod, {"metadata", "name"}));
    }
  }
}

void WorkloadController::ReconcileDeployment(const json::object& deployment) {
  const std::string ns = StrAt(deployment, {"metadata", "namespace"});
  const std::string name = StrAt(deployment, {"metadata", "name"});
  const std::string uid = StrAt(deployment, {"metadata", "uid"});
  const int64_t replicas = IntAt(deployment, {"spec", "replicas"}, 1);
  const json::object pod_template = ObjAt(deployment, {"spec", "template"});
  const std::string hash = PodTemplateHash(pod_template);
  const bool recreate = StrAt(deployment, {"spec", "strategy", "type"}) == "Recreate";

  // The ReplicaSets this Deployment controls, and how many of their pods exist and are ready.
  struct Owned {
    ObjectPtr rs;
    int64_t pods = 0;
    int64_t ready = 0;
  };
  std::vector<Owned> owned;
  for (const auto& rs : Items(replica_sets_, ns)) {
    if (ControllerUid(*rs, "Deployment") == uid) owned.push_back({rs});
  }
  for (const auto& pod : Items(pods_, ns)) {
    std::string owner = ControllerUid(*pod, "ReplicaSet");
    for (auto& o : owned) {
      if (StrAt(*o.rs, {"metadata", "uid"}) == owner) {
        ++o.pods;
        o.ready += IsReady(*pod) ? 1 : 0;
      }
    }
  }
  int64_t max_revision = 0;
  for (const auto& o : owned) {
    max_revision = std::max<int64_t>(
        max_revision, std::atoll(StrAt(*o.rs, {"metadata", "annotations", kRevisionAnnotation}).c_str()));
  }
  auto current = std::find_if(owned.begin(), owned.end(), [&](const Owned& o) {
    return StrAt(*o.rs, {"metadata", "labels", kHashLabel}) == hash;
  });
  int64_t old_pods = 0;
  for (const auto& o : owned) {
    if (current == owned.end() || o.rs != current->rs) old_pods += o.pods;
  }

  // Rolling replacement: the current ReplicaSet gets every replica at once (maximum surge, no
  // unavailability); old ones keep as many as the current one still lacks ready pods. Recreate empties the
  // old ones first.
  const int64_t current_ready = current == owned.end() ? 0 : current->ready;
  const int64_t current_target = recreate && old_pods > 0 ? 0 : replicas;
  int64_t old_budget = recreate ? 0 : std::max<int64_t>(0, replicas - current_ready);

  std::string revision;
  if (current == owned.end()) {
    json::object labels = ObjAt(pod_template, {"metadata", "labels"});
    labels[kHashLabel] = hash;
    json::object rs_template = pod_template;
    if (!rs_template["metadata"].is_object()) rs_template["metadata"] = json::object();
    rs_template["metadata"].get_object()["labels"] = labels;
    json::object selector = ObjAt(deployment, {"spec", "selector"});
    json::object match_labels = ObjAt(selector, {"matchLabels"});
    match_labels[kHashLabel] = hash;
    selector["matchLabels"] = match_labels;
    revision = std::to_string(max_revision + 1);
    json::object rs{
        {"apiVersion", "apps/v1"},
        {"kind", "ReplicaSet"},
        {"metadata", json::object{{"name", name + "-" + hash},
                                  {"namespace", ns},
                                  {"labels", labels},
                                  {"annotations", json::object{{kRevisionAnnotation, revision}}},
                                  {"ownerReferences", OwnerReference(deployment, "apps/v1", "Deployment")}}},
        {"spec", json::object{{"replicas", current_target}, {"selector", selector}, {"template", rs_template}}}};
    (void)store_.Create(replica_sets_, ns, std::move(rs));
  } else {
    revision = StrAt(*current->rs, {"metadata", "annotations", kRevisionAnnotation});
    if (IntAt(*current->rs, {"spec", "replicas"}, 0) != current_target) {
      (void)store_.Mutate(replica_sets_, ns, StrAt(*current->rs, {"metadata", "name"}), [&](const json::object& rs) {
        json::object next = rs;
        next["spec"].get_object()["replicas"] = current_target;
        return ApiResult<json::object>(std::move(next));
      });
    }
  }
  // Older ReplicaSets, newest revision first, share what is left of the budget.
  std::vector<Owned*> old;
  for (auto& o : owned) {
    if (current == owned.end() || o.rs != current->rs) old.push_back(&o);
  }
  std::sort(old.begin(), old.end(), [](const Owned* a, const Owned* b) {
    return std::atoll(StrAt(*a->rs, {"metadata", "annotations", kRevisionAnnotation}).c_str()) >
           std::atoll(StrAt(*b->rs, {"metadata", "annotations", kRevisionAnnotation}).c_str());
  });
  for (Owned* o : old) {
    int64_t target = std::min(IntAt(*o->rs, {"spec", "replicas"}, 0), old_budget);
    old_budget -= target;
    if (IntAt(*o->rs, {"spec", "replicas"}, 0) == target) continue;
    (void)store_.Mutate(replica_sets_, ns, StrAt(*o->rs, {"metadata", "name"}), [&](const json::object& rs) {
      json::object next = rs;
      next["spec"].get_object()["replicas"] = target;
      return ApiResult<json::object>(std::move(next));
    });
  }

  // Status, as `kubectl rollout status` reads it.
  int64_t total = 0, ready = 0;
  for (const auto& o : owned) {
    total += o.pods;
    ready += o.ready;
  }
  const int64_t updated = current == owned.end() ? 0 : current->pods;
  const json::object old_status = ObjAt(deployment, {"status"});
  json::object status{{"observedGeneration", IntAt(deployment, {"metadata", "generation"}, 1)}};
  SetIfPositive(status, "replicas", total);
  SetIfPositive(status, "updatedReplicas", updated);
  SetIfPositive(status, "readyReplicas", ready);
  SetIfPositive(status, "availableReplicas", ready);
  SetIfPositive(status, "unavailableReplicas", replicas - ready);
  const bool available = ready >= replicas - MaxUnavailable(deployment, replicas);
  const bool complete = updated == replicas && total == updated && current_ready == replicas;
  const std::string rs_name = name + "-" + hash;
  status["conditions"] = json::array{
      Condition(old_status, "Available", available,
                available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                available ? "Deployment has minimum availability." : "Deployment does not have minimum availability."),
      Condition(old_status, "Progressing", true, complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                complete ? "ReplicaSet \"" + rs_name + "\" has successfully progressed."
                         : "ReplicaSet \"" + rs_name + "\" is progressing.")};
  if (status != old_status) {
    json::object next = deployment;
    next["status"] = std::move(status);
    (void)store_.Update(deployments_, ns, name, std::move(next), UpdateScope::kStatus);
  }
  if (StrAt(deployment, {"metadata", "annotations", kRevisionAnnotation}) != revision) {
    (void)store_.Mutate(deployments_, ns, name, [&](const json::object& d) {
      json::object next = d;
      json::object& metadata = next["metadata"].get_object();
      if (!metadata["annotations"].is_object()) metadata["annotations"] = json::object();
      metadata["annotations"].get_object()[kRevisionAnnotation] = revision;
      return ApiResult<json::object>(std::move(next));
    });
  }
}

void WorkloadController::ReconcileReplicaSet(const json::object& replica_set) {
  const std::string ns = StrAt(replica_set, {"metadata", "namespace"});
  const std::string name = StrAt(replica_set, {"metadata", "name"});
  const std::string uid = StrAt(replica_set, {"metadata", "uid"});
  const int64_t replicas = IntAt(replica_set, {"spec", "replicas"}, 1);

  std::vector<ObjectPtr> pods;
  for (const auto& pod : Items(pods_, ns)) {
    if (ControllerUid(*pod, "ReplicaSet") == uid) pods.push_back(pod);
  }
  // Scale down: pods that are not ready go first, then the newest.
  std::stable_sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (IsReady(*a) != IsReady(*b)) return IsReady(*a);
    return StrAt(*a, {"metadata", "creationTimestamp"}) < StrAt(*b, {"metadata", "creationTimestamp"});
  });
  while (static_cast<int64_t>(pods.size()) > replicas) {
    (void)store_.Delete(pods_, ns, StrAt(*pods.back(), {"metadata", "name"}));
    pods.pop_back();
  }
  const json::object pod_template = ObjAt(replica_set, {"spec", "template"});
  for (int64_t i = static_cast<int64_t>(pods.size()); i < replicas; ++i) {
    if (auto created = CreatePod(replica_set, "ReplicaSet", pod_template, "", {})) pods.push_back(created);
  }

  int64_t ready = 0;
  for (const auto& pod : pods) ready += IsReady(*pod) ? 1 : 0;
  json::object status{{"replicas", static_cast<int64_t>(pods.size())}};
  SetIfPositive(status, "fullyLabeledReplicas", static_cast<int64_t>(pods.size()));
  SetIfPositive(status, "readyReplicas", ready);
  SetIfPositive(status, "availableReplicas", ready);
  status["observedGeneration"] = IntAt(replica_set, {"metadata", "generation"}, 1);
  if (status != ObjAt(replica_set, {"status"})) {
    (void)store_.Mutate(
        replica_sets_, ns, name,
        [&](const json::object& rs) {
          json::object next = rs;
          next["status"] = status;
          return ApiResult<json::object>(std::move(next));
        },
        UpdateScope::kStatus);
  }
}

std::optional<SteadyTime> WorkloadController::ReconcilePod(const json::object& pod) {
  if (IsReady(pod)) return std::nullopt;
  const std::string phase = StrAt(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return std::nullopt;
  const std::string uid = StrAt(pod, {"metadata", "uid"});
  const SteadyTime now = options_.clock();
  auto [seen, inserted] = pod_first_seen_.try_emplace(uid, now);
  const SteadyTime ready_at = seen->second + options_.pod_ready_delay;
  if (now < ready_at) return ready_at;

  const std::string started = NowRfc3339();
  json::array container_statuses;
  const json::value* containers = At(pod, {"spec", "containers"});
  if (containers && containers->is_array()) {
    for (const auto& c : containers->get_array()) {
      container_statuses.push_back(
          json::object{{"name", StrAt(c, {"name"})},
                       {"image", StrAt(c, {"image"})},
                       {"imageID", ""},
                       {"ready", true},
                       {"started", true},
                       {"restartCount", 0},
                       {"state", json::object{{"running", json::object{{"startedAt", started}}}}}});
    }
  }
  json::array conditions;
  for (const char* type : {"Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
    conditions.push_back(json::object{{"type", type}, {"status", "True"}, {"lastTransitionTime", started}});
  }
  std::string pod_ip = StrAt(pod, {"status", "podIP"});
  if (pod_ip.empty()) pod_ip = NextPodIp();
  (void)store_.Mutate(
      pods_, StrAt(pod, {"metadata", "namespace"}), StrAt(pod, {"metadata", "name"}),
      [&](const json::object& current) {
        json::object next = current;
        next["status"] = json::object{{"phase", "Running"},
                                      {"conditions", conditions},
                                      {"hostIP", "172.18.0.2"},
                                      {"podIP", pod_ip},
                                      {"podIPs", json::array{json::object{{"ip", pod_ip}}}},
                                      {"startTime", started},
                                      {"containerStatuses", container_statuses},
                                      {"qosClass", "BestEffort"}};
        return ApiResult<json::object>(std::move(next));
      },
      UpdateScope::kStatus);
  return std::nullopt;
}

ObjectPtr WorkloadController::CreatePod(const json::object& owner, const char* owner_kind,
                                        const json::object& pod_template, const std::string& name,
                                        const json::object& extra_labels) {
  json::object metadata = ObjAt(pod_template, {"metadata"});
  metadata.erase("name");
  if (name.empty()) {
    metadata["generateName"] = StrAt(owner, {"metadata", "name"}) + "-";
  } else {
    metadata["name"] = name;
  }
  json::object labels = ObjAt(metadata, {"labels"});
  for (const auto& [k, v] : extra_labels) labels[k] = v;
  if (!labels.empty()) metadata["labels"] = std::move(labels);
  metadata["ownerReferences"] = OwnerReference(owner, "apps/v1", owner_kind);
  json::object spec = ObjAt(pod_template, {"spec"});
  spec["nodeName"] = options_.node_name;
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", std::move(metadata)},
                   {"spec", std::move(spec)},
                   {"status", json::object{{"phase", "Pending"}}}};
  auto created = store_.Create(pods_, StrAt(owner, {"metadata", "namespace"}), std::move(pod));
  return created.ok() ? *created : nullptr;
}

// Pods of a StatefulSet are <name>-<ordinal>. OrderedReady (the default) creates them one at a time,
// each after the previous one is Ready; Parallel creates them at once. A RollingUpdate replaces the
// highest-ordinal outdated pod once every pod is Ready; OnDelete waits for someone to delete pods.
void WorkloadController::ReconcileStatefulSet(const json::object& set) {
  const std::string ns = StrAt(set, {"metadata", "namespace"});
  const std::string name = StrAt(set, {"metadata", "name"});
  const std::string uid = StrAt(set, {"metadata", "uid"});
  const int64_t replicas = IntAt(set, {"spec", "replicas"}, 1);
  const json::object pod_template = ObjAt(set, {"spec", "template"});
  const std::string revision = name + "-" + PodTemplateHash(pod_template);
  const bool parallel = StrAt(set, {"spec", "podManagementPolicy"}) == "Parallel";
  const bool on_delete = StrAt(set, {"spec", "updateStrategy", "type"}) == "OnDelete";

  std::map<int64_t, ObjectPtr> pods;  // by ordinal
  for (const auto& pod : Items(pods_, ns)) {
    if (ControllerUid(*pod, "StatefulSet") != uid) continue;
    const std::string pod_name = StrAt(*pod, {"metadata", "name"});
    const std::string suffix = pod_name.substr(std::min(pod_name.size(), name.size() + 1));
    pods[std::atoll(suffix.c_str())] = pod;
  }
  for (auto it = pods.begin(); it != pods.end();) {
    if (it->first >= replicas) {
      (void)store_.Delete(pods_, ns, StrAt(*it->second, {"metadata", "name"}));
      it = pods.erase(it);
    } else {
      ++it;
    }
  }
  bool all_ready = true;
  for (int64_t i = 0; i < replicas; ++i) {
    auto it = pods.find(i);
    if (it != pods.end()) {
      all_ready = all_ready && IsReady(*it->second);
      continue;
    }
    if (!parallel && !all_ready) break;
    const std::string pod_name = name + "-" + std::to_string(i);
    json::object labels{{"controller-revision-hash", revision},
                        {"statefulset.kubernetes.io/pod-name", pod_name},
                        {"apps.kubernetes.io/pod-index", std::to_string(i)}};
    if (auto created = CreatePod(set, "StatefulSet", pod_template, pod_name, labels)) pods[i] = created;
    all_ready = false;
  }
  int64_t ready = 0, updated = 0;
  for (const auto& [ordinal, pod] : pods) {
    ready += IsReady(*pod) ? 1 : 0;
    updated += StrAt(*pod, {"metadata", "labels", "controller-revision-hash"}) == revision ? 1 : 0;
  }
  if (!on_delete && all_ready && static_cast<int64_t>(pods.size()) == replicas) {
    for (auto it = pods.rbegin(); it != pods.rend(); ++it) {
      if (StrAt(*it->second, {"metadata", "labels", "controller-revision-hash"}) != revision) {
        (void)store_.Delete(pods_, ns, StrAt(*it->second, {"metadata", "name"}));
        break;
      }
    }
  }
  const json::object old_status = ObjAt(set, {"status"});
  std::string current_revision = StrAt(old_status, {"currentRevision"});
  if (current_revision.empty() || updated == replicas) current_revision = revision;
  json::object status{{"observedGeneration", IntAt(set, {"metadata", "generation"}, 1)},
                      {"replicas", static_cast<int64_t>(pods.size())},
                      {"currentRevision", current_revision},
                      {"updateRevision", revision},
                      {"collisionCount", 0}};
  SetIfPositive(status, "readyReplicas", ready);
  SetIfPositive(status, "availableReplicas", ready);
  SetIfPositive(status, "updatedReplicas", updated);
  SetIfPositive(status, "currentReplicas",
                current_revision == revision ? updated : static_cast<int64_t>(pods.size()) - updated);
  WriteStatus(stateful_sets_, set, std::move(status));
}

// One node, so a DaemonSet wants exactly one pod; a changed template replaces it.
void WorkloadController::ReconcileDaemonSet(const json::object& set) {
  const std::string ns = StrAt(set, {"metadata", "namespace"});
  const std::string uid = StrAt(set, {"metadata", "uid"});
  const json::object pod_template = ObjAt(set, {"spec", "template"});
  const std::string hash = PodTemplateHash(pod_template);
  const bool on_delete = StrAt(set, {"spec", "updateStrategy", "type"}) == "OnDelete";

  std::vector<ObjectPtr> pods;
  for (const auto& pod : Items(pods_, ns)) {
    if (ControllerUid(*pod, "DaemonSet") == uid) pods.push_back(pod);
  }
  while (pods.size() > 1) {
    (void)store_.Delete(pods_, ns, StrAt(*pods.back(), {"metadata", "name"}));
    pods.pop_back();
  }
  if (!pods.empty() && !on_delete && StrAt(*pods[0], {"metadata", "labels", "controller-revision-hash"}) != hash) {
    (void)store_.Delete(pods_, ns, StrAt(*pods[0], {"metadata", "name"}));
    pods.clear();
  }
  if (pods.empty()) {
    json::object labels{{"controller-revision-hash", hash},
                        {"pod-template-generation", std::to_string(IntAt(set, {"metadata", "generation"}, 1))}};
    if (auto created = CreatePod(set, "DaemonSet", pod_template, "", labels)) pods.push_back(created);
  }
  const int64_t scheduled = static_cast<int64_t>(pods.size());
  const int64_t ready = !pods.empty() && IsReady(*pods[0]) ? 1 : 0;
  const int64_t updated =
      !pods.empty() && StrAt(*pods[0], {"metadata", "labels", "controller-revision-hash"}) == hash ? 1 : 0;
  json::object status{{"observedGeneration", IntAt(set, {"metadata", "generation"}, 1)},
                      {"desiredNumberScheduled", 1},
                      {"currentNumberScheduled", scheduled},
                      {"numberMisscheduled", 0},
                      {"numberReady", ready}};
  SetIfPositive(status, "numberAvailable", ready);
  SetIfPositive(status, "numberUnavailable", 1 - ready);
  SetIfPositive(status, "updatedNumberScheduled", updated);
  WriteStatus(daemon_sets_, set, std::move(status));
}

void WorkloadController::WriteStatus(const ResourceType& type, const json::object& object, json::object status) {
  if (status == ObjAt(object, {"status"})) return;
  json::object next = object;
  next["status"] = std::move(status);
  (void)store_.Update(type, StrAt(object, {"metadata", "namespace"}), StrAt(object, {"metadata", "name"}),
                      std::move(next), UpdateScope::kStatus);
}

std::string WorkloadController::NextPodIp() {
  ++next_ip_;
  return options_.pod_ip_prefix + "." + std::to_string((next_ip_ / 254) % 256) + "." +
         std::to_string(next_ip_ % 254 + 1);
}

}  // namespace vmesh::kubesim
