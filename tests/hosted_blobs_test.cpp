// HostedBlobs without an owner to talk to: local blobs are served as they are, and a blob that
// would need the owner fails the read or write with an error naming the job, at once when the
// owner is unknown or refuses the connection.
#include "node/hosted_blobs.hpp"

#include <gtest/gtest.h>

#include "memory_blobs.hpp"

namespace jobnet {
namespace {

using testing::MemoryBlobs;

TEST(PeerEndpointsTest, LinksAreAddedOnceInOrderUpToTheBoundAndToldToTheListener) {
  PeerEndpoints peers({"tcp://127.0.0.1:1"}, 3);
  EXPECT_TRUE(peers.Add("tcp://127.0.0.1:2"));  // found before anyone listens
  EXPECT_TRUE(peers.Add("tcp://127.0.0.1:1"));  // a configured peer: no second link
  std::vector<std::pair<uint32_t, std::string>> told;
  peers.Listen(1, [&](uint32_t link, const std::string& ep) { told.emplace_back(link, ep); });
  ASSERT_EQ(told.size(), 1u);  // the one added before, from index 1 on
  EXPECT_EQ(told[0], std::make_pair(1u, std::string("tcp://127.0.0.1:2")));
  EXPECT_TRUE(peers.Add("tcp://127.0.0.1:3"));
  EXPECT_TRUE(peers.Add("tcp://127.0.0.1:3"));
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[1], std::make_pair(2u, std::string("tcp://127.0.0.1:3")));
  EXPECT_FALSE(peers.Add("tcp://127.0.0.1:4"));  // the bound: 3 links
  EXPECT_EQ(peers.size(), 3u);
  peers.Set(2, "n3");
  EXPECT_EQ(peers.Find("n3"), "tcp://127.0.0.1:3");
  peers.Listen(0, nullptr);
  EXPECT_EQ(told.size(), 2u);
}

TEST(HostedBlobsTest, LocalBlobIsServedWithoutTheOwner) {
  MemoryBlobs local;
  std::string h = local.WriteBlob("abc").value();
  PeerEndpoints peers({}, 4);
  HostedBlobs b(&local, &peers, "n1-7", 1000);
  EXPECT_EQ(b.ReadBlob(h).value(), "abc");
  EXPECT_EQ(b.BlobSize(h).value(), 3u);
}

TEST(HostedBlobsTest, MissingBlobWithUnknownOwnerFailsNamingTheJob) {
  MemoryBlobs local;
  PeerEndpoints peers({"tcp://127.0.0.1:1"}, 4);
  peers.Set(0, "n2");  // another node: n1, the owner, is unknown
  HostedBlobs b(&local, &peers, "n1-7", 1000);
  auto r = b.ReadBlob(std::string(64, 'a'));
  ASSERT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("n1-7"), std::string::npos);
  EXPECT_TRUE(b.BlobSize(std::string(64, 'a')).status().IsUnavailable());
  // A write is kept here but fails: the owner would not have the result blob.
  EXPECT_TRUE(b.WriteBlob("result").status().IsUnavailable());
}

TEST(HostedBlobsTest, OwnerThatRefusesTheConnectionFailsTheReadAndWrite) {
  MemoryBlobs local;
  PeerEndpoints peers({"tcp://127.0.0.1:1"}, 4);  // nothing listens on port 1
  peers.Set(0, "n1");
  EXPECT_EQ(peers.Find("n1"), "tcp://127.0.0.1:1");
  HostedBlobs b(&local, &peers, "n1-7", 1000);
  auto r = b.ReadBlob(std::string(64, 'a'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("from the owner of n1-7"), std::string::npos)
      << r.status().ToString();
  auto w = b.WriteBlob("result");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("to the owner of n1-7"), std::string::npos)
      << w.status().ToString();
}

}  // namespace
}  // namespace jobnet
