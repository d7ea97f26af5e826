// image_resize: payload {"image": "<sha256 of a blob>", "width": 64, "height": 32,
// "fit": "fill|contain|cover", "format": "png|jpeg|webp"}; result {"blob": "<sha256>", "width",
// "height", "format"}. Either side may be omitted (the other keeps the aspect ratio); fit
// (default fill) matters only when both are given: fill stretches to exactly that size, contain
// fits inside it keeping the aspect ratio and pads the rest (black, or transparent with alpha),
// cover fills it keeping the aspect ratio and crops the centre. format defaults to the input's
// (png for other inputs). libvips shrinks JPEGs while decoding, so large photos are cheap.
#include <cmath>

#include <vips/vips8>

#include "handlers/image_util.hpp"

namespace jobnet::handlers {
namespace {

using image::Field;

std::string CheckResize(const msgpack::object& p) {
  if (p.type != msgpack::type::MAP) return "not a map";
  std::string problem = image::CheckHash(Field(p, "image"));
  if (problem.empty()) problem = image::CheckSide(Field(p, "width"), "width");
  if (problem.empty()) problem = image::CheckSide(Field(p, "height"), "height");
  if (problem.empty() && Field(p, "width") == nullptr && Field(p, "height") == nullptr)
    problem = "give 'width', 'height' or both";
  if (problem.empty() && Field(p, "fit") != nullptr) {
    std::string fit;
    if (!image::ReadString(Field(p, "fit"), &fit) ||
        (fit != "fill" && fit != "contain" && fit != "cover"))
      problem = "'fit' must be fill, contain or cover";
  }
  if (problem.empty()) problem = image::CheckFormat(Field(p, "format"));
  return problem;
}

HandlerResult ImageResize(const msgpack::object& payload, HandlerContext& ctx) {
  if (std::string problem = CheckResize(payload); !problem.empty())
    return HandlerResult::Fail("image_resize: " + problem);
  std::string hash, fit = "fill", format;
  uint64_t want_w = 0, want_h = 0;
  image::ReadString(Field(payload, "image"), &hash);
  image::ReadUint(Field(payload, "width"), &want_w);
  image::ReadUint(Field(payload, "height"), &want_h);
  image::ReadString(Field(payload, "fit"), &fit);
  image::ReadString(Field(payload, "format"), &format);

  image::Input in;
  if (std::string problem = image::LoadInput(hash, ctx, &in); !problem.empty())
    return HandlerResult::Fail("image_resize: " + problem);
  if (format.empty()) format = image::IsFormat(in.format) ? in.format : "png";
  // One side given: the other follows the aspect ratio (at least one pixel).
  if (want_w == 0)
    want_w = std::max<uint64_t>(1, std::llround(double(in.width) * want_h / in.height));
  if (want_h == 0)
    want_h = std::max<uint64_t>(1, std::llround(double(in.height) * want_w / in.width));
  if (want_w > limits::kImageSideMax || want_h > limits::kImageSideMax)
    return HandlerResult::Fail("image_resize: the output side would exceed " +
                               std::to_string(limits::kImageSideMax));
  const int w = static_cast<int>(want_w), h = static_cast<int>(want_h);
  return image::Finish("image_resize", [&] {
    VipsBlob* blob = vips_blob_new(nullptr, in.bytes.data(), in.bytes.size());  // no copy
    auto* opts = vips::VImage::option()->set("height", h);
    if (fit == "cover") {
      opts->set("crop", VIPS_INTERESTING_CENTRE);
    } else if (fit == "fill") {
      opts->set("size", VIPS_SIZE_FORCE);
    }
    vips::VImage out;
    try {
      out = vips::VImage::thumbnail_buffer(blob, w, opts);
    } catch (...) {
      vips_area_unref(VIPS_AREA(blob));
      throw;
    }
    vips_area_unref(VIPS_AREA(blob));
    if (fit == "contain" && (out.width() != w || out.height() != h))
      out = out.embed((w - out.width()) / 2, (h - out.height()) / 2, w, h,
                      vips::VImage::option()->set("extend", VIPS_EXTEND_BLACK));
    return out;
  }, format, ctx);
}

JOBNET_HANDLER("image_resize", ImageResize,
               (PayloadRule{"{image: blob sha256, width?, height? (at least one, 1..32768), "
                            "fit?: fill|contain|cover (default fill), format?: png|jpeg|webp "
                            "(default: the input's)}",
                            "{blob: sha256 of the resized image, width, height, format}",
                            CheckResize}));

}  // namespace
}  // namespace jobnet::handlers
