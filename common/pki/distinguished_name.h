// The subject / issuer fields vmesh sets and reads.
#pragma once

#include <string>

namespace vmesh::pki {

// A subject or issuer name reduced to the attributes vmesh uses. Empty strings mean "absent". When a
// parsed name holds an attribute several times, the last one is reported (as OpenSSL's CN lookup does).
struct DistinguishedName {
  std::string common_name;          // CN
  std::string organization;         // O
  std::string organizational_unit;  // OU

  bool operator==(const DistinguishedName&) const = default;
};

}  // namespace vmesh::pki
