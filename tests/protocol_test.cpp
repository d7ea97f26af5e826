// Protocol codec contract: every message round-trips; untrusted bytes (truncated, oversized,
// wrong-typed, nested too deep, random) come back as a typed Status, never a crash; each limit
// is tested at max and max+1.
#include <tuple>

#include "tests/protocol_fixture.hpp"

namespace jobnet::protocol {
namespace {

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
  // The created-at range: written only when set, so an unbounded list is an older client's bytes.
  const std::string unbounded = Encode({1, 6, lr});
  lr.created_from_ms = 1000;
  lr.created_to_ms = UINT64_MAX;
  l = std::get<ListRequest>(RoundTrip({1, 6, lr}).body);
  EXPECT_EQ(l.created_from_ms, 1000u);
  EXPECT_EQ(l.created_to_ms, UINT64_MAX);
  lr.created_from_ms = lr.created_to_ms = 0;
  EXPECT_EQ(Encode({1, 6, lr}), unbounded);
  lr.created_from_ms = 2000;
  lr.created_to_ms = 1999;
  EXPECT_TRUE(DecodeStatus(Encode({1, 6, lr})).IsInvalidArgument());
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
  auto plain = Encode({1, 11, st});
  st.denied = {{"billing", 3}, {"(none)", 1}};  // only with principals: absent, the bytes are as before
  EXPECT_GT(Encode({1, 11, st}).size(), plain.size());
  auto sr = std::get<StatsReply>(RoundTrip({1, 11, st}).body);
  EXPECT_EQ(sr.denied, st.denied);
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

TEST_F(ProtocolTest, PrincipalsRequestsAndListsRoundTripWithinBounds) {
  PrincipalsRequest r{"add", "ci", std::string(40, 'k'), "read,write", "tcp://10.0.0.1:7701"};
  auto back = std::get<PrincipalsRequest>(RoundTrip({1, 7, r}).body);
  EXPECT_EQ(back.action, "add");
  EXPECT_EQ(back.key, r.key);
  EXPECT_EQ(back.scopes, "read,write");
  EXPECT_EQ(back.endpoints, r.endpoints);
  EXPECT_STREQ(KindName(Kind::kPrincipals), "principals");
  PrincipalListReply l;
  l.principals.push_back({"n1", std::string(40, 'a'), "peer", "tcp://h:1,tcp://h:2", "config"});
  l.principals.push_back({"ci", std::string(40, 'b'), "read", "", "added"});
  l.principals.push_back({"imager", std::string(40, 'c'), "worker", "", "added", "resize,thumb"});
  auto lb = std::get<PrincipalListReply>(RoundTrip({1, 7, l}).body);
  ASSERT_EQ(lb.principals.size(), 3u);
  EXPECT_EQ(lb.principals[1].types, "");
  EXPECT_EQ(lb.principals[2].types, "resize,thumb");
  r.types = "resize";
  EXPECT_EQ(std::get<PrincipalsRequest>(RoundTrip({1, 7, r}).body).types, "resize");
  r.types.clear();
  EXPECT_EQ(lb.principals[0].endpoints, "tcp://h:1,tcp://h:2");
  EXPECT_EQ(lb.principals[1].origin, "added");
  // A key longer than a Z85 key is refused by the decoder.
  r.key = std::string(41, 'k');
  uint64_t corr = 0;
  const std::string frame = Encode({1, 7, r});
  EXPECT_FALSE(Decode(frame.data(), frame.size(), &corr, limits::kFrameBytesMax).ok());
}

// A remote result or ack of n1's lease `lease`, message `seq`.
template <class M>
M LeaseMessage(uint64_t lease, uint64_t seq) {
  M m;
  m.owner = "n1";
  m.lease = lease;
  m.seq = seq;
  return m;
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
  auto r = LeaseMessage<RemoteResult>(1, 1);
  r.free = 2;
  EXPECT_EQ(std::get<RemoteResult>(RoundTrip({1, 0, r}).body).free, 2u);
}

TEST_F(ProtocolTest, RunsResultsAndAcksCarryTheOwnersEpochOnlyWhenItHasOne) {
  RemoteRun run;
  run.owner = "n1";
  run.lease = 7;
  run.seq = 3;
  run.id = "n1-3";
  run.type = "echo";
  run.timeout_ms = 1000;
  const std::string without = Encode({1, 0, run});
  run.epoch = 0x1234567890ull;
  const std::string with = Encode({1, 0, run});
  EXPECT_EQ(with.size(), without.size() + 6 + 9);  // "epoch" (fixstr) + a uint64
  EXPECT_EQ(std::get<RemoteRun>(RoundTrip({1, 0, run}).body).epoch, run.epoch);
  auto res = LeaseMessage<RemoteResult>(7, 3);
  res.epoch = 41;
  EXPECT_EQ(std::get<RemoteResult>(RoundTrip({1, 0, res}).body).epoch, 41u);
  auto ack = LeaseMessage<RemoteAck>(7, 3);
  ack.epoch = 41;
  EXPECT_EQ(std::get<RemoteAck>(RoundTrip({1, 0, ack}).body).epoch, 41u);
  // Without etcd (or from an older node): no key, read as 0.
  run.epoch = 0;
  uint64_t corr = 0;
  auto back = Decode(without.data(), without.size(), &corr, limits::kFrameBytesMax);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<RemoteRun>(back.value().body).epoch, 0u);
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

TEST_F(ProtocolTest, WorkerListCarriesExternalWorkersWithinTheirBounds) {
  WorkerListReply wl;
  wl.node = "n1";
  wl.workers = 2;
  const std::string without = Encode({1, 5, wl});
  ExternalWorkerInfo w;
  w.id = (uint64_t{3} << 32) | 9;
  w.name = "py-1";
  w.types = {"thumbnail", "ocr"};
  w.capacity = 4;
  w.lease_ms = 10000;
  w.polling = true;
  w.running = 40;
  w.jobs.assign(limits::kExternalJobsListedMax, "n1-123");
  wl.external = {w, ExternalWorkerInfo{}};
  auto out = std::get<WorkerListReply>(RoundTrip({1, 5, wl}).body);
  ASSERT_EQ(out.external.size(), 2u);
  EXPECT_EQ(out.external[0].id, w.id);
  EXPECT_EQ(out.external[0].name, "py-1");
  EXPECT_EQ(out.external[0].types, w.types);
  EXPECT_EQ(out.external[0].capacity, 4u);
  EXPECT_EQ(out.external[0].lease_ms, 10000u);
  EXPECT_TRUE(out.external[0].polling);
  EXPECT_EQ(out.external[0].running, 40u);
  EXPECT_EQ(out.external[0].jobs, w.jobs);
  EXPECT_TRUE(out.external[1].types.empty());
  // Without external workers the reply is the one older nodes send.
  wl.external.clear();
  EXPECT_EQ(Encode({1, 5, wl}), without);
  // Past each bound: a clear error, never a partial list.
  ExternalWorkerInfo more = w;
  more.jobs.push_back("n1-124");
  wl.external = {more};
  EXPECT_TRUE(DecodeStatus(Encode({1, 5, wl})).IsCorruption());
  more = w;
  more.types.assign(limits::kExternalTypesMax + 1, "t");
  wl.external = {more};
  EXPECT_TRUE(DecodeStatus(Encode({1, 5, wl})).IsCorruption());
  more = w;
  more.types = {std::string(limits::kTypeNameBytesMax + 1, 't')};
  wl.external = {more};
  EXPECT_EQ(DecodeStatus(Encode({1, 5, wl})).code(), Code::kTooLarge);
  wl.external.assign(limits::kExternalWorkersMax + 1, ExternalWorkerInfo{});
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
  j.spec.set_key("key");
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
  EXPECT_EQ(r.value().spec.key(), "key");
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

TEST_F(ProtocolTest, HeldSpecKeepsEveryFieldAndPlainSpecsHoldNoExtra) {
  auto fields = [](const JobSpec& x) {
    return std::tie(x.type, x.payload, x.queue, x.priority, x.run_at_ms, x.delay_ms,
                    x.max_attempts, x.backoff_ms, x.timeout_ms, x.key, x.callback, x.reuse,
                    x.label);
  };
  JobSpec s;
  s.type = "resize";
  s.payload = Packed("p");
  s.queue = "images";
  s.priority = limits::kPriorityMax;
  s.run_at_ms = 1700000000000;
  s.max_attempts = limits::kMaxAttemptsMax;
  s.backoff_ms = 2000;
  s.timeout_ms = 90000;
  s.key = "k-1";
  s.callback = "https://example.com/hook";
  s.reuse = true;
  s.label = "invoice";
  HeldSpec held = s;
  EXPECT_TRUE(fields(held.ToJobSpec()) == fields(s));
  // Most jobs have no key, callback or label: they hold no out-of-line part at all.
  JobSpec plain;
  plain.type = "echo";
  HeldSpec lean = plain;
  EXPECT_FALSE(lean.extra.has());
  lean.set_label("");
  EXPECT_FALSE(lean.extra.has());
  EXPECT_TRUE(fields(lean.ToJobSpec()) == fields(plain));
  // What a million waiting jobs each hold (measured: 352 bytes with JobSpec inline).
  EXPECT_LE(sizeof(Job), 224u);
}

TEST_F(ProtocolTest, SharedNamesAreHeldOnceAndTheTableIsBounded) {
  SharedName a = std::string("images");
  SharedName b = "images";
  SharedName c = "video";
  EXPECT_TRUE(a.SharesWith(b));
  EXPECT_FALSE(a.SharesWith(c));
  EXPECT_EQ(a, "images");
  EXPECT_EQ(a, std::string("images"));
  EXPECT_NE(a, c);
  SharedName moved = std::move(c);
  EXPECT_EQ(moved, "video");
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move): a moved-from name reads as ""
  EXPECT_EQ(SharedName(), "");
  // Past the table's bound a name gets its own text, freed with its last copy: equal, not shared.
  for (size_t i = 0; i < SharedName::kSharedNamesMax; i++) SharedName("fill-" + std::to_string(i));
  SharedName x = "past-the-table";
  SharedName y = "past-the-table";
  EXPECT_EQ(x, y);
  EXPECT_FALSE(x.SharesWith(y));
  SharedName x2 = x;
  EXPECT_TRUE(x2.SharesWith(x));
  x = y;
  EXPECT_TRUE(x.SharesWith(y));
  EXPECT_EQ(x2, "past-the-table");  // still its own text after x let go of it
  // Names made before the table filled are still shared.
  EXPECT_TRUE(SharedName("images").SharesWith(a));
}

TEST_F(ProtocolTest, JobRecordWithPriorityPastItsBoundIsCorruption) {
  // The held spec keeps priority in 8 bits: a damaged record must not wrap into another one.
  Job j;
  j.seq = 1;
  j.id = "n1-1";
  j.spec.type = "echo";
  j.events = 1;
  std::string bytes = EncodeJobRecord(j);
  ASSERT_TRUE(DecodeJobRecord(bytes).ok());
  size_t at = bytes.find("priority");
  ASSERT_NE(at, std::string::npos);
  at += 8;                                        // the value follows its key: 0 (fixint)
  ASSERT_EQ(bytes[at], '\x00');
  bytes.replace(at, 1, std::string("\xcd\x01\x00", 3));  // uint16 256
  EXPECT_TRUE(DecodeJobRecord(bytes).status().IsCorruption());
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
