#include "agent/discovery/service_discovery.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/base/json_fields.h"
#include "common/base/resource_names.h"

namespace vmesh::agent {

using namespace jsonf;  // NOLINT(build/namespaces): the accessors are this file's vocabulary

namespace {

// Which mesh namespaces and pods belong to (see the header).
class MeshResolver {
 public:
  MeshResolver(const std::vector<api::v1::Mesh>& meshes, const std::vector<json::object>& namespaces)
      : meshes_(meshes) {
    for (const auto& m : meshes_) {
      if (m.spec().revision().empty()) {
        default_ = &m;
        break;
      }
    }
    if (default_ == nullptr && meshes_.size() == 1) default_ = &meshes_[0];
    for (const auto& n : namespaces) namespace_labels_[Name(n)] = Labels(n);
  }

  // The mesh of a revision ("" and "default" are the default revision); null when no mesh has it.
  const api::v1::Mesh* ForRevision(const std::string& rev) const {
    if (rev.empty() || rev == "default") return default_;
    for (const auto& m : meshes_) {
      if (m.spec().revision() == rev) return &m;
    }
    return nullptr;
  }

  const api::v1::Mesh* ForNamespace(const std::string& ns) const {
    auto it = namespace_labels_.find(ns);
    if (it == namespace_labels_.end()) return nullptr;
    const auto& labels = it->second;
    if (auto rev = labels.find("istio.io/rev"); rev != labels.end()) return ForRevision(rev->second);
    if (auto inj = labels.find("istio-injection"); inj != labels.end() && inj->second == "enabled") return default_;
    return nullptr;
  }

  // Null for pods without a sidecar.
  const api::v1::Mesh* ForPod(const json::object& pod) const {
    auto labels = Labels(pod);
    if (labels[kTlsModeLabel] != "istio") return nullptr;
    if (auto rev = labels.find("istio.io/rev"); rev != labels.end()) return ForRevision(rev->second);
    const std::string status = Annotations(pod)["sidecar.istio.io/status"];
    if (!status.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(status, ec);
      if (!ec && v.is_object() && v.get_object().contains("revision")) {
        return ForRevision(Str(&v.get_object(), "revision"));
      }
    }
    if (const api::v1::Mesh* m = ForNamespace(Namespace(pod))) return m;
    return default_;
  }

 private:
  const std::vector<api::v1::Mesh>& meshes_;
  const api::v1::Mesh* default_ = nullptr;
  std::map<std::string, std::map<std::string, std::string>> namespace_labels_;
};

// Labels a controller puts on its pods: they change with every rollout and would split endpoints by revision.
bool IsControllerHashLabel(const std::string& key) {
  return key == "pod-template-hash" || key == "controller-revision-hash" ||
         key == "statefulset.kubernetes.io/pod-name" || key == "pod-template-generation";
}

void SetMeshRef(const api::v1::Mesh& mesh, api::v1::ObjectRef* ref) {
  ref->set_name(mesh.metadata().name());
  ref->set_namespace_(mesh.metadata().namespace_());
}

bool SelectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// A port value that may be a number or a name, as a string ("" when absent).
std::string PortValue(const json::object* o, std::string_view key) {
  if (o == nullptr) return "";
  auto it = o->find(key);
  if (it == o->end()) return "";
  if (it->value().is_string()) return std::string(it->value().get_string());
  if (it->value().is_int64() || it->value().is_uint64()) return std::to_string(Int(o, key));
  return "";
}

std::string ServiceAccountOf(const json::object& pod) {
  const json::object* spec = Obj(pod, "spec");
  std::string sa = Str(spec, "serviceAccountName");
  if (sa.empty()) sa = Str(spec, "serviceAccount");
  return sa.empty() ? "default" : sa;
}

void FillEndpointFromPod(const json::object& pod, api::v1::Endpoint* e) {
  for (const auto& [k, v] : Labels(pod)) {
    if (!IsControllerHashLabel(k)) (*e->mutable_labels())[k] = v;
  }
  e->set_service_account(ServiceAccountOf(pod));
  e->set_pod_name(Name(pod));
  if (const json::array* containers = Arr(Obj(pod, "spec"), "containers")) {
    for (const auto& c : *containers) {
      if (!c.is_object()) continue;
      if (const json::array* ports = Arr(c.get_object(), "ports")) {
        for (const auto& p : *ports) {
          if (!p.is_object()) continue;
          const std::string name = Str(&p.get_object(), "name");
          const std::int64_t number = Int(&p.get_object(), "containerPort");
          if (!name.empty() && number > 0) (*e->mutable_named_ports())[name] = static_cast<std::uint32_t>(number);
        }
      }
    }
  }
}

// The endpoints of one Service from its Endpoints object.
std::vector<api::v1::Endpoint> EndpointsOf(const json::object* endpoints,
                                           const std::map<std::string, const json::object*>& pods) {
  std::map<std::string, api::v1::Endpoint> by_ip;
  const json::array* subsets = endpoints ? Arr(*endpoints, "subsets") : nullptr;
  if (subsets == nullptr) return {};
  for (const auto& subset : *subsets) {
    if (!subset.is_object()) continue;
    for (const auto& [field, ready] : {std::pair{"addresses", true}, std::pair{"notReadyAddresses", false}}) {
      const json::array* addresses = Arr(subset.get_object(), field);
      if (addresses == nullptr) continue;
      for (const auto& a : *addresses) {
        if (!a.is_object()) continue;
        const std::string ip = Str(&a.get_object(), "ip");
        if (ip.empty() || by_ip.count(ip)) continue;
        api::v1::Endpoint e;
        e.set_ip(ip);
        e.set_ready(ready);
        const json::object* ref = Obj(a.get_object(), "targetRef");
        if (Str(ref, "kind") == "Pod") {
          std::string ns = Str(ref, "namespace");
          if (ns.empty()) ns = Namespace(*endpoints);
          auto it = pods.find(ns + "/" + Str(ref, "name"));
          if (it != pods.end()) {
            FillEndpointFromPod(*it->second, &e);
          } else {
            e.set_pod_name(Str(ref, "name"));
          }
        }
        by_ip.emplace(ip, std::move(e));
      }
    }
  }
  std::vector<api::v1::Endpoint> out;
  for (auto& [ip, e] : by_ip) out.push_back(std::move(e));
  return out;
}

std::vector<std::string> ExternalAddresses(const json::object& svc, const std::string& type,
                                           const std::vector<std::string>& node_addresses) {
  std::vector<std::string> out;
  if (type == "LoadBalancer") {
    const json::object* lb = Obj(Obj(svc, "status"), "loadBalancer");
    if (const json::array* ingress = Arr(lb, "ingress")) {
      for (const auto& i : *ingress) {
        if (!i.is_object()) continue;
        std::string ip = Str(&i.get_object(), "ip");
        std::string host = Str(&i.get_object(), "hostname");
        if (!ip.empty()) {
          out.push_back(ip);
        } else if (!host.empty()) {
          out.push_back(host);
        }
      }
    }
  } else if (type == "NodePort") {
    out = node_addresses;
  }
  if (const json::array* ips = Arr(Obj(svc, "spec"), "externalIPs")) {
    for (const auto& ip : *ips) {
      if (ip.is_string()) out.emplace_back(ip.get_string());
    }
  }
  return out;
}

struct ControllerRef {
  std::string kind;
  std::string name;
};

// The controller a pod belongs to, following ReplicaSet -> Deployment by the pod-template-hash naming rule
// (so no ReplicaSet lookup is needed).
ControllerRef ControllerOf(const json::object& pod) {
  const json::array* owners = Arr(Meta(pod), "ownerReferences");
  const json::object* owner = nullptr;
  if (owners != nullptr) {
    for (const auto& o : *owners) {
      if (!o.is_object()) continue;
      if (owner == nullptr || Bool(&o.get_object(), "controller")) owner = &o.get_object();
      if (Bool(&o.get_object(), "controller")) break;
    }
  }
  if (owner == nullptr) return {"Pod", Name(pod)};
  ControllerRef ref{Str(owner, "kind"), Str(owner, "name")};
  if (ref.kind == "ReplicaSet") {
    const std::string hash = Labels(pod)["pod-template-hash"];
    const std::string suffix = "-" + hash;
    if (!hash.empty() && ref.name.size() > suffix.size() &&
        ref.name.compare(ref.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return {"Deployment", ref.name.substr(0, ref.name.size() - suffix.size())};
    }
  }
  return ref;
}

}  // namespace

std::string DestinationKey(const api::v1::Destination& d) {
  return vmesh::ObjectKey(d.spec().namespace_(), d.spec().name());
}
std::string WorkloadKey(const api::v1::Workload& w) {
  return vmesh::ObjectKey(w.spec().namespace_(), w.metadata().name());
}

std::vector<api::v1::Destination> DiscoverDestinations(const ClusterSnapshot& s,
                                                       const std::vector<api::v1::Mesh>& meshes) {
  MeshResolver resolver(meshes, s.namespaces);
  std::map<std::string, const json::object*> pods;  // "<ns>/<name>"
  std::map<std::string, std::vector<const json::object*>> pods_by_namespace;
  for (const auto& p : s.pods) {
    pods[Namespace(p) + "/" + Name(p)] = &p;
    pods_by_namespace[Namespace(p)].push_back(&p);
  }
  std::map<std::string, const json::object*> endpoints;
  for (const auto& e : s.endpoints) endpoints[Namespace(e) + "/" + Name(e)] = &e;
  const std::vector<std::string> node_addresses = NodeAddresses(s.nodes);

  std::vector<api::v1::Destination> out;
  for (const auto& svc : s.services) {
    const std::string ns = Namespace(svc);
    const std::string name = Name(svc);
    const json::object* spec = Obj(svc, "spec");
    if (ns.empty() || name.empty() || spec == nullptr) continue;
    std::string type = Str(spec, "type");
    if (type.empty()) type = "ClusterIP";
    if (type == "ExternalName") continue;
    const auto selector = StrMap(Obj(spec, "selector"));

    const api::v1::Mesh* mesh = resolver.ForNamespace(ns);
    if (mesh == nullptr && !selector.empty()) {
      for (const json::object* pod : pods_by_namespace[ns]) {
        if (!SelectorMatches(selector, Labels(*pod))) continue;
        if ((mesh = resolver.ForPod(*pod)) != nullptr) break;
      }
    }
    if (mesh == nullptr) continue;

    api::v1::Destination d;
    d.set_api_version("discovery.vmesh.dev/v1");
    d.set_kind("Destination");
    d.mutable_metadata()->set_name(name + "-" + ns + "-" + s.cluster);
    d.mutable_metadata()->set_namespace_(s.hub_namespace);
    api::v1::DestinationSpec* ds = d.mutable_spec();
    ds->set_cluster(s.cluster);
    SetMeshRef(*mesh, ds->mutable_mesh());
    ds->set_name(name);
    ds->set_namespace_(ns);
    ds->set_service_type(type);
    for (const auto& [k, v] : Labels(svc)) (*ds->mutable_labels())[k] = v;
    for (const auto& [k, v] : selector) (*ds->mutable_selector())[k] = v;
    if (const json::array* ports = Arr(spec, "ports")) {
      for (const auto& p : *ports) {
        if (!p.is_object()) continue;
        const json::object& port = p.get_object();
        api::v1::ServicePort* sp = ds->add_ports();
        sp->set_name(Str(&port, "name"));
        sp->set_port(static_cast<std::uint32_t>(Int(&port, "port")));
        std::string protocol = Str(&port, "protocol");
        sp->set_protocol(protocol.empty() ? "TCP" : protocol);
        std::string target = PortValue(&port, "targetPort");
        sp->set_target_port(target.empty() ? std::to_string(sp->port()) : target);
        sp->set_app_protocol(Str(&port, "appProtocol"));
        sp->set_node_port(static_cast<std::uint32_t>(Int(&port, "nodePort")));
      }
    }
    auto ep = endpoints.find(ns + "/" + name);
    for (auto& e : EndpointsOf(ep == endpoints.end() ? nullptr : ep->second, pods)) {
      *ds->add_endpoints() = std::move(e);
    }
    for (const auto& a : ExternalAddresses(svc, type, node_addresses)) ds->add_external_addresses(a);
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return DestinationKey(a) < DestinationKey(b); });
  return out;
}

std::vector<api::v1::Workload> DiscoverWorkloads(const ClusterSnapshot& s, const std::vector<api::v1::Mesh>& meshes) {
  MeshResolver resolver(meshes, s.namespaces);
  std::vector<const json::object*> pods;
  for (const auto& p : s.pods) pods.push_back(&p);
  std::sort(pods.begin(), pods.end(), [](const json::object* a, const json::object* b) {
    return std::pair(Namespace(*a), Name(*a)) < std::pair(Namespace(*b), Name(*b));
  });
  std::map<std::string, api::v1::Workload> by_key;
  for (const json::object* pod : pods) {
    const api::v1::Mesh* mesh = resolver.ForPod(*pod);
    if (mesh == nullptr) continue;
    const std::string ns = Namespace(*pod);
    const ControllerRef controller = ControllerOf(*pod);
    if (ns.empty() || controller.name.empty()) continue;
    api::v1::Workload w;
    w.set_api_version("discovery.vmesh.dev/v1");
    w.set_kind("Workload");
    w.mutable_metadata()->set_name(controller.name + "-" + ns + "-" + s.cluster);
    w.mutable_metadata()->set_namespace_(s.hub_namespace);
    const std::string key = ns + "/" + w.metadata().name();
    if (by_key.count(key)) continue;  // the first pod (by name) speaks for its controller
    api::v1::WorkloadSpec* spec = w.mutable_spec();
    spec->set_cluster(s.cluster);
    SetMeshRef(*mesh, spec->mutable_mesh());
    spec->set_namespace_(ns);
    spec->mutable_controller()->set_kind(controller.kind);
    spec->mutable_controller()->set_name(controller.name);
    for (const auto& [k, v] : Labels(*pod)) {
      if (!IsControllerHashLabel(k)) (*spec->mutable_labels())[k] = v;
    }
    spec->set_service_account(ServiceAccountOf(*pod));
    by_key.emplace(key, std::move(w));
  }
  std::vector<api::v1::Workload> out;
  for (auto& [k, w] : by_key) out.push_back(std::move(w));
  return out;
}

}  // namespace vmesh::agent
