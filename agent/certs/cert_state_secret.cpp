#include "agent/certs/cert_state_secret.h"

#include <boost/json.hpp>
#include <charconv>

#include "agent/certs/cacerts.h"
#include "common/base/base64.h"

namespace vmesh::agent {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

std::string Seconds(Clock::time_point t) {
  if (t == Clock::time_point{}) return "";
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

Result<Clock::time_point> ParseSeconds(const std::string& key, const std::string& text) {
  if (text.empty()) return Clock::time_point{};
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return MakeError("data." + key + " is not a number of seconds: \"" + text + "\"");
  }
  return Clock::time_point(std::chrono::seconds(v));
}

}  // namespace

json::object CertStateToSecret(const MeshCertState& s, const std::string& mesh, const std::string& state_namespace) {
  json::object data;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) data[key] = Base64Encode(value);
  };
  put("pending-key.pem", s.pending_key_pem);
  put("pending-generation", s.pending_generation);
  put("pending-request-id", s.pending_request_id);
  put("installed-generation", s.installed_generation);
  put("installed-serial", s.installed_serial);
  put("installed-not-after", Seconds(s.installed_not_after));
  put("renew-at", Seconds(s.renew_at));
  put("restart-serial", s.restart_serial);
  put("restart-istiod-only", s.restart_istiod_only ? "true" : "");
  put("restart-requested", s.restart_requested ? "true" : "");
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", CertStateSecretName(mesh)},
        {"namespace", state_namespace},
        {"labels", {{kManagedByLabel, kManagedByValue}}},
        {"annotations", {{"vmesh.dev/mesh", mesh}}}}},
      {"type", "Opaque"},
      {"data", std::move(data)},
  };
}

Result<MeshCertState> CertStateFromSecret(const json::value& secret) {
  std::map<std::string, std::string> values;
  if (const json::object* o = secret.if_object()) {
    auto it = o->find("data");
    if (it != o->end() && it->value().is_object()) {
      for (const auto& [k, v] : it->value().get_object()) {
        if (!v.is_string()) continue;
        auto decoded = Base64Decode(v.get_string());
        if (!decoded) return MakeError("data." + std::string(k) + " is not base64");
        values[std::string(k)] = std::move(*decoded);
      }
    }
  }
  MeshCertState s;
  s.pending_key_pem = values["pending-key.pem"];
  s.pending_generation = values["pending-generation"];
  s.pending_request_id = values["pending-request-id"];
  s.installed_generation = values["installed-generation"];
  s.installed_serial = values["installed-serial"];
  s.restart_serial = values["restart-serial"];
  s.restart_istiod_only = values["restart-istiod-only"] == "true";
  s.restart_requested = values["restart-requested"] == "true";
  auto not_after = ParseSeconds("installed-not-after", values["installed-not-after"]);
  if (!not_after.ok()) return not_after.error();
  s.installed_not_after = *not_after;
  auto renew = ParseSeconds("renew-at", values["renew-at"]);
  if (!renew.ok()) return renew.error();
  s.renew_at = *renew;
  return s;
}

}  // namespace vmesh::agent
