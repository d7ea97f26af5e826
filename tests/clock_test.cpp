// The node's loop clock (core/clock.hpp): durations on the steady clock less the loop's own
// stalls, instants on the wall clock. Driven by injected clocks; no sleeps.
#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace jobnet::sched {
namespace {

class ClockTest : public ::testing::Test {
 protected:
  uint64_t wall_ = 1'700'000'000'000ull;
  uint64_t steady_ = 5'000;
  LoopClock clock_{250, [this] { return wall_; }, [this] { return steady_; }};
};

TEST_F(ClockTest, AWallStepMovesOnlyTheWallReading) {
  Now a = clock_.Read();
  wall_ += 3600 * 1000;  // NTP steps it forward an hour
  steady_ += 10;
  Now b = clock_.Read();
  EXPECT_EQ(b.mono_ms - a.mono_ms, 10u);
  EXPECT_EQ(b.wall_ms - a.wall_ms, 3600u * 1000);
  wall_ -= 2 * 3600 * 1000;  // and back two
  steady_ += 10;
  Now c = clock_.Read();
  EXPECT_EQ(c.mono_ms - b.mono_ms, 10u);
  EXPECT_LT(c.wall_ms, a.wall_ms);
  EXPECT_EQ(clock_.stalls(), 0u);
}

TEST_F(ClockTest, AStallOfTheLoopIsLeftOutOfTheSteadyReading) {
  Now a = clock_.Read();
  steady_ += 100;  // a busy message: not a stall
  uint64_t stalled = 1;
  Now b = clock_.Read(&stalled);
  EXPECT_EQ(stalled, 0u);
  EXPECT_EQ(b.mono_ms - a.mono_ms, 100u);
  steady_ += 10'000;  // SIGSTOP for 10 s
  wall_ += 10'000;
  Now c = clock_.Read(&stalled);
  EXPECT_EQ(stalled, 10'000u);
  EXPECT_EQ(c.mono_ms, b.mono_ms);  // no time passed for anyone the node judges
  EXPECT_EQ(c.wall_ms - b.wall_ms, 10'000u);
  steady_ += 20;
  Now d = clock_.Read(&stalled);
  EXPECT_EQ(stalled, 0u);
  EXPECT_EQ(d.mono_ms - c.mono_ms, 20u);
  EXPECT_EQ(clock_.stalls(), 1u);
  EXPECT_EQ(clock_.stalled_ms_total(), 10'000u);
}

TEST_F(ClockTest, TheSteadyReadingNeverGoesBackOrIsZero) {
  steady_ = 0;
  EXPECT_GE(clock_.Read().mono_ms, 1u);
  steady_ = 100;
  Now a = clock_.Read();
  steady_ = 50;  // a source that misbehaves
  EXPECT_GE(clock_.Read().mono_ms, a.mono_ms);
}

TEST(SystemClockTest, TheSystemSourcesRead) {
  LoopClock clock(250);
  Now a = clock.Read();
  Now b = clock.Read();
  EXPECT_GT(a.wall_ms, 1'600'000'000'000ull);  // after 2020
  EXPECT_GE(b.mono_ms, a.mono_ms);
}

}  // namespace
}  // namespace jobnet::sched
