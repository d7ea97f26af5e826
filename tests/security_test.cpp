// Keys and scopes on the ZeroMQ face (docs/operations.md "Securing a cluster"), against real
// node processes: two nodes with a principals file speak CURVE to clients and to each other; a
// client without a key, or with a key that is no principal's, gets nothing through; a read key
// reads and its submit gets permission_denied; a write key submits, and the job's status is
// answered through the other node (a CURVE peer link); frames only a node may send, forged
// from a write key, are refused and counted; and a node listening beyond loopback refuses to
// start without keys unless --insecure says so.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <zmq.hpp>

#include "jobnet/keys.h"
#include "node_harness.hpp"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::LogHas;
using testing::NodeProcess;

class SecurityTest : public testing::DirTest {
 protected:
  CurveKeys Key(const std::string& name) {
    auto k = NewCurveKeys();
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_TRUE(WriteKeyFile(dir_ + "/" + name + ".key", k.value()).ok());
    return k.value();
  }
  // n1 and n2, peers of each other, sharing one principals file: both nodes (scope peer, at
  // their endpoints), admin (the harness's key), reader (read) and writer (read, write).
  void StartPair() {
    for (const char* n : {"n1", "n2", "admin", "reader", "writer", "stranger"}) keys_[n] = Key(n);
    n1_ = std::make_unique<NodeProcess>("n1", dir_ + "/n1", 1);
    n2_ = std::make_unique<NodeProcess>("n2", dir_ + "/n2", 1);
    std::ofstream f(dir_ + "/principals.toml");
    auto principal = [&](const std::string& name, const std::string& scopes,
                         const std::string& endpoint) {
      f << "[[principals]]\nname = \"" << name << "\"\nkey = \"" << keys_[name].public_key
        << "\"\nscopes = [" << scopes << "]\n";
      if (!endpoint.empty()) f << "endpoints = [\"" << endpoint << "\"]\n";
    };
    principal("n1", "\"peer\"", n1_->endpoint());
    principal("n2", "\"peer\"", n2_->endpoint());
    principal("admin", "\"read\", \"write\", \"admin\"", "");
    principal("reader", "\"read\"", "");
    principal("writer", "\"read\", \"write\"", "");
    f.close();
    for (auto* n : {n1_.get(), n2_.get()}) {
      NodeProcess* other = n == n1_.get() ? n2_.get() : n1_.get();
      const std::string id = n == n1_.get() ? "n1" : "n2";
      n->AddArgs({"--principals", dir_ + "/principals.toml", "--key-file", dir_ + "/" + id + ".key",
                  "--peer", other->endpoint()});
      n->UseKey(keys_["admin"], keys_[id].public_key);
    }
    ASSERT_TRUE(n1_->Start());
    ASSERT_TRUE(n2_->Start());
  }
  // A client of `node` with `key` (empty: none).
  Status ConnectAs(NodeProcess& node, const std::string& key, const std::string& server,
                   std::unique_ptr<Client>* out) {
    ClientOptions o = ClientOptions::Single(node.endpoint(), 3000);
    if (!key.empty()) o.key = keys_[key];
    o.server_keys[node.endpoint()] = keys_[server].public_key;
    return Client::Connect(o, out);
  }
  static uint64_t Counter(NodeProcess& n, const std::string& name) {
    return testing::CounterOf(n, name, 3000);
  }
  // A DEALER holding `key`, connected to `to` (whose key is `server`'s).
  zmq::socket_t DealerAs(zmq::context_t& ctx, const std::string& key, NodeProcess& to,
                         const std::string& server) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::curve_secretkey, keys_[key].secret_key);
    s.set(zmq::sockopt::curve_publickey, keys_[key].public_key);
    s.set(zmq::sockopt::curve_serverkey, keys_[server].public_key);
    s.connect(to.endpoint());
    return s;
  }
  // One frame from a DEALER holding `key`, as a client with that key could send it.
  void SendAs(const std::string& key, NodeProcess& to, const std::string& server,
              protocol::Body body) {
    zmq::context_t ctx;
    zmq::socket_t s = DealerAs(ctx, key, to, server);
    s.set(zmq::sockopt::linger, 2000);
    const std::string frame =
        protocol::Encode(protocol::Envelope{limits::kProtocolVersion, 0, std::move(body)});
    s.send(zmq::buffer(frame), zmq::send_flags::none);
    s.close();
  }
  // One request from a DEALER holding `key`, and its reply (kTimeout after 5 s). `as`: sent
  // first as an "as:NAME" part, as a node forwarding a client's request does.
  Result<protocol::Body> RequestAs(const std::string& key, NodeProcess& to,
                                   const std::string& server, protocol::Body body,
                                   const std::string& as = "") {
    zmq::context_t ctx;
    zmq::socket_t s = DealerAs(ctx, key, to, server);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 5000);
    const std::string frame =
        protocol::Encode(protocol::Envelope{limits::kProtocolVersion, 9, std::move(body)});
    if (!as.empty()) s.send(zmq::buffer("as:" + as), zmq::send_flags::sndmore);
    s.send(zmq::buffer(frame), zmq::send_flags::none);
    zmq::message_t reply;
    if (!s.recv(reply)) return Status::Timeout("no reply");
    uint64_t corr = 0;
    auto env = protocol::Decode(static_cast<const char*>(reply.data()), reply.size(), &corr);
    if (!env.ok()) return env.status();
    if (const auto* e = std::get_if<protocol::ErrorReply>(&env.value().body))
      return Status(e->code, e->message);
    return std::move(env.value().body);
  }

  std::map<std::string, CurveKeys> keys_;
  std::unique_ptr<NodeProcess> n1_, n2_;
};

TEST_F(SecurityTest, EachPrincipalDoesWhatItsScopesAllowAndNothingElseGetsThrough) {
  StartPair();
  if (HasFatalFailure()) return;
  std::unique_ptr<Client> c;
  // No key: the node speaks CURVE only.
  Status none = ConnectAs(*n1_, "", "n1", &c);
  EXPECT_TRUE(none.IsPermissionDenied()) << none.ToString();
  EXPECT_NE(none.message().find("requires a CURVE key"), std::string::npos) << none.message();
  // A key that is no principal's.
  Status stranger = ConnectAs(*n1_, "stranger", "n1", &c);
  EXPECT_TRUE(stranger.IsPermissionDenied()) << stranger.ToString();
  EXPECT_NE(stranger.message().find("refused this client's key"), std::string::npos);
  EXPECT_GE(Counter(*n1_, "connections_refused"), 1u);

  // Read: reads, and its submit is refused with the scope it lacks.
  std::unique_ptr<Client> reader;
  ASSERT_TRUE(ConnectAs(*n1_, "reader", "n1", &reader).ok());
  ASSERT_TRUE(reader->Stats().ok());
  JobSpec echo;
  echo.type = "echo";
  echo.payload = testing::Pack(std::string("x"));
  auto refused = reader->Submit(echo);
  ASSERT_TRUE(refused.status().IsPermissionDenied()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("principal reader (scopes read) may not send "
                                            "submit: it needs scope write"),
            std::string::npos)
      << refused.status().message();

  // Write: submits on n1; n2 answers its status over its CURVE link to n1.
  std::unique_ptr<Client> writer;
  ASSERT_TRUE(ConnectAs(*n1_, "writer", "n1", &writer).ok());
  auto job = writer->Submit(echo);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::unique_ptr<Client> via_n2;
  ASSERT_TRUE(ConnectAs(*n2_, "reader", "n2", &via_n2).ok());
  Result<JobInfo> done = Status::Unavailable("not asked");
  ASSERT_TRUE(Eventually([&] {
    done = via_n2->Wait(job.value().id, 5000);
    return done.ok() && done.value().state == JobState::kSucceeded;
  })) << done.status().ToString();

  // Frames only a node may send, from a write key: refused, counted, logged.
  const uint64_t denied = Counter(*n1_, "permission_denied");
  protocol::Heartbeat hb;
  hb.node = "n2";
  hb.endpoint = n2_->endpoint();
  hb.incarnation = 99;
  hb.workers = 1;
  SendAs("writer", *n1_, "n1", hb);
  protocol::RemoteResult r;
  r.owner = "n1";
  r.worker_node = "n2";
  r.lease = 1;
  r.seq = 1;
  r.ok = true;
  SendAs("writer", *n1_, "n1", r);
  EXPECT_TRUE(Eventually([&] { return Counter(*n1_, "permission_denied") >= denied + 2; }))
      << Counter(*n1_, "permission_denied");
  EXPECT_TRUE(LogHas(*n1_, "principal writer (scopes read,write) may not send heartbeat"));
  EXPECT_GE(Counter(*n1_, "rejected_permission_denied"), 1u);
  // The peers are still each other's: n2's real heartbeats count, the forged one did not.
  auto c1 = n1_->Connect(3000);
  ASSERT_TRUE(c1);
  Result<NodeStats> st = Status::Unavailable("not asked");
  EXPECT_TRUE(Eventually([&] {
    st = c1->Stats();
    return st.ok() && st.value().peers.size() == 1 && st.value().peers[0].state == "alive";
  }));
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st.value().peers.size(), 1u);
  EXPECT_NE(st.value().peers[0].incarnation, 99u);
  // Counted per principal too (jobnet_permission_denied_by_principal_total in /metrics): the
  // reader's submit and the writer's two forged frames; the nodes' own were never refused.
  EXPECT_GE(st.value().denied["writer"], 2u);
  EXPECT_GE(st.value().denied["reader"], 1u);
  EXPECT_EQ(st.value().denied.count("n2"), 0u);
}

// A request about another node's job is checked where it comes in and again at the owner, as
// the client's own: a principal the owner does not know is refused there, and a client key
// cannot pose as a node forwarding for someone else.
TEST_F(SecurityTest, AForwardedRequestIsCheckedAsItsClientsAtTheOwner) {
  StartPair();
  if (HasFatalFailure()) return;
  std::unique_ptr<Client> writer;
  ASSERT_TRUE(ConnectAs(*n1_, "writer", "n1", &writer).ok());
  JobSpec echo;
  echo.type = "echo";
  echo.payload = testing::Pack(std::string("fwd"));
  auto job = writer->Submit(echo);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  // "visitor" is a principal of n2 only (added there while n1 was not asked).
  keys_["visitor"] = Key("visitor");
  auto admin2 = n2_->Connect(3000);
  ASSERT_TRUE(admin2);
  ASSERT_TRUE(admin2->Principals("add", {"visitor", keys_["visitor"].public_key, "read", "", "", ""}).ok());
  std::unique_ptr<Client> visitor;
  ASSERT_TRUE(ConnectAs(*n2_, "visitor", "n2", &visitor).ok());
  ASSERT_TRUE(Eventually([&] {  // n2 forwards once it has heard n1
    auto st = admin2->Stats();
    return st.ok() && st.value().peers.size() == 1 && st.value().peers[0].state == "alive";
  }));
  auto refused = visitor->GetStatus(job.value().id);
  ASSERT_TRUE(refused.status().IsPermissionDenied()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("visitor (forwarded by n2"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(Eventually([&] {
    auto st = n1_->Connect(3000)->Stats();
    return st.ok() && st.value().denied["visitor"] >= 1;
  }));
  // Once n1 knows it, the owner answers it.
  auto admin1 = n1_->Connect(3000);
  ASSERT_TRUE(admin1);
  ASSERT_TRUE(admin1->Principals("add", {"visitor", keys_["visitor"].public_key, "read", "", "", ""}).ok());
  auto answered = visitor->GetStatus(job.value().id);
  EXPECT_TRUE(answered.ok()) << answered.status().ToString();
  // A client key sending an "as:" part is refused, whoever it names.
  auto posing = RequestAs("reader", *n1_, "n1", protocol::StatusRequest{job.value().id, false}, "admin");
  EXPECT_TRUE(posing.status().IsPermissionDenied()) << posing.status().ToString();
  EXPECT_NE(posing.status().message().find("may not forward"), std::string::npos);
  // A node's own key forwarding for the writer gets the writer's answer; for the reader, a
  // submit is refused as the reader's would be.
  auto as_writer = RequestAs("n2", *n1_, "n1", protocol::StatusRequest{job.value().id, false}, "writer");
  EXPECT_TRUE(as_writer.ok()) << as_writer.status().ToString();
  protocol::SubmitRequest submit{echo};
  auto as_reader = RequestAs("n2", *n1_, "n1", submit, "reader");
  EXPECT_TRUE(as_reader.status().IsPermissionDenied()) << as_reader.status().ToString();
}

TEST_F(SecurityTest, ANodeBeyondLoopbackRefusesToStartWithoutKeysUnlessInsecure) {
  const int port = testing::FreePort();
  NodeProcess open("n1", dir_ + "/open", 1);
  open.SetListen("tcp://0.0.0.0:" + std::to_string(port));
  EXPECT_FALSE(open.Start());
  EXPECT_TRUE(LogHas(open, "reachable beyond this machine, without keys"));
  NodeProcess insecure("n1", dir_ + "/insecure", 1);
  insecure.SetListen("tcp://0.0.0.0:" + std::to_string(port));
  insecure.AddArgs({"--insecure"});
  ASSERT_TRUE(insecure.Start());
  EXPECT_TRUE(LogHas(insecure, "--insecure: anyone who reaches"));
}

// `principals add|remove` on a running node: the new key works at once, on open connections a
// removed principal's next frame is refused, a configured principal cannot be removed live, a
// read key cannot change the table, and a restart keeps what was added.
TEST_F(SecurityTest, PrincipalsChangeLiveAndDurably) {
  StartPair();
  if (HasFatalFailure()) return;
  keys_["late"] = Key("late");
  auto admin = n1_->Connect(3000);
  ASSERT_TRUE(admin);
  std::unique_ptr<Client> late;
  EXPECT_TRUE(ConnectAs(*n1_, "late", "n1", &late).IsPermissionDenied());
  std::unique_ptr<Client> reader;
  ASSERT_TRUE(ConnectAs(*n1_, "reader", "n1", &reader).ok());
  auto denied = reader->Principals("add", {"late", keys_["late"].public_key, "read", "", "", ""});
  EXPECT_TRUE(denied.status().IsPermissionDenied()) << denied.status().ToString();
  auto added = admin->Principals("add", {"late", keys_["late"].public_key, "read,write", "", "", ""});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  bool listed = false;
  for (const auto& p : added.value())
    listed = listed || (p.name == "late" && p.origin == "added" && p.scopes == "read,write");
  EXPECT_TRUE(listed);
  ASSERT_TRUE(ConnectAs(*n1_, "late", "n1", &late).ok());
  JobSpec echo;
  echo.type = "echo";
  echo.payload = testing::Pack(std::string("late"));
  EXPECT_TRUE(late->Submit(echo).ok());
  // Bad requests get their typed errors.
  EXPECT_TRUE(admin->Principals("add", {"late", keys_["stranger"].public_key, "read", "", "", ""})
                  .status()
                  .IsConflict());
  EXPECT_TRUE(admin->Principals("add", {"x", "short", "read", "", "", ""}).status().IsInvalidArgument());
  EXPECT_TRUE(admin->Principals("add", {"y", keys_["stranger"].public_key, "root", "", "", ""})
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(admin->Principals("remove", {"reader", "", "", "", "", ""}).status().IsConflict());
  EXPECT_TRUE(admin->Principals("remove", {"nobody", "", "", "", "", ""}).status().IsNotFound());
  // A worker principal limited to some job types (refused without scope worker).
  keys_["imager"] = Key("imager");
  EXPECT_TRUE(admin->Principals("add", {"imager", keys_["imager"].public_key, "read", "", "", "resize"})
                  .status()
                  .IsInvalidArgument());
  ASSERT_TRUE(admin->Principals("add", {"imager", keys_["imager"].public_key, "worker", "", "",
                                        "resize,thumbnail"})
                  .ok());
  // Kept across a restart.
  ASSERT_EQ(n1_->Signal(SIGTERM), 0);
  ASSERT_TRUE(n1_->Start());
  ASSERT_TRUE(ConnectAs(*n1_, "late", "n1", &late).ok());
  EXPECT_TRUE(late->Submit(echo).ok());
  // The worker principal registers for its types only, its limit kept by the restart.
  protocol::WorkerRegisterRequest reg;
  reg.name = "imager-1";
  reg.types = {"resize", "echo"};
  auto refused = RequestAs("imager", *n1_, "n1", reg);
  EXPECT_TRUE(refused.status().IsPermissionDenied()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("not echo"), std::string::npos) << refused.status().message();
  reg.types = {"thumbnail", "resize"};
  auto registered = RequestAs("imager", *n1_, "n1", reg);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_TRUE(std::holds_alternative<protocol::WorkerRegisteredReply>(registered.value()));
  // Removed: the open connection's next frame is refused.
  admin = n1_->Connect(3000);
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->Principals("remove", {"late", "", "", "", "", ""}).ok());
  auto after = late->Submit(echo);
  EXPECT_TRUE(after.status().IsPermissionDenied()) << after.status().ToString();
}

}  // namespace
}  // namespace jobnet
