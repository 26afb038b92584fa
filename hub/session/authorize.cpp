#include "hub/session/authorize.h"

namespace vmesh::hub {
namespace {

Authorization Nack(std::string reason) { return {Verdict::kNack, std::move(reason)}; }

// Agents report discovery objects of their own cluster only.
template <typename List>
Authorization CheckClusterOfEach(const std::string& cluster, const List& objects, const char* what) {
  for (const auto& o : objects) {
    if (o.spec().cluster() != cluster) {
      return Nack(std::string(what) + " " + o.metadata().name() + " claims cluster \"" + o.spec().cluster() +
                  "\" but this connection is cluster \"" + cluster + "\"");
    }
  }
  return {};
}

}  // namespace

Authorization AuthorizeEnvelope(const std::string& cluster, const link::v1::Envelope& envelope,
                                const std::map<std::string, std::string>& mesh_owner) {
  using E = link::v1::Envelope;
  switch (envelope.message_case()) {
    case E::kHello:
      if (envelope.hello().cluster_name() != cluster) {
        return {Verdict::kClose, "hello for cluster \"" + envelope.hello().cluster_name() +
                                     "\" on a connection authenticated as cluster \"" + cluster + "\""};
      }
      return {};
    case E::kAck:
    case E::kIdentityRenewalRequest:
      return {};
    case E::kDiscoveryReport: {
      const auto& r = envelope.discovery_report();
      if (auto a = CheckClusterOfEach(cluster, r.meshes(), "Mesh"); a.verdict != Verdict::kAccept) return a;
      if (auto a = CheckClusterOfEach(cluster, r.destinations(), "Destination"); a.verdict != Verdict::kAccept)
        return a;
      if (auto a = CheckClusterOfEach(cluster, r.workloads(), "Workload"); a.verdict != Verdict::kAccept) return a;
      for (const auto& m : r.meshes()) {
        auto it = mesh_owner.find(m.metadata().name());
        if (it != mesh_owner.end() && it->second != cluster) {
          return Nack("Mesh " + m.metadata().name() + " is already reported by cluster \"" + it->second +
                      "\"; this connection is cluster \"" + cluster + "\"");
        }
      }
      for (const auto& name : r.removed_meshes()) {
        auto it = mesh_owner.find(name);
        if (it != mesh_owner.end() && it->second != cluster) {
          return Nack("cannot remove mesh " + name + " of cluster \"" + it->second + "\"");
        }
      }
      return {};
    }
    case E::kCertificateSigningRequest: {
      const std::string& mesh = envelope.certificate_signing_request().mesh();
      auto it = mesh_owner.find(mesh);
      if (it == mesh_owner.end()) return Nack("CSR for unknown mesh " + mesh);
      if (it->second != cluster) {
        return Nack("CSR for mesh " + mesh + " of cluster \"" + it->second +
                    "\" refused: this connection is cluster \"" + cluster + "\"");
      }
      return {};
    }
    case E::kStatusReport:
      for (const auto& m : envelope.status_report().meshes()) {
        auto it = mesh_owner.find(m.mesh());
        if (it != mesh_owner.end() && it->second != cluster) {
          return Nack("status for mesh " + m.mesh() + " of cluster \"" + it->second + "\" refused");
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
