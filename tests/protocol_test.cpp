// Protocol codec contract: every message round-trips; untrusted bytes (truncated, oversized,
// wrong-typed, nested too deep, random) come back as a typed Status, never a crash; each limit
// is tested at max and max+1.
#include <gtest/gtest.h>

#include <msgpack.hpp>

#include <limits>
#include <random>

#include "protocol/codec.hpp"
#include "protocol/histograms.hpp"
#include "protocol/job_record.hpp"

namespace jobnet::protocol {
namespace {

class ProtocolTest : public ::testing::Test {
 protected:
  static Envelope RoundTrip(const Envelope& in) {
    std::string bytes = Encode(in);
    uint64_t corr = 0;
    auto out = Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(corr, in.corr_id);
    return out.ok() ? out.value() : Envelope{};
  }
  // Encodes `in` without the body field `field` (its key and value bytes), as a node built
  // before the field existed would send it, and decodes that. `entries` is the body map's size
  // with the field (a fixmap, < 16 entries).
  static Envelope DecodeWithout(const Envelope& in, const std::string& field, uint8_t entries) {
    std::string bytes = Encode(in);
    size_t at = bytes.find(field);
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos) return Envelope{};
    bytes.erase(at, field.size());
    size_t header = bytes.rfind(static_cast<char>(0x80 | entries), at);
    EXPECT_NE(header, std::string::npos);
    if (header == std::string::npos) return Envelope{};
    bytes[header] = static_cast<char>(0x80 | (entries - 1));
    uint64_t corr = 0;
    auto old = Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(old.ok()) << old.status().ToString();
    return old.ok() ? old.value() : Envelope{};
  }
  static Status DecodeStatus(const std::string& bytes, uint64_t* corr = nullptr) {
    uint64_t c = 0;
    auto r = Decode(bytes.data(), bytes.size(), &c);
    if (corr) *corr = c;
    return r.ok() ? Status::OK() : r.status();
  }
  // Hand-built frame: [version, kind, corr, body] with a caller-packed body.
  template <class F>
  static std::string Frame(uint64_t version, uint64_t kind, uint64_t corr, F body) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_array(4);
    pk.pack(version);
    pk.pack(kind);
    pk.pack(corr);
    body(pk);
    return std::string(buf.data(), buf.size());
  }
  static std::string Packed(const std::string& s) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, s);
    return std::string(buf.data(), buf.size());
  }
};

TEST_F(ProtocolTest, SubmitRoundTripKeepsEveryField) {
  JobSpec s;
  s.type = "sha256";
  s.payload = Packed("hello");
  s.queue = "q.1";
  s.priority = 255;
  s.run_at_ms = 1234567;
  s.max_attempts = 100;
  s.backoff_ms = 7;
  s.timeout_ms = 99;
  s.key = "k-1";
  Envelope out = RoundTrip(Envelope{1, std::numeric_limits<uint64_t>::max(), SubmitRequest{s}});
  ASSERT_TRUE(std::holds_alternative<SubmitRequest>(out.body));
  const JobSpec& r = std::get<SubmitRequest>(out.body).spec;
  EXPECT_EQ(r.type, s.type);
  EXPECT_EQ(r.payload, s.payload);
  EXPECT_EQ(r.queue, s.queue);
  EXPECT_EQ(r.priority, 255u);
  EXPECT_EQ(r.run_at_ms, 1234567u);
  EXPECT_EQ(r.max_attempts, 100u);
  EXPECT_EQ(r.backoff_ms, 7u);
  EXPECT_EQ(r.timeout_ms, 99u);
  EXPECT_EQ(r.key, "k-1");
}

TEST_F(ProtocolTest, EveryRequestAndReplyRoundTrips) {
  EXPECT_EQ(std::get<StatusRequest>(RoundTrip({1, 2, StatusRequest{"n1-5"}}).body).id, "n1-5");
  auto w = std::get<WaitRequest>(RoundTrip({1, 3, WaitRequest{"n1-6", 1234}}).body);
  EXPECT_EQ(w.id, "n1-6");
  EXPECT_EQ(w.timeout_ms, 1234u);
  EXPECT_EQ(std::get<CancelRequest>(RoundTrip({1, 4, CancelRequest{"n1-7"}}).body).id, "n1-7");
  EXPECT_EQ(std::get<RetryRequest>(RoundTrip({1, 5, RetryRequest{"n1-8"}}).body).id, "n1-8");
  ListRequest lr;
  lr.state = JobState::kDead;
  lr.queue = "q";
  lr.limit = 1000;
  lr.after = "n1-3";
  auto l = std::get<ListRequest>(RoundTrip({1, 6, lr}).body);
  EXPECT_EQ(*l.state, JobState::kDead);
  EXPECT_EQ(l.queue, "q");
  EXPECT_EQ(l.limit, 1000u);
  EXPECT_EQ(l.after, "n1-3");
  EXPECT_FALSE(std::get<ListRequest>(RoundTrip({1, 6, ListRequest{}}).body).state.has_value());
  EXPECT_TRUE(std::holds_alternative<StatsRequest>(RoundTrip({1, 7, StatsRequest{}}).body));

  auto a = std::get<AcceptedReply>(RoundTrip({1, 8, AcceptedReply{"n1-9", JobState::kDelayed, true, {}, false}}).body);
  EXPECT_EQ(a.id, "n1-9");
  EXPECT_EQ(a.state, JobState::kDelayed);
  EXPECT_TRUE(a.duplicate);

  JobInfo j;
  j.id = "n2-10";
  j.type = "echo";
  j.queue = "default";
  j.priority = 3;
  j.state = JobState::kSucceeded;
  j.result = Packed("out");
  j.error = "earlier failure";
  j.attempts = 2;
  j.max_attempts = 3;
  j.created_at_ms = 1;
  j.started_at_ms = 2;
  j.finished_at_ms = 3;
  j.run_at_ms = 4;
  j.key = "key";
  auto jr = std::get<JobReply>(RoundTrip({1, 9, JobReply{j}}).body).job;
  EXPECT_EQ(jr.id, j.id);
  EXPECT_EQ(jr.state, j.state);
  EXPECT_EQ(jr.result, j.result);
  EXPECT_EQ(jr.error, j.error);
  EXPECT_EQ(jr.attempts, 2u);
  EXPECT_EQ(jr.finished_at_ms, 3u);
  EXPECT_EQ(jr.key, "key");

  auto list = std::get<JobListReply>(RoundTrip({1, 10, JobListReply{{j, j}}}).body);
  EXPECT_EQ(list.jobs.size(), 2u);

  StatsReply st;
  st.node = "n1";
  st.incarnation = 7;
  st.workers = 4;
  st.busy = 1;
  st.jobs["queued"] = 5;
  st.queues["default"] = 5;
  st.counters["journal_batches"] = 9;
  st.queue_totals["mail"] = {{"submitted", 3}, {"dead", 1}};
  Histogram h = MakeHistogram({0.5, 1});
  Observe(&h, 0.7);
  Observe(&h, 9);
  st.histograms["run_seconds"] = h;
  auto sr = std::get<StatsReply>(RoundTrip({1, 11, st}).body);
  EXPECT_EQ(sr.queue_totals["mail"]["submitted"], 3u);
  EXPECT_EQ(sr.queue_totals["mail"]["dead"], 1u);
  const Histogram& back = sr.histograms.at("run_seconds");
  EXPECT_EQ(back.bounds, (std::vector<double>{0.5, 1}));
  EXPECT_EQ(back.counts, (std::vector<uint64_t>{0, 1, 1}));
  EXPECT_DOUBLE_EQ(back.sum, 9.7);
  EXPECT_EQ(back.count, 2u);
  EXPECT_EQ(sr.node, "n1");
  EXPECT_EQ(sr.incarnation, 7u);
  EXPECT_EQ(sr.jobs["queued"], 5u);
  EXPECT_EQ(sr.counters["journal_batches"], 9u);

  auto e = std::get<ErrorReply>(RoundTrip({1, 12, ErrorReply{Code::kOverloaded, "busy"}}).body);
  EXPECT_EQ(e.code, Code::kOverloaded);
  EXPECT_EQ(e.message, "busy");
}

TEST_F(ProtocolTest, RemoteResultCarriesTimedOutAndDefaultsItForOlderSenders) {
  RemoteResult r;
  r.owner = "n1";
  r.owner_incarnation = 3;
  r.worker_node = "n2";
  r.lease = 41;
  r.seq = 5;
  r.timed_out = true;
  r.error = "timed out after 100 ms";
  auto out = std::get<RemoteResult>(RoundTrip({1, 0, r}).body);
  EXPECT_TRUE(out.timed_out);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, r.error);
  EXPECT_EQ(out.lease, 41u);
  // A node built before the field existed sends the map without it: read as false.
  r.timed_out = false;
  Envelope old = DecodeWithout({1, 0, r}, std::string("\xa9timed_out\xc2", 11), 11);
  EXPECT_FALSE(std::get<RemoteResult>(old.body).timed_out);
  EXPECT_EQ(std::get<RemoteResult>(old.body).error, r.error);
}

TEST_F(ProtocolTest, RemoteAckRoundTripsAndResultsCarryFreeSlots) {
  RemoteAck a;
  a.owner = "n1";
  a.owner_incarnation = UINT64_MAX;
  a.worker_node = "n2";
  a.lease = UINT64_MAX;
  a.seq = 5;
  a.free = 3;
  Envelope env = RoundTrip({1, 0, a});
  EXPECT_EQ(KindOf(env.body), Kind::kRemoteAck);
  EXPECT_TRUE(IsOneWay(Kind::kRemoteAck));
  EXPECT_STREQ(KindName(Kind::kRemoteAck), "remote_ack");
  auto out = std::get<RemoteAck>(env.body);
  EXPECT_EQ(out.owner, "n1");
  EXPECT_EQ(out.owner_incarnation, UINT64_MAX);
  EXPECT_EQ(out.worker_node, "n2");
  EXPECT_EQ(out.lease, UINT64_MAX);
  EXPECT_EQ(out.seq, 5u);
  EXPECT_EQ(out.free, 3u);
  RemoteResult r;
  r.owner = "n1";
  r.lease = 1;
  r.seq = 1;
  r.free = 2;
  EXPECT_EQ(std::get<RemoteResult>(RoundTrip({1, 0, r}).body).free, 2u);
}

TEST_F(ProtocolTest, WorkersRequestsAndWorkerListRoundTrip) {
  Envelope env = RoundTrip({1, 3, WorkersRequest{}});
  EXPECT_EQ(KindOf(env.body), Kind::kWorkers);
  EXPECT_STREQ(KindName(Kind::kWorkers), "workers");
  auto set = std::get<WorkersSetRequest>(RoundTrip({1, 4, WorkersSetRequest{UINT32_MAX}}).body);
  EXPECT_EQ(set.workers, UINT32_MAX);  // bounds are the node's to check, with a clear message
  EXPECT_EQ(KindOf(Body{WorkersSetRequest{}}), Kind::kWorkersSet);
  EXPECT_FALSE(IsOneWay(Kind::kWorkersSet));
  WorkerListReply wl;
  wl.node = "n1";
  wl.workers = 1;
  WorkerSlot busy;
  busy.id = 0;
  busy.busy = true;
  busy.job = "n2-5";
  busy.queue = "q";
  busy.type = "sleep";
  busy.since_ms = UINT64_MAX;
  WorkerSlot retiring = busy;
  retiring.id = 7;
  retiring.retiring = true;
  WorkerSlot idle;
  idle.id = 1;
  wl.slots = {busy, retiring, idle};
  env = RoundTrip({1, 5, wl});
  EXPECT_EQ(KindOf(env.body), Kind::kWorkerList);
  auto out = std::get<WorkerListReply>(env.body);
  EXPECT_EQ(out.node, "n1");
  EXPECT_EQ(out.workers, 1u);
  ASSERT_EQ(out.slots.size(), 3u);
  EXPECT_TRUE(out.slots[0].busy);
  EXPECT_FALSE(out.slots[0].retiring);
  EXPECT_EQ(out.slots[0].job, "n2-5");
  EXPECT_EQ(out.slots[0].queue, "q");
  EXPECT_EQ(out.slots[0].type, "sleep");
  EXPECT_EQ(out.slots[0].since_ms, UINT64_MAX);
  EXPECT_EQ(out.slots[1].id, 7u);
  EXPECT_TRUE(out.slots[1].retiring);
  EXPECT_FALSE(out.slots[2].busy);
  // A workers_set without its count is refused.
  std::string bytes = Encode({1, 4, WorkersSetRequest{3}});
  std::string without = bytes.substr(0, bytes.size() - std::string("\x81\xa7workers\x03", 10).size()) +
                        std::string("\x80", 1);
  EXPECT_TRUE(DecodeStatus(without).IsInvalidArgument());
  // At most kWorkersMax slots.
  wl.slots.assign(limits::kWorkersMax + 1, idle);
  EXPECT_TRUE(DecodeStatus(Encode({1, 5, wl})).IsCorruption());
}

TEST_F(ProtocolTest, RemoteCancelRoundTripsAsAOneWayMessage) {
  RemoteCancel c{"n1", UINT64_MAX, UINT64_MAX, 5};
  Envelope env = RoundTrip({1, 0, c});
  EXPECT_EQ(KindOf(env.body), Kind::kRemoteCancel);
  EXPECT_EQ(static_cast<int>(Kind::kRemoteCancel), 21);
  EXPECT_TRUE(IsOneWay(Kind::kRemoteCancel));
  EXPECT_STREQ(KindName(Kind::kRemoteCancel), "remote_cancel");
  auto out = std::get<RemoteCancel>(env.body);
  EXPECT_EQ(out.owner, "n1");
  EXPECT_EQ(out.owner_incarnation, UINT64_MAX);
  EXPECT_EQ(out.lease, UINT64_MAX);
  EXPECT_EQ(out.seq, 5u);
}

TEST_F(ProtocolTest, RemoteAckWithoutLeaseIsRefused) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(4);
  pk.pack(1);
  pk.pack(19);
  pk.pack(0);
  pk.pack_map(2);
  pk.pack("owner");
  pk.pack("n1");
  pk.pack("seq");
  pk.pack(5);
  uint64_t corr = 0;
  auto env = Decode(buf.data(), buf.size(), &corr, limits::kReplyFrameBytesMax);
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(env.status().IsInvalidArgument()) << env.status().ToString();
}

TEST_F(ProtocolTest, HeartbeatAnnouncesAcksAndOlderSendersAreReadAsNotAcking) {
  Heartbeat h;
  h.node = "n2";
  h.endpoint = "tcp://127.0.0.1:7702";
  h.free = 2;
  h.acks = true;
  EXPECT_TRUE(std::get<Heartbeat>(RoundTrip({1, 0, h}).body).acks);
  Envelope old = DecodeWithout({1, 0, h}, std::string("\xa4" "acks" "\xc3", 6), 7);
  EXPECT_FALSE(std::get<Heartbeat>(old.body).acks);
  EXPECT_EQ(std::get<Heartbeat>(old.body).free, 2u);
}

TEST_F(ProtocolTest, AnyMsgpackPayloadPassesThroughUntouched) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(2);
  pk.pack("nested");
  pk.pack_array(3);
  pk.pack(-5);
  pk.pack(1.5);
  pk.pack_nil();
  pk.pack("bin");
  pk.pack_bin(3);
  pk.pack_bin_body("\x00\x01\x02", 3);
  JobSpec s;
  s.type = "echo";
  s.payload.assign(buf.data(), buf.size());
  auto out = RoundTrip({1, 1, SubmitRequest{s}});
  EXPECT_EQ(std::get<SubmitRequest>(out.body).spec.payload, s.payload);
}

TEST_F(ProtocolTest, EveryTruncationIsAnErrorNotACrash) {
  JobSpec s;
  s.type = "echo";
  s.payload = Packed("some payload");
  s.key = "abc";
  std::string bytes = Encode({1, 42, SubmitRequest{s}});
  for (size_t n = 0; n < bytes.size(); ++n) {
    uint64_t corr = 0;
    auto r = Decode(bytes.data(), n, &corr);
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  }
}

TEST_F(ProtocolTest, TrailingBytesAreRejected) {
  std::string bytes = Encode({1, 1, StatsRequest{}}) + "x";
  EXPECT_TRUE(DecodeStatus(bytes).IsCorruption());
}

TEST_F(ProtocolTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  JobSpec s;
  s.type = "echo";
  s.payload = Packed("payload");
  std::string good = Encode({1, 7, SubmitRequest{s}});
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 64);
      for (auto& c : bytes) c = static_cast<char>(rng());
    } else {  // mutate a valid frame: flips hit type bytes and lengths
      bytes = good;
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    uint64_t corr = 0;
    auto r = Decode(bytes.data(), bytes.size(), &corr);
    if (r.ok()) {
      // Whatever decodes must re-encode to something that decodes the same way.
      std::string again = Encode(r.value());
      uint64_t corr2 = 0;
      auto r2 = Decode(again.data(), again.size(), &corr2);
      ASSERT_TRUE(r2.ok()) << r2.status().ToString();
      EXPECT_EQ(Encode(r2.value()), again);
      EXPECT_EQ(corr2, corr);
    } else {
      Code c = r.status().code();
      EXPECT_TRUE(c == Code::kCorruption || c == Code::kTooLarge ||
                  c == Code::kUnsupportedVersion || c == Code::kInvalidArgument)
          << r.status().ToString();
    }
  }
}

TEST_F(ProtocolTest, UnknownVersionIsTypedAndKeepsCorrId) {
  std::string f = Frame(2, 7, 99, [](auto& pk) { pk.pack_map(0); });
  uint64_t corr = 0;
  Status s = DecodeStatus(f, &corr);
  EXPECT_EQ(s.code(), Code::kUnsupportedVersion);
  EXPECT_EQ(corr, 99u);
}

TEST_F(ProtocolTest, UnknownKindAndWrongShapes) {
  EXPECT_TRUE(DecodeStatus(Frame(1, 200, 1, [](auto& pk) { pk.pack_map(0); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(Frame(1, 1ull << 40, 1, [](auto& pk) { pk.pack_map(0); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(Frame(1, 7, 1, [](auto& pk) { pk.pack_array(0); })).IsCorruption());
  // A kind of the wrong msgpack type is corruption, like every other wrongly typed field.
  {
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> pk(b);
    pk.pack_array(4);
    pk.pack(1);
    pk.pack("submit");
    pk.pack(3);
    pk.pack_map(0);
    uint64_t corr = 0;
    auto st = Decode(b.data(), b.size(), &corr, limits::kFrameBytesMax).status();
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_EQ(corr, 3u);
  }
  msgpack::sbuffer buf;
  msgpack::pack(buf, std::string("not an envelope"));
  EXPECT_TRUE(DecodeStatus(std::string(buf.data(), buf.size())).IsCorruption());
  EXPECT_TRUE(DecodeStatus("").IsCorruption());
  // Negative corr id.
  std::string neg = Frame(1, 7, 0, [](auto& pk) { pk.pack_map(0); });
  neg[3] = static_cast<char>(0xff);  // fixint 0 -> negative fixint -1
  EXPECT_TRUE(DecodeStatus(neg).IsCorruption());
}

TEST_F(ProtocolTest, WrongFieldTypesAreRejected) {
  auto submit_with = [&](auto fill) {
    return Frame(1, 1, 5, [&](auto& pk) {
      pk.pack_map(2);
      pk.pack("type");
      pk.pack("echo");
      fill(pk);
    });
  };
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("priority"); pk.pack("high"); })).IsCorruption());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("priority"); pk.pack(-1); })).IsCorruption());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("priority"); pk.pack(256); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("priority"); pk.pack(1ull << 33); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("queue"); pk.pack(7); })).IsCorruption());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("queue"); pk.pack("bad queue!"); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("max_attempts"); pk.pack(0); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("max_attempts"); pk.pack(101); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("timeout_ms"); pk.pack(0); })).IsInvalidArgument());
  EXPECT_TRUE(DecodeStatus(submit_with([](auto& pk) { pk.pack("unknown_field"); pk.pack(1); })).ok());
  // Missing type.
  EXPECT_TRUE(DecodeStatus(Frame(1, 1, 5, [](auto& pk) { pk.pack_map(0); })).IsInvalidArgument());
  // run_at and delay together.
  EXPECT_TRUE(DecodeStatus(Frame(1, 1, 5, [](auto& pk) {
                pk.pack_map(3);
                pk.pack("type"); pk.pack("echo");
                pk.pack("run_at_ms"); pk.pack(5);
                pk.pack("delay_ms"); pk.pack(5);
              })).IsInvalidArgument());
  // Wait timeout over an hour, list limit 0 and 1001.
  EXPECT_TRUE(DecodeStatus(Frame(1, 3, 5, [](auto& pk) {
                pk.pack_map(2);
                pk.pack("id"); pk.pack("n1-1");
                pk.pack("timeout_ms"); pk.pack(limits::kWaitTimeoutMsMax + 1);
              })).IsInvalidArgument());
  for (uint32_t limit : {0u, limits::kListLimitMax + 1}) {
    EXPECT_TRUE(DecodeStatus(Frame(1, 6, 5, [&](auto& pk) {
                  pk.pack_map(1);
                  pk.pack("limit"); pk.pack(limit);
                })).IsInvalidArgument());
  }
  EXPECT_TRUE(DecodeStatus(Frame(1, 6, 5, [&](auto& pk) {
                pk.pack_map(1);
                pk.pack("limit"); pk.pack(limits::kListLimitMax);
              })).ok());
  EXPECT_TRUE(DecodeStatus(Frame(1, 6, 5, [&](auto& pk) {
                pk.pack_map(1);
                pk.pack("state"); pk.pack("sleeping");
              })).IsInvalidArgument());
}

TEST_F(ProtocolTest, NameLimitsAtMaxAndMaxPlusOne) {
  JobSpec s;
  s.type = std::string(limits::kTypeNameBytesMax, 't');
  s.queue = std::string(limits::kQueueNameBytesMax, 'q');
  s.key = std::string(limits::kIdempotencyKeyBytesMax, 'k');
  EXPECT_TRUE(Validate(s).ok());
  std::string ok = Encode({1, 1, SubmitRequest{s}});
  EXPECT_TRUE(DecodeStatus(ok).ok());
  JobSpec t = s;
  t.type += "t";
  EXPECT_FALSE(DecodeStatus(Encode({1, 1, SubmitRequest{t}})).ok());
  t = s;
  t.queue += "q";
  EXPECT_FALSE(DecodeStatus(Encode({1, 1, SubmitRequest{t}})).ok());
  t = s;
  t.key += "k";
  EXPECT_FALSE(DecodeStatus(Encode({1, 1, SubmitRequest{t}})).ok());
}

TEST_F(ProtocolTest, PayloadLimitAtMaxAndMaxPlusOne) {
  // A msgpack bin of exactly kPayloadBytesMax bytes in total (5-byte bin32 header).
  auto payload_of = [](size_t total) {
    std::string p;
    size_t n = total - 5;
    p.push_back(static_cast<char>(0xc6));
    for (int i = 3; i >= 0; --i) p.push_back(static_cast<char>((n >> (i * 8)) & 0xff));
    p.append(n, 'x');
    return p;
  };
  JobSpec s;
  s.type = "echo";
  s.payload = payload_of(limits::kPayloadBytesMax);
  EXPECT_TRUE(DecodeStatus(Encode({1, 1, SubmitRequest{s}})).ok());
  s.payload = payload_of(limits::kPayloadBytesMax + 1);
  Status st = DecodeStatus(Encode({1, 1, SubmitRequest{s}}));
  EXPECT_TRUE(st.IsTooLarge()) << st.ToString();
}

TEST_F(ProtocolTest, FrameLimitIsTooLarge) {
  std::string big(limits::kFrameBytesMax + 1, '\xc0');
  uint64_t corr = 0;
  auto r = Decode(big.data(), big.size(), &corr);
  EXPECT_TRUE(r.status().IsTooLarge());
}

TEST_F(ProtocolTest, DepthBombIsRejected) {
  std::string f = Frame(1, 1, 3, [](auto& pk) {
    pk.pack_map(2);
    pk.pack("type");
    pk.pack("echo");
    pk.pack("payload");
    for (uint32_t i = 0; i < limits::kDepthMax + 2; ++i) pk.pack_array(1);
    pk.pack_nil();
  });
  // Refused as a whole, yet answered: the corr_id is read from the frame's head.
  uint64_t corr = 0;
  Status s = DecodeStatus(f, &corr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(corr, 3u);
}

// One nesting bound (limits::kPayloadDepthMax) for payloads and results wherever they travel:
// the deepest legal value fits every message and record that carries one, and one level more is
// invalid_argument at the first reader, with the corr_id kept so the client gets its answer.
class PayloadNestingTest : public ProtocolTest {
 protected:
  // A msgpack value of exactly `depth` containers, maps and arrays taking turns, each with a
  // scalar beside the next level (so both key and element positions are exercised).
  static std::string Nested(uint32_t depth) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    for (uint32_t i = 0; i < depth; ++i) {
      if (i % 2 == 0) {
        pk.pack_map(2);
        pk.pack("n");
        pk.pack(i);
        pk.pack("in");
      } else {
        pk.pack_array(2);
        pk.pack(i);
      }
    }
    pk.pack("leaf");
    return std::string(buf.data(), buf.size());
  }
  static JobSpec Spec(const std::string& payload) {
    JobSpec s;
    s.type = "echo";
    s.payload = payload;
    return s;
  }
  static JobInfo Info(const std::string& result) {
    JobInfo j;
    j.id = "n1-1";
    j.type = "echo";
    j.queue = "default";
    j.state = JobState::kSucceeded;
    j.result = result;
    return j;
  }
};

TEST_F(PayloadNestingTest, TheDeepestLegalPayloadFitsEveryMessageThatCarriesOne) {
  static_assert(limits::kDepthMax == limits::kPayloadDepthMax + limits::kPayloadEnvelopeDepthMax,
                "the frame bound is the payload bound plus the deepest envelope");
  const std::string deep = Nested(limits::kPayloadDepthMax);
  ASSERT_TRUE(Validate(Spec(deep)).ok());

  EXPECT_EQ(std::get<SubmitRequest>(RoundTrip({1, 1, SubmitRequest{Spec(deep)}}).body).spec.payload,
            deep);
  SubmitBatchRequest batch;
  batch.specs.assign(3, BatchSpec{Spec(deep), Status::OK()});
  Envelope batch_back = RoundTrip({1, 2, batch});
  for (const auto& b : std::get<SubmitBatchRequest>(batch_back.body).specs) {
    EXPECT_TRUE(b.decoded.ok()) << b.decoded.ToString();
    EXPECT_EQ(b.spec.payload, deep);
  }
  EXPECT_EQ(std::get<JobReply>(RoundTrip({1, 3, JobReply{Info(deep)}}).body).job.result, deep);
  JobListReply list{{Info(deep), Info(deep)}};
  Envelope list_back = RoundTrip({1, 4, list});
  for (const auto& j : std::get<JobListReply>(list_back.body).jobs)
    EXPECT_EQ(j.result, deep);
  RemoteRun run;
  run.id = "n1-1";
  run.type = "echo";
  run.payload = deep;
  run.timeout_ms = 1000;
  EXPECT_EQ(std::get<RemoteRun>(RoundTrip({1, 5, run}).body).payload, deep);
  RemoteResult result;
  result.ok = true;
  result.result = deep;
  EXPECT_EQ(std::get<RemoteResult>(RoundTrip({1, 6, result}).body).result, deep);
  WorkerCompleteRequest complete{7, "n1-1", 9, deep};
  EXPECT_EQ(std::get<WorkerCompleteRequest>(RoundTrip({1, 7, complete}).body).result, deep);
  LeasedJob leased;
  leased.id = "n1-1";
  leased.type = "echo";
  leased.queue = "default";
  leased.payload = deep;
  WorkerJobsReply jobs{{leased, leased}};
  Envelope jobs_back = RoundTrip({1, 8, jobs});
  for (const auto& j : std::get<WorkerJobsReply>(jobs_back.body).jobs)
    EXPECT_EQ(j.payload, deep);
  ScheduleSpec sched;
  sched.name = "deep";
  sched.every_ms = limits::kScheduleEveryMsMin;
  sched.job = Spec(deep);
  EXPECT_EQ(std::get<ScheduleAddRequest>(RoundTrip({1, 9, ScheduleAddRequest{sched}}).body)
                .schedule.job.payload,
            deep);

  // The journal: a job's result in its record, a schedule's payload in its record.
  Job j;
  j.seq = 1;
  j.id = "n1-1";
  j.spec = Spec(MsgpackNil());
  j.state = JobState::kSucceeded;
  j.set_result(deep);
  j.events = 1;
  auto rec = DecodeJobRecord(EncodeJobRecord(j));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec.value().result(), deep);
  protocol::Schedule s;
  s.spec = sched;
  auto srec = DecodeScheduleRecord(EncodeScheduleRecord(s));
  ASSERT_TRUE(srec.ok()) << srec.status().ToString();
  EXPECT_EQ(srec.value().spec.job.payload, deep);
}

TEST_F(PayloadNestingTest, OneLevelMoreIsInvalidArgumentAtTheFirstReader) {
  const std::string over = Nested(limits::kPayloadDepthMax + 1);
  Status v = Validate(Spec(over));
  EXPECT_TRUE(v.IsInvalidArgument()) << v.ToString();
  EXPECT_NE(v.message().find("nests deeper than"), std::string::npos) << v.message();

  uint64_t corr = 0;
  Status s = DecodeStatus(Encode({1, 41, SubmitRequest{Spec(over)}}), &corr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(corr, 41u);
  // A batch wraps its specs' payloads in 4 levels (the deepest envelope), so one spec over the
  // bound takes the whole frame past kDepthMax: the request is refused as a whole, answered.
  // Clients check each spec first so that it fails alone (client.cpp, the CLI, the HTTP face,
  // the Python client); a payload nested within the frame's bound but past its own fails alone
  // at the node (Validate, per spec).
  SubmitBatchRequest batch;
  batch.specs = {BatchSpec{Spec(MsgpackNil()), Status::OK()}, BatchSpec{Spec(over), Status::OK()},
                 BatchSpec{Spec(MsgpackNil()), Status::OK()}};
  s = DecodeStatus(Encode({1, 42, batch}), &corr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(corr, 42u);
  // A result from an external worker or a peer is held to the same bound.
  s = DecodeStatus(Encode({1, 43, WorkerCompleteRequest{7, "n1-1", 9, over}}), &corr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(corr, 43u);
  RemoteResult result;
  result.result = over;
  EXPECT_TRUE(DecodeStatus(Encode({1, 44, result})).IsInvalidArgument());
}

TEST_F(PayloadNestingTest, FramesPastTheWireBoundAreAnsweredNotDropped) {
  // Nested far past the frame's bound (as a 2 MB JSON body nested 10^6 deep would be): the
  // decoder stops at the bound, and the client still gets its error.
  for (uint32_t depth : {limits::kDepthMax, 1000u, 100000u}) {
    std::string payload(depth, '\x91');
    payload.push_back('\xc0');
    uint64_t corr = 0;
    Status s = DecodeStatus(Encode({1, 51, SubmitRequest{Spec(payload)}}), &corr);
    EXPECT_TRUE(s.IsInvalidArgument()) << depth << ": " << s.ToString();
    EXPECT_EQ(corr, 51u) << depth;
    Status v = Validate(Spec(payload));
    EXPECT_TRUE(v.IsInvalidArgument()) << v.ToString();
  }
  // Over the frame's size: too_large, answered too.
  std::string big(limits::kPayloadBytesMax + limits::kEnvelopeBytesMax, 'x');
  uint64_t corr = 0;
  Status s = DecodeStatus(Encode({1, 52, SubmitRequest{Spec(Packed(big))}}), &corr);
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  EXPECT_EQ(corr, 52u);
  // Every form of the corr_id's integer is read; a head that is not [v, kind, corr] gives 0.
  for (uint64_t want : {0ull, 5ull, 200ull, 70000ull, 1ull << 40, ~0ull}) {
    std::string f = Frame(1, 1, want, [](auto& pk) { pk.pack_array(1); });
    f.back() = '\xc1';  // never a valid msgpack byte
    EXPECT_FALSE(DecodeStatus(f, &corr).ok());
    EXPECT_EQ(corr, want);
  }
  EXPECT_FALSE(DecodeStatus(std::string("\x93\x01\x01\x07", 4), &corr).ok());
  EXPECT_EQ(corr, 0u);
  EXPECT_FALSE(DecodeStatus(std::string("\x94\x01\x01", 3), &corr).ok());
  EXPECT_EQ(corr, 0u);
}

TEST_F(PayloadNestingTest, PayloadsThatAreNotOneValueAreRefusedByValidate) {
  for (const char* bad : {"\x92\x01", "\xc1", "\x01\x02"}) {
    Status v = Validate(Spec(bad));
    EXPECT_TRUE(v.IsInvalidArgument()) << v.ToString();
  }
}

TEST_F(ProtocolTest, HugeContainerHeadersDoNotAllocate) {
  // array32 claiming 4 billion elements, in a 5-byte frame.
  std::string bomb = "\xdd\xff\xff\xff\xff";
  Status s = DecodeStatus(bomb);
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  std::string map_bomb = "\xdf\xff\xff\xff\xff";
  EXPECT_TRUE(DecodeStatus(map_bomb).IsTooLarge());
  std::string str_bomb = "\xdb\xff\xff\xff\xff";
  EXPECT_FALSE(DecodeStatus(str_bomb).ok());
}

TEST_F(ProtocolTest, JobIdsParseStrictly) {
  EXPECT_EQ(MakeJobId("n1", 42), "n1-42");
  auto p = ParseJobId("node-a-18446744073709551615");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().node, "node-a");
  EXPECT_EQ(p.value().seq, std::numeric_limits<uint64_t>::max());
  for (const char* bad : {"", "n1", "n1-", "-5", "n1-0", "n1-x", "n1-18446744073709551616",
                          "n 1-5", "n1-5 ", "h1-01", "h1-007", "h1-00"})
    EXPECT_FALSE(ParseJobId(bad).ok()) << bad;
}

TEST_F(ProtocolTest, JobRecordRoundTripAndCorruption) {
  Job j;
  j.seq = 77;
  j.id = "n1-77";
  j.spec.type = "echo";
  j.spec.payload = Packed("p");
  j.spec.queue = "q";
  j.spec.priority = 4;
  j.spec.key = "key";
  j.state = JobState::kDelayed;
  j.attempts = 2;
  j.created_at_ms = 10;
  j.run_at_ms = 20;
  j.set_result(Packed("r"));
  j.set_error("e");
  j.order = 5;
  j.events = 3;
  auto r = DecodeJobRecord(EncodeJobRecord(j));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value().id, "n1-77");
  // The payload is stored once, under its own journal key, not in the record.
  EXPECT_EQ(r.value().spec.payload, MsgpackNil());
  EXPECT_EQ(EncodeJobRecord(j).find("payload"), std::string::npos);
  EXPECT_EQ(r.value().state, JobState::kDelayed);
  EXPECT_EQ(r.value().events, 3u);
  EXPECT_EQ(r.value().order, 5u);
  EXPECT_EQ(r.value().spec.key, "key");
  std::string bytes = EncodeJobRecord(j);
  for (size_t n = 0; n < bytes.size(); n += 7)
    EXPECT_FALSE(DecodeJobRecord(bytes.substr(0, n)).ok());
  EXPECT_FALSE(DecodeJobRecord("garbage").ok());
  // A job without its submit event cannot be recovered into the state machine's history.
  Job no_events = j;
  no_events.events = 0;
  EXPECT_TRUE(DecodeJobRecord(EncodeJobRecord(no_events)).status().IsCorruption());
  // A damaged record claiming billions of entries must not allocate them (found by fuzzing).
  EXPECT_FALSE(DecodeJobRecord(std::string("\xdf\xdf\xdf\xdf\xdf\x01", 6)).ok());
  EXPECT_FALSE(DecodeEventRecord(std::string("\xdd\xff\xff\xff\xff", 5)).ok());
  JobEvent ev{5, JobState::kRunning, 1, "started", "n2", "boom"};
  auto e = DecodeEventRecord(EncodeEventRecord(ev));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().message, "started");
  EXPECT_EQ(e.value().node, "n2");
  EXPECT_EQ(e.value().error, "boom");
  EXPECT_EQ(e.value().state, JobState::kRunning);
}

TEST_F(ProtocolTest, ScheduleMessagesRoundTripAndBadOnesAreRefused) {
  ScheduleSpec spec;
  spec.name = "nightly.backup-1";
  spec.cron = "0 3 * * MON-FRI";
  spec.job.type = "exec";
  spec.job.payload = std::string("\x92\x01\x02", 3);
  spec.job.queue = "ops";
  spec.job.priority = 7;
  spec.job.timeout_ms = 60000;
  auto add = std::get<ScheduleAddRequest>(RoundTrip({1, 1, ScheduleAddRequest{spec}}).body);
  EXPECT_EQ(add.schedule.name, spec.name);
  EXPECT_EQ(add.schedule.cron, spec.cron);
  EXPECT_EQ(add.schedule.every_ms, 0u);
  EXPECT_EQ(add.schedule.job.payload, spec.job.payload);
  EXPECT_EQ(add.schedule.job.queue, "ops");
  EXPECT_EQ(add.schedule.job.priority, 7u);
  EXPECT_EQ(add.schedule.job.timeout_ms, 60000u);
  EXPECT_TRUE(std::get<ScheduleListRequest>(RoundTrip({1, 2, ScheduleListRequest{true}}).body).local);
  EXPECT_FALSE(std::get<ScheduleListRequest>(RoundTrip({1, 2, ScheduleListRequest{}}).body).local);
  auto ch = std::get<ScheduleChangeRequest>(
      RoundTrip({1, 3, ScheduleChangeRequest{"x", ScheduleAction::kResume}}).body);
  EXPECT_EQ(ch.name, "x");
  EXPECT_EQ(ch.action, ScheduleAction::kResume);
  ScheduleInfo i;
  i.name = "x";
  i.node = "n2";
  i.every_ms = 30000;
  i.type = "echo";
  i.queue = "default";
  i.paused = true;
  i.next_fire_ms = std::numeric_limits<uint64_t>::max();
  i.last_fire_ms = 1714557630000ull;
  i.last_job_id = "n2-18446744073709551615";
  i.fires = 12;
  auto r = std::get<ScheduleListReply>(RoundTrip({1, 4, ScheduleListReply{{i, i}, {"n3"}}}).body);
  ASSERT_EQ(r.schedules.size(), 2u);
  EXPECT_EQ(r.schedules[1].node, "n2");
  EXPECT_TRUE(r.schedules[1].paused);
  EXPECT_EQ(r.schedules[1].next_fire_ms, i.next_fire_ms);
  EXPECT_EQ(r.schedules[1].last_job_id, i.last_job_id);
  EXPECT_EQ(r.schedules[1].fires, 12u);
  EXPECT_EQ(r.unreachable, std::vector<std::string>{"n3"});

  // Validation at decode: exactly one of cron and every_ms, every_ms bounds, no key.
  auto refused = [&](ScheduleSpec s) {
    std::string frame = Encode(Envelope{1, 9, ScheduleAddRequest{s}});
    uint64_t corr = 0;
    auto env = Decode(frame.data(), frame.size(), &corr);
    EXPECT_EQ(corr, 9u);
    return env.ok() ? Status::OK() : env.status();
  };
  ScheduleSpec both = spec;
  both.every_ms = 1000;
  EXPECT_TRUE(refused(both).IsInvalidArgument());
  ScheduleSpec neither = spec;
  neither.cron.clear();
  EXPECT_TRUE(refused(neither).IsInvalidArgument());
  ScheduleSpec every = neither;
  every.every_ms = limits::kScheduleEveryMsMin - 1;
  EXPECT_TRUE(refused(every).IsInvalidArgument());
  every.every_ms = limits::kScheduleEveryMsMin;
  EXPECT_TRUE(refused(every).ok());
  every.every_ms = limits::kScheduleEveryMsMax + 1;
  EXPECT_TRUE(refused(every).IsInvalidArgument());
  ScheduleSpec keyed = spec;
  keyed.job.key = "k";
  EXPECT_TRUE(refused(keyed).IsInvalidArgument());
  ScheduleSpec named = spec;
  named.name = "bad name";
  EXPECT_TRUE(refused(named).IsInvalidArgument());
  named.name = std::string(limits::kScheduleNameBytesMax + 1, 'a');
  EXPECT_TRUE(refused(named).IsTooLarge());
  // An unknown action.
  std::string frame = Encode(Envelope{1, 5, ScheduleChangeRequest{"x", ScheduleAction::kPause}});
  auto at = frame.find("pause");
  ASSERT_NE(at, std::string::npos);
  frame.replace(at, 5, "pauze");
  uint64_t corr = 0;
  EXPECT_TRUE(Decode(frame.data(), frame.size(), &corr).status().IsInvalidArgument());
}

TEST_F(ProtocolTest, ScheduleRecordRoundTripsAndRefusesWhatCouldNotHaveBeenAdded) {
  protocol::Schedule s;
  s.spec.name = "tick";
  s.spec.every_ms = 2000;
  s.spec.job.type = "echo";
  s.spec.job.payload = std::string("\xa4tick", 5);
  s.anchor_ms = 10;
  s.from_ms = 20;
  s.paused = true;
  s.last_fire_ms = 30;
  s.last_job_id = "n1-4";
  s.fires = 4;
  auto out = protocol::DecodeScheduleRecord(protocol::EncodeScheduleRecord(s));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value().spec.name, "tick");
  EXPECT_EQ(out.value().spec.every_ms, 2000u);
  EXPECT_EQ(out.value().spec.job.payload, s.spec.job.payload);
  EXPECT_EQ(out.value().anchor_ms, 10u);
  EXPECT_EQ(out.value().from_ms, 20u);
  EXPECT_TRUE(out.value().paused);
  EXPECT_EQ(out.value().last_fire_ms, 30u);
  EXPECT_EQ(out.value().last_job_id, "n1-4");
  EXPECT_EQ(out.value().fires, 4u);
  s.spec.every_ms = 0;  // neither cron nor every
  EXPECT_TRUE(protocol::DecodeScheduleRecord(protocol::EncodeScheduleRecord(s)).status().IsCorruption());
  EXPECT_TRUE(protocol::DecodeScheduleRecord("\x01").status().IsCorruption());
}

}  // namespace
}  // namespace jobnet::protocol

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
