#include "hub/cli/printers.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "common/api/manifest.h"
#include "common/base/time.h"

namespace vmesh::cli {
namespace {

using google::protobuf::util::TimeUtil;

TimePoint ToTime(const google::protobuf::Timestamp& ts) { return TimePoint(std::chrono::seconds(ts.seconds())); }

std::string When(const google::protobuf::Timestamp& ts, TimePoint now, bool set) {
  if (!set) return "-";
  return Age(ToTime(ts), now) + " ago";
}

std::string StateName(api::v1::ApprovalState s) { return api::v1::ApprovalState_Name(s); }

// An RFC 3339 text to whole seconds (as ages are shown), or nullopt.
std::optional<TimePoint> ParseSeconds(std::string_view text) {
  auto t = ParseRfc3339(text);
  if (!t.ok()) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(*t);
}

std::string Created(const api::v1::ObjectMeta& meta, TimePoint now) {
  auto created = ParseSeconds(meta.creation_timestamp());
  return created ? Age(*created, now) : "-";
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// "in 3d" / "2h ago".
std::string Until(TimePoint t, TimePoint now) { return t >= now ? "in " + Age(now, t) : Age(t, now) + " ago"; }

std::string Indent(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    out += prefix + text.substr(pos, eol - pos) + "\n";
    pos = eol + 1;
  }
  return out;
}

Result<std::optional<TimePoint>> OptionalTime(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<TimePoint>();
  if (v->is_string()) {
    auto t = ParseSeconds(v->get_string());
    if (!t) return MakeError(std::string(key) + ": \"" + std::string(v->get_string()) + "\" is not an RFC 3339 time");
    return std::optional<TimePoint>(*t);
  }
  if (v->is_int64()) return std::optional<TimePoint>(TimePoint(std::chrono::seconds(v->get_int64())));
  return MakeError(std::string(key) + ": expected an RFC 3339 time");
}

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
    rows.push_back({vm.metadata().namespace_(), vm.metadata().name(), StateName(vm.status().state()),
                    std::to_string(accepted) + "/" + std::to_string(vm.spec().meshes_size()), gen,
                    Created(vm.metadata(), now)});
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
  for (const auto& w : vm.status().warnings()) out += "  Warning:    " + w + "\n";
  out += "Spec:\n";
  out += Indent(api::Encode(vm.spec(), api::Format::kYaml), "  ");
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
  out += Indent(
      FormatTable({"MESH", "STATE", "CERTIFICATE", "EXPIRES", "FEDERATED IN", "OUTPUTS", "AGENT", "LAST REPORT"}, rows),
      "  ");
  // Limited trust: each mesh's gateway certificates (SPEC §8).
  std::vector<std::vector<std::string>> gateway_rows;
  for (const auto& key : keys) {
    for (const auto& g : vm.status().meshes().at(key).gateway_certificates()) {
      std::string secrets;
      for (const auto& secret : g.secrets()) secrets += (secrets.empty() ? "" : ",") + secret;
      gateway_rows.push_back({key, g.role(), api::v1::CertificatePhase_Name(g.phase()),
                              g.serial().empty() ? "-" : g.serial().substr(0, 16),
                              g.has_not_after() ? TimeUtil::ToString(g.not_after()) : "-", secrets});
    }
  }
  if (!gateway_rows.empty()) {
    out += "Gateway certificates:\n";
    out += Indent(FormatTable({"MESH", "GATEWAY", "PHASE", "SERIAL", "EXPIRES", "SECRETS"}, gateway_rows), "  ");
  }
  for (const auto& key : keys) {
    const auto& s = vm.status().meshes().at(key);
    for (const auto& e : s.errors()) out += "  " + key + ": " + e + "\n";
    if (s.pending_restarts_size() > 0 && vm.spec().mtls_config().auto_restart_pods()) {
      out += "  " + key + ": restarting onto the new root (istiod, then gateways, then workloads); still to restart:";
      for (const auto& w : s.pending_restarts()) out += " " + w;
      out += "\n";
    } else if (s.pending_restarts_size() > 0) {
      out += "  " + key + ": needs a restart to trust the new root (vmeshctl mesh restart " +
             key.substr(0, key.find('.')) + "):";
      for (const auto& w : s.pending_restarts()) out += " " + w;
      out += "\n";
    }
  }
  out += DescribeRootRotation(vm);
  return out;
}

std::string DescribeRootRotation(const api::v1::VirtualMesh& vm) {
  if (!vm.status().has_root_rotation()) return "";
  const auto& r = vm.status().root_rotation();
  std::string out = "Root rotation:\n";
  out += "  Phase:      " + api::v1::RootRotationPhase_Name(r.phase()) + " (" + r.progress() +
         " meshes acknowledged; since " + TimeUtil::ToString(r.phase_since()) + ")\n";
  out += "  Phases:     TRUST_BOTH -> ISSUE_NEW -> TRUST_NEW";
  if (r.phase() == api::v1::ROLLBACK_ISSUE_OLD || r.phase() == api::v1::ROLLBACK_TRUST_OLD) {
    out += " (aborted: rolling back through ROLLBACK_ISSUE_OLD -> ROLLBACK_TRUST_OLD)";
  }
  out += "\n";
  out += "  From root:  " + r.from_root_serial() + "\n";
  out += "  To root:    " + r.to_root_serial() + "\n";
  out += "  Started:    " + TimeUtil::ToString(r.started_at()) + " by " + r.reason() + "\n";
  out += std::string("  Abort:      ") +
         (r.abortable() ? "possible (vmeshctl rotate root " + vm.metadata().name() + " -n " +
                              vm.metadata().namespace_() + " --abort)"
                        : "not possible in this phase") +
         "\n";
  std::vector<std::string> keys;
  for (const auto& [key, s] : vm.status().meshes()) {
    if (s.has_root_rotation()) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    const auto& part = vm.status().meshes().at(key).root_rotation();
    out += "  Mesh " + key + ": " + api::v1::RootRotationPhase_Name(part.phase()) + " " +
           (part.acknowledged() ? "acknowledged" : "in progress") + "\n";
  }
  for (const auto& w : r.waiting_for()) out += "  Waiting for " + w + "\n";
  return out;
}

std::string AccessPolicyTable(const std::vector<api::v1::AccessPolicy>& policies, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : policies) {
    std::string gen =
        std::to_string(p.status().observed_generation()) + "/" + std::to_string(p.metadata().generation());
    rows.push_back({p.metadata().namespace_(), p.metadata().name(), StateName(p.status().state()),
                    std::to_string(p.status().workloads_size()), gen, Created(p.metadata(), now)});
  }
  return FormatTable({"NAMESPACE", "NAME", "STATE", "WORKLOADS", "OBSERVED/GENERATION", "AGE"}, rows);
}

std::string SecretTable(const std::vector<api::v1::Secret>& secrets, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : secrets) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : s.data()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    std::string joined;
    for (const auto& k : keys) joined += (joined.empty() ? "" : ",") + k;
    rows.push_back(
        {s.metadata().namespace_(), s.metadata().name(), OrDash(s.type()), OrDash(joined), Created(s.metadata(), now)});
  }
  return FormatTable({"NAMESPACE", "NAME", "TYPE", "KEYS", "AGE"}, rows);
}

std::string MeshTable(const std::vector<api::v1::Mesh>& meshes, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : meshes) {
    const auto& spec = m.spec();
    std::string gateways;
    for (const auto& g : spec.east_west_gateways()) {
      for (const auto& a : g.external_addresses()) {
        if (!gateways.empty()) gateways += ",";
        gateways += a + ":" + std::to_string(g.external_tls_port());
      }
    }
    rows.push_back({m.metadata().name(), OrDash(spec.cluster()), OrDash(spec.installation_namespace()),
                    OrDash(spec.istio_version()), OrDash(spec.trust_domain()),
                    spec.smart_dns_proxying_enabled() ? "yes" : "no", OrDash(gateways), Created(m.metadata(), now)});
  }
  return FormatTable(
      {"NAME", "CLUSTER", "NAMESPACE", "VERSION", "TRUST DOMAIN", "SMART DNS", "EAST-WEST GATEWAY", "AGE"}, rows);
}

std::string DestinationTable(const std::vector<api::v1::Destination>& destinations, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : destinations) {
    const auto& spec = d.spec();
    std::string ports;
    for (const auto& p : spec.ports()) {
      if (!ports.empty()) ports += ",";
      ports += std::to_string(p.port()) + "/" + (p.protocol().empty() ? "TCP" : p.protocol());
    }
    int ready = 0;
    for (const auto& e : spec.endpoints()) ready += e.ready();
    rows.push_back({d.metadata().name(), OrDash(spec.cluster()), OrDash(spec.namespace_()), OrDash(spec.name()),
                    OrDash(ports), std::to_string(ready) + "/" + std::to_string(spec.endpoints_size()),
                    OrDash(spec.mesh().name()), Created(d.metadata(), now)});
  }
  return FormatTable({"NAME", "CLUSTER", "NAMESPACE", "SERVICE", "PORTS", "READY", "MESH", "AGE"}, rows);
}

std::string WorkloadTable(const std::vector<api::v1::Workload>& workloads, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : workloads) {
    const auto& spec = w.spec();
    std::string controller =
        spec.controller().kind().empty() ? "-" : spec.controller().kind() + "/" + spec.controller().name();
    rows.push_back({w.metadata().name(), OrDash(spec.cluster()), OrDash(spec.namespace_()), controller,
                    OrDash(spec.service_account()), OrDash(spec.mesh().name()), Created(w.metadata(), now)});
  }
  return FormatTable({"NAME", "CLUSTER", "NAMESPACE", "CONTROLLER", "SERVICE ACCOUNT", "MESH", "AGE"}, rows);
}

Result<IssuedCertificate> ParseIssuedCertificate(const boost::json::value& json) {
  if (!json.is_object()) return MakeError("a certificate must be a JSON object");
  const boost::json::object& o = json.get_object();
  auto str = [&](const char* key) -> std::string {
    const boost::json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  IssuedCertificate c;
  c.serial = str("serial");
  c.virtual_mesh = str("virtualMesh");
  c.mesh = str("mesh");
  c.cluster = str("cluster");
  c.public_key_fingerprint = str("publicKeyFingerprint");
  if (c.serial.empty() || c.mesh.empty()) return MakeError("a certificate needs \"serial\" and \"mesh\"");
  for (auto [key, field] : {std::pair{"notBefore", &c.not_before}, std::pair{"notAfter", &c.not_after},
                            std::pair{"issuedAt", &c.issued_at}}) {
    auto t = OptionalTime(o, key);
    if (!t.ok()) return t.error().Wrap("certificate " + c.serial);
    *field = *t;
  }
  return c;
}

std::vector<IssuedCertificate> LatestPerMesh(const std::vector<IssuedCertificate>& certificates) {
  auto key = [](const IssuedCertificate& c) {
    return std::make_pair(c.issued_at.value_or(TimePoint::min()), c.not_after.value_or(TimePoint::min()));
  };
  std::map<std::string, IssuedCertificate> latest;
  for (const auto& c : certificates) {
    auto it = latest.find(c.mesh);
    if (it == latest.end() || key(it->second) < key(c)) latest.insert_or_assign(c.mesh, c);
  }
  std::vector<IssuedCertificate> out;
  for (auto& [mesh, c] : latest) out.push_back(std::move(c));
  return out;
}

bool BelongsTo(const IssuedCertificate& certificate, const std::string& ns, const std::string& name) {
  const std::string& v = certificate.virtual_mesh;
  return v == ns + "/" + name || v == name + "." + ns || v == name;
}

std::string CertificateTable(const std::vector<IssuedCertificate>& certificates, TimePoint now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : certificates) {
    rows.push_back({c.serial.substr(0, 16), OrDash(c.virtual_mesh), c.mesh, OrDash(c.cluster),
                    c.not_after ? FormatRfc3339(*c.not_after) : "-", c.not_after ? Until(*c.not_after, now) : "-",
                    c.issued_at ? Age(*c.issued_at, now) + " ago" : "-"});
  }
  return FormatTable({"SERIAL", "VIRTUALMESH", "MESH", "CLUSTER", "NOT AFTER", "EXPIRES", "ISSUED"}, rows);
}

std::string DescribeVirtualMesh(const api::v1::VirtualMesh& vm, TimePoint now, const DescribeExtras& extras) {
  std::string out = DescribeVirtualMesh(vm, now);
  const std::string& ns = vm.metadata().namespace_();
  std::vector<IssuedCertificate> mine;
  for (const auto& c : extras.certificates) {
    if (BelongsTo(c, ns, vm.metadata().name())) mine.push_back(c);
  }
  out += "Certificates (latest issued per mesh):\n";
  std::vector<IssuedCertificate> latest = LatestPerMesh(mine);
  if (latest.empty()) {
    out += "  none issued\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : latest) {
      rows.push_back({c.mesh, OrDash(c.cluster), c.serial, c.not_after ? FormatRfc3339(*c.not_after) : "-",
                      c.not_after ? Until(*c.not_after, now) : "-",
                      c.issued_at ? Age(*c.issued_at, now) + " ago" : "-"});
    }
    out += Indent(FormatTable({"MESH", "CLUSTER", "SERIAL", "NOT AFTER", "EXPIRES", "ISSUED"}, rows), "  ");
  }

  // The clusters of the member meshes: from the discovered Mesh objects, else from the certificates.
  std::vector<std::string> clusters;
  for (const auto& ref : vm.spec().meshes()) {
    std::string cluster;
    for (const auto& m : extras.meshes) {
      if (m.metadata().name() == ref.name()) cluster = m.spec().cluster();
    }
    for (const auto& c : mine) {
      if (cluster.empty() && c.mesh == ref.name()) cluster = c.cluster;
    }
    if (!cluster.empty() && std::find(clusters.begin(), clusters.end(), cluster) == clusters.end()) {
      clusters.push_back(cluster);
    }
  }
  std::sort(clusters.begin(), clusters.end());
  out += "Agents:\n";
  if (clusters.empty()) {
    out += "  no member mesh has been discovered yet\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& name : clusters) {
      auto it = std::find_if(extras.clusters.begin(), extras.clusters.end(),
                             [&](const api::v1::Cluster& c) { return c.metadata().name() == name; });
      if (it == extras.clusters.end()) {
        rows.push_back({name, "NOT REGISTERED", "-", "-"});
        continue;
      }
      const auto& st = it->status();
      rows.push_back({name, api::v1::ClusterState_Name(st.state()),
                      When(st.last_heartbeat(), now, st.has_last_heartbeat()), OrDash(st.agent_version())});
    }
    out += Indent(FormatTable({"CLUSTER", "STATE", "LAST REPORT", "AGENT"}, rows), "  ");
  }
  for (const auto& note : extras.notes) out += "Note: " + note + "\n";
  return out;
}

Result<std::string> PreviewYaml(const boost::json::value& response) {
  if (!response.is_object()) return MakeError("the preview response is not a JSON object");
  const boost::json::object& o = response.get_object();
  std::string out;
  if (const boost::json::value* status = o.if_contains("status"); status != nullptr && status->is_object()) {
    const boost::json::object& st = status->get_object();
    const boost::json::value* state = st.if_contains("state");
    out += "# state: " + (state != nullptr && state->is_string() ? std::string(state->get_string()) : "PENDING") + "\n";
    if (const boost::json::value* errors = st.if_contains("errors"); errors != nullptr && errors->is_array()) {
      for (const auto& e : errors->get_array()) {
        if (e.is_string()) out += "# error: " + std::string(e.get_string()) + "\n";
      }
    }
    if (const boost::json::value* meshes = st.if_contains("meshes"); meshes != nullptr && meshes->is_object()) {
      std::map<std::string, const boost::json::object*> sorted;
      for (const auto& [key, m] : meshes->get_object()) {
        if (m.is_object()) sorted[std::string(key)] = &m.get_object();
      }
      for (const auto& [key, m] : sorted) {
        const boost::json::value* state = m->if_contains("state");
        out += "# mesh " + key + ": " +
               (state != nullptr && state->is_string() ? std::string(state->get_string()) : "PENDING") + "\n";
        if (const boost::json::value* errors = m->if_contains("errors"); errors != nullptr && errors->is_array()) {
          for (const auto& e : errors->get_array()) {
            if (e.is_string()) out += "#   " + std::string(e.get_string()) + "\n";
          }
        }
      }
    }
  }
  const boost::json::value* clusters = o.if_contains("clusters");
  if (clusters == nullptr || !clusters->is_object() || clusters->get_object().empty()) {
    return out + "# no cluster would receive anything\n";
  }
  std::map<std::string, const boost::json::value*> sorted;
  for (const auto& [name, items] : clusters->get_object()) sorted[std::string(name)] = &items;
  for (const auto& [cluster, items] : sorted) {
    out += "# cluster: " + cluster + "\n";
    if (!items->is_array()) return MakeError("preview: the outputs of cluster " + cluster + " are not a list");
    if (items->get_array().empty()) out += "# (nothing)\n";
    for (const auto& item : items->get_array()) {
      if (!item.is_object()) return MakeError("preview: an output of cluster " + cluster + " is not an object");
      const boost::json::object& io = item.get_object();
      const boost::json::value* name = io.if_contains("name");
      std::string item_name = name != nullptr && name->is_string() ? std::string(name->get_string()) : "";
      out += "---\n";
      if (const boost::json::value* obj = io.if_contains("object"); obj != nullptr) {
        out += api::JsonToYaml(*obj);
      } else if (const boost::json::value* cert = io.if_contains("certificate"); cert != nullptr) {
        out += "# certificate directive " + item_name + " (the agent generates the key and sends a CSR)\n";
        out += api::JsonToYaml(*cert);
      } else {
        return MakeError("preview: output " + item_name + " of cluster " + cluster +
                         " has neither \"object\" nor \"certificate\"");
      }
    }
  }
  return out;
}

}  // namespace vmesh::cli
