// QueueSet contract (core/queue_set.hpp), with a fake clock: order within a queue (priority,
// FIFO with aging, LIFO), weighted shares between queues, a small queue beside a flooded one,
// pause, concurrency and rate limits, and re-sorting when a queue's order changes.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/queue_set.hpp"

namespace jobnet::sched {
namespace {

class QueueSetTest : public ::testing::Test {
 protected:
  // Adds a job to `queue` and returns its seq.
  uint64_t Add(const std::string& queue, uint32_t priority = 0, const std::string& type = {}) {
    QueueSet::Entry e{++seq_, ++order_, now_, priority};
    queue_of_[e.seq] = queue;
    qs_.Add(queue, e, now_, type);
    return e.seq;
  }
  // The next job of one of `types` handed out, or 0.
  uint64_t NextOf(const QueueSet::TypeSet& types) {
    QueueSet::Entry e;
    return qs_.Next(now_, &types, &e) ? e.seq : 0;
  }
  // The next job handed out, or 0.
  uint64_t Next() {
    QueueSet::Entry e;
    return qs_.Next(now_, &e) ? e.seq : 0;
  }
  void Configure(const std::string& name, void (*edit)(QueueSettings&)) {
    QueueSettings s = qs_.SettingsOf(name);
    edit(s);
    qs_.Configure(s, now_);
  }

  QueueSet qs_;
  uint64_t now_ = 1'000'000;
  uint64_t seq_ = 0, order_ = 0;
  std::map<uint64_t, std::string> queue_of_;
};

TEST_F(QueueSetTest, FifoByPriorityThenAge) {
  uint64_t a = Add("q"), b = Add("q"), hi = Add("q", 5), c = Add("q");
  EXPECT_EQ(qs_.ready(), 4u);
  EXPECT_EQ((std::vector<uint64_t>{Next(), Next(), Next(), Next()}),
            (std::vector<uint64_t>{hi, a, b, c}));
  EXPECT_EQ(Next(), 0u);
}

TEST_F(QueueSetTest, LifoHandsOutTheNewestFirstWithinAPriority) {
  Configure("stack", [](QueueSettings& s) { s.order = QueueOrder::kLifo; });
  uint64_t a = Add("stack"), b = Add("stack"), hi = Add("stack", 3), c = Add("stack");
  EXPECT_EQ((std::vector<uint64_t>{Next(), Next(), Next(), Next()}),
            (std::vector<uint64_t>{hi, c, b, a}));
}

TEST_F(QueueSetTest, ChangingTheOrderResortsTheWaitingJobs) {
  uint64_t a = Add("q"), b = Add("q"), c = Add("q");
  Configure("q", [](QueueSettings& s) { s.order = QueueOrder::kLifo; });
  EXPECT_EQ(Next(), c);
  Configure("q", [](QueueSettings& s) { s.order = QueueOrder::kFifo; });
  EXPECT_EQ(Next(), a);
  EXPECT_EQ(Next(), b);
}

TEST_F(QueueSetTest, AgedLowPriorityJobGoesBeforeNewerHighPriorityJobs) {
  uint64_t low = Add("q", 0);
  // 255 levels of aging later, a priority-255 newcomer no longer overtakes it.
  now_ += 255 * limits::kPriorityAgingMsPerLevel;
  uint64_t hi_same = Add("q", 255);  // ties on effective priority: the older (low) goes first
  now_ += 1;
  uint64_t hi_later = Add("q", 255);
  EXPECT_EQ(Next(), low);
  EXPECT_EQ(Next(), hi_same);
  EXPECT_EQ(Next(), hi_later);
}

TEST_F(QueueSetTest, WeightsShareDispatchesInProportion) {
  Configure("heavy", [](QueueSettings& s) { s.weight = 3; });
  for (int i = 0; i < 1000; ++i) Add("heavy");
  for (int i = 0; i < 1000; ++i) Add("light");
  std::map<std::string, int> got;
  for (int i = 0; i < 400; ++i) {
    uint64_t seq = Next();
    qs_.RunEnded(queue_of_.at(seq));
    got[queue_of_.at(seq)]++;
  }
  EXPECT_NEAR(got["heavy"], 300, 1);
  EXPECT_NEAR(got["light"], 100, 1);
}

TEST_F(QueueSetTest, SmallQueueIsNotHeldBackByAFloodedOne) {
  for (int i = 0; i < 100000; ++i) Add("flood");
  for (int i = 0; i < 50; ++i) qs_.RunEnded(queue_of_.at(Next()));
  std::vector<uint64_t> small;
  for (int i = 0; i < 10; ++i) small.push_back(Add("small"));
  std::vector<uint64_t> small_run;
  for (int i = 0; i < 20; ++i) {
    uint64_t seq = Next();
    qs_.RunEnded(queue_of_.at(seq));
    if (queue_of_.at(seq) == "small") small_run.push_back(seq);
  }
  EXPECT_EQ(small_run, small);  // every other dispatch, in their FIFO order
}

TEST_F(QueueSetTest, PausedQueueHandsOutNothingUntilResumed) {
  Configure("p", [](QueueSettings& s) { s.paused = true; });
  uint64_t a = Add("p");
  uint64_t other = Add("other");
  EXPECT_EQ(Next(), other);
  EXPECT_FALSE(qs_.HasEligible(now_));
  EXPECT_EQ(qs_.ready(), 1u);
  Configure("p", [](QueueSettings& s) { s.paused = false; });
  EXPECT_TRUE(qs_.HasEligible(now_));
  EXPECT_EQ(Next(), a);
}

TEST_F(QueueSetTest, ConcurrencyLimitHoldsTheQueueUntilARunEnds) {
  Configure("c", [](QueueSettings& s) { s.concurrency = 2; });
  for (int i = 0; i < 5; ++i) Add("c");
  uint64_t other = Add("other");
  std::vector<uint64_t> got;
  while (uint64_t seq = Next()) got.push_back(seq);
  ASSERT_EQ(got.size(), 3u);  // two of c, and the other queue's job
  EXPECT_NE(std::find(got.begin(), got.end(), other), got.end());
  EXPECT_EQ(qs_.running("c"), 2u);
  qs_.RunEnded("c");
  EXPECT_NE(Next(), 0u);
  EXPECT_EQ(Next(), 0u);
}

TEST_F(QueueSetTest, RateLimitStartsABurstThenOneRunPerToken) {
  Configure("r", [](QueueSettings& s) { s.rate = 2; });  // 2 per second, bucket of 2
  for (int i = 0; i < 10; ++i) Add("r");
  int started = 0;
  while (Next() != 0) started++;
  EXPECT_EQ(started, 2);
  EXPECT_EQ(qs_.NextWakeMs(), now_ + 500);
  now_ += 499;
  EXPECT_FALSE(qs_.HasEligible(now_));
  now_ += 1;
  EXPECT_NE(Next(), 0u);
  EXPECT_EQ(Next(), 0u);
  now_ += 10'000;  // a long pause refills only one second's worth
  started = 0;
  while (Next() != 0) started++;
  EXPECT_EQ(started, 2);
}

TEST_F(QueueSetTest, IdleUnconfiguredQueuesAreForgotten) {
  uint64_t a = Add("tmp");
  EXPECT_EQ(Next(), a);
  qs_.RunEnded("tmp");
  EXPECT_EQ(qs_.running("tmp"), 0u);
  EXPECT_FALSE(qs_.IsConfigured("tmp"));
  Configure("kept", [](QueueSettings& s) { s.weight = 2; });
  EXPECT_EQ(qs_.AllConfigured().size(), 1u);
  EXPECT_EQ(qs_.SettingsOf("kept").weight, 2u);
}

TEST_F(QueueSetTest, OldestWaitIsTheLongestWaitingReadyJob) {
  EXPECT_EQ(qs_.OldestWaitMs("q", now_), 0u);
  Add("q");
  now_ += 300;
  Add("q", 9);
  EXPECT_EQ(qs_.OldestWaitMs("q", now_ + 200), 500u);
}

// A taker that runs only some types (an external worker, or slots without a handler for the
// others) gets the best job of its types, passing over jobs it cannot run, in the same order and
// with the same limits as everyone else.
TEST_F(QueueSetTest, TypeFilteredTakersSkipJobsOfOtherTypesInOrder) {
  uint64_t ext1 = Add("q", 9, "py"), local1 = Add("q", 0, "echo"), ext2 = Add("q", 0, "py");
  uint64_t other = Add("r", 0, "echo");
  EXPECT_TRUE(qs_.AnyEligibleFor(nullptr));
  QueueSet::TypeSet none{"nothing"};
  EXPECT_FALSE(qs_.AnyEligibleFor(&none));
  EXPECT_EQ(NextOf(none), 0u);
  // The echo slots take echo jobs from both queues; the higher-priority py job waits for its taker.
  EXPECT_EQ(NextOf({"echo"}), local1);
  EXPECT_EQ(NextOf({"echo"}), other);
  EXPECT_EQ(NextOf({"echo"}), 0u);
  QueueSet::TypeSet py{"py"};
  EXPECT_TRUE(qs_.AnyEligibleFor(&py));
  EXPECT_EQ(NextOf(py), ext1);
  // Limits count every taker's runs: two run in q (echo and py), so concurrency 2 stops it.
  Configure("q", [](QueueSettings& s) { s.concurrency = 2; });
  EXPECT_EQ(NextOf(py), 0u);
  qs_.RunEnded("q");
  EXPECT_EQ(NextOf(py), ext2);
  EXPECT_EQ(qs_.ready(), 0u);
}

TEST_F(QueueSetTest, RemovingAJobNeedsItsType) {
  uint64_t a = Add("q", 0, "py");
  QueueSet::Entry e{a, 1, now_, 0};
  qs_.Remove("q", e, "py");
  EXPECT_EQ(qs_.ready(), 0u);
  EXPECT_EQ(Next(), 0u);
}

}  // namespace
}  // namespace jobnet::sched
