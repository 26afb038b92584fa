#include "common/api/field_error.h"

namespace vmesh::api {

std::string FieldError::ToString() const {
  std::string out;
  if (document > 0) out += "document " + std::to_string(document);
  if (line > 0) {
    if (!out.empty()) out += ", ";
    out += "line " + std::to_string(line);
  }
  if (!out.empty()) out += ": ";
  if (!object.empty()) out += object + ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

std::string JoinErrors(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += e.ToString();
  }
  return out;
}

}  // namespace vmesh::api
