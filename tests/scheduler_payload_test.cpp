// Payloads of jobs that wait far ahead (core/scheduler_payloads.cpp): not held in memory once
// journaled, read back through the loader just before the job runs; a payload that cannot be
// read fails the attempt instead of losing or wedging the job. Method: a scheduler on a fake
// clock whose loader reads from a map standing in for the journal's "p:" records, filled from
// the journal writes the scheduler asks for.
#include <map>
#include <string>
#include <vector>

#include "tests/scheduler_fixture.hpp"

namespace jobnet::sched {
namespace {

class PayloadTest : public SchedulerTest {
 protected:
  void SetUp() override { MakeWithLoader(); }
  void MakeWithLoader(uint32_t workers = 1) {
    SchedulerOptions o;
    o.payload_drop_ahead_ms = 60'000;
    o.load_payload = [this](uint64_t seq) -> Result<std::string> {
      loads_.push_back(seq);
      auto it = journal_.find(seq);
      if (it == journal_.end()) return Status::NotFound("no payload");
      return it->second;
    };
    Make(workers, o);
  }
  // Submits, and keeps the payloads the journal writes, as Journal::Write does.
  std::string SubmitKept(JobSpec spec) {
    std::string id = Submit(std::move(spec));
    Journal(fx_);
    return id;
  }
  void Journal(const Effects& fx) {
    for (const auto& w : fx.writes)
      if (!w.events.empty() && w.events.front().first == 0) journal_[w.job.seq] = w.job.spec.payload;
  }
  static JobSpec Delayed(uint64_t delay_ms, const std::string& payload) {
    JobSpec s = Spec();
    s.delay_ms = delay_ms;
    s.payload = payload;
    return s;
  }

  std::map<uint64_t, std::string> journal_;
  std::vector<uint64_t> loads_;
  const std::string kPayload = std::string("\xa5hello", 6);
  const size_t kNilBytes = 1;  // held_bytes counts a job's result too: nil until it succeeds
};

TEST_F(PayloadTest, AFarDelayedJobJournalsItsPayloadAndHoldsNoneUntilItRuns) {
  std::string id = SubmitKept(Delayed(10 * 3600 * 1000, kPayload));
  const protocol::Job& job = *s_->Find(1);
  EXPECT_TRUE(job.spec.payload.empty());  // not held
  EXPECT_EQ(journal_.at(1), kPayload);  // the first write carried it
  EXPECT_EQ(s_->held_bytes(), kNilBytes);  // its (nil) result only
  Tick(10 * 3600 * 1000);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].id, id);
  EXPECT_EQ(fx_.dispatches[0].payload, kPayload);
  EXPECT_EQ(loads_, std::vector<uint64_t>{1});
  EXPECT_EQ(s_->Find(1)->spec.payload, kPayload);
  EXPECT_EQ(s_->held_bytes(), kPayload.size() + kNilBytes);
  Finish(fx_.dispatches[0], true);
  EXPECT_EQ(Info(id).state, JobState::kSucceeded);
  EXPECT_EQ(s_->held_bytes(), 4u);  // its result and a nil payload (a succeeded one drops it)
}

TEST_F(PayloadTest, JobsDueSoonAndNodesWithoutALoaderKeepTheirPayloads) {
  SubmitKept(Delayed(59'000, kPayload));
  EXPECT_EQ(s_->Find(1)->spec.payload, kPayload);
  Make(1);  // no loader
  Submit(Delayed(10 * 3600 * 1000, kPayload));
  EXPECT_EQ(s_->Find(1)->spec.payload, kPayload);
  EXPECT_EQ(s_->held_bytes(), kPayload.size() + kNilBytes);
}

TEST_F(PayloadTest, ARecoveredFarDelayedJobDropsItsPayloadAndReadsItBackToRun) {
  SubmitKept(Delayed(3600 * 1000, kPayload));
  protocol::Job journaled = *s_->Find(1);
  journaled.spec.payload = kPayload;  // as the journal hands it over
  MakeWithLoader();
  s_->Recover({journaled}, 2, now_);
  s_->TakeEffects();
  EXPECT_TRUE(s_->Find(1)->spec.payload.empty());
  EXPECT_EQ(s_->held_bytes(), kNilBytes);  // its (nil) result only
  Tick(3600 * 1000);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].payload, kPayload);
}

TEST_F(PayloadTest, ACancelledThenRetriedJobReadsItsPayloadBack) {
  std::string id = SubmitKept(Delayed(3600 * 1000, kPayload));
  s_->Cancel(++token_, id, now_);
  s_->TakeEffects();
  s_->Retry(++token_, id, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].payload, kPayload);
}

TEST_F(PayloadTest, APayloadThatCannotBeReadFailsTheAttemptAndTheJobRetries) {
  JobSpec s = Delayed(3600 * 1000, kPayload);
  s.max_attempts = 2;
  s.backoff_ms = 1000;
  std::string id = SubmitKept(s);
  std::string kept = journal_.at(1);
  journal_.clear();  // a read that fails
  Tick(3600 * 1000);
  EXPECT_TRUE(fx_.dispatches.empty());
  auto info = Info(id);
  EXPECT_EQ(info.state, JobState::kDelayed);  // its backoff
  EXPECT_EQ(info.attempts, 1u);
  EXPECT_NE(info.error.find("payload could not be read"), std::string::npos) << info.error;
  journal_[1] = kept;  // readable again
  Tick(2000);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].payload, kPayload);
  EXPECT_EQ(fx_.dispatches[0].attempt, 2u);
}

}  // namespace
}  // namespace jobnet::sched
