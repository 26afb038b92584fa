// Syntax of the names that appear in vmesh objects: DNS-1123 labels and subdomains (Kubernetes object
// names), federation hostname suffixes, Kubernetes label keys and values, and IANA service names (port
// names).
//
// Each *Problem function returns std::nullopt when the value is valid and otherwise a short reason meant to
// follow `"<value>" is not a valid <thing>: `, e.g. `contains '_' (allowed: lowercase letters, digits and
// '-')`. The Is* functions are the same checks as booleans. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmesh::api {

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1 to 63 characters (e.g. a Kubernetes namespace).
std::optional<std::string> Dns1123LabelProblem(std::string_view s);
bool IsDns1123Label(std::string_view s);

// DNS-1123 labels (each 1 to 63 characters) joined by '.', at most 253 characters in all, no leading or
// trailing dot (e.g. a Kubernetes object name, a Mesh name, a cluster name).
std::optional<std::string> Dns1123SubdomainProblem(std::string_view s);
bool IsDns1123Subdomain(std::string_view s);

// A non-empty DNS-1123 subdomain that federated host names (`svc.ns.svc.<cluster>.<suffix>`, SPEC §6) can
// end in without colliding with in-cluster DNS: neither cluster.local (or a name under it) nor a name
// ending in the `svc` label. "global", "corp" and "solo.io" are valid.
std::optional<std::string> HostnameSuffixProblem(std::string_view s);
bool IsValidHostnameSuffix(std::string_view s);

// Kubernetes label key: an optional DNS-1123 subdomain prefix and '/', then a name of 1 to 63 characters
// of [A-Za-z0-9-_.] that starts and ends with a letter or digit (e.g. "app", "topology.istio.io/network").
std::optional<std::string> LabelKeyProblem(std::string_view s);

// Kubernetes label value: empty, or 1 to 63 characters of [A-Za-z0-9-_.] starting and ending with a letter
// or digit.
std::optional<std::string> LabelValueProblem(std::string_view s);

// IANA service name (RFC 6335 §5.1), the syntax of Kubernetes port names: 1 to 15 characters of [a-z0-9-],
// at least one letter, no leading, trailing or doubled '-' (e.g. "tls", "http-web").
std::optional<std::string> IanaServiceNameProblem(std::string_view s);

// SPIFFE trust domain name (the authority of spiffe://<trust-domain>/...): 1 to 255 characters of lowercase
// letters, digits, '.', '-' and '_' (SPIFFE ID spec §2.1), not starting or ending with '.' (e.g. "cluster.local").
std::optional<std::string> TrustDomainProblem(std::string_view s);

// An address remote clusters dial: an IPv4 or IPv6 address, or a DNS host name (DNS-1123 labels of at most 63
// characters joined by '.', at most 253 in all, any case), e.g. "172.18.0.1", "fd00::1", "gw.example.com".
std::optional<std::string> HostOrIpProblem(std::string_view s);

// An IPv4 or IPv6 address (e.g. a pod IP).
std::optional<std::string> IpAddressProblem(std::string_view s);

// A TCP/UDP port number: 1 to 65535.
std::optional<std::string> PortProblem(std::uint64_t port);

// `s` in double quotes with '"', '\' and control characters escaped, cut to 100 characters ("...")
// so that a pasted blob does not flood a message.
std::string QuoteValue(std::string_view s);

}  // namespace vmesh::api
