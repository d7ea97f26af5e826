// The `running` record of a run on a local slot waits for the run's end (running_write_delay_ms,
// docs/journal.md §6a): a fast run is journaled in one write with its end, a long one has its
// record written once the delay has passed, and a crash before it is written still counts the
// attempt through the worker's run mark.
#include <gtest/gtest.h>

#include "core/scheduler_core.hpp"
#include "scheduler_fixture.hpp"
#include "storage/run_marks.hpp"

namespace jobnet::sched {
namespace {

constexpr uint64_t kDelayMs = 50;

class RunningWriteTest : public SchedulerTest {
 protected:
  static SchedulerOptions Options() {
    SchedulerOptions o;
    o.running_write_delay_ms = kDelayMs;
    return o;
  }
  // One slot: job a starts at once (journaled with its submit, both events), job b waits
  // behind it; then a ends and b starts. Leaves b's dispatch in b_run_ and the record the
  // journal got for b at its submit in b_submitted_.
  void StartBehindAnother() {
    Make(1, Options());
    a_ = Submit(Spec());
    ASSERT_EQ(fx_.writes.size(), 1u);
    EXPECT_EQ(fx_.writes[0].events.size(), 2u);  // submitted and started: written at once
    EXPECT_EQ(fx_.writes[0].job.state, JobState::kRunning);
    const Dispatch a_run = fx_.dispatches.at(0);
    b_ = Submit(Spec());
    ASSERT_EQ(fx_.writes.size(), 1u);
    b_submitted_ = fx_.writes[0].job;
    EXPECT_EQ(b_submitted_.state, JobState::kQueued);
    Finish(a_run, true);
    ASSERT_EQ(fx_.dispatches.size(), 1u);
    b_run_ = fx_.dispatches[0];
    EXPECT_EQ(b_run_.id, b_);
  }
  // The writes of the last call for job `id`.
  std::vector<protocol::JobWrite> WritesOf(const std::string& id) const {
    std::vector<protocol::JobWrite> out;
    for (const auto& w : fx_.writes)
      if (w.job.id == id) out.push_back(w);
    return out;
  }

  std::string a_, b_;
  protocol::Job b_submitted_;
  Dispatch b_run_;
};

TEST_F(RunningWriteTest, AFastRunIsJournaledInOneWriteWithItsEnd) {
  StartBehindAnother();
  EXPECT_EQ(WritesOf(a_).size(), 1u);  // a's end
  EXPECT_TRUE(WritesOf(b_).empty());   // b's start waits for its end
  Tick(kDelayMs - 1);
  EXPECT_TRUE(WritesOf(b_).empty());
  Finish(b_run_, true);
  auto w = WritesOf(b_);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].job.state, JobState::kSucceeded);
  ASSERT_EQ(w[0].events.size(), 2u);  // started, then succeeded, numbered in turn
  EXPECT_EQ(w[0].events[0].second.state, JobState::kRunning);
  EXPECT_EQ(w[0].events[1].second.state, JobState::kSucceeded);
  EXPECT_EQ(w[0].events[0].first + 1, w[0].events[1].first);
  EXPECT_EQ(w[0].job.attempts, 1u);
}

TEST_F(RunningWriteTest, ALongRunHasItsRunningRecordWrittenOnceTheDelayHasPassed) {
  StartBehindAnother();
  Tick(kDelayMs);
  auto w = WritesOf(b_);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].job.state, JobState::kRunning);
  ASSERT_EQ(w[0].events.size(), 1u);
  EXPECT_EQ(w[0].events[0].second.state, JobState::kRunning);
  Tick(kDelayMs);
  EXPECT_TRUE(WritesOf(b_).empty());  // written once
  Finish(b_run_, true);
  w = WritesOf(b_);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w[0].events.size(), 1u);  // only the end is new
  EXPECT_EQ(w[0].events[0].second.state, JobState::kSucceeded);
}

TEST_F(RunningWriteTest, DrainingWritesTheRunningRecordsAtOnce) {
  StartBehindAnother();
  s_->Drain();
  fx_ = s_->TakeEffects();
  auto w = WritesOf(b_);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].job.state, JobState::kRunning);
}

TEST_F(RunningWriteTest, ACrashBeforeTheRunningRecordIsWrittenStillCountsTheAttempt) {
  StartBehindAnother();
  // The node dies while b runs: the journal holds b as submitted, and the worker's mark says
  // that attempt 1 of it started.
  ASSERT_EQ(b_submitted_.attempts, 0u);
  protocol::Job journaled = b_submitted_;
  auto started = RunMarks::Started({RunMark{b_run_.slot, b_run_.seq, b_run_.attempt}});
  ASSERT_TRUE(RunMarks::ApplyTo(started, &journaled));
  Make(1, Options());
  s_->Recover({journaled}, b_run_.seq + 1, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].id, b_);
  EXPECT_EQ(fx_.dispatches[0].attempt, 2u);  // attempt 1 was counted
  auto info = Info(b_);
  EXPECT_EQ(info.attempts, 2u);
  EXPECT_EQ(s_->Stats().counters["recovered_running"], 1u);
}

TEST_F(RunningWriteTest, WithoutADelayTheStartIsWrittenWithItsBatch) {
  Make(1);  // running_write_delay_ms = 0
  const Dispatch a_run = [&] {
    Submit(Spec());
    return fx_.dispatches.at(0);
  }();
  std::string b = Submit(Spec());
  Finish(a_run, true);
  auto w = WritesOf(b);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].job.state, JobState::kRunning);
}

}  // namespace
}  // namespace jobnet::sched
