// The principals a node knows (docs/operations.md "Securing a cluster"): by CURVE key for the
// ZAP handler, by name for the scope check of each frame, by endpoint for the server key of a
// node this one connects to. Thread-safe: the transport's and the replica server's ZAP threads
// and the socket threads read it.
#ifndef JOBNET_NODE_PRINCIPALS_HPP_
#define JOBNET_NODE_PRINCIPALS_HPP_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/scopes.hpp"

namespace jobnet {

class PrincipalTable {
 public:
  explicit PrincipalTable(const std::vector<protocol::Principal>& principals);
  // The name of the principal whose public key is `z85`; "" if none.
  std::string NameOf(const std::string& z85) const;
  // The scopes of principal `name`; 0 if there is no such principal.
  uint8_t ScopesOf(const std::string& name) const;
  // The public key of the node that lists `endpoint`; "" if no principal lists it.
  std::string ServerKeyOf(const std::string& endpoint) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> name_by_key_;    // guarded by mu_
  std::map<std::string, uint8_t> scopes_by_name_;     // guarded by mu_
  std::map<std::string, std::string> key_by_endpoint_;  // guarded by mu_
};

}  // namespace jobnet

#endif  // JOBNET_NODE_PRINCIPALS_HPP_
