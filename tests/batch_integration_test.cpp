// Issue 9 against real `jobnet node` processes: a submit_batch with one bad spec is journaled
// with one fsync (the node's journal_batches counter); a payload its handler cannot accept is
// refused at submit; `jobnet types` lists every handler; retry --all from the CLI reports its
// count and repeats as a no-op; the attempt history survives a restart (derived from the
// journal's events).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "node_harness.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::RunCli;

JobSpec Spec(const std::string& type, std::string payload, uint64_t delay_ms = 0) {
  JobSpec s;
  s.type = type;
  s.payload = std::move(payload);
  s.delay_ms = delay_ms;
  return s;
}

class BatchIntegrationTest : public testing::DirTest {};

TEST_F(BatchIntegrationTest, BatchWithOneBadSpecTakesOneFsync) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  // Delayed an hour: no run writes anything while the batch is measured.
  std::vector<JobSpec> specs;
  for (int i = 0; i < 500; ++i) specs.push_back(Spec("echo", Pack(i), 3'600'000));
  specs[250] = Spec("sleep", Pack(std::string("not a number")), 3'600'000);
  auto before = c->Stats();
  ASSERT_TRUE(before.ok());
  auto r = c->SubmitBatch(specs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r.value().size(), 500u);
  std::set<std::string> ids;
  for (size_t i = 0; i < 500; ++i) {
    if (i == 250) {
      EXPECT_TRUE(r.value()[i].status.IsInvalidArgument()) << r.value()[i].status.ToString();
    } else {
      ASSERT_TRUE(r.value()[i].status.ok()) << i << ": " << r.value()[i].status.ToString();
      ids.insert(r.value()[i].submitted.id);
    }
  }
  EXPECT_EQ(ids.size(), 499u);
  auto after = c->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().counters["journal_batches"] - before.value().counters["journal_batches"],
            1u);
  EXPECT_EQ(after.value().jobs["delayed"], 499u);
}

TEST_F(BatchIntegrationTest, PayloadTheHandlerCannotAcceptIsRefusedAtOnce) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  for (const auto& spec : {Spec("sleep", Pack(std::string("x"))), Spec("word_count", Pack(3)),
                           Spec("stats", Pack(std::vector<int>{})),
                           Spec("exec", Pack(std::map<std::string, int>{{"command", 1}}))}) {
    auto r = c->Submit(spec);
    ASSERT_FALSE(r.ok()) << spec.type;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(spec.type), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(c->Submit(Spec("sleep", Pack(5))).ok());
  auto types = c->Types();
  ASSERT_TRUE(types.ok());
  std::set<std::string> names;
  for (const auto& h : types.value()) {
    names.insert(h.type);
    EXPECT_FALSE(h.payload.empty()) << h.type;
    EXPECT_FALSE(h.result.empty()) << h.type;
  }
  EXPECT_EQ(names, (std::set<std::string>{"echo", "exec", "fail", "find_patterns", "http_request",
                                           "image_filter", "image_resize", "sentiment", "sha256",
                                           "simulate_backup", "sleep", "stats", "summarize",
                                           "word_count"}));
}

TEST_F(BatchIntegrationTest, RetryAllCountsAndHistorySurvivesRestart) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  std::string to = " --to " + node.endpoint();
  std::vector<std::string> ids;
  {
    auto c = node.Connect();
    ASSERT_TRUE(c);
    for (int i = 0; i < 3; ++i) {
      JobSpec s = Spec("fail", Pack(std::string("boom")));
      s.queue = "q";
      s.max_attempts = 2;
      s.backoff_ms = 0;
      auto r = c->Submit(s);
      ASSERT_TRUE(r.ok());
      ids.push_back(r.value().id);
    }
    ASSERT_TRUE(Eventually([&] {
      auto st = c->Stats();
      return st.ok() && st.value().jobs["dead"] == 3;
    }));
    auto h = c->GetStatus(ids[0], /*history=*/true);
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h.value().history.size(), 2u);
    EXPECT_EQ(h.value().history[1].error, "boom");
  }
  // Only cancelled jobs of the queue: none yet, so the first run touches nothing.
  auto none = RunCli("retry --all --queue q --state cancelled --json" + to);
  ASSERT_EQ(none.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(none.out)["touched"], 0);
  // The status --history JSON after a restart: the attempts come back from the journal.
  ASSERT_EQ(node.Signal(SIGTERM), 0);
  ASSERT_TRUE(node.Start());
  auto st = RunCli("status " + ids[0] + " --history --json" + to);
  ASSERT_EQ(st.exit_code, 0);
  auto j = nlohmann::json::parse(st.out);
  ASSERT_EQ(j["attempts"].size(), 2u);
  EXPECT_EQ(j["attempts"][0]["node"], "n1");
  EXPECT_EQ(j["attempts"][0]["error"], "boom");
  EXPECT_EQ(j["attempt_count"], 2);
  auto all = RunCli("retry --all --queue q --json" + to);
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(all.out)["touched"], 3);
}

}  // namespace
}  // namespace jobnet
