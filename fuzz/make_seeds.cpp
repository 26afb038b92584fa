// Writes the generated part of the seed corpus: link Envelopes as cluster-3's agent sends them
// (<out>/envelope/*.bin) and CSRs made with common/pki (<out>/csr/*). Usage: fuzz_make_seeds <out>, e.g.
//   build/fuzz/fuzz_make_seeds fuzz/corpus
// Keys are fresh each run, so regenerating changes the CSR bytes; commit only when the seeds need to change.
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/base/files.h"
#include "common/pki/csr.h"
#include "vmesh/link/v1/link.pb.h"

namespace {

using namespace vmesh;
using link::v1::Envelope;

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  if (Status s = WriteFileAtomically(path.string(), bytes, 0644); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    std::exit(1);
  }
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

pki::Csr MakeCsr(const pki::KeySpec& spec, const std::string& cn, const std::string& uri) {
  auto key = pki::PrivateKey::Generate(spec);
  pki::CsrRequest request;
  request.subject.organization = "vmesh";
  request.subject.common_name = cn;
  if (!uri.empty()) request.uri_sans.push_back(uri);
  auto csr = key.ok() ? pki::Csr::Create(*key, request) : Result<pki::Csr>(key.error());
  if (!csr.ok()) {
    std::fprintf(stderr, "%s\n", csr.error().message.c_str());
    std::exit(1);
  }
  return *csr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const std::string mesh = "istiod-istio-system-cluster-3";
  const pki::Csr intermediate =
      MakeCsr(pki::KeySpec::EcdsaP256(), "istiod", "spiffe://cluster.local/ns/istio-system/sa/istiod");
  const pki::Csr intermediate_rsa = MakeCsr(pki::KeySpec::Rsa(2048), "istiod", "");
  const pki::Csr identity = MakeCsr(pki::KeySpec::EcdsaP256(), "cluster-3", "spiffe://hub/cluster/cluster-3");

  Write(out / "csr" / "intermediate-p256.pem", intermediate.ToPem());
  Write(out / "csr" / "intermediate-rsa2048.pem", intermediate_rsa.ToPem());
  Write(out / "csr" / "identity-p256.der", identity.ToDer());

  auto env = [&](const char* name, const Envelope& e) {
    Write(out / "envelope" / (std::string(name) + ".bin"), e.SerializeAsString());
  };
  Envelope e;
  e.set_id(1);
  auto* hello = e.mutable_hello();
  hello->set_cluster_name("cluster-3");
  hello->set_agent_version("0.1.0");
  (*hello->mutable_resource_versions())["kube/networking.istio.io/ServiceEntry/istio-system/a"] = "0123abcd";
  hello->set_system_version("3");
  env("hello", e);

  e.Clear();
  e.set_id(2);
  auto* report = e.mutable_discovery_report();
  report->set_full_state(true);
  auto* m = report->add_meshes();
  m->set_api_version("discovery.vmesh.dev/v1");
  m->set_kind("Mesh");
  m->mutable_metadata()->set_name(mesh);
  m->mutable_spec()->set_cluster("cluster-3");
  m->mutable_spec()->set_installation_namespace("istio-system");
  m->mutable_spec()->set_istio_version("1.20.3");
  m->mutable_spec()->set_trust_domain("cluster.local");
  m->mutable_spec()->set_istiod_service_account("istiod");
  auto* d = report->add_destinations();
  d->mutable_metadata()->set_name("reviews-bookinfo-cluster-3");
  d->mutable_spec()->set_cluster("cluster-3");
  d->mutable_spec()->mutable_mesh()->set_name(mesh);
  d->mutable_spec()->set_name("reviews");
  d->mutable_spec()->set_namespace_("bookinfo");
  auto* port = d->mutable_spec()->add_ports();
  port->set_name("http");
  port->set_port(9080);
  port->set_protocol("TCP");
  auto* w = report->add_workloads();
  w->mutable_metadata()->set_name("reviews-v1-bookinfo-cluster-3");
  w->mutable_spec()->set_cluster("cluster-3");
  w->mutable_spec()->set_namespace_("bookinfo");
  w->mutable_spec()->mutable_controller()->set_kind("Deployment");
  w->mutable_spec()->mutable_controller()->set_name("reviews-v1");
  env("discovery-full", e);

  e.Clear();
  e.set_id(3);
  report = e.mutable_discovery_report();
  report->add_removed_destinations("bookinfo/reviews");
  report->add_removed_meshes(mesh);
  env("discovery-delta", e);

  e.Clear();
  e.set_id(4);
  auto* ack = e.mutable_ack();
  ack->set_nonce("1");
  ack->set_system_version("1");
  ack->set_accepted(false);
  auto* err = ack->add_errors();
  err->set_name("kube/networking.istio.io/ServiceEntry/istio-system/a");
  err->set_message("admission webhook denied the request");
  env("ack-nack", e);

  e.Clear();
  e.set_id(5);
  auto* csr = e.mutable_certificate_signing_request();
  csr->set_mesh(mesh);
  csr->set_directive_generation("g1");
  csr->set_csr_pem(intermediate.ToPem());
  csr->set_request_id("r1");
  env("csr", e);

  e.Clear();
  e.set_id(6);
  e.mutable_identity_renewal_request()->set_csr_pem(identity.ToPem());
  env("identity-renewal", e);

  e.Clear();
  e.set_id(7);
  auto* status = e.mutable_status_report();
  auto* ms = status->add_meshes();
  ms->set_mesh(mesh);
  ms->set_restarts_done(1);
  ms->set_restarts_total(3);
  status->mutable_time()->set_seconds(1764750000);
  env("status", e);

  e.Clear();
  e.set_id(8);
  e.mutable_protocol_nack()->set_envelope_id(3);
  e.mutable_protocol_nack()->set_error("unknown resource kind");
  env("protocol-nack", e);
  return 0;
}
