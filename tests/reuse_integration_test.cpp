// Result reuse against a real `jobnet node`: `submit --reuse --json` prints the reused job with
// its state, reused_from and result; the index survives a restart (rebuilt from the journal);
// identical submits while the work runs join it, and the work runs once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node_harness.hpp"

namespace jobnet {
namespace {

using testing::NodeProcess;
using testing::Pack;
using testing::RunCli;

class ReuseIntegrationTest : public testing::DirTest {};

nlohmann::json CliJson(const std::string& args) {
  auto r = RunCli(args);
  EXPECT_EQ(r.exit_code, 0) << args;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

TEST_F(ReuseIntegrationTest, ReusedSubmitPrintsTheEarlierResultAndSurvivesARestart) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  const std::string to = " --to " + node.endpoint() + " --json";
  nlohmann::json first = CliJson("submit sha256 '\"reuse me\"' --reuse --wait" + to);
  ASSERT_EQ(first["state"], "succeeded");
  nlohmann::json again = CliJson("submit sha256 '\"reuse me\"' --reuse" + to);
  EXPECT_EQ(again["state"], "succeeded");
  EXPECT_EQ(again["reused_from"], first["id"]);
  EXPECT_EQ(again["result"], first["result"]);
  EXPECT_NE(again["id"], first["id"]);
  EXPECT_EQ(CliJson("status " + again["id"].get<std::string>() + to)["reused_from"], first["id"]);
  // Without --reuse the work runs again.
  EXPECT_FALSE(CliJson("submit sha256 '\"reuse me\"' --wait" + to).contains("reused_from"));
  ASSERT_EQ(node.Signal(SIGTERM), 0);
  ASSERT_TRUE(node.Start());
  EXPECT_EQ(CliJson("submit sha256 '\"reuse me\"' --reuse" + to)["reused_from"], first["id"]);
  auto c = node.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Stats().value().counters["reused"], 1u);  // counted since this start
}

// The CLI sends a quoted payload with unescaped quotes inside as the string between the outer
// quotes (as the acceptance check work-reuse writes it), and the same text twice is the same
// work; other text that is not JSON is still refused.
TEST_F(ReuseIntegrationTest, QuotedTextWithUnescapedQuotesIsSentAsAString) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  const std::string to = " --to " + node.endpoint() + " --json";
  nlohmann::json first = CliJson("submit sha256 '\"he\"llo\"' --reuse --wait" + to);
  EXPECT_EQ(first["result"], "36723463437f827ea19e3c2f018dedc0d354d387e28355029db119cc03dee903");
  EXPECT_EQ(RunCli("submit sha256 hello" + to).exit_code, 2);
  const std::string quoted = "'\"{\"text\":\"x\",\"n\":7}\"'";  // not JSON: inner quotes
  nlohmann::json a = CliJson("submit sha256 " + quoted + " --reuse --wait" + to);
  ASSERT_EQ(a["state"], "succeeded");
  EXPECT_EQ(CliJson("submit sha256 " + quoted + " --reuse" + to)["reused_from"], a["id"]);
}

TEST_F(ReuseIntegrationTest, IdenticalSubmitsWhileItRunsJoinItAndItRunsOnce) {
  NodeProcess node("n1", dir_ + "/n1", 4);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  JobSpec spec;
  spec.type = "sleep";
  spec.payload = Pack(400);
  spec.reuse = true;
  std::vector<SubmitResult> answers;
  for (int i = 0; i < 5; ++i) {
    auto r = c->Submit(spec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    answers.push_back(r.value());
  }
  EXPECT_FALSE(answers[0].coalesced);
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(answers[i].id, answers[0].id);
    EXPECT_TRUE(answers[i].coalesced);
  }
  ASSERT_TRUE(c->Wait(answers[0].id, 10000).ok());
  auto st = c->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().counters["coalesced"], 4u);
  EXPECT_EQ(st.value().counters["succeeded"], 1u);  // one run for five submits
  EXPECT_EQ(st.value().jobs["succeeded"], 1u);
}

}  // namespace
}  // namespace jobnet
