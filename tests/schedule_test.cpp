// Schedules (recurring jobs) in the scheduler state machine, with a fake clock: fires on time
// (cron and every), one catch-up fire after a gap (a node that was down), pause and resume, the
// journal records each fire hands over with its job, and the errors of add and change.
// Method: drive Scheduler with AddSchedule/ChangeSchedule/Tick and read its effects; a restart
// is a new Scheduler recovered from the records the old one journaled.
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "core/scheduler_core.hpp"

namespace jobnet::sched {
namespace {

using protocol::JobSpec;
using protocol::ScheduleAction;
using protocol::ScheduleInfo;
using protocol::ScheduleSpec;

// 2024-05-01 10:00:30 UTC.
constexpr uint64_t kStartMs = 1714557630000ull;

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  // A fresh scheduler holding the journaled jobs and schedules so far: the node restarted.
  void Restart() {
    SchedulerOptions o;
    o.node_id = "n1";
    o.workers = 1;
    o.known_types = {"echo", "sleep"};
    s_ = std::make_unique<Scheduler>(o);
    for (const auto& [name, rec] : journal_) ASSERT_TRUE(s_->RecoverSchedule(rec, now_).ok());
    std::vector<protocol::Job> jobs;
    for (const auto& [seq, job] : jobs_) jobs.push_back(job);
    s_->Recover(std::move(jobs), next_seq_, now_);
    Take();
  }

  static ScheduleSpec Every(const std::string& name, uint64_t every_ms) {
    ScheduleSpec s;
    s.name = name;
    s.every_ms = every_ms;
    s.job.type = "echo";
    return s;
  }
  static ScheduleSpec Cron(const std::string& name, const std::string& cron) {
    ScheduleSpec s;
    s.name = name;
    s.cron = cron;
    s.job.type = "echo";
    return s;
  }

  // Keeps what the effects journal, like the journal would; returns the replies' one schedule.
  void Take() {
    fx_ = s_->TakeEffects();
    for (auto& w : fx_.writes) jobs_[w.job.seq] = w.job;
    for (uint64_t seq : fx_.deletes) jobs_.erase(seq);
    if (fx_.next_seq != 0) next_seq_ = fx_.next_seq;
    for (auto& sw : fx_.schedule_writes) {
      if (sw.remove) {
        journal_.erase(sw.name);
      } else {
        journal_[sw.name] = sw.schedule;
      }
    }
  }
  Result<ScheduleInfo> Reply() {
    EXPECT_EQ(fx_.replies.size(), 1u);
    if (fx_.replies.empty()) return Status::Internal("no reply");
    auto& body = fx_.replies.front().body;
    if (auto* e = std::get_if<protocol::ErrorReply>(&body)) return Status(e->code, e->message);
    auto& list = std::get<protocol::ScheduleListReply>(body);
    EXPECT_EQ(list.schedules.size(), 1u);
    return list.schedules.at(0);
  }
  Result<ScheduleInfo> Add(ScheduleSpec spec) {
    s_->AddSchedule(++token_, std::move(spec), now_);
    Take();
    return Reply();
  }
  Result<ScheduleInfo> Change(const std::string& name, ScheduleAction a) {
    s_->ChangeSchedule(++token_, protocol::ScheduleChangeRequest{name, a}, now_);
    Take();
    return Reply();
  }
  // Advances the clock and ticks; returns the ids of the jobs submitted by the tick.
  std::vector<std::string> TickTo(uint64_t t) {
    now_ = t;
    s_->Tick(now_);
    Take();
    tick_fx_ = fx_;
    std::vector<std::string> ids;
    for (auto& w : fx_.writes)
      if (!w.events.empty() && w.events.front().first == 0) ids.push_back(w.job.id);
    // A slot is freed at once, so dispatches never hold jobs back.
    for (auto& d : fx_.dispatches) {
      s_->Complete(Outcome{d.slot, d.lease, d.seq, true, std::string("\xc0", 1), ""}, now_);
      Take();
    }
    return ids;
  }
  const protocol::Schedule& Journaled(const std::string& name) { return journal_.at(name); }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  Effects tick_fx_;  // the effects of the last TickTo's tick itself
  uint64_t now_ = kStartMs;
  uint64_t token_ = 0;
  std::map<std::string, protocol::Schedule> journal_;
  std::map<uint64_t, protocol::Job> jobs_;
  uint64_t next_seq_ = 0;
};

TEST_F(ScheduleTest, EveryFiresOnItsTicksWithItsRecordInTheSameEffects) {
  auto added = Add(Every("tick", 2000));
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added.value().node, "n1");
  EXPECT_EQ(added.value().next_fire_ms, kStartMs + 2000);
  EXPECT_EQ(s_->NextDeadlineMs(), kStartMs + 2000);
  EXPECT_TRUE(TickTo(kStartMs + 1999).empty());
  auto ids = TickTo(kStartMs + 2000);
  ASSERT_EQ(ids.size(), 1u);
  // The fire's job and the schedule's new state leave in one set of effects (one batch).
  ASSERT_EQ(tick_fx_.schedule_writes.size(), 1u);
  EXPECT_EQ(tick_fx_.schedule_writes[0].schedule.last_fire_ms, kStartMs + 2000);
  EXPECT_EQ(tick_fx_.schedule_writes[0].schedule.last_job_id, ids[0]);
  EXPECT_EQ(tick_fx_.schedule_writes[0].schedule.fires, 1u);
  EXPECT_EQ(jobs_.at(1).spec.type, "echo");
  EXPECT_EQ(jobs_.at(1).spec.key(), "schedule:tick:1");
  EXPECT_TRUE(TickTo(kStartMs + 3999).empty());
  EXPECT_EQ(TickTo(kStartMs + 4005).size(), 1u);  // a late tick fires once
  EXPECT_EQ(TickTo(kStartMs + 6000).size(), 1u);  // and the grid holds
  EXPECT_EQ(s_->Stats().counters["schedule_fires"], 3u);
}

TEST_F(ScheduleTest, CronFiresAtTheMatchingMinute) {
  auto added = Add(Cron("five", "*/5 * * * *"));
  ASSERT_TRUE(added.ok());
  const uint64_t t1005 = kStartMs - 30000 + 5 * 60000;  // 10:05:00
  EXPECT_EQ(added.value().next_fire_ms, t1005);
  EXPECT_TRUE(TickTo(t1005 - 1).empty());
  EXPECT_EQ(TickTo(t1005).size(), 1u);
  EXPECT_EQ(s_->NextDeadlineMs(), t1005 + 5 * 60000);
  EXPECT_TRUE(TickTo(t1005 + 5 * 60000 - 1).empty());
  EXPECT_EQ(TickTo(t1005 + 5 * 60000).size(), 1u);
}

TEST_F(ScheduleTest, TicksMissedWhileDownFireOnceOnRestart) {
  ASSERT_TRUE(Add(Every("tick", 2000)).ok());
  ASSERT_EQ(TickTo(kStartMs + 2000).size(), 1u);
  // Down for 7 s: the ticks at +4, +6 and +8 s are missed.
  now_ = kStartMs + 9000;
  Restart();
  auto ids = TickTo(now_);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Journaled("tick").last_fire_ms, kStartMs + 9000);
  EXPECT_EQ(Journaled("tick").fires, 2u);
  // Then regular ticks, not more catch-up: a whole interval after the catch-up fire.
  EXPECT_TRUE(TickTo(kStartMs + 10999).empty());
  EXPECT_EQ(TickTo(kStartMs + 11000).size(), 1u);
  EXPECT_EQ(TickTo(kStartMs + 13000).size(), 1u);
  EXPECT_EQ(jobs_.size(), 4u);
}

TEST_F(ScheduleTest, OneMissedTickFiresLateAndKeepsTheGrid) {
  ASSERT_TRUE(Add(Every("tick", 2000)).ok());
  ASSERT_EQ(TickTo(kStartMs + 2000).size(), 1u);
  now_ = kStartMs + 5000;  // down across the tick at +4 s only
  Restart();
  EXPECT_EQ(TickTo(now_).size(), 1u);
  EXPECT_EQ(TickTo(kStartMs + 6000).size(), 1u);
}

TEST_F(ScheduleTest, CronCatchesUpOnceAndKeepsItsTimes) {
  ASSERT_TRUE(Add(Cron("five", "*/5 * * * *")).ok());
  const uint64_t t1005 = kStartMs - 30000 + 5 * 60000;  // 10:05:00
  now_ = t1005 + 12 * 60000 + 1234;  // down across 10:05, 10:10 and 10:15
  Restart();
  EXPECT_EQ(TickTo(now_).size(), 1u);
  EXPECT_TRUE(TickTo(t1005 + 15 * 60000 - 1).empty());
  EXPECT_EQ(TickTo(t1005 + 15 * 60000).size(), 1u);  // 10:20, on its cron time
}

TEST_F(ScheduleTest, AFireWhoseRecordWasLostFindsItsJobInsteadOfMakingASecond) {
  ASSERT_TRUE(Add(Every("tick", 2000)).ok());
  protocol::Schedule before = Journaled("tick");
  auto ids = TickTo(kStartMs + 2000);
  ASSERT_EQ(ids.size(), 1u);
  // A crash after the job's batch and before the one with the schedule's record (a split
  // backlog): the journal holds the job, and the schedule as it was before the fire.
  journal_["tick"] = before;
  now_ = kStartMs + 2500;
  Restart();
  EXPECT_TRUE(TickTo(now_).empty());  // the fire finds job 1 by its key
  EXPECT_EQ(jobs_.size(), 1u);
  EXPECT_EQ(Journaled("tick").last_job_id, ids[0]);
  EXPECT_EQ(Journaled("tick").fires, 1u);
  EXPECT_EQ(TickTo(kStartMs + 4000).size(), 1u);
}

TEST_F(ScheduleTest, PauseStopsFiringAndResumeSkipsTheTicksMissedMeanwhile) {
  ASSERT_TRUE(Add(Every("tick", 1000)).ok());
  ASSERT_EQ(TickTo(kStartMs + 1000).size(), 1u);
  auto paused = Change("tick", ScheduleAction::kPause);
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(paused.value().paused);
  EXPECT_EQ(paused.value().next_fire_ms, 0u);
  EXPECT_TRUE(Journaled("tick").paused);
  EXPECT_EQ(s_->schedules().NextDeadlineMs(), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(TickTo(kStartMs + 5500).empty());
  ASSERT_TRUE(Change("tick", ScheduleAction::kPause).ok());  // again: no change, no error
  // Paused across a restart too.
  Restart();
  EXPECT_TRUE(TickTo(kStartMs + 5600).empty());
  auto resumed = Change("tick", ScheduleAction::kResume);
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE(resumed.value().paused);
  EXPECT_EQ(resumed.value().next_fire_ms, kStartMs + 6000);  // the next tick after now
  EXPECT_TRUE(TickTo(kStartMs + 5999).empty());
  EXPECT_EQ(TickTo(kStartMs + 6000).size(), 1u);
}

TEST_F(ScheduleTest, RemoveStopsItAndDeletesItsRecord) {
  ASSERT_TRUE(Add(Every("tick", 1000)).ok());
  auto removed = Change("tick", ScheduleAction::kRemove);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value().name, "tick");
  ASSERT_EQ(fx_.schedule_writes.size(), 1u);
  EXPECT_TRUE(fx_.schedule_writes[0].remove);
  EXPECT_EQ(journal_.count("tick"), 0u);
  EXPECT_TRUE(TickTo(kStartMs + 5000).empty());
  // The name is free again.
  EXPECT_TRUE(Add(Every("tick", 1000)).ok());
}

TEST_F(ScheduleTest, AddAndChangeErrors) {
  ASSERT_TRUE(Add(Every("tick", 1000)).ok());
  EXPECT_TRUE(Add(Every("tick", 5000)).status().IsConflict());
  EXPECT_TRUE(Change("nope", ScheduleAction::kPause).status().IsNotFound());
  EXPECT_TRUE(Change("nope", ScheduleAction::kRemove).status().IsNotFound());
  auto bad = Add(Cron("bad", "* 25 * * *"));
  ASSERT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("cron field 2 (hour)"), std::string::npos);
  auto type = Every("t", 1000);
  type.job.type = "nosuch";
  EXPECT_TRUE(Add(type).status().IsInvalidArgument());
  EXPECT_TRUE(Add(Every("fast", 999)).status().IsInvalidArgument());
  auto keyed = Every("keyed", 1000);
  keyed.job.key = "k";
  EXPECT_TRUE(Add(keyed).status().IsInvalidArgument());
  for (uint32_t i = 1; i < limits::kSchedulesPerNodeMax; ++i)
    ASSERT_TRUE(Add(Every("s" + std::to_string(i), 60000)).ok());
  EXPECT_TRUE(Add(Every("one-more", 60000)).status().IsOverloaded());
  EXPECT_EQ(journal_.size(), limits::kSchedulesPerNodeMax);
}

TEST_F(ScheduleTest, ADrainingNodeDoesNotFire) {
  ASSERT_TRUE(Add(Every("tick", 1000)).ok());
  s_->Drain();
  Take();
  EXPECT_TRUE(TickTo(kStartMs + 3000).empty());
  EXPECT_EQ(Journaled("tick").fires, 0u);
}

TEST_F(ScheduleTest, ListShowsNextAndLastFire) {
  ASSERT_TRUE(Add(Every("b", 1000)).ok());
  ASSERT_TRUE(Add(Cron("a", "@hourly")).ok());
  auto ids = TickTo(kStartMs + 1000);
  ASSERT_EQ(ids.size(), 1u);
  s_->ListSchedules(++token_);
  Take();
  auto& list = std::get<protocol::ScheduleListReply>(fx_.replies.at(0).body);
  ASSERT_EQ(list.schedules.size(), 2u);
  EXPECT_EQ(list.schedules[0].name, "a");
  EXPECT_EQ(list.schedules[0].cron, "@hourly");
  EXPECT_EQ(list.schedules[0].last_fire_ms, 0u);
  EXPECT_EQ(list.schedules[1].name, "b");
  EXPECT_EQ(list.schedules[1].every_ms, 1000u);
  EXPECT_EQ(list.schedules[1].last_fire_ms, kStartMs + 1000);
  EXPECT_EQ(list.schedules[1].next_fire_ms, kStartMs + 2000);
  EXPECT_EQ(list.schedules[1].last_job_id, ids[0]);
}

}  // namespace
}  // namespace jobnet::sched
