// Issue 11 item 8: sslscan (Debian package `sslscan`) against both ports of a real `vmesh-hub serve` — the agent
// endpoint and the API endpoint. From its XML report: only TLS 1.2 and 1.3 are offered, no weak cipher suite
// (NULL, EXPORT, RC4, DES/3DES, MD5, anonymous, CBC, fewer than 128 bits), no key-exchange group under 128-bit
// strength, no renegotiation, not vulnerable to Heartbleed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>

#include "e2e/harness/fleet.h"

namespace vmesh::e2e {
namespace {

namespace pt = boost::property_tree;
using namespace std::chrono_literals;

struct Scan {
  std::string raw;
  pt::ptree test;  // the <ssltest> element
};

Result<Scan> SslScan(uint16_t port) {
  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto run = kubesim::RunProcess({"sslscan", "--xml=-", "--no-colour", target}, 120s);
  if (run.timed_out) return MakeError("sslscan " + target + " timed out");
  if (run.exit_code != 0)
    return MakeError("sslscan " + target + " exited " + std::to_string(run.exit_code) + ": " + run.output);
  Scan scan;
  scan.raw = run.output;
  const auto start = run.output.find("<?xml");
  if (start == std::string::npos) return MakeError("sslscan printed no XML: " + run.output);
  std::istringstream in(run.output.substr(start));
  pt::ptree doc;
  try {
    pt::read_xml(in, doc);
  } catch (const std::exception& e) {
    return MakeError(std::string("sslscan XML: ") + e.what());
  }
  auto test = doc.get_child_optional("document.ssltest");
  if (!test) return MakeError("sslscan XML has no <ssltest>: " + run.output);
  scan.test = *test;
  return scan;
}

std::string Attr(const pt::ptree& element, const std::string& name) {
  return element.get<std::string>("<xmlattr>." + name, "");
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every finding of one port, as readable failures.
void ExpectModernTls(const Scan& scan, const std::string& endpoint) {
  SCOPED_TRACE(endpoint + " endpoint; sslscan said:\n" + scan.raw);
  std::set<std::string> enabled;
  int ciphers = 0;
  for (const auto& [tag, element] : scan.test) {
    if (tag == "protocol") {
      const std::string version = Attr(element, "type") + " " + Attr(element, "version");
      if (Attr(element, "enabled") == "1") enabled.insert(version);
    } else if (tag == "cipher") {
      ++ciphers;
      const std::string name = Attr(element, "cipher");
      const std::string protocol = Attr(element, "sslversion");
      EXPECT_GE(std::stoi(Attr(element, "bits")), 128) << name << " has fewer than 128 bits";
      for (const char* weak : {"NULL", "EXP", "RC4", "DES", "MD5", "ADH", "AECDH", "anon", "PSK", "SRP", "IDEA"}) {
        EXPECT_FALSE(Contains(name, weak)) << protocol << " " << name << " is weak (" << weak << ")";
      }
      // AEAD only: TLS 1.3 suites are; in TLS 1.2 that means GCM or ChaCha20-Poly1305 (no CBC, MAC-then-encrypt).
      EXPECT_TRUE(Contains(name, "GCM") || Contains(name, "CHACHA20-POLY1305") || Contains(name, "CHACHA20_POLY1305"))
          << protocol << " " << name << " is not an AEAD suite";
      if (protocol == "TLSv1.2") EXPECT_TRUE(name.starts_with("ECDHE-")) << name << " lacks forward secrecy";
      const std::string strength = Attr(element, "strength");
      EXPECT_TRUE(strength == "strong" || strength == "acceptable") << name << " rated " << strength;
    } else if (tag == "group") {
      EXPECT_GE(std::stoi(Attr(element, "bits")), 128)
          << Attr(element, "sslversion") << " group " << Attr(element, "name") << " is under 128-bit strength";
    } else if (tag == "heartbleed") {
      EXPECT_EQ(Attr(element, "vulnerable"), "0") << "Heartbleed over " << Attr(element, "sslversion");
    } else if (tag == "renegotiation") {
      EXPECT_EQ(Attr(element, "supported"), "0") << "renegotiation is offered";
    }
  }
  EXPECT_EQ(enabled, (std::set<std::string>{"tls 1.2", "tls 1.3"})) << "protocols offered";
  EXPECT_GT(ciphers, 0) << "sslscan found no cipher suite at all: did it reach the port?";
}

class TlsScanE2eTest : public ::testing::Test {
 protected:
  Binaries binaries_ = Binaries::FromBuild();
  HubProcess hub_{binaries_};
};

TEST_F(TlsScanE2eTest, BothHubPortsOfferOnlyTls12And13WithStrongAeadSuites) {
  ASSERT_TRUE(hub_.Init().ok()) << hub_.Log();
  ASSERT_TRUE(hub_.Serve().ok()) << hub_.Log();
  const auto api_colon = hub_.api_url().rfind(':');
  ASSERT_NE(api_colon, std::string::npos);
  const auto api_port = static_cast<uint16_t>(std::stoi(hub_.api_url().substr(api_colon + 1)));

  auto agent = SslScan(hub_.agent_port());
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  ExpectModernTls(*agent, "agent");
  auto api = SslScan(api_port);
  ASSERT_TRUE(api.ok()) << api.error().message;
  ExpectModernTls(*api, "API");
  // The hub still serves after being scanned.
  EXPECT_EQ(hub_.Api("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace vmesh::e2e
