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
