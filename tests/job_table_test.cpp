// JobTable: jobs by seq in seq order, stable addresses, and pages that go with their last job.
// Method: drive it against a std::map model with random inserts and erases.
#include "core/job_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace jobnet::sched {
namespace {

using protocol::Job;

Job JobWithSeq(uint64_t seq) {
  Job j;
  j.seq = seq;
  return j;
}

TEST(JobTableTest, FindsInsertsAndErasesBySeq) {
  JobTable t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.Find(1), nullptr);
  EXPECT_EQ(t.NextFrom(0), 0u);
  Job& a = t.Insert(1, JobWithSeq(1));
  t.Insert(JobTable::kPageSlots, JobWithSeq(JobTable::kPageSlots));  // the next page
  t.Insert(UINT64_MAX, JobWithSeq(UINT64_MAX));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Find(1), &a);
  EXPECT_EQ(t.At(UINT64_MAX).seq, UINT64_MAX);
  EXPECT_TRUE(t.Contains(JobTable::kPageSlots));
  EXPECT_FALSE(t.Contains(2));
  EXPECT_EQ(t.NextFrom(0), 1u);
  EXPECT_EQ(t.NextFrom(2), JobTable::kPageSlots);
  EXPECT_EQ(t.NextFrom(JobTable::kPageSlots + 1), UINT64_MAX);
  EXPECT_EQ(t.After(UINT64_MAX), 0u);
  t.Erase(1);
  EXPECT_EQ(t.Find(1), nullptr);
  EXPECT_EQ(t.NextFrom(0), JobTable::kPageSlots);
  EXPECT_EQ(t.size(), 2u);
}

TEST(JobTableTest, AJobKeepsItsAddressWhileOthersComeAndGo) {
  JobTable t;
  Job& kept = t.Insert(5, JobWithSeq(5));
  for (uint64_t s = 6; s < 10 * JobTable::kPageSlots; s++) t.Insert(s, JobWithSeq(s));
  for (uint64_t s = 6; s < 10 * JobTable::kPageSlots; s++) t.Erase(s);
  EXPECT_EQ(t.Find(5), &kept);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.NextFrom(6), 0u);
}

TEST(JobTableTest, MatchesAnOrderedMapUnderRandomInsertsAndErases) {
  JobTable t;
  std::map<uint64_t, bool> model;
  std::mt19937_64 rng(17);
  uint64_t next = 1;
  for (int step = 0; step < 20000; step++) {
    if (model.empty() || rng() % 3 != 0) {
      next += 1 + rng() % 3;  // mostly dense, with gaps
      t.Insert(next, JobWithSeq(next));
      model[next] = true;
    } else {
      auto it = model.lower_bound(rng() % (next + 1));
      if (it == model.end()) it = model.begin();
      t.Erase(it->first);
      model.erase(it);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  uint64_t probe = rng() % next;
  auto expect = model.lower_bound(probe);
  EXPECT_EQ(t.NextFrom(probe), expect == model.end() ? 0 : expect->first);
  std::vector<uint64_t> walked;
  for (uint64_t s = t.NextFrom(0); s != 0; s = t.After(s)) {
    walked.push_back(s);
    EXPECT_EQ(t.At(s).seq, s);
  }
  std::vector<uint64_t> want;
  for (const auto& [s, unused] : model) want.push_back(s);
  EXPECT_EQ(walked, want);
}

TEST(JobTableTest, ErasingAJobNotHeldFailStops) {
  JobTable t;
  t.Insert(3, JobWithSeq(3));
  EXPECT_EXIT(t.Erase(4), ::testing::ExitedWithCode(70), "erase of a job not held");
  EXPECT_EXIT(t.Insert(3, JobWithSeq(3)), ::testing::ExitedWithCode(70), "a seq is held once");
}

}  // namespace
}  // namespace jobnet::sched
