// The wait progress display; see cli_progress.hpp.
#include "cli/cli_progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace jobnet::cli {
namespace {

size_t TerminalWidth() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

std::string Elapsed(std::chrono::steady_clock::duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

std::string ProgressBar(uint32_t pct, size_t width) {
  size_t filled = std::min<size_t>(width, width * std::min<uint32_t>(pct, 100) / 100);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

WaitProgress::WaitProgress(Mode mode, size_t total, std::unique_ptr<Client> probe,
                           std::ostream& out)
    : mode_(mode), total_(total), probe_(std::move(probe)), out_(out) {}

void WaitProgress::Refresh(const std::string& current) {
  if (probe_ != nullptr) {
    auto r = probe_->GetStatus(current);
    if (r.ok()) {
      id_ = current;
      state_ = JobStateName(r.value().state);
      pct_ = r.value().progress;
      message_ = r.value().progress_message;
    }
  }
  Draw();
}

void WaitProgress::Clear() {
  if (mode_ != Mode::kBar || !drawn_) return;
  out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

void WaitProgress::Draw() {
  std::string elapsed = Elapsed(std::chrono::steady_clock::now() - started_);
  std::string jobs = std::to_string(done_) + "/" + std::to_string(total_) + " done";
  std::string current;
  if (!id_.empty()) {
    current = id_ + " " + state_;
    if (state_ == "running") current += " " + std::to_string(pct_) + "%";
    if (!message_.empty()) current += " " + message_;
  }
  if (mode_ == Mode::kLines) {
    // Only when something but the clock changed, so a quiet job prints nothing.
    std::string line = jobs + "  " + current;
    if (line == last_line_) return;
    last_line_ = line;
    out_ << "progress: " << line << "  (" << elapsed << ")" << std::endl;
    return;
  }
  // jobs done/total as the bar (the current job's percent for a single job), then the figures.
  uint32_t pct = total_ == 1 ? (state_ == "running" ? pct_ : 0)
                             : static_cast<uint32_t>(done_ * 100 / std::max<size_t>(total_, 1));
  std::string line = ProgressBar(pct, 20) + " " + jobs + "  " + elapsed + "  " + current;
  size_t width = TerminalWidth() - 1;
  if (line.size() > width) line.resize(width);
  out_ << "\r\033[K" << line << std::flush;
  drawn_ = true;
}

}  // namespace jobnet::cli
