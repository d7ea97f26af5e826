// find_patterns: finds every match of up to 32 regular expressions in a text with RE2, whose
// matching time is linear in the text whatever the pattern, so a hostile pattern such as
// (a*)*b cannot hang a worker as it would a backtracking engine. Payload {"text": str,
// "patterns": [str, ...], "max_matches": N}; positions are byte offsets.
#include <re2/re2.h>

#include <memory>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

struct Request {
  std::string text;
  std::vector<std::string> patterns;
  uint32_t max_matches = limits::kFindMatchesDefault;
};

std::string ReadPatterns(const msgpack::object& v, std::vector<std::string>* out) {
  if (v.type != msgpack::type::ARRAY || v.via.array.size == 0 ||
      v.via.array.size > limits::kFindPatternsMax)
    return "find_patterns: patterns must be an array of 1.." +
           std::to_string(limits::kFindPatternsMax) + " strings";
  for (uint32_t i = 0; i < v.via.array.size; ++i) {
    std::string p;
    if (!AsString(v.via.array.ptr[i], &p)) return "find_patterns: each pattern must be a string";
    if (p.size() > limits::kFindPatternBytesMax)
      return "find_patterns: pattern " + std::to_string(i) + " is longer than " +
             std::to_string(limits::kFindPatternBytesMax) + " bytes";
    out->push_back(std::move(p));
  }
  return "";
}

// The request in the payload, or the problem with it.
std::string Read(const msgpack::object& payload, Request* r) {
  bool has_text = false;
  std::string problem = ReadFields(
      payload, "find_patterns",
      "find_patterns wants {\"text\": str, \"patterns\": [str, ...], \"max_matches\": N}",
      [&](const std::string& key, const msgpack::object& v) -> std::string {
        if (key == "text") {
          has_text = AsString(v, &r->text);
          return has_text ? "" : "find_patterns: text must be a string";
        }
        if (key == "patterns") return ReadPatterns(v, &r->patterns);
        if (key != "max_matches")
          return "find_patterns: unknown field '" + key + "' (known: text, patterns, max_matches)";
        if (v.type != msgpack::type::POSITIVE_INTEGER || v.via.u64 > limits::kFindMatchesMax)
          return "find_patterns: max_matches must be 0.." + std::to_string(limits::kFindMatchesMax);
        r->max_matches = static_cast<uint32_t>(v.via.u64);
        return "";
      });
  if (!problem.empty()) return problem;
  if (!has_text) return "find_patterns: text is required";
  if (r->patterns.empty()) return "find_patterns: patterns is required";
  return "";
}

// Compiles `pattern`; on a syntax error returns null and sets *problem.
std::unique_ptr<RE2> Compile(const std::string& pattern, size_t index, std::string* problem) {
  RE2::Options opt;
  opt.set_log_errors(false);  // the error goes back to the submitter, not to the node's stderr
  auto re = std::make_unique<RE2>(pattern, opt);
  if (re->ok()) return re;
  *problem = "find_patterns: pattern " + std::to_string(index) + " ('" + pattern +
             "') is not a valid RE2 expression: " + re->error();
  return nullptr;
}

std::string CheckFindPatterns(const msgpack::object& payload) {
  Request r;
  if (std::string p = Read(payload, &r); !p.empty()) return p;
  std::string problem;
  for (size_t i = 0; i < r.patterns.size(); ++i)
    if (!Compile(r.patterns[i], i, &problem)) return problem;
  return "";
}

HandlerResult FindPatterns(const msgpack::object& payload, HandlerContext& ctx) {
  Request req;
  if (std::string p = Read(payload, &req); !p.empty()) return HandlerResult::Fail(p);
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(1);
  pk.pack("patterns");
  pk.pack_array(static_cast<uint32_t>(req.patterns.size()));
  const re2::StringPiece text(req.text);
  for (size_t i = 0; i < req.patterns.size(); ++i) {
    std::string problem;
    std::unique_ptr<RE2> re = Compile(req.patterns[i], i, &problem);
    if (!re) return HandlerResult::Fail(problem);
    uint64_t count = 0;
    std::vector<std::pair<uint64_t, uint64_t>> positions;
    size_t pos = 0;
    re2::StringPiece m;
    while (pos <= text.size() && re->Match(text, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
      size_t start = static_cast<size_t>(m.data() - text.data());
      size_t end = start + m.size();
      if (positions.size() < req.max_matches) positions.emplace_back(start, end);
      ++count;
      pos = end > start ? end : end + 1;  // an empty match: go on from the next byte
      if (count % 4096 == 0 && ctx.ShouldStop()) return HandlerResult::Fail("find_patterns: stopped");
    }
    pk.pack_map(4);
    pk.pack("pattern"); pk.pack(req.patterns[i]);
    pk.pack("count"); pk.pack(count);
    pk.pack("positions"); pk.pack(positions);
    pk.pack("truncated"); pk.pack(count > positions.size());
  }
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("find_patterns", FindPatterns,
               (PayloadRule{"{\"text\": str, \"patterns\": [RE2 expression, ...] (1..32, each at "
                            "most 1 KiB), \"max_matches\": positions kept per pattern, 0..10000 "
                            "(default 100)}",
                            "{\"patterns\": [{\"pattern\", \"count\": every match, \"positions\": "
                            "[[start, end] byte offsets, ...], \"truncated\"}, ...]}",
                            CheckFindPatterns}));

}  // namespace
}  // namespace jobnet::handlers
