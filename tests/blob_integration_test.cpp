// Blobs end to end against a real node: `jobnet blob put` of a real PNG, an image_resize job on
// it, and `jobnet result --out` giving a PNG of the asked size; a multi-chunk blob answered OK
// survives SIGKILL; a job on a blob runs on a peer, which fetches the input from the owner and
// leaves the result there; unknown blobs, oversized blobs and bad image payloads get their typed errors.
#include <filesystem>
#include <fstream>
#include <random>

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <vips/vips8>

#include "base/sha256.hpp"
#include "base/exit_codes.hpp"
#include "node_harness.hpp"

namespace jobnet::testing {
namespace {

class BlobIntegrationTest : public DirTest {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(VIPS_INIT("blob_integration_test"), 0); }
  static std::string Png(int w, int h) {
    vips::VImage xy = vips::VImage::xyz(w, h);
    vips::VImage img = (xy[0] * (255.0 / w)).bandjoin(xy[1] * (255.0 / h)).bandjoin(
        vips::VImage::black(w, h) + 128);
    void* buf = nullptr;
    size_t len = 0;
    img.cast(VIPS_FORMAT_UCHAR).write_to_buffer(".png", &buf, &len);
    std::string out(static_cast<const char*>(buf), len);
    g_free(buf);
    return out;
  }
  static std::string Random(size_t n) {
    std::mt19937 rng(7);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }
  std::string WriteFile(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  // GET `url`: the status, the content type and the body.
  static long HttpGet(const std::string& url, std::string* type, std::string* body) {
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* out) {
      static_cast<std::string*>(out)->append(p, s * n);
      return s * n;
    });
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      char* ct = nullptr;
      curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
      if (ct) *type = ct;
    }
    curl_easy_cleanup(c);
    return status;
  }
  // image_resize of blob `hash` to w x h, as PNG.
  static JobSpec Resize(const std::string& hash, int w, int h) {
    JobSpec spec;
    spec.type = "image_resize";
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(4);
    pk.pack("image"), pk.pack(hash);
    pk.pack("width"), pk.pack(w);
    pk.pack("height"), pk.pack(h);
    pk.pack("format"), pk.pack("png");
    spec.payload.assign(buf.data(), buf.size());
    return spec;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
};

TEST_F(BlobIntegrationTest, PutResizeAndResultOutGiveAPngOfTheAskedSize) {
  const std::string http = "127.0.0.1:" + std::to_string(FreePort());
  NodeProcess n("n1", dir_ + "/n1", 2, {"--http", http});
  ASSERT_TRUE(n.Start()) << ReadFile(n.log_path());
  std::string png = Png(640, 320);
  std::string in = WriteFile("in.png", png);
  auto put = RunCli("blob put " + in + " --to " + n.endpoint());
  ASSERT_EQ(put.exit_code, 0);
  std::string hash = put.out.substr(0, put.out.find('\n'));
  EXPECT_EQ(hash, base::Sha256Hex(png));

  auto c = n.Connect();
  ASSERT_NE(c, nullptr);
  auto sub = c->Submit(Resize(hash, 64, 32));
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  auto done = c->Wait(sub.value().id, 20000);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done.value().state, JobState::kSucceeded) << done.value().error;

  std::string out = dir_ + "/out.png";
  auto res = RunCli("result " + sub.value().id + " --out " + out + " --to " + n.endpoint());
  ASSERT_EQ(res.exit_code, 0);
  std::string bytes = ReadFile(out);
  vips::VImage img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  EXPECT_EQ(img.width(), 64);
  EXPECT_EQ(img.height(), 32);
  EXPECT_EQ(img.get_string("vips-loader"), std::string("pngload_buffer"));
  // The same bytes over HTTP, with the format's content type.
  std::string type, body;
  EXPECT_EQ(HttpGet("http://" + http + "/api/jobs/" + sub.value().id + "/result", &type, &body), 200);
  EXPECT_EQ(type, "image/png");
  EXPECT_TRUE(body == bytes);
  // Without --out, the result itself: the blob's name and the size.
  auto json = RunCli("result " + sub.value().id + " --to " + n.endpoint());
  EXPECT_NE(json.out.find("\"width\":64"), std::string::npos) << json.out;
  // The input is still there (its job refers to it), byte for byte.
  auto get = RunCli("blob get " + hash + " --out " + dir_ + "/back.png --to " + n.endpoint());
  ASSERT_EQ(get.exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ + "/back.png"), png);
  auto stats = c->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats.value().counters["blobs_stored"], 2u);  // the input and the result
}

TEST_F(BlobIntegrationTest, JobOnABlobRunsOnAPeerAndItsResultBlobIsOnTheOwner) {
  // n1's only worker is busy, so the resize is leased to n2, which holds no blob of its own.
  NodeProcess n1("n1", dir_ + "/n1", 1);
  NodeProcess n2("n2", dir_ + "/n2", 2);
  n1.AddArgs({"--peer", n2.endpoint(), "--failure-timeout", "2000ms"});
  n2.AddArgs({"--peer", n1.endpoint(), "--failure-timeout", "2000ms"});
  ASSERT_TRUE(n1.Start()) << ReadFile(n1.log_path());
  ASSERT_TRUE(n2.Start()) << ReadFile(n2.log_path());
  auto c = n1.Connect();
  ASSERT_NE(c, nullptr);
  auto peer_alive = [](NodeProcess& n, const std::string& peer) {
    auto cl = n.Connect(1000);
    if (!cl) return false;
    auto st = cl->Stats();
    if (!st.ok()) return false;
    for (const auto& p : st.value().peers)
      if (p.node == peer && p.state == "alive") return true;
    return false;
  };
  ASSERT_TRUE(Eventually([&] { return peer_alive(n1, "n2") && peer_alive(n2, "n1"); }));

  std::string png = Png(300, 200);
  auto put = c->PutBlob(png);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  JobSpec sleep;
  sleep.type = "sleep";
  sleep.payload = Pack(uint64_t{30000});
  sleep.timeout_ms = 60000;
  auto busy = c->Submit(sleep);
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE(Eventually([&] { return c->GetStatus(busy.value().id).value().state == JobState::kRunning; }));

  auto sub = c->Submit(Resize(put.value(), 30, 20));
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  auto done = c->Wait(sub.value().id, 30000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done.value().state, JobState::kSucceeded) << done.value().error;
  auto info = c->GetStatus(sub.value().id, /*history=*/true);
  ASSERT_TRUE(info.ok());
  ASSERT_FALSE(info.value().history.empty());
  EXPECT_EQ(info.value().history.back().node, "n2");

  // The result blob is on n1, the owner: `result --out` there gives the PNG of the asked size.
  std::string out = dir_ + "/out.png";
  auto res = RunCli("result " + sub.value().id + " --out " + out + " --to " + n1.endpoint());
  ASSERT_EQ(res.exit_code, 0) << res.out;
  std::string bytes = ReadFile(out);
  vips::VImage img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  EXPECT_EQ(img.width(), 30);
  EXPECT_EQ(img.height(), 20);
  EXPECT_EQ(img.get_string("vips-loader"), std::string("pngload_buffer"));
  auto stats = c->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats.value().counters["blobs_stored"], 2u);  // the input and the result
}

TEST_F(BlobIntegrationTest, MultiChunkBlobAnsweredOkSurvivesSigkill) {
  NodeProcess n("n1", dir_ + "/n1");
  ASSERT_TRUE(n.Start());
  std::string data = Random(3 * limits::kBlobChunkBytesMax + 12345);
  auto put = RunCli("blob put " + WriteFile("big.bin", data) + " --json --to " + n.endpoint());
  ASSERT_EQ(put.exit_code, 0);
  EXPECT_NE(put.out.find(base::Sha256Hex(data)), std::string::npos) << put.out;
  n.Kill();  // SIGKILL: no drain, no flush
  ASSERT_TRUE(n.Start());
  auto c = n.Connect();
  ASSERT_NE(c, nullptr);
  auto got = c->GetBlob(base::Sha256Hex(data));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got.value() == data);
}

TEST_F(BlobIntegrationTest, UnknownOversizedAndBadRequestsGetTypedErrors) {
  NodeProcess n("n1", dir_ + "/n1", 2, {"--blob-mb-max", "1"});
  ASSERT_TRUE(n.Start());
  auto c = n.Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->GetBlob(std::string(64, 'f')).status().IsNotFound());
  auto get = RunCli("blob get " + std::string(64, 'f') + " --out " + dir_ + "/x --to " + n.endpoint());
  EXPECT_EQ(get.exit_code, ::jobnet::exit_code::kNotFound);
  EXPECT_TRUE(c->GetBlob("nothex").status().IsInvalidArgument());
  EXPECT_TRUE(c->PutBlob(Random((1u << 20) + 1)).status().IsTooLarge());
  EXPECT_TRUE(c->PutBlob(Random(1u << 20)).ok());  // at the limit
  // A payload no image_resize run could accept is refused at submit.
  JobSpec spec;
  spec.type = "image_resize";
  spec.payload = Pack(std::map<std::string, int>{{"width", 10}});
  EXPECT_TRUE(c->Submit(spec).status().IsInvalidArgument());
}

}  // namespace
}  // namespace jobnet::testing
