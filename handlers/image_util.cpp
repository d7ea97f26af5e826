// Shared image handler code: libvips set-up, bounded input, result blobs, payload fields.
#include "handlers/image_util.hpp"

#include <mutex>

#include <vips/vips8>

#include "protocol/msgpack_bounded.hpp"

namespace jobnet::handlers::image {

void Init() {
  static std::once_flag once;
  std::call_once(once, [] {
    // VIPS_INIT fails only without GLib's type system: nothing image-related could work, and
    // every image job reports libvips errors; the other handlers are unaffected.
    if (VIPS_INIT("jobnet") != 0) return;
    vips_concurrency_set(1);
    vips_cache_set_max(0);
  });
}

bool IsFormat(const std::string& f) { return f == "png" || f == "jpeg" || f == "webp"; }

namespace {

std::string FormatOfLoader(const std::string& loader) {
  if (loader.rfind("png", 0) == 0) return "png";
  if (loader.rfind("jpeg", 0) == 0) return "jpeg";
  if (loader.rfind("webp", 0) == 0) return "webp";
  return loader;
}

std::string VipsMessage(const vips::VError& e) {
  std::string m = e.what();
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  vips_error_clear();
  return m;
}

}  // namespace

std::string LoadInput(const std::string& hash, HandlerContext& ctx, Input* in) {
  Init();
  if (ctx.blobs == nullptr) return "this node has no blob store";
  auto bytes = ctx.blobs->ReadBlob(hash);
  if (!bytes.ok()) return "input image: " + bytes.status().message();
  in->bytes = std::move(bytes.value());
  const uint64_t pixels_max =
      ctx.config != nullptr ? ctx.config->image_pixels_max : limits::kImagePixelsMaxDefault;
  try {
    // Opening reads only the header: width and height are known before any pixel is decoded.
    vips::VImage header = vips::VImage::new_from_buffer(in->bytes.data(), in->bytes.size(), "");
    in->width = header.width();
    in->height = header.height();
    in->format = FormatOfLoader(header.get_string("vips-loader"));
  } catch (const vips::VError& e) {
    return "input image " + hash + " cannot be read: " + VipsMessage(e);
  }
  const uint64_t pixels = static_cast<uint64_t>(in->width) * static_cast<uint64_t>(in->height);
  if (pixels > pixels_max)
    return "input image is " + std::to_string(in->width) + "x" + std::to_string(in->height) +
           " (" + std::to_string(pixels) + " pixels); the limit is " + std::to_string(pixels_max) +
           " pixels (--image-pixels-max), so it is not decoded";
  return "";
}

HandlerResult StoreResult(const std::string& encoded, int width, int height,
                          const std::string& format, HandlerContext& ctx) {
  auto hash = ctx.blobs->WriteBlob(encoded);
  if (!hash.ok()) return HandlerResult::Fail("cannot store the result image: " + hash.status().ToString());
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(4);
  pk.pack("blob");
  pk.pack(hash.value());
  pk.pack("width");
  pk.pack(width);
  pk.pack("height");
  pk.pack(height);
  pk.pack("format");
  pk.pack(format);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

HandlerResult Finish(const char* what, const std::function<vips::VImage()>& make,
                     const std::string& format, HandlerContext& ctx) {
  std::string encoded;
  int width = 0, height = 0;
  try {
    vips::VImage out = make();
    width = out.width();
    height = out.height();
    if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) >
        (ctx.config != nullptr ? ctx.config->image_pixels_max : limits::kImagePixelsMaxDefault))
      return HandlerResult::Fail(std::string(what) + ": the output would be " +
                                 std::to_string(width) + "x" + std::to_string(height) +
                                 " pixels, over --image-pixels-max");
    if (format == "jpeg" && out.has_alpha()) out = out.flatten();  // JPEG has no alpha
    const char* suffix = format == "png" ? ".png" : format == "jpeg" ? ".jpg" : ".webp";
    void* buf = nullptr;
    size_t len = 0;
    out.write_to_buffer(suffix, &buf, &len);
    encoded.assign(static_cast<const char*>(buf), len);
    g_free(buf);
  } catch (const vips::VError& e) {
    return HandlerResult::Fail(std::string(what) + ": " + VipsMessage(e));
  }
  if (ctx.ShouldStop()) return HandlerResult::Fail(std::string(what) + ": cancelled or timed out");
  return StoreResult(encoded, width, height, format, ctx);
}


std::string CheckHash(const msgpack::object* o) {
  std::string h;
  if (!ReadString(o, &h) || h.size() != limits::kBlobHashHexBytes ||
      h.find_first_not_of("0123456789abcdef") != std::string::npos)
    return "'image' must be a blob's SHA-256 (64 lower-case hex digits, from `jobnet blob put`)";
  return "";
}

std::string CheckSide(const msgpack::object* o, const char* name) {
  if (o == nullptr) return "";
  uint64_t v = 0;
  if (!ReadUint(o, &v) || v == 0 || v > limits::kImageSideMax)
    return std::string("'") + name + "' must be 1.." + std::to_string(limits::kImageSideMax);
  return "";
}

std::string CheckFormat(const msgpack::object* o) {
  if (o == nullptr) return "";
  std::string f;
  if (!ReadString(o, &f) || !IsFormat(f)) return "'format' must be png, jpeg or webp";
  return "";
}

}  // namespace jobnet::handlers::image
