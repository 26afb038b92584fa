#include "e2e/kubesim/cluster_setup.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "common/base/base64.h"
#include "e2e/kubesim/defaulting.h"
#include "e2e/kubesim/yaml_json.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

std::string MetadataString(const json::object& object, std::string_view key) {
  auto md = object.find("metadata");
  if (md == object.end() || !md->value().is_object()) return {};
  auto v = md->value().get_object().find(key);
  return v != md->value().get_object().end() && v->value().is_string() ? std::string(v->value().get_string())
                                                                       : std::string();
}

std::string StringField(const json::object& object, std::string_view key) {
  auto v = object.find(key);
  return v != object.end() && v->value().is_string() ? std::string(v->value().get_string()) : std::string();
}

Status EnsureNamespace(ObjectStore& store, const ResourceType& namespaces, const std::string& name) {
  if (store.Get(namespaces, "", name).ok()) return OkStatus();
  auto created = store.Create(namespaces, "", json::object{{"metadata", json::object{{"name", name}}}});
  if (!created.ok() && created.error().reason != "AlreadyExists") return MakeError(created.error().message);
  return OkStatus();
}

}  // namespace

std::string ClusterNetwork::LoadBalancerIp(uint32_t k) const {
  return "172.18." + std::to_string(k % 256) + "." + std::to_string(load_balancer_last_octet);
}

ClusterNetwork ClusterNetworkFor(int index) {
  if (index <= 0) return ClusterNetwork{"10.244", "10.96", 254};
  return ClusterNetwork{"10." + std::to_string(index), "10." + std::to_string(128 + index), index};
}

Status CreateSystemNamespaces(ObjectStore& store) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  const ResourceType* namespaces = registry.Find("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (Status s = EnsureNamespace(store, *namespaces, name); !s.ok()) return s;
  }
  return OkStatus();
}

Status LoadSeed(ObjectStore& store, const ResourceRegistry& registry, std::string_view yaml,
                const std::vector<std::pair<std::string, std::string>>& vars) {
  auto documents = ParseYamlDocuments(SubstitutePlaceholders(yaml, vars));
  if (!documents.ok()) return documents.error();

  struct Item {
    size_t document;
    json::object object;
  };
  std::vector<Item> items;
  for (size_t i = 0; i < documents->size(); ++i) {
    json::value& doc = (*documents)[i];
    if (!doc.is_object()) return MakeError("document " + std::to_string(i + 1) + ": expected an object");
    json::object& object = doc.get_object();
    if (StringField(object, "kind") == "List" && object.contains("items") && object["items"].is_array()) {
      for (auto& item : object["items"].get_array()) {
        if (!item.is_object()) return MakeError("document " + std::to_string(i + 1) + ": List items must be objects");
        items.push_back({i + 1, std::move(item.get_object())});
      }
    } else {
      items.push_back({i + 1, std::move(object)});
    }
  }
  // Namespaces first, so that objects can be created in them.
  std::stable_partition(items.begin(), items.end(),
                        [](const Item& item) { return StringField(item.object, "kind") == "Namespace"; });

  const ResourceType* namespaces = registry.Find("", "v1", "namespaces");
  for (auto& item : items) {
    const std::string where = "document " + std::to_string(item.document);
    const std::string api_version = StringField(item.object, "apiVersion");
    const std::string kind = StringField(item.object, "kind");
    const ResourceType* type = registry.FindByKind(api_version, kind);
    if (type == nullptr) return MakeError(where + ": unknown kind " + kind + " in " + api_version);
    std::string ns;
    if (type->namespaced) {
      ns = MetadataString(item.object, "namespace");
      if (ns.empty()) ns = "default";
      if (Status s = EnsureNamespace(store, *namespaces, ns); !s.ok()) return s.error().Wrap(where);
    }
    ApplyDefaults(*type, item.object);
    const std::string name = MetadataString(item.object, "name");
    auto created = store.Create(*type, ns, std::move(item.object));
    if (!created.ok() && type == namespaces && created.error().reason == "AlreadyExists") continue;
    if (!created.ok()) return MakeError(where + ": " + kind + " " + name + ": " + created.error().message);
  }
  return OkStatus();
}

Status RegisterCustomResources(ResourceRegistry& registry, std::string_view yaml) {
  auto documents = ParseYamlDocuments(yaml);
  if (!documents.ok()) return documents.error();
  for (size_t i = 0; i < documents->size(); ++i) {
    const std::string where = "document " + std::to_string(i + 1);
    const json::value& doc = (*documents)[i];
    if (!doc.is_object() || StringField(doc.get_object(), "kind") != "CustomResourceDefinition" ||
        StringField(doc.get_object(), "apiVersion") != "apiextensions.k8s.io/v1") {
      return MakeError(where + ": expected an apiextensions.k8s.io/v1 CustomResourceDefinition");
    }
    const json::value* spec = doc.get_object().if_contains("spec");
    const json::value* names = spec && spec->is_object() ? spec->get_object().if_contains("names") : nullptr;
    const json::value* versions = spec && spec->is_object() ? spec->get_object().if_contains("versions") : nullptr;
    if (!names || !names->is_object() || !versions || !versions->is_array()) {
      return MakeError(where + ": spec.names and spec.versions are required");
    }
    ResourceType base;
    base.group = StringField(spec->get_object(), "group");
    base.resource = StringField(names->get_object(), "plural");
    base.kind = StringField(names->get_object(), "kind");
    base.singular = StringField(names->get_object(), "singular");
    if (base.singular.empty()) {
      base.singular = base.kind;
      std::transform(base.singular.begin(), base.singular.end(), base.singular.begin(), ::tolower);
    }
    base.namespaced = StringField(spec->get_object(), "scope") != "Cluster";
    base.builtin = false;
    for (const char* list : {"shortNames", "categories"}) {
      const json::value* values = names->get_object().if_contains(list);
      if (!values || !values->is_array()) continue;
      for (const auto& v : values->get_array()) {
        if (!v.is_string()) continue;
        (std::string_view(list) == "shortNames" ? base.short_names : base.categories).emplace_back(v.get_string());
      }
    }
    if (base.group.empty() || base.resource.empty() || base.kind.empty()) {
      return MakeError(where + ": spec.group, spec.names.plural and spec.names.kind are required");
    }
    for (const auto& v : versions->get_array()) {
      if (!v.is_object()) continue;
      const json::value* served = v.get_object().if_contains("served");
      if (served && served->is_bool() && !served->get_bool()) continue;
      ResourceType type = base;
      type.version = StringField(v.get_object(), "name");
      const json::value* sub = v.get_object().if_contains("subresources");
      type.has_status = sub && sub->is_object() && sub->get_object().contains("status");
      if (const json::value* columns = v.get_object().if_contains("additionalPrinterColumns");
          columns && columns->is_array()) {
        for (const auto& c : columns->get_array()) {
          if (!c.is_object()) continue;
          PrinterColumn column{StringField(c.get_object(), "name"), StringField(c.get_object(), "type"),
                               StringField(c.get_object(), "jsonPath")};
          if (const json::value* p = c.get_object().if_contains("priority"); p && p->is_int64()) {
            column.priority = static_cast<int>(p->get_int64());
          }
          if (!column.name.empty() && !column.json_path.empty()) type.printer_columns.push_back(std::move(column));
        }
      }
      if (type.version.empty()) return MakeError(where + ": every version needs a name");
      registry.Add(std::move(type));
    }
  }
  return OkStatus();
}

std::string KubeconfigYaml(const std::string& name, const std::string& server_url, const std::string& token,
                           const std::string& ca_pem) {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: " +
         name +
         "\n"
         "  cluster:\n"
         "    server: " +
         server_url + "\n" +
         (ca_pem.empty() ? std::string() : "    certificate-authority-data: " + Base64Encode(ca_pem) + "\n") +
         "users:\n"
         "- name: " +
         name +
         "\n"
         "  user: " +
         (token.empty() ? std::string("{}") : "{token: \"" + token + "\"}") +
         "\n"
         "contexts:\n"
         "- name: " +
         name +
         "\n"
         "  context:\n"
         "    cluster: " +
         name +
         "\n"
         "    user: " +
         name +
         "\n"
         "    namespace: default\n"
         "current-context: " +
         name + "\n";
}

}  // namespace vmesh::kubesim
