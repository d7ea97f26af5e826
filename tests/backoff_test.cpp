// The one backoff formula (core/backoff.hpp): doubling up to the cap without overflow, the
// ±10 % jitter rule at both ends of its range, and the zero cases that mean "no wait".
#include <gtest/gtest.h>

#include <algorithm>

#include "core/backoff.hpp"
#include "jobnet/limits.h"

namespace jobnet::sched {
namespace {

TEST(BackoffTest, DoublesUpToTheCapWithoutOverflow) {
  for (uint32_t n = 1; n <= 12; ++n)
    EXPECT_EQ(DoublingMs(n, 1000, 60000), std::min<uint64_t>(1000ull << (n - 1), 60000)) << n;
  EXPECT_EQ(DoublingMs(64, 1000, 60000), 60000u);
  EXPECT_EQ(DoublingMs(UINT32_MAX, 1000, limits::kBackoffMsMax), limits::kBackoffMsMax);
  EXPECT_EQ(DoublingMs(2, UINT64_MAX / 2 + 1, UINT64_MAX), UINT64_MAX);
}

TEST(BackoffTest, ZeroAttemptsBaseOrCapMeansNoWait) {
  EXPECT_EQ(DoublingMs(0, 1000, 60000), 0u);
  EXPECT_EQ(DoublingMs(3, 0, 60000), 0u);
  EXPECT_EQ(DoublingMs(3, 1000, 0), 0u);
  EXPECT_EQ(BackoffMs(3, 0, 60000, 12345), 0u);
  EXPECT_EQ(JitterMs(0, ~0ull), 0u);
}

TEST(BackoffTest, JitterIsTenPercentEitherSide) {
  for (uint64_t d : {uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{1000}, uint64_t{60000},
                     limits::kBackoffMsMax}) {
    EXPECT_EQ(JitterMs(d, 0), d - d / 10) << d;                // the bottom of the range
    EXPECT_EQ(JitterMs(d, d / 5), d - d / 10 + d / 5) << d;    // the top
    for (uint64_t r : {1ull, 12345ull, ~0ull}) {
      uint64_t j = JitterMs(d, r);
      EXPECT_GE(j, d - d / 10) << d;
      EXPECT_LE(j, d - d / 10 + d / 5) << d;
    }
  }
}

TEST(BackoffTest, BackoffIsTheJitteredDoublingNeverPastItsCap) {
  for (uint32_t n = 1; n <= 8; ++n)
    for (uint64_t r : {0ull, 7ull, 12000ull, ~0ull})
      EXPECT_EQ(BackoffMs(n, 1000, 60000, r),
                std::min<uint64_t>(JitterMs(DoublingMs(n, 1000, 60000), r), 60000))
          << n << " " << r;
  // At the cap the top of the jitter range is cut: 60000 + 6000 would pass the user's maximum.
  EXPECT_EQ(BackoffMs(10, 1000, 60000, 12000), 60000u);
  EXPECT_EQ(BackoffMs(10, 1000, 60000, 0), 54000u);
}

}  // namespace
}  // namespace jobnet::sched
