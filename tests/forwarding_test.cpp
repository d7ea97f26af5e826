// Forwarding contract (core/forwarding), without sockets and with a fake clock: which requests go
// to which link, matching the owner's reply back to the client's corr_id, deadlines, and that
// liveness is only what SetPeer says (the scheduler's decision): no timer of its own, and a peer
// declared dead gets no forwards and fails those pending on it at once.
#include <gtest/gtest.h>

#include "core/forwarding.hpp"
#include "core/scheduler_core.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using Verdict = Forwarder::Verdict;

class ForwardingTest : public ::testing::Test {
 protected:
  // n1 with two links: link 0 reaches n2, link 1 reaches n3 (both alive).
  void SetUp() override {
    f_.SetPeer(0, "n2", true);
    f_.SetPeer(1, "n3", true);
  }

  static protocol::Envelope Request(uint64_t corr, protocol::Body body) {
    return protocol::Envelope{limits::kProtocolVersion, corr, std::move(body)};
  }
  // Decodes a frame the forwarder produced.
  static protocol::Envelope Decoded(const std::string& frame) {
    uint64_t corr = 0;
    auto env = protocol::Decode(frame.data(), frame.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(env.ok()) << env.status().ToString();
    return env.ok() ? env.value() : protocol::Envelope{};
  }
  // The one answer queued for `route`, as an error code (kOk for a non-error reply).
  Code OnlyAnswerCode(uint64_t route) {
    auto answers = f_.TakeAnswers();
    EXPECT_EQ(answers.size(), 1u);
    if (answers.size() != 1) return Code::kInternal;
    EXPECT_EQ(answers[0].route, route);
    auto env = Decoded(answers[0].frame);
    auto* err = std::get_if<protocol::ErrorReply>(&env.body);
    return err ? err->code : Code::kOk;
  }
  // The owner's reply to a forwarded request: a job reply echoing the forward's corr_id.
  static std::string OwnerReply(const Forwarder::Decision& d, const std::string& id) {
    protocol::JobInfo job;
    job.id = id;
    return protocol::Encode(Request(Decoded(d.frame).corr_id, protocol::JobReply{job}));
  }

  Forwarder f_{"n1", 2};
  uint64_t now_ = 1000;
};

TEST_F(ForwardingTest, OwnJobsOtherRequestsAndUnknownOwnersStayLocal) {
  EXPECT_EQ(f_.Route(1, Request(1, protocol::StatusRequest{"n1-5"}), now_).verdict,
            Verdict::kLocal);
  EXPECT_EQ(f_.Route(2, Request(2, protocol::StatsRequest{}), now_).verdict, Verdict::kLocal);
  EXPECT_EQ(f_.Route(3, Request(3, protocol::ListRequest{}), now_).verdict, Verdict::kLocal);
  // No heartbeat ever named n9: the scheduler answers not_found.
  EXPECT_EQ(f_.Route(4, Request(4, protocol::StatusRequest{"n9-1"}), now_).verdict,
            Verdict::kLocal);
  EXPECT_EQ(f_.Route(5, Request(5, protocol::StatusRequest{"not-an-id-"}), now_).verdict,
            Verdict::kLocal);
  EXPECT_EQ(f_.pending(), 0u);
  EXPECT_TRUE(f_.TakeAnswers().empty());
}

TEST_F(ForwardingTest, ForwardsToTheOwnersLinkAndReturnsItsReplyWithTheClientsCorrId) {
  auto d = f_.Route(7, Request(42, protocol::CancelRequest{"n3-9"}), now_);
  ASSERT_EQ(d.verdict, Verdict::kForward);
  EXPECT_EQ(d.link, 1u);
  auto sent = Decoded(d.frame);
  EXPECT_NE(sent.corr_id, 42u);  // the forward's own id on the link
  ASSERT_NE(std::get_if<protocol::CancelRequest>(&sent.body), nullptr);
  EXPECT_EQ(std::get<protocol::CancelRequest>(sent.body).id, "n3-9");
  EXPECT_EQ(f_.pending(), 1u);

  std::string reply = OwnerReply(d, "n3-9");
  f_.OnReply(reply.data(), reply.size());
  auto answers = f_.TakeAnswers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].route, 7u);
  auto back = Decoded(answers[0].frame);
  EXPECT_EQ(back.corr_id, 42u);
  ASSERT_NE(std::get_if<protocol::JobReply>(&back.body), nullptr);
  EXPECT_EQ(std::get<protocol::JobReply>(back.body).job.id, "n3-9");
  EXPECT_EQ(f_.pending(), 0u);
  EXPECT_EQ(f_.counters().forwarded.load(), 1u);

  // The same reply again (late duplicate) matches nothing.
  f_.OnReply(reply.data(), reply.size());
  EXPECT_TRUE(f_.TakeAnswers().empty());
  EXPECT_EQ(f_.counters().unmatched_replies.load(), 1u);
}

TEST_F(ForwardingTest, ShardsFollowTheirHolderAndNeverTheirDeposedOwner) {
  // n1 took shard n2 over: its requests stay here, even while n2 (deposed, its state stale) is
  // alive, and even before n1 serves it (the node answers unavailable until then).
  f_.SetShardHolder("n2", "n1");
  EXPECT_EQ(f_.Route(1, Request(1, protocol::StatusRequest{"n2-5"}), now_).verdict,
            Verdict::kLocal);
  // n3 holds n1's own shard (taken over while n1 ran without a lease): n1 forwards there.
  f_.SetShardHolder("n1", "n3");
  auto d = f_.Route(2, Request(2, protocol::StatusRequest{"n1-5"}), now_);
  ASSERT_EQ(d.verdict, Verdict::kForward);
  EXPECT_EQ(d.link, 1u);
  // Held by a node no heartbeat has named yet: unavailable, never this node's stale answer.
  f_.SetShardHolder("n1", "n7");
  EXPECT_EQ(f_.Route(4, Request(4, protocol::StatusRequest{"n1-5"}), now_).verdict,
            Verdict::kAnswered);
  EXPECT_EQ(OnlyAnswerCode(4), Code::kUnavailable);
  // Its own node holds it again: local, as without etcd.
  f_.SetShardHolder("n1", "n1");
  EXPECT_EQ(f_.Route(3, Request(3, protocol::StatusRequest{"n1-5"}), now_).verdict,
            Verdict::kLocal);
}

TEST_F(ForwardingTest, RunsFromAPrimaryDeposedSinceAreRefusedByEpoch) {
  protocol::RemoteRun run;
  run.owner = "n2";
  run.lease = 1;
  run.seq = 1;
  run.id = "n2-1";
  run.epoch = 40;
  EXPECT_FALSE(f_.FromDeposedOwner(run));  // nobody else has won n2's shard
  f_.SetShardHolder("n2", "n2", 41);        // its own node winning again deposes nobody
  EXPECT_FALSE(f_.FromDeposedOwner(run));
  f_.SetShardHolder("n2", "n3", 45);  // n3 took it over at 45: n2 at 40 is deposed
  EXPECT_TRUE(f_.FromDeposedOwner(run));
  f_.SetShardHolder("n2", "", 0);  // the holder's key went away: the win is remembered
  EXPECT_TRUE(f_.FromDeposedOwner(run));
  run.epoch = 45;  // sent at (or after) that win: not deposed by it
  EXPECT_FALSE(f_.FromDeposedOwner(run));
  run.epoch = 0;  // no etcd, or an older node: judged by lease and incarnation alone
  EXPECT_FALSE(f_.FromDeposedOwner(run));
  run.owner = "n3";
  run.epoch = 1;
  EXPECT_FALSE(f_.FromDeposedOwner(run));  // another shard
  EXPECT_EQ(f_.counters().deposed_runs.load(), 2u);
}

TEST_F(ForwardingTest, GarbageReplyToAPendingForwardIsAnError) {
  auto d = f_.Route(7, Request(42, protocol::StatusRequest{"n2-1"}), now_);
  ASSERT_EQ(d.verdict, Verdict::kForward);
  // A frame that names the forward's corr_id but whose body does not decode (id too long).
  protocol::JobInfo job;
  job.id = std::string(limits::kJobIdBytesMax + 1, '1');
  std::string frame =
      protocol::Encode(Request(Decoded(d.frame).corr_id, protocol::JobReply{job}));
  f_.OnReply(frame.data(), frame.size());
  EXPECT_NE(OnlyAnswerCode(7), Code::kOk);
  EXPECT_EQ(f_.pending(), 0u);
}

TEST_F(ForwardingTest, SilentOwnerIsAnsweredUnavailableAtTheDeadline) {
  auto status = f_.Route(1, Request(1, protocol::StatusRequest{"n2-1"}), now_);
  auto wait = f_.Route(2, Request(2, protocol::WaitRequest{"n2-2", 10000}), now_);
  ASSERT_EQ(status.verdict, Verdict::kForward);
  ASSERT_EQ(wait.verdict, Verdict::kForward);
  f_.Expire(now_ + limits::kForwardSlackMs - 1);
  EXPECT_TRUE(f_.TakeAnswers().empty());
  f_.Expire(now_ + limits::kForwardSlackMs);
  EXPECT_EQ(OnlyAnswerCode(1), Code::kUnavailable);
  // A wait's deadline adds its own timeout.
  f_.Expire(now_ + limits::kForwardSlackMs + 9999);
  EXPECT_TRUE(f_.TakeAnswers().empty());
  f_.Expire(now_ + limits::kForwardSlackMs + 10000);
  EXPECT_EQ(OnlyAnswerCode(2), Code::kUnavailable);
  EXPECT_EQ(f_.counters().expired.load(), 2u);
  EXPECT_EQ(f_.pending(), 0u);
}

TEST_F(ForwardingTest, UnsentForwardIsAnsweredUnavailable) {
  auto d = f_.Route(3, Request(3, protocol::RetryRequest{"n2-4"}), now_);
  ASSERT_EQ(d.verdict, Verdict::kForward);
  f_.Unsent(d.forward_id);
  EXPECT_EQ(OnlyAnswerCode(3), Code::kUnavailable);
  EXPECT_EQ(f_.pending(), 0u);
  EXPECT_EQ(f_.counters().unsent.load(), 1u);
  EXPECT_EQ(f_.counters().forwarded.load(), 0u);
  f_.Expire(now_ + 10 * limits::kForwardSlackMs);  // nothing left to expire
  EXPECT_TRUE(f_.TakeAnswers().empty());
}

// Liveness has one owner: the forwarder keeps forwarding to a peer however long ago it was told
// "alive", and stops the moment it is told "dead" — no clock of its own to disagree with.
TEST_F(ForwardingTest, FollowsTheSchedulersLivenessAndHasNoTimeoutOfItsOwn) {
  uint64_t much_later = now_ + 24ull * 3600 * 1000;
  EXPECT_EQ(f_.Route(1, Request(1, protocol::StatusRequest{"n2-1"}), much_later).verdict,
            Verdict::kForward);

  f_.SetPeer(0, "n2", false);
  auto d = f_.Route(2, Request(2, protocol::StatusRequest{"n2-1"}), much_later);
  EXPECT_EQ(d.verdict, Verdict::kAnswered);
  auto answers = f_.TakeAnswers();
  ASSERT_EQ(answers.size(), 2u);  // the forward pending on n2, then the refused request
  for (const auto& a : answers) {
    protocol::Envelope env = Decoded(a.frame);
    auto* err = std::get_if<protocol::ErrorReply>(&env.body);
    ASSERT_NE(err, nullptr);
    EXPECT_EQ(err->code, Code::kUnavailable) << err->message;
  }
  EXPECT_EQ(f_.counters().owner_down.load(), 1u);

  f_.SetPeer(0, "n2", true);
  EXPECT_EQ(f_.Route(3, Request(3, protocol::StatusRequest{"n2-1"}), much_later).verdict,
            Verdict::kForward);
}

TEST_F(ForwardingTest, PeerDeclaredDeadFailsOnlyItsPendingForwardsAtOnce) {
  auto to_n2 = f_.Route(1, Request(11, protocol::WaitRequest{"n2-1", 60000}), now_);
  auto to_n3 = f_.Route(2, Request(12, protocol::WaitRequest{"n3-1", 60000}), now_);
  ASSERT_EQ(to_n2.verdict, Verdict::kForward);
  ASSERT_EQ(to_n3.verdict, Verdict::kForward);
  f_.SetPeer(0, "n2", false);
  EXPECT_EQ(OnlyAnswerCode(1), Code::kUnavailable);  // long before its 63 s deadline
  EXPECT_EQ(f_.counters().lost_on_death.load(), 1u);
  EXPECT_EQ(f_.pending(), 1u);
  // n2's answer arriving after all is not delivered twice.
  std::string late = OwnerReply(to_n2, "n2-1");
  f_.OnReply(late.data(), late.size());
  EXPECT_TRUE(f_.TakeAnswers().empty());
}

// The two halves wired as the node wires them (scheduler effects -> SetPeer): at every step of
// a peer's life the forwarder forwards exactly when the scheduler's peer table says "alive".
TEST(ForwardingFollowsSchedulerTest, TheyNeverDisagreeAboutWhoIsAlive) {
  sched::SchedulerOptions o;
  o.node_id = "n1";
  o.workers = 1;
  o.peers = {"tcp://p2"};
  o.failure_timeout_ms = 1000;
  sched::Scheduler scheduler(o);
  Forwarder forwarder("n1", 1);
  uint64_t now = 1000;
  uint64_t route = 0;
  auto apply = [&] {
    for (const auto& l : scheduler.TakeEffects().liveness) forwarder.SetPeer(l.link, l.node, l.alive);
  };
  auto beat = [&](uint64_t incarnation) {
    protocol::Heartbeat hb;
    hb.node = "n2";
    hb.endpoint = "tcp://p2";
    hb.incarnation = incarnation;
    hb.workers = 1;
    scheduler.OnHeartbeat(hb, now);
    apply();
  };
  auto tick = [&](uint64_t advance_ms) {
    now += advance_ms;
    scheduler.Tick(now);
    apply();
  };
  auto agree = [&](const char* step) {
    const std::string state = scheduler.Peers()[0].state;
    auto d = forwarder.Route(++route, protocol::Envelope{limits::kProtocolVersion, route,
                                                         protocol::StatusRequest{"n2-1"}},
                             now);
    forwarder.TakeAnswers();
    if (state == "alive") {
      EXPECT_EQ(d.verdict, Forwarder::Verdict::kForward) << step;
    } else if (state == "dead") {
      EXPECT_EQ(d.verdict, Forwarder::Verdict::kAnswered) << step;
    } else {
      EXPECT_EQ(d.verdict, Forwarder::Verdict::kLocal) << step;  // never heard of n2
    }
  };
  agree("before any heartbeat");
  beat(1);
  agree("after the first heartbeat");
  tick(999);
  agree("silent, within the failure timeout");
  tick(1);
  ASSERT_EQ(scheduler.Peers()[0].state, "dead");
  agree("declared dead");
  tick(60000);
  agree("long dead");
  beat(2);
  ASSERT_EQ(scheduler.Peers()[0].state, "alive");
  agree("restarted");
}

TEST_F(ForwardingTest, LinkTakenOverByAnotherNodeForgetsTheOldName) {
  f_.SetPeer(0, "n7", true);  // the endpoint of link 0 is now node n7
  EXPECT_EQ(f_.Route(1, Request(1, protocol::StatusRequest{"n2-1"}), now_).verdict,
            Verdict::kLocal);
  auto d = f_.Route(2, Request(2, protocol::StatusRequest{"n7-1"}), now_);
  ASSERT_EQ(d.verdict, Verdict::kForward);
  EXPECT_EQ(d.link, 0u);
}

// ---- schedule lists gathered from every node (docs/cluster.md "Schedules") ----

protocol::ScheduleInfo Sched(const std::string& node, const std::string& name) {
  protocol::ScheduleInfo i;
  i.node = node;
  i.name = name;
  i.every_ms = 1000;
  return i;
}

std::string ListReplyFrame(uint64_t corr, std::vector<protocol::ScheduleInfo> schedules) {
  return protocol::Encode(protocol::Envelope{limits::kProtocolVersion, corr,
                                             protocol::ScheduleListReply{std::move(schedules), {}}});
}

TEST_F(ForwardingTest, ScheduleListAsksEveryAlivePeerAndMergesWithTheLocalAnswer) {
  auto d = f_.Route(7, Request(42, protocol::ScheduleListRequest{}), now_);
  ASSERT_EQ(d.verdict, Verdict::kGather);
  ASSERT_EQ(d.sends.size(), 2u);
  // Every part asks for one node's own schedules only, so peers do not ask on.
  EXPECT_TRUE(std::get<protocol::ScheduleListRequest>(d.local.body).local);
  for (const auto& send : d.sends)
    EXPECT_TRUE(std::get<protocol::ScheduleListRequest>(Decoded(send.frame).body).local);
  std::string r2 = ListReplyFrame(Decoded(d.sends[0].frame).corr_id, {Sched("n2", "b")});
  f_.OnReply(r2.data(), r2.size());
  EXPECT_TRUE(f_.TakeAnswers().empty());  // n3 and this node still to answer
  std::string r3 = ListReplyFrame(Decoded(d.sends[1].frame).corr_id, {Sched("n3", "a")});
  f_.OnReply(r3.data(), r3.size());
  EXPECT_FALSE(f_.OnLocalReply(8, ListReplyFrame(1, {})));  // not a gather: the client's reply
  EXPECT_TRUE(f_.OnLocalReply(7, ListReplyFrame(42, {Sched("n1", "c"), Sched("n1", "a")})));
  auto answers = f_.TakeAnswers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].route, 7u);
  auto env = Decoded(answers[0].frame);
  EXPECT_EQ(env.corr_id, 42u);
  auto& list = std::get<protocol::ScheduleListReply>(env.body);
  ASSERT_EQ(list.schedules.size(), 4u);
  EXPECT_EQ(list.schedules[0].node + "/" + list.schedules[0].name, "n1/a");
  EXPECT_EQ(list.schedules[1].node + "/" + list.schedules[1].name, "n1/c");
  EXPECT_EQ(list.schedules[2].node + "/" + list.schedules[2].name, "n2/b");
  EXPECT_EQ(list.schedules[3].node + "/" + list.schedules[3].name, "n3/a");
  EXPECT_TRUE(list.unreachable.empty());
  EXPECT_EQ(f_.pending(), 0u);
}

TEST_F(ForwardingTest, ScheduleListNamesDeadSilentAndDyingPeersUnreachable) {
  f_.SetPeer(1, "n3", false);  // known dead: not asked
  auto d = f_.Route(7, Request(42, protocol::ScheduleListRequest{}), now_);
  ASSERT_EQ(d.verdict, Verdict::kGather);
  ASSERT_EQ(d.sends.size(), 1u);
  EXPECT_EQ(d.sends[0].link, 0u);
  EXPECT_TRUE(f_.OnLocalReply(7, ListReplyFrame(42, {Sched("n1", "a")})));
  EXPECT_TRUE(f_.TakeAnswers().empty());
  f_.Expire(now_ + limits::kForwardSlackMs);  // n2 never answers
  auto answers = f_.TakeAnswers();
  ASSERT_EQ(answers.size(), 1u);
  auto list = std::get<protocol::ScheduleListReply>(Decoded(answers[0].frame).body);
  EXPECT_EQ(list.schedules.size(), 1u);
  EXPECT_EQ(list.unreachable, (std::vector<std::string>{"n2", "n3"}));

  // A peer declared dead while asked counts as unreachable at once.
  f_.SetPeer(1, "n3", true);
  auto d2 = f_.Route(9, Request(43, protocol::ScheduleListRequest{}), now_);
  ASSERT_EQ(d2.sends.size(), 2u);
  f_.SetPeer(0, "n2", false);
  f_.Unsent(d2.sends[1].forward_id);  // and one whose frame could not be queued
  EXPECT_TRUE(f_.OnLocalReply(9, ListReplyFrame(43, {})));
  answers = f_.TakeAnswers();
  ASSERT_EQ(answers.size(), 1u);
  list = std::get<protocol::ScheduleListReply>(Decoded(answers[0].frame).body);
  EXPECT_EQ(list.unreachable, (std::vector<std::string>{"n2", "n3"}));
  EXPECT_EQ(f_.counters().forwarded.load(), 0u);
}

TEST_F(ForwardingTest, ALocalScheduleListOrOneWithoutKnownPeersIsNotGathered) {
  EXPECT_EQ(f_.Route(1, Request(1, protocol::ScheduleListRequest{true}), now_).verdict,
            Verdict::kLocal);
  Forwarder alone{"n1", 2};  // no heartbeat yet: no peer is known to be a node
  EXPECT_EQ(alone.Route(2, Request(2, protocol::ScheduleListRequest{}), now_).verdict,
            Verdict::kLocal);
}

TEST_F(ForwardingTest, ALocalErrorIsTheAnswerOfTheGather) {
  auto d = f_.Route(7, Request(42, protocol::ScheduleListRequest{}), now_);
  for (const auto& send : d.sends) {
    std::string r = ListReplyFrame(Decoded(send.frame).corr_id, {});
    f_.OnReply(r.data(), r.size());
  }
  EXPECT_TRUE(f_.OnLocalReply(
      7, protocol::Encode(protocol::MakeError(42, Status::Storage("journal failed")))));
  EXPECT_EQ(OnlyAnswerCode(7), Code::kStorage);
}

}  // namespace
}  // namespace jobnet
