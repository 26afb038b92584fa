#include "common/api/dns.h"

#include <arpa/inet.h>

#include <cstdio>

namespace vmesh::api {
namespace {

constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxSubdomainLength = 253;
constexpr std::size_t kMaxIanaServiceNameLength = 15;
constexpr std::size_t kMaxQuotedLength = 100;
constexpr std::size_t kMaxTrustDomainLength = 255;
constexpr std::uint64_t kMaxPort = 65535;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

// How a character is shown in a reason: 'x' when printable, otherwise its byte value.
std::string DescribeChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte == ' ') return "a space";
  if (byte > 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", byte);
  return buf;
}

std::string TooLong(std::size_t length, std::size_t max) {
  return "is " + std::to_string(length) + " characters long (at most " + std::to_string(max) + ")";
}

// The first character of `s` not accepted by `allowed`, described with what to use instead.
template <typename Allowed>
std::optional<std::string> BadCharProblem(std::string_view s, Allowed allowed, std::string_view allowed_text,
                                          bool lowercase_only) {
  for (char c : s) {
    if (allowed(c)) continue;
    if (lowercase_only && IsUpper(c)) return "contains uppercase " + DescribeChar(c) + " (use lowercase)";
    return "contains " + DescribeChar(c) + " (allowed: " + std::string(allowed_text) + ")";
  }
  return std::nullopt;
}

// Length (when asked), start and end of one label whose characters are already known to be [a-z0-9-].
std::optional<std::string> LabelShapeProblem(std::string_view label, bool check_length = true) {
  if (check_length && label.size() > kMaxLabelLength) return TooLong(label.size(), kMaxLabelLength);
  if (label.front() == '-') return "starts with '-' (must start with a lowercase letter or digit)";
  if (label.back() == '-') return "ends with '-' (must end with a lowercase letter or digit)";
  return std::nullopt;
}

// Shared by label keys (name part) and label values: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63.
std::optional<std::string> QualifiedNamePartProblem(std::string_view s) {
  if (s.size() > kMaxLabelLength) return TooLong(s.size(), kMaxLabelLength);
  if (auto bad = BadCharProblem(
          s, [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; }, "letters, digits, '-', '_' and '.'",
          /*lowercase_only=*/false)) {
    return bad;
  }
  if (!IsAlnum(s.front())) return "starts with " + DescribeChar(s.front()) + " (must start with a letter or digit)";
  if (!IsAlnum(s.back())) return "ends with " + DescribeChar(s.back()) + " (must end with a letter or digit)";
  return std::nullopt;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::optional<std::string> Dns1123LabelProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxLabelLength) return TooLong(s.size(), kMaxLabelLength);
  if (auto bad = BadCharProblem(
          s, [](char c) { return IsLowerAlnum(c) || c == '-'; }, "lowercase letters, digits and '-'",
          /*lowercase_only=*/true)) {
    return bad;
  }
  return LabelShapeProblem(s);
}

bool IsDns1123Label(std::string_view s) { return !Dns1123LabelProblem(s).has_value(); }

namespace {

// Kubernetes object names (IsDNS1123Subdomain) limit only the total length; DNS names also limit each label.
std::optional<std::string> SubdomainProblem(std::string_view s, bool check_label_length) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxSubdomainLength) return TooLong(s.size(), kMaxSubdomainLength);
  if (auto bad = BadCharProblem(
          s, [](char c) { return IsLowerAlnum(c) || c == '-' || c == '.'; }, "lowercase letters, digits, '-' and '.'",
          /*lowercase_only=*/true)) {
    return bad;
  }
  if (s.front() == '.') return "starts with '.'";
  if (s.back() == '.') return "ends with '.'";
  const bool single_label = s.find('.') == std::string_view::npos;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view label = s.substr(start, end - start);
    if (label.empty()) return std::string("has an empty label (\"..\")");
    if (auto problem = LabelShapeProblem(label, check_label_length)) {
      if (single_label) return problem;
      return "has a label " + QuoteValue(label) + " that " + *problem;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Dns1123SubdomainProblem(std::string_view s) {
  return SubdomainProblem(s, /*check_label_length=*/false);
}

bool IsDns1123Subdomain(std::string_view s) { return !Dns1123SubdomainProblem(s).has_value(); }

std::optional<std::string> HostnameSuffixProblem(std::string_view s) {
  if (auto problem = SubdomainProblem(s, /*check_label_length=*/true)) return problem;
  if (s == "cluster.local" || EndsWith(s, ".cluster.local")) {
    return std::string(
        "federated host names would end in cluster.local, the in-cluster DNS zone that each cluster's own DNS "
        "answers for, so they would not resolve to the other meshes; choose another suffix, e.g. global");
  }
  if (s == "svc" || EndsWith(s, ".svc")) {
    return std::string(
        "federated host names would end in .svc, which pods resolve through their cluster.local search "
        "domains as in-cluster Service names (<service>.<namespace>.svc), so in-cluster DNS could shadow "
        "them; choose another suffix, e.g. global");
  }
  return std::nullopt;
}

bool IsValidHostnameSuffix(std::string_view s) { return !HostnameSuffixProblem(s).has_value(); }

std::optional<std::string> LabelKeyProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  std::string_view name = s;
  if (const std::size_t slash = s.find('/'); slash != std::string_view::npos) {
    if (s.find('/', slash + 1) != std::string_view::npos) return "contains more than one '/'";
    const std::string_view prefix = s.substr(0, slash);
    if (auto problem = Dns1123SubdomainProblem(prefix))
      return "has a prefix " + QuoteValue(prefix) + " that " + *problem;
    name = s.substr(slash + 1);
  }
  if (name.empty()) return "has an empty name after the '/'";
  return QualifiedNamePartProblem(name);
}

std::optional<std::string> LabelValueProblem(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return QualifiedNamePartProblem(s);
}

std::optional<std::string> IanaServiceNameProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxIanaServiceNameLength) return TooLong(s.size(), kMaxIanaServiceNameLength);
  if (auto bad = BadCharProblem(
          s, [](char c) { return IsLowerAlnum(c) || c == '-'; }, "lowercase letters, digits and '-'",
          /*lowercase_only=*/true)) {
    return bad;
  }
  if (s.front() == '-') return "starts with '-'";
  if (s.back() == '-') return "ends with '-'";
  if (s.find("--") != std::string_view::npos) return "contains \"--\"";
  bool has_letter = false;
  for (char c : s) has_letter = has_letter || (c >= 'a' && c <= 'z');
  if (!has_letter) return "has no letter (at least one is required)";
  return std::nullopt;
}

std::optional<std::string> TrustDomainProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxTrustDomainLength) return TooLong(s.size(), kMaxTrustDomainLength);
  if (auto bad = BadCharProblem(
          s, [](char c) { return IsLowerAlnum(c) || c == '.' || c == '-' || c == '_'; },
          "lowercase letters, digits, '.', '-' and '_'", /*lowercase_only=*/true)) {
    return bad;
  }
  if (s.front() == '.') return "starts with '.'";
  if (s.back() == '.') return "ends with '.'";
  return std::nullopt;
}

std::optional<std::string> IpAddressProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  const std::string text(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::nullopt;
  return std::string("is not an IPv4 or IPv6 address");
}

std::optional<std::string> HostOrIpProblem(std::string_view s) {
  if (!IpAddressProblem(s)) return std::nullopt;
  // Host names are case-insensitive (a node's Hostname address may be in uppercase).
  std::string lower(s);
  for (char& c : lower) c = IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c;
  if (auto problem = SubdomainProblem(lower, /*check_label_length=*/true)) {
    return "is neither an IP address nor a DNS host name: " + *problem;
  }
  return std::nullopt;
}

std::optional<std::string> PortProblem(std::uint64_t port) {
  if (port == 0 || port > kMaxPort) return "is not a port number (1 to 65535)";
  return std::nullopt;
}

std::string QuoteValue(std::string_view s) {
  const bool cut = s.size() > kMaxQuotedLength;
  if (cut) s = s.substr(0, kMaxQuotedLength);
  std::string out = "\"";
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", byte);
      out += buf;
    } else {
      out += c;
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

}  // namespace vmesh::api
