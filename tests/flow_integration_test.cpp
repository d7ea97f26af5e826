// Dependencies and flows (docs/protocol.md §22-23) against real `jobnet node` processes: a flow
// of 1,000 jobs (100 chains of 10) is journaled with one fsync and, SIGKILLed right after its
// answer, comes back whole and runs every chain in order; a refused flow leaves nothing;
// 10,000 children of one parent wait, then all run; `jobnet flow submit/show` and `collect`
// from the CLI.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "jobnet/limits.h"
#include "node_harness.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::RunCli;

class FlowIntegrationTest : public testing::DirTest {
 protected:
  static uint64_t Jobs(Client& c, const char* state) {
    auto st = c.Stats();
    return st.ok() ? st.value().jobs[state] : 0;
  }
};

TEST_F(FlowIntegrationTest, AThousandJobFlowIsJournaledWholeAndSurvivesASigkill) {
  NodeProcess node("n1", dir_ + "/n1", 4);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  // 100 chains of 10 sleeps of 5 ms; the chain's job k waits for job k-1.
  std::vector<FlowJob> jobs;
  for (int i = 0; i < 1000; ++i) {
    FlowJob j;
    j.name = "j" + std::to_string(i);
    j.spec.type = "sleep";
    j.spec.payload = Pack(uint64_t{5});
    if (i % 10 != 0) j.after = {"j" + std::to_string(i - 1)};
    jobs.push_back(j);
  }
  // A bad job refuses the whole flow: nothing is made.
  std::vector<FlowJob> bad = jobs;
  bad[500].spec.type = "no_such_type";
  auto refused = c->SubmitFlow(bad);
  EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("job 'j500'"), std::string::npos);

  auto before = c->Stats().value().counters["journal_batches"];
  auto r = c->SubmitFlow(jobs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FlowResult flow = r.value();
  ASSERT_EQ(flow.ids.size(), 1000u);
  EXPECT_EQ(flow.flow, "n1-1");  // the refused flow took no id
  // Accepted: journaled, in one write (runs starting meanwhile may add their own batches, so
  // the flow is seen whole below rather than by counting).
  EXPECT_GE(c->Stats().value().counters["journal_batches"], before + 1);
  node.Signal(SIGKILL);
  c.reset();
  ASSERT_TRUE(node.Start());
  c = node.Connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(Eventually([&] { return Jobs(*c, "succeeded") == 1000; }, std::chrono::seconds(60)))
      << Jobs(*c, "succeeded") << " succeeded, " << Jobs(*c, "waiting") << " waiting";
  // Each job started only once its chain's previous job had finished.
  for (int i = 1; i < 1000; ++i) {
    if (i % 10 == 0) continue;
    auto child = c->GetStatus(flow.ids.at("j" + std::to_string(i)));
    auto parent = c->GetStatus(flow.ids.at("j" + std::to_string(i - 1)));
    ASSERT_TRUE(child.ok() && parent.ok());
    ASSERT_GE(child.value().started_at_ms, parent.value().finished_at_ms) << i;
    EXPECT_EQ(child.value().flow, flow.flow);
  }
}

TEST_F(FlowIntegrationTest, TenThousandChildrenOfOneParentWaitThenAllRun) {
  NodeProcess node("n1", dir_ + "/n1", 4);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  JobSpec gate;
  gate.type = "sleep";
  gate.payload = Pack(uint64_t{1500});
  auto parent = c->Submit(gate);
  ASSERT_TRUE(parent.ok());
  std::vector<JobSpec> children(1000);
  for (auto& s : children) {
    s.type = "echo";
    s.depends_on = {parent.value().id};
  }
  for (int b = 0; b < 10; ++b) {
    auto r = c->SubmitBatch(children);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& item : r.value()) ASSERT_TRUE(item.status.ok()) << item.status.ToString();
  }
  EXPECT_EQ(Jobs(*c, "waiting"), 10000u);  // the parent still sleeps
  ASSERT_TRUE(Eventually([&] { return Jobs(*c, "succeeded") == 10001; }, std::chrono::seconds(60)))
      << Jobs(*c, "succeeded") << " succeeded, " << Jobs(*c, "waiting") << " waiting";
  EXPECT_EQ(c->Stats().value().counters["dependents_released"], 10000u);
}

TEST_F(FlowIntegrationTest, TheCliSubmitsAndShowsAFlowAndCollectGathersItsParents) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  const std::string to = " --to " + node.endpoint();
  const std::string file = dir_ + "/flow.json";
  std::ofstream(file) << R"({"jobs": {"a": {"type": "echo", "payload": 1},
                                      "b": {"type": "echo", "payload": {"x": 2}},
                                      "all": {"type": "collect", "after": ["a", "b"]}}})";
  auto sub = RunCli("flow submit " + file + " --json" + to);
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  auto ids = nlohmann::json::parse(sub.out)["ids"];
  ASSERT_EQ(ids.size(), 3u);
  auto shown = RunCli("flow show " + ids["all"].get<std::string>() + " --wait" + to);
  ASSERT_EQ(shown.exit_code, 0) << shown.out;
  EXPECT_NE(shown.out.find("3 succeeded"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("a, b"), std::string::npos) << shown.out;  // all's AFTER, by name
  auto all = RunCli("status " + ids["all"].get<std::string>() + " --json" + to);
  ASSERT_EQ(all.exit_code, 0) << all.out;
  auto job = nlohmann::json::parse(all.out);
  EXPECT_EQ(job["result"], nlohmann::json::parse(R"([1, {"x": 2}])"));
  EXPECT_EQ(job["flow_name"], "all");
  // --after from the CLI, and its usage errors.
  auto after = RunCli("submit collect --after " + ids["a"].get<std::string>() + "," +
                      ids["b"].get<std::string>() + " --wait --json" + to);
  ASSERT_EQ(after.exit_code, 0) << after.out;
  EXPECT_EQ(nlohmann::json::parse(after.out)["result"], nlohmann::json::parse(R"([1, {"x": 2}])"));
  EXPECT_EQ(RunCli("submit echo --after n1-999" + to).exit_code, 4);  // not found
  EXPECT_EQ(RunCli("submit echo --after nonsense" + to).exit_code, 2);
  EXPECT_EQ(RunCli("submit echo --on-parent-failure maybe --after n1-1" + to).exit_code, 2);
  std::ofstream(file) << R"({"jobs": {"a": {"type": "echo", "after": ["a"]}}})";
  EXPECT_EQ(RunCli("flow submit " + file + to).exit_code, 2);
}

}  // namespace
}  // namespace jobnet
