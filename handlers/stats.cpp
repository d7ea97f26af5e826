// stats: payload is an array of numbers; result {"count", "mean", "median", "stddev" (population),
// "min", "max"}.
#include <algorithm>
#include <cmath>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

// The numbers of the payload, or the problem with it (the run and the check at submit).
std::string ReadNumbers(const msgpack::object& payload, std::vector<double>* v) {
  if (payload.type != msgpack::type::ARRAY || payload.via.array.size == 0)
    return "stats wants a non-empty array of numbers";
  v->reserve(payload.via.array.size);
  for (uint32_t i = 0; i < payload.via.array.size; ++i) {
    double x = 0;
    if (!ReadNumber(&payload.via.array.ptr[i], &x))
      return "stats: element " + std::to_string(i) + " is not a number";
    v->push_back(x);
    if (!std::isfinite(x)) return "stats: element " + std::to_string(i) + " is not finite";
  }
  return "";
}

std::string CheckStats(const msgpack::object& payload) {
  std::vector<double> v;
  return ReadNumbers(payload, &v);
}

HandlerResult Stats(const msgpack::object& payload, HandlerContext&) {
  std::vector<double> v;
  if (std::string problem = ReadNumbers(payload, &v); !problem.empty())
    return HandlerResult::Fail(problem);
  double sum = 0;
  for (double x : v) sum += x;
  double mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(6);
  pk.pack("count"); pk.pack(static_cast<uint64_t>(n));
  pk.pack("mean"); pk.pack(mean);
  pk.pack("median"); pk.pack(median);
  pk.pack("stddev"); pk.pack(std::sqrt(sq / static_cast<double>(n)));
  pk.pack("min"); pk.pack(v.front());
  pk.pack("max"); pk.pack(v.back());
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("stats", Stats,
               (PayloadRule{"a non-empty array of finite numbers",
                            "{\"count\", \"mean\", \"median\", \"stddev\" (population), \"min\", \"max\"}",
                            CheckStats}));

}  // namespace
}  // namespace jobnet::handlers
