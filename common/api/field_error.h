// FieldError: one problem found in a manifest or an object, located by field path and, when the
// object came from a manifest, by document and line.
#pragma once

#include <string>
#include <vector>

namespace vmesh::api {

struct FieldError {
  // Field path in the object, e.g. "spec.mtlsConfig.shared.rootCertificateAuthority.generated.ttlDays"
  // or "spec.meshes[1].name"; empty when the error concerns the whole document.
  std::string path;
  // What is wrong and, where it helps, what to do.
  std::string message;
  // 1-based document index in a multi-document manifest, 0 when unknown.
  int document = 0;
  // 1-based line and column in the manifest text, 0 when unknown.
  int line = 0;
  int column = 0;
  // The object concerned, e.g. "VirtualMesh vmesh/vm1", when known.
  std::string object;

  // "document 2, line 14: VirtualMesh vmesh/vm1: spec.x.y: message" (location parts omitted when unknown).
  std::string ToString() const;
};

// Joins errors one per line.
std::string JoinErrors(const std::vector<FieldError>& errors);

}  // namespace vmesh::api
