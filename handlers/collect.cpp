// collect: fan-in without a handler of your own. The result is one array of the job's parents'
// results, in the order its depends_on names them (docs/handlers.md "collect"). A parent that
// did not succeed (with on_parent_failure "run") has no result there; a job without parents
// collects an empty array.
#include "handlers/registry.hpp"

#include "jobnet/job.h"

namespace jobnet::handlers {
namespace {

HandlerResult Collect(const msgpack::object&, HandlerContext& ctx) {
  if (ctx.parents.empty() || ctx.parents == MsgpackNil()) return HandlerResult::OkRaw("\x90");
  // The map came from this node's scheduler, already bounded: parse it back into its values.
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(ctx.parents.data(), ctx.parents.size());
  } catch (const std::exception& e) {
    return HandlerResult::Fail(std::string("parents' results do not decode: ") + e.what());
  }
  const msgpack::object& map = oh.get();
  if (map.type != msgpack::type::MAP) return HandlerResult::Fail("parents' results are not a map");
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(map.via.map.size);
  for (uint32_t i = 0; i < map.via.map.size; ++i) pk.pack(map.via.map.ptr[i].val);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("collect", Collect,
               (PayloadRule{"any msgpack value (ignored)",
                            "an array of the parents' results, in depends_on order", nullptr}));

}  // namespace
}  // namespace jobnet::handlers
