// echo: the result is the payload, unchanged.
#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult Echo(const msgpack::object& payload, HandlerContext&) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, payload);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("echo", Echo, (PayloadRule{"any msgpack value", "the payload, unchanged", nullptr}));

}  // namespace
}  // namespace jobnet::handlers
