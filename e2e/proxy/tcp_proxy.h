// A TCP proxy for end-to-end tests: sits between an agent and the hub and misbehaves on demand, the way real
// networks do — connections reset, or silently black-holed (bytes vanish, nothing is closed), or new
// connections refused.
//
// Runs its own thread. Every method is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/result.h"

namespace vmesh::e2e {

enum class ProxyMode {
  kForward,    // relay bytes both ways
  kBlackhole,  // keep every connection open but relay nothing (a dead peer / a silent middlebox)
  kRefuse,     // close new connections at once (existing ones keep their mode's behaviour)
};

class TcpProxy {
 public:
  // Listens on 127.0.0.1:0 and relays to target_host:target_port.
  TcpProxy(std::string target_host, uint16_t target_port);
  ~TcpProxy();  // Stop()
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  Status Start();
  void Stop();
  uint16_t port() const;

  void SetMode(ProxyMode mode);
  // Resets (closes) every open connection now; the mode is unchanged.
  void DropAll();

  // Connections accepted so far, and currently open.
  int accepted() const;
  int open() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::e2e
