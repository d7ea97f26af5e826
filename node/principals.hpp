// The principals a node knows (docs/operations.md "Securing a cluster"): by CURVE key for the
// ZAP handler, by name for the scope check of each frame, by endpoint for the server key of a
// node this one connects to. Those of the config are fixed; `jobnet principals add|remove`
// changes the others while the node runs, kept in a file of the data directory (written whole,
// synced, renamed over) so that a restart keeps them. Thread-safe: the ZAP threads, the socket
// threads and the transport's handling of `principals` requests share it.
#ifndef JOBNET_NODE_PRINCIPALS_HPP_
#define JOBNET_NODE_PRINCIPALS_HPP_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "jobnet/status.h"
#include "protocol/messages.hpp"
#include "protocol/scopes.hpp"

namespace jobnet {

class PrincipalTable {
 public:
  // `configured`: fixed for the node's life. `added_path`: where added principals are kept
  // ("": none can be added).
  explicit PrincipalTable(const std::vector<protocol::Principal>& configured,
                          std::string added_path = "");
  // Takes the principals added before (the file at added_path, if any).
  Status LoadAdded();
  // The name of the principal whose public key is `z85`; "" if none.
  std::string NameOf(const std::string& z85) const;
  // The scopes of principal `name`; 0 if there is no such principal.
  uint8_t ScopesOf(const std::string& name) const;
  // Whether principal `name` may register as a worker of every one of `types`: OK, or
  // kPermissionDenied naming the type it may not serve (a principal without a types list may
  // serve any).
  Status MayServe(const std::string& name, const std::vector<std::string>& types) const;
  // The public key of the node that lists `endpoint`; "" if no principal lists it.
  std::string ServerKeyOf(const std::string& endpoint) const;
  size_t size() const;
  // Carries out a `principals` request (add, remove, list), durably; the principals after it.
  // kInvalidArgument for a bad principal, kConflict for a name or key taken or a configured
  // principal removed, kNotFound for an unknown name, kTooLarge past kPrincipalsMax.
  Result<protocol::PrincipalListReply> Apply(const protocol::PrincipalsRequest& r);

 private:
  struct Entry {
    protocol::Principal p;
    bool added = false;
  };
  void Index();  // rebuilds the maps from entries_; caller holds mu_
  Status Save() const;  // writes the added ones to added_path_; caller holds mu_
  protocol::PrincipalListReply List() const;  // caller holds mu_

  const std::string added_path_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;                          // guarded by mu_
  std::map<std::string, std::string> name_by_key_;      // guarded by mu_
  std::map<std::string, uint8_t> scopes_by_name_;       // guarded by mu_
  std::map<std::string, std::string> key_by_endpoint_;  // guarded by mu_
  std::map<std::string, std::set<std::string>> types_by_name_;  // guarded by mu_; listed only
};

}  // namespace jobnet

#endif  // JOBNET_NODE_PRINCIPALS_HPP_
