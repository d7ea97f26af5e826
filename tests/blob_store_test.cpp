// Blob store contract: chunked uploads checked against their hash, reads by range and whole,
// the size limit at max and max+1, durability across a reopen, and the sweep: a blob no job
// refers to goes once its grace period is over, a referenced one stays, a stale partial upload
// goes. Method: a real RocksDB store in a temporary directory, with a fake clock.
#include <algorithm>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "base/sha256.hpp"
#include "storage/blob_store.hpp"

namespace jobnet {
namespace {

using protocol::BlobGetRequest;
using protocol::BlobPutRequest;
constexpr uint64_t kChunk = limits::kBlobChunkBytesMax;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("jobnet_blobs_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(uint64_t bytes_max = 8 * kChunk, bool replicated = false) {
    store_.reset();
    BlobStoreOptions o;
    o.blob_bytes_max = bytes_max;
    o.grace_ms = 1000;
    o.now_ms = [this] { return now_; };
    if (replicated) {
      o.replicate = [this](const std::string& hash, uint64_t size) {
        shipped_.emplace_back(hash, size);
        return ship_;
      };
      o.removed = [this](const std::vector<std::string>& hashes) {
        forgotten_.insert(forgotten_.end(), hashes.begin(), hashes.end());
      };
    }
    ASSERT_TRUE(BlobStore::Open(dir_, o, &store_).ok());
  }
  static std::string Bytes(size_t n, uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }
  // Uploads `data` chunk by chunk as a client does; returns the last answer's status.
  Status Upload(const std::string& data, const std::string& hash) {
    for (uint64_t off = 0;; off += kChunk) {
      BlobPutRequest r{hash, data.size(), off, data.substr(off, kChunk)};
      auto a = store_->PutChunk(r);
      if (!a.ok()) return a.status();
      if (a.value().complete) return Status::OK();
      EXPECT_EQ(a.value().received, off + kChunk);
    }
  }
  std::string dir_;
  uint64_t now_ = 1'000'000;
  std::unique_ptr<BlobStore> store_;
  // With replicated stores: what was shipped and forgotten, and what shipping answers.
  std::vector<std::pair<std::string, uint64_t>> shipped_;
  std::vector<std::string> forgotten_;
  Status ship_;
};

TEST_F(BlobStoreTest, ChunkedUploadIsReadBackWholeAndByRange) {
  std::string data = Bytes(2 * kChunk + 123);
  std::string hash = base::Sha256Hex(data);
  ASSERT_TRUE(Upload(data, hash).ok());
  auto whole = store_->ReadBlob(hash);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole.value(), data);
  EXPECT_EQ(store_->BlobSize(hash).value(), data.size());
  // A range across a chunk boundary.
  auto part = store_->GetChunk(BlobGetRequest{hash, kChunk - 10, 20, ""});
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part.value().data, data.substr(kChunk - 10, 20));
  EXPECT_EQ(part.value().size, data.size());
  // The tail: shorter than asked. The end itself: empty. Past it: invalid.
  EXPECT_EQ(store_->GetChunk(BlobGetRequest{hash, data.size() - 3, 0, ""}).value().data,
            data.substr(data.size() - 3));
  EXPECT_TRUE(store_->GetChunk(BlobGetRequest{hash, data.size(), 0, ""}).value().data.empty());
  EXPECT_TRUE(store_->GetChunk(BlobGetRequest{hash, data.size() + 1, 0, ""})
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(store_->stats().blobs, 1u);
  EXPECT_EQ(store_->stats().bytes, data.size());
}

TEST_F(BlobStoreTest, EmptyBlobIsOneEmptyChunk) {
  std::string hash = base::Sha256Hex("");
  ASSERT_TRUE(Upload("", hash).ok());
  EXPECT_EQ(store_->ReadBlob(hash).value(), "");
}

TEST_F(BlobStoreTest, BytesThatDoNotMatchTheHashAreDropped) {
  std::string data = Bytes(kChunk + 5);
  std::string wrong = base::Sha256Hex("something else");
  Status s = Upload(data, wrong);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_TRUE(store_->ReadBlob(wrong).status().IsNotFound());
  EXPECT_EQ(store_->stats().blobs, 0u);
}

TEST_F(BlobStoreTest, ChunksOutOfOrderAreRefusedAndTheUploadGoesOnFromReceived) {
  std::string data = Bytes(3 * kChunk);
  std::string hash = base::Sha256Hex(data);
  // No upload under way: only offset 0 may start one.
  EXPECT_TRUE(store_->PutChunk(BlobPutRequest{hash, data.size(), kChunk, data.substr(kChunk, kChunk)})
                  .status()
                  .IsInvalidArgument());
  ASSERT_TRUE(store_->PutChunk(BlobPutRequest{hash, data.size(), 0, data.substr(0, kChunk)}).ok());
  auto skip = store_->PutChunk(BlobPutRequest{hash, data.size(), 2 * kChunk, data.substr(2 * kChunk)});
  EXPECT_TRUE(skip.status().IsInvalidArgument());
  // A resent chunk is harmless.
  EXPECT_EQ(store_->PutChunk(BlobPutRequest{hash, data.size(), 0, data.substr(0, kChunk)})
                .value()
                .received,
            kChunk);
  ASSERT_TRUE(store_->PutChunk(BlobPutRequest{hash, data.size(), kChunk, data.substr(kChunk, kChunk)}).ok());
  auto last = store_->PutChunk(BlobPutRequest{hash, data.size(), 2 * kChunk, data.substr(2 * kChunk)});
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last.value().complete);
  // Not complete before: a partial upload cannot be read.
  EXPECT_EQ(store_->ReadBlob(hash).value(), data);
}

TEST_F(BlobStoreTest, SizeLimitAtMaxAndMaxPlusOne) {
  Open(/*bytes_max=*/kChunk + 1);
  std::string at = Bytes(kChunk + 1);
  EXPECT_TRUE(Upload(at, base::Sha256Hex(at)).ok());
  std::string over = Bytes(kChunk + 2);
  EXPECT_TRUE(Upload(over, base::Sha256Hex(over)).IsTooLarge());
  EXPECT_TRUE(store_->WriteBlob(over).status().IsTooLarge());
  EXPECT_TRUE(store_->WriteBlob(at).ok());
}

TEST_F(BlobStoreTest, CompletedBlobSurvivesAReopen) {
  std::string data = Bytes(kChunk + 77, 2);
  std::string hash = base::Sha256Hex(data);
  ASSERT_TRUE(Upload(data, hash).ok());
  auto written = store_->WriteBlob("a result");
  ASSERT_TRUE(written.ok());
  Open();
  EXPECT_EQ(store_->ReadBlob(hash).value(), data);
  EXPECT_EQ(store_->ReadBlob(written.value()).value(), "a result");
  EXPECT_EQ(store_->stats().blobs, 2u);  // counted again at open
}

TEST_F(BlobStoreTest, WriteBlobNamesTheBytesByTheirHashAndStoresThemOnce) {
  auto a = store_->WriteBlob("png bytes");
  auto b = store_->WriteBlob("png bytes");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.value(), base::Sha256Hex("png bytes"));
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(store_->stats().blobs, 1u);
  // A put of bytes already there is answered complete at once.
  auto again = store_->PutChunk(BlobPutRequest{a.value(), 9, 0, "png bytes"});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().complete);
}

TEST_F(BlobStoreTest, SweepRemovesUnreferencedBlobsAfterTheirGraceOnly) {
  auto kept = store_->WriteBlob("referenced").value();
  auto dropped = store_->WriteBlob("unreferenced").value();
  std::string partial_data = Bytes(2 * kChunk, 3);
  std::string partial = base::Sha256Hex(partial_data);
  ASSERT_TRUE(store_->PutChunk(BlobPutRequest{partial, partial_data.size(), 0,
                                              partial_data.substr(0, kChunk)})
                  .ok());
  auto referenced = [&](const std::string& h) { return h == kept; };
  now_ += 999;  // within the grace period: nothing goes
  EXPECT_EQ(store_->Sweep(referenced).value(), 0u);
  now_ += 1;
  EXPECT_EQ(store_->Sweep(referenced).value(), 2u);  // the unreferenced blob and the upload
  EXPECT_TRUE(store_->ReadBlob(kept).ok());
  EXPECT_TRUE(store_->ReadBlob(dropped).status().IsNotFound());
  EXPECT_TRUE(store_->PutChunk(BlobPutRequest{partial, partial_data.size(), kChunk,
                                              partial_data.substr(kChunk)})
                  .status()
                  .IsInvalidArgument());  // the upload is gone: it must start again
  EXPECT_EQ(store_->stats().removed, 2u);
  EXPECT_EQ(store_->stats().blobs, 1u);
  // Once no job refers to it, it goes too.
  EXPECT_EQ(store_->Sweep([](const std::string&) { return false; }).value(), 1u);
  EXPECT_TRUE(store_->ReadBlob(kept).status().IsNotFound());
}

TEST_F(BlobStoreTest, PuttingABlobAgainRestartsItsGracePeriod) {
  auto h = store_->WriteBlob("again").value();
  now_ += 900;
  ASSERT_TRUE(store_->WriteBlob("again").ok());
  now_ += 900;  // 1800 since the first put, 900 since the second
  EXPECT_EQ(store_->Sweep([](const std::string&) { return false; }).value(), 0u);
  EXPECT_TRUE(store_->ReadBlob(h).ok());
}

// With backups, a blob is acknowledged only once it is shipped: the last chunk of an upload and
// a handler's write both ship it, a put of a blob already here ships it again (the backups may
// have missed it), and a shipping error is the put's error, the blob kept here.
TEST_F(BlobStoreTest, ABlobIsAckedOnlyOnceShippedAndAPutAgainShipsAgain) {
  Open(8 * kChunk, /*replicated=*/true);
  std::string data = Bytes(2 * kChunk + 5);
  const std::string hash = base::Sha256Hex(data);
  ASSERT_TRUE(Upload(data, hash).ok());
  ASSERT_EQ(shipped_.size(), 1u);  // the last chunk only
  EXPECT_EQ(shipped_[0], std::make_pair(hash, uint64_t{data.size()}));
  ship_ = Status::Unavailable("backup n2 is silent");
  auto again = store_->PutChunk(BlobPutRequest{hash, data.size(), 0, data.substr(0, kChunk)});
  ASSERT_TRUE(again.status().IsUnavailable());
  EXPECT_NE(again.status().message().find("not on its shard's backups"), std::string::npos)
      << again.status().message();
  EXPECT_EQ(shipped_.size(), 2u);
  auto w = store_->WriteBlob("a result");
  EXPECT_TRUE(w.status().IsUnavailable());
  EXPECT_TRUE(store_->ReadBlob(base::Sha256Hex("a result")).ok());  // kept here
  ship_ = Status::OK();
  EXPECT_TRUE(store_->WriteBlob("a result").ok());
  EXPECT_EQ(shipped_.size(), 4u);
  // What a backup asks: where an upload stands, every complete blob, and forgetting some.
  auto at = store_->Progress(hash, data.size());
  ASSERT_TRUE(at.ok());
  EXPECT_TRUE(at.value().complete);
  std::string other = Bytes(2 * kChunk, 9);
  const std::string other_hash = base::Sha256Hex(other);
  ASSERT_TRUE(store_->PutChunk(BlobPutRequest{other_hash, other.size(), 0, other.substr(0, kChunk)})
                  .ok());
  EXPECT_EQ(store_->Progress(other_hash, other.size()).value().received, kChunk);
  EXPECT_EQ(store_->Progress(other_hash, other.size() + 1).value().received, 0u);  // another size
  std::vector<std::string> complete;
  ASSERT_TRUE(store_
                  ->ForEachComplete([&](const std::string& h, uint64_t size) {
                    complete.push_back(h + ":" + std::to_string(size));
                    return Status::OK();
                  })
                  .ok());
  std::vector<std::string> want{hash + ":" + std::to_string(data.size()),
                                base::Sha256Hex("a result") + ":8"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(complete, want);  // the partial upload is not listed
  ASSERT_TRUE(store_->Forget({hash, other_hash, std::string(64, 'e')}).ok());
  EXPECT_TRUE(store_->ReadBlob(hash).status().IsNotFound());
  EXPECT_EQ(store_->Progress(other_hash, other.size()).value().received, 0u);
  EXPECT_EQ(store_->stats().blobs, 1u);
  // The sweep says what it removed.
  now_ += 1000;
  EXPECT_EQ(store_->Sweep([](const std::string&) { return false; }).value(), 1u);
  EXPECT_EQ(forgotten_, std::vector<std::string>{base::Sha256Hex("a result")});
}

}  // namespace
}  // namespace jobnet
