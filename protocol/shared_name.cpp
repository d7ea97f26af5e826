// The process-wide table of shared names (shared_name.hpp).
#include "protocol/shared_name.hpp"

#include <array>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace jobnet::protocol {

SharedName::SharedName() : SharedName(std::string()) {}

SharedName::SharedName(const std::string& text) : rep_(Find(text)) {}

const std::string& SharedName::str() const {
  static const std::string kEmpty;
  return rep_ == nullptr ? kEmpty : rep_->text;
}

SharedName::Rep* SharedName::Find(const std::string& text) {
  // Recovery makes two names for each of a million jobs, nearly all the same few: a small
  // per-thread cache of table entries (which are never freed) skips the lock for them.
  thread_local std::array<Rep*, 4> cache{};
  thread_local size_t next = 0;
  for (Rep* r : cache)
    if (r != nullptr && r->text == text) return r;
  static std::mutex mu;
  static auto* table = new std::unordered_map<std::string_view, Rep*>();  // never destroyed:
                                                                          // names outlive it
  std::lock_guard<std::mutex> lock(mu);
  auto it = table->find(text);
  if (it != table->end()) {
    cache[next++ % cache.size()] = it->second;
    return it->second;
  }
  if (table->size() >= kSharedNamesMax) return new Rep(text, /*pinned=*/false);
  Rep* r = new Rep(text, /*pinned=*/true);
  table->emplace(std::string_view(r->text), r);
  cache[next++ % cache.size()] = r;
  return r;
}

}  // namespace jobnet::protocol
