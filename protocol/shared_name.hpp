// A name that many jobs carry (their type and queue), held once and shared: a node sees a few
// distinct ones across a million jobs, and a std::string costs 32 bytes in each.
#ifndef JOBNET_PROTOCOL_SHARED_NAME_HPP_
#define JOBNET_PROTOCOL_SHARED_NAME_HPP_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace jobnet::protocol {

// Reads as a const std::string. Copies share one text (8 bytes each); copies may live on other
// threads (a job's journal copy goes to the writer). Making one from a string looks it up in a
// process-wide table of at most kSharedNamesMax names, kept for the process's life; past that,
// a name gets a text of its own, freed with its last copy, so no input can grow the table
// without bound.
class SharedName {
 public:
  static constexpr size_t kSharedNamesMax = 4096;

  SharedName();  // ""
  SharedName(const std::string& text);  // NOLINT(google-explicit-constructor): a name is text
  SharedName(const char* text) : SharedName(std::string(text)) {}  // NOLINT
  SharedName(const SharedName& o) : rep_(o.rep_) { Ref(rep_); }
  SharedName(SharedName&& o) noexcept : rep_(o.rep_) { o.rep_ = nullptr; }
  SharedName& operator=(const SharedName& o) {
    Ref(o.rep_);
    Unref(rep_);
    rep_ = o.rep_;
    return *this;
  }
  SharedName& operator=(SharedName&& o) noexcept {
    if (this != &o) {
      Unref(rep_);
      rep_ = o.rep_;
      o.rep_ = nullptr;
    }
    return *this;
  }
  ~SharedName() { Unref(rep_); }

  const std::string& str() const;
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return str().empty(); }
  size_t size() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }

  // Whether two names share one text (tests: the table holds each name once).
  bool SharesWith(const SharedName& o) const { return rep_ == o.rep_; }

 private:
  struct Rep {
    explicit Rep(std::string t, bool p) : text(std::move(t)), pinned(p) {}
    std::atomic<uint32_t> refs{1};
    const std::string text;
    const bool pinned;  // in the table: never freed, not counted
  };
  static void Ref(Rep* r) {
    if (r != nullptr && !r->pinned) r->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void Unref(Rep* r) {
    if (r != nullptr && !r->pinned && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete r;
  }
  static Rep* Find(const std::string& text);

  Rep* rep_;  // null only after a move: reads as ""
};

inline bool operator==(const SharedName& a, const SharedName& b) {
  return a.SharesWith(b) || a.str() == b.str();
}
inline bool operator==(const SharedName& a, const std::string& b) { return a.str() == b; }
inline bool operator==(const std::string& a, const SharedName& b) { return a == b.str(); }
inline bool operator==(const SharedName& a, const char* b) { return a.str() == b; }
inline bool operator!=(const SharedName& a, const SharedName& b) { return !(a == b); }
inline bool operator!=(const SharedName& a, const std::string& b) { return !(a == b); }
inline bool operator!=(const std::string& a, const SharedName& b) { return !(a == b); }
inline bool operator!=(const SharedName& a, const char* b) { return !(a == b); }
inline std::string operator+(const std::string& a, const SharedName& b) { return a + b.str(); }
inline std::string operator+(const char* a, const SharedName& b) { return a + b.str(); }
inline std::string operator+(const SharedName& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const SharedName& a, const char* b) { return a.str() + b; }
inline std::ostream& operator<<(std::ostream& os, const SharedName& n) { return os << n.str(); }

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_SHARED_NAME_HPP_
