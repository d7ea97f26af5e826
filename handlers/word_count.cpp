// word_count: payload is text; result {"words": N, "lines": N, "bytes": N, "unique": N,
// "top": [[word, count], ...]} with the 10 most frequent words (lower-cased, ties by word).
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult WordCount(const msgpack::object& payload, HandlerContext&) {
  std::string text;
  if (!AsString(payload, &text)) return HandlerResult::Fail("word_count wants a string payload");
  std::unordered_map<std::string, uint64_t> counts;
  uint64_t words = 0, lines = text.empty() ? 0 : 1;
  std::string cur;
  for (char c : text) {
    if (c == '\n') lines++;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'') {
      cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!cur.empty()) {
      counts[cur]++;
      words++;
      cur.clear();
    }
  }
  if (!cur.empty()) {
    counts[cur]++;
    words++;
  }
  if (!text.empty() && text.back() == '\n') lines--;
  std::vector<std::pair<std::string, uint64_t>> top(counts.begin(), counts.end());
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (top.size() > 10) top.resize(10);
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(5);
  pk.pack("words"); pk.pack(words);
  pk.pack("lines"); pk.pack(lines);
  pk.pack("bytes"); pk.pack(static_cast<uint64_t>(text.size()));
  pk.pack("unique"); pk.pack(static_cast<uint64_t>(counts.size()));
  pk.pack("top"); pk.pack(top);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("word_count", WordCount,
               (PayloadRule{"text: a string (or bin)",
                            "{\"words\", \"lines\", \"bytes\", \"unique\": N, \"top\": [[word, count], ...]}",
                            CheckText}));

}  // namespace
}  // namespace jobnet::handlers
