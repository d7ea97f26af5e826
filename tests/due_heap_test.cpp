// DueHeap: the earliest live entry first, lazy erase, and memory that follows what is live.
#include "core/due_heap.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace jobnet::sched {
namespace {

TEST(DueHeapTest, PopsInOrderOfDueThenSeq) {
  DueHeap h;
  h.Add(30, 1);
  h.Add(10, 3);
  h.Add(10, 2);
  h.Add(20, 4);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h.top(), (DueHeap::Entry{10, 2}));
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{10, 2}));
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{10, 3}));
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{20, 4}));
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{30, 1}));
  EXPECT_TRUE(h.empty());
}

TEST(DueHeapTest, ErasedEntriesNeverSurface) {
  DueHeap h;
  h.Add(10, 1);
  h.Add(20, 2);
  h.Add(30, 3);
  h.Erase(10, 1);  // the top: dropped at once
  EXPECT_EQ(h.top(), (DueHeap::Entry{20, 2}));
  h.Erase(30, 3);  // in the middle: dropped when it would surface
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{20, 2}));
  EXPECT_TRUE(h.empty());
}

TEST(DueHeapTest, AnEntryAddedAgainAfterItsEraseIsLive) {
  DueHeap h;
  h.Add(50, 7);
  h.Add(60, 8);
  h.Erase(60, 8);
  h.Add(60, 8);  // a job delayed again to the same instant
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{50, 7}));
  EXPECT_EQ(h.Pop(), (DueHeap::Entry{60, 8}));
  EXPECT_TRUE(h.empty());
}

// Against a std::set as the model: random adds, erases and pops, past the rebuild threshold.
TEST(DueHeapTest, MatchesAnOrderedSetUnderRandomUse) {
  std::mt19937_64 rng(42);
  DueHeap h;
  std::set<DueHeap::Entry> model;
  uint64_t seq = 0;
  for (int i = 0; i < 200000; ++i) {
    int op = static_cast<int>(rng() % 10);
    if (op < 5 || model.empty()) {
      DueHeap::Entry e{rng() % 5000, ++seq};
      h.Add(e.first, e.second);
      model.insert(e);
    } else if (op < 9) {  // erase a random live entry
      auto it = model.lower_bound(DueHeap::Entry{rng() % 5000, 0});
      if (it == model.end()) it = model.begin();
      h.Erase(it->first, it->second);
      model.erase(it);
    } else {
      ASSERT_EQ(h.Pop(), *model.begin());
      model.erase(model.begin());
    }
    ASSERT_EQ(h.size(), model.size());
    if (!model.empty()) ASSERT_EQ(h.top(), *model.begin());
  }
  while (!model.empty()) {
    ASSERT_EQ(h.Pop(), *model.begin());
    model.erase(model.begin());
  }
  EXPECT_TRUE(h.empty());
}

}  // namespace
}  // namespace jobnet::sched
