// JSON readers (client/json.hpp) against hostile text: nesting far past the bound (arrays and
// objects, up to a million deep) is refused without recursing, the bound holds exactly (max
// accepted, max + 1 refused), and a bad spec in a batch fails only itself. Method: the readers
// the HTTP face and the CLI use, on text built here; the process must simply survive and answer.
// Also a job's label end to end through every codec: JSON in, the wire, the journal record, the
// job as status shows it, JSON out; its bound at max and max + 1.
#include <gtest/gtest.h>

#include <string>

#include "client/json.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"
#include "protocol/job_record.hpp"
#include "protocol/messages.hpp"

namespace jobnet::jsonio {
namespace {

class JsonTest : public ::testing::Test {
 protected:
  // `depth` arrays (or objects {"a": ...}) around `inner`.
  static std::string Nest(uint32_t depth, bool objects, const std::string& inner = "1") {
    std::string open = objects ? "{\"a\":" : "[";
    std::string text;
    text.reserve(depth * (open.size() + 1) + inner.size());
    for (uint32_t i = 0; i < depth; ++i) text += open;
    text += inner;
    text.append(depth, objects ? '}' : ']');
    return text;
  }
  static std::string Spec(const std::string& payload) {
    return R"({"type":"echo","payload":)" + payload + "}";
  }
};

TEST_F(JsonTest, DeepTextIsRefusedWithoutRecursing) {
  for (uint32_t depth : {100u, 1000u, 10000u, 100000u, 1000000u}) {
    for (bool objects : {false, true}) {
      std::string text = Nest(depth, objects);
      auto spec = JobSpecFromJsonText(Spec(text));
      ASSERT_FALSE(spec.ok()) << depth;
      EXPECT_TRUE(spec.status().IsInvalidArgument()) << spec.status().ToString();
      EXPECT_NE(spec.status().message().find("nests deeper than"), std::string::npos);
      EXPECT_TRUE(JsonToMsgpack(text).status().IsInvalidArgument()) << depth;
      EXPECT_TRUE(ParseJson(text, limits::kPayloadDepthMax, "x").status().IsInvalidArgument());
      // Unbalanced (truncated) deep text: still an answer, not a crash.
      EXPECT_FALSE(JobSpecFromJsonText(Spec(text.substr(0, text.size() / 2))).ok());
    }
  }
}

TEST_F(JsonTest, ThePayloadBoundHoldsAtMaxAndMaxPlusOne) {
  for (bool objects : {false, true}) {
    std::string at = Nest(limits::kPayloadDepthMax, objects);
    std::string over = Nest(limits::kPayloadDepthMax + 1, objects);
    auto ok = JobSpecFromJsonText(Spec(at));
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_TRUE(protocol::Validate(ok.value()).ok());
    EXPECT_TRUE(JsonToMsgpack(at).ok());
    EXPECT_TRUE(JobSpecFromJsonText(Spec(over)).status().IsInvalidArgument());
    EXPECT_TRUE(JsonToMsgpack(over).status().IsInvalidArgument());
    // A parsed value handed over directly is held to the same bound before it is converted.
    auto direct = JobSpecFromJson(nlohmann::json::parse(Spec(over)));
    EXPECT_TRUE(direct.status().IsInvalidArgument()) << direct.status().ToString();
    EXPECT_EQ(JsonDepth(nlohmann::json::parse(at), 100), limits::kPayloadDepthMax);
    // And what comes back from msgpack converts back at the bound.
    EXPECT_EQ(MsgpackToJson(JsonToMsgpack(at).value()), nlohmann::json::parse(at));
  }
  EXPECT_EQ(JsonDepth(nlohmann::json(5), 3), 0u);
  EXPECT_EQ(JsonDepth(nlohmann::json::parse("[[[[1]]]]"), 2), 3u);  // stops past `stop`
}

TEST_F(JsonTest, OverLimitSpecsGetTheCodeTheNodeWouldGive) {
  std::string big = "\"" + std::string(limits::kPayloadBytesMax + (512u << 10), 'a') + "\"";
  EXPECT_TRUE(JobSpecFromJsonText(Spec(big)).status().IsTooLarge());
  std::string key(limits::kIdempotencyKeyBytesMax + 1, 'k');
  EXPECT_TRUE(JobSpecFromJsonText(R"({"type":"echo","key":")" + key + "\"}").status().IsTooLarge());
  std::string type(limits::kTypeNameBytesMax + 1, 't');
  EXPECT_TRUE(JobSpecFromJsonText(R"({"type":")" + type + "\"}").status().IsTooLarge());
  EXPECT_TRUE(JobSpecFromJsonText(R"({"type":"bad type"})").status().IsInvalidArgument());
  EXPECT_TRUE(JobSpecFromJsonText("{not json").status().IsInvalidArgument());
  EXPECT_TRUE(JobSpecFromJsonText("").status().IsInvalidArgument());
}

TEST_F(JsonTest, ABadSpecInABatchFailsOnlyItself) {
  std::string deep = Nest(1000000, false);
  std::string at = Nest(limits::kPayloadDepthMax, true);
  std::string over = Nest(limits::kPayloadDepthMax + 1, false);
  std::string big = "\"" + std::string(limits::kPayloadBytesMax + 1000, 'a') + "\"";
  std::string items = Spec("1") + "," + Spec(deep) + "," + Spec(at) + "," + Spec(over) + "," +
                      Spec(big) + "," + R"({"typo":1})" + "," + Spec(Nest(200, true)) + "," +
                      Spec("2");
  for (const std::string& body : {"[" + items + "]", "{\"jobs\": [" + items + "]}"}) {
    auto batch = BatchFromJsonText(body);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    const auto& b = batch.value();
    ASSERT_EQ(b.size(), 8u);
    EXPECT_TRUE(b[0].ok());
    EXPECT_TRUE(b[1].status().IsInvalidArgument()) << b[1].status().ToString();
    EXPECT_TRUE(b[2].ok()) << b[2].status().ToString();
    EXPECT_TRUE(b[3].status().IsInvalidArgument());
    EXPECT_TRUE(b[4].status().IsTooLarge());
    EXPECT_TRUE(b[5].status().IsInvalidArgument());
    EXPECT_TRUE(b[6].status().IsInvalidArgument());
    ASSERT_TRUE(b[7].ok());
    EXPECT_EQ(MsgpackToJson(b[7].value().payload), 2);
  }
  // The body itself: not a list, empty, too many, unknown or repeated fields, deep outside specs.
  EXPECT_TRUE(BatchFromJsonText("{}").status().IsInvalidArgument());
  EXPECT_TRUE(BatchFromJsonText("[]").status().IsInvalidArgument());
  // A list whose one element is nested a million deep: that element's own error.
  auto lone = BatchFromJsonText(deep);
  ASSERT_TRUE(lone.ok()) << lone.status().ToString();
  ASSERT_EQ(lone.value().size(), 1u);
  EXPECT_TRUE(lone.value()[0].status().IsInvalidArgument());
  EXPECT_TRUE(BatchFromJsonText(Nest(1000000, true)).status().IsInvalidArgument());
  EXPECT_TRUE(BatchFromJsonText(R"({"jobs":[{"type":"echo"}],"x":1})").status().IsInvalidArgument());
  EXPECT_TRUE(BatchFromJsonText(R"({"jobs":[{"type":"echo"}],"jobs":[]})").status().IsInvalidArgument());
  EXPECT_TRUE(BatchFromJsonText(R"({"jobs":[{"type":"echo"}],"x":)" + deep + "}")
                  .status()
                  .IsInvalidArgument());
  std::string many = "[" + Spec("1");
  for (uint32_t i = 0; i < limits::kBatchSpecsMax; ++i) many += "," + Spec("1");
  EXPECT_TRUE(BatchFromJsonText(many + "]").status().IsTooLarge());
}

TEST_F(JsonTest, MsgpackTooDeepForJsonIsShownAsItsBytes) {
  std::string deep(limits::kPayloadDepthMax + 1, '\x91');
  deep.push_back('\x01');
  nlohmann::json j = MsgpackToJson(deep);
  ASSERT_TRUE(j.is_object()) << j.dump();
  EXPECT_TRUE(j.contains("msgpack_hex"));
  EXPECT_TRUE(MsgpackToJson(std::string(100000, '\x91')).contains("msgpack_hex"));
}

TEST_F(JsonTest, ALabelGoesFromJsonThroughWireAndJournalToStatus) {
  auto spec = JobSpecFromJsonText(R"({"type":"echo","label":"invoice 117 for acme"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec.value().label, "invoice 117 for acme");
  // The wire: submit carries it.
  std::string frame = protocol::Encode(protocol::Envelope{1, 5, protocol::SubmitRequest{spec.value()}});
  uint64_t corr = 0;
  auto env = protocol::Decode(frame.data(), frame.size(), &corr);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  const JobSpec& got = std::get<protocol::SubmitRequest>(env.value().body).spec;
  EXPECT_EQ(got.label, "invoice 117 for acme");
  // The journal: the job record keeps it.
  protocol::Job job;
  job.seq = 1;
  job.id = "n1-1";
  job.spec = got;
  job.events = 1;
  auto record = protocol::DecodeJobRecord(protocol::EncodeJobRecord(job));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record.value().spec.label(), "invoice 117 for acme");
  // Status: the job reply and its JSON show it; a job without one shows no label key.
  JobInfo info = record.value().Info();
  frame = protocol::Encode(protocol::Envelope{1, 6, protocol::JobReply{info}});
  env = protocol::Decode(frame.data(), frame.size(), &corr);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(std::get<protocol::JobReply>(env.value().body).job.label, "invoice 117 for acme");
  EXPECT_EQ(JobToJson(info)["label"], "invoice 117 for acme");
  EXPECT_FALSE(JobToJson(JobInfo{}).contains("label"));
  EXPECT_EQ(protocol::Encode(protocol::Envelope{1, 6, protocol::JobReply{JobInfo{}}}).find("label"),
            std::string::npos);
}

// Dependencies (docs/protocol.md §22): depends_on and on_parent_failure from JSON, through the
// wire and the journal record (with the parents' results of a released child) to status JSON.
TEST_F(JsonTest, DependenciesGoFromJsonThroughWireAndJournalToStatus) {
  auto spec = JobSpecFromJsonText(
      R"({"type":"collect","depends_on":["n1-4","n2-9"],"on_parent_failure":"run"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec.value().depends_on, (std::vector<std::string>{"n1-4", "n2-9"}));
  EXPECT_TRUE(spec.value().run_on_parent_failure);
  std::string frame = protocol::Encode(protocol::Envelope{1, 5, protocol::SubmitRequest{spec.value()}});
  uint64_t corr = 0;
  auto env = protocol::Decode(frame.data(), frame.size(), &corr);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  const JobSpec& got = std::get<protocol::SubmitRequest>(env.value().body).spec;
  EXPECT_EQ(got.depends_on, spec.value().depends_on);
  EXPECT_TRUE(got.run_on_parent_failure);
  protocol::Job job;
  job.seq = 1;
  job.id = "n1-1";
  job.spec = got;
  job.events = 2;
  job.state = JobState::kQueued;
  job.rare.mut().parent_results = {{"n1-4", std::make_shared<const std::string>("\x01", 1)},
                                   {"n2-9", std::make_shared<const std::string>("\xa1x", 2)}};
  auto record = protocol::DecodeJobRecord(protocol::EncodeJobRecord(job));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record.value().spec.depends_on(), spec.value().depends_on);
  EXPECT_TRUE(record.value().spec.run_on_parent_failure());
  const auto& pr = record.value().rare.get().parent_results;
  ASSERT_EQ(pr.size(), 2u);
  EXPECT_EQ(pr[1].first, "n2-9");
  EXPECT_EQ(*pr[1].second, std::string("\xa1x", 2));
  // While it waits, its record keeps no results (gathered again after a restart).
  job.state = JobState::kWaiting;
  record = protocol::DecodeJobRecord(protocol::EncodeJobRecord(job));
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record.value().rare.get().parent_results.empty());
  nlohmann::json j = JobToJson(record.value().Info());
  EXPECT_EQ(j["depends_on"], nlohmann::json({"n1-4", "n2-9"}));
  EXPECT_EQ(j["on_parent_failure"], "run");
  EXPECT_EQ(j["state"], "waiting");
  EXPECT_FALSE(JobToJson(JobInfo{}).contains("depends_on"));

  for (const char* bad : {R"({"type":"echo","depends_on":"n1-4"})",
                          R"({"type":"echo","depends_on":[4]})",
                          R"({"type":"echo","depends_on":["n1-4","n1-4"]})",
                          R"({"type":"echo","depends_on":["nodash"]})",
                          R"({"type":"echo","on_parent_failure":"run"})",
                          R"({"type":"echo","depends_on":["n1-4"],"on_parent_failure":"maybe"})",
                          R"({"type":"echo","depends_on":["n1-4"],"reuse":true})"}) {
    auto r = JobSpecFromJsonText(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad << " " << r.status().ToString();
  }
  std::string many = R"({"type":"echo","depends_on":[)";
  for (uint32_t i = 0; i <= limits::kParentsMax; ++i) many += (i ? ",\"n1-" : "\"n1-") + std::to_string(i + 1) + "\"";
  EXPECT_FALSE(JobSpecFromJsonText(many + "]}").ok());
}

TEST_F(JsonTest, AFlowIsReadWholeOrRefusedNamingTheJob) {
  auto flow = FlowFromJsonText(R"({"jobs":{"a":{"type":"echo","payload":1},
                                            "b":{"type":"collect","after":["a"]}}})");
  ASSERT_TRUE(flow.ok()) << flow.status().ToString();
  ASSERT_EQ(flow.value().size(), 2u);
  EXPECT_EQ(flow.value()[1].name, "b");
  EXPECT_EQ(flow.value()[1].after, std::vector<std::string>{"a"});
  EXPECT_EQ(flow.value()[1].spec.type, "collect");
  // Round trip of submit_flow and its answer on the wire.
  std::string frame = protocol::Encode(
      protocol::Envelope{1, 5, protocol::SubmitFlowRequest{flow.value()}});
  uint64_t corr = 0;
  auto env = protocol::Decode(frame.data(), frame.size(), &corr);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(std::get<protocol::SubmitFlowRequest>(env.value().body).jobs[1].after,
            std::vector<std::string>{"a"});
  EXPECT_EQ(FlowResultToJson(FlowResult{"n1-5", {{"a", "n1-5"}}}).dump(),
            R"({"flow":"n1-5","ids":{"a":"n1-5"}})");

  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"[]", "a flow is"},
      {R"({"jobs":{}})", "a flow is"},
      {R"({"jobs":{"a":{"type":"echo"}},"x":1})", "unknown field 'x'"},
      {R"({"jobs":{"a":{"type":"echo","after":"b"}}})", "job 'a': after must be"},
      {R"({"jobs":{"a":{"type":"echo","after":[1]}}})", "job 'a': each of after"},
      {R"({"jobs":{"a":{"type":"echo"},"b":{"typo":"echo"}}})", "job 'b'"},
  };
  for (const auto& c : cases) {
    auto r = FlowFromJsonText(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.text << ": " << r.status().ToString();
  }
  // A payload nested past the bound fails the flow without recursing.
  EXPECT_FALSE(FlowFromJsonText(R"({"jobs":{"a":{"type":"echo","payload":)" +
                                Nest(100000, false) + "}}}")
                   .ok());
}

TEST_F(JsonTest, ALabelIsBoundedAtMaxAndMaxPlusOne) {
  JobSpec spec;
  spec.type = "echo";
  spec.label = std::string(limits::kLabelBytesMax, 'x');
  EXPECT_TRUE(protocol::Validate(spec).ok());
  std::string frame = protocol::Encode(protocol::Envelope{1, 5, protocol::SubmitRequest{spec}});
  uint64_t corr = 0;
  EXPECT_TRUE(protocol::Decode(frame.data(), frame.size(), &corr).ok());
  spec.label += 'x';
  EXPECT_TRUE(protocol::Validate(spec).IsTooLarge());
  frame = protocol::Encode(protocol::Envelope{1, 5, protocol::SubmitRequest{spec}});
  auto refused = protocol::Decode(frame.data(), frame.size(), &corr);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsTooLarge());
  EXPECT_NE(refused.status().message().find("label"), std::string::npos);
  EXPECT_TRUE(JobSpecFromJsonText(R"({"type":"echo","label":7})").status().IsInvalidArgument());
}

}  // namespace
}  // namespace jobnet::jsonio
