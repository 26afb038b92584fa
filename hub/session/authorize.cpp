#include "hub/session/authorize.h"

#include <set>
#include <type_traits>

#include "common/api/discovery_validation.h"
#include "common/api/dns.h"

namespace vmesh::hub {
namespace {

Authorization Nack(std::string reason) { return {Verdict::kNack, std::move(reason), {}}; }

// "Destination vmesh/reviews-bookinfo-c1" (the name quoted when it is not a valid name).
std::string What(const char* kind, const api::v1::ObjectMeta& meta) {
  const bool plain = api::IsDns1123Subdomain(meta.name());
  return std::string(kind) + " " + (plain ? meta.name() : api::QuoteValue(meta.name()));
}

// The first problem of an object (and how many more there are), or "".
std::string FirstProblem(const std::vector<api::FieldError>& errors) {
  if (errors.empty()) return "";
  std::string out = errors.front().ToString();
  if (errors.size() > 1) out += " (and " + std::to_string(errors.size() - 1) + " more problems)";
  return out;
}

// Checks shared by every discovered object: the cluster it claims, the namespace of the hub object, the
// syntax of every field, and (for Destinations and Workloads; a Mesh's whole name is checked) a name that ends
// in the reporting cluster's name, as the agent names them.
template <typename T>
std::string CheckObject(const std::string& cluster, const std::string& hub_namespace, const T& o, const char* kind,
                        std::vector<api::FieldError> (*validate)(const T&)) {
  if (o.spec().cluster() != cluster) {
    return What(kind, o.metadata()) + " claims cluster " + api::QuoteValue(o.spec().cluster()) +
           " but this connection is cluster \"" + cluster + "\"";
  }
  if (std::string problem = FirstProblem(validate(o)); !problem.empty()) return problem;
  const std::string& ns = o.metadata().namespace_();
  if (!ns.empty() && ns != hub_namespace) {
    return What(kind, o.metadata()) + ": metadata.namespace \"" + ns + "\" is not the hub namespace \"" +
           hub_namespace + "\"";
  }
  const std::string suffix = "-" + cluster;
  const std::string& name = o.metadata().name();
  if (std::is_same_v<T, api::v1::Mesh>) return "";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return What(kind, o.metadata()) + ": metadata.name must end in \"" + suffix +
           "\", the name of the reporting cluster";
  }
  return "";
}

// A Destination's or Workload's mesh must be one of the reporting cluster's own meshes.
template <typename T>
std::string CheckMeshOfObject(const std::set<std::string>& own_meshes, const std::string& hub_namespace,
                              const std::string& cluster, const T& o, const char* kind) {
  const auto& ref = o.spec().mesh();
  if (!ref.namespace_().empty() && ref.namespace_() != hub_namespace) {
    return What(kind, o.metadata()) + ": spec.mesh.namespace \"" + ref.namespace_() + "\" is not the hub namespace \"" +
           hub_namespace + "\"";
  }
  if (!own_meshes.count(ref.name())) {
    return What(kind, o.metadata()) + ": spec.mesh \"" + ref.name() + "\" is not a mesh of cluster \"" + cluster +
           "\" (a Destination or Workload must belong to a mesh its own cluster reported)";
  }
  return "";
}

Authorization AuthorizeDiscovery(const std::string& cluster, const link::v1::DiscoveryReport& r,
                                 const AuthorizationContext& context) {
  // Caps first: nothing of an oversized report is looked at, let alone applied.
  if (context.counts_after.meshes > context.max_meshes) {
    return Nack("discovery report refused: cluster \"" + cluster + "\" would hold " +
                std::to_string(context.counts_after.meshes) + " meshes, over the hub's cap of " +
                std::to_string(context.max_meshes) + " per cluster");
  }
  if (context.counts_after.objects > context.max_objects) {
    return Nack("discovery report refused: cluster \"" + cluster + "\" would hold " +
                std::to_string(context.counts_after.objects) + " destinations and workloads, over the hub's cap of " +
                std::to_string(context.max_objects) + " per cluster");
  }
  Authorization accepted;
  std::set<std::string> own_meshes;
  for (const auto& [mesh, owner] : context.mesh_owner) {
    if (owner == cluster) own_meshes.insert(mesh);
  }
  for (const auto& m : r.meshes()) {
    if (std::string problem = CheckObject(cluster, context.hub_namespace, m, "Mesh", api::ValidateDiscoveredMesh);
        !problem.empty()) {
      return Nack(std::move(problem));
    }
    const std::string& name = m.metadata().name();
    const std::string expected =
        api::DiscoveredMeshName(cluster, m.spec().installation_namespace(), m.spec().revision());
    if (name != expected) {
      return Nack(
          "Mesh " + name + ": metadata.name must be \"" + expected +
          "\" (istiod-[<revision>-]<installationNamespace>-<cluster>, SPEC §3.3) for an istiod in namespace \"" +
          m.spec().installation_namespace() + "\" of cluster \"" + cluster + "\"");
    }
    const auto& spec = m.spec();
    for (const auto* gateways : {&spec.east_west_gateways(), &spec.ingress_gateways()}) {
      for (const auto& gw : *gateways) {
        if (!gw.service().cluster_name().empty() && gw.service().cluster_name() != cluster) {
          return Nack("Mesh " + name + ": gateway " + gw.service().namespace_() + "/" + gw.service().name() +
                      " claims cluster \"" + gw.service().cluster_name() + "\" but this connection is cluster \"" +
                      cluster + "\"");
        }
      }
    }
    auto owner = context.mesh_owner.find(name);
    if (owner != context.mesh_owner.end() && owner->second != cluster) {
      return Nack("Mesh " + name + " is bound to cluster \"" + owner->second +
                  "\", which reported it first; this connection is cluster \"" + cluster + "\"");
    }
    if (owner == context.mesh_owner.end() && own_meshes.insert(name).second) accepted.meshes_to_bind.push_back(name);
  }
  for (const auto& d : r.destinations()) {
    std::string problem =
        CheckObject(cluster, context.hub_namespace, d, "Destination", api::ValidateDiscoveredDestination);
    if (problem.empty()) problem = CheckMeshOfObject(own_meshes, context.hub_namespace, cluster, d, "Destination");
    if (!problem.empty()) return Nack(std::move(problem));
  }
  for (const auto& w : r.workloads()) {
    std::string problem = CheckObject(cluster, context.hub_namespace, w, "Workload", api::ValidateDiscoveredWorkload);
    if (problem.empty()) problem = CheckMeshOfObject(own_meshes, context.hub_namespace, cluster, w, "Workload");
    if (!problem.empty()) return Nack(std::move(problem));
  }
  for (const auto& name : r.removed_meshes()) {
    auto it = context.mesh_owner.find(name);
    if (it != context.mesh_owner.end() && it->second != cluster) {
      return Nack("cannot remove mesh " + name + " of cluster \"" + it->second + "\"");
    }
  }
  return accepted;
}

// CSRs and status reports name meshes bound to the connection's cluster only.
Authorization CheckBoundToCluster(const std::string& cluster, const std::string& mesh, const char* what,
                                  const AuthorizationContext& context) {
  auto it = context.mesh_owner.find(mesh);
  if (it == context.mesh_owner.end()) {
    return Nack(std::string(what) + " for unknown mesh " + api::QuoteValue(mesh) + " refused: cluster \"" + cluster +
                "\" has not reported it");
  }
  if (it->second != cluster) {
    return Nack(std::string(what) + " for mesh " + mesh + " of cluster \"" + it->second +
                "\" refused: this connection is cluster \"" + cluster + "\"");
  }
  return {};
}

}  // namespace

Authorization AuthorizeEnvelope(const std::string& cluster, const link::v1::Envelope& envelope,
                                const AuthorizationContext& context) {
  using E = link::v1::Envelope;
  switch (envelope.message_case()) {
    case E::kHello:
      if (envelope.hello().cluster_name() != cluster) {
        return {Verdict::kClose,
                "hello for cluster " + api::QuoteValue(envelope.hello().cluster_name()) +
                    " on a connection authenticated as cluster \"" + cluster + "\"",
                {}};
      }
      return {};
    case E::kAck:
    case E::kIdentityRenewalRequest:
      return {};
    case E::kDiscoveryReport:
      return AuthorizeDiscovery(cluster, envelope.discovery_report(), context);
    case E::kCertificateSigningRequest:
      return CheckBoundToCluster(cluster, envelope.certificate_signing_request().mesh(), "CSR", context);
    case E::kStatusReport:
      for (const auto& m : envelope.status_report().meshes()) {
        if (auto a = CheckBoundToCluster(cluster, m.mesh(), "status", context); a.verdict != Verdict::kAccept) {
          return a;
        }
      }
      return {};
    case E::kProtocolNack:
      return {};
    case E::kWelcome:
    case E::kResourceUpdate:
    case E::kIssuedCertificate:
    case E::kIdentityRenewalResponse:
      return Nack("message type " + std::to_string(envelope.message_case()) + " is sent by the hub, not to it");
    case E::MESSAGE_NOT_SET:
      return Nack("unknown message type (a newer agent?): ignored");
  }
  return Nack("unknown message type");
}

}  // namespace vmesh::hub
