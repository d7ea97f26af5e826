// The autoscaler's decisions (core/autoscaler.hpp), tick by tick on a fake steady clock.
#include <gtest/gtest.h>

#include "base/cpu_idle.hpp"
#include "core/autoscaler.hpp"
#include "core/scheduler_core.hpp"

namespace jobnet::sched {
namespace {

class AutoscalerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AutoscaleSettings s;
    s.min = 2;
    s.max = 8;
    s.target_wait_ms = 1000;
    s.quiet_ms = 5000;
    a_.Configure(s);
  }
  // One tick at now_ (then advances the clock by step_ms).
  std::optional<uint32_t> Tick(uint32_t busy, bool waiting, std::optional<uint32_t> idle = 900,
                               uint64_t step_ms = 500) {
    auto d = a_.Decide({now_, size_, busy, waiting, idle});
    if (d) size_ = *d;
    now_ += step_ms;
    return d;
  }
  Autoscaler a_;
  uint64_t now_ = 10'000;
  uint32_t size_ = 2;
};

TEST_F(AutoscalerTest, GrowsByHalfAfterTheTargetWaitAndStopsAtTheMaximum) {
  EXPECT_FALSE(Tick(2, true));  // the backlog starts
  EXPECT_FALSE(Tick(2, true));  // 500 ms of it
  EXPECT_EQ(Tick(2, true), 3u);  // 1 s: one more slot (half of 2)
  EXPECT_FALSE(Tick(3, true));
  EXPECT_EQ(Tick(3, true), 4u);  // a whole target wait again, then 3 + 1
  EXPECT_FALSE(Tick(4, true));
  EXPECT_EQ(Tick(4, true), 6u);  // 4 + 2
  EXPECT_FALSE(Tick(6, true));
  EXPECT_EQ(Tick(6, true), 8u);  // 6 + 3, capped at 8
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Tick(8, true)) << i;  // never above max
}

TEST_F(AutoscalerTest, NeverGrowsWithoutCpuToGiveOrWithAFreeSlot) {
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Tick(2, true, 100)) << i;  // 10% idle: busy machine
  EXPECT_FALSE(Tick(1, true));  // a free slot: the wait is not for want of slots
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Tick(2, false)) << i;  // busy, nothing waits
  // Not measured: grows (a node that cannot read the CPU share still follows its backlog).
  EXPECT_FALSE(Tick(2, true, std::nullopt));
  EXPECT_FALSE(Tick(2, true, std::nullopt));
  EXPECT_EQ(Tick(2, true, std::nullopt), 3u);
}

TEST_F(AutoscalerTest, ShrinksToTheBusySlotsAfterAQuietPeriodNeverBelowTheMinimum) {
  size_ = 8;
  EXPECT_FALSE(Tick(5, false, 900, 4999));  // quiet starts
  EXPECT_FALSE(Tick(5, false, 900, 1));     // 4999 ms of it: not yet
  EXPECT_EQ(Tick(5, false), 5u);            // 5 s of quiet: down to the 5 busy slots
  EXPECT_FALSE(Tick(5, false));             // all busy: not quiet
  EXPECT_FALSE(Tick(0, false, 900, 4000));
  EXPECT_FALSE(Tick(0, true));  // a job waits (with free slots: a dispatch is due): no quiet
  EXPECT_FALSE(Tick(0, false, 900, 5000));
  EXPECT_EQ(Tick(0, false), 2u);  // quiet again for 5 s: the minimum, not 0
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(Tick(0, false, 900, 1000)) << i;
}

TEST_F(AutoscalerTest, APoolOutsideTheBoundsComesBackAtOnceAndOffDecidesNothing) {
  size_ = 1;
  EXPECT_EQ(Tick(0, false), 2u);
  size_ = 20;
  EXPECT_EQ(Tick(20, true), 8u);
  a_.Configure({});
  EXPECT_FALSE(a_.enabled());
  size_ = 1;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Tick(1, true)) << i;
}

TEST(CpuIdleTest, TheIdleShareIsTakenBetweenTwoReadingsOfProcStat) {
  base::CpuIdle c;
  EXPECT_FALSE(c.SampleText("cpu  100 0 100 700 100 0 0 0 0 0"));  // the first: nothing to compare
  // +100 user, +300 idle, +100 iowait: 400 of 500 jiffies idle.
  EXPECT_EQ(c.SampleText("cpu  200 0 100 1000 200 0 0 0 0 0"), 800u);
  EXPECT_FALSE(c.SampleText("cpu  200 0 100 1000 200 0 0 0 0 0"));  // no time passed
  EXPECT_FALSE(c.SampleText("intr 1 2 3"));
  EXPECT_FALSE(base::ParseCpuLine("cpu 1 2"));
  EXPECT_FALSE(base::ParseCpuLine("cpu0 1 2 3 4"));
  auto line = base::ParseCpuLine("cpu 1 2 3 4");  // an old kernel: no iowait column
  ASSERT_TRUE(line);
  EXPECT_EQ(line->first, 4u);
  EXPECT_EQ(line->second, 10u);
}

// The scheduler core with autoscaling on: a backlog grows the pool (with CPU to give), quiet
// shrinks it, `workers set` turns it off, and the request's bounds are checked.
class SchedulerAutoscaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.node_id = "n1";
    o.workers = 1;
    o.known_types = {"sleep"};
    o.autoscale.min = 1;
    o.autoscale.max = 4;
    o.autoscale.target_wait_ms = 1000;
    o.autoscale.quiet_ms = 5000;
    s_ = std::make_unique<Scheduler>(o);
  }
  void Submit(int n) {
    for (int i = 0; i < n; ++i) {
      JobSpec spec;
      spec.type = "sleep";
      s_->Submit(++token_, spec, now_);
    }
    fx_ = s_->TakeEffects();
  }
  void Tick(uint64_t advance_ms) {
    now_ += advance_ms;
    s_->Tick(now_);
    fx_ = s_->TakeEffects();
  }
  uint64_t Counter(const std::string& name) { return s_->Stats().counters[name]; }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
};

TEST_F(SchedulerAutoscaleTest, ABacklogGrowsThePoolOnlyWithCpuToGiveAndWorkersSetTurnsItOff) {
  Submit(10);
  EXPECT_EQ(s_->WorkerList().workers, 1u);
  EXPECT_EQ(s_->WorkerList().autoscale_min, 1u);
  EXPECT_EQ(s_->WorkerList().autoscale_max, 4u);
  s_->SetCpuIdle(50);  // 5% idle: a busy machine
  for (int i = 0; i < 5; ++i) Tick(1000);
  EXPECT_EQ(s_->WorkerList().workers, 1u);
  s_->SetCpuIdle(800);
  Tick(1000);  // the backlog has lasted past the target wait: one more slot
  EXPECT_EQ(s_->WorkerList().workers, 2u);
  EXPECT_EQ(s_->WorkerList().slots.size(), 2u);
  EXPECT_EQ(Counter("autoscale_grown"), 1u);
  bool logged = false;
  for (const auto& n : fx_.notes) logged |= n.find("autoscale") != std::string::npos;
  EXPECT_TRUE(logged);
  for (int i = 0; i < 10; ++i) Tick(1000);
  EXPECT_EQ(s_->WorkerList().workers, 4u);  // 2 -> 3 -> 4, never past max
  s_->SetWorkers(++token_, 2, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(s_->WorkerList().workers, 2u);
  EXPECT_EQ(s_->WorkerList().autoscale_min, 0u);  // off
  for (int i = 0; i < 10; ++i) Tick(1000);
  EXPECT_EQ(s_->WorkerList().workers, 2u);
}

TEST_F(SchedulerAutoscaleTest, QuietShrinksToTheMinimumAndTheRequestIsChecked) {
  protocol::WorkersAutoscaleRequest req{2, 6, 0, 2000};
  s_->SetAutoscale(++token_, req, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(s_->WorkerList().workers, 2u);  // 1 is below the new min: up at once
  EXPECT_EQ(s_->WorkerList().autoscale_max, 6u);
  s_->SetWorkers(++token_, 6, now_);  // off, at 6
  fx_ = s_->TakeEffects();
  s_->SetAutoscale(++token_, req, now_);  // on again, quiet 2 s
  fx_ = s_->TakeEffects();
  Tick(1000);
  Tick(1000);
  Tick(1000);
  EXPECT_EQ(s_->WorkerList().workers, 2u);
  EXPECT_EQ(Counter("autoscale_shrunk"), 1u);
  for (auto bad : {protocol::WorkersAutoscaleRequest{3, 2, 0, 0},
                   protocol::WorkersAutoscaleRequest{1, 2000, 0, 0},
                   protocol::WorkersAutoscaleRequest{1, 2, 5, 0}}) {
    s_->SetAutoscale(++token_, bad, now_);
    auto fx = s_->TakeEffects();
    ASSERT_EQ(fx.replies.size(), 1u);
    auto* e = std::get_if<protocol::ErrorReply>(&fx.replies[0].body);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, Code::kInvalidArgument);
  }
  s_->SetAutoscale(++token_, protocol::WorkersAutoscaleRequest{}, now_);  // off
  fx_ = s_->TakeEffects();
  EXPECT_EQ(s_->WorkerList().autoscale_min, 0u);
}

}  // namespace
}  // namespace jobnet::sched
