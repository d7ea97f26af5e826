// sha256: payload is a string or bin; result is its SHA-256 as lower-case hex.
#include "base/sha256.hpp"
#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult Sha256(const msgpack::object& payload, HandlerContext&) {
  std::string data;
  if (!AsString(payload, &data)) return HandlerResult::Fail("sha256 wants a string payload");
  return HandlerResult::Ok(base::Sha256Hex(data));
}

JOBNET_HANDLER("sha256", Sha256,
               (PayloadRule{"data: a string (or bin)", "its SHA-256 as 64 lower-case hex digits",
                            CheckText}));

}  // namespace
}  // namespace jobnet::handlers
