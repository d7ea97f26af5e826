// summarize: an extractive summary. Sentences are the nodes of a graph whose edges weigh how
// many normalised words two sentences share (divided by the log of their lengths, as TextRank);
// PageRank over that graph ranks them, and the top N are returned in their original order.
// Payload: a string, or {"text": str, "n": 1..100} (n defaults to 3).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <unordered_set>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

constexpr uint32_t kTopDefault = 3;
constexpr double kDamping = 0.85;      // PageRank's usual damping factor
constexpr double kConvergedBelow = 1e-6;  // no score moved more than this: done

// Words that say nothing about what a sentence is about.
const std::unordered_set<std::string>& StopWords() {
  static const std::unordered_set<std::string> words = {
      "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for",
      "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its",
      "this", "that", "these", "those", "he", "she", "they", "them", "his", "her", "their",
      "we", "you", "i", "me", "my", "our", "your", "not", "no", "so", "than", "then", "there",
      "here", "has", "have", "had", "do", "does", "did", "will", "would", "can", "could",
      "shall", "should", "may", "might", "must", "also", "into", "out", "up", "down", "about",
      "over", "which", "who", "whom", "what", "when", "where", "why", "how", "all", "any",
      "each", "more", "most", "some", "such", "only", "own", "same", "very", "just"};
  return words;
}

struct Sentence {
  size_t begin = 0, end = 0;  // byte range in the text, trimmed
  std::set<std::string> words;  // normalised
  size_t length = 0;            // words before removing stop words and duplicates
};

// Lower case, and a plural or third-person "s" dropped, so "worker" and "workers" meet.
std::string Normalise(std::string w) {
  if (w.size() > 3 && w.back() == 's' && w[w.size() - 2] != 's') w.pop_back();
  return w;
}

// Sentences end at . ! or ? followed by white space (or the end), and at a blank line.
std::vector<Sentence> Split(const std::string& text) {
  std::vector<Sentence> out;
  size_t start = 0;
  auto emit = [&](size_t end) {
    size_t b = start, e = end;
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    start = end;
    if (b == e) return;
    Sentence s;
    s.begin = b;
    s.end = e;
    std::string cur;
    auto flush = [&] {
      if (cur.empty()) return;
      s.length++;
      if (!StopWords().count(cur)) s.words.insert(Normalise(cur));
      cur.clear();
    };
    for (size_t i = b; i < e; ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if (std::isalnum(c) || c >= 0x80) {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else if (c != '\'') {
        flush();
      }
    }
    flush();
    out.push_back(std::move(s));
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool at_end = i + 1 == text.size();
    if ((c == '.' || c == '!' || c == '?') &&
        (at_end || std::isspace(static_cast<unsigned char>(text[i + 1])))) {
      emit(i + 1);
    } else if (c == '\n' && !at_end && text[i + 1] == '\n') {
      emit(i + 1);
    }
  }
  emit(text.size());
  return out;
}

struct Request {
  std::string text;
  uint32_t n = kTopDefault;
};

// The request in the payload, or the problem with it (the run and the check at submit).
std::string Read(const msgpack::object& payload, Request* r) {
  if (AsString(payload, &r->text)) return "";
  bool has_text = false;
  std::string problem = ReadFields(
      payload, "summarize",
      "summarize wants a string, or {\"text\": str, \"n\": 1.." +
          std::to_string(limits::kSummarizeTopMax) + "}",
      [&](const std::string& key, const msgpack::object& v) -> std::string {
        if (key == "text") {
          has_text = AsString(v, &r->text);
          return has_text ? "" : "summarize: text must be a string";
        }
        if (key != "n") return "summarize: unknown field '" + key + "' (known: text, n)";
        if (v.type != msgpack::type::POSITIVE_INTEGER || v.via.u64 == 0 ||
            v.via.u64 > limits::kSummarizeTopMax)
          return "summarize: n must be 1.." + std::to_string(limits::kSummarizeTopMax);
        r->n = static_cast<uint32_t>(v.via.u64);
        return "";
      });
  if (!problem.empty()) return problem;
  return has_text ? "" : "summarize: text is required";
}

std::string CheckSummarize(const msgpack::object& payload) {
  Request r;
  if (std::string p = Read(payload, &r); !p.empty()) return p;
  size_t count = Split(r.text).size();
  if (count > limits::kSummarizeSentencesMax)
    return "summarize: the text has " + std::to_string(count) + " sentences; the limit is " +
           std::to_string(limits::kSummarizeSentencesMax);
  return "";
}

double Similarity(const Sentence& a, const Sentence& b) {
  if (a.words.empty() || b.words.empty()) return 0;
  size_t shared = 0;
  const auto& small = a.words.size() < b.words.size() ? a.words : b.words;
  const auto& large = &small == &a.words ? b.words : a.words;
  for (const auto& w : small) shared += large.count(w);
  if (shared == 0) return 0;
  // Two one-word sentences have log lengths 0: count the shared word as is.
  double norm = std::log(static_cast<double>(a.length)) + std::log(static_cast<double>(b.length));
  return static_cast<double>(shared) / std::max(norm, 1.0);
}

HandlerResult Summarize(const msgpack::object& payload, HandlerContext& ctx) {
  Request req;
  if (std::string p = Read(payload, &req); !p.empty()) return HandlerResult::Fail(p);
  std::vector<Sentence> sentences = Split(req.text);
  size_t n = sentences.size();
  if (n > limits::kSummarizeSentencesMax)
    return HandlerResult::Fail("summarize: too many sentences (" + std::to_string(n) + ")");
  // The weighted graph, and each node's total outgoing weight.
  std::vector<std::vector<std::pair<size_t, double>>> edges(n);
  std::vector<double> out_weight(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (ctx.ShouldStop()) return HandlerResult::Fail("summarize: stopped");
    for (size_t j = i + 1; j < n; ++j) {
      double w = Similarity(sentences[i], sentences[j]);
      if (w == 0) continue;
      edges[i].emplace_back(j, w);
      edges[j].emplace_back(i, w);
      out_weight[i] += w;
      out_weight[j] += w;
    }
  }
  std::vector<double> score(n, 1.0), next(n);
  uint32_t rounds = 0;
  for (; rounds < limits::kSummarizeIterationsMax; ++rounds) {
    if (ctx.ShouldStop()) return HandlerResult::Fail("summarize: stopped");
    double moved = 0;
    for (size_t i = 0; i < n; ++i) {
      double in = 0;
      for (const auto& [j, w] : edges[i]) in += w / out_weight[j] * score[j];
      next[i] = (1 - kDamping) + kDamping * in;
      moved = std::max(moved, std::fabs(next[i] - score[i]));
    }
    score.swap(next);
    if (moved < kConvergedBelow) {
      ++rounds;
      break;
    }
  }
  // The best N (ties: the earlier sentence), then back in text order.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return score[a] > score[b]; });
  order.resize(std::min<size_t>(n, req.n));
  std::sort(order.begin(), order.end());
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(5);
  pk.pack("sentences");
  pk.pack_array(static_cast<uint32_t>(order.size()));
  for (size_t i : order)
    pk.pack(req.text.substr(sentences[i].begin, sentences[i].end - sentences[i].begin));
  pk.pack("indices"); pk.pack(order);
  pk.pack("scores");
  pk.pack_array(static_cast<uint32_t>(order.size()));
  for (size_t i : order) pk.pack(std::round(score[i] * 10000) / 10000);
  pk.pack("total"); pk.pack(static_cast<uint64_t>(n));
  pk.pack("iterations"); pk.pack(rounds);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("summarize", Summarize,
               (PayloadRule{"text: a string, or {\"text\": str, \"n\": 1..100 (default 3)}; at "
                            "most 2000 sentences",
                            "{\"sentences\": the top n in text order, \"indices\", \"scores\", "
                            "\"total\": sentences in the text, \"iterations\"}",
                            CheckSummarize}));

}  // namespace
}  // namespace jobnet::handlers
