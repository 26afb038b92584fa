#include "e2e/kubesim/defaulting.h"

#include <boost/json/array.hpp>
#include <string_view>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

json::object& Child(json::object& parent, std::string_view key) {
  json::value& v = parent[key];
  if (!v.is_object()) v = json::object();
  return v.get_object();
}

void SetIfMissing(json::object& object, std::string_view key, json::value value) {
  if (!object.contains(key)) object[key] = std::move(value);
}

void DefaultPorts(json::object& owner) {
  auto ports = owner.find("ports");
  if (ports == owner.end() || !ports->value().is_array()) return;
  for (auto& port : ports->value().get_array()) {
    if (port.is_object()) SetIfMissing(port.get_object(), "protocol", "TCP");
  }
}

void DefaultContainers(json::object& pod_spec, std::string_view key) {
  auto containers = pod_spec.find(key);
  if (containers == pod_spec.end() || !containers->value().is_array()) return;
  for (auto& c : containers->value().get_array()) {
    if (!c.is_object()) continue;
    json::object& container = c.get_object();
    SetIfMissing(container, "terminationMessagePath", "/dev/termination-log");
    SetIfMissing(container, "terminationMessagePolicy", "File");
    if (!container.contains("imagePullPolicy")) {
      std::string_view image = container.contains("image") && container["image"].is_string()
                                   ? std::string_view(container["image"].get_string())
                                   : std::string_view();
      size_t slash = image.rfind('/');
      std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
      bool latest = last.find('@') == std::string_view::npos &&
                    (last.find(':') == std::string_view::npos || last.ends_with(":latest"));
      container["imagePullPolicy"] = latest ? "Always" : "IfNotPresent";
    }
    SetIfMissing(container, "resources", json::object());
    DefaultPorts(container);
  }
}

void DefaultPodSpec(json::object& spec) {
  SetIfMissing(spec, "restartPolicy", "Always");
  SetIfMissing(spec, "terminationGracePeriodSeconds", 30);
  SetIfMissing(spec, "dnsPolicy", "ClusterFirst");
  SetIfMissing(spec, "securityContext", json::object());
  SetIfMissing(spec, "schedulerName", "default-scheduler");
  DefaultContainers(spec, "containers");
  DefaultContainers(spec, "initContainers");
}

void DefaultTemplate(json::object& spec) {
  if (auto t = spec.find("template"); t != spec.end() && t->value().is_object()) {
    DefaultPodSpec(Child(t->value().get_object(), "spec"));
  }
}

}  // namespace

void ApplyDefaults(const ResourceType& type, json::object& object) {
  if (!type.builtin) return;
  const std::string& r = type.resource;
  if (type.group.empty()) {
    if (r == "secrets") {
      SetIfMissing(object, "type", "Opaque");
    } else if (r == "services") {
      json::object& spec = Child(object, "spec");
      SetIfMissing(spec, "type", "ClusterIP");
      SetIfMissing(spec, "sessionAffinity", "None");
      DefaultPorts(spec);
      if (auto ports = spec.find("ports"); ports != spec.end() && ports->value().is_array()) {
        for (auto& port : ports->value().get_array()) {
          if (port.is_object() && port.get_object().contains("port")) {
            SetIfMissing(port.get_object(), "targetPort", port.get_object()["port"]);
          }
        }
      }
    } else if (r == "pods") {
      DefaultPodSpec(Child(object, "spec"));
    }
    return;
  }
  if (type.group != "apps") return;
  json::object& spec = Child(object, "spec");
  if (r == "deployments" || r == "statefulsets" || r == "replicasets") SetIfMissing(spec, "replicas", 1);
  if (r != "replicasets") SetIfMissing(spec, "revisionHistoryLimit", 10);
  if (r == "deployments") {
    SetIfMissing(spec, "progressDeadlineSeconds", 600);
    json::object& strategy = Child(spec, "strategy");
    SetIfMissing(strategy, "type", "RollingUpdate");
    if (strategy["type"] == "RollingUpdate") {
      json::object& rolling = Child(strategy, "rollingUpdate");
      SetIfMissing(rolling, "maxUnavailable", "25%");
      SetIfMissing(rolling, "maxSurge", "25%");
    }
  } else if (r == "statefulsets") {
    SetIfMissing(spec, "podManagementPolicy", "OrderedReady");
    json::object& strategy = Child(spec, "updateStrategy");
    SetIfMissing(strategy, "type", "RollingUpdate");
  } else if (r == "daemonsets") {
    json::object& strategy = Child(spec, "updateStrategy");
    SetIfMissing(strategy, "type", "RollingUpdate");
  }
  DefaultTemplate(spec);
}

}  // namespace vmesh::kubesim
