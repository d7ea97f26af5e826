// The event stream's state machine (core/event_log.hpp): pages from memory and from the journal
// (a fake reader over a vector), filters, the gap flag, the scan bound, and held long polls
// answered by Publish or Expire, bounded in number. Driven with a fake clock.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/event_log.hpp"

namespace jobnet {
namespace {

using protocol::EventPage;
using protocol::EventQuery;
using protocol::StateEvent;

StateEvent Ev(uint64_t seq, const std::string& queue = "q", const std::string& id = "") {
  StateEvent e;
  e.seq = seq;
  e.id = id.empty() ? "n1-" + std::to_string(seq) : id;
  e.queue = queue;
  e.type = "echo";
  e.state = JobState::kQueued;
  return e;
}

EventQuery Query(uint64_t since, uint64_t wait_ms = 0, std::string queue = "", std::string job = "") {
  EventQuery q;
  q.since = since;
  q.wait_ms = wait_ms;
  q.queue = std::move(queue);
  q.job = std::move(job);
  return q;
}

std::vector<uint64_t> Seqs(const EventPage& p) {
  std::vector<uint64_t> out;
  for (const auto& e : p.events) out.push_back(e.seq);
  return out;
}

class EventLogTest : public ::testing::Test {
 protected:
  // The "journal": every event ever published, minus the trimmed ones (seq < oldest_).
  std::vector<StateEvent> journal_;
  uint64_t oldest_ = 1;
  int reads_ = 0;

  std::unique_ptr<EventLog> Make(uint64_t next_seq, EventLog::Options o = {}) {
    auto reader = [this](uint64_t from, uint64_t to, uint32_t scan_max,
                         const std::function<bool(StateEvent&&)>& fn, uint64_t* covered) {
      ++reads_;
      *covered = from - 1;
      uint32_t n = 0;
      for (const auto& e : journal_) {
        if (e.seq < std::max(from, oldest_) || e.seq > to) continue;
        *covered = e.seq;
        StateEvent copy = e;
        if (!fn(std::move(copy)) || ++n == scan_max) return Status::OK();
      }
      *covered = to;
      return Status::OK();
    };
    return std::make_unique<EventLog>(next_seq, reader, [this] { return oldest_; }, o);
  }
  // Publishes events first..last (each also "journaled").
  void Publish(EventLog& log, uint64_t first, uint64_t last, EventLog::Answers* answers,
               const std::string& queue = "q") {
    std::vector<StateEvent> evs;
    for (uint64_t s = first; s <= last; ++s) {
      evs.push_back(Ev(s, queue));
      journal_.push_back(evs.back());
    }
    log.Publish(std::move(evs), answers);
  }
  EventPage Now(EventLog& log, const EventQuery& q) {
    EventPage page;
    bool held = true;
    Status s = log.Query(1, q, 0, &page, &held);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_FALSE(held);
    return page;
  }
};

TEST_F(EventLogTest, RecentEventsComeFromMemoryFilteredAndPaged) {
  auto log = Make(1);
  EventLog::Answers answers;
  Publish(*log, 1, 5, &answers);
  Publish(*log, 6, 6, &answers, "other");
  EXPECT_TRUE(answers.empty());
  EventPage p = Now(*log, Query(2));
  EXPECT_EQ(Seqs(p), std::vector<uint64_t>({3, 4, 5, 6}));
  EXPECT_EQ(p.next, 6u);
  EXPECT_EQ(p.oldest, 1u);
  EXPECT_FALSE(p.gap);
  EXPECT_EQ(Seqs(Now(*log, Query(0, 0, "other"))), std::vector<uint64_t>({6}));
  EXPECT_EQ(Seqs(Now(*log, Query(0, 0, "", "n1-4"))), std::vector<uint64_t>({4}));
  EventQuery two = Query(0);
  two.max = 2;
  p = Now(*log, two);
  EXPECT_EQ(Seqs(p), std::vector<uint64_t>({1, 2}));
  EXPECT_EQ(p.next, 2u);  // the cursor stops where the page did
  EXPECT_EQ(reads_, 0);   // all of it was in memory
  // Nothing new, no wait: an empty page that does not move the cursor.
  p = Now(*log, Query(6));
  EXPECT_TRUE(p.events.empty());
  EXPECT_EQ(p.next, 6u);
}

TEST_F(EventLogTest, OlderEventsComeFromTheJournalThenMemory) {
  EventLog::Options o;
  o.memory_max = 3;
  auto log = Make(1, o);
  EventLog::Answers answers;
  Publish(*log, 1, 10, &answers);
  EXPECT_EQ(log->in_memory(), 3u);
  EventPage p = Now(*log, Query(0));
  EXPECT_EQ(p.events.size(), 10u);
  EXPECT_EQ(p.events.front().seq, 1u);
  EXPECT_EQ(p.events.back().seq, 10u);
  EXPECT_EQ(p.next, 10u);
  EXPECT_EQ(reads_, 1);
}

TEST_F(EventLogTest, ASinceOlderThanTheOldestKeptEventIsAGap) {
  auto log = Make(1);
  EventLog::Answers answers;
  Publish(*log, 1, 10, &answers);
  oldest_ = 6;  // the journal trimmed 1..5
  EventPage p = Now(*log, Query(2));
  EXPECT_TRUE(p.gap);
  EXPECT_EQ(p.oldest, 6u);
  EXPECT_EQ(Seqs(p).front(), 6u);
  // Exactly at the edge: nothing is lost.
  EXPECT_FALSE(Now(*log, Query(5)).gap);
  // A since past the newest event (a replaced data dir): a gap, and the cursor goes back.
  p = Now(*log, Query(99, 5000));
  EXPECT_TRUE(p.gap);
  EXPECT_TRUE(p.events.empty());
  EXPECT_EQ(p.next, 10u);
}

TEST_F(EventLogTest, AFilterThatMatchesNothingStopsAtTheScanBound) {
  EventLog::Options o;
  o.scan_max = 4;
  o.memory_max = 2;
  auto log = Make(1, o);
  EventLog::Answers answers;
  Publish(*log, 1, 10, &answers);
  EventPage p = Now(*log, Query(0, 5000, "nope"));  // answered at once: it did not reach the end
  EXPECT_TRUE(p.events.empty());
  EXPECT_EQ(p.next, 4u);
  p = Now(*log, Query(p.next, 5000, "nope"));
  EXPECT_EQ(p.next, 8u);
  // From the journal into memory, within one budget.
  p = Now(*log, Query(6, 0, "nope"));
  EXPECT_EQ(p.next, 10u);
}

TEST_F(EventLogTest, ALongPollIsAnsweredByTheFirstEventItWants) {
  auto log = Make(8);  // a journal that already holds 1..7
  for (uint64_t s = 1; s <= 7; ++s) journal_.push_back(Ev(s));
  EventPage page;
  bool held = false;
  ASSERT_TRUE(log->Query(41, Query(7, 1000, "mail"), 100, &page, &held).ok());
  EXPECT_TRUE(held);
  ASSERT_TRUE(log->Query(42, Query(7, 1000), 100, &page, &held).ok());
  EXPECT_TRUE(held);
  EXPECT_EQ(log->held(), 2u);
  EventLog::Answers answers;
  Publish(*log, 8, 9, &answers);  // queue "q": only the unfiltered one is answered
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].first, 42u);
  EXPECT_EQ(Seqs(answers[0].second), std::vector<uint64_t>({8, 9}));
  EXPECT_EQ(answers[0].second.next, 9u);
  answers.clear();
  Publish(*log, 10, 10, &answers, "mail");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].first, 41u);
  EXPECT_EQ(Seqs(answers[0].second), std::vector<uint64_t>({10}));
  EXPECT_EQ(log->held(), 0u);
}

TEST_F(EventLogTest, AnUnansweredLongPollExpiresWithAnEmptyPageThatMovedOn) {
  auto log = Make(1);
  EventPage page;
  bool held = false;
  ASSERT_TRUE(log->Query(7, Query(0, 1000, "mail"), 100, &page, &held).ok());
  ASSERT_TRUE(held);
  EventLog::Answers answers;
  Publish(*log, 1, 3, &answers);  // not for it
  log->Expire(1099, &answers);
  EXPECT_TRUE(answers.empty());
  log->Expire(1100, &answers);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].first, 7u);
  EXPECT_TRUE(answers[0].second.events.empty());
  EXPECT_EQ(answers[0].second.next, 3u);  // it need not look at 1..3 again
  EXPECT_EQ(log->held(), 0u);
}

TEST_F(EventLogTest, HeldRequestsAreBounded) {
  EventLog::Options o;
  o.waiters_max = 2;
  auto log = Make(1, o);
  EventPage page;
  bool held = false;
  ASSERT_TRUE(log->Query(1, Query(0, 1000), 0, &page, &held).ok());
  ASSERT_TRUE(log->Query(2, Query(0, 1000), 0, &page, &held).ok());
  Status s = log->Query(3, Query(0, 1000), 0, &page, &held);
  EXPECT_TRUE(s.IsOverloaded()) << s.ToString();
  EXPECT_FALSE(held);
  // An answered one makes room.
  EventLog::Answers answers;
  log->Expire(1000, &answers);
  EXPECT_EQ(answers.size(), 2u);
  EXPECT_TRUE(log->Query(3, Query(0, 1000), 1000, &page, &held).ok());
  EXPECT_TRUE(held);
}

}  // namespace
}  // namespace jobnet
