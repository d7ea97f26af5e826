// image_contact_sheet: N images arranged in a grid, each scaled to fit a square cell (aspect
// ratio kept, centred), on a white sheet. Payload {"images"?: [blob sha256, ...] (1..64),
// "columns"?: 1..16 (default: the square root, rounded up), "cell"?: 16..2048 px (default 256),
// "gap"?: 0..256 px (default 8), "format"?: png|jpeg|webp (default png)}. Without "images" it
// takes its parents' results (a job submitted with depends_on, docs/handlers.md "Parents'
// results"): every result that names a "blob", in depends_on order, so a flow's resize jobs
// feed it directly. Result {"blob", "width", "height", "format"}, as image_resize's.
#include <cmath>
#include <vector>

#include <vips/vips8>

#include "handlers/image_util.hpp"

namespace jobnet::handlers {
namespace {

using image::Field;

constexpr uint64_t kImagesMax = 64;
constexpr uint64_t kColumnsMax = 16;
constexpr uint64_t kCellMin = 16, kCellMax = 2048, kCellDefault = 256;
constexpr uint64_t kGapMax = 256, kGapDefault = 8;

std::string CheckNumber(const msgpack::object* o, const char* name, uint64_t lo, uint64_t hi) {
  uint64_t v = 0;
  if (o != nullptr && (!image::ReadUint(o, &v) || v < lo || v > hi))
    return std::string("'") + name + "' must be " + std::to_string(lo) + ".." + std::to_string(hi);
  return "";
}

std::string CheckSheet(const msgpack::object& p) {
  if (p.type == msgpack::type::NIL) return "";  // every default, images from the parents
  if (p.type != msgpack::type::MAP) return "not a map";
  if (const auto* images = Field(p, "images")) {
    if (images->type != msgpack::type::ARRAY || images->via.array.size == 0 ||
        images->via.array.size > kImagesMax)
      return "'images' must be an array of 1.." + std::to_string(kImagesMax) + " blob hashes";
    for (uint32_t i = 0; i < images->via.array.size; ++i)
      if (std::string problem = image::CheckHash(&images->via.array.ptr[i]); !problem.empty())
        return "'images': " + problem;
  }
  std::string problem = CheckNumber(Field(p, "columns"), "columns", 1, kColumnsMax);
  if (problem.empty()) problem = CheckNumber(Field(p, "cell"), "cell", kCellMin, kCellMax);
  if (problem.empty()) problem = CheckNumber(Field(p, "gap"), "gap", 0, kGapMax);
  if (problem.empty()) problem = image::CheckFormat(Field(p, "format"));
  return problem;
}

// The blobs the parents' results name, in depends_on order ("" when one names none).
std::string BlobsOfParents(const HandlerContext& ctx, std::vector<std::string>* out) {
  if (ctx.parents.empty() || ctx.parents == MsgpackNil())
    return "no 'images' and no parents' results to take them from";
  msgpack::object_handle oh = msgpack::unpack(ctx.parents.data(), ctx.parents.size());
  const msgpack::object& map = oh.get();
  if (map.type != msgpack::type::MAP) return "parents' results are not a map";
  for (uint32_t i = 0; i < map.via.map.size && out->size() < kImagesMax; ++i) {
    const msgpack::object& result = map.via.map.ptr[i].val;
    std::string hash;
    if (result.type == msgpack::type::MAP && image::ReadString(Field(result, "blob"), &hash) &&
        image::CheckHash(Field(result, "blob")).empty())
      out->push_back(hash);
  }
  return out->empty() ? "none of its parents' results names an image blob" : "";
}

HandlerResult ContactSheet(const msgpack::object& payload, HandlerContext& ctx) {
  if (std::string problem = CheckSheet(payload); !problem.empty())
    return HandlerResult::Fail("image_contact_sheet: " + problem);
  const msgpack::object kNil;
  const msgpack::object& p = payload.type == msgpack::type::MAP ? payload : kNil;
  std::vector<std::string> hashes;
  if (const auto* images = p.type == msgpack::type::MAP ? Field(p, "images") : nullptr) {
    for (uint32_t i = 0; i < images->via.array.size; ++i) {
      std::string h;
      image::ReadString(&images->via.array.ptr[i], &h);
      hashes.push_back(h);
    }
  } else if (std::string problem = BlobsOfParents(ctx, &hashes); !problem.empty()) {
    return HandlerResult::Fail("image_contact_sheet: " + problem);
  }
  uint64_t columns = 0, cell = kCellDefault, gap = kGapDefault;
  std::string format = "png";
  if (p.type == msgpack::type::MAP) {
    image::ReadUint(Field(p, "columns"), &columns);
    image::ReadUint(Field(p, "cell"), &cell);
    image::ReadUint(Field(p, "gap"), &gap);
    image::ReadString(Field(p, "format"), &format);
  }
  const uint64_t n = hashes.size();
  if (columns == 0) columns = static_cast<uint64_t>(std::ceil(std::sqrt(double(n))));
  columns = std::min(columns, n);
  const uint64_t rows = (n + columns - 1) / columns;
  const uint64_t width = columns * cell + (columns + 1) * gap;
  const uint64_t height = rows * cell + (rows + 1) * gap;
  if (width > limits::kImageSideMax || height > limits::kImageSideMax)
    return HandlerResult::Fail("image_contact_sheet: the sheet would be " +
                               std::to_string(width) + "x" + std::to_string(height) +
                               ", past " + std::to_string(limits::kImageSideMax));
  std::vector<image::Input> inputs(n);  // their bytes outlive the images read from them
  for (uint64_t i = 0; i < n; ++i) {
    if (std::string problem = image::LoadInput(hashes[i], ctx, &inputs[i]); !problem.empty())
      return HandlerResult::Fail("image_contact_sheet: image " + std::to_string(i + 1) + " (" +
                                 hashes[i].substr(0, 12) + "): " + problem);
    ctx.Progress(static_cast<uint32_t>(100 * i / n), "read image " + std::to_string(i + 1));
  }
  const int c = static_cast<int>(cell), g = static_cast<int>(gap);
  return image::Finish("image_contact_sheet", [&] {
    vips::VImage sheet = vips::VImage::black(static_cast<int>(width), static_cast<int>(height))
                             .new_from_image(std::vector<double>{255, 255, 255});
    for (uint64_t i = 0; i < n; ++i) {
      VipsBlob* blob = vips_blob_new(nullptr, inputs[i].bytes.data(), inputs[i].bytes.size());
      vips::VImage thumb;
      try {
        thumb = vips::VImage::thumbnail_buffer(blob, c, vips::VImage::option()->set("height", c));
      } catch (...) {
        vips_area_unref(VIPS_AREA(blob));
        throw;
      }
      vips_area_unref(VIPS_AREA(blob));
      // Three 8-bit bands like the sheet: alpha on white, grey and 16-bit inputs converted.
      if (thumb.has_alpha())
        thumb = thumb.flatten(vips::VImage::option()->set("background",
                                                           std::vector<double>{255, 255, 255}));
      thumb = thumb.colourspace(VIPS_INTERPRETATION_sRGB);
      if (thumb.format() != VIPS_FORMAT_UCHAR) thumb = thumb.cast(VIPS_FORMAT_UCHAR);
      const int col = static_cast<int>(i % columns), row = static_cast<int>(i / columns);
      const int x = g + col * (c + g) + (c - thumb.width()) / 2;
      const int y = g + row * (c + g) + (c - thumb.height()) / 2;
      sheet = sheet.insert(thumb, x, y);
    }
    return sheet;
  }, format, ctx);
}

JOBNET_HANDLER("image_contact_sheet", ContactSheet,
               (PayloadRule{"{images?: [blob sha256, ...] (1..64; default: the blobs its parents' "
                            "results name), columns? 1..16, cell? 16..2048 px (256), gap? "
                            "0..256 px (8), format?: png|jpeg|webp (png)}",
                            "{blob: sha256 of the sheet, width, height, format}", CheckSheet}));

}  // namespace
}  // namespace jobnet::handlers
