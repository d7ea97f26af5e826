// The node's principals; see principals.hpp.
#include "node/principals.hpp"

#include <algorithm>
#include <filesystem>

#include "base/parse.hpp"
#include "jobnet/limits.h"
#include "node/config.hpp"
#include "storage/durable_file.hpp"

namespace jobnet {
using base::JoinCommas;
using base::SplitCommas;

PrincipalTable::PrincipalTable(const std::vector<protocol::Principal>& configured,
                               std::string added_path)
    : added_path_(std::move(added_path)) {
  for (const auto& p : configured) entries_.push_back({p, false});
  Index();
}

Status PrincipalTable::LoadAdded() {
  if (added_path_.empty() || !std::filesystem::exists(added_path_)) return Status::OK();
  std::vector<protocol::Principal> added;
  if (Status s = LoadPrincipalsFile(added_path_, &added); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : added) {
    bool taken = false;
    for (const auto& e : entries_) taken = taken || e.p.name == p.name || e.p.key == p.key;
    if (Status s = CheckPrincipal(p); !s.ok() || taken) continue;  // the config won meanwhile
    entries_.push_back({std::move(p), true});
  }
  Index();
  return Status::OK();
}

void PrincipalTable::Index() {
  name_by_key_.clear();
  scopes_by_name_.clear();
  key_by_endpoint_.clear();
  types_by_name_.clear();
  for (const auto& e : entries_) {
    name_by_key_[e.p.key] = e.p.name;
    scopes_by_name_[e.p.name] = e.p.scopes;
    if (!e.p.types.empty())
      types_by_name_[e.p.name] = std::set<std::string>(e.p.types.begin(), e.p.types.end());
    for (const auto& ep : e.p.endpoints) key_by_endpoint_[ep] = e.p.key;
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

Status PrincipalTable::MayServe(const std::string& name,
                                const std::vector<std::string>& types) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = types_by_name_.find(name);
  if (it == types_by_name_.end()) return Status::OK();
  for (const auto& t : types)
    if (it->second.count(t) == 0) {
      std::string allowed;
      for (const auto& a : it->second) allowed += (allowed.empty() ? "" : ", ") + a;
      return Status::PermissionDenied("principal " + name + " may serve only the types " +
                                      allowed + ", not " + t.substr(0, 64));
    }
  return Status::OK();
}

std::string PrincipalTable::ServerKeyOf(const std::string& endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = key_by_endpoint_.find(endpoint);
  return it == key_by_endpoint_.end() ? std::string() : it->second;
}

size_t PrincipalTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

protocol::PrincipalListReply PrincipalTable::List() const {
  protocol::PrincipalListReply out;
  for (const auto& e : entries_)
    out.principals.push_back({e.p.name, e.p.key, protocol::ScopeNames(e.p.scopes),
                              JoinCommas(e.p.endpoints), e.added ? "added" : "config",
                              JoinCommas(e.p.types)});
  return out;
}

Status PrincipalTable::Save() const {
  std::string text = "# Principals added with `jobnet principals add` (docs/operations.md §21)\n";
  for (const auto& e : entries_) {
    if (!e.added) continue;
    text += "\n[[principals]]\nname = \"" + e.p.name + "\"\nkey = \"" + e.p.key +
            "\"\nscopes = [";
    const auto scopes = SplitCommas(protocol::ScopeNames(e.p.scopes));
    for (size_t i = 0; i < scopes.size(); ++i) text += (i ? ", \"" : "\"") + scopes[i] + "\"";
    text += "]\nendpoints = [";
    for (size_t i = 0; i < e.p.endpoints.size(); ++i)
      text += (i ? ", \"" : "\"") + e.p.endpoints[i] + "\"";
    text += "]\ntypes = [";
    for (size_t i = 0; i < e.p.types.size(); ++i)
      text += (i ? ", \"" : "\"") + e.p.types[i] + "\"";
    text += "]\n";
  }
  return storage::ReplaceFileDurably(added_path_, text, 0600);
}

Result<protocol::PrincipalListReply> PrincipalTable::Apply(const protocol::PrincipalsRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r.action == "list") return List();
  if (added_path_.empty())
    return Status::InvalidArgument("this node's principals cannot be changed while it runs");
  if (r.action == "add") {
    protocol::Principal p;
    p.name = r.name;
    p.key = r.key;
    auto scopes = protocol::ParseScopes(SplitCommas(r.scopes));
    if (!scopes.ok()) return scopes.status();
    p.scopes = scopes.value();
    p.endpoints = SplitCommas(r.endpoints);
    p.types = SplitCommas(r.types);
    if (Status s = CheckPrincipal(p); !s.ok()) return s;
    for (const auto& e : entries_) {
      if (e.p.name == p.name)
        return Status::Conflict("a principal named " + p.name + " exists (remove it first)");
      if (e.p.key == p.key)
        return Status::Conflict("principal " + e.p.name + " holds that key already");
    }
    if (entries_.size() >= limits::kPrincipalsMax)
      return Status::TooLarge("this node has " + std::to_string(limits::kPrincipalsMax) +
                              " principals already");
    entries_.push_back({std::move(p), true});
  } else if (r.action == "remove") {
    auto it = entries_.begin();
    while (it != entries_.end() && it->p.name != r.name) ++it;
    if (it == entries_.end()) return Status::NotFound("no principal named " + r.name);
    if (!it->added)
      return Status::Conflict("principal " + r.name +
                              " comes from the node's configuration: remove it there");
    entries_.erase(it);
  } else {
    return Status::InvalidArgument("principals action must be add, remove or list");
  }
  if (Status s = Save(); !s.ok()) {
    // Not durable: the change is undone here too, so memory never differs from the file.
    std::vector<protocol::Principal> added;
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [](const Entry& e) { return e.added; }),
                   entries_.end());
    if (LoadPrincipalsFile(added_path_, &added).ok())
      for (auto& p : added) entries_.push_back({std::move(p), true});
    Index();
    return s;
  }
  Index();
  return List();
}

}  // namespace jobnet
