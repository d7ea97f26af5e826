// Result reuse and coalescing (docs/architecture.md "Result reuse"), on the scheduler core with
// a fake clock: a retained succeeded result is copied into a new succeeded job, identical
// waiting or running work is joined so it runs once, failed work and other payloads run again,
// purge and recovery keep the index right; and the wire and journal encodings of its fields.
#include <gtest/gtest.h>

#include "core/content_key.hpp"
#include "core/scheduler_core.hpp"
#include "protocol/codec.hpp"

namespace jobnet::sched {
namespace {

using protocol::AcceptedReply;
using protocol::JobSpec;
using protocol::JobState;

class ReuseTest : public ::testing::Test {
 protected:
  void Make(SchedulerOptions o = {}) {
    o.node_id = "n1";
    o.workers = 1;
    s_ = std::make_unique<Scheduler>(o);
  }
  void SetUp() override { Make(); }

  static JobSpec Reuse(const std::string& payload = "\xa1x", bool reuse = true) {
    JobSpec s;
    s.type = "sha256";
    s.payload = payload;
    s.reuse = reuse;
    s.max_attempts = 1;
    return s;
  }
  AcceptedReply Submit(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    return std::get<AcceptedReply>(fx_.replies.at(0).body);
  }
  // Ends the run `d` with `result`, or with a failure when `result` is empty.
  void End(const Dispatch& d, const std::string& result) {
    s_->Complete(Outcome{d.slot, d.lease, d.seq, !result.empty(), result, "boom"}, now_);
    fx_ = s_->TakeEffects();
  }
  protocol::JobInfo Info(const std::string& id) {
    s_->StatusOf(++token_, id);
    return std::get<protocol::JobReply>(s_->TakeEffects().replies.at(0).body).job;
  }
  uint64_t Counter(const std::string& name) { return s_->Stats().counters[name]; }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
  const std::string result_ = "\xa3" "abc";
};

TEST_F(ReuseTest, RetainedResultIsCopiedIntoANewSucceededJobWithoutARun) {
  AcceptedReply first = Submit(Reuse());
  End(fx_.dispatches.at(0), result_);
  AcceptedReply again = Submit(Reuse());
  EXPECT_NE(again.id, first.id);
  EXPECT_EQ(again.state, JobState::kSucceeded);
  EXPECT_EQ(again.reused_from, first.id);
  EXPECT_FALSE(again.coalesced);
  EXPECT_TRUE(fx_.dispatches.empty());
  // Journaled like any job: its submit and its end, already succeeded, without a payload.
  ASSERT_EQ(fx_.writes.size(), 1u);
  EXPECT_EQ(fx_.writes[0].events.size(), 2u);
  EXPECT_EQ(fx_.writes[0].job.state, JobState::kSucceeded);
  EXPECT_EQ(fx_.writes[0].job.spec.payload, protocol::MsgpackNil());
  protocol::JobInfo info = Info(again.id);
  EXPECT_EQ(info.result, result_);
  EXPECT_EQ(info.reused_from, first.id);
  EXPECT_EQ(info.attempts, 0u);
  EXPECT_EQ(Counter("reused"), 1u);
  EXPECT_EQ(Counter("succeeded"), 1u);  // runs that succeeded: the copy never ran
}

TEST_F(ReuseTest, IdenticalSubmitsWhileItWaitsOrRunsJoinItAndTheWorkRunsOnce) {
  AcceptedReply running = Submit(Reuse("\xa1y"));  // takes the only slot
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  Dispatch run = fx_.dispatches[0];
  AcceptedReply waiting = Submit(Reuse());  // queued behind it
  EXPECT_FALSE(waiting.coalesced);
  for (int i = 0; i < 5; ++i) {
    AcceptedReply joined = Submit(Reuse());
    EXPECT_EQ(joined.id, waiting.id);
    EXPECT_TRUE(joined.coalesced);
    EXPECT_EQ(joined.state, JobState::kQueued);
    EXPECT_TRUE(fx_.writes.empty());  // no new job
  }
  AcceptedReply joined_running = Submit(Reuse("\xa1y"));
  EXPECT_EQ(joined_running.id, running.id);
  EXPECT_EQ(joined_running.state, JobState::kRunning);
  End(run, result_);
  ASSERT_EQ(fx_.dispatches.size(), 1u);  // the queued job, once
  End(fx_.dispatches[0], result_);
  EXPECT_EQ(Info(waiting.id).state, JobState::kSucceeded);
  EXPECT_EQ(Counter("coalesced"), 6u);
  EXPECT_EQ(Counter("submitted"), 2u);
}

TEST_F(ReuseTest, OtherPayloadOtherTypeOrNoReuseRunsAgain) {
  AcceptedReply first = Submit(Reuse());
  End(fx_.dispatches.at(0), result_);
  EXPECT_TRUE(Submit(Reuse("\xa1z")).reused_from.empty());
  End(fx_.dispatches.at(0), result_);
  JobSpec other_type = Reuse();
  other_type.type = "echo";
  EXPECT_TRUE(Submit(other_type).reused_from.empty());
  End(fx_.dispatches.at(0), result_);
  // Without reuse the submit runs the work, and is not indexed for later reuse either.
  AcceptedReply plain = Submit(Reuse("\xa1w", false));
  EXPECT_TRUE(plain.reused_from.empty());
  EXPECT_EQ(fx_.dispatches.size(), 1u);
  End(fx_.dispatches.at(0), result_);
  EXPECT_TRUE(Submit(Reuse("\xa1w")).reused_from.empty());
  EXPECT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(Counter("reused"), 0u);
}

TEST_F(ReuseTest, FailedOrCancelledWorkIsNotReusedAndTheNewJobTakesTheKeyOver) {
  AcceptedReply dead = Submit(Reuse());
  End(fx_.dispatches.at(0), "");
  ASSERT_EQ(Info(dead.id).state, JobState::kDead);
  AcceptedReply rerun = Submit(Reuse());
  EXPECT_NE(rerun.id, dead.id);
  EXPECT_TRUE(rerun.reused_from.empty());
  EXPECT_FALSE(rerun.coalesced);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(Submit(Reuse()).id, rerun.id);  // joins the rerun, not the dead job
  s_->Cancel(++token_, rerun.id, now_);
  s_->TakeEffects();
  AcceptedReply third = Submit(Reuse());
  EXPECT_NE(third.id, rerun.id);
  EXPECT_FALSE(third.coalesced);
  EXPECT_EQ(Counter("reused"), 0u);
}

TEST_F(ReuseTest, PurgedJobIsNoLongerReused) {
  SchedulerOptions o;
  o.retention_ms = 1000;
  Make(o);
  AcceptedReply first = Submit(Reuse());
  End(fx_.dispatches.at(0), result_);
  now_ += 1000;
  s_->Tick(now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.deletes.size(), 1u);
  AcceptedReply again = Submit(Reuse());
  EXPECT_TRUE(again.reused_from.empty());
  EXPECT_EQ(fx_.dispatches.size(), 1u);  // the work runs again
}

TEST_F(ReuseTest, IdempotencyKeyIsCheckedBeforeReuse) {
  JobSpec keyed = Reuse();
  keyed.key = "k1";
  AcceptedReply first = Submit(keyed);
  End(fx_.dispatches.at(0), result_);
  AcceptedReply same_key = Submit(keyed);
  EXPECT_EQ(same_key.id, first.id);
  EXPECT_TRUE(same_key.duplicate);
  EXPECT_TRUE(same_key.reused_from.empty());
  keyed.key = "k2";  // a new key: a new job, with the reused result
  AcceptedReply reused = Submit(keyed);
  EXPECT_EQ(reused.reused_from, first.id);
  EXPECT_EQ(Info(reused.id).key, "k2");
}

TEST_F(ReuseTest, ABatchOfIdenticalSpecsMakesOneJob) {
  std::vector<protocol::BatchSpec> specs(3, protocol::BatchSpec{Reuse(), Status::OK()});
  s_->SubmitBatch(++token_, specs, now_);
  fx_ = s_->TakeEffects();
  auto& items = std::get<protocol::BatchAcceptedReply>(fx_.replies.at(0).body).items;
  ASSERT_EQ(items.size(), 3u);
  EXPECT_FALSE(items[0].submitted.coalesced);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(items[i].submitted.id, items[0].submitted.id);
    EXPECT_TRUE(items[i].submitted.coalesced);
  }
  EXPECT_EQ(fx_.dispatches.size(), 1u);
}

TEST_F(ReuseTest, TheIndexIsRebuiltFromJournaledRecordsAtRecovery) {
  AcceptedReply first = Submit(Reuse());
  End(fx_.dispatches.at(0), result_);
  AcceptedReply copy = Submit(Reuse());
  JobSpec more_attempts = Reuse("\xa1q");
  more_attempts.max_attempts = 3;  // its run, interrupted by the restart, is retried
  AcceptedReply waiting = Submit(more_attempts);
  // Through the journal's record encoding: the content key and reused_from survive it.
  std::vector<protocol::Job> journal;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto j = protocol::DecodeJobRecord(protocol::EncodeJobRecord(*s_->Find(seq)));
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    j.value().spec.payload = s_->Find(seq)->spec.payload;  // kept under its own key
    journal.push_back(std::move(j.value()));
  }
  EXPECT_EQ(journal[0].rare.get().reuse_key, ContentKey("sha256", "\xa1x"));
  EXPECT_TRUE(journal[1].rare.get().reuse_key.empty());  // a copy is not a source
  EXPECT_EQ(journal[1].rare.get().reused_from, first.id);
  Make();
  s_->Recover(journal, 4, now_);
  s_->TakeEffects();
  EXPECT_EQ(Info(copy.id).reused_from, first.id);
  EXPECT_EQ(Submit(Reuse()).reused_from, first.id);
  AcceptedReply joined = Submit(more_attempts);
  EXPECT_EQ(joined.id, waiting.id);
  EXPECT_TRUE(joined.coalesced);
}

TEST_F(ReuseTest, ContentKeySeparatesTypeFromPayload) {
  EXPECT_EQ(ContentKey("ab", "c").size(), 32u);
  EXPECT_NE(ContentKey("ab", "c"), ContentKey("a", "bc"));
  EXPECT_EQ(ContentKey("ab", "c"), ContentKey("ab", "c"));
}

TEST_F(ReuseTest, WireFieldsRoundTripAndAreAbsentWhenUnset) {
  auto round_trip = [](protocol::Body body) {
    std::string bytes = protocol::Encode(protocol::Envelope{limits::kProtocolVersion, 7, body});
    uint64_t corr = 0;
    auto env = protocol::Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(env.ok()) << env.status().ToString();
    return std::make_pair(bytes, env.value().body);
  };
  JobSpec spec = Reuse();
  auto [spec_bytes, spec_back] = round_trip(protocol::SubmitRequest{spec});
  EXPECT_TRUE(std::get<protocol::SubmitRequest>(spec_back).spec.reuse);
  spec.reuse = false;
  EXPECT_EQ(round_trip(protocol::SubmitRequest{spec}).first.find("reuse"), std::string::npos);
  AcceptedReply a{"n1-2", JobState::kSucceeded, false, {}, false};
  a.reused_from = "n1-1";
  auto back = std::get<AcceptedReply>(round_trip(a).second);
  EXPECT_EQ(back.reused_from, "n1-1");
  EXPECT_FALSE(back.coalesced);
  AcceptedReply c{"n1-1", JobState::kRunning, false, {}, false};
  c.coalesced = true;
  EXPECT_TRUE(std::get<AcceptedReply>(round_trip(c).second).coalesced);
  protocol::JobInfo info;
  info.id = "n1-2";
  info.reused_from = "n1-1";
  EXPECT_EQ(std::get<protocol::JobReply>(round_trip(protocol::JobReply{info}).second).job.reused_from,
            "n1-1");
}

TEST_F(ReuseTest, AScheduleCannotAskForReuse) {
  protocol::ScheduleSpec s;
  s.name = "tick";
  s.every_ms = 60000;
  s.job = Reuse();
  EXPECT_TRUE(protocol::Validate(s).IsInvalidArgument());
}

}  // namespace
}  // namespace jobnet::sched
