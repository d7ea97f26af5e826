// Callbacks without a network: URL parsing and the allow-list (hosts, IPv4 and IPv6 CIDRs), the
// retry schedule, the scheduler's delivery state machine driven with a fake clock (pending in the
// batch of the final state, retries with backoff, the attempt limit, recovery, a manual retry),
// and the journal's "c:" records (written with the job, read back at recovery, purged with it).
#include <sys/socket.h>
#include <netinet/in.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/callbacks.hpp"
#include "core/scheduler_core.hpp"
#include "protocol/codec.hpp"
#include "protocol/job_record.hpp"
#include "storage/journal.hpp"
#include "scheduler_fixture.hpp"

namespace jobnet::sched {
namespace {

using protocol::JobSpec;
using protocol::JobState;

// ---- URLs ----

TEST(CallbackUrlTest, ParsesHttpAndHttpsWithDefaults) {
  auto u = ParseCallbackUrl("HTTPS://Hooks.Example.com/done?x=1");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u.value().scheme, "https");
  EXPECT_EQ(u.value().host, "hooks.example.com");
  EXPECT_EQ(u.value().port, 443);
  EXPECT_EQ(u.value().target, "/done?x=1");
  u = ParseCallbackUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value().port, 8080);
  EXPECT_EQ(u.value().target, "/");
  u = ParseCallbackUrl("http://[::1]:9000/cb");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u.value().host, "::1");
  EXPECT_EQ(u.value().port, 9000);
}

TEST(CallbackUrlTest, RefusesWhatDoesNotParseOrIsNotHttp) {
  for (const char* bad : {"", "hooks.example.com/x", "ftp://127.0.0.1/x", "file:///etc/passwd",
                          "http://", "http://:80/", "http://user:pw@127.0.0.1/", "http://h/x#frag",
                          "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:x/",
                          "http://a b/", "http://[::1/", "http://[example.com]/",
                          "http://exa_mple.com/", "gopher://127.0.0.1/"}) {
    auto u = ParseCallbackUrl(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_TRUE(u.status().IsInvalidArgument()) << bad;
    }
  }
  EXPECT_FALSE(ParseCallbackUrl("http://127.0.0.1/" + std::string(limits::kCallbackUrlBytesMax, 'a')).ok());
}

// ---- the allow-list ----

TEST(CallbackAllowListTest, LoopbackByDefault) {
  CallbackAllowList l = CallbackAllowList::Loopback();
  EXPECT_TRUE(l.Check("http://127.0.0.1:9/x").ok());
  EXPECT_TRUE(l.Check("http://127.255.0.9/x").ok());
  EXPECT_TRUE(l.Check("http://[::1]:9/x").ok());
  EXPECT_TRUE(l.Check("http://localhost:9/x").ok());
  EXPECT_TRUE(l.Check("http://[::ffff:127.0.0.1]/x").ok());  // mapped IPv4 reads as IPv4
  Status s = l.Check("http://10.1.2.3/x");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("allow-list"), std::string::npos) << s.message();
  EXPECT_TRUE(l.Check("http://example.com/x").IsInvalidArgument());
  EXPECT_TRUE(l.Check("http://169.254.169.254/latest").IsInvalidArgument());
}

TEST(CallbackAllowListTest, CidrsV4AndV6AndHostsByName) {
  auto r = CallbackAllowList::Parse({"10.0.0.0/8", "192.168.1.0/24", "fd00::/8", "2001:db8::1",
                                     "Hooks.Example.com", "172.16.5.5"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const CallbackAllowList& l = r.value();
  EXPECT_TRUE(l.Check("https://10.200.3.4/a").ok());
  EXPECT_TRUE(l.Check("https://192.168.1.255/a").ok());
  EXPECT_FALSE(l.Check("https://192.168.2.1/a").ok());
  EXPECT_TRUE(l.Check("https://[fd12:3456::1]/a").ok());
  EXPECT_FALSE(l.Check("https://[fe80::1]/a").ok());
  EXPECT_TRUE(l.Check("https://[2001:db8::1]/a").ok());
  EXPECT_FALSE(l.Check("https://[2001:db8::2]/a").ok());
  EXPECT_TRUE(l.Check("https://172.16.5.5/a").ok());
  EXPECT_FALSE(l.Check("https://172.16.5.6/a").ok());
  EXPECT_TRUE(l.Check("https://hooks.example.com/a").ok());
  EXPECT_TRUE(l.Check("https://HOOKS.example.COM:8443/a").ok());
  EXPECT_FALSE(l.Check("https://evil.hooks.example.com/a").ok());  // exact names, no wildcards
  EXPECT_FALSE(l.Check("https://127.0.0.1/a").ok());  // a configured list replaces the default
  EXPECT_TRUE(l.AllowsName("hooks.example.com"));
  // Connect-time checks of the addresses a name resolved to.
  EXPECT_TRUE(l.AllowsAddress(*ParseIpAddress("10.9.9.9")));
  EXPECT_FALSE(l.AllowsAddress(*ParseIpAddress("11.0.0.1")));
  EXPECT_FALSE(l.AllowsAddress(*ParseIpAddress("::ffff:11.0.0.1")));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
  auto ip = IpAddressFromSockaddr(&sa, sizeof sa);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(l.AllowsAddress(*ip));
  EXPECT_EQ(ToString(*ip), "10.0.0.1");
}

TEST(CallbackAllowListTest, PrefixEdges) {
  auto r = CallbackAllowList::Parse({"10.1.2.128/25", "::/0"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().AllowsAddress(*ParseIpAddress("10.1.2.128")));
  EXPECT_TRUE(r.value().AllowsAddress(*ParseIpAddress("10.1.2.255")));
  EXPECT_FALSE(r.value().AllowsAddress(*ParseIpAddress("10.1.2.127")));
  EXPECT_TRUE(r.value().AllowsAddress(*ParseIpAddress("2a00::1")));  // every IPv6 address
  EXPECT_FALSE(r.value().AllowsAddress(*ParseIpAddress("1.2.3.4")));  // but no IPv4 one
  auto all4 = CallbackAllowList::Parse({"0.0.0.0/0"});
  ASSERT_TRUE(all4.ok());
  EXPECT_TRUE(all4.value().AllowsAddress(*ParseIpAddress("203.0.113.7")));
}

TEST(CallbackAllowListTest, RefusesBadEntries) {
  for (const char* bad : {"", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x",
                          "example.com/8", "exa mple.com", "*.example.com"}) {
    auto r = CallbackAllowList::Parse({bad});
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("callbacks.allow"), std::string::npos);
    }
  }
  std::vector<std::string> many(limits::kCallbackAllowEntriesMax + 1, "10.0.0.1");
  EXPECT_FALSE(CallbackAllowList::Parse(many).ok());
  many.pop_back();
  EXPECT_TRUE(CallbackAllowList::Parse(many).ok());
}

// ---- the scheduler's deliveries ----

class CallbackSchedulerTest : public SchedulerHarness {
 protected:
  void Make(CallbackOptions c = {}) {
    SchedulerOptions o;
    o.workers = 1;
    o.node_id = "n1";
    o.callbacks = std::move(c);
    s_ = std::make_unique<Scheduler>(o);
  }
  void SetUp() override { Make(); }
  static JobSpec Spec(const std::string& callback = "http://127.0.0.1:9/cb") {
    JobSpec s;
    s.type = "echo";
    s.callback = callback;
    return s;
  }
  // The reply to a submit; it stays valid until the next call.
  const protocol::Body& Submit(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    last_reply_ = fx_.replies.at(0).body;
    return last_reply_;
  }
  // Submits and runs one job to success; fx_ then holds the effects of its end.
  std::string RunToSuccess() {
    auto* a = std::get_if<protocol::AcceptedReply>(&Submit(Spec()));
    EXPECT_NE(a, nullptr);
    Dispatch d = fx_.dispatches.at(0);
    s_->Complete(Outcome{d.slot, d.lease, d.seq, true, std::string("\xa2ok", 3), ""}, now_);
    fx_ = s_->TakeEffects();
    return a ? a->id : "";
  }
  void Answer(const CallbackSend& send, bool ok, const std::string& error = "") {
    s_->OnCallbackResult(CallbackResult{send.seq, send.delivery, ok, error}, now_);
    fx_ = s_->TakeEffects();
  }
  protocol::Body last_reply_;
};

TEST_F(CallbackSchedulerTest, RefusedAtSubmitOffTheAllowList) {
  for (const char* url : {"http://10.0.0.1/cb", "ftp://127.0.0.1/cb", "not a url"}) {
    auto* e = std::get_if<protocol::ErrorReply>(&Submit(Spec(url)));
    ASSERT_NE(e, nullptr) << url;
    EXPECT_EQ(e->code, Code::kInvalidArgument) << url;
    EXPECT_TRUE(fx_.writes.empty());
  }
}

TEST_F(CallbackSchedulerTest, PendingIsJournaledWithTheFinalStateThenSent) {
  std::string id = RunToSuccess();
  // One write: the job's final event and its pending delivery together (a crash cannot keep one
  // without the other), and nothing is sent before that batch is durable.
  ASSERT_EQ(fx_.writes.size(), 1u);
  EXPECT_EQ(fx_.writes[0].job.state, JobState::kSucceeded);
  EXPECT_FALSE(fx_.writes[0].events.empty());
  EXPECT_TRUE(fx_.writes[0].callback);
  EXPECT_EQ(fx_.writes[0].job.rare.get().callback.state, CallbackState::kPending);
  EXPECT_EQ(fx_.writes[0].job.rare.get().callback.id,
            id + "." + std::to_string(fx_.writes[0].job.events - 1));
  EXPECT_TRUE(fx_.callback_sends.empty());
  Tick(10);
  ASSERT_EQ(fx_.callback_sends.size(), 1u);
  CallbackSend send = fx_.callback_sends[0];
  EXPECT_EQ(send.url, "http://127.0.0.1:9/cb");
  EXPECT_EQ(send.attempt, 1u);
  EXPECT_EQ(send.job.id, id);
  EXPECT_EQ(send.job.state, JobState::kSucceeded);
  EXPECT_EQ(s_->Stats().counters["callbacks_pending"], 1u);
  Tick(10);
  EXPECT_TRUE(fx_.callback_sends.empty());  // in flight: not sent twice
  Answer(send, true);
  ASSERT_EQ(fx_.writes.size(), 1u);
  EXPECT_TRUE(fx_.writes[0].callback);
  EXPECT_TRUE(fx_.writes[0].events.empty());  // only the delivery record changes
  auto info = Info(id);
  EXPECT_EQ(info.callback, "http://127.0.0.1:9/cb");
  EXPECT_EQ(info.callback_state, CallbackState::kDelivered);
  EXPECT_EQ(info.callback_attempts, 1u);
  auto c = s_->Stats().counters;
  EXPECT_EQ(c["callbacks_delivered"], 1u);
  EXPECT_EQ(c["callbacks_pending"], 0u);
  EXPECT_EQ(c["callback_attempts"], 1u);
}

TEST_F(CallbackSchedulerTest, FailuresRetryWithBackoffThenFail) {
  CallbackOptions o;
  o.attempts_max = 3;
  o.backoff_ms = 1000;
  o.backoff_max_ms = 1500;
  Make(o);
  std::string id = RunToSuccess();
  Tick(10);
  CallbackSend send = fx_.callback_sends.at(0);
  Answer(send, false, "HTTP 500");
  auto info = Info(id);
  EXPECT_EQ(info.callback_state, CallbackState::kPending);
  EXPECT_EQ(info.callback_attempts, 1u);
  EXPECT_EQ(info.callback_error, "HTTP 500");
  // The first retry comes 1000 ms +-10% later (core/backoff.hpp): not before, and by then surely.
  EXPECT_GE(info.callback_next_at_ms, now_ + 900);
  EXPECT_LE(info.callback_next_at_ms, now_ + 1100);
  Tick(info.callback_next_at_ms - now_ - 1);
  EXPECT_TRUE(fx_.callback_sends.empty());
  Tick(1);
  ASSERT_EQ(fx_.callback_sends.size(), 1u);
  EXPECT_EQ(fx_.callback_sends[0].attempt, 2u);
  EXPECT_EQ(fx_.callback_sends[0].delivery, send.delivery);  // same id: receivers de-duplicate
  Answer(fx_.callback_sends[0], false, "connect: refused");
  Tick(1650);  // capped at 1500 ms, +10% jitter at most
  ASSERT_EQ(fx_.callback_sends.size(), 1u);
  Answer(fx_.callback_sends[0], false, "HTTP 502");
  info = Info(id);
  EXPECT_EQ(info.callback_state, CallbackState::kFailed);
  EXPECT_EQ(info.callback_attempts, 3u);
  EXPECT_EQ(info.callback_error, "HTTP 502");
  EXPECT_EQ(info.callback_next_at_ms, 0u);
  Tick(100000);
  EXPECT_TRUE(fx_.callback_sends.empty());
  EXPECT_EQ(s_->Stats().counters["callbacks_failed"], 1u);
}

TEST_F(CallbackSchedulerTest, InFlightIsBounded) {
  CallbackOptions o;
  o.in_flight_max = 2;
  Make(o);
  for (int i = 0; i < 5; ++i) RunToSuccess();
  Tick(10);
  EXPECT_EQ(fx_.callback_sends.size(), 2u);
  CallbackSend first = fx_.callback_sends[0];
  Tick(10);
  EXPECT_TRUE(fx_.callback_sends.empty());
  Answer(first, true);  // a slot frees: the next goes at once
  EXPECT_EQ(fx_.callback_sends.size(), 1u);
  EXPECT_EQ(s_->callbacks_pending(), 4u);
}

TEST_F(CallbackSchedulerTest, PendingLimitRefusesSubmitsAndFailsOverflow) {
  CallbackOptions o;
  o.pending_max = 1;
  Make(o);
  // Both accepted while nothing is pending; the second ends when the first's delivery fills the
  // limit, so its own is failed at once rather than held beyond it.
  auto* a = std::get_if<protocol::AcceptedReply>(&Submit(Spec()));
  ASSERT_NE(a, nullptr);
  Dispatch first = fx_.dispatches.at(0);
  auto* b = std::get_if<protocol::AcceptedReply>(&Submit(Spec()));
  ASSERT_NE(b, nullptr);
  std::string second = b->id;
  s_->Complete(Outcome{first.slot, first.lease, first.seq, true, std::string("\xa2ok", 3), ""}, now_);
  fx_ = s_->TakeEffects();
  Dispatch next = fx_.dispatches.at(0);
  s_->Complete(Outcome{next.slot, next.lease, next.seq, true, std::string("\xa2ok", 3), ""}, now_);
  fx_ = s_->TakeEffects();
  auto info = Info(second);
  EXPECT_EQ(info.callback_state, CallbackState::kFailed);
  EXPECT_NE(info.callback_error.find("limit"), std::string::npos) << info.callback_error;
  EXPECT_EQ(s_->callbacks_pending(), 1u);
  auto* e = std::get_if<protocol::ErrorReply>(&Submit(Spec()));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, Code::kOverloaded);
  JobSpec plain;
  plain.type = "echo";
  EXPECT_NE(std::get_if<protocol::AcceptedReply>(&Submit(plain)), nullptr);  // no callback: fine
}

TEST_F(CallbackSchedulerTest, ManualRetryDropsThePendingDeliveryAndMakesANewOne) {
  JobSpec spec = Spec();
  spec.max_attempts = 1;
  auto* a = std::get_if<protocol::AcceptedReply>(&Submit(spec));
  ASSERT_NE(a, nullptr);
  std::string id = a->id;
  Dispatch d = fx_.dispatches.at(0);
  s_->Complete(Outcome{d.slot, d.lease, d.seq, false, "", "boom"}, now_);
  fx_ = s_->TakeEffects();
  Tick(10);
  CallbackSend old = fx_.callback_sends.at(0);
  EXPECT_EQ(old.job.state, JobState::kDead);
  s_->Retry(++token_, id, now_);
  fx_ = s_->TakeEffects();
  d = fx_.dispatches.at(0);  // the job's new life starts at once
  EXPECT_EQ(Info(id).callback_state, CallbackState::kFailed);
  Answer(old, true);  // the dropped delivery's late answer changes nothing
  EXPECT_TRUE(fx_.writes.empty());
  EXPECT_EQ(Info(id).callback_state, CallbackState::kFailed);
  s_->Complete(Outcome{d.slot, d.lease, d.seq, true, std::string("\xa2ok", 3), ""}, now_);
  fx_ = s_->TakeEffects();
  Tick(10);
  ASSERT_EQ(fx_.callback_sends.size(), 1u);
  EXPECT_NE(fx_.callback_sends[0].delivery, old.delivery);
  EXPECT_EQ(fx_.callback_sends[0].job.state, JobState::kSucceeded);
  EXPECT_EQ(fx_.callback_sends[0].attempt, 1u);
}

TEST_F(CallbackSchedulerTest, RecoveryResumesPendingDeliveries) {
  std::string id = RunToSuccess();
  protocol::Job job = fx_.writes.at(0).job;  // as journaled with the final state
  Tick(10);
  ASSERT_EQ(fx_.callback_sends.size(), 1u);  // in flight when the node dies: no answer
  Make();
  s_->Recover({job}, job.seq + 1, now_);
  fx_ = s_->TakeEffects();
  Tick(10);
  ASSERT_EQ(fx_.callback_sends.size(), 1u);
  EXPECT_EQ(fx_.callback_sends[0].job.id, id);
  EXPECT_EQ(fx_.callback_sends[0].delivery, job.rare.get().callback.id);
}

// ---- records and the wire ----

TEST(CallbackRecordTest, RoundTripsAndRejectsGarbage) {
  protocol::CallbackDelivery d;
  d.state = CallbackState::kPending;
  d.id = "n1-7.3";
  d.attempts = 2;
  d.next_at_ms = 123456789;
  d.last_at_ms = 123;
  d.error = "HTTP 503";
  auto back = protocol::DecodeCallbackRecord(protocol::EncodeCallbackRecord(d));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().state, d.state);
  EXPECT_EQ(back.value().id, d.id);
  EXPECT_EQ(back.value().attempts, 2u);
  EXPECT_EQ(back.value().next_at_ms, d.next_at_ms);
  EXPECT_EQ(back.value().last_at_ms, d.last_at_ms);
  EXPECT_EQ(back.value().error, d.error);
  EXPECT_TRUE(protocol::DecodeCallbackRecord("garbage").status().IsCorruption());
  d.state = static_cast<CallbackState>(9);
  EXPECT_TRUE(protocol::DecodeCallbackRecord(protocol::EncodeCallbackRecord(d)).status().IsCorruption());
}

Result<protocol::Envelope> RoundTrip(protocol::Body body) {
  std::string bytes = protocol::Encode(protocol::Envelope{limits::kProtocolVersion, 1, std::move(body)});
  uint64_t corr = 0;
  return protocol::Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
}

TEST(CallbackWireTest, SpecAndStatusCarryTheCallback) {
  protocol::SubmitRequest req;
  req.spec.type = "echo";
  req.spec.callback = "https://hooks.example.com/x";
  auto env = RoundTrip(req);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(std::get<protocol::SubmitRequest>(env.value().body).spec.callback, req.spec.callback);
  req.spec.callback = std::string(limits::kCallbackUrlBytesMax + 1, 'a');
  EXPECT_FALSE(RoundTrip(req).ok());

  protocol::JobReply reply;
  reply.job.id = "n1-1";
  reply.job.callback = "http://127.0.0.1/x";
  reply.job.callback_state = CallbackState::kFailed;
  reply.job.callback_attempts = 8;
  reply.job.callback_next_at_ms = 0;
  reply.job.callback_error = "HTTP 500";
  env = RoundTrip(reply);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  const JobInfo& j = std::get<protocol::JobReply>(env.value().body).job;
  EXPECT_EQ(j.callback, reply.job.callback);
  EXPECT_EQ(j.callback_state, CallbackState::kFailed);
  EXPECT_EQ(j.callback_attempts, 8u);
  EXPECT_EQ(j.callback_error, "HTTP 500");
}

// ---- the journal ----

class CallbackJournalTest : public ::testing::Test {
 protected:
  std::string dir_ = (std::filesystem::temp_directory_path() /
                      ("jobnet_cbj_" + std::to_string(::getpid()) + "_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                         .string();
  void SetUp() override { std::filesystem::remove_all(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Journal> Open() {
    std::unique_ptr<Journal> j;
    JournalOptions o;
    o.sync = false;
    EXPECT_TRUE(Journal::Open(dir_, o, &j).ok());
    return j;
  }
};

TEST_F(CallbackJournalTest, RecordIsWrittenWithTheJobReadBackAndPurged) {
  // The final state and its pending delivery from one scheduler turn, as the actor journals them.
  SchedulerOptions so;
  so.workers = 1;
  Scheduler s(so);
  JobSpec spec;
  spec.type = "echo";
  spec.callback = "http://127.0.0.1:9/cb";
  s.Submit(1, spec, 1000);
  Effects fx = s.TakeEffects();
  Dispatch d = fx.dispatches.at(0);
  s.Complete(Outcome{d.slot, d.lease, d.seq, true, std::string("\xa2ok", 3), ""}, 2000);
  Effects end = s.TakeEffects();
  {
    auto j = Open();
    ASSERT_TRUE(j->Write(fx.writes, {}, fx.next_seq).ok());
    ASSERT_TRUE(j->Write(end.writes, {}, 0).ok());  // one batch: job final + "c:" record
  }
  std::vector<protocol::Job> jobs;
  uint64_t next_seq = 0;
  {
    auto j = Open();
    ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].state, JobState::kSucceeded);
    EXPECT_EQ(jobs[0].spec.callback(), spec.callback);
    EXPECT_EQ(jobs[0].rare.get().callback.state, CallbackState::kPending);
    EXPECT_EQ(jobs[0].rare.get().callback.id, end.writes[0].job.rare.get().callback.id);
    // A delivery attempt alone rewrites only the "c:" record.
    protocol::JobWrite attempt{jobs[0], {}, true};
    attempt.job.rare.mut().callback.state = CallbackState::kDelivered;
    attempt.job.rare.mut().callback.attempts = 1;
    attempt.job.set_error("not journaled: the job record is not rewritten");
    ASSERT_TRUE(j->Write({attempt}, {}, 0).ok());
    std::vector<std::string> problems;
    uint64_t checked = 0;
    ASSERT_TRUE(j->Verify(&problems, &checked).ok());
    EXPECT_TRUE(problems.empty()) << problems.at(0);
  }
  {
    auto j = Open();
    jobs.clear();
    ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
    EXPECT_EQ(jobs.at(0).rare.get().callback.state, CallbackState::kDelivered);
    EXPECT_EQ(jobs.at(0).rare.get().callback.attempts, 1u);
    EXPECT_TRUE(jobs.at(0).error().empty());
    ASSERT_TRUE(j->Write({}, {jobs[0].seq}, 0).ok());  // purge
    std::vector<std::string> problems;
    uint64_t checked = 0;
    ASSERT_TRUE(j->Verify(&problems, &checked).ok());
    EXPECT_TRUE(problems.empty()) << problems.at(0);  // no orphan "c:" record
    jobs.clear();
    ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
    EXPECT_TRUE(jobs.empty());
  }
}

}  // namespace
}  // namespace jobnet::sched
