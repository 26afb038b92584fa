// What vmeshctl prints (-o table): `cluster list`, `get virtualmeshes`, `describe virtualmesh` (SPEC §2).
// Pure formatting of API objects; times are shown relative to `now` ("5m ago") and absolute (RFC 3339).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::cli {

using TimePoint = std::chrono::system_clock::time_point;

// Columns padded to their widest cell, two spaces apart; no trailing spaces.
std::string FormatTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// "45s", "5m", "3h", "12d".
std::string Age(TimePoint then, TimePoint now);

std::string ClusterTable(const std::vector<api::v1::Cluster>& clusters, TimePoint now);
std::string VirtualMeshTable(const std::vector<api::v1::VirtualMesh>& vms, TimePoint now);
std::string DescribeVirtualMesh(const api::v1::VirtualMesh& vm, TimePoint now);

}  // namespace vmesh::cli
