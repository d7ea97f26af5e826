// External workers in the scheduler core (docs/architecture.md "External workers"), driven with
// a fake clock: a type only a worker serves is accepted while it is registered; polls are held
// and answered with leased jobs in queue order within the worker's capacity and the queues'
// limits; a worker silent past its lease loses its jobs to the queue, where another worker takes
// them; a result for a lease that is no longer the job's current run is refused (fencing);
// progress is rate-limited and reset per run. Method: call the core, check its replies and job
// states.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/external_workers.hpp"
#include "core/scheduler_core.hpp"

namespace jobnet::sched {
namespace {

using protocol::JobSpec;
using protocol::JobState;

class ExternalWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.node_id = "n1";
    o.workers = 1;
    o.known_types = {"echo"};  // this node's own handlers: "py" jobs need an external worker
    s_ = std::make_unique<Scheduler>(o);
  }

  // The reply to `t` among the effects of the last call, or null.
  template <class T>
  const T* ReplyTo(ReplyToken t) {
    for (auto& r : fx_.replies)
      if (r.token == t) return std::get_if<T>(&r.body);
    return nullptr;
  }
  Status ErrorTo(ReplyToken t) {
    auto* e = ReplyTo<protocol::ErrorReply>(t);
    return e ? Status(e->code, e->message) : Status::OK();
  }
  void Take() { fx_ = s_->TakeEffects(); }

  uint64_t Register(uint32_t capacity, uint64_t lease_ms = 1000,
                    std::vector<std::string> types = {"py"}) {
    s_->RegisterWorker(++token_, protocol::WorkerRegisterRequest{"w", types, capacity, lease_ms},
                       now_);
    Take();
    auto* r = ReplyTo<protocol::WorkerRegisteredReply>(token_);
    EXPECT_NE(r, nullptr) << ErrorTo(token_).ToString();
    return r ? r->worker : 0;
  }
  // Polls; returns the poll's token (its reply may come later).
  ReplyToken Poll(uint64_t worker, uint64_t wait_ms = 5000, uint32_t max = 0) {
    s_->PollWorker(++token_, protocol::WorkerPollRequest{worker, wait_ms, max}, now_);
    Take();
    return token_;
  }
  // Polls once and takes the first job it is answered with; false if none.
  bool Lease(uint64_t worker, protocol::LeasedJob* job) {
    auto* jobs = Jobs(Poll(worker));
    if (jobs == nullptr || jobs->empty()) return false;
    *job = jobs->front();
    return true;
  }
  // The jobs the poll `t` was answered with in the last effects; null if not answered there.
  const std::vector<protocol::LeasedJob>* Jobs(ReplyToken t) {
    auto* r = ReplyTo<protocol::WorkerJobsReply>(t);
    return r ? &r->jobs : nullptr;
  }
  Result<protocol::AcceptedReply> Submit(const std::string& type, const std::string& queue = "q",
                                         uint32_t priority = 0, uint64_t timeout_ms = 30000) {
    JobSpec spec;
    spec.type = type;
    spec.queue = queue;
    spec.priority = priority;
    spec.timeout_ms = timeout_ms;
    spec.backoff_ms = 0;
    s_->Submit(++token_, spec, now_);
    Take();
    if (auto* a = ReplyTo<protocol::AcceptedReply>(token_)) return *a;
    return ErrorTo(token_);
  }
  std::string SubmitId(const std::string& type, const std::string& queue = "q",
                       uint32_t priority = 0, uint64_t timeout_ms = 30000) {
    auto r = Submit(type, queue, priority, timeout_ms);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value().id : "";
  }
  Status Complete(uint64_t worker, const protocol::LeasedJob& j, const std::string& result) {
    s_->WorkerComplete(++token_, protocol::WorkerCompleteRequest{worker, j.id, j.lease, result},
                       now_);
    Take();
    return ErrorTo(token_);
  }
  Status Fail(uint64_t worker, const protocol::LeasedJob& j, const std::string& error) {
    s_->WorkerFail(++token_, protocol::WorkerFailRequest{worker, j.id, j.lease, error}, now_);
    Take();
    return ErrorTo(token_);
  }
  // The progress reply: applied, dropped (false), or the error.
  Result<bool> Progress(uint64_t worker, const protocol::LeasedJob& j, uint32_t pct) {
    s_->WorkerProgress(++token_,
                       protocol::WorkerProgressRequest{worker, j.id, j.lease, pct, "at " + std::to_string(pct)},
                       now_);
    Take();
    if (auto* a = ReplyTo<protocol::WorkerAckReply>(token_)) return a->applied;
    return ErrorTo(token_);
  }
  Result<protocol::WorkerBeatReply> Beat(uint64_t worker, std::vector<uint64_t> leases = {}) {
    s_->HeartbeatWorker(++token_, protocol::WorkerHeartbeatRequest{worker, std::move(leases)}, now_);
    Take();
    if (auto* b = ReplyTo<protocol::WorkerBeatReply>(token_)) return *b;
    return ErrorTo(token_);
  }
  void Tick(uint64_t advance_ms) {
    now_ += advance_ms;
    s_->Tick(now_);
    Take();
  }
  protocol::JobInfo Info(const std::string& id) {
    s_->StatusOf(++token_, id);
    auto fx = s_->TakeEffects();
    return std::get<protocol::JobReply>(fx.replies.at(0).body).job;
  }
  uint64_t Counter(const std::string& name) { return s_->Stats().counters[name]; }
  static std::string Packed(const std::string& s) {
    return std::string(1, static_cast<char>(0xa0 | s.size())) + s;  // fixstr
  }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
};

TEST_F(ExternalWorkersTest, ATypeOnlyAWorkerServesIsAcceptedWhileItIsRegistered) {
  EXPECT_TRUE(Submit("py").status().IsInvalidArgument());
  uint64_t w = Register(1);
  std::string id = SubmitId("py");
  EXPECT_TRUE(fx_.dispatches.empty());  // the node's own slot has no handler for it
  EXPECT_EQ(Info(id).state, JobState::kQueued);
  ReplyToken poll = Poll(w);
  ASSERT_NE(Jobs(poll), nullptr);
  ASSERT_EQ(Jobs(poll)->size(), 1u);
  EXPECT_EQ(Jobs(poll)->at(0).id, id);
  EXPECT_EQ(Jobs(poll)->at(0).attempt, 1u);
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  // The worker leaves with the job unfinished: it goes back to its queue, and new submits of a
  // type nobody serves are refused again; the queued job waits for the next worker.
  s_->UnregisterWorker(++token_, w, now_);
  Take();
  EXPECT_NE(ReplyTo<protocol::WorkerAckReply>(token_), nullptr);
  EXPECT_EQ(Info(id).state, JobState::kQueued);
  EXPECT_TRUE(Submit("py").status().IsInvalidArgument());
  uint64_t w2 = Register(1);
  poll = Poll(w2);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_EQ(Jobs(poll)->at(0).id, id);
  EXPECT_EQ(Jobs(poll)->at(0).attempt, 2u);
}

TEST_F(ExternalWorkersTest, APollIsHeldUntilAJobArrivesOrItsWaitEnds) {
  uint64_t w = Register(1, 10000);
  ReplyToken poll = Poll(w, 1000);
  EXPECT_EQ(Jobs(poll), nullptr);  // held
  std::string id = SubmitId("py");
  ASSERT_NE(Jobs(poll), nullptr);  // answered by the submit's dispatch
  EXPECT_EQ(Jobs(poll)->at(0).id, id);
  EXPECT_EQ(Complete(w, Jobs(poll)->at(0), Packed("done")).code(), Code::kOk);
  EXPECT_EQ(Info(id).state, JobState::kSucceeded);
  EXPECT_EQ(Info(id).result, Packed("done"));
  EXPECT_EQ(Info(id).progress, 100u);
  poll = Poll(w, 500);
  Tick(499);
  EXPECT_EQ(Jobs(poll), nullptr);
  Tick(1);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_TRUE(Jobs(poll)->empty());
  // wait_ms 0: answered at once, empty.
  poll = Poll(w, 0);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_TRUE(Jobs(poll)->empty());
  // A second poll answers the first one empty.
  ReplyToken first = Poll(w, 5000);
  ReplyToken second = Poll(w, 5000);
  ASSERT_NE(Jobs(first), nullptr);
  EXPECT_TRUE(Jobs(first)->empty());
  EXPECT_EQ(Jobs(second), nullptr);
}

TEST_F(ExternalWorkersTest, CapacityAndQueueLimitsBoundWhatAWorkerLeases) {
  uint64_t w = Register(2, 10000);
  std::string low = SubmitId("py"), high = SubmitId("py", "q", 9), third = SubmitId("py");
  ReplyToken poll = Poll(w);
  ASSERT_NE(Jobs(poll), nullptr);
  ASSERT_EQ(Jobs(poll)->size(), 2u);
  EXPECT_EQ(Jobs(poll)->at(0).id, high);  // priority first, as for the node's own slots
  EXPECT_EQ(Jobs(poll)->at(1).id, low);
  auto done = Jobs(poll)->at(0);
  poll = Poll(w);
  EXPECT_EQ(Jobs(poll), nullptr);  // at capacity: held
  EXPECT_EQ(Complete(w, done, Packed("x")).code(), Code::kOk);
  ASSERT_NE(Jobs(poll), nullptr);  // a lease freed: the held poll gets the third job
  EXPECT_EQ(Jobs(poll)->at(0).id, third);

  // A queue's concurrency counts external runs: at 1, a second job of the queue waits.
  s_->SetQueue(++token_, protocol::QueueUpdate{"limited", {}, 1u, {}, {}, {}}, now_);
  Take();
  uint64_t w2 = Register(4, 10000);
  SubmitId("py", "limited");
  SubmitId("py", "limited");
  poll = Poll(w2);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_EQ(Jobs(poll)->size(), 1u);
  // max bounds one poll's answer below the free capacity.
  SubmitId("py", "other");
  SubmitId("py", "other");
  poll = Poll(w2, 5000, 1);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_EQ(Jobs(poll)->size(), 1u);
}

// `jobnet workers` and the dashboard list the external workers beside the slots: what each
// serves, whether it polls, and the jobs it runs.
TEST_F(ExternalWorkersTest, TheWorkerListShowsEachExternalWorkerAndTheJobsItRuns) {
  EXPECT_TRUE(s_->WorkerList().external.empty());
  uint64_t w = Register(2, 10000, {"py", "ocr"});
  uint64_t idle = Register(1, 5000);
  std::string a = SubmitId("py"), b = SubmitId("py");
  ReplyToken poll = Poll(w);
  ASSERT_NE(Jobs(poll), nullptr);
  ASSERT_EQ(Jobs(poll)->size(), 2u);
  const protocol::LeasedJob first = Jobs(poll)->at(0);
  Poll(idle);  // held: nothing left to run
  protocol::WorkerListReply list = s_->WorkerList();
  EXPECT_EQ(list.slots.size(), 1u);
  ASSERT_EQ(list.external.size(), 2u);
  const auto& busy = list.external[0];
  EXPECT_EQ(busy.id, w);
  EXPECT_EQ(busy.name, "w");
  EXPECT_EQ(busy.types, (std::vector<std::string>{"ocr", "py"}));
  EXPECT_EQ(busy.capacity, 2u);
  EXPECT_EQ(busy.lease_ms, 10000u);
  EXPECT_FALSE(busy.polling);
  EXPECT_EQ(busy.running, 2u);
  std::vector<std::string> jobs = busy.jobs;
  std::sort(jobs.begin(), jobs.end());
  std::vector<std::string> want = {a, b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(jobs, want);
  EXPECT_EQ(list.external[1].id, idle);
  EXPECT_TRUE(list.external[1].polling);
  EXPECT_EQ(list.external[1].running, 0u);
  EXPECT_TRUE(list.external[1].jobs.empty());
  // A finished run leaves the list.
  ASSERT_EQ(Complete(w, first, Packed("x")).code(), Code::kOk);
  EXPECT_EQ(s_->WorkerList().external[0].running, 1u);
}

// The core of fencing: a worker paused past its lease (SIGSTOP, a long GC) loses the job to
// another worker, and its late completion must not overwrite the rerun.
TEST_F(ExternalWorkersTest, LeaseExpiryRerunsTheJobElsewhereAndRefusesTheLateCompletion) {
  uint64_t a = Register(1, /*lease_ms=*/1000);
  std::string id = SubmitId("py");
  ReplyToken poll = Poll(a);
  ASSERT_NE(Jobs(poll), nullptr);
  protocol::LeasedJob first = Jobs(poll)->at(0);
  uint64_t b = Register(1, 1000);
  ReplyToken b_poll = Poll(b, 60000);  // b waits in the node: it is not silent
  // Progress and heartbeats keep a's lease; silence past it loses the job.
  Tick(900);
  ASSERT_TRUE(Beat(a, {first.lease}).ok());
  EXPECT_TRUE(Beat(a, {first.lease}).value().lost.empty());
  Tick(999);
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  Tick(1);
  EXPECT_EQ(Counter("external_expired"), 1u);
  EXPECT_EQ(Counter("external_runs_lost"), 1u);
  ASSERT_NE(Jobs(b_poll), nullptr);  // re-queued and leased to b at once
  protocol::LeasedJob second = Jobs(b_poll)->at(0);
  EXPECT_EQ(second.id, id);
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_NE(second.lease, first.lease);
  // a wakes up: its completion, progress and heartbeat are refused.
  Status late = Complete(a, first, Packed("stale"));
  EXPECT_TRUE(late.IsConflict()) << late.ToString();
  EXPECT_TRUE(Fail(a, first, "x").IsConflict());
  EXPECT_TRUE(Progress(a, first, 50).status().IsConflict());
  EXPECT_TRUE(Beat(a, {first.lease}).status().IsNotFound());  // it must register again
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  // b's completion is the one that counts.
  EXPECT_EQ(Complete(b, second, Packed("fresh")).code(), Code::kOk);
  EXPECT_EQ(Info(id).state, JobState::kSucceeded);
  EXPECT_EQ(Info(id).result, Packed("fresh"));
  // A completion of b's lease with a's worker id would be refused too: leases are per worker.
  EXPECT_TRUE(Complete(a, second, Packed("again")).IsConflict());
  EXPECT_EQ(Counter("external_stale_results"), 4u);  // the heartbeat is not a result
}

TEST_F(ExternalWorkersTest, TimeoutAndCancelEndTheRunAndTheHeartbeatSaysSo) {
  uint64_t w = Register(2, 10000);
  std::string slow = SubmitId("py", "q", 0, /*timeout_ms=*/100);
  std::string cancelled = SubmitId("py");
  ReplyToken poll = Poll(w);
  ASSERT_NE(Jobs(poll), nullptr);
  ASSERT_EQ(Jobs(poll)->size(), 2u);
  protocol::LeasedJob run_slow = Jobs(poll)->at(0), run_cancelled = Jobs(poll)->at(1);
  ASSERT_EQ(run_slow.id, slow);
  s_->Cancel(++token_, cancelled, now_);
  Take();
  Tick(100);  // the job's own timeout, as for a local run
  auto info = Info(slow);
  EXPECT_EQ(info.state, JobState::kQueued);
  EXPECT_EQ(info.error, "timed out after 100 ms");
  auto beat = Beat(w, {run_slow.lease, run_cancelled.lease});
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat.value().lost, (std::vector<uint64_t>{run_slow.lease, run_cancelled.lease}));
  EXPECT_TRUE(Complete(w, run_slow, Packed("late")).IsConflict());
  EXPECT_TRUE(Complete(w, run_cancelled, Packed("late")).IsConflict());
  EXPECT_EQ(Info(cancelled).state, JobState::kCancelled);
  // A failure with attempts left re-queues (backoff 0), like a local failure.
  poll = Poll(w);
  ASSERT_NE(Jobs(poll), nullptr);
  EXPECT_EQ(Fail(w, Jobs(poll)->at(0), "boom").code(), Code::kOk);
  EXPECT_EQ(Info(slow).error, "boom");
  EXPECT_EQ(Info(slow).attempts, 2u);
}

TEST_F(ExternalWorkersTest, ProgressIsRateLimitedAndStartsAgainWithEachRun) {
  uint64_t w = Register(1, 10000);
  std::string id = SubmitId("py");
  protocol::LeasedJob run;
  ASSERT_TRUE(Lease(w, &run));
  EXPECT_TRUE(Progress(w, run, 10).value());
  EXPECT_FALSE(Progress(w, run, 20).value());  // within 200 ms: dropped
  now_ += limits::kProgressIntervalMsMin;
  EXPECT_TRUE(Progress(w, run, 30).value());
  EXPECT_EQ(Info(id).progress, 30u);
  EXPECT_EQ(Info(id).progress_message, "at 30");
  EXPECT_EQ(Counter("progress_updates"), 2u);
  EXPECT_EQ(Counter("progress_dropped"), 1u);
  EXPECT_EQ(Fail(w, run, "again").code(), Code::kOk);
  EXPECT_EQ(Info(id).progress, 30u);  // how far the failed run got
  ASSERT_TRUE(Lease(w, &run));
  EXPECT_EQ(Info(id).progress, 0u);  // the new run reports its own
}

// Applied progress also goes to the event stream as a progress-only journal write, at most once
// per kProgressEventIntervalMsMin per job; a report whose run ends in the same batch is dropped.
TEST_F(ExternalWorkersTest, ProgressGoesToTheEventStreamAtMostOncePerInterval) {
  uint64_t w = Register(1, 100000);
  std::string id = SubmitId("py");
  protocol::LeasedJob run;
  ASSERT_TRUE(Lease(w, &run));
  auto reports = [&] {
    std::vector<uint32_t> pcts;
    for (const auto& wr : fx_.writes)
      if (wr.progress) {
        EXPECT_TRUE(wr.events.empty());
        EXPECT_EQ(wr.job.id, id);
        pcts.push_back(wr.job.rare.get().progress);
      }
    return pcts;
  };
  EXPECT_TRUE(Progress(w, run, 10).value());
  EXPECT_EQ(reports(), std::vector<uint32_t>{10});
  now_ += limits::kProgressIntervalMsMin;
  EXPECT_TRUE(Progress(w, run, 20).value());  // applied (status shows it), not streamed
  EXPECT_TRUE(reports().empty());
  now_ += limits::kProgressEventIntervalMsMin;
  EXPECT_TRUE(Progress(w, run, 30).value());
  EXPECT_EQ(reports(), std::vector<uint32_t>{30});
  now_ += limits::kProgressEventIntervalMsMin;
  s_->WorkerProgress(++token_, protocol::WorkerProgressRequest{w, run.id, run.lease, 90, "last"},
                     now_);
  s_->WorkerComplete(++token_, protocol::WorkerCompleteRequest{w, run.id, run.lease, Packed("ok")},
                     now_);
  Take();
  EXPECT_TRUE(reports().empty());
  ASSERT_EQ(fx_.writes.size(), 1u);
  EXPECT_EQ(fx_.writes[0].job.state, JobState::kSucceeded);
}

TEST_F(ExternalWorkersTest, LocalRunsReportProgressForTheirCurrentLeaseOnly) {
  std::string id = SubmitId("echo");
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  Dispatch d = fx_.dispatches[0];
  s_->Progress(d.seq, d.lease + 1, 50, "stale", now_);
  EXPECT_EQ(Info(id).progress, 0u);
  s_->Progress(d.seq, d.lease, 50, "half", now_);
  EXPECT_EQ(Info(id).progress, 50u);
  EXPECT_EQ(Info(id).progress_message, "half");
}

TEST_F(ExternalWorkersTest, RegisteredWorkersAreBounded) {
  for (uint32_t i = 0; i < limits::kExternalWorkersMax; ++i) {
    s_->RegisterWorker(++token_, protocol::WorkerRegisterRequest{"w", {"py"}, 1, 0}, now_);
    Take();
    ASSERT_NE(ReplyTo<protocol::WorkerRegisteredReply>(token_), nullptr);
  }
  s_->RegisterWorker(++token_, protocol::WorkerRegisterRequest{"w", {"py"}, 1, 0}, now_);
  Take();
  EXPECT_TRUE(ErrorTo(token_).IsOverloaded());
  EXPECT_EQ(s_->external_workers(), limits::kExternalWorkersMax);
  EXPECT_EQ(Counter("external_workers"), limits::kExternalWorkersMax);
  // Silent past the default lease, they are all dropped.
  Tick(limits::kExternalLeaseMsDefault);
  EXPECT_EQ(s_->external_workers(), 0u);
  EXPECT_TRUE(Beat(1).status().IsNotFound());
}

// ---- ExternalWorkers on its own: the registry, without jobs ----

protocol::WorkerRegisterRequest Req(std::vector<std::string> types, uint32_t capacity) {
  protocol::WorkerRegisterRequest r;
  r.types = std::move(types);
  r.capacity = capacity;
  r.lease_ms = 1000;
  return r;
}

TEST(ExternalWorkersRegistryTest, IdsCarryTheIncarnationAndTypesCountTheirWorkers) {
  ExternalWorkers w(5);
  uint64_t a = w.Register(Req({"ocr"}, 1), Now{100});
  uint64_t b = w.Register(Req({"ocr", "pdf"}, 1), Now{100});
  EXPECT_EQ(a >> 32, 5u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(w.Serves("pdf"));
  w.Remove(b);
  EXPECT_FALSE(w.Serves("pdf"));
  EXPECT_TRUE(w.Serves("ocr"));
  w.Remove(a);
  EXPECT_FALSE(w.Serves("ocr"));
  EXPECT_EQ(w.size(), 0u);
}

TEST(ExternalWorkersRegistryTest, AWorkerHoldingAPollIsNeverSilentAndPollsGoRoundRobin) {
  ExternalWorkers w(1);
  uint64_t a = w.Register(Req({"t"}, 2), Now{0});
  uint64_t b = w.Register(Req({"t"}, 2), Now{0});
  EXPECT_EQ(w.HoldPoll(a, 11, 5000, 0, Now{10}), 0u);
  EXPECT_EQ(w.HoldPoll(a, 12, 5000, 1, Now{10}), 11u);  // the one it replaces, to answer empty
  EXPECT_EQ(w.HoldPoll(b, 13, 5000, 0, Now{10}), 0u);
  EXPECT_EQ(w.Expired(4000), std::nullopt);  // both hold a poll
  EXPECT_EQ(w.DuePoll(4999), std::nullopt);
  EXPECT_EQ(w.DuePoll(5000), std::optional<uint64_t>(a));
  EXPECT_EQ(w.Wants(a), 1u);  // its poll's max
  EXPECT_EQ(w.Wants(b), 2u);  // its capacity
  EXPECT_EQ(w.PollOrder(), (std::vector<uint64_t>{a, b}));
  w.Served(a);
  EXPECT_EQ(w.PollOrder(), (std::vector<uint64_t>{b, a}));
  EXPECT_EQ(w.ReleasePoll(b, Now{20}), 13u);
  EXPECT_EQ(w.Expired(1019), std::nullopt);
  EXPECT_EQ(w.Expired(1020), std::optional<uint64_t>(b));  // its lease ran from the poll's end
}

TEST(ExternalWorkersRegistryTest, RemovingAWorkerHandsBackItsPollAndRuns) {
  ExternalWorkers w(1);
  uint64_t a = w.Register(Req({"t"}, 3), Now{0});
  w.AddRun(a, 100, 7);
  w.AddRun(a, 101, 8);
  EXPECT_EQ(w.RunOf(a, 100), std::optional<uint64_t>(7));
  EXPECT_EQ(w.RunOf(a + 1, 100), std::nullopt);  // fencing: another worker's lease
  w.DropRun(100);
  EXPECT_EQ(w.RunOf(a, 100), std::nullopt);
  w.HoldPoll(a, 9, 500, 0, Now{0});
  ExternalWorkers::Removed gone = w.Remove(a);
  EXPECT_EQ(gone.poll, 9u);
  EXPECT_EQ(gone.runs, (std::vector<std::pair<uint64_t, uint64_t>>{{101, 8}}));
  EXPECT_EQ(w.runs(), 0u);
  EXPECT_EQ(w.NextDeadlineMs(), UINT64_MAX);
}

}  // namespace
}  // namespace jobnet::sched
