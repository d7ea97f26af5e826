// Fixtures shared by the scheduler core's tests (scheduler_test, peer_leases_test,
// scheduler_queues_test, callback_test): a Scheduler on a fake clock, driven through its public
// calls, with helpers that submit, tick, finish runs and read a job back; and the same with two
// peers.
#ifndef JOBNET_TESTS_SCHEDULER_FIXTURE_HPP_
#define JOBNET_TESTS_SCHEDULER_FIXTURE_HPP_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/scheduler_core.hpp"

namespace jobnet::sched {

using protocol::JobSpec;
using protocol::JobState;
using protocol::QueueOrder;

// What every scheduler fixture holds: the scheduler, the effects of the last call, a fake clock
// and reply tokens; Tick and Info read the same in each.
class SchedulerHarness : public ::testing::Test {
 protected:
  void Tick(uint64_t advance_ms) {
    now_ += advance_ms;
    s_->Tick(now_);
    fx_ = s_->TakeEffects();
  }
  protocol::JobInfo Info(const std::string& id) {
    s_->StatusOf(++token_, id);
    auto fx = s_->TakeEffects();
    return std::get<protocol::JobReply>(fx.replies.at(0).body).job;
  }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
};

class SchedulerTest : public SchedulerHarness {
 protected:
  void Make(uint32_t workers = 2, SchedulerOptions o = {}) {
    o.workers = workers;
    o.node_id = "n1";
    s_ = std::make_unique<Scheduler>(o);
  }
  void SetUp() override { Make(); }

  static JobSpec Spec(const std::string& type = "echo", uint32_t priority = 0) {
    JobSpec s;
    s.type = type;
    s.priority = priority;
    return s;
  }
  // Submits and returns the new job's id (asserting it was accepted).
  std::string Submit(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    for (auto& r : fx_.replies)
      if (r.token == token_) {
        auto* a = std::get_if<protocol::AcceptedReply>(&r.body);
        EXPECT_NE(a, nullptr);
        return a ? a->id : "";
      }
    ADD_FAILURE() << "no reply";
    return "";
  }
  Status SubmitError(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    auto* e = std::get_if<protocol::ErrorReply>(&fx_.replies.at(0).body);
    return e ? Status(e->code, e->message) : Status::OK();
  }
  void Finish(const Dispatch& d, bool ok, const std::string& error = "") {
    Outcome o{d.slot, d.lease, d.seq, ok, ok ? std::string("\xa2ok", 3) : "", error};
    s_->Complete(o, now_);
    fx_ = s_->TakeEffects();
  }
  // The job's only attempt timed out, and it was counted as a timeout, not a failure.
  void ExpectDeadByTimeout(const std::string& id, uint64_t timeout_ms) {
    auto info = Info(id);
    EXPECT_EQ(info.state, protocol::JobState::kDead);
    EXPECT_EQ(info.error, "timed out after " + std::to_string(timeout_ms) + " ms");
    auto counters = s_->Stats().counters;
    EXPECT_EQ(counters["timeouts"], 1u);
    EXPECT_EQ(counters.count("failed_attempts"), 0u);
  }
  // On a fresh one-slot scheduler: a job with a 100 ms timeout and no backoff, now running.
  std::string SubmitSleep(uint32_t max_attempts) {
    Make(1);
    JobSpec s = Spec("sleep");
    s.timeout_ms = 100;
    s.backoff_ms = 0;
    s.max_attempts = max_attempts;
    return Submit(s);
  }
};

// ---- cluster: peers, remote runs, hosted runs ----

// An answer from n2 (a RemoteAck or RemoteResult) about run `lease` of n1's job `seq`, in n1's
// incarnation 7.
template <class Answer>
Answer FromN2(uint64_t lease, uint64_t seq) {
  Answer a;
  a.owner = "n1";
  a.owner_incarnation = 7;
  a.worker_node = "n2";
  a.lease = lease;
  a.seq = seq;
  return a;
}

class ClusterSchedulerTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.incarnation = 7;
    o.peers = {"tcp://p2", "tcp://p3"};
    o.failure_timeout_ms = 1000;
    o.remote_lease_slack_ms = 100;
    Make(1, o);
  }
  // acks = false: a peer of the version before acks (the tests written for it still hold).
  void Beat(const std::string& node, const std::string& ep, uint32_t free, uint64_t inc = 1,
            bool acks = false) {
    protocol::Heartbeat hb;
    hb.node = node;
    hb.endpoint = ep;
    hb.incarnation = inc;
    hb.workers = 4;
    hb.free = free;
    hb.acks = acks;
    s_->OnHeartbeat(hb, now_);
    fx_ = s_->TakeEffects();
  }
  void AckingBeat(uint32_t free) { Beat("n2", "tcp://p2", free, 1, /*acks=*/true); }
  void Ack(const protocol::RemoteRun& run, uint32_t free) {
    auto a = FromN2<protocol::RemoteAck>(run.lease, run.seq);
    a.free = free;
    s_->OnRemoteAck(a, now_);
    fx_ = s_->TakeEffects();
  }
  std::vector<protocol::RemoteRun> RunsSent() {
    std::vector<protocol::RemoteRun> out;
    for (auto& p : fx_.peer_sends)
      if (auto* r = std::get_if<protocol::RemoteRun>(&p.body)) out.push_back(*r);
    return out;
  }
  protocol::RemoteRun RunSentTo(uint32_t link) {
    for (auto& p : fx_.peer_sends)
      if (p.link == link)
        if (auto* r = std::get_if<protocol::RemoteRun>(&p.body)) return *r;
    ADD_FAILURE() << "no RemoteRun to link " << link;
    return {};
  }
  void Result(const protocol::RemoteRun& run, bool ok, bool rejected = false, uint64_t inc = 7,
              uint32_t free = 0, const std::string& from = "n2") {
    protocol::RemoteResult r;
    r.owner = "n1";
    r.owner_incarnation = inc;
    r.worker_node = from;
    r.lease = run.lease;
    r.seq = run.seq;
    r.ok = ok;
    r.rejected = rejected;
    r.result = ok ? testing_result_ : protocol::MsgpackNil();
    r.error = ok ? "" : "remote failure";
    r.free = free;
    s_->OnRemoteResult(r, now_);
    fx_ = s_->TakeEffects();
  }
  // A run of n2's job, as n2 would send it here.
  static protocol::RemoteRun HostedRun() {
    protocol::RemoteRun run;
    run.owner = "n2";
    run.owner_incarnation = 3;
    run.lease = 41;
    run.seq = 5;
    run.id = "n2-5";
    run.type = "sleep";
    run.timeout_ms = 500;
    return run;
  }
  std::string testing_result_ = std::string("\xa2ok", 3);
};

// ---- queues (docs/architecture.md §14) ----

class QueueSchedulerTest : public ClusterSchedulerTest {
 protected:
  // Applies `u` and returns the queue as the reply shows it.
  protocol::QueueInfo Set(protocol::QueueUpdate u) {
    s_->SetQueue(++token_, u, now_);
    fx_ = s_->TakeEffects();
    auto* r = std::get_if<protocol::QueueListReply>(&fx_.replies.at(0).body);
    EXPECT_NE(r, nullptr);
    return r && !r->queues.empty() ? r->queues[0] : protocol::QueueInfo{};
  }
  Status SetError(protocol::QueueUpdate u) {
    s_->SetQueue(++token_, u, now_);
    auto fx = s_->TakeEffects();
    auto* e = std::get_if<protocol::ErrorReply>(&fx.replies.at(0).body);
    return e ? Status(e->code, e->message) : Status::OK();
  }
  static JobSpec In(const std::string& queue, uint32_t priority = 0) {
    JobSpec s = Spec("echo", priority);
    s.queue = queue;
    return s;
  }
  // Finishes `d` and returns the next dispatch's job id ("" if none).
  std::string FinishAndNext(const Dispatch& d) {
    Finish(d, true);
    return fx_.dispatches.empty() ? "" : fx_.dispatches[0].id;
  }
};


}  // namespace jobnet::sched

#endif  // JOBNET_TESTS_SCHEDULER_FIXTURE_HPP_
