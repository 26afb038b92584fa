// What vmeshctl prints (-o table): `cluster list`, `get ...`, `describe virtualmesh`, `preview` (SPEC §2).
// Pure formatting of API objects; times are shown relative to `now` ("5m ago") and absolute (RFC 3339).
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "vmesh/api/v1/access_policy.pb.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/secret.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::cli {

using TimePoint = std::chrono::system_clock::time_point;

// Columns padded to their widest cell, two spaces apart; no trailing spaces.
std::string FormatTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// "45s", "5m", "3h", "12d".
std::string Age(TimePoint then, TimePoint now);

std::string ClusterTable(const std::vector<api::v1::Cluster>& clusters, TimePoint now);
std::string VirtualMeshTable(const std::vector<api::v1::VirtualMesh>& vms, TimePoint now);
// The "Root rotation:" section of describe (phase, progress, roots, abort, meshes waited for); "" without a rotation.
std::string DescribeRootRotation(const api::v1::VirtualMesh& vm);
std::string DescribeVirtualMesh(const api::v1::VirtualMesh& vm, TimePoint now);

std::string AccessPolicyTable(const std::vector<api::v1::AccessPolicy>& policies, TimePoint now);
std::string MeshTable(const std::vector<api::v1::Mesh>& meshes, TimePoint now);
std::string DestinationTable(const std::vector<api::v1::Destination>& destinations, TimePoint now);
std::string WorkloadTable(const std::vector<api::v1::Workload>& workloads, TimePoint now);
// NAMESPACE, NAME, TYPE, KEYS (the data keys, never values), AGE.
std::string SecretTable(const std::vector<api::v1::Secret>& secrets, TimePoint now);

// An issued intermediate CA certificate as GET /v1/objects/certificates lists it.
struct IssuedCertificate {
  std::string serial;
  std::string virtual_mesh;
  std::string mesh;
  std::string cluster;
  std::string public_key_fingerprint;
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
  std::optional<TimePoint> issued_at;
};

// From the API's JSON ({"serial","virtualMesh","mesh","cluster","notBefore","notAfter","publicKeyFingerprint",
// "issuedAt"}; times RFC 3339). Fails when it is not an object with a serial and a mesh.
Result<IssuedCertificate> ParseIssuedCertificate(const boost::json::value& json);

// The latest certificate (by issuedAt, then notAfter) of every mesh, ordered by mesh name.
std::vector<IssuedCertificate> LatestPerMesh(const std::vector<IssuedCertificate>& certificates);

// Whether a certificate's virtualMesh field names the VirtualMesh `ns`/`name` ("ns/name", "name.ns" or "name").
bool BelongsTo(const IssuedCertificate& certificate, const std::string& ns, const std::string& name);

std::string CertificateTable(const std::vector<IssuedCertificate>& certificates, TimePoint now);

// What `describe virtualmesh` adds to the VirtualMesh's own status, from other API objects.
struct DescribeExtras {
  std::vector<IssuedCertificate> certificates;  // all; the VirtualMesh's are picked
  std::vector<api::v1::Cluster> clusters;
  std::vector<api::v1::Mesh> meshes;  // to find the cluster of each member mesh
  std::vector<std::string> notes;     // e.g. data that could not be fetched
};

// DescribeVirtualMesh plus "Certificates:" (latest issued per member mesh) and "Agents:" (the clusters of the
// member meshes: state, last heartbeat, agent version).
std::string DescribeVirtualMesh(const api::v1::VirtualMesh& vm, TimePoint now, const DescribeExtras& extras);

// `preview` output for the POST /v1/preview response: a comment header with the status the VirtualMesh would
// get, then for every cluster (by name) a "# cluster: NAME" comment followed by one YAML document per object
// (certificate directives as documents too, each preceded by a "# certificate directive" comment).
Result<std::string> PreviewYaml(const boost::json::value& response);

}  // namespace vmesh::cli
