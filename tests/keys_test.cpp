// Keys, scopes and principals without a network (docs/operations.md "Securing a cluster"): key
// files round-trip at mode 0600, are never overwritten, and a damaged or mismatched one is
// refused without echoing its secret; every request kind needs exactly the scope the docs
// give it; a principals file is read and checked; a node beyond loopback needs principals or
// --insecure.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "jobnet/keys.h"
#include "node/config.hpp"
#include "node/principals.hpp"
#include "protocol/scopes.hpp"

namespace jobnet {
namespace {

using protocol::Kind;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("jobnet_keys_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  std::string dir_;
};

TEST_F(KeysTest, KeyFilesRoundTripPrivatelyAndAreNeverOverwritten) {
  auto k = NewCurveKeys();
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_TRUE(IsZ85Key(k.value().public_key));
  const std::string path = dir_ + "/a.key";
  ASSERT_TRUE(WriteKeyFile(path, k.value()).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = ReadKeyFile(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value().public_key, k.value().public_key);
  EXPECT_EQ(back.value().secret_key, k.value().secret_key);
  EXPECT_TRUE(WriteKeyFile(path, NewCurveKeys().value()).IsConflict());
  EXPECT_EQ(ReadKeyFile(path).value().public_key, k.value().public_key);
  auto made = LoadOrMakeKeyFile(dir_ + "/made.key");
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(LoadOrMakeKeyFile(dir_ + "/made.key").value().public_key, made.value().public_key);
  EXPECT_TRUE(ReadKeyFile(dir_ + "/none.key").status().IsNotFound());
  // Another key's public half with this secret: refused, and the secret is not in the message.
  auto other = NewCurveKeys().value();
  auto mixed = ReadKeyFile(Write("mixed.key", "public " + other.public_key + "\nsecret " +
                                                  k.value().secret_key + "\n"));
  ASSERT_TRUE(mixed.status().IsInvalidArgument());
  EXPECT_EQ(mixed.status().message().find(k.value().secret_key), std::string::npos);
  EXPECT_TRUE(ReadKeyFile(Write("junk.key", "public short\n")).status().IsInvalidArgument());
  EXPECT_TRUE(ReadKeyFile(Write("half.key", "public " + other.public_key + "\n"))
                  .status()
                  .IsInvalidArgument());
  EXPECT_FALSE(IsZ85Key(std::string(40, ' ')));
  EXPECT_FALSE(IsZ85Key(std::string(39, 'a')));
}

TEST(ScopesTest, EachKindNeedsTheScopeTheDocsGiveIt) {
  using namespace protocol;
  for (Kind k : {Kind::kStatus, Kind::kWait, Kind::kList, Kind::kStats, Kind::kEvents,
                 Kind::kBlobGet, Kind::kQueues, Kind::kScheduleList, Kind::kTypes})
    EXPECT_EQ(RequiredScope(k), kScopeRead) << KindName(k);
  for (Kind k : {Kind::kSubmit, Kind::kSubmitBatch, Kind::kCancel, Kind::kRetry, Kind::kBulk,
                 Kind::kBlobPut})
    EXPECT_EQ(RequiredScope(k), kScopeWrite) << KindName(k);
  for (Kind k : {Kind::kQueueSet, Kind::kWorkersSet, Kind::kScheduleAdd, Kind::kScheduleChange})
    EXPECT_EQ(RequiredScope(k), kScopeAdmin) << KindName(k);
  for (Kind k : {Kind::kHeartbeat, Kind::kRemoteRun, Kind::kRemoteResult, Kind::kRemoteAck,
                 Kind::kRemoteCancel, Kind::kQueueSync, Kind::kAccepted, Kind::kError})
    EXPECT_EQ(RequiredScope(k), kScopePeer) << KindName(k);
  for (Kind k : {Kind::kWorkerRegister, Kind::kWorkerPoll, Kind::kWorkerComplete})
    EXPECT_EQ(RequiredScope(k), kScopeWorker) << KindName(k);
  EXPECT_TRUE(MaySend(kScopeRead, Kind::kStatus));
  EXPECT_FALSE(MaySend(kScopeRead, Kind::kSubmit));
  EXPECT_FALSE(MaySend(kScopeRead | kScopeWrite | kScopeAdmin | kScopeWorker, Kind::kHeartbeat));
  EXPECT_TRUE(MaySend(kScopePeer, Kind::kSubmit));  // a peer forwards its clients' requests
  EXPECT_FALSE(MaySend(0, Kind::kStats));
  EXPECT_EQ(ParseScopes({"write", "read"}).value(), kScopeRead | kScopeWrite);
  EXPECT_EQ(ScopeNames(kScopeRead | kScopeAdmin), "read,admin");
  EXPECT_TRUE(ParseScopes({"root"}).status().IsInvalidArgument());
  EXPECT_TRUE(ParseScopes({}).status().IsInvalidArgument());
}

TEST_F(KeysTest, PrincipalsFilesAreReadAndChecked) {
  const std::string a = NewCurveKeys().value().public_key;
  const std::string b = NewCurveKeys().value().public_key;
  auto file = Write("p.toml", "[[principals]]\nname = \"n2\"\nkey = \"" + b +
                                  "\"\nscopes = [\"peer\"]\nendpoints = [\"tcp://10.0.0.2:7701\"]\n"
                                  "[[principals]]\nname = \"ci\"\nkey = \"" + a +
                                  "\"\nscopes = [\"read\", \"write\"]\n");
  NodeConfig cfg;
  cfg.listen = "tcp://0.0.0.0:7701";
  EXPECT_TRUE(cfg.Validate().IsInvalidArgument());  // beyond loopback, no keys
  NodeConfig insecure = cfg;
  insecure.insecure = true;
  EXPECT_TRUE(insecure.Validate().ok()) << insecure.Validate().ToString();
  ASSERT_TRUE(LoadPrincipalsFile(file, &cfg.principals).ok());
  ASSERT_EQ(cfg.principals.size(), 2u);
  EXPECT_TRUE(cfg.Validate().ok()) << cfg.Validate().ToString();
  PrincipalTable table(cfg.principals);
  EXPECT_EQ(table.NameOf(a), "ci");
  EXPECT_EQ(table.ScopesOf("ci"), protocol::kScopeRead | protocol::kScopeWrite);
  EXPECT_EQ(table.ServerKeyOf("tcp://10.0.0.2:7701"), b);
  EXPECT_EQ(table.NameOf(NewCurveKeys().value().public_key), "");
  EXPECT_EQ(table.ScopesOf("nobody"), 0);
  // Two principals with one key, a bad key, an unknown scope: each refused with its reason.
  NodeConfig twice = cfg;
  twice.principals[1].key = b;
  EXPECT_NE(twice.Validate().message().find("another principal's"), std::string::npos);
  NodeConfig bad = cfg;
  bad.principals[0].key = "not-a-key";
  EXPECT_NE(bad.Validate().message().find("Z85"), std::string::npos);
  std::vector<protocol::Principal> ps;
  auto unknown = LoadPrincipalsFile(
      Write("u.toml", "[[principals]]\nname = \"x\"\nkey = \"" + a + "\"\nscopes = [\"root\"]\n"),
      &ps);
  EXPECT_NE(unknown.message().find("unknown scope 'root'"), std::string::npos)
      << unknown.message();
  EXPECT_TRUE(LoadPrincipalsFile(Write("bad.toml", "[[principals]\n"), &ps).IsInvalidArgument());
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.1.2.3:1"));
}

}  // namespace
}  // namespace jobnet
