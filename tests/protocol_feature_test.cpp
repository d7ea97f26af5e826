// Protocol codec contract, continued (protocol_test.cpp has the frame-level cases): batches, bulk
// actions, queues, the event stream, blobs and external workers round-trip with every field, and
// each of their limits is tested at max and max+1.
#include "tests/protocol_fixture.hpp"

namespace jobnet::protocol {
namespace {

Envelope Decoded(const Envelope& in) {
  uint64_t corr = 0;
  std::string frame = Encode(in);
  auto out = Decode(frame.data(), frame.size(), &corr, limits::kReplyFrameBytesMax);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? out.value() : Envelope{};
}

TEST(BatchProtocolTest, BatchBulkTypesAndHistoryRoundTrip) {
  JobSpec good;
  good.type = "echo";
  JobSpec bad;
  bad.type = "bad type!";  // fails Validate: only its own item carries the error
  auto b = std::get<SubmitBatchRequest>(
      Decoded({1, 1, SubmitBatchRequest{{{good, Status::OK()}, {bad, Status::OK()}}}}).body);
  ASSERT_EQ(b.specs.size(), 2u);
  EXPECT_TRUE(b.specs[0].decoded.ok());
  EXPECT_TRUE(b.specs[1].decoded.IsInvalidArgument());

  BatchAcceptedReply reply;
  reply.items.push_back({Status::OK(), {"n1-1", JobState::kQueued, false, {}, false}});
  reply.items.push_back({Status::InvalidArgument("nope"), {}});
  auto r = std::get<BatchAcceptedReply>(Decoded({1, 2, reply}).body);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].submitted.id, "n1-1");
  EXPECT_EQ(r.items[1].status.message(), "nope");

  BulkRequest q;
  q.action = BulkAction::kCancel;
  q.queue = "q";
  q.state = JobState::kDelayed;
  auto qq = std::get<BulkRequest>(Decoded({1, 3, q}).body);
  EXPECT_EQ(qq.action, BulkAction::kCancel);
  EXPECT_EQ(*qq.state, JobState::kDelayed);
  EXPECT_EQ(std::get<BulkReply>(Decoded({1, 4, BulkReply{7, 9}}).body).touched, 7u);
  auto t = std::get<TypeListReply>(Decoded({1, 5, TypeListReply{{{"echo", "any", "same"}}}}).body);
  ASSERT_EQ(t.handlers.size(), 1u);
  EXPECT_EQ(t.handlers[0].result, "same");
  EXPECT_TRUE(std::get<StatusRequest>(Decoded({1, 6, StatusRequest{"n1-1", true}}).body).history);

  JobInfo j;
  j.id = "n1-1";
  j.history.push_back({1, "n2", 10, 20, "boom"});
  j.history_dropped = 3;
  auto jj = std::get<JobReply>(Decoded({1, 7, JobReply{j}}).body).job;
  ASSERT_EQ(jj.history.size(), 1u);
  EXPECT_EQ(jj.history[0].node, "n2");
  EXPECT_EQ(jj.history[0].error, "boom");
  EXPECT_EQ(jj.history_dropped, 3u);
}

TEST(BatchProtocolTest, BatchOverTheLimitAndBadBulkAreRefused) {
  JobSpec s;
  s.type = "echo";
  SubmitBatchRequest big;
  big.specs.assign(limits::kBatchSpecsMax, {s, Status::OK()});
  EXPECT_EQ(std::get<SubmitBatchRequest>(Decoded({1, 1, big}).body).specs.size(),
            limits::kBatchSpecsMax);
  big.specs.push_back({s, Status::OK()});
  std::string frame = Encode({1, 1, big});
  uint64_t corr = 0;
  EXPECT_TRUE(Decode(frame.data(), frame.size(), &corr, limits::kFrameBytesMax).status().IsTooLarge());
  BulkRequest q;
  q.action = BulkAction::kCancel;
  q.queue = "q";  // cancel --all without a state
  frame = Encode({1, 2, q});
  EXPECT_TRUE(Decode(frame.data(), frame.size(), &corr, limits::kFrameBytesMax)
                  .status()
                  .IsInvalidArgument());
}

TEST_F(ProtocolTest, QueueMessagesRoundTrip) {
  QueueUpdate u{"q.1", QueueOrder::kLifo, 7, std::nullopt, 3, true};
  auto set = std::get<QueueSetRequest>(RoundTrip({1, 2, QueueSetRequest{u}}).body).update;
  EXPECT_EQ(set.name, "q.1");
  EXPECT_EQ(set.order, QueueOrder::kLifo);
  EXPECT_EQ(set.concurrency, 7u);
  EXPECT_FALSE(set.rate.has_value());  // absent stays absent: "unchanged"
  EXPECT_EQ(set.weight, 3u);
  EXPECT_EQ(set.paused, true);
  EXPECT_TRUE(std::holds_alternative<QueuesRequest>(RoundTrip({1, 3, QueuesRequest{}}).body));
  QueueInfo info;
  info.node = "n2";
  info.settings = {"q", QueueOrder::kLifo, limits::kQueueConcurrencyMax, limits::kQueueRateMax,
                   limits::kQueueWeightMax, true, UINT64_MAX, "n1"};
  info.queued = UINT64_MAX;
  info.dead = 4;
  info.oldest_wait_ms = 99;
  auto list = std::get<QueueListReply>(RoundTrip({1, 4, QueueListReply{{info, info}}}).body);
  ASSERT_EQ(list.queues.size(), 2u);
  EXPECT_EQ(list.queues[1].node, "n2");
  EXPECT_EQ(list.queues[1].settings.updated_at_ms, UINT64_MAX);
  EXPECT_EQ(list.queues[1].settings.weight, limits::kQueueWeightMax);
  EXPECT_EQ(list.queues[1].queued, UINT64_MAX);
  EXPECT_EQ(list.queues[1].oldest_wait_ms, 99u);
  Envelope sync_env = RoundTrip({1, 0, QueueSync{"n1", {info.settings}}});
  EXPECT_TRUE(IsOneWay(KindOf(sync_env.body)));
  auto sync = std::get<QueueSync>(sync_env.body);
  EXPECT_EQ(sync.node, "n1");
  EXPECT_EQ(sync.queues.at(0).origin, "n1");
  EXPECT_EQ(sync.queues.at(0).rate, limits::kQueueRateMax);
}

TEST_F(ProtocolTest, QueueSetOutOfBoundsIsInvalidArgument) {
  auto decode = [](const QueueUpdate& u) {
    std::string bytes = Encode({1, 5, QueueSetRequest{u}});
    uint64_t corr = 0;
    return Decode(bytes.data(), bytes.size(), &corr, limits::kFrameBytesMax).status();
  };
  EXPECT_TRUE(decode({"q", {}, limits::kQueueConcurrencyMax, {}, {}, {}}).ok());
  EXPECT_TRUE(decode({"q", {}, limits::kQueueConcurrencyMax + 1, {}, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(decode({"q", {}, {}, limits::kQueueRateMax + 1, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(decode({"q", {}, {}, {}, 0, {}}).IsInvalidArgument());
  EXPECT_TRUE(decode({"q", {}, {}, {}, limits::kQueueWeightMax + 1, {}}).IsInvalidArgument());
  EXPECT_TRUE(decode({"", {}, {}, {}, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(decode({std::string(limits::kQueueNameBytesMax + 1, 'q'), {}, {}, {}, {}, {}})
                  .IsTooLarge());
}

TEST_F(ProtocolTest, QueueRecordRoundTripsAndRejectsDamage) {
  QueueSettings q{"jobs", QueueOrder::kLifo, 2, 10, 5, true, 1234, "n3"};
  auto back = DecodeQueueRecord(EncodeQueueRecord(q));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value().name, "jobs");
  EXPECT_EQ(back.value().order, QueueOrder::kLifo);
  EXPECT_EQ(back.value().rate, 10u);
  EXPECT_EQ(back.value().weight, 5u);
  EXPECT_TRUE(back.value().paused);
  EXPECT_EQ(back.value().updated_at_ms, 1234u);
  EXPECT_EQ(back.value().origin, "n3");
  q.weight = 0;
  EXPECT_TRUE(DecodeQueueRecord(EncodeQueueRecord(q)).status().IsCorruption());
  EXPECT_TRUE(DecodeQueueRecord("\x93garbage").status().IsCorruption());
}

// ---- the job event stream: kinds 22 (events) and 74 (event_list), and the "e:" record ----

StateEvent SampleEvent(uint64_t seq) {
  StateEvent e;
  e.seq = seq;
  e.id = "n1-" + std::to_string(seq);
  e.state = JobState::kDead;
  e.queue = "mail";
  e.type = "fail";
  e.at_ms = UINT64_MAX;
  e.attempt = limits::kMaxAttemptsMax;
  e.node = "n2";
  e.error = std::string(limits::kErrorMessageBytesMax, 'x');
  return e;
}

TEST_F(ProtocolTest, EventsRequestRoundTripsWithItsDefaults) {
  EventsRequest q;
  q.since = UINT64_MAX;
  q.queue = "mail";
  q.job = "n1-7";
  q.max = limits::kEventsPerReplyMax;
  q.wait_ms = limits::kEventWaitMsMax;
  Envelope env = RoundTrip({1, 9, q});
  EXPECT_EQ(KindOf(env.body), Kind::kEvents);
  EXPECT_FALSE(IsOneWay(Kind::kEvents));
  auto out = std::get<EventsRequest>(env.body);
  EXPECT_EQ(out.since, UINT64_MAX);
  EXPECT_EQ(out.queue, "mail");
  EXPECT_EQ(out.job, "n1-7");
  EXPECT_EQ(out.max, limits::kEventsPerReplyMax);
  EXPECT_EQ(out.wait_ms, limits::kEventWaitMsMax);
  // Only since given (as a client that sets nothing else): the defaults.
  auto only = std::get<EventsRequest>(
      DecodeWithout({1, 9, EventsRequest{}}, std::string("\xa3max") + '\xcd' + "\x01\xf4", 3)
          .body);
  EXPECT_EQ(only.max, limits::kEventsPerReplyDefault);
  EXPECT_EQ(only.wait_ms, 0u);
  EXPECT_TRUE(only.queue.empty() && only.job.empty());
}

TEST_F(ProtocolTest, EventsRequestLimitsAtMaxAndMaxPlusOne) {
  auto decode = [](const EventsRequest& q) {
    std::string bytes = Encode({1, 5, q});
    uint64_t corr = 0;
    return Decode(bytes.data(), bytes.size(), &corr).status();
  };
  EventsRequest q;
  q.max = limits::kEventsPerReplyMax + 1;
  EXPECT_TRUE(decode(q).IsInvalidArgument());
  q.max = 0;
  EXPECT_TRUE(decode(q).IsInvalidArgument());
  q.max = 1;
  q.wait_ms = limits::kEventWaitMsMax + 1;
  EXPECT_TRUE(decode(q).IsInvalidArgument());
  q.wait_ms = 0;
  q.queue = "no spaces";
  EXPECT_TRUE(decode(q).IsInvalidArgument());
  q.queue = std::string(limits::kQueueNameBytesMax, 'q');
  EXPECT_TRUE(decode(q).ok());
  q.queue = std::string(limits::kQueueNameBytesMax + 1, 'q');
  EXPECT_TRUE(decode(q).IsTooLarge());
  q.queue.clear();
  q.job = std::string(limits::kJobIdBytesMax + 1, '1');
  EXPECT_TRUE(decode(q).IsTooLarge());
  // The client checks the same rules before sending.
  EXPECT_TRUE(Validate(EventQuery{0, "", "", 0, 0}).IsInvalidArgument());
  EXPECT_TRUE(Validate(EventQuery{}).ok());
  // A since of the wrong type is a broken encoder.
  EXPECT_TRUE(DecodeStatus(Frame(1, 22, 1, [](auto& pk) {
                pk.pack_map(1);
                pk.pack("since");
                pk.pack(-1);
              })).IsCorruption());
}

TEST_F(ProtocolTest, EventListRoundTripsAFullPageOfTheLongestEvents) {
  EventListReply page;
  for (uint64_t i = 0; i < limits::kEventsPerReplyMax; ++i) page.events.push_back(SampleEvent(i + 1));
  page.events[1].node.clear();   // optional fields: absent on the wire
  page.events[1].error.clear();
  page.next = UINT64_MAX;
  page.oldest = 1;
  page.gap = true;
  std::string bytes = Encode({1, 9, page});
  EXPECT_LT(bytes.size(), limits::kReplyFrameBytesMax);
  Envelope env = RoundTrip({1, 9, page});
  EXPECT_EQ(KindOf(env.body), Kind::kEventList);
  auto out = std::get<EventListReply>(env.body);
  ASSERT_EQ(out.events.size(), limits::kEventsPerReplyMax);
  const StateEvent& e = out.events[0];
  EXPECT_EQ(e.seq, 1u);
  EXPECT_EQ(e.id, "n1-1");
  EXPECT_EQ(e.state, JobState::kDead);
  EXPECT_EQ(e.queue, "mail");
  EXPECT_EQ(e.type, "fail");
  EXPECT_EQ(e.at_ms, UINT64_MAX);
  EXPECT_EQ(e.attempt, limits::kMaxAttemptsMax);
  EXPECT_EQ(e.node, "n2");
  EXPECT_EQ(e.error.size(), limits::kErrorMessageBytesMax);
  EXPECT_TRUE(out.events[1].node.empty() && out.events[1].error.empty());
  EXPECT_EQ(out.next, UINT64_MAX);
  EXPECT_EQ(out.oldest, 1u);
  EXPECT_TRUE(out.gap);
  // No gap: the key is left out, and reads back false.
  EXPECT_FALSE(std::get<EventListReply>(RoundTrip({1, 9, EventListReply{{}, 5, 1, false}}).body).gap);
}

TEST_F(ProtocolTest, EventListOverTheLimitOrWithoutEventsIsRefused) {
  EventListReply page;
  for (uint64_t i = 0; i <= limits::kEventsPerReplyMax; ++i) page.events.push_back(SampleEvent(i + 1));
  for (auto& e : page.events) e.error.clear();
  std::string bytes = Encode({1, 9, page});
  uint64_t corr = 0;
  EXPECT_TRUE(Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax)
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(DecodeStatus(Frame(1, 74, 1, [](auto& pk) { pk.pack_map(0); })).IsCorruption());
  // An event without a state or a seq.
  EXPECT_FALSE(DecodeStatus(Frame(1, 74, 1, [](auto& pk) {
                 pk.pack_map(1);
                 pk.pack("events");
                 pk.pack_array(1);
                 pk.pack_map(2);
                 pk.pack("seq");
                 pk.pack(1);
                 pk.pack("id");
                 pk.pack("n1-1");
               })).ok());
}

TEST_F(ProtocolTest, StreamRecordRoundTripsItsEventsAndRejectsDamage) {
  std::vector<StateEvent> in = {SampleEvent(42), SampleEvent(43)};
  in[1].node.clear();
  in[1].error.clear();
  std::vector<StateEvent> back = {SampleEvent(1)};  // decode appends
  ASSERT_TRUE(DecodeStreamRecord(EncodeStreamRecord(in.data(), in.size()), 42, &back).ok());
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    const StateEvent& e = in[i];
    const StateEvent& b = back[i + 1];
    EXPECT_EQ(b.seq, 42u + i);
    EXPECT_EQ(b.id, e.id);
    EXPECT_EQ(b.state, e.state);
    EXPECT_EQ(b.queue, e.queue);
    EXPECT_EQ(b.type, e.type);
    EXPECT_EQ(b.at_ms, e.at_ms);
    EXPECT_EQ(b.attempt, e.attempt);
    EXPECT_EQ(b.node, e.node);
    EXPECT_EQ(b.error, e.error);
  }
  // The largest record the journal writes decodes; one event more is refused.
  std::vector<StateEvent> full(limits::kStreamRecordEventsMax, SampleEvent(1));
  std::vector<StateEvent> out;
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(full.data(), full.size()), 1, &out).ok());
  EXPECT_EQ(out.size(), limits::kStreamRecordEventsMax);
  full.push_back(SampleEvent(1));
  out.clear();
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(full.data(), full.size()), 1, &out).IsCorruption());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(nullptr, 0), 1, &out).IsCorruption());
  // A damaged event leaves nothing appended.
  in[1].id.clear();
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(in.data(), in.size()), 1, &out).IsCorruption());
  EXPECT_TRUE(out.empty());
  std::string rec = EncodeStreamRecord(&in[0], 1);
  for (size_t n = 0; n < rec.size(); n += 7)
    EXPECT_FALSE(DecodeStreamRecord(rec.substr(0, n), 1, &out).ok()) << n;
  EXPECT_TRUE(DecodeStreamRecord("\x93garbage", 1, &out).IsCorruption());
  EXPECT_TRUE(out.empty());
}

// A record as a map of key/value pairs (keys and values packed as given), "v": 1 first.
template <class... KV>
std::string RecordOf(const KV&... kv) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(1 + sizeof...(KV) / 2);
  pk.pack("v");
  pk.pack(1);
  (pk.pack(kv), ...);
  return std::string(buf.data(), buf.size());
}

// The callback, event, stream and queue records are read through their field tables: an enum
// past its last value, a field of the wrong type or a name longer than any the node accepts is
// kCorruption naming the field, never a job state or queue order out of range.
TEST_F(ProtocolTest, RecordTablesRefuseOutOfRangeWrongTypesAndOverlongNames) {
  const std::string long_name(limits::kJobIdBytesMax + 50, 'x');
  auto corrupt = [](const Status& s, const std::string& field) {
    return s.IsCorruption() && s.message().find(field) != std::string::npos;
  };
  EXPECT_TRUE(DecodeCallbackRecord(RecordOf("id", "n1-1.2", "state", 1, "att", 0)).ok());
  EXPECT_TRUE(corrupt(DecodeCallbackRecord(RecordOf("id", "n1-1.2", "state", 4)).status(), "state"));
  EXPECT_TRUE(corrupt(DecodeCallbackRecord(RecordOf("id", long_name)).status(), "id"));
  EXPECT_TRUE(corrupt(DecodeCallbackRecord(RecordOf("att", "three")).status(), "att"));
  EXPECT_TRUE(corrupt(DecodeCallbackRecord(RecordOf("att", uint64_t{1} << 40)).status(), "att"));

  EXPECT_TRUE(DecodeEventRecord(RecordOf("t", 5, "state", 6, "att", 1, "msg", "m")).ok());
  EXPECT_TRUE(corrupt(DecodeEventRecord(RecordOf("state", kJobStateCount)).status(), "state"));
  EXPECT_TRUE(corrupt(DecodeEventRecord(RecordOf("node", long_name)).status(), "node"));
  EXPECT_TRUE(corrupt(DecodeEventRecord(RecordOf("t", -1)).status(), "'t'"));

  EXPECT_TRUE(DecodeQueueRecord(RecordOf("name", "q", "order", 1, "paused", 1, "w", 1)).ok());
  EXPECT_TRUE(corrupt(DecodeQueueRecord(RecordOf("name", "q", "order", 2)).status(), "order"));
  EXPECT_TRUE(corrupt(DecodeQueueRecord(RecordOf("name", "q", "paused", 2)).status(), "paused"));
  EXPECT_TRUE(corrupt(DecodeQueueRecord(RecordOf("name", "q", "paused", true)).status(), "paused"));

  std::vector<StateEvent> out;
  StateEvent p = SampleEvent(7);
  p.progress_report = true;
  p.progress = 100;
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(&p, 1), 1, &out).ok());
  EXPECT_TRUE(out.at(0).progress_report);
  p.progress = limits::kProgressPctMax + 1;
  out.clear();
  Status s = DecodeStreamRecord(EncodeStreamRecord(&p, 1), 9, &out);
  EXPECT_TRUE(corrupt(s, "stream event 9")) << s.ToString();
  EXPECT_TRUE(out.empty());
}

// A progress report in the stream: marked on the wire ("event": "progress") and in the record
// ("pr"); a state event carries neither, and an out-of-range percent is refused.
TEST_F(ProtocolTest, ProgressEventsRoundTripOnTheWireAndInTheRecord) {
  StateEvent p = SampleEvent(7);
  p.state = JobState::kRunning;
  p.error.clear();
  p.progress_report = true;
  p.progress = 42;
  p.progress_message = "12.0 of 100.0 MiB";
  EventListReply page{{SampleEvent(6), p}, 8, 1, false};
  page.events[0].state = JobState::kRunning;
  auto out = std::get<EventListReply>(RoundTrip({1, 9, page}).body);
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_FALSE(out.events[0].progress_report);
  EXPECT_TRUE(out.events[1].progress_report);
  EXPECT_EQ(out.events[1].progress, 42u);
  EXPECT_EQ(out.events[1].progress_message, "12.0 of 100.0 MiB");
  EXPECT_EQ(out.events[1].state, JobState::kRunning);

  std::vector<StateEvent> two = {SampleEvent(6), p}, rec;
  ASSERT_TRUE(DecodeStreamRecord(EncodeStreamRecord(two.data(), 2), 6, &rec).ok());
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_FALSE(rec[0].progress_report);
  EXPECT_TRUE(rec[1].progress_report);
  EXPECT_EQ(rec[1].seq, 7u);
  EXPECT_EQ(rec[1].progress, 42u);
  EXPECT_EQ(rec[1].progress_message, p.progress_message);
  p.progress = limits::kProgressPctMax + 1;
  rec.clear();
  EXPECT_TRUE(DecodeStreamRecord(EncodeStreamRecord(&p, 1), 7, &rec).IsCorruption());

  auto event = [](const char* kind, uint32_t pct) {
    return DecodeStatus(Frame(1, 74, 1, [&](auto& pk) {
      pk.pack_map(1);
      pk.pack("events");
      pk.pack_array(1);
      pk.pack_map(5);
      pk.pack("seq");
      pk.pack(1);
      pk.pack("id");
      pk.pack("n1-1");
      pk.pack("state");
      pk.pack("running");
      pk.pack("event");
      pk.pack(kind);
      pk.pack("progress");
      pk.pack(pct);
    }));
  };
  EXPECT_TRUE(event("progress", 100).ok());
  EXPECT_FALSE(event("progress", 101).ok());
  EXPECT_FALSE(event("gossip", 1).ok());
  EXPECT_TRUE(event("state", 1).ok());
}

// ---- blobs ----

TEST_F(ProtocolTest, BlobMessagesRoundTrip) {
  const std::string h(64, 'c');
  std::string chunk(limits::kBlobChunkBytesMax, '\x7f');  // a full chunk still fits a frame
  auto put = RoundTrip(Envelope{limits::kProtocolVersion, 5,
                                BlobPutRequest{h, 3ull * limits::kBlobChunkBytesMax,
                                               limits::kBlobChunkBytesMax, chunk}});
  const auto& p = std::get<BlobPutRequest>(put.body);
  EXPECT_EQ(p.hash, h);
  EXPECT_EQ(p.size, 3ull * limits::kBlobChunkBytesMax);
  EXPECT_EQ(p.offset, limits::kBlobChunkBytesMax);
  EXPECT_EQ(p.data, chunk);
  EXPECT_LE(Encode(put).size(), limits::kFrameBytesMax);
  auto get = RoundTrip(Envelope{limits::kProtocolVersion, 6, BlobGetRequest{h, 10, 20, "n1-4"}});
  EXPECT_EQ(std::get<BlobGetRequest>(get.body).offset, 10u);
  EXPECT_EQ(std::get<BlobGetRequest>(get.body).length, 20u);
  EXPECT_EQ(std::get<BlobGetRequest>(get.body).job, "n1-4");
  auto stored = RoundTrip(Envelope{limits::kProtocolVersion, 7, BlobStoredReply{h, 9, 9, true}});
  EXPECT_TRUE(std::get<BlobStoredReply>(stored.body).complete);
  EXPECT_EQ(std::get<BlobStoredReply>(stored.body).received, 9u);
  auto data = RoundTrip(Envelope{limits::kProtocolVersion, 8,
                                 BlobDataReply{h, UINT64_MAX, UINT64_MAX - 1, std::string("\0\1", 2)}});
  EXPECT_EQ(std::get<BlobDataReply>(data.body).size, UINT64_MAX);
  EXPECT_EQ(std::get<BlobDataReply>(data.body).data, std::string("\0\1", 2));
  EXPECT_EQ(KindOf(Body{BlobPutRequest{}}), Kind::kBlobPut);
  EXPECT_EQ(static_cast<int>(Kind::kBlobPut), 23);
  EXPECT_EQ(static_cast<int>(Kind::kBlobGet), 24);
  EXPECT_EQ(static_cast<int>(Kind::kBlobStored), 75);
  EXPECT_EQ(static_cast<int>(Kind::kBlobData), 76);
  EXPECT_STREQ(KindName(Kind::kBlobData), "blob_data");
}

TEST_F(ProtocolTest, BlobPutChunksMustFitTheirPlaceAndLimits) {
  const std::string h(64, 'c');
  const uint64_t c = limits::kBlobChunkBytesMax;
  EXPECT_TRUE(Validate(BlobPutRequest{h, 10, 0, std::string(10, 'x')}, 10).ok());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 11, 0, std::string(11, 'x')}, 10).IsTooLarge());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 0, 0, ""}, 10).ok());  // the empty blob
  EXPECT_TRUE(Validate(BlobPutRequest{h, 0, c, ""}, 10).IsInvalidArgument());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 2 * c, 5, std::string(c, 'x')}, 4 * c).IsInvalidArgument());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 2 * c, 0, std::string(c - 1, 'x')}, 4 * c).IsInvalidArgument());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 2 * c, c, std::string(c, 'x')}, 4 * c).ok());
  EXPECT_TRUE(Validate(BlobPutRequest{h, 2 * c, 2 * c, ""}, 4 * c).IsInvalidArgument());  // past the end
  EXPECT_TRUE(Validate(BlobPutRequest{h, UINT64_MAX, 0, std::string(c, 'x')}, 4 * c).IsTooLarge());
  EXPECT_TRUE(Validate(BlobPutRequest{std::string(64, 'C'), 1, 0, "x"}, 10).IsInvalidArgument());
  EXPECT_TRUE(Validate(BlobPutRequest{std::string(63, 'c'), 1, 0, "x"}, 10).IsInvalidArgument());
  EXPECT_TRUE(IsBlobHash(std::string(64, '0')));
  EXPECT_FALSE(IsBlobHash(std::string(65, '0')));
}

TEST_F(ProtocolTest, BadBlobFramesGetTypedErrors) {
  const std::string h(64, 'c');
  // A chunk one byte over kBlobChunkBytesMax: too large.
  auto over = Frame(limits::kProtocolVersion, 23, 1, [&](auto& pk) {
    pk.pack_map(4);
    pk.pack("hash"), pk.pack(h);
    pk.pack("size"), pk.pack(uint64_t{4} << 20);
    pk.pack("offset"), pk.pack(0);
    std::string d(limits::kBlobChunkBytesMax + 1, 'x');
    pk.pack("data"), pk.pack_bin(static_cast<uint32_t>(d.size())), pk.pack_bin_body(d.data(), d.size());
  });
  uint64_t corr = 0;
  EXPECT_TRUE(Decode(over.data(), over.size(), &corr, limits::kReplyFrameBytesMax).status().IsTooLarge());
  EXPECT_EQ(corr, 1u);
  // data of the wrong type, a missing hash, a bad hash in a get, a length over a chunk.
  EXPECT_TRUE(DecodeStatus(Frame(limits::kProtocolVersion, 23, 2, [&](auto& pk) {
                pk.pack_map(3);
                pk.pack("hash"), pk.pack(h);
                pk.pack("size"), pk.pack(1);
                pk.pack("data"), pk.pack(7);
              })).IsCorruption());
  EXPECT_TRUE(DecodeStatus(Frame(limits::kProtocolVersion, 23, 3, [&](auto& pk) {
                pk.pack_map(2);
                pk.pack("size"), pk.pack(1);
                pk.pack("data"), pk.pack("x");
              })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(Frame(limits::kProtocolVersion, 24, 4, [&](auto& pk) {
                pk.pack_map(1);
                pk.pack("hash"), pk.pack("../../etc/passwd");
              })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(Frame(limits::kProtocolVersion, 24, 5, [&](auto& pk) {
                pk.pack_map(2);
                pk.pack("hash"), pk.pack(h);
                pk.pack("length"), pk.pack(uint64_t{limits::kBlobChunkBytesMax} + 1);
              })).IsInvalidArgument());
}

// ---- external workers and progress (docs/protocol.md "External workers") ----

TEST_F(ProtocolTest, WorkerRequestsRoundTripWithEveryField) {
  WorkerRegisterRequest reg{"py-1", {"resize", "py_upper"}, limits::kExternalCapacityMax,
                            limits::kExternalLeaseMsMax};
  auto r = std::get<WorkerRegisterRequest>(RoundTrip({1, 1, reg}).body);
  EXPECT_EQ(r.name, "py-1");
  EXPECT_EQ(r.types, reg.types);
  EXPECT_EQ(r.capacity, limits::kExternalCapacityMax);
  EXPECT_EQ(r.lease_ms, limits::kExternalLeaseMsMax);

  auto poll = std::get<WorkerPollRequest>(
      RoundTrip({1, 2, WorkerPollRequest{UINT64_MAX, limits::kExternalPollWaitMsMax, 3}}).body);
  EXPECT_EQ(poll.worker, UINT64_MAX);
  EXPECT_EQ(poll.wait_ms, limits::kExternalPollWaitMsMax);
  EXPECT_EQ(poll.max, 3u);

  auto beat = std::get<WorkerHeartbeatRequest>(
      RoundTrip({1, 3, WorkerHeartbeatRequest{7, {1, UINT64_MAX}}}).body);
  EXPECT_EQ(beat.worker, 7u);
  EXPECT_EQ(beat.leases, (std::vector<uint64_t>{1, UINT64_MAX}));

  auto prog = std::get<WorkerProgressRequest>(
      RoundTrip({1, 4, WorkerProgressRequest{7, "n1-3", 9, 100, "copying"}}).body);
  EXPECT_EQ(prog.id, "n1-3");
  EXPECT_EQ(prog.lease, 9u);
  EXPECT_EQ(prog.pct, 100u);
  EXPECT_EQ(prog.message, "copying");

  Envelope done = RoundTrip({1, 5, WorkerCompleteRequest{7, "n1-3", 9, Packed("out")}});
  EXPECT_EQ(KindOf(done.body), Kind::kWorkerComplete);
  EXPECT_EQ(std::get<WorkerCompleteRequest>(done.body).result, Packed("out"));
  Envelope failed = RoundTrip({1, 6, WorkerFailRequest{7, "n1-3", 9, "boom"}});
  EXPECT_EQ(KindOf(failed.body), Kind::kWorkerFail);
  EXPECT_EQ(std::get<WorkerFailRequest>(failed.body).error, "boom");
  EXPECT_EQ(std::get<WorkerUnregisterRequest>(RoundTrip({1, 7, WorkerUnregisterRequest{7}}).body)
                .worker,
            7u);
}

TEST_F(ProtocolTest, WorkerRepliesRoundTrip) {
  auto reg = std::get<WorkerRegisteredReply>(
      RoundTrip({1, 1, WorkerRegisteredReply{UINT64_MAX, "n1", 1000}}).body);
  EXPECT_EQ(reg.worker, UINT64_MAX);
  EXPECT_EQ(reg.node, "n1");
  EXPECT_EQ(reg.lease_ms, 1000u);

  LeasedJob j{"n1-4", 12, "resize", "img", 5, Packed("in"), 2, 30000};
  auto jobs = std::get<WorkerJobsReply>(RoundTrip({1, 2, WorkerJobsReply{{j, j}}}).body).jobs;
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].id, "n1-4");
  EXPECT_EQ(jobs[1].lease, 12u);
  EXPECT_EQ(jobs[1].type, "resize");
  EXPECT_EQ(jobs[1].queue, "img");
  EXPECT_EQ(jobs[1].priority, 5u);
  EXPECT_EQ(jobs[1].payload, Packed("in"));
  EXPECT_EQ(jobs[1].attempt, 2u);
  EXPECT_EQ(jobs[1].timeout_ms, 30000u);

  auto beat = std::get<WorkerBeatReply>(RoundTrip({1, 3, WorkerBeatReply{{4, 5}, 2000}}).body);
  EXPECT_EQ(beat.lost, (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(beat.lease_ms, 2000u);
  EXPECT_FALSE(std::get<WorkerAckReply>(RoundTrip({1, 4, WorkerAckReply{false}}).body).applied);
  EXPECT_TRUE(std::get<WorkerAckReply>(RoundTrip({1, 4, WorkerAckReply{}}).body).applied);
}

TEST_F(ProtocolTest, WorkerLimitsAtMaxAndMaxPlusOne) {
  auto status = [](const Body& b) {
    std::string bytes = Encode({1, 9, b});
    uint64_t corr = 0;
    auto r = Decode(bytes.data(), bytes.size(), &corr);
    EXPECT_EQ(corr, 9u);
    return r.ok() ? Status::OK() : r.status();
  };
  WorkerRegisterRequest reg{"w", {"t"}, 1, 0};
  EXPECT_TRUE(status(reg).ok());
  reg.capacity = limits::kExternalCapacityMax + 1;
  EXPECT_TRUE(status(reg).IsInvalidArgument());
  reg.capacity = 0;
  EXPECT_TRUE(status(reg).IsInvalidArgument());
  reg.capacity = 1;
  reg.lease_ms = limits::kExternalLeaseMsMin - 1;
  EXPECT_TRUE(status(reg).IsInvalidArgument());
  reg.lease_ms = limits::kExternalLeaseMsMax + 1;
  EXPECT_TRUE(status(reg).IsInvalidArgument());
  reg.lease_ms = 0;
  reg.types.clear();
  EXPECT_TRUE(status(reg).IsInvalidArgument());  // serves nothing
  reg.types.assign(limits::kExternalTypesMax, "t");
  EXPECT_TRUE(status(reg).ok());
  reg.types.push_back("t");
  EXPECT_TRUE(status(reg).IsCorruption());  // more than the array may hold
  reg.types = {"bad type"};
  EXPECT_TRUE(status(reg).IsInvalidArgument());
  reg.types = {std::string(limits::kTypeNameBytesMax + 1, 't')};
  EXPECT_TRUE(status(reg).IsTooLarge());

  EXPECT_TRUE(status(WorkerPollRequest{1, limits::kExternalPollWaitMsMax + 1, 0}).IsInvalidArgument());
  EXPECT_TRUE(status(WorkerPollRequest{1, 0, limits::kExternalCapacityMax + 1}).IsInvalidArgument());
  EXPECT_TRUE(status(WorkerProgressRequest{1, "n1-1", 1, limits::kProgressPctMax, ""}).ok());
  EXPECT_TRUE(status(WorkerProgressRequest{1, "n1-1", 1, limits::kProgressPctMax + 1, ""})
                  .IsInvalidArgument());
  EXPECT_TRUE(status(WorkerProgressRequest{1, "n1-1", 1, 5,
                                           std::string(limits::kProgressMessageBytesMax, 'm')})
                  .ok());
  EXPECT_TRUE(status(WorkerProgressRequest{1, "n1-1", 1, 5,
                                           std::string(limits::kProgressMessageBytesMax + 1, 'm')})
                  .IsTooLarge());
  std::vector<uint64_t> leases(limits::kExternalCapacityMax, 1);
  EXPECT_TRUE(status(WorkerHeartbeatRequest{1, leases}).ok());
  leases.push_back(1);
  EXPECT_TRUE(status(WorkerHeartbeatRequest{1, leases}).IsCorruption());
  EXPECT_TRUE(status(WorkerFailRequest{1, "n1-1", 1, std::string(limits::kErrorMessageBytesMax + 1, 'e')})
                  .IsTooLarge());
}

TEST_F(ProtocolTest, WorkerRequestsWithoutTheirRunAreRefused) {
  // A completion must name its worker, job and lease: fencing needs all three.
  for (const char* missing : {"worker", "id", "lease"}) {
    std::string bytes = Frame(1, static_cast<uint64_t>(Kind::kWorkerComplete), 4, [&](auto& pk) {
      pk.pack_map(2);
      for (const char* k : {"worker", "id", "lease"}) {
        if (std::string(k) == missing) continue;
        pk.pack(std::string(k));
        if (std::string(k) == "id") pk.pack(std::string("n1-1")); else pk.pack(uint64_t{1});
      }
    });
    uint64_t corr = 0;
    Status s = DecodeStatus(bytes, &corr);
    EXPECT_TRUE(s.IsInvalidArgument()) << missing << ": " << s.ToString();
    EXPECT_EQ(corr, 4u);
  }
  // A lease that is not a number is a broken encoder.
  std::string bytes = Frame(1, static_cast<uint64_t>(Kind::kWorkerHeartbeat), 5, [](auto& pk) {
    pk.pack_map(2);
    pk.pack(std::string("worker"));
    pk.pack(uint64_t{1});
    pk.pack(std::string("leases"));
    pk.pack_array(1);
    pk.pack(std::string("x"));
  });
  EXPECT_TRUE(DecodeStatus(bytes).IsCorruption());
}

TEST_F(ProtocolTest, JobProgressRoundTripsAndIsAbsentUntilReported) {
  JobInfo j;
  j.id = "n1-1";
  // Never reported: the job map has its 14 keys, as older readers expect.
  std::string bytes = Encode({1, 1, JobReply{j}});
  EXPECT_EQ(bytes.find("progress"), std::string::npos);
  j.progress = 42;
  j.progress_message = "42 of 100 files";
  auto back = std::get<JobReply>(RoundTrip({1, 1, JobReply{j}}).body).job;
  EXPECT_EQ(back.progress, 42u);
  EXPECT_EQ(back.progress_message, "42 of 100 files");
  // The job record does not carry it: progress is kept in memory only.
  Job rec;
  rec.seq = 1;
  rec.id = "n1-1";
  rec.spec.type = "echo";
  rec.events = 1;
  rec.rare.mut().progress = 42;
  rec.rare.mut().progress_message = "x";
  auto decoded = DecodeJobRecord(EncodeJobRecord(rec));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value().rare.get().progress, 0u);
  EXPECT_EQ(decoded.value().Info().progress, 0u);
  rec.state = JobState::kSucceeded;
  EXPECT_EQ(rec.Info().progress, limits::kProgressPctMax);  // a succeeded job is done
}

}  // namespace
}  // namespace jobnet::protocol

