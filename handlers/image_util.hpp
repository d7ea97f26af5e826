// What image_resize and image_filter share: libvips set-up, reading the input blob with the
// pixel bound checked from its header before anything is decoded, encoding the output, storing
// it as a result blob, and the payload fields both take. libvips types stay in the .cpp files
// that need them; this header is std + msgpack.
#ifndef JOBNET_HANDLERS_IMAGE_UTIL_HPP_
#define JOBNET_HANDLERS_IMAGE_UTIL_HPP_

#include <cstdint>
#include <string>

#include <msgpack.hpp>

#include "handlers/registry.hpp"

namespace vips {
class VImage;
}

namespace jobnet::handlers::image {

// Starts libvips once per process (thread-safe; later calls do nothing). The node calls it at
// start so the first image job does not pay for it; handlers call it too (tests have no node).
// Each job is one worker slot: libvips uses one thread per job and keeps no operation cache, so
// slots, not libvips, decide how many cores image work takes and memory stays per job.
void Init();

// Output formats: "png", "jpeg", "webp".
bool IsFormat(const std::string& f);

// The input: its encoded bytes (which libvips reads in place, so they must outlive the image),
// its size from the header, and its format.
struct Input {
  std::string bytes;
  int width = 0;
  int height = 0;
  std::string format;  // "png", "jpeg", "webp" or another loader's name
};

// Reads blob `hash` from ctx.blobs and its header. A header that claims more than
// config->image_pixels_max pixels is refused here, before any pixel is decoded (a
// decompression bomb), as is anything libvips cannot read. "" on success, else why not.
std::string LoadInput(const std::string& hash, HandlerContext& ctx, Input* in);

// Runs `make` (which builds the output image with libvips), encodes the image in `format` and
// stores it as StoreResult does. libvips errors become a failed result naming `what`.
HandlerResult Finish(const char* what, const std::function<vips::VImage()>& make,
                     const std::string& format, HandlerContext& ctx);

// The finished image, stored as a result blob: {"blob", "width", "height", "format"}.
// `encoded` is the output file's bytes.
HandlerResult StoreResult(const std::string& encoded, int width, int height,
                          const std::string& format, HandlerContext& ctx);

// ---- payload fields (a PayloadRule check runs these on the scheduler's thread: cheap) ----
// Read with the handlers' one payload reader (registry.hpp).
using handlers::Field;
using handlers::ReadBool;
using handlers::ReadNumber;
using handlers::ReadString;
using handlers::ReadUint;
// "" if `o` (may be null when optional) is what the field wants, else the problem.
std::string CheckHash(const msgpack::object* o);
std::string CheckSide(const msgpack::object* o, const char* name);
std::string CheckFormat(const msgpack::object* o);

}  // namespace jobnet::handlers::image

#endif  // JOBNET_HANDLERS_IMAGE_UTIL_HPP_
