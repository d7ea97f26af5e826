// sentiment: scores a text with a word list and a few rules (negation, intensifiers and
// diminishers, "but" contrast). The list is handlers/data/sentiment_lexicon.txt, compiled in by
// CMake, so the binary needs no data file at run time. Result {"score", "label", "matched",
// "words", "raw"}; docs/handlers.md describes the rules.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "handlers/registry.hpp"

namespace jobnet::handlers {

// The lexicon text (generated from handlers/data/sentiment_lexicon.txt).
extern const char kSentimentLexicon[];

namespace {

// A negator flips a polar word up to this many words after it ("not really good").
constexpr int kNegationWindowWords = 3;
// A booster changes a polar word up to this many words after it ("very very good").
constexpr int kBoostWindowWords = 2;
// A negated word keeps part of its weight, reversed: "not good" is milder than "bad".
constexpr double kNegationFactor = -0.75;
// Around a contrast word, the clause before counts half, the one after one and a half.
constexpr double kBeforeContrast = 0.5;
constexpr double kAfterContrast = 1.5;
// score = raw / sqrt(raw^2 + alpha): about 0.5 for one strong word, nearing +-1 with many.
constexpr double kNormalizeAlpha = 15;
// |score| below this is neutral.
constexpr double kNeutralBelow = 0.05;

struct Lexicon {
  std::unordered_map<std::string, double> polar;
  std::unordered_set<std::string> negators;
  std::unordered_map<std::string, double> boosters;
  std::unordered_set<std::string> contrasts;
  std::string problem;  // why the text did not parse ("" = it did)
};

// Parses the list; a malformed line or a word given twice is a problem (tests check it is "").
Lexicon ParseLexicon(const char* text) {
  Lexicon lex;
  std::istringstream in(text);
  std::string line;
  std::unordered_set<std::string> seen;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream f(line);
    std::string a, b;
    if (!(f >> a) || a[0] == '#') continue;
    auto bad = [&](const std::string& why) {
      if (lex.problem.empty()) lex.problem = "line " + std::to_string(n) + ": " + why;
    };
    std::string word = a;
    if (a == "@negate" || a == "@contrast") {
      if (!(f >> word)) bad(a + " needs a word");
      (a == "@negate" ? lex.negators : lex.contrasts).insert(word);
    } else {
      double v = 0;
      if (a == "@boost" && !(f >> word)) bad("@boost needs a word");
      if (!(f >> b)) {
        bad("'" + word + "' needs a number");
        continue;
      }
      char* end = nullptr;
      v = std::strtod(b.c_str(), &end);
      if (*end != '\0' || v == 0) bad("'" + b + "' is not a non-zero number");
      (a == "@boost" ? lex.boosters : lex.polar)[word] = v;
    }
    if (!seen.insert(word).second) bad("'" + word + "' is listed twice");
  }
  return lex;
}

const Lexicon& TheLexicon() {
  static const Lexicon lex = ParseLexicon(kSentimentLexicon);
  return lex;
}

// Lower-case words of letters, digits and apostrophes; sentence punctuation (. ! ? ;) is kept
// as a "." token: negation and boosts do not reach across it.
std::vector<std::string> Tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && cur.back() == '\'') cur.pop_back();
    size_t start = cur.find_first_not_of('\'');
    if (start != std::string::npos) out.push_back(cur.substr(start));
    cur.clear();
  };
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else {
      flush();
      if (c == '.' || c == '!' || c == '?' || c == ';') out.push_back(".");
    }
  }
  flush();
  return out;
}

struct Score {
  double raw = 0;
  uint64_t matched = 0;
  uint64_t words = 0;
};

Score Rate(const std::string& text, const Lexicon& lex) {
  std::vector<std::string> tokens = Tokens(text);
  Score s;
  // Word contributions of the current sentence (or of its part after a contrast word).
  std::vector<double> sentence;
  bool after_contrast = false;
  auto close_sentence = [&](double weight) {
    for (double v : sentence) s.raw += v * weight;
    sentence.clear();
  };
  int since_negator = kNegationWindowWords + 1;  // words since the last negator
  double boost = 1;
  int since_boost = kBoostWindowWords + 1;
  for (const std::string& t : tokens) {
    if (t == ".") {
      close_sentence(after_contrast ? kAfterContrast : 1);
      after_contrast = false;
      since_negator = kNegationWindowWords + 1;
      since_boost = kBoostWindowWords + 1;
      continue;
    }
    s.words++;
    if (lex.contrasts.count(t)) {
      close_sentence(after_contrast ? kAfterContrast * kBeforeContrast : kBeforeContrast);
      after_contrast = true;
      since_negator = kNegationWindowWords + 1;
      since_boost = kBoostWindowWords + 1;
      continue;
    }
    bool negator = lex.negators.count(t) > 0 ||
                   (t.size() > 3 && t.compare(t.size() - 3, 3, "n't") == 0);
    auto polar = lex.polar.find(t);
    if (polar != lex.polar.end()) {
      double v = polar->second;
      if (since_boost <= kBoostWindowWords) v *= boost;
      if (since_negator <= kNegationWindowWords) v *= kNegationFactor;
      sentence.push_back(v);
      s.matched++;
      since_boost = kBoostWindowWords + 1;
      since_negator = kNegationWindowWords + 1;  // a negation is used up by its word
    } else if (auto b = lex.boosters.find(t); b != lex.boosters.end()) {
      boost = since_boost <= kBoostWindowWords ? boost * b->second : b->second;
      since_boost = 0;
    }
    if (negator) since_negator = 0;
    since_negator++;
    since_boost++;
  }
  close_sentence(after_contrast ? kAfterContrast : 1);
  return s;
}

std::string CheckSentiment(const msgpack::object& payload) {
  if (std::string p = CheckText(payload); !p.empty()) return p;
  const std::string& problem = TheLexicon().problem;
  return problem.empty() ? "" : "sentiment lexicon is broken: " + problem;
}

HandlerResult Sentiment(const msgpack::object& payload, HandlerContext&) {
  std::string text;
  if (!AsString(payload, &text)) return HandlerResult::Fail("sentiment wants a string payload");
  const Lexicon& lex = TheLexicon();
  if (!lex.problem.empty()) return HandlerResult::Fail("sentiment lexicon is broken: " + lex.problem);
  Score s = Rate(text, lex);
  double score = s.raw / std::sqrt(s.raw * s.raw + kNormalizeAlpha);
  const char* label = score >= kNeutralBelow    ? "positive"
                      : score <= -kNeutralBelow ? "negative"
                                                : "neutral";
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(5);
  pk.pack("score"); pk.pack(std::round(score * 10000) / 10000);
  pk.pack("label"); pk.pack(label);
  pk.pack("matched"); pk.pack(s.matched);
  pk.pack("words"); pk.pack(s.words);
  pk.pack("raw"); pk.pack(std::round(s.raw * 10000) / 10000);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("sentiment", Sentiment,
               (PayloadRule{"text: a string (or bin)",
                            "{\"score\": -1..1, \"label\": \"positive\"|\"negative\"|\"neutral\", "
                            "\"matched\": lexicon words found, \"words\": N, \"raw\": unnormalised sum}",
                            CheckSentiment}));

}  // namespace
}  // namespace jobnet::handlers
