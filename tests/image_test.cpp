// Image handlers on real images: PNG, JPEG and WebP inputs made with libvips here, resized and
// filtered by the handlers, and the result blob decoded again to check its size, bands and
// format. A PNG whose header claims 100000x100000 pixels must be refused before decoding, and
// bad payloads are refused by the handlers' payload rules (at submit). Method: the handlers
// through handlers::Run, with an in-memory blob store behind protocol::BlobAccess.
#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "base/sha256.hpp"
#include "handlers/image_util.hpp"
#include "handlers/registry.hpp"
#include "memory_blobs.hpp"

namespace jobnet::handlers {
namespace {

using testing::MemoryBlobs;

// Result fields of an image handler.
struct Out {
  std::string blob, format;
  int width = 0, height = 0;
};

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image::Init();
    config_.blobs = &blobs_;
  }
  // A w x h RGB gradient (alpha: RGBA) encoded as `suffix` (".png", ".jpg", ".webp").
  std::string MakeImage(int w, int h, const char* suffix, bool alpha = false) {
    vips::VImage xy = vips::VImage::xyz(w, h);
    vips::VImage img = (xy[0] * (255.0 / w)).bandjoin(xy[1] * (255.0 / h));
    img = img.bandjoin(vips::VImage::black(w, h) + 128);
    if (alpha) img = img.bandjoin(vips::VImage::black(w, h) + 200);
    img = img.cast(VIPS_FORMAT_UCHAR).copy(vips::VImage::option()->set(
        "interpretation", VIPS_INTERPRETATION_sRGB));
    void* buf = nullptr;
    size_t len = 0;
    img.write_to_buffer(suffix, &buf, &len);
    std::string out(static_cast<const char*>(buf), len);
    g_free(buf);
    return out;
  }
  std::string Put(const std::string& bytes) { return blobs_.WriteBlob(bytes).value(); }
  // Runs `type` on the payload given as JSON-ish pairs already packed by the caller.
  HandlerResult RunType(const std::string& type, const std::string& payload,
                        const std::string& parents = "") {
    HandlerContext ctx;
    ctx.parents = parents;
    ctx.job_id = "t-1";
    ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    ctx.config = &config_;
    ctx.blobs = &blobs_;
    return handlers::Run(type, payload, ctx);
  }
  Out Parse(const HandlerResult& r) {
    Out o;
    EXPECT_TRUE(r.ok) << r.error;
    if (!r.ok) return o;
    auto oh = msgpack::unpack(r.result.data(), r.result.size());
    auto m = oh.get().as<std::map<std::string, msgpack::object>>();
    o.blob = m.at("blob").as<std::string>();
    o.width = m.at("width").as<int>();
    o.height = m.at("height").as<int>();
    o.format = m.at("format").as<std::string>();
    return o;
  }
  // The result blob decoded: its width, height, bands and loader.
  vips::VImage Decode(const Out& o) {
    decoded_ = blobs_.ReadBlob(o.blob).value();
    return vips::VImage::new_from_buffer(decoded_.data(), decoded_.size(), "");
  }

  MemoryBlobs blobs_;
  HandlerConfig config_;
  std::string decoded_;  // the bytes libvips reads in place
};

// A msgpack map of string keys to values, in order.
class Payload {
 public:
  template <class T>
  Payload& Set(const std::string& k, const T& v) {
    fields_.emplace_back(k, Pack(v));
    return *this;
  }
  std::string Bytes() const {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(static_cast<uint32_t>(fields_.size()));
    for (const auto& [k, v] : fields_) {
      pk.pack(k);
      buf.write(v.data(), v.size());
    }
    return std::string(buf.data(), buf.size());
  }

 private:
  template <class T>
  static std::string Pack(const T& v) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, v);
    return std::string(buf.data(), buf.size());
  }
  std::vector<std::pair<std::string, std::string>> fields_;
};

std::string Loader(const vips::VImage& img) { return img.get_string("vips-loader"); }

TEST_F(ImageTest, ResizesAPngToTheAskedSize) {
  std::string in = Put(MakeImage(640, 320, ".png"));
  Out o = Parse(RunType("image_resize",
                        Payload().Set("image", in).Set("width", 64).Set("height", 32).Set("format", "png").Bytes()));
  EXPECT_EQ(o.width, 64);
  EXPECT_EQ(o.height, 32);
  EXPECT_EQ(o.format, "png");
  vips::VImage img = Decode(o);
  EXPECT_EQ(img.width(), 64);
  EXPECT_EQ(img.height(), 32);
  EXPECT_EQ(Loader(img), "pngload_buffer");
}

TEST_F(ImageTest, ResizesAJpegKeepingTheAspectWhenOneSideIsGiven) {
  std::string in = Put(MakeImage(800, 600, ".jpg"));
  Out o = Parse(RunType("image_resize", Payload().Set("image", in).Set("width", 200).Bytes()));
  EXPECT_EQ(o.format, "jpeg");  // the input's format by default
  vips::VImage img = Decode(o);
  EXPECT_EQ(img.width(), 200);
  EXPECT_EQ(img.height(), 150);
  EXPECT_EQ(Loader(img), "jpegload_buffer");
  o = Parse(RunType("image_resize", Payload().Set("image", in).Set("height", 30).Set("format", "webp").Bytes()));
  img = Decode(o);
  EXPECT_EQ(img.width(), 40);
  EXPECT_EQ(img.height(), 30);
  EXPECT_EQ(Loader(img), "webpload_buffer");
}

TEST_F(ImageTest, FitFillContainAndCoverAllGiveTheAskedBox) {
  std::string in = Put(MakeImage(400, 100, ".png"));
  for (const char* fit : {"fill", "contain", "cover"}) {
    Out o = Parse(RunType("image_resize",
                          Payload().Set("image", in).Set("width", 50).Set("height", 50).Set("fit", fit).Bytes()));
    vips::VImage img = Decode(o);
    EXPECT_EQ(img.width(), 50) << fit;
    EXPECT_EQ(img.height(), 50) << fit;
  }
}

TEST_F(ImageTest, PngWhoseHeaderClaimsTenGigapixelsIsRefusedBeforeDecoding) {
  // A valid PNG signature and IHDR for 100000 x 100000 RGB, an empty IDAT stream and IEND: a
  // few dozen bytes that would decode to 30 GB.
  auto crc = [](const std::string& s) {
    uint32_t c = 0xffffffffu;
    for (unsigned char b : s) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
  };
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
    return s;
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc(type + data));
  };
  std::string ihdr = be32(100000) + be32(100000) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
                    chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
                    chunk("IEND", "");
  std::string in = Put(png);
  HandlerResult r = RunType("image_resize", Payload().Set("image", in).Set("width", 10).Bytes());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("100000x100000"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("not decoded"), std::string::npos) << r.error;
  r = RunType("image_filter", Payload().Set("image", in).Set("grayscale", true).Bytes());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("pixels"), std::string::npos) << r.error;
}

TEST_F(ImageTest, PixelBoundIsConfigurable) {
  config_.image_pixels_max = 399;
  std::string in = Put(MakeImage(20, 20, ".png"));
  HandlerResult r = RunType("image_resize", Payload().Set("image", in).Set("width", 10).Bytes());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("400 pixels"), std::string::npos) << r.error;
  config_.image_pixels_max = 400;
  EXPECT_TRUE(RunType("image_resize", Payload().Set("image", in).Set("width", 10).Bytes()).ok);
}

TEST_F(ImageTest, MissingInputBlobFailsNamingIt) {
  std::string absent(64, 'e');
  HandlerResult r = RunType("image_resize", Payload().Set("image", absent).Set("width", 10).Bytes());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not on this node"), std::string::npos) << r.error;
}

TEST_F(ImageTest, FilterRotatesGraysBlursSharpensAndConverts) {
  std::string in = Put(MakeImage(64, 32, ".png"));
  vips::VImage img = Decode(Parse(RunType("image_filter", Payload().Set("image", in).Set("rotate", 90).Bytes())));
  EXPECT_EQ(img.width(), 32);
  EXPECT_EQ(img.height(), 64);
  img = Decode(Parse(RunType("image_filter", Payload().Set("image", in).Set("grayscale", true).Bytes())));
  EXPECT_EQ(img.bands(), 1);
  EXPECT_EQ(img.width(), 64);
  img = Decode(Parse(RunType("image_filter",
                             Payload().Set("image", in).Set("blur", 1.5).Set("sharpen", true).Bytes())));
  EXPECT_EQ(img.width(), 64);
  EXPECT_EQ(img.height(), 32);
  Out o = Parse(RunType("image_filter", Payload().Set("image", in).Set("format", "jpeg").Bytes()));
  EXPECT_EQ(o.format, "jpeg");
  EXPECT_EQ(Loader(Decode(o)), "jpegload_buffer");
  // An image with alpha converted to JPEG (which has none) is flattened, not refused.
  std::string rgba = Put(MakeImage(16, 16, ".png", /*alpha=*/true));
  img = Decode(Parse(RunType("image_filter", Payload().Set("image", rgba).Set("format", "jpeg").Bytes())));
  EXPECT_EQ(img.bands(), 3);
  // Grayscale then sharpen (sharpen works in LAB): still one band.
  img = Decode(Parse(RunType("image_filter",
                             Payload().Set("image", in).Set("grayscale", true).Set("sharpen", true).Bytes())));
  EXPECT_EQ(img.width(), 64);
}

TEST_F(ImageTest, BadPayloadsAreRefusedBySubmitRules) {
  const std::string h(64, 'a');
  auto check = [](const std::string& type, const Payload& p) {
    return Registry::Global().CheckPayload(type, p.Bytes());
  };
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 10)).ok());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h)).IsInvalidArgument());  // no size
  EXPECT_TRUE(check("image_resize", Payload().Set("image", "xyz").Set("width", 10)).IsInvalidArgument());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 0)).IsInvalidArgument());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 32769)).IsInvalidArgument());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 32768)).ok());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 5).Set("fit", "zoom")).IsInvalidArgument());
  EXPECT_TRUE(check("image_resize", Payload().Set("image", h).Set("width", 5).Set("format", "gif")).IsInvalidArgument());
  EXPECT_TRUE(Registry::Global().CheckPayload("image_resize", std::string("\x01", 1)).IsInvalidArgument());
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h).Set("rotate", 90)).ok());
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h)).IsInvalidArgument());  // nothing to do
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h).Set("rotate", 45)).IsInvalidArgument());
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h).Set("blur", 0)).IsInvalidArgument());
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h).Set("blur", 100.5)).IsInvalidArgument());
  EXPECT_TRUE(check("image_filter", Payload().Set("image", h).Set("grayscale", 1)).IsInvalidArgument());
}

}  // namespace
}  // namespace jobnet::handlers

namespace jobnet::handlers {
namespace {

// The parents' results a flow hands a job: {id: result} in depends_on order.
std::string ParentsMap(const std::vector<std::pair<std::string, std::string>>& results) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(static_cast<uint32_t>(results.size()));
  for (const auto& [id, result] : results) {
    pk.pack(id);
    buf.write(result.data(), result.size());
  }
  return std::string(buf.data(), buf.size());
}

TEST_F(ImageTest, ContactSheetArrangesItsParentsImagesInAGrid) {
  // The README's flow: one upload, three resizes of it, a sheet of the three from their results.
  std::string photo = Put(MakeImage(400, 300, ".jpg"));
  std::vector<std::pair<std::string, std::string>> results;
  for (int w : {80, 160, 320}) {
    HandlerResult r = RunType("image_resize", Payload().Set("image", photo).Set("width", w).Bytes());
    ASSERT_TRUE(r.ok) << r.error;
    results.emplace_back("n1-" + std::to_string(w), r.result);
  }
  results.emplace_back("n1-9", std::string("\xa2ok", 3));  // a parent without an image: skipped
  Out o = Parse(RunType("image_contact_sheet", std::string(1, '\xc0'), ParentsMap(results)));
  // Three images: 2 columns (the square root, up), 2 rows of 256 px cells with 8 px gaps.
  EXPECT_EQ(o.width, 2 * 256 + 3 * 8);
  EXPECT_EQ(o.height, 2 * 256 + 3 * 8);
  EXPECT_EQ(o.format, "png");
  vips::VImage sheet = Decode(o);
  EXPECT_EQ(sheet.bands(), 3);
  // The fourth cell is empty: white. The first holds an image (the gradient is not white).
  EXPECT_EQ(sheet.getpoint(8 + 256 + 8 + 128, 8 + 256 + 8 + 128), (std::vector<double>{255, 255, 255}));
  EXPECT_NE(sheet.getpoint(8 + 128, 8 + 128), (std::vector<double>{255, 255, 255}));
}

TEST_F(ImageTest, ContactSheetTakesNamedImagesOfAnyKindAndItsLayout) {
  std::string a = Put(MakeImage(64, 64, ".png", /*alpha=*/true));
  std::string b = Put(MakeImage(100, 50, ".webp"));
  std::string c = Put(MakeImage(30, 90, ".jpg"));
  Out o = Parse(RunType("image_contact_sheet",
                        Payload()
                            .Set("images", std::vector<std::string>{a, b, c})
                            .Set("columns", 3)
                            .Set("cell", 64)
                            .Set("gap", 0)
                            .Set("format", "jpeg")
                            .Bytes()));
  EXPECT_EQ(o.width, 192);
  EXPECT_EQ(o.height, 64);
  EXPECT_EQ(Loader(Decode(o)), "jpegload_buffer");
}

TEST_F(ImageTest, ContactSheetRefusesWhatItCannotLayOut) {
  auto refused = [&](const std::string& payload, const std::string& parents = "") {
    HandlerResult r = RunType("image_contact_sheet", payload, parents);
    EXPECT_FALSE(r.ok);
    return r.error;
  };
  EXPECT_NE(refused(std::string(1, '\xc0')).find("no 'images'"), std::string::npos);
  EXPECT_NE(refused(std::string(1, '\xc0'), ParentsMap({{"n1-1", std::string(1, '\x07')}}))
                .find("names an image blob"),
            std::string::npos);
  EXPECT_NE(refused(Payload().Set("columns", 0).Bytes()).find("'columns'"), std::string::npos);
  EXPECT_NE(refused(Payload().Set("cell", 8).Bytes()).find("'cell'"), std::string::npos);
  EXPECT_NE(refused(Payload().Set("images", std::vector<std::string>{"nothex"}).Bytes())
                .find("'images'"),
            std::string::npos);
  // A sheet past the side bound: 16 columns of 2048 px cells and gaps of 256.
  std::string one = Put(MakeImage(8, 8, ".png"));
  std::vector<std::string> many(16, one);
  EXPECT_NE(refused(Payload().Set("images", many).Set("columns", 16).Set("cell", 2048).Set("gap", 256).Bytes())
                .find("past"),
            std::string::npos);
  // Checked at submit too, by the same rule.
  EXPECT_FALSE(Registry::Global().CheckPayload("image_contact_sheet",
                                               Payload().Set("gap", 999).Bytes()).ok());
}

}  // namespace
}  // namespace jobnet::handlers
