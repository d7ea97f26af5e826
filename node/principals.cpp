// The node's principals; see principals.hpp.
#include "node/principals.hpp"

namespace jobnet {

PrincipalTable::PrincipalTable(const std::vector<protocol::Principal>& principals) {
  for (const auto& p : principals) {
    name_by_key_[p.key] = p.name;
    scopes_by_name_[p.name] = p.scopes;
    for (const auto& e : p.endpoints) key_by_endpoint_[e] = p.key;
  }
}

std::string PrincipalTable::NameOf(const std::string& z85) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = name_by_key_.find(z85);
  return it == name_by_key_.end() ? std::string() : it->second;
}

uint8_t PrincipalTable::ScopesOf(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = scopes_by_name_.find(name);
  return it == scopes_by_name_.end() ? 0 : it->second;
}

std::string PrincipalTable::ServerKeyOf(const std::string& endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = key_by_endpoint_.find(endpoint);
  return it == key_by_endpoint_.end() ? std::string() : it->second;
}

size_t PrincipalTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return scopes_by_name_.size();
}

}  // namespace jobnet
