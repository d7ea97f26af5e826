#include "node/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include <nlohmann/json.hpp>

#include "base/parse.hpp"

namespace jobnet {
namespace {

// "2026-11-28T12:00:00.123Z"
std::string IsoTime(spdlog::log_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

class NodeFormatter : public spdlog::formatter {
 public:
  NodeFormatter(std::string node, bool json) : node_(std::move(node)), json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string payload(msg.payload.data(), msg.payload.size());
    std::string level(spdlog::level::to_string_view(msg.level).data(),
                      spdlog::level::to_string_view(msg.level).size());
    std::string line;
    // A job state change: "ID\tSTATE\tATTEMPT\tTEXT".
    std::string job, state, attempt, text = payload;
    bool is_job = std::string_view(msg.logger_name.data(), msg.logger_name.size()) == "job";
    if (is_job) {
      size_t a = payload.find('\t'), b = payload.find('\t', a + 1), c = payload.find('\t', b + 1);
      if (a != std::string::npos && b != std::string::npos && c != std::string::npos) {
        job = payload.substr(0, a);
        state = payload.substr(a + 1, b - a - 1);
        attempt = payload.substr(b + 1, c - b - 1);
        text = payload.substr(c + 1);
      } else {
        is_job = false;
      }
    }
    if (json_) {
      nlohmann::json o{{"time", IsoTime(msg.time)}, {"level", level}, {"node", node_}};
      if (is_job) {
        o["job"] = job;
        o["state"] = state;
        o["attempt"] = base::ParseUint(attempt).value_or(0);
      }
      o["msg"] = text;
      line = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = IsoTime(msg.time) + " " + level + " [" + node_ + "] " +
             (is_job ? "job " + job + " " + state + " (attempt " + attempt + "): " + text : text);
    }
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<NodeFormatter>(node_, json_);
  }

 private:
  std::string node_;
  bool json_;
};

}  // namespace

void SetUpLogging(const std::string& node_id, const std::string& format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<NodeFormatter>(node_id, format == "json"));
  auto main = std::make_shared<spdlog::logger>("jobnet", sink);
  auto jobs = std::make_shared<spdlog::logger>("job", sink);
  spdlog::drop("jobnet");
  spdlog::drop("job");
  spdlog::register_logger(jobs);
  spdlog::set_default_logger(main);
}

}  // namespace jobnet
