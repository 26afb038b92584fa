#include "e2e/kubesim/table.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <string>

#include "common/base/time.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

const json::value* At(const json::object& root, std::initializer_list<std::string_view> path) {
  const json::object* current = &root;
  const json::value* v = nullptr;
  for (std::string_view key : path) {
    if (current == nullptr) return nullptr;
    v = current->if_contains(key);
    if (v == nullptr) return nullptr;
    current = v->is_object() ? &v->get_object() : nullptr;
  }
  return v;
}

std::string Str(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = At(o, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t Int(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = At(o, path);
  return v && v->is_int64() ? v->get_int64() : 0;
}

std::string Or(std::string s, const char* fallback) { return s.empty() ? fallback : s; }

// One step of the simple JSONPath of a printer column: a field, an index, or every item ([*]).
struct PathStep {
  std::string field;  // empty for an index step
  int index = -1;     // -1 with an empty field: [*]
};

// ".spec.hosts", ".spec.ports[0].name", ".spec.hosts[*]", ".metadata.labels['app']" (also with {} around).
std::vector<PathStep> ParseJsonPath(std::string_view path) {
  std::vector<PathStep> steps;
  if (path.starts_with("{") && path.ends_with("}")) path = path.substr(1, path.size() - 2);
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) break;
      std::string_view inner = path.substr(i + 1, close - i - 1);
      i = close + 1;
      if (inner == "*") {
        steps.push_back(PathStep{"", -1});
      } else if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"')) {
        steps.push_back(PathStep{std::string(inner.substr(1, inner.size() - 2)), -1});
      } else {
        int index = 0;
        for (char c : inner) index = index * 10 + (c - '0');
        steps.push_back(PathStep{"", index});
      }
      continue;
    }
    const size_t end = path.find_first_of(".[", i);
    steps.push_back(PathStep{std::string(path.substr(i, end == std::string_view::npos ? path.npos : end - i)), -1});
    i = end == std::string_view::npos ? path.size() : end;
  }
  return steps;
}

std::vector<const json::value*> EvaluateJsonPath(const json::object& root, const std::vector<PathStep>& steps) {
  std::vector<const json::value*> current;
  bool at_root = true;
  for (const auto& step : steps) {
    std::vector<const json::value*> next;
    auto visit = [&](const json::value* v, const json::object* o) {
      if (!step.field.empty()) {
        if (o == nullptr && v != nullptr) o = v->if_object();
        if (o != nullptr) {
          if (const json::value* child = o->if_contains(step.field)) next.push_back(child);
        }
      } else if (v != nullptr && v->is_array()) {
        const json::array& a = v->get_array();
        if (step.index < 0) {
          for (const auto& item : a) next.push_back(&item);
        } else if (static_cast<size_t>(step.index) < a.size()) {
          next.push_back(&a[static_cast<size_t>(step.index)]);
        }
      }
    };
    if (at_root) {
      visit(nullptr, &root);
      at_root = false;
    } else {
      for (const json::value* v : current) visit(v, nullptr);
    }
    current = std::move(next);
  }
  return current;
}

struct Column {
  std::string name;
  std::string type;  // "string", "integer", "date", ...
  int priority;      // 0: always shown; 1: with -o wide
  std::function<json::value(const json::object&)> cell;
};

std::string MatchLabels(const json::object& o) {
  std::string out;
  const json::value* labels = At(o, {"spec", "selector", "matchLabels"});
  if (labels == nullptr) labels = At(o, {"spec", "selector"});
  if (labels == nullptr || !labels->is_object()) return "<none>";
  for (const auto& [k, v] : labels->get_object()) {
    if (!v.is_string()) continue;
    out += (out.empty() ? "" : ",") + std::string(k) + "=" + std::string(v.get_string());
  }
  return out.empty() ? "<none>" : out;
}

std::string TemplateContainers(const json::object& o, const char* field) {
  std::string out;
  const json::value* containers = At(o, {"spec", "template", "spec", "containers"});
  if (containers == nullptr || !containers->is_array()) return "";
  for (const auto& c : containers->get_array()) {
    if (!c.is_object()) continue;
    out += (out.empty() ? "" : ",") + Str(c.get_object(), {field});
  }
  return out;
}

std::string ServicePorts(const json::object& o) {
  std::string out;
  const json::value* ports = At(o, {"spec", "ports"});
  if (ports == nullptr || !ports->is_array()) return "<none>";
  for (const auto& p : ports->get_array()) {
    if (!p.is_object()) continue;
    std::string port = std::to_string(Int(p.get_object(), {"port"}));
    if (int64_t node_port = Int(p.get_object(), {"nodePort"})) port += ":" + std::to_string(node_port);
    out += (out.empty() ? "" : ",") + port + "/" + Or(Str(p.get_object(), {"protocol"}), "TCP");
  }
  return out.empty() ? "<none>" : out;
}

std::string ExternalIp(const json::object& o) {
  std::string type = Or(Str(o, {"spec", "type"}), "ClusterIP");
  std::string out;
  const json::value* ingress = At(o, {"status", "loadBalancer", "ingress"});
  if (ingress && ingress->is_array()) {
    for (const auto& i : ingress->get_array()) {
      if (!i.is_object()) continue;
      std::string ip = Str(i.get_object(), {"ip"});
      if (ip.empty()) ip = Str(i.get_object(), {"hostname"});
      if (!ip.empty()) out += (out.empty() ? "" : ",") + ip;
    }
  }
  const json::value* external = At(o, {"spec", "externalIPs"});
  if (external && external->is_array()) {
    for (const auto& ip : external->get_array()) {
      if (ip.is_string()) out += (out.empty() ? "" : ",") + std::string(ip.get_string());
    }
  }
  if (!out.empty()) return out;
  if (type == "ExternalName") return Or(Str(o, {"spec", "externalName"}), "<none>");
  return type == "LoadBalancer" ? "<pending>" : "<none>";
}

// Pod READY, STATUS and RESTARTS, as kubectl has always shown them.
json::value PodReady(const json::object& o) {
  const json::value* containers = At(o, {"spec", "containers"});
  const json::value* statuses = At(o, {"status", "containerStatuses"});
  int64_t total = containers && containers->is_array() ? static_cast<int64_t>(containers->get_array().size()) : 0;
  int64_t ready = 0;
  if (statuses && statuses->is_array()) {
    for (const auto& s : statuses->get_array()) {
      const json::value* r = s.is_object() ? s.get_object().if_contains("ready") : nullptr;
      if (r && r->is_bool() && r->get_bool()) ++ready;
    }
  }
  return json::string(std::to_string(ready) + "/" + std::to_string(total));
}

json::value PodRestarts(const json::object& o) {
  int64_t restarts = 0;
  const json::value* statuses = At(o, {"status", "containerStatuses"});
  if (statuses && statuses->is_array()) {
    for (const auto& s : statuses->get_array()) {
      if (s.is_object()) restarts += Int(s.get_object(), {"restartCount"});
    }
  }
  return restarts;
}

std::vector<Column> ColumnsFor(const ResourceType& type, std::chrono::system_clock::time_point now) {
  auto name = Column{"Name", "string", 0, [](const json::object& o) {
                       return json::value(Str(o, {"metadata", "name"}));
                     }};
  auto age = Column{"Age", "string", 0, [now](const json::object& o) -> json::value {
                      std::string created = Str(o, {"metadata", "creationTimestamp"});
                      auto then = ParseRfc3339(created);
                      if (!then.ok()) return "<unknown>";
                      return json::string(HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *then)));
                    }};
  auto str = [](const char* title, int priority, std::initializer_list<std::string_view> path, const char* empty) {
    std::vector<std::string> keys(path.begin(), path.end());
    return Column{title, "string", priority, [keys, empty](const json::object& o) -> json::value {
                    const json::object* current = &o;
                    const json::value* v = nullptr;
                    for (const auto& k : keys) {
                      v = current ? current->if_contains(k) : nullptr;
                      if (v == nullptr) return json::string(empty);
                      current = v->is_object() ? &v->get_object() : nullptr;
                    }
                    return json::string(v->is_string() && !v->get_string().empty() ? std::string(v->get_string())
                                                                                   : std::string(empty));
                  }};
  };
  auto count = [](const char* title, int priority, std::initializer_list<std::string_view> path) {
    std::vector<std::string> keys(path.begin(), path.end());
    return Column{title, "integer", priority, [keys](const json::object& o) -> json::value {
                    const json::object* current = &o;
                    const json::value* v = nullptr;
                    for (const auto& k : keys) {
                      v = current ? current->if_contains(k) : nullptr;
                      if (v == nullptr) return 0;
                      current = v->is_object() ? &v->get_object() : nullptr;
                    }
                    return v->is_int64() ? v->get_int64() : 0;
                  }};
  };
  auto ratio = [](const char* title, std::initializer_list<std::string_view> ready,
                  std::initializer_list<std::string_view> desired, int64_t desired_default) {
    std::vector<std::string> r(ready.begin(), ready.end()), d(desired.begin(), desired.end());
    return Column{title, "string", 0, [r, d, desired_default](const json::object& o) -> json::value {
                    auto get = [&o](const std::vector<std::string>& keys, int64_t fallback) {
                      const json::object* current = &o;
                      const json::value* v = nullptr;
                      for (const auto& k : keys) {
                        v = current ? current->if_contains(k) : nullptr;
                        if (v == nullptr) return fallback;
                        current = v->is_object() ? &v->get_object() : nullptr;
                      }
                      return v->is_int64() ? v->get_int64() : fallback;
                    };
                    return json::string(std::to_string(get(r, 0)) + "/" + std::to_string(get(d, desired_default)));
                  }};
  };
  auto containers = Column{"Containers", "string", 1,
                           [](const json::object& o) { return json::value(TemplateContainers(o, "name")); }};
  auto images =
      Column{"Images", "string", 1, [](const json::object& o) { return json::value(TemplateContainers(o, "image")); }};
  auto selector = Column{"Selector", "string", 1, [](const json::object& o) { return json::value(MatchLabels(o)); }};

  if (!type.printer_columns.empty()) {
    std::vector<Column> columns = {name};
    for (const auto& pc : type.printer_columns) {
      const std::vector<PathStep> steps = ParseJsonPath(pc.json_path);
      const bool date = pc.type == "date";
      columns.push_back(Column{pc.name, pc.type, pc.priority, [steps, date, now](const json::object& o) -> json::value {
                                 std::vector<const json::value*> results = EvaluateJsonPath(o, steps);
                                 if (results.empty()) return nullptr;
                                 // kube-apiserver prints the first result only ("as we only support simple
                                 // JSON path"), so `.spec.hosts[*]` shows the first host.
                                 const json::value* v = results.front();
                                 if (date && v->is_string()) {
                                   auto at = ParseRfc3339(std::string(v->get_string()));
                                   if (at.ok()) {
                                     return json::string(
                                         HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *at)));
                                   }
                                 }
                                 if (v->is_array() || v->is_object()) return json::string(json::serialize(*v));
                                 return *v;
                               }});
    }
    return columns;
  }
  const std::string& r = type.resource;
  if (type.group.empty()) {
    if (r == "pods") {
      return {name,
              Column{"Ready", "string", 0, PodReady},
              Column{"Status", "string", 0,
                     [](const json::object& o) -> json::value {
                       return json::string(
                           Or(Str(o, {"status", "reason"}), Or(Str(o, {"status", "phase"}), "Pending").c_str()));
                     }},
              Column{"Restarts", "integer", 0, PodRestarts},
              age,
              str("IP", 1, {"status", "podIP"}, "<none>"),
              str("Node", 1, {"spec", "nodeName"}, "<none>")};
    }
    if (r == "namespaces") return {name, str("Status", 0, {"status", "phase"}, "Active"), age};
    if (r == "endpoints") {
      // As kubectl prints them: ready ip:port pairs, the first three and "+ N more...".
      Column endpoints{
          "Endpoints", "string", 0, [](const json::object& o) -> json::value {
            std::vector<std::string> pairs;
            const json::value* subsets = o.if_contains("subsets");
            for (const auto& subset : subsets && subsets->is_array() ? subsets->get_array() : json::array()) {
              const json::value* addresses =
                  subset.is_object() ? subset.get_object().if_contains("addresses") : nullptr;
              const json::value* ports = subset.is_object() ? subset.get_object().if_contains("ports") : nullptr;
              if (!addresses || !addresses->is_array() || !ports || !ports->is_array()) continue;
              for (const auto& a : addresses->get_array()) {
                for (const auto& p : ports->get_array()) {
                  if (!a.is_object() || !p.is_object()) continue;
                  pairs.push_back(
                      Str(a.get_object(), {"ip"}) + ":" +
                      json::serialize(p.get_object().contains("port") ? p.get_object().at("port") : json::value(0)));
                }
              }
            }
            if (pairs.empty()) return json::string("<none>");
            std::string out;
            for (size_t i = 0; i < pairs.size() && i < 3; ++i) out += (i ? "," : "") + pairs[i];
            if (pairs.size() > 3) out += " + " + std::to_string(pairs.size() - 3) + " more...";
            return json::string(out);
          }};
      return {name, endpoints, age};
    }
    if (r == "services") {
      return {name,
              str("Type", 0, {"spec", "type"}, "ClusterIP"),
              str("Cluster-IP", 0, {"spec", "clusterIP"}, "<none>"),
              Column{"External-IP", "string", 0, [](const json::object& o) { return json::value(ExternalIp(o)); }},
              Column{"Port(s)", "string", 0, [](const json::object& o) { return json::value(ServicePorts(o)); }},
              age,
              selector};
    }
    if (r == "configmaps" || r == "secrets") {
      Column data{"Data", "integer", 0, [](const json::object& o) -> json::value {
                    int64_t n = 0;
                    for (const char* field : {"data", "binaryData"}) {
                      const json::value* v = o.if_contains(field);
                      if (v && v->is_object()) n += static_cast<int64_t>(v->get_object().size());
                    }
                    return n;
                  }};
      if (r == "secrets") return {name, str("Type", 0, {"type"}, "Opaque"), data, age};
      return {name, data, age};
    }
  } else if (type.group == "apiextensions.k8s.io" && r == "customresourcedefinitions") {
    return {name, str("Created At", 0, {"metadata", "creationTimestamp"}, "")};
  } else if (type.group == "coordination.k8s.io" && r == "leases") {
    return {name, str("Holder", 0, {"spec", "holderIdentity"}, ""), age};
  } else if (type.group == "apps") {
    if (r == "deployments") {
      return {name,
              ratio("Ready", {"status", "readyReplicas"}, {"spec", "replicas"}, 1),
              count("Up-to-date", 0, {"status", "updatedReplicas"}),
              count("Available", 0, {"status", "availableReplicas"}),
              age,
              containers,
              images,
              selector};
    }
    if (r == "replicasets") {
      return {name,
              count("Desired", 0, {"spec", "replicas"}),
              count("Current", 0, {"status", "replicas"}),
              count("Ready", 0, {"status", "readyReplicas"}),
              age,
              containers,
              images,
              selector};
    }
    if (r == "statefulsets") {
      return {name, ratio("Ready", {"status", "readyReplicas"}, {"spec", "replicas"}, 1), age, containers, images};
    }
    if (r == "daemonsets") {
      return {name,
              count("Desired", 0, {"status", "desiredNumberScheduled"}),
              count("Current", 0, {"status", "currentNumberScheduled"}),
              count("Ready", 0, {"status", "numberReady"}),
              count("Up-to-date", 0, {"status", "updatedNumberScheduled"}),
              count("Available", 0, {"status", "numberAvailable"}),
              age,
              containers,
              images,
              selector};
    }
  }
  return {name, age};
}

json::object PartialMetadata(const json::object& object) {
  json::object metadata;
  if (const json::value* md = object.if_contains("metadata"); md && md->is_object()) {
    metadata = md->get_object();
    metadata.erase("managedFields");
  }
  return json::object{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", metadata}};
}

}  // namespace

bool WantsTable(std::string_view accept) {
  return accept.find("as=Table") != std::string_view::npos && accept.find("g=meta.k8s.io") != std::string_view::npos;
}

json::object RenderTable(const ResourceType& type, const std::vector<ObjectPtr>& objects,
                         std::chrono::system_clock::time_point now) {
  const std::vector<Column> columns = ColumnsFor(type, now);
  json::array definitions;
  for (const auto& c : columns) {
    definitions.push_back(json::object{{"name", c.name},
                                       {"type", c.type},
                                       {"format", c.name == "Name" ? "name" : ""},
                                       {"description", ""},
                                       {"priority", c.priority}});
  }
  json::array rows;
  for (const auto& object : objects) {
    json::array cells;
    for (const auto& c : columns) cells.push_back(c.cell(*object));
    rows.push_back(json::object{{"cells", std::move(cells)}, {"object", PartialMetadata(*object)}});
  }
  return json::object{{"kind", "Table"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", json::object()},
                      {"columnDefinitions", std::move(definitions)},
                      {"rows", std::move(rows)}};
}

std::string HumanDuration(std::chrono::seconds age) {
  const int64_t seconds = age.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s == 0 ? "" : std::to_string(s) + "s");
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m == 0 ? "" : std::to_string(m) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h == 0 ? "" : std::to_string(h) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const int64_t d = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (d == 0 ? "" : std::to_string(d) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

}  // namespace vmesh::kubesim
