#include "hub/cli/printers.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "common/api/manifest.h"

namespace vmesh::cli {
namespace {

using google::protobuf::util::TimeUtil;

TimePoint ToTime(const google::protobuf::Timestamp& ts) { return TimePoint(std::chrono::seconds(ts.seconds())); }

std::string When(const google::protobuf::Timestamp& ts, TimePoint now, bool set) {
  if (!set) return "-";
  return Age(ToTime(ts), now) + " ago";
}

std::string StateName(api::v1::ApprovalState s) { return api::v1::ApprovalState_Name(s); }

}  // namespace

std::string FormatTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      out += cell;
      if (i + 1 < widths.size()) out += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string Age(TimePoint then, TimePoint now) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 48 * 3600) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string ClusterTable(const std::vector<api::v1::Cluster>& clusters, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : clusters) {
    const auto& st = c.status();
    std::string state = api::v1::ClusterState_Name(st.state());
    rows.push_back({c.metadata().name(), state, st.agent_version().empty() ? "-" : st.agent_version(),
                    st.has_connected_since() ? Age(ToTime(st.connected_since()), now) : "-",
                    When(st.last_heartbeat(), now, st.has_last_heartbeat()),
                    st.has_identity_not_after() ? TimeUtil::ToString(st.identity_not_after()) : "-"});
  }
  return FormatTable({"NAME", "STATE", "AGENT", "CONNECTED FOR", "LAST HEARTBEAT", "IDENTITY EXPIRES"}, rows);
}

std::string VirtualMeshTable(const std::vector<api::v1::VirtualMesh>& vms, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& vm : vms) {
    int accepted = 0;
    for (const auto& [key, s] : vm.status().meshes()) accepted += s.state() == api::v1::ACCEPTED;
    std::string gen =
        std::to_string(vm.status().observed_generation()) + "/" + std::to_string(vm.metadata().generation());
    google::protobuf::Timestamp created;
    const bool has_created = TimeUtil::FromString(vm.metadata().creation_timestamp(), &created);
    rows.push_back({vm.metadata().namespace_(), vm.metadata().name(), StateName(vm.status().state()),
                    std::to_string(accepted) + "/" + std::to_string(vm.spec().meshes_size()), gen,
                    has_created ? Age(ToTime(created), now) : "-"});
  }
  return FormatTable({"NAMESPACE", "NAME", "STATE", "MESHES READY", "OBSERVED/GENERATION", "AGE"}, rows);
}

std::string DescribeVirtualMesh(const api::v1::VirtualMesh& vm, TimePoint now) {
  std::string out;
  out += "Name:         " + vm.metadata().name() + "\n";
  out += "Namespace:    " + vm.metadata().namespace_() + "\n";
  out += "Generation:   " + std::to_string(vm.metadata().generation()) + " (status describes " +
         std::to_string(vm.status().observed_generation()) + ")\n";
  out += "State:        " + StateName(vm.status().state()) + "\n";
  for (const auto& e : vm.status().errors()) out += "  Error:      " + e + "\n";
  out += "Spec:\n";
  api::v1::VirtualMesh spec_only;
  *spec_only.mutable_spec() = vm.spec();
  std::string spec_yaml = api::Encode(spec_only, api::Format::kYaml);
  size_t pos = 0;
  while (pos < spec_yaml.size()) {
    size_t eol = spec_yaml.find('\n', pos);
    if (eol == std::string::npos) eol = spec_yaml.size();
    out += "  " + spec_yaml.substr(pos, eol - pos) + "\n";
    pos = eol + 1;
  }
  out += "Meshes:\n";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> keys;
  for (const auto& [key, s] : vm.status().meshes()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    const auto& s = vm.status().meshes().at(key);
    const auto& cert = s.certificate();
    rows.push_back({key, StateName(s.state()), cert.serial().empty() ? "-" : cert.serial().substr(0, 16),
                    cert.has_not_after() ? TimeUtil::ToString(cert.not_after()) : "-",
                    std::to_string(s.federated_destinations()), std::to_string(s.applied_outputs()),
                    s.agent_connected() ? "yes" : "no", When(s.last_report_time(), now, s.has_last_report_time())});
  }
  std::string table =
      FormatTable({"MESH", "STATE", "CERTIFICATE", "EXPIRES", "FEDERATED IN", "OUTPUTS", "AGENT", "LAST REPORT"}, rows);
  pos = 0;
  while (pos < table.size()) {
    size_t eol = table.find('\n', pos);
    out += "  " + table.substr(pos, eol - pos) + "\n";
    pos = eol + 1;
  }
  for (const auto& key : keys) {
    const auto& s = vm.status().meshes().at(key);
    for (const auto& e : s.errors()) out += "  " + key + ": " + e + "\n";
    if (s.pending_restarts_size() > 0) {
      out += "  " + key + ": needs a restart to trust the new root (vmeshctl mesh restart " +
             key.substr(0, key.find('.')) + "):";
      for (const auto& w : s.pending_restarts()) out += " " + w;
      out += "\n";
    }
  }
  return out;
}

}  // namespace vmesh::cli
