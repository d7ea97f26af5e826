// Batches, bulk actions, payload checks and attempt history in the scheduler state machine,
// driven with a fake clock (issue 9). Method: call the scheduler as the actor does and check
// the replies, writes and job states it produces.
#include <gtest/gtest.h>

#include "core/scheduler_core.hpp"

namespace jobnet::sched {
namespace {

using protocol::JobSpec;
using protocol::JobState;

class BatchTest : public ::testing::Test {
 protected:
  void Make(SchedulerOptions o = {}) {
    o.workers = 2;
    o.node_id = "n1";
    s_ = std::make_unique<Scheduler>(o);
  }
  void SetUp() override { Make(); }

  static JobSpec Spec(const std::string& queue = "default", uint64_t delay_ms = 0) {
    JobSpec s;
    s.type = "echo";
    s.queue = queue;
    s.delay_ms = delay_ms;
    s.backoff_ms = 0;
    return s;
  }
  std::string Submit(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    for (auto& r : fx_.replies)
      if (auto* a = std::get_if<protocol::AcceptedReply>(&r.body); a && r.token == token_)
        return a->id;
    ADD_FAILURE() << "not accepted";
    return "";
  }
  // Fails every running job's attempt until none runs.
  void FailAllRuns(const std::string& error) {
    while (!fx_.dispatches.empty()) {
      auto ds = fx_.dispatches;
      Effects all;
      for (const auto& d : ds) {
        s_->Complete(Outcome{d.slot, d.lease, d.seq, false, "", error}, now_);
        all.Append(s_->TakeEffects());
      }
      fx_ = std::move(all);
    }
  }
  protocol::JobInfo Info(const std::string& id, bool history = false) {
    s_->StatusOf(++token_, id, history);
    auto fx = s_->TakeEffects();
    return std::get<protocol::JobReply>(fx.replies.at(0).body).job;
  }
  // Runs a bulk action to its end and returns its reply; *turns counts the calls it took.
  protocol::BulkReply Bulk(protocol::BulkRequest q, int* turns = nullptr) {
    ReplyToken t = ++token_;
    s_->Bulk(t, q, now_);
    int n = 1;
    for (;;) {
      fx_ = s_->TakeEffects();
      for (auto& r : fx_.replies)
        if (r.token == t) {
          if (turns) *turns = n;
          auto* b = std::get_if<protocol::BulkReply>(&r.body);
          EXPECT_NE(b, nullptr);
          return b ? *b : protocol::BulkReply{};
        }
      EXPECT_TRUE(s_->HasBulkWork());
      if (!s_->HasBulkWork()) return {};
      s_->ContinueBulk(now_);
      ++n;
    }
  }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
};

TEST_F(BatchTest, OneBadSpecDoesNotFailItsNeighbours) {
  std::vector<protocol::BatchSpec> specs;
  specs.push_back({Spec(), Status::OK()});
  specs.push_back({Spec(), Status::Corruption("spec must be a map")});  // failed to decode
  JobSpec unknown = Spec();
  unknown.type = "no_such_type";
  specs.push_back({unknown, Status::OK()});
  specs.push_back({Spec("other"), Status::OK()});
  SchedulerOptions o;
  o.known_types = {"echo"};
  Make(o);
  s_->SubmitBatch(7, specs, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.replies.size(), 1u);
  auto& items = std::get<protocol::BatchAcceptedReply>(fx_.replies[0].body).items;
  ASSERT_EQ(items.size(), 4u);
  EXPECT_TRUE(items[0].status.ok());
  EXPECT_EQ(items[0].submitted.id, "n1-1");
  EXPECT_TRUE(items[1].status.IsCorruption());
  EXPECT_TRUE(items[2].status.IsInvalidArgument()) << items[2].status.ToString();
  EXPECT_TRUE(items[3].status.ok());
  EXPECT_EQ(items[3].submitted.id, "n1-2");
  // Both accepted jobs are in the same effects: one journal write, one fsync.
  EXPECT_EQ(fx_.writes.size(), 2u);
  EXPECT_EQ(s_->Stats().counters["batch_specs_refused"], 2u);
}

TEST_F(BatchTest, DuplicateKeyWithinABatchAnswersTheFirstJob) {
  JobSpec a = Spec();
  a.key = "k";
  s_->SubmitBatch(1, {{a, Status::OK()}, {a, Status::OK()}}, now_);
  fx_ = s_->TakeEffects();
  auto& items = std::get<protocol::BatchAcceptedReply>(fx_.replies.at(0).body).items;
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].submitted.id, items[1].submitted.id);
  EXPECT_FALSE(items[0].submitted.duplicate);
  EXPECT_TRUE(items[1].submitted.duplicate);
}

TEST_F(BatchTest, PayloadTheHandlerCannotAcceptIsRefusedAtSubmit) {
  SchedulerOptions o;
  o.check_payload = [](const std::string& type, const std::string& payload) {
    if (type == "sleep" && payload != std::string(1, '\x05'))
      return Status::InvalidArgument("sleep wants milliseconds");
    return Status::OK();
  };
  Make(o);
  JobSpec bad = Spec();
  bad.type = "sleep";
  bad.payload = "\xa1x";  // "x"
  s_->Submit(1, bad, now_);
  fx_ = s_->TakeEffects();
  auto* e = std::get_if<protocol::ErrorReply>(&fx_.replies.at(0).body);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, Code::kInvalidArgument);
  EXPECT_TRUE(fx_.writes.empty());  // nothing journaled, nothing will run
  EXPECT_EQ(s_->Stats().counters["payloads_rejected"], 1u);
  bad.payload = std::string(1, '\x05');
  EXPECT_NE(Submit(bad), "");
}

TEST_F(BatchTest, BulkRetryMovesEveryDeadJobOfTheQueueOnceAndRepeatsAsNoOp) {
  std::vector<std::string> dead;
  for (int i = 0; i < 3; ++i) {
    JobSpec s = Spec("q");
    s.max_attempts = 1;
    dead.push_back(Submit(s));
    FailAllRuns("boom");
  }
  JobSpec other = Spec("elsewhere");
  other.max_attempts = 1;
  std::string other_id = Submit(other);
  FailAllRuns("boom");
  for (const auto& id : dead) ASSERT_EQ(Info(id).state, JobState::kDead);
  protocol::BulkRequest q;
  q.action = protocol::BulkAction::kRetry;
  q.queue = "q";
  auto r = Bulk(q);
  EXPECT_EQ(r.touched, 3u);
  for (const auto& id : dead) EXPECT_NE(Info(id).state, JobState::kDead);
  EXPECT_EQ(Info(other_id).state, JobState::kDead);  // another queue: untouched
  EXPECT_EQ(Bulk(q).touched, 0u);                     // safe to repeat
}

TEST_F(BatchTest, BulkCancelWorksInBoundedChunksAndCountsEveryJob) {
  const uint32_t n = limits::kBulkJobsPerTurnMax * 2 + 5;
  for (uint32_t i = 0; i < n; ++i) Submit(Spec("q", 60'000));
  Submit(Spec("q"));  // queued, not delayed: not taken by --state delayed
  protocol::BulkRequest q;
  q.action = protocol::BulkAction::kCancel;
  q.queue = "q";
  q.state = JobState::kDelayed;
  ReplyToken t = ++token_;
  s_->Bulk(t, q, now_);
  Effects first = s_->TakeEffects();
  EXPECT_TRUE(first.replies.empty());  // not done after one chunk
  EXPECT_EQ(first.writes.size(), limits::kBulkJobsPerTurnMax);
  int turns = 0;
  s_->ContinueBulk(now_);
  ++turns;
  while (s_->HasBulkWork()) {
    s_->TakeEffects();
    s_->ContinueBulk(now_);
    ++turns;
  }
  fx_ = s_->TakeEffects();
  auto* r = std::get_if<protocol::BulkReply>(&fx_.replies.back().body);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->touched, n);
  EXPECT_EQ(turns, 2);
  EXPECT_EQ(s_->Stats().jobs["cancelled"], n);
  EXPECT_EQ(Bulk(q).touched, 0u);
}

TEST_F(BatchTest, HistoryKeepsEachAttemptWithItsErrorAndBoundsItself) {
  JobSpec s = Spec();
  s.max_attempts = 3;
  std::string id = Submit(s);
  FailAllRuns("boom");
  auto info = Info(id, /*history=*/true);
  ASSERT_EQ(info.state, JobState::kDead);
  ASSERT_EQ(info.history.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(info.history[i].attempt, i + 1);
    EXPECT_EQ(info.history[i].node, "n1");
    EXPECT_EQ(info.history[i].error, "boom");
    EXPECT_NE(info.history[i].ended_at_ms, 0u);
  }
  EXPECT_TRUE(Info(id).history.empty());  // only when asked
  // Manual retries add lives; only the last kAttemptHistoryMax attempts are kept.
  for (int life = 0; life < 4; ++life) {
    s_->Retry(++token_, id, now_);
    fx_ = s_->TakeEffects();
    FailAllRuns("again");
  }
  info = Info(id, true);
  EXPECT_EQ(info.history.size(), limits::kAttemptHistoryMax);
  EXPECT_EQ(info.history_dropped, 15u - limits::kAttemptHistoryMax);
  EXPECT_EQ(info.history.back().error, "again");
}

}  // namespace
}  // namespace jobnet::sched
