// image_filter: payload {"image": "<sha256 of a blob>", "rotate": 90|180|270, "grayscale": true,
// "blur": sigma, "sharpen": true, "format": "png|jpeg|webp"}; result as image_resize's. The
// operations given are applied in that order (rotate, grayscale, blur, sharpen); with none,
// only the format changes (a conversion). At least one operation or a format is required.
#include <vips/vips8>

#include "handlers/image_util.hpp"

namespace jobnet::handlers {
namespace {

using image::Field;

// A blur beyond this sigma is a flat colour; the mask libvips builds grows with sigma.
constexpr double kBlurSigmaMax = 100;

std::string CheckFilter(const msgpack::object& p) {
  if (p.type != msgpack::type::MAP) return "not a map";
  if (std::string problem = image::CheckHash(Field(p, "image")); !problem.empty()) return problem;
  bool any = false;
  if (const auto* o = Field(p, "rotate")) {
    uint64_t a = 0;
    if (!image::ReadUint(o, &a) || (a != 0 && a != 90 && a != 180 && a != 270))
      return "'rotate' must be 0, 90, 180 or 270";
    any = true;
  }
  for (const char* flag : {"grayscale", "sharpen"}) {
    if (const auto* o = Field(p, flag)) {
      bool b = false;
      if (!image::ReadBool(o, &b)) return std::string("'") + flag + "' must be true or false";
      any = true;
    }
  }
  if (const auto* o = Field(p, "blur")) {
    double sigma = 0;
    if (!image::ReadNumber(o, &sigma) || !(sigma > 0 && sigma <= kBlurSigmaMax))
      return "'blur' must be a sigma above 0 and at most 100";
    any = true;
  }
  if (std::string problem = image::CheckFormat(Field(p, "format")); !problem.empty()) return problem;
  if (!any && Field(p, "format") == nullptr)
    return "give at least one of rotate, grayscale, blur, sharpen or format";
  return "";
}

HandlerResult ImageFilter(const msgpack::object& payload, HandlerContext& ctx) {
  if (std::string problem = CheckFilter(payload); !problem.empty())
    return HandlerResult::Fail("image_filter: " + problem);
  std::string hash, format;
  uint64_t rotate = 0;
  bool grayscale = false, sharpen = false;
  double blur = 0;
  image::ReadString(Field(payload, "image"), &hash);
  image::ReadUint(Field(payload, "rotate"), &rotate);
  image::ReadBool(Field(payload, "grayscale"), &grayscale);
  image::ReadBool(Field(payload, "sharpen"), &sharpen);
  image::ReadNumber(Field(payload, "blur"), &blur);
  image::ReadString(Field(payload, "format"), &format);

  image::Input in;
  if (std::string problem = image::LoadInput(hash, ctx, &in); !problem.empty())
    return HandlerResult::Fail("image_filter: " + problem);
  if (format.empty()) format = image::IsFormat(in.format) ? in.format : "png";
  return image::Finish("image_filter", [&] {
    vips::VImage img = vips::VImage::new_from_buffer(in.bytes.data(), in.bytes.size(), "");
    if (rotate == 90) img = img.rot(VIPS_ANGLE_D90);
    if (rotate == 180) img = img.rot(VIPS_ANGLE_D180);
    if (rotate == 270) img = img.rot(VIPS_ANGLE_D270);
    if (grayscale) img = img.colourspace(VIPS_INTERPRETATION_B_W);
    if (blur > 0) img = img.gaussblur(blur);
    if (sharpen) img = img.sharpen();
    return img;
  }, format, ctx);
}

JOBNET_HANDLER("image_filter", ImageFilter,
               (PayloadRule{"{image: blob sha256, rotate?: 90|180|270, grayscale?: bool, "
                            "blur?: sigma (0..100], sharpen?: bool, format?: png|jpeg|webp} (at "
                            "least one)",
                            "{blob: sha256 of the filtered image, width, height, format}",
                            CheckFilter}));

}  // namespace
}  // namespace jobnet::handlers
