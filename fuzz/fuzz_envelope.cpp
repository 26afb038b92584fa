// Fuzz target: the hub's handling of one incoming link frame (hub/session/hub_core.cpp OnMessage), as far as
// it is pure: the protobuf Envelope parse, the per-message authorization against the connection's cluster
// (hub/session/authorize.cpp), then what the accepted message feeds: the discovery view
// (hub/controller/discovery_state.cpp), the resource sync (common/sync: Hello, Ack) and the CSR parse
// (common/pki: CSR and identity-renewal requests).
//
// The connection is cluster-3; cluster-1, cluster-2 and cluster-3 own a mesh each. Oracle besides the sanitizers: no
// frame cluster-3 sends changes what cluster-1 or cluster-2 reported or which cluster owns their meshes.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "common/pki/csr.h"
#include "common/sync/sync.h"
#include "hub/controller/discovery_state.h"
#include "hub/session/authorize.h"
#include "vmesh/link/v1/link.pb.h"

namespace {

using namespace vmesh;
using link::v1::Envelope;

constexpr char kAttacker[] = "cluster-3";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_envelope: %s\n", what.c_str());
  std::abort();
}

link::v1::DiscoveryReport FullReport(const std::string& cluster) {
  link::v1::DiscoveryReport r;
  r.set_full_state(true);
  auto* m = r.add_meshes();
  m->mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m->mutable_metadata()->set_namespace_("vmesh");
  m->mutable_spec()->set_cluster(cluster);
  m->mutable_spec()->set_installation_namespace("istio-system");
  m->mutable_spec()->set_trust_domain("cluster.local");
  auto* d = r.add_destinations();
  d->mutable_metadata()->set_name("reviews-bookinfo-" + cluster);
  d->mutable_metadata()->set_namespace_("vmesh");
  d->mutable_spec()->set_cluster(cluster);
  d->mutable_spec()->set_name("reviews");
  d->mutable_spec()->set_namespace_("bookinfo");
  return r;
}

struct Fixture {
  hub::DiscoveryState discovery;
  sync::ResourceSender sender;
  std::map<std::string, std::string> owners;

  Fixture() {
    discovery.Apply("cluster-1", FullReport("cluster-1"));
    discovery.Apply("cluster-2", FullReport("cluster-2"));
    discovery.Apply(kAttacker, FullReport(kAttacker));
    // The store's durable bindings, as the hub holds them once each cluster reported its mesh.
    for (const char* c : {"cluster-1", "cluster-2", kAttacker}) owners[std::string("istiod-istio-system-") + c] = c;
    link::v1::Resource r;
    r.set_name("kube/networking.istio.io/ServiceEntry/istio-system/a");
    r.mutable_kube_object()->set_json("{}");
    sender.Upsert(r);
    r.set_name("certificate/istiod-istio-system-cluster-3");
    r.mutable_certificate()->set_mesh("istiod-istio-system-cluster-3");
    sender.Upsert(r);
    link::v1::Hello hello;
    hello.set_cluster_name(kAttacker);
    sender.Resume(hello);
    (void)sender.NextUpdate();  // nonce 1 in flight
  }
};

const Fixture& TheFixture() {
  static const Fixture* f = new Fixture();
  return *f;
}

template <typename T>
bool SameObjects(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) return false;
  }
  return true;
}

void ParseCsr(const std::string& pem) {
  auto csr = pki::Csr::FromPem(pem);
  if (!csr.ok()) return;
  (void)csr->VerifySignature();
  (void)csr->public_key();
}

}  // namespace

// Frames with strings that are not UTF-8 fail to parse (as they should) and protobuf logs each: keep the output
// readable.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& fixture = TheFixture();
  Envelope envelope;
  if (!envelope.ParseFromArray(data, static_cast<int>(size))) return 0;  // the hub closes the session
  // The type name for metrics and logs, as the session registry's EnvelopeTypeName.
  if (envelope.message_case() != Envelope::MESSAGE_NOT_SET) {
    const auto* field = Envelope::descriptor()->FindFieldByNumber(envelope.message_case());
    if (field == nullptr) Fail("a set oneof case without a field");
  }
  hub::AuthorizationContext context{.mesh_owner = fixture.owners};
  if (envelope.has_discovery_report()) {
    auto [meshes, objects] = fixture.discovery.CountAfter(kAttacker, envelope.discovery_report());
    context.counts_after = {meshes, objects};
  }
  hub::Authorization verdict = hub::AuthorizeEnvelope(kAttacker, envelope, context);
  if (verdict.verdict != hub::Verdict::kAccept) {
    if (verdict.reason.empty()) Fail("a refusal without a reason");
    return 0;
  }
  switch (envelope.message_case()) {
    case Envelope::kHello: {
      sync::ResourceSender sender = fixture.sender;
      sender.Resume(envelope.hello());
      (void)sender.NextUpdate();
      break;
    }
    case Envelope::kAck: {
      sync::ResourceSender sender = fixture.sender;
      if (sender.HandleAck(envelope.ack()).ok()) (void)sender.NextUpdate();
      break;
    }
    case Envelope::kDiscoveryReport: {
      hub::DiscoveryState discovery = fixture.discovery;
      link::v1::DiscoveryReport normalized = envelope.discovery_report();
      for (auto& m : *normalized.mutable_meshes()) {
        if (m.metadata().namespace_().empty()) m.mutable_metadata()->set_namespace_("vmesh");
      }
      for (const auto& mesh : verdict.meshes_to_bind) {
        if (fixture.owners.count(mesh)) Fail("an accepted report of " + std::string(kAttacker) + " rebinds " + mesh);
      }
      for (const auto& m : normalized.meshes()) {
        auto it = fixture.owners.find(m.metadata().name());
        if (it != fixture.owners.end() && it->second != kAttacker) {
          Fail("an accepted report of " + std::string(kAttacker) + " took mesh " + m.metadata().name() + " from " +
               it->second);
        }
      }
      discovery.Apply(kAttacker, normalized);
      for (const char* victim : {"cluster-1", "cluster-2"}) {
        if (!SameObjects(discovery.Meshes(victim), fixture.discovery.Meshes(victim)) ||
            !SameObjects(discovery.Destinations(victim), fixture.discovery.Destinations(victim)) ||
            !SameObjects(discovery.Workloads(victim), fixture.discovery.Workloads(victim))) {
          Fail(std::string("an accepted report of ") + kAttacker + " changed what " + victim + " reported");
        }
      }
      break;
    }
    case Envelope::kCertificateSigningRequest:
      ParseCsr(envelope.certificate_signing_request().csr_pem());
      break;
    case Envelope::kIdentityRenewalRequest:
      ParseCsr(envelope.identity_renewal_request().csr_pem());
      break;
    default:
      break;
  }
  return 0;
}
