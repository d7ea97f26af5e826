// echo: the result is the payload, unchanged.
#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult Echo(const msgpack::object& payload, HandlerContext&) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, payload);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("echo", Echo);

}  // namespace
}  // namespace jobnet::handlers
