// Run marks contract (storage/run_marks.hpp): a mark outlives the object (and the process) that
// wrote it, is left untouched until Arm, is cleared by Clear and by Arm; a torn mark reads as
// clear; ApplyTo charges an attempt only to an unfinished job whose journal is behind the mark.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/run_marks.hpp"

namespace jobnet {
namespace {

using protocol::Job;
using protocol::JobState;

class RunMarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jobnet_run_marks_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<RunMarks> Open() {
    std::unique_ptr<RunMarks> m;
    Status s = RunMarks::Open(dir_.string(), &m);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  }
  std::filesystem::path dir_;
};

TEST_F(RunMarksTest, MarksSurviveUntilArmedAndClearClearsThem) {
  {
    auto m = Open();
    EXPECT_TRUE(m->left().empty());
    ASSERT_TRUE(m->Arm(3).ok());
    m->Mark(0, 7, 1);
    m->Mark(2, 42, 3);
    m->Clear(0);
    // No Clear of slot 2: as if the process died while running job 42.
  }
  {
    auto m = Open();
    ASSERT_EQ(m->left().size(), 1u);
    EXPECT_EQ(m->left()[0].slot, 2u);
    EXPECT_EQ(m->left()[0].seq, 42u);
    EXPECT_EQ(m->left()[0].attempt, 3u);
    // Not armed (recovery failed): the marks stay for the next start.
  }
  {
    auto m = Open();
    ASSERT_EQ(m->left().size(), 1u);
    ASSERT_TRUE(m->Arm(1).ok());  // fewer workers now: the file shrinks, all clear
  }
  EXPECT_TRUE(Open()->left().empty());
}

TEST_F(RunMarksTest, TornOrForeignBytesReadAsNoMarks) {
  {
    auto m = Open();
    ASSERT_TRUE(m->Arm(2).ok());
    m->Mark(0, 5, 1);
    m->Mark(1, 6, 1);
  }
  {
    // Flip a byte of slot 0's attempt: its check no longer matches.
    std::fstream f(dir_ / "run.marks", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16 + 8);
    f.put('\x7f');
  }
  auto m = Open();
  ASSERT_EQ(m->left().size(), 1u);
  EXPECT_EQ(m->left()[0].seq, 6u);
  m.reset();
  std::ofstream(dir_ / "run.marks", std::ios::trunc) << "not a marks file at all";
  EXPECT_TRUE(Open()->left().empty());
}

TEST_F(RunMarksTest, ApplyToChargesOnlyUnfinishedJobsBehindTheMark) {
  auto started = RunMarks::Started({{0, 10, 2}, {1, 11, 1}, {2, 12, 1}, {3, 10, 1}});
  Job queued;  // journal says queued after 1 attempt; the mark says attempt 2 started
  queued.seq = 10;
  queued.state = JobState::kQueued;
  queued.attempts = 1;
  EXPECT_TRUE(RunMarks::ApplyTo(started, &queued));
  EXPECT_EQ(queued.state, JobState::kRunning);
  EXPECT_EQ(queued.attempts, 2u);  // the highest mark of the job wins
  Job running;  // the running record of that attempt made it: nothing to add
  running.seq = 11;
  running.state = JobState::kRunning;
  running.attempts = 1;
  EXPECT_FALSE(RunMarks::ApplyTo(started, &running));
  Job done;  // finished before the crash
  done.seq = 12;
  done.state = JobState::kSucceeded;
  done.attempts = 0;
  EXPECT_FALSE(RunMarks::ApplyTo(started, &done));
  EXPECT_EQ(done.state, JobState::kSucceeded);
  Job other;  // no mark
  other.seq = 99;
  EXPECT_FALSE(RunMarks::ApplyTo(started, &other));
}

}  // namespace
}  // namespace jobnet
