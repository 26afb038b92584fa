// Per-message authorization on the hub (SPEC §9 "Authorization"): every Envelope an agent sends is checked
// against the cluster identity of its connection (from its verified client certificate), never against what
// the message claims. An agent can report only for its own cluster and request certificates only for meshes
// its cluster owns.
#pragma once

#include <map>
#include <string>

#include "common/base/result.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

enum class Verdict {
  kAccept,
  kNack,   // refuse this message (ProtocolNack with the reason); the session goes on
  kClose,  // the peer is broken or hostile: close the connection
};

struct Authorization {
  Verdict verdict = Verdict::kAccept;
  std::string reason;
};

// `cluster`: the connection's identity. `mesh_owner`: discovered mesh name -> cluster (the hub's view).
Authorization AuthorizeEnvelope(const std::string& cluster, const link::v1::Envelope& envelope,
                                const std::map<std::string, std::string>& mesh_owner);

}  // namespace vmesh::hub
