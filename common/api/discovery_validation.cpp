#include "common/api/discovery_validation.h"

#include <functional>
#include <optional>
#include <string_view>

#include "common/api/dns.h"
#include "common/api/validation.h"

namespace vmesh::api {
namespace {

using Problem = std::optional<std::string>;
using Errors = std::vector<FieldError>;

// Collects the problems of one object.
class Checks {
 public:
  // `value` at `path` must satisfy `problem_of`; an empty value is reported only when `required`.
  void Check(const std::string& path, std::string_view value, Problem (*problem_of)(std::string_view),
             std::string_view what, bool required) {
    if (value.empty() && !required) return;
    if (Problem p = problem_of(value))
      Add(path, QuoteValue(value) + " is not a valid " + std::string(what) + ": " + *p);
  }
  void Port(const std::string& path, std::uint64_t port, bool required) {
    if (port == 0 && !required) return;
    if (Problem p = PortProblem(port)) Add(path, std::to_string(port) + " " + *p);
  }
  void Labels(const std::string& path, const google::protobuf::Map<std::string, std::string>& labels) {
    for (FieldError& e : ValidateLabels(path, labels)) errors.push_back(std::move(e));
  }
  void Meta(const v1::ObjectMeta& meta) {
    for (FieldError& e : ValidateObjectMeta(meta, "reviews-bookinfo-cluster-1")) errors.push_back(std::move(e));
  }
  void OneOf(const std::string& path, const std::string& value, const std::vector<std::string_view>& allowed) {
    std::string list;
    for (std::string_view a : allowed) {
      if (value == a) return;
      list += (list.empty() ? "" : ", ") + (a.empty() ? std::string("\"\"") : std::string(a));
    }
    Add(path, QuoteValue(value) + " is not one of " + list);
  }
  void Add(std::string path, std::string message) {
    FieldError e;
    e.path = std::move(path);
    e.message = std::move(message);
    errors.push_back(std::move(e));
  }

  // Names the object on every error; a name that is itself invalid is quoted (escaped).
  Errors Done(std::string_view kind, const v1::ObjectMeta& meta) {
    const bool plain =
        IsDns1123Subdomain(meta.name()) && (meta.namespace_().empty() || IsDns1123Label(meta.namespace_()));
    const std::string name = plain ? meta.name() : QuoteValue(meta.name());
    const std::string ns = plain ? meta.namespace_() : QuoteValue(meta.namespace_());
    const std::string object = std::string(kind) + " " + (meta.namespace_().empty() ? "" : ns + "/") + name;
    for (FieldError& e : errors) e.object = object;
    return std::move(errors);
  }

  Errors errors;
};

std::string Item(const std::string& path, int i) { return path + "[" + std::to_string(i) + "]"; }

// Kubernetes Service types as discovery reports them.
const std::vector<std::string_view> kServiceTypes = {"", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"};

void CheckMeshRef(Checks& c, const std::string& path, const v1::ObjectRef& ref) {
  c.Check(path + ".name", ref.name(), Dns1123SubdomainProblem, "mesh name", true);
  c.Check(path + ".namespace", ref.namespace_(), Dns1123LabelProblem, "namespace", false);
}

void CheckGateway(Checks& c, const std::string& path, const v1::GatewayInfo& gw) {
  c.Check(path + ".service.name", gw.service().name(), Dns1123LabelProblem, "Service name", true);
  c.Check(path + ".service.namespace", gw.service().namespace_(), Dns1123LabelProblem, "namespace", true);
  c.Check(path + ".service.clusterName", gw.service().cluster_name(), Dns1123LabelProblem, "cluster name", false);
  c.Labels(path + ".workloadLabels", gw.workload_labels());
  c.Port(path + ".tlsContainerPort", gw.tls_container_port(), false);
  c.Port(path + ".externalTlsPort", gw.external_tls_port(), false);
  for (int i = 0; i < gw.external_addresses_size(); ++i) {
    c.Check(Item(path + ".externalAddresses", i), gw.external_addresses(i), HostOrIpProblem, "gateway address", true);
  }
  c.OneOf(path + ".serviceType", gw.service_type(), kServiceTypes);
  c.Check(path + ".tlsPortName", gw.tls_port_name(), Dns1123LabelProblem, "port name", false);
}

// A Service's targetPort: a number or a container port name.
Problem TargetPortProblem(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
    return s.size() > 5 ? PortProblem(100000) : PortProblem(std::stoull(std::string(s)));
  }
  if (Problem p = IanaServiceNameProblem(s)) return "is neither a port number nor a port name: " + *p;
  return std::nullopt;
}

// appProtocol: an IANA service name or a domain-prefixed name ("kubernetes.io/h2c"): label-key syntax.
Problem AppProtocolProblem(std::string_view s) { return LabelKeyProblem(s); }

Problem ControllerKindProblem(std::string_view s) {
  if (s.size() > 63) return std::string("is longer than 63 characters");
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return std::string("contains characters other than letters and digits");
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<FieldError> ValidateDiscoveredMesh(const v1::Mesh& mesh) {
  Checks c;
  c.Meta(mesh.metadata());
  const v1::MeshSpec& s = mesh.spec();
  c.Check("spec.cluster", s.cluster(), Dns1123LabelProblem, "cluster name", true);
  c.Check("spec.installationNamespace", s.installation_namespace(), Dns1123LabelProblem, "namespace", true);
  c.Check("spec.revision", s.revision(), Dns1123LabelProblem, "Istio revision", false);
  c.Check("spec.istioVersion", s.istio_version(), LabelValueProblem, "Istio version", false);
  c.Check("spec.trustDomain", s.trust_domain(), TrustDomainProblem, "trust domain", false);
  c.Check("spec.istiodServiceAccount", s.istiod_service_account(), Dns1123SubdomainProblem, "service account name",
          false);
  c.Check("spec.network", s.network(), LabelValueProblem, "network name", false);
  for (int i = 0; i < s.east_west_gateways_size(); ++i) {
    CheckGateway(c, Item("spec.eastWestGateways", i), s.east_west_gateways(i));
  }
  for (int i = 0; i < s.ingress_gateways_size(); ++i) {
    CheckGateway(c, Item("spec.ingressGateways", i), s.ingress_gateways(i));
  }
  for (int i = 0; i < s.egress_gateways_size(); ++i) {
    CheckGateway(c, Item("spec.egressGateways", i), s.egress_gateways(i));
  }
  c.Labels("spec.istiodLabels", s.istiod_labels());
  return c.Done("Mesh", mesh.metadata());
}

std::vector<FieldError> ValidateDiscoveredDestination(const v1::Destination& destination) {
  Checks c;
  c.Meta(destination.metadata());
  const v1::DestinationSpec& s = destination.spec();
  c.Check("spec.cluster", s.cluster(), Dns1123LabelProblem, "cluster name", true);
  CheckMeshRef(c, "spec.mesh", s.mesh());
  c.Check("spec.name", s.name(), Dns1123LabelProblem, "Service name", true);
  c.Check("spec.namespace", s.namespace_(), Dns1123LabelProblem, "namespace", true);
  for (int i = 0; i < s.ports_size(); ++i) {
    const std::string path = Item("spec.ports", i);
    const v1::ServicePort& p = s.ports(i);
    c.Check(path + ".name", p.name(), Dns1123LabelProblem, "port name", false);
    c.Port(path + ".port", p.port(), true);
    c.OneOf(path + ".protocol", p.protocol(), {"", "TCP", "UDP", "SCTP"});
    c.Check(path + ".targetPort", p.target_port(), TargetPortProblem, "target port", false);
    c.Check(path + ".appProtocol", p.app_protocol(), AppProtocolProblem, "application protocol", false);
    c.Port(path + ".nodePort", p.node_port(), false);
  }
  c.Labels("spec.labels", s.labels());
  c.Labels("spec.selector", s.selector());
  for (int i = 0; i < s.endpoints_size(); ++i) {
    const std::string path = Item("spec.endpoints", i);
    const v1::Endpoint& e = s.endpoints(i);
    c.Check(path + ".ip", e.ip(), IpAddressProblem, "endpoint IP", true);
    c.Labels(path + ".labels", e.labels());
    c.Check(path + ".serviceAccount", e.service_account(), Dns1123SubdomainProblem, "service account name", false);
    c.Check(path + ".podName", e.pod_name(), Dns1123SubdomainProblem, "pod name", false);
    for (const auto& [name, port] : e.named_ports()) {
      c.Check(path + ".namedPorts[" + name + "]", name, IanaServiceNameProblem, "port name", true);
      c.Port(path + ".namedPorts[" + name + "]", port, true);
    }
  }
  for (int i = 0; i < s.external_addresses_size(); ++i) {
    c.Check(Item("spec.externalAddresses", i), s.external_addresses(i), HostOrIpProblem, "address", true);
  }
  c.OneOf("spec.serviceType", s.service_type(), kServiceTypes);
  return c.Done("Destination", destination.metadata());
}

std::vector<FieldError> ValidateDiscoveredWorkload(const v1::Workload& workload) {
  Checks c;
  c.Meta(workload.metadata());
  const v1::WorkloadSpec& s = workload.spec();
  c.Check("spec.cluster", s.cluster(), Dns1123LabelProblem, "cluster name", true);
  CheckMeshRef(c, "spec.mesh", s.mesh());
  c.Check("spec.namespace", s.namespace_(), Dns1123LabelProblem, "namespace", true);
  c.Check("spec.controller.kind", s.controller().kind(), ControllerKindProblem, "controller kind", false);
  c.Check("spec.controller.name", s.controller().name(), Dns1123SubdomainProblem, "controller name", false);
  c.Labels("spec.labels", s.labels());
  c.Check("spec.serviceAccount", s.service_account(), Dns1123SubdomainProblem, "service account name", false);
  return c.Done("Workload", workload.metadata());
}

}  // namespace vmesh::api
