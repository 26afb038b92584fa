// Issue 15, the certificate half of limited trust (SPEC §8), end to end: one hub, kubesim clusters with Istio,
// bookinfo and an egress gateway, agents, as real processes. A VirtualMesh with `mtlsConfig.limited` leaves every
// mesh on its own CA — no `cacerts` anywhere, nothing restarted — and gives each mesh's east-west (ingress) and egress
// gateways a kubernetes.io/tls Secret with a leaf of the VirtualMesh's gateway CA, whose key was generated in the
// cluster. Two clusters' gateway certificates complete a real OpenSSL mutual TLS handshake in both directions, a
// gateway certificate of another VirtualMesh is refused, and a cluster added later restarts nothing in the others.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/base/base64.h"
#include "common/pki/certificate.h"
#include "common/pki/openssl_util.h"
#include "common/pki/verify.h"
#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

// What a gateway holds: its kubernetes.io/tls Secret.
struct GatewayTls {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
};

// --- A real mutual TLS handshake between two gateways, in process: two OpenSSL SSL objects over a BIO pair. ---

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

// A context presenting `id` and requiring (and verifying) a peer certificate that chains to id.ca_pem only.
std::unique_ptr<SSL_CTX, SslCtxDeleter> Context(const GatewayTls& id, bool server) {
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  BIO* cert_bio = BIO_new_mem_buf(id.cert_pem.data(), static_cast<int>(id.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(id.key_pem.data(), static_cast<int>(id.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  EXPECT_NE(cert, nullptr);
  EXPECT_NE(key, nullptr);
  EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());  // empty: no system CAs
  BIO* ca_bio = BIO_new_mem_buf(id.ca_pem.data(), static_cast<int>(id.ca_pem.size()));
  while (X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    X509_free(ca);
  }
  BIO_free(ca_bio);
  ERR_clear_error();  // the end of the PEM bundle
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

struct HandshakeResult {
  bool ok = false;
  std::string error;
  std::string client_saw;  // the URI SAN of the certificate the client verified
  std::string server_saw;
};

std::string PeerUri(SSL* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return "";
  auto cert = pki::Certificate::FromOpenSsl(pki::X509Ptr(peer));
  auto uris = cert.uri_sans();
  return uris.size() == 1 ? uris[0] : "";
}

// `client` dials `server`; each verifies the other against its own ca.crt.
HandshakeResult MutualTls(const GatewayTls& client, const GatewayTls& server) {
  auto client_ctx = Context(client, false);
  auto server_ctx = Context(server, true);
  std::unique_ptr<SSL, SslDeleter> c(SSL_new(client_ctx.get()));
  std::unique_ptr<SSL, SslDeleter> s(SSL_new(server_ctx.get()));
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(c.get(), client_bio, client_bio);
  SSL_set_bio(s.get(), server_bio, server_bio);
  SSL_set_connect_state(c.get());
  SSL_set_accept_state(s.get());
  HandshakeResult out;
  bool client_done = false, server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    for (auto [ssl, done] : {std::pair{c.get(), &client_done}, std::pair{s.get(), &server_done}}) {
      if (*done) continue;
      const int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      const int err = SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        out.error = std::string(ssl == c.get() ? "client" : "server") + ": " +
                    X509_verify_cert_error_string(SSL_get_verify_result(ssl)) + " (" + OpenSslErrors() + ")";
        return out;
      }
    }
  }
  if (!client_done || !server_done) {
    out.error = "handshake did not complete";
    return out;
  }
  // TLS 1.3 finishes the client side before the server verified the client certificate: exchange data so that
  // a refused client certificate surfaces.
  const char ping[] = "ping";
  char buf[8] = {};
  if (SSL_write(c.get(), ping, 4) != 4 || SSL_read(s.get(), buf, sizeof(buf)) != 4) {
    out.error = "server: " + std::string(X509_verify_cert_error_string(SSL_get_verify_result(s.get()))) + " (" +
                OpenSslErrors() + ")";
    return out;
  }
  if (SSL_get_verify_result(c.get()) != X509_V_OK || SSL_get_verify_result(s.get()) != X509_V_OK) {
    out.error = "verification failed";
    return out;
  }
  out.ok = true;
  out.client_saw = PeerUri(c.get());
  out.server_saw = PeerUri(s.get());
  return out;
}

// --- The fleet ---

class LimitedTrustE2eTest : public ::testing::Test {
 protected:
  void AddCluster(int index) {
    const std::string name = "cluster-" + std::to_string(index);
    clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, index));
    auto& cluster = *clusters_.back();
    ASSERT_TRUE(cluster.StartKubesim({"istio.yaml", "istio-egress.yaml", "bookinfo.yaml"}).ok()) << name;
    auto bundle = hub_.Register(name);
    ASSERT_TRUE(bundle.ok()) << bundle.error().message;
    ASSERT_TRUE(cluster.StartAgent(*bundle).ok());
    ASSERT_TRUE(WaitFor([&] { return hub_.ClusterState(name) == "CONNECTED"; }, 30s)) << Logs();
    ASSERT_TRUE(WaitFor(
        [&] {
          auto out = hub_.Ctl({"get", "meshes", "-o", "json"});
          return out.exit_code == 0 && out.output.find("istiod-istio-system-" + name) != std::string::npos &&
                 out.output.find("istio-egressgateway") != std::string::npos;
        },
        30s))
        << hub_.Ctl({"get", "meshes"}).output << Logs();
  }

  ProcessOutput Apply(const std::string& text) {
    static int n = 0;
    const std::string path = dir_.path() + "/manifest-" + std::to_string(++n) + ".yaml";
    std::ofstream(path) << text;
    return hub_.Ctl({"apply", "-f", path});
  }

  boost::json::value GetVirtualMesh(const std::string& name) {
    auto out = hub_.Ctl({"get", "virtualmeshes", name, "-o", "json"});
    return out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
  }

  bool WaitForState(const std::string& name, const std::string& state, std::chrono::milliseconds timeout) {
    return WaitFor([&] { return JsonString(GetVirtualMesh(name), {"status", "state"}) == state; }, timeout);
  }

  // The gateway Secret `name` in istio-system, or nullopt when absent or not a kubernetes.io/tls Secret.
  std::optional<GatewayTls> Gateway(ClusterUnderTest& cluster, const std::string& name) {
    auto out = cluster.Kubectl({"get", "secret", name, "-n", "istio-system", "-o", "json"});
    if (out.exit_code != 0) return std::nullopt;
    auto secret = ParseJson(out.output);
    if (JsonString(secret, {"type"}) != "kubernetes.io/tls") return std::nullopt;
    auto field = [&](const char* key) { return Base64Decode(JsonString(secret, {"data", key})).value_or(""); };
    GatewayTls tls{field("tls.crt"), field("tls.key"), field("ca.crt")};
    if (tls.cert_pem.empty() || tls.key_pem.empty() || tls.ca_pem.empty()) return std::nullopt;
    return tls;
  }

  // Every Deployment of the cluster: "namespace/name" -> "generation restartedAt".
  std::map<std::string, std::string> Rollouts(ClusterUnderTest& cluster) {
    std::map<std::string, std::string> out;
    auto listed = cluster.Kubectl({"get", "deployments", "-A", "-o", "json"});
    const boost::json::value list = ParseJson(listed.output);
    const boost::json::value* items = JsonAt(list, {"items"});
    if (!items || !items->is_array()) return out;
    for (const auto& d : items->as_array()) {
      out[JsonString(d, {"metadata", "namespace"}) + "/" + JsonString(d, {"metadata", "name"})] =
          JsonString(d, {"metadata", "generation"}) + " " +
          JsonString(d, {"spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"});
    }
    return out;
  }

  // The names of the cluster's pods (a restart replaces them).
  std::string Pods(ClusterUnderTest& cluster) {
    return cluster.Kubectl({"get", "pods", "-A", "-o", "jsonpath={.items[*].metadata.name}"}).output;
  }

  bool HasCacerts(ClusterUnderTest& cluster) {
    return cluster.Kubectl({"get", "secret", "cacerts", "-n", "istio-system"}).exit_code == 0;
  }

  std::string Logs() { return FleetLogs(hub_, clusters_); }

  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
  TempDir dir_{"vmesh-limited-test"};
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

std::string LimitedVirtualMesh(const std::string& name, const std::vector<int>& clusters) {
  std::string out = "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: " + name +
                    ", namespace: vmesh}\nspec:\n  meshes:\n";
  for (int c : clusters) out += "  - {name: istiod-istio-system-cluster-" + std::to_string(c) + ", namespace: vmesh}\n";
  // autoRestartPods on: limited trust must restart nothing even when it is allowed to.
  out += "  mtlsConfig: {autoRestartPods: true, limited: {}}\n";
  return out;
}

TEST_F(LimitedTrustE2eTest, GatewayCertificatesWithoutCacertsOrRestartsMutualTlsAndAddingAClusterLater) {
  ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
  ASSERT_TRUE(hub_.Serve({"--status-interval", "1s"}).ok()) << hub_.Log();
  for (int i = 1; i <= 4; ++i) {
    AddCluster(i);
    if (HasFatalFailure()) return;
  }
  std::map<std::string, std::map<std::string, std::string>> rollouts_before;
  std::map<std::string, std::string> pods_before;
  for (auto& c : clusters_) {
    rollouts_before[c->name()] = Rollouts(*c);
    pods_before[c->name()] = Pods(*c);
    ASSERT_FALSE(rollouts_before[c->name()].empty());
  }

  // vm1: clusters 1-3 in limited trust. `other`: cluster-4 in another limited VirtualMesh (the foreign one).
  auto applied = Apply(LimitedVirtualMesh("vm1", {1, 2, 3}));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  applied = Apply(LimitedVirtualMesh("other", {4}));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForState("vm1", "ACCEPTED", 120s)) << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();

  // Each cluster holds both gateway Secrets, no cacerts, and nothing was restarted.
  std::map<std::string, GatewayTls> ingress, egress;
  std::string ca;
  for (int i = 0; i < 3; ++i) {
    auto& c = *clusters_[i];
    auto in = Gateway(c, "vmesh-gateway-ingress");
    auto out = Gateway(c, "vmesh-gateway-egress");
    ASSERT_TRUE(in && out) << c.name() << Logs();
    ingress[c.name()] = *in;
    egress[c.name()] = *out;
    if (ca.empty()) ca = in->ca_pem;
    EXPECT_EQ(in->ca_pem, ca) << c.name() << ": one gateway CA per VirtualMesh";
    EXPECT_EQ(out->ca_pem, ca) << c.name();
    for (const auto& [role, tls] : {std::pair{"ingress", *in}, std::pair{"egress", *out}}) {
      auto cert = pki::Certificate::FromPem(tls.cert_pem);
      ASSERT_TRUE(cert.ok());
      EXPECT_EQ(cert->uri_sans(), std::vector<std::string>{"spiffe://vm1.vmesh.vmesh-gateway/cluster/" + c.name() +
                                                           "/mesh/istiod-istio-system-" + c.name() + "/" + role});
      EXPECT_FALSE(cert->is_ca());
      // openssl agrees: the leaf verifies against ca.crt.
      const std::string base = dir_.path() + "/" + c.name() + "-" + role;
      std::ofstream(base + ".crt") << tls.cert_pem;
      std::ofstream(base + "-ca.crt") << tls.ca_pem;
      auto verified = kubesim::RunProcess({"openssl", "verify", "-CAfile", base + "-ca.crt", base + ".crt"}, 20s);
      EXPECT_EQ(verified.exit_code, 0) << verified.output;
    }
    EXPECT_FALSE(HasCacerts(c)) << c.name() << ": limited trust never writes cacerts";
    EXPECT_EQ(Rollouts(c), rollouts_before[c.name()]) << c.name() << ": nothing restarted";
    EXPECT_EQ(Pods(c), pods_before[c.name()]) << c.name();
  }
  // The status shows each mesh's gateway certificates.
  auto vm = GetVirtualMesh("vm1");
  const auto* gateways = JsonAt(vm, {"status", "meshes", "istiod-istio-system-cluster-2.vmesh", "gatewayCertificates"});
  ASSERT_TRUE(gateways && gateways->is_array()) << boost::json::serialize(vm);
  ASSERT_EQ(gateways->as_array().size(), 2u);
  for (const auto& g : gateways->as_array()) {
    EXPECT_EQ(JsonString(g, {"phase"}), "INSTALLED");
    EXPECT_FALSE(JsonString(g, {"serial"}).empty());
    EXPECT_FALSE(JsonString(g, {"notAfter"}).empty());
  }
  auto describe = hub_.Ctl({"describe", "virtualmesh", "vm1"});
  EXPECT_NE(describe.output.find("vmesh-gateway-egress"), std::string::npos) << describe.output;

  // A real mutual TLS handshake between cluster-1's egress gateway and cluster-2's ingress gateway, and back.
  auto forward = MutualTls(egress["cluster-1"], ingress["cluster-2"]);
  ASSERT_TRUE(forward.ok) << forward.error;
  EXPECT_EQ(forward.client_saw,
            "spiffe://vm1.vmesh.vmesh-gateway/cluster/cluster-2/mesh/istiod-istio-system-cluster-2/ingress");
  EXPECT_EQ(forward.server_saw,
            "spiffe://vm1.vmesh.vmesh-gateway/cluster/cluster-1/mesh/istiod-istio-system-cluster-1/egress");
  auto backward = MutualTls(egress["cluster-2"], ingress["cluster-1"]);
  ASSERT_TRUE(backward.ok) << backward.error;
  EXPECT_EQ(backward.server_saw,
            "spiffe://vm1.vmesh.vmesh-gateway/cluster/cluster-2/mesh/istiod-istio-system-cluster-2/egress");

  // cluster-4's gateway certificate comes from VirtualMesh `other`'s gateway CA: refused both ways.
  auto& c4 = *clusters_[3];
  ASSERT_TRUE(WaitFor([&] { return Gateway(c4, "vmesh-gateway-egress").has_value(); }, 60s)) << Logs();
  const GatewayTls foreign_egress = *Gateway(c4, "vmesh-gateway-egress");
  const GatewayTls foreign_ingress = *Gateway(c4, "vmesh-gateway-ingress");
  EXPECT_NE(foreign_egress.ca_pem, ca) << "another VirtualMesh, another gateway CA";
  // The foreign side trusts vm1's gateway CA (an attacker accepts anything), so only the vm1 side can refuse.
  GatewayTls foreign_client_tls = foreign_egress;
  foreign_client_tls.ca_pem = ca;
  GatewayTls foreign_server_tls = foreign_ingress;
  foreign_server_tls.ca_pem = ca;
  auto foreign_client = MutualTls(foreign_client_tls, ingress["cluster-2"]);
  EXPECT_FALSE(foreign_client.ok) << "cluster-2's ingress gateway must refuse a foreign client certificate";
  EXPECT_NE(foreign_client.error.find("server"), std::string::npos) << foreign_client.error;
  auto foreign_server = MutualTls(egress["cluster-1"], foreign_server_tls);
  EXPECT_FALSE(foreign_server.ok) << "cluster-1's egress gateway must refuse a foreign server certificate";
  EXPECT_NE(foreign_server.error.find("client"), std::string::npos) << foreign_server.error;

  // Adding cluster-4 to vm1 later (after `other` is gone): it gets vm1's gateway certificates; nothing restarts,
  // and the other clusters keep their certificates as they are.
  ASSERT_EQ(hub_.Ctl({"delete", "virtualmesh", "other", "-n", "vmesh"}).exit_code, 0);
  applied = Apply(LimitedVirtualMesh("vm1", {1, 2, 3, 4}));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto in = Gateway(c4, "vmesh-gateway-ingress");
        auto out = Gateway(c4, "vmesh-gateway-egress");
        return in && out && in->ca_pem == ca && out->ca_pem == ca;
      },
      120s))
      << Logs();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = GetVirtualMesh("vm1");
        return JsonString(v, {"status", "state"}) == "ACCEPTED" &&
               JsonString(v, {"status", "observedGeneration"}) == "2";
      },
      120s))
      << hub_.Ctl({"describe", "virtualmesh", "vm1"}).output << Logs();
  for (auto& c : clusters_) {
    EXPECT_FALSE(HasCacerts(*c)) << c->name();
    EXPECT_EQ(Rollouts(*c), rollouts_before[c->name()]) << c->name() << ": nothing restarted";
    EXPECT_EQ(Pods(*c), pods_before[c->name()]) << c->name();
  }
  for (int i = 0; i < 3; ++i) {
    auto& c = *clusters_[i];
    EXPECT_EQ(Gateway(c, "vmesh-gateway-ingress")->cert_pem, ingress[c.name()].cert_pem)
        << c.name() << ": a new member re-issues nothing elsewhere";
  }
  auto joined = MutualTls(*Gateway(c4, "vmesh-gateway-egress"), ingress["cluster-1"]);
  EXPECT_TRUE(joined.ok) << joined.error;
  // Nothing the hub received, and nothing in its data directory, is a private key of a cluster.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(hub_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = ReadFileOr(entry.path().string());
    for (auto& [name, tls] : ingress) {
      EXPECT_EQ(bytes.find(tls.key_pem), std::string::npos) << entry.path() << " holds " << name << "'s gateway key";
    }
  }
}

}  // namespace
}  // namespace vmesh::e2e
