#include "agent/restart/restarter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/base/json_fields.h"
#include "common/base/kinds.h"
#include "common/base/resource_names.h"
#include "common/base/time.h"
#include "common/metrics/metrics.h"
#include "common/pki/certificate.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

using jsonf::Int;
using jsonf::Obj;
using jsonf::Str;
using jsonf::StrMap;

std::string Revision(std::string rev) { return rev == "default" ? "" : rev; }

std::vector<json::object> Items(const kube::ApiResponse& list) {
  std::vector<json::object> out;
  if (!list.body.is_object()) return out;
  auto it = list.body.get_object().find("items");
  if (it == list.body.get_object().end() || !it->value().is_array()) return out;
  for (const auto& item : it->value().get_array()) {
    if (item.is_object()) out.push_back(item.get_object());
  }
  return out;
}

// The rollout is finished the way `kubectl rollout status` judges it.
bool RolloutComplete(const std::string& kind, const json::object& o) {
  const json::object* meta = Obj(&o, "metadata");
  const json::object* spec = Obj(&o, "spec");
  const json::object* status = Obj(&o, "status");
  if (Int(status, "observedGeneration") < Int(meta, "generation", 1)) return false;
  if (kind == "DaemonSet") {
    const auto desired = Int(status, "desiredNumberScheduled");
    return Int(status, "updatedNumberScheduled") >= desired && Int(status, "numberAvailable") >= desired;
  }
  const auto replicas = Int(spec, "replicas", 1);
  if (Int(status, "updatedReplicas") < replicas) return false;
  if (kind == "StatefulSet") {
    const std::string update = Str(status, "updateRevision");
    return Int(status, "readyReplicas") >= replicas && (update.empty() || Str(status, "currentRevision") == update);
  }
  // Deployment: every replica available and the old ones gone.
  return Int(status, "availableReplicas") >= replicas && Int(status, "replicas") <= replicas;
}

struct Collected {
  std::string kind;
  json::object object;
};

// The REST resource of a workload kind (Deployment, StatefulSet, DaemonSet).
std::string ResourceOf(const std::string& kind) {
  const KindInfo* k = FindKind(kind);
  return k != nullptr && k->group == "apps" ? std::string(k->plural) : "deployments";
}

std::set<std::string> Fingerprints(const std::string& pem) {
  std::set<std::string> out;
  auto certs = pki::ParsePemBundle(pem);
  if (!certs.ok()) return out;
  for (const auto& c : *certs) out.insert(c.Fingerprint());
  return out;
}

}  // namespace

Restarter::Restarter(kube::KubeClient& client, RestarterOptions options)
    : client_(client), options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
  if (options_.metrics) {
    options_.metrics->DeclareCounter("vmesh_agent_restarts_total",
                                     "Rolling restarts performed after a trust-root change, by mesh and kind");
  }
}

asio::awaitable<Result<std::vector<WorkloadState>>> Restarter::Gather(const api::v1::Mesh& mesh) {
  const std::string istio_ns = mesh.spec().installation_namespace();
  const std::string mesh_rev = Revision(mesh.spec().revision());

  auto namespaces = co_await client_.List(kube::ResourcePath("v1", "namespaces"));
  if (!namespaces.ok()) co_return namespaces.error().Wrap("listing namespaces");
  if (!namespaces->ok()) co_return MakeError("listing namespaces: " + namespaces->Describe());
  std::map<std::string, std::map<std::string, std::string>> ns_labels;
  for (const auto& n : Items(*namespaces)) {
    const json::object* meta = Obj(&n, "metadata");
    ns_labels[Str(meta, "name")] = StrMap(Obj(meta, "labels"));
  }

  std::vector<Collected> objects;
  for (const std::string kind : {"Deployment", "StatefulSet", "DaemonSet"}) {
    auto list = co_await client_.List(kube::ResourcePath("apps/v1", ResourceOf(kind)));
    if (!list.ok()) co_return list.error().Wrap("listing " + ResourceOf(kind));
    if (!list->ok()) co_return MakeError("listing " + ResourceOf(kind) + ": " + list->Describe());
    for (auto& item : Items(*list)) objects.push_back({kind, std::move(item)});
  }

  std::vector<WorkloadState> out;
  for (const auto& [kind, o] : objects) {
    const json::object* meta = Obj(&o, "metadata");
    const json::object* tmpl = Obj(Obj(&o, "spec"), "template");
    const json::object* tmeta = Obj(tmpl, "metadata");
    const std::string ns = Str(meta, "namespace");
    auto labels = StrMap(Obj(meta, "labels"));
    auto tlabels = StrMap(Obj(tmeta, "labels"));
    auto tannotations = StrMap(Obj(tmeta, "annotations"));
    auto& nslabels = ns_labels[ns];

    WorkloadState w;
    w.kind = kind;
    w.namespace_ = ns;
    w.name = Str(meta, "name");
    w.restarted_for = tannotations[kRestartedForAnnotation];
    w.rollout_complete = RolloutComplete(kind, o);

    const std::string own_rev =
        Revision(labels.count("istio.io/rev") ? labels["istio.io/rev"] : tlabels["istio.io/rev"]);
    const std::string istio_label = labels.count("istio") ? labels["istio"] : tlabels["istio"];
    if (kind == "Deployment" && (labels["app"] == "istiod" || tlabels["app"] == "istiod")) {
      if (ns != istio_ns || own_rev != mesh_rev) continue;
      w.role = WorkloadRole::kIstiod;
    } else if (kind == "Deployment" && (istio_label == "ingressgateway" || istio_label == "eastwestgateway")) {
      if (own_rev != mesh_rev) continue;
      w.role = WorkloadRole::kGateway;
    } else {
      if (tlabels["sidecar.istio.io/inject"] == "false") continue;
      const bool injected_pods =
          tlabels["security.istio.io/tlsMode"] == "istio" || tannotations.count("sidecar.istio.io/status") > 0;
      const bool injecting_namespace =
          (mesh_rev.empty() && nslabels["istio-injection"] == "enabled") ||
          (nslabels.count("istio.io/rev") > 0 && Revision(nslabels["istio.io/rev"]) == mesh_rev &&
           nslabels["istio-injection"] != "disabled");
      if (!injected_pods && !injecting_namespace) continue;
      // The revision whose sidecar the pods get: the template's label, else the namespace's.
      std::string rev =
          tlabels.count("istio.io/rev") ? Revision(tlabels["istio.io/rev"]) : Revision(nslabels["istio.io/rev"]);
      if (rev != mesh_rev) continue;
      w.role = WorkloadRole::kWorkload;
    }
    out.push_back(std::move(w));
  }
  co_return out;
}

asio::awaitable<Result<bool>> Restarter::RootConfigMapsCurrent(const std::string& root_pem) {
  const std::set<std::string> wanted = Fingerprints(root_pem);
  if (wanted.empty()) co_return MakeError("the trust bundle to wait for is not a PEM bundle");
  auto list =
      co_await client_.List(kube::ResourcePath("v1", "configmaps"), "fieldSelector=metadata.name%3Distio-ca-root-cert");
  if (!list.ok()) co_return list.error().Wrap("listing istio-ca-root-cert ConfigMaps");
  if (!list->ok()) co_return MakeError("listing istio-ca-root-cert ConfigMaps: " + list->Describe());
  auto items = Items(*list);
  if (items.empty()) co_return false;
  for (const auto& cm : items) {
    if (Str(Obj(&cm, "metadata"), "name") != kIstioRootCertConfigMapName) continue;
    const std::set<std::string> carried = Fingerprints(Str(Obj(&cm, "data"), "root-cert.pem"));
    for (const auto& fp : wanted) {
      if (!carried.count(fp)) co_return false;
    }
  }
  co_return true;
}

asio::awaitable<Status> Restarter::Restart(const std::string& mesh, const WorkloadState& w, const std::string& serial) {
  json::object annotations{{kRestartedAtAnnotation, FormatRfc3339(options_.clock())},
                           {kRestartedForAnnotation, serial}};
  json::value patch = {{"spec", {{"template", {{"metadata", {{"annotations", annotations}}}}}}}};
  const std::string target = kube::ResourcePath("apps/v1", ResourceOf(w.kind), w.namespace_, w.name);
  auto r = co_await client_.MergePatch(target, patch);
  if (!r.ok()) co_return r.error().Wrap("restarting " + w.Id());
  if (!r->ok()) co_return MakeError("restarting " + w.Id() + ": " + r->Describe());
  spdlog::info("mesh {}: restarted {} for certificate {}", mesh, w.Id(), serial);
  if (options_.metrics) options_.metrics->Increment("vmesh_agent_restarts_total", {{"mesh", mesh}, {"kind", w.kind}});
  co_return OkStatus();
}

asio::awaitable<Result<RestartProgress>> Restarter::Run(const RestartTarget& target, bool patch) {
  auto workloads = co_await Gather(target.mesh);
  if (!workloads.ok()) co_return workloads.error();
  RestartInput input;
  input.certificate_serial = target.certificate_serial;
  input.max_concurrent = options_.max_concurrent;
  for (auto& w : *workloads) {
    if (target.istiod_only && w.role != WorkloadRole::kIstiod) continue;
    input.workloads.push_back(std::move(w));
  }
  if (target.istiod_only) {
    input.root_config_maps_current = true;  // the root did not change
  } else {
    auto current = co_await RootConfigMapsCurrent(target.root_pem);
    if (!current.ok()) co_return current.error();
    input.root_config_maps_current = *current;
  }
  RestartDecision decision = DecideRestarts(input);

  RestartProgress progress;
  progress.phase = decision.phase;
  progress.done = decision.done;
  progress.total = decision.total;
  progress.waiting_for = decision.waiting_for;
  for (const auto& w : input.workloads) {
    if (w.restarted_for != target.certificate_serial) progress.pending.push_back(w.Id());
  }
  std::sort(progress.pending.begin(), progress.pending.end());
  if (!patch) co_return progress;
  for (const auto& w : decision.restart_now) {
    if (Status s = co_await Restart(target.mesh.metadata().name(), w, target.certificate_serial); !s.ok())
      co_return s.error();
    progress.restarted.push_back(w.Id());
  }
  if (!decision.restart_now.empty()) {
    // What was just restarted is no longer pending, and its rollout is what the restart waits for now.
    std::erase_if(progress.pending, [&](const std::string& id) {
      return std::find(progress.restarted.begin(), progress.restarted.end(), id) != progress.restarted.end();
    });
    if (progress.phase != RestartPhase::kDone && progress.waiting_for.empty()) {
      progress.waiting_for =
          "rollout of " + progress.restarted.front() + (progress.restarted.size() > 1 ? " and others" : "");
    }
  }
  co_return progress;
}

asio::awaitable<Result<RestartProgress>> Restarter::Step(const RestartTarget& target) {
  co_return co_await Run(target, true);
}

asio::awaitable<Result<RestartProgress>> Restarter::Inspect(const RestartTarget& target) {
  co_return co_await Run(target, false);
}

}  // namespace vmesh::agent
