// Dependencies in the scheduler core (core/scheduler_deps.cpp): a job submitted with depends_on
// waits until its parents succeed, is cancelled (naming the parent) when one fails, survives a
// restart, and follows parents on peers through parent_watch / parent_done.
#include <gtest/gtest.h>

#include "scheduler_fixture.hpp"

namespace jobnet::sched {
namespace {

JobSpec After(std::vector<std::string> parents, const std::string& type = "echo") {
  JobSpec s;
  s.type = type;
  s.depends_on = std::move(parents);
  return s;
}

const Dispatch* DispatchOf(const Effects& fx, const std::string& id) {
  for (const auto& d : fx.dispatches)
    if (d.id == id) return &d;
  return nullptr;
}

TEST_F(SchedulerTest, ChildWaitsForEveryParentThenRuns) {
  Make(4);
  std::string a = Submit(Spec());
  Dispatch da = fx_.dispatches.at(0);
  std::string b = Submit(Spec());
  Dispatch db = fx_.dispatches.at(0);
  std::string child = Submit(After({a, b}));
  EXPECT_TRUE(fx_.dispatches.empty());
  ASSERT_EQ(fx_.writes.size(), 1u);
  EXPECT_EQ(fx_.writes[0].job.state, JobState::kWaiting);  // journaled as waiting
  auto info = Info(child);
  EXPECT_EQ(info.state, JobState::kWaiting);
  EXPECT_EQ(info.parents_waiting, 2u);
  EXPECT_EQ(info.depends_on, (std::vector<std::string>{a, b}));
  EXPECT_EQ(s_->Stats().jobs["waiting"], 1u);

  Finish(da, true);
  EXPECT_EQ(Info(child).state, JobState::kWaiting);
  EXPECT_EQ(Info(child).parents_waiting, 1u);
  Finish(db, true);
  // b's end and the child's release are one write batch: a crash cannot split them.
  bool child_written = false;
  for (const auto& w : fx_.writes) child_written |= w.job.id == child;
  EXPECT_TRUE(child_written);
  ASSERT_NE(DispatchOf(fx_, child), nullptr);
  EXPECT_EQ(Info(child).state, JobState::kRunning);
  EXPECT_EQ(s_->Stats().counters["dependents_released"], 1u);
  EXPECT_EQ(s_->waiting_jobs(), 0u);
}

TEST_F(SchedulerTest, DeadParentCancelsItsChildrenAndTheirsUnlessTheyRunAnyway) {
  Make(4);
  JobSpec f = Spec("fail");
  f.max_attempts = 1;
  std::string parent = Submit(f);
  Dispatch d = fx_.dispatches.at(0);
  std::string child = Submit(After({parent}));
  std::string grandchild = Submit(After({child}));
  JobSpec anyway = After({parent});
  anyway.run_on_parent_failure = true;
  std::string runs = Submit(anyway);
  Finish(d, false, "boom");
  auto c = Info(child);
  EXPECT_EQ(c.state, JobState::kCancelled);
  EXPECT_EQ(c.error, "parent job " + parent + " ended dead: boom");
  auto g = Info(grandchild);
  EXPECT_EQ(g.state, JobState::kCancelled);
  EXPECT_EQ(g.error, "parent job " + child + " ended cancelled: parent job " + parent +
                         " ended dead: boom");
  EXPECT_NE(DispatchOf(fx_, runs), nullptr);
  EXPECT_EQ(s_->Stats().counters["dependents_cancelled"], 2u);
}

TEST_F(SchedulerTest, FinishedParentsCountAtSubmitAndMissingOnesAreRefused) {
  Make(1);
  std::string ok = Submit(Spec());
  Finish(fx_.dispatches.at(0), true);
  JobSpec f = Spec("fail");
  f.max_attempts = 1;
  std::string dead = Submit(f);
  Finish(fx_.dispatches.at(0), false, "no");

  std::string child = Submit(After({ok}));
  EXPECT_EQ(Info(child).state, JobState::kRunning);  // never waited
  Finish(fx_.dispatches.at(0), true);
  std::string doomed = Submit(After({ok, dead}));
  EXPECT_EQ(Info(doomed).state, JobState::kCancelled);
  EXPECT_NE(Info(doomed).error.find(dead), std::string::npos);

  Status s = SubmitError(After({"n1-99"}));
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("n1-99"), std::string::npos);
  s = SubmitError(After({"n7-1"}));  // no such peer
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  s = SubmitError(After({ok, ok}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  JobSpec reuse = After({ok});
  reuse.reuse = true;
  EXPECT_EQ(SubmitError(reuse).code(), Code::kInvalidArgument);
}

TEST_F(SchedulerTest, CancellingAWaitingChildLeavesItsParentAlone) {
  Make(1);
  std::string parent = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  std::string child = Submit(After({parent}));
  s_->Cancel(++token_, child, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(child).state, JobState::kCancelled);
  EXPECT_EQ(s_->waiting_jobs(), 0u);
  Finish(d, true);
  EXPECT_EQ(Info(child).state, JobState::kCancelled);
  EXPECT_EQ(Info(parent).state, JobState::kSucceeded);
  // Retried, it runs without waiting (its parents are done with).
  s_->Retry(++token_, child, now_);
  fx_ = s_->TakeEffects();
  EXPECT_NE(DispatchOf(fx_, child), nullptr);
}

TEST_F(SchedulerTest, TenThousandChildrenOfOneParentQueueWhenItSucceeds) {
  Make(1);
  std::string parent = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  constexpr int kChildren = 10000;
  for (int i = 0; i < kChildren; ++i) {
    s_->Submit(++token_, After({parent}), now_);
  }
  fx_ = s_->TakeEffects();
  EXPECT_EQ(fx_.writes.size(), static_cast<size_t>(kChildren));
  EXPECT_EQ(s_->Stats().jobs["waiting"], static_cast<uint64_t>(kChildren));
  Finish(d, true);
  EXPECT_EQ(fx_.writes.size(), static_cast<size_t>(kChildren) + 1);  // one batch
  auto jobs = s_->Stats().jobs;
  EXPECT_EQ(jobs["waiting"], 0u);
  EXPECT_EQ(jobs["queued"], static_cast<uint64_t>(kChildren) - 1);
  EXPECT_EQ(jobs["running"], 1u);
}

TEST_F(SchedulerTest, AChainOfTenThousandIsCancelledWithoutRecursion) {
  Make(1);
  JobSpec f = Spec("fail");
  f.max_attempts = 1;
  std::string prev = Submit(f);
  Dispatch d = fx_.dispatches.at(0);
  std::string first = "";
  for (int i = 0; i < 10000; ++i) {
    prev = Submit(After({prev}));
    if (first.empty()) first = prev;
  }
  Finish(d, false, "boom");
  EXPECT_EQ(s_->Stats().jobs["cancelled"], 10000u);
  EXPECT_EQ(Info(prev).state, JobState::kCancelled);
  EXPECT_LT(Info(prev).error.size(), 400u);  // an ancestor's error is quoted cut, not whole
  EXPECT_EQ(Info(first).error, "parent job n1-1 ended dead: boom");
}

TEST_F(SchedulerTest, RecoveredChildrenWaitForRecoveredParents) {
  Make(2);
  std::string parent = Submit(Spec("sleep"));
  std::string waits = Submit(After({parent}));
  std::string done_parent = Submit(Spec());
  // Written records, as the journal would hand them back.
  std::vector<Job> jobs;
  for (const char* id : {"n1-1", "n1-2", "n1-3"}) {
    auto parsed = protocol::ParseJobId(id);
    Job j = *s_->Find(parsed.value().seq);
    jobs.push_back(j);
  }
  jobs[2].state = JobState::kSucceeded;  // its end was journaled...
  Job released = jobs[1];  // ...and a child of it waits: its release was lost with the node
  released.seq = 4;
  released.id = "n1-4";
  released.spec.extra.mut().depends_on = {done_parent};
  jobs.push_back(released);
  Make(2);
  now_ += 1000;
  s_->Recover(std::move(jobs), 5, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(waits).state, JobState::kWaiting);
  EXPECT_EQ(Info(waits).parents_waiting, 1u);
  EXPECT_NE(Info("n1-4").state, JobState::kWaiting);  // released at recovery
  // The parent was running: interrupted and run again; its success releases the child.
  const Dispatch* d = DispatchOf(fx_, parent);
  ASSERT_NE(d, nullptr);
  Finish(*d, true);
  EXPECT_NE(Info(waits).state, JobState::kWaiting);
}

// ---- parents' results ----

TEST_F(SchedulerTest, ParentsResultsGoToTheChildsRunInDependsOnOrder) {
  Make(2);
  std::string a = Submit(Spec());
  Dispatch da = fx_.dispatches.at(0);
  std::string b = Submit(Spec());
  Dispatch db = fx_.dispatches.at(0);
  std::string child = Submit(After({b, a}));
  s_->Complete(Outcome{da.slot, da.lease, da.seq, true, std::string("\x01", 1), ""}, now_);
  fx_ = s_->TakeEffects();
  s_->Complete(Outcome{db.slot, db.lease, db.seq, true, std::string("\x02", 1), ""}, now_);
  fx_ = s_->TakeEffects();
  const Dispatch* d = DispatchOf(fx_, child);
  ASSERT_NE(d, nullptr);
  // {b: 2, a: 1}: in the order depends_on names them, not the order they ended.
  std::string want = "\x82";
  want += std::string("\xa4") + b + "\x02";
  want += std::string("\xa4") + a + "\x01";
  EXPECT_EQ(d->parents, want);
  // Journaled with the child's release (its record's "pr").
  bool journaled = false;
  for (const auto& w : fx_.writes)
    if (w.job.id == child) journaled = w.job.rare.get().parent_results.size() == 2;
  EXPECT_TRUE(journaled);
}

TEST_F(SchedulerTest, ParentsResultsPastTheRunsBoundCancelTheChild) {
  Make(1);
  std::string parent = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  JobSpec big = After({parent});
  big.payload = std::string("\xc6\x00\x08\x00\x00", 5) + std::string(512 * 1024, 'p');
  std::string child = Submit(big);
  std::string result = std::string("\xc6\x00\x08\x00\x00", 5) + std::string(512 * 1024, 'r');
  s_->Complete(Outcome{d.slot, d.lease, d.seq, true, result, ""}, now_);
  fx_ = s_->TakeEffects();
  auto info = Info(child);
  EXPECT_EQ(info.state, JobState::kCancelled);
  EXPECT_NE(info.error.find("parents' results come to"), std::string::npos) << info.error;
}

// ---- flows ----

protocol::FlowAcceptedReply FlowReply(const Effects& fx, ReplyToken t) {
  for (const auto& r : fx.replies)
    if (r.token == t)
      if (auto* a = std::get_if<protocol::FlowAcceptedReply>(&r.body)) return *a;
  ADD_FAILURE() << "no flow_accepted";
  return {};
}
Status FlowError(const Effects& fx) {
  auto* e = fx.replies.empty() ? nullptr : std::get_if<protocol::ErrorReply>(&fx.replies[0].body);
  return e ? Status(e->code, e->message) : Status::OK();
}

TEST_F(SchedulerTest, AFlowOfAThousandIsMadeWholeInOneWriteParentsFirst) {
  Make(1);
  protocol::SubmitFlowRequest req;
  // 100 chains of 10, sent children first: the node orders them parents first.
  for (int i = 999; i >= 0; --i) {
    FlowJob j{"j" + std::to_string(i), Spec(), {}};
    if (i % 10 != 0) j.after = {"j" + std::to_string(i - 1)};
    req.jobs.push_back(j);
  }
  s_->SubmitFlow(++token_, req, now_);
  fx_ = s_->TakeEffects();
  auto reply = FlowReply(fx_, token_);
  ASSERT_EQ(reply.flow.ids.size(), 1000u);
  EXPECT_EQ(reply.flow.flow, "n1-1");
  EXPECT_EQ(fx_.writes.size(), 1000u);  // one group commit
  for (int i = 1; i < 1000; ++i) {
    if (i % 10 == 0) continue;
    auto child = protocol::ParseJobId(reply.flow.ids["j" + std::to_string(i)]).value().seq;
    auto parent = protocol::ParseJobId(reply.flow.ids["j" + std::to_string(i - 1)]).value().seq;
    EXPECT_LT(parent, child);
  }
  auto j5 = Info(reply.flow.ids["j5"]);
  EXPECT_EQ(j5.flow, "n1-1");
  EXPECT_EQ(j5.flow_name, "j5");
  EXPECT_EQ(j5.depends_on, std::vector<std::string>{reply.flow.ids["j4"]});
  auto jobs = s_->Stats().jobs;
  EXPECT_EQ(jobs["waiting"], 900u);
  EXPECT_EQ(jobs["running"] + jobs["queued"], 100u);
  EXPECT_EQ(s_->Stats().counters["flows_submitted"], 1u);
}

TEST_F(SchedulerTest, ABadJobRefusesTheWholeFlowAndMakesNothing) {
  SchedulerOptions o;
  o.known_types = {"echo"};
  Make(1, o);
  auto refused = [&](protocol::SubmitFlowRequest req) {
    s_->SubmitFlow(++token_, std::move(req), now_);
    fx_ = s_->TakeEffects();
    EXPECT_TRUE(fx_.writes.empty());
    EXPECT_EQ(fx_.next_seq, 0u);  // no id used
    return FlowError(fx_);
  };
  JobSpec unknown = Spec("no_such_type");
  Status s = refused({{{"a", Spec(), {}}, {"b", unknown, {"a"}}}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("job 'b': ", 0), 0u) << s.message();
  s = refused({{{"a", Spec(), {"b"}}, {"b", Spec(), {"a"}}}});
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
  s = refused({{{"a", Spec(), {"zz"}}}});
  EXPECT_NE(s.message().find("'zz'"), std::string::npos) << s.message();
  s = refused({{{"a", Spec(), {}}, {"a", Spec(), {}}}});
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  JobSpec keyed = Spec();
  keyed.key = "k";
  EXPECT_EQ(refused({{{"a", keyed, {}}}}).code(), Code::kInvalidArgument);
  s = refused({{{"a", After({"n1-99"}), {}}}});
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  // And a plain submit cannot claim a flow.
  JobSpec claims = Spec();
  claims.flow = "n1-1";
  EXPECT_EQ(SubmitError(claims).code(), Code::kInvalidArgument);
  EXPECT_EQ(Submit(Spec()), "n1-1");  // nothing above took an id
}

// ---- parents on peers ----

std::vector<protocol::ParentWatch> WatchesTo(const Effects& fx, uint32_t link) {
  std::vector<protocol::ParentWatch> out;
  for (const auto& p : fx.peer_sends)
    if (auto* w = std::get_if<protocol::ParentWatch>(&p.body); w && p.link == link)
      out.push_back(*w);
  return out;
}
std::vector<protocol::ParentDone> DonesTo(const Effects& fx, uint32_t link) {
  std::vector<protocol::ParentDone> out;
  for (const auto& p : fx.peer_sends)
    if (auto* d = std::get_if<protocol::ParentDone>(&p.body); d && p.link == link)
      out.push_back(*d);
  return out;
}

protocol::ParentDone From(const std::string& id, JobState state, bool missing = false) {
  protocol::ParentDone d;
  d.node = "n2";
  d.id = id;
  d.state = state;
  d.missing = missing;
  return d;
}

TEST_F(ClusterSchedulerTest, ASubmitWithRemoteParentsWaitsForTheirOwnerToHoldThem) {
  Beat("n2", "tcp://p2", 0);
  // Held: n2 is asked first.
  s_->Submit(++token_, After({"n2-5", "n2-6"}), now_);
  fx_ = s_->TakeEffects();
  const ReplyToken held = token_;
  EXPECT_TRUE(fx_.replies.empty());
  auto watches = WatchesTo(fx_, 0);
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].ids, (std::vector<std::string>{"n2-5", "n2-6"}));
  s_->OnParentDone(From("n2-5", JobState::kRunning), now_);
  fx_ = s_->TakeEffects();
  EXPECT_TRUE(fx_.replies.empty());  // n2-6 not answered yet
  s_->OnParentDone(From("n2-6", JobState::kQueued), now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.replies.size(), 1u);
  EXPECT_EQ(fx_.replies[0].token, held);
  auto* a = std::get_if<protocol::AcceptedReply>(&fx_.replies[0].body);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->state, JobState::kWaiting);

  // Missing: refused at submit.
  s_->Submit(++token_, After({"n2-99"}), now_);
  s_->OnParentDone(From("n2-99", JobState::kSucceeded, /*missing=*/true), now_);
  Status s = FlowError(s_->TakeEffects());
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("n2-99"), std::string::npos);
  // No answer within the hold: unavailable, saying so.
  s_->Submit(++token_, After({"n2-7"}), now_);
  s_->TakeEffects();
  Tick(5000);
  s = FlowError(fx_);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  // An owner that is not alive cannot be asked.
  Tick(1000);  // n2 silent past the failure timeout: dead
  s = SubmitError(After({"n2-5"}));
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  // A node that begins to shut down refuses what it holds.
  Beat("n2", "tcp://p2", 0);
  s_->Submit(++token_, After({"n2-8"}), now_);
  s_->TakeEffects();
  s_->Drain();
  EXPECT_EQ(FlowError(s_->TakeEffects()).code(), Code::kDraining);
}

TEST_F(ClusterSchedulerTest, ChildOfARemoteParentWatchesItAndRunsOnItsSuccess) {
  Beat("n2", "tcp://p2", 0);
  s_->Submit(++token_, After({"n2-5", "n2-6"}), now_);
  s_->TakeEffects();
  const ReplyToken held = token_;
  s_->OnParentDone(From("n2-5", JobState::kRunning), now_);
  s_->OnParentDone(From("n2-6", JobState::kRunning), now_);
  fx_ = s_->TakeEffects();
  std::string child;
  for (auto& r : fx_.replies)
    if (auto* a = std::get_if<protocol::AcceptedReply>(&r.body); a && r.token == held) child = a->id;
  ASSERT_FALSE(child.empty());
  EXPECT_EQ(Info(child).state, JobState::kWaiting);
  EXPECT_EQ(Info(child).parents_waiting, 2u);

  s_->OnParentDone(From("n2-5", JobState::kSucceeded), now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(child).parents_waiting, 1u);
  // Only the parent's owner speaks for it.
  protocol::ParentDone forged = From("n2-6", JobState::kSucceeded);
  forged.node = "n3";
  s_->OnParentDone(forged, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(child).parents_waiting, 1u);
  // A state that is not final changes nothing.
  s_->OnParentDone(From("n2-6", JobState::kRunning), now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(child).parents_waiting, 1u);

  // Asked again after the resend period: only the parent still unfinished.
  Tick(limits::kParentWatchResendMs);
  auto watches = WatchesTo(fx_, 0);
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].ids, (std::vector<std::string>{"n2-6"}));
  // (Silent past the failure timeout meanwhile, n2 is dead by now.) Asked again at once when
  // it comes back, restarted.
  Beat("n2", "tcp://p2", 0, /*inc=*/2);
  EXPECT_EQ(WatchesTo(fx_, 0).size(), 1u);

  s_->OnParentDone(From("n2-6", JobState::kSucceeded), now_);
  fx_ = s_->TakeEffects();
  EXPECT_NE(DispatchOf(fx_, child), nullptr);
  EXPECT_EQ(s_->remote_parents(), 0u);
}

TEST_F(ClusterSchedulerTest, AFailedRemoteParentCancelsTheChild) {
  Beat("n2", "tcp://p2", 0);
  s_->Submit(++token_, After({"n2-9"}), now_);
  s_->OnParentDone(From("n2-9", JobState::kRunning), now_);
  fx_ = s_->TakeEffects();
  auto* a = std::get_if<protocol::AcceptedReply>(&fx_.replies.at(0).body);
  ASSERT_NE(a, nullptr);
  const std::string child = a->id;
  protocol::ParentDone dead = From("n2-9", JobState::kDead);
  dead.error = "exit 1";
  s_->OnParentDone(dead, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(child).state, JobState::kCancelled);
  EXPECT_EQ(Info(child).error, "parent job n2-9 ended dead: exit 1");
}

TEST_F(ClusterSchedulerTest, APeersWatchIsAnsweredAtOnceOrWhenTheParentEnds) {
  Beat("n2", "tcp://p2", 0);
  std::string running = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  protocol::ParentWatch w{"n2", {running, "n1-77", "n9-1"}};
  s_->OnParentWatch(w, now_);
  fx_ = s_->TakeEffects();
  auto dones = DonesTo(fx_, 0);
  ASSERT_EQ(dones.size(), 3u);  // at once: the running one as it is, the two it does not hold
  EXPECT_EQ(dones[0].id, running);
  EXPECT_FALSE(dones[0].missing);
  EXPECT_EQ(dones[0].state, JobState::kRunning);
  EXPECT_TRUE(dones[1].missing);
  EXPECT_TRUE(dones[2].missing);
  s_->OnParentWatch(w, now_);  // asked twice: the running one is not answered again until it ends
  fx_ = s_->TakeEffects();
  ASSERT_EQ(DonesTo(fx_, 0).size(), 2u);
  Finish(d, true);
  dones = DonesTo(fx_, 0);
  ASSERT_EQ(dones.size(), 1u);
  EXPECT_EQ(dones[0].id, running);
  EXPECT_EQ(dones[0].state, JobState::kSucceeded);
  EXPECT_EQ(dones[0].result, testing_result_);
  // Final now: a later watch is answered at once.
  s_->OnParentWatch(protocol::ParentWatch{"n2", {running}}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(DonesTo(fx_, 0).size(), 1u);
  // A node that is not a peer gets nothing.
  s_->OnParentWatch(protocol::ParentWatch{"n8", {running}}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_TRUE(fx_.peer_sends.empty());
}

}  // namespace
}  // namespace jobnet::sched
