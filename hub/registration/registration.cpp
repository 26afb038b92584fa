#include "hub/registration/registration.h"

#include "common/api/dns.h"
#include "common/base/base64.h"
#include "common/base/random.h"
#include "common/base/resource_names.h"
#include "common/base/time.h"
#include "common/pki/csr.h"
#include "common/pki/openssl_util.h"

namespace vmesh::hub {
namespace {

constexpr std::string_view kTokenPrefix = "vmbt_";

Result<std::string> NewToken() {
  auto bytes = RandomBytes(32);
  if (!bytes.ok()) return bytes.error().Wrap("cannot generate a bootstrap token");
  return std::string(kTokenPrefix) + Base64Encode(*bytes, Base64Alphabet::kUrl);
}

}  // namespace

Result<std::string> ClusterFromSpiffeId(const std::string& hub_name, const std::string& uri) {
  std::optional<std::string> cluster = ClusterOfAgentSpiffeId(hub_name, uri);
  if (!cluster) {
    return MakeError("identity " + uri + " is not an agent identity of hub " + hub_name, ErrorCode::kPermissionDenied);
  }
  if (!api::IsDns1123Label(*cluster)) {
    return MakeError("identity " + uri + " names no valid cluster", ErrorCode::kPermissionDenied);
  }
  return *cluster;
}

std::string HashToken(const std::string& token) {
  auto hash = pki::Sha256Hex(token);
  return hash.ok() ? *hash : std::string();
}

RegistrationService::RegistrationService(Store& store, pki::CaSigner link_ca, RegistrationOptions options, Clock clock)
    : store_(store), link_ca_(std::move(link_ca)), options_(std::move(options)), clock_(std::move(clock)) {}

Result<config::v1::BootstrapBundle> RegistrationService::Register(const std::string& cluster,
                                                                  std::chrono::seconds ttl) {
  if (auto problem = api::Dns1123LabelProblem(cluster)) {
    return MakeError("cluster name " + api::QuoteValue(cluster) + " " + *problem +
                         " (cluster names are DNS labels: lowercase letters, digits and '-', at most 63)",
                     ErrorCode::kInvalidArgument);
  }
  if (ttl <= std::chrono::seconds(0) || ttl > options_.max_token_ttl) {
    return MakeError(
        "--ttl must be positive and at most " +
            std::to_string(std::chrono::duration_cast<std::chrono::hours>(options_.max_token_ttl).count()) + "h",
        ErrorCode::kInvalidArgument);
  }
  auto token = NewToken();
  if (!token.ok()) return token.error();
  const TimePoint now = clock_();
  const TimePoint expires = now + ttl;
  // The store refuses a cluster that is registered and bootstrapped already.
  if (Status s = store_.RegisterCluster(cluster, HashToken(*token), expires, now); !s.ok()) {
    return s.error().WithDefaultCode(ErrorCode::kConflict);
  }
  config::v1::BootstrapBundle bundle;
  bundle.set_api_version("vmesh.dev/v1");
  bundle.set_kind("BootstrapBundle");
  bundle.set_cluster(cluster);
  bundle.set_hub_url(options_.agent_url);
  bundle.set_hub_ca(link_ca_.certificate().ToPem());
  bundle.set_token(*token);
  bundle.set_expires_at(FormatRfc3339(expires));
  return bundle;
}

Result<pki::Certificate> RegistrationService::IssueIdentity(const std::string& cluster, const std::string& csr_pem) {
  auto csr = pki::Csr::FromPem(csr_pem);
  if (!csr.ok()) return csr.error().Wrap("identity CSR").WithCode(ErrorCode::kInvalidArgument);
  pki::LeafProfile profile;
  profile.subject.organization = "vmesh";
  profile.subject.common_name = "vmesh agent " + cluster;
  profile.uri_sans = {AgentSpiffeId(options_.hub_name, cluster)};
  profile.client_auth = true;
  profile.ttl = options_.identity_ttl;
  if (signing_guard_) {
    if (Status s = signing_guard_(); !s.ok()) {
      return MakeError("refusing to sign the identity of cluster " + cluster + ": " + s.error().message,
                       ErrorCode::kUnavailable);
    }
  }
  auto cert = pki::IssueLeaf(link_ca_, *csr, profile, clock_());
  if (!cert.ok()) return cert.error().Wrap("identity CSR").WithCode(ErrorCode::kInvalidArgument);
  return cert;
}

Result<link::v1::BootstrapResponse> RegistrationService::Bootstrap(const link::v1::BootstrapRequest& request) {
  const TimePoint now = clock_();
  const std::string hash = HashToken(request.token());
  // Check the token before doing any signing work for the caller.
  if (Status s = store_.CheckBootstrapToken(request.cluster_name(), hash, now); !s.ok()) {
    return s.error().WithDefaultCode(ErrorCode::kPermissionDenied);
  }
  auto cert = IssueIdentity(request.cluster_name(), request.csr_pem());
  if (!cert.ok()) return cert.error();
  auto key = cert->public_key();
  IssuedIdentity identity{cert->serial_hex(), request.cluster_name(), cert->not_before(), cert->not_after(),
                          key.ok() ? key->Fingerprint() : std::string()};
  if (Status s = store_.CompleteBootstrap(request.cluster_name(), hash, identity, now); !s.ok()) {
    return s.error().WithDefaultCode(ErrorCode::kPermissionDenied);
  }
  link::v1::BootstrapResponse response;
  response.set_certificate_pem(cert->ToPem());
  response.set_ca_pem(link_ca_.certificate().ToPem());
  response.set_hub_name(options_.hub_name);
  return response;
}

Result<std::string> RegistrationService::RenewIdentity(const std::string& cluster, const std::string& csr_pem) {
  auto cert = IssueIdentity(cluster, csr_pem);
  if (!cert.ok()) return cert.error();
  auto key = cert->public_key();
  IssuedIdentity identity{cert->serial_hex(), cluster, cert->not_before(), cert->not_after(),
                          key.ok() ? key->Fingerprint() : std::string()};
  if (Status s = store_.RecordIdentity(identity); !s.ok()) return s.error();
  return cert->ToPem();
}

Status RegistrationService::CheckPeer(const std::string& cluster, const std::string& serial_hex) {
  return store_.CheckIdentity(cluster, serial_hex);
}

Result<int> RegistrationService::ConfirmIdentity(const std::string& cluster, const std::string& serial_hex) {
  return store_.RevokeIdentitiesBefore(cluster, serial_hex, clock_());
}

Status RegistrationService::Deregister(const std::string& cluster) {
  return store_.DeregisterCluster(cluster, clock_());
}

}  // namespace vmesh::hub
