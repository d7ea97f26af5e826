// fail: always fails, with the payload string as the error (for testing retries and dead letters).
#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult Fail(const msgpack::object& payload, HandlerContext&) {
  std::string msg;
  if (!AsString(payload, &msg) || msg.empty()) msg = "failed on purpose";
  return HandlerResult::Fail(msg);
}

JOBNET_HANDLER("fail", Fail,
               (PayloadRule{"any value; a string becomes the error text",
                            "none: every attempt fails (for testing retries and dead letters)",
                            nullptr}));

}  // namespace
}  // namespace jobnet::handlers
