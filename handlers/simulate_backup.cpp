// simulate_backup: a long job that reports progress and honours cancel, for demos and tests of
// both. It walks a directory tree (or one file, or a synthetic size) and copies it chunk by
// chunk into a temporary directory under the node's data directory, removed when the run ends
// (or reads and discards it). Bounded: limits::kBackupBytesMax bytes, kBackupFilesMax files.
// Payload: {"path": DIR|FILE} or {"bytes": N}, and optionally "chunk_bytes" (default 1 MiB),
// "chunk_ms" (a pause after each chunk: a slow medium) and "copy" (default false).
// Result: {"files", "bytes", "chunks", "copied"}.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "handlers/registry.hpp"
#include "jobnet/limits.h"

namespace jobnet::handlers {
namespace {

namespace fs = std::filesystem;

struct BackupSpec {
  std::string path;    // or
  uint64_t bytes = 0;  // a synthetic source of this size
  bool synthetic = false;
  uint64_t chunk_bytes = limits::kBackupChunkBytesDefault;
  uint64_t chunk_ms = 0;
  bool copy = false;
};

// The spec, or the problem with the payload (the run and the check at submit share it).
std::string ReadSpec(const msgpack::object& payload, BackupSpec* s) {
  const char* usage = "simulate_backup wants {\"path\": DIR} or {\"bytes\": N}, with optional "
                      "\"chunk_bytes\", \"chunk_ms\" and \"copy\"";
  bool has_path = false;
  std::string problem = ReadFields(payload, "simulate_backup", usage,
                                   [&](const std::string& key, const msgpack::object& v) -> std::string {
    if (key == "path") {
      if (!AsString(v, &s->path) || s->path.empty()) return "simulate_backup: path must be a non-empty string";
      has_path = true;
    } else if (key == "bytes") {
      if (!ReadUint(&v, &s->bytes)) return "simulate_backup: bytes must be a non-negative integer";
      s->synthetic = true;
    } else if (key == "chunk_bytes") {
      if (!ReadUint(&v, &s->chunk_bytes) || s->chunk_bytes < limits::kBackupChunkBytesMin ||
          s->chunk_bytes > limits::kBackupChunkBytesMax)
        return "simulate_backup: chunk_bytes must be " + std::to_string(limits::kBackupChunkBytesMin) +
               ".." + std::to_string(limits::kBackupChunkBytesMax);
    } else if (key == "chunk_ms") {
      if (!ReadUint(&v, &s->chunk_ms) || s->chunk_ms > limits::kBackupChunkMsMax)
        return "simulate_backup: chunk_ms must be 0.." + std::to_string(limits::kBackupChunkMsMax);
    } else if (key == "copy") {
      if (!ReadBool(&v, &s->copy)) return "simulate_backup: copy must be true or false";
    }
    return "";
  });
  if (!problem.empty()) return problem;
  if (has_path == s->synthetic) return usage;
  if (s->bytes > limits::kBackupBytesMax)
    return "simulate_backup: bytes is over the limit of " + std::to_string(limits::kBackupBytesMax);
  return "";
}

std::string CheckBackup(const msgpack::object& payload) {
  BackupSpec s;
  return ReadSpec(payload, &s);
}

struct Source {
  fs::path path;  // empty: synthetic
  fs::path relative;
  uint64_t bytes = 0;
};

// The files under spec.path (or the one file), bounded; or the problem.
std::string ListSources(const BackupSpec& spec, std::vector<Source>* out, uint64_t* total) {
  *total = 0;
  if (spec.synthetic) {
    out->push_back(Source{{}, "synthetic.bin", spec.bytes});
    *total = spec.bytes;
    return "";
  }
  std::error_code ec;
  fs::path root(spec.path);
  auto add = [&](const fs::path& p, const fs::path& rel) -> std::string {
    uint64_t size = fs::file_size(p, ec);
    if (ec) return "";  // vanished or unreadable: skipped, as a backup of a live tree would
    if (out->size() >= limits::kBackupFilesMax)
      return "simulate_backup: more than " + std::to_string(limits::kBackupFilesMax) + " files";
    *total += size;
    if (*total > limits::kBackupBytesMax)
      return "simulate_backup: more than " + std::to_string(limits::kBackupBytesMax) + " bytes";
    out->push_back(Source{p, rel, size});
    return "";
  };
  if (fs::is_regular_file(root, ec)) return add(root, root.filename());
  if (!fs::is_directory(root, ec)) return "simulate_backup: no such file or directory: " + spec.path;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return "simulate_backup: cannot read " + spec.path + ": " + ec.message();
  for (; it != end; it.increment(ec)) {
    if (ec) return "simulate_backup: cannot read " + spec.path + ": " + ec.message();
    if (!it->is_regular_file(ec)) continue;
    if (std::string problem = add(it->path(), fs::relative(it->path(), root, ec)); !problem.empty())
      return problem;
  }
  return "";
}

// "12.5 of 100.0 MiB, file 3/10"
std::string ProgressText(uint64_t done, uint64_t total, size_t file, size_t files) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%.1f of %.1f MiB, file %zu/%zu", done / 1048576.0,
                total / 1048576.0, file, files);
  return buf;
}

// Removes the run's copies however the run ends.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

HandlerResult SimulateBackup(const msgpack::object& payload, HandlerContext& ctx) {
  BackupSpec spec;
  if (std::string problem = ReadSpec(payload, &spec); !problem.empty())
    return HandlerResult::Fail(problem);
  std::vector<Source> sources;
  uint64_t total = 0;
  if (std::string problem = ListSources(spec, &sources, &total); !problem.empty())
    return HandlerResult::Fail(problem);
  TempDir temp;
  std::error_code ec;
  if (spec.copy) {
    if (ctx.config == nullptr || ctx.config->data_dir.empty())
      return HandlerResult::Fail("simulate_backup: copy needs the node's data directory");
    temp.path = fs::path(ctx.config->data_dir) / "backup-tmp" /
                (ctx.job_id + "-" + std::to_string(ctx.attempt));
    fs::remove_all(temp.path, ec);
    if (!fs::create_directories(temp.path, ec) && ec)
      return HandlerResult::Fail("simulate_backup: cannot create " + temp.path.string() + ": " +
                                 ec.message());
  }
  std::vector<char> chunk(spec.chunk_bytes, '\x5a');
  uint64_t done = 0, chunks = 0;
  ctx.Progress(0, ProgressText(0, total, 0, sources.size()));
  for (size_t i = 0; i < sources.size(); ++i) {
    const Source& src = sources[i];
    std::ifstream in;
    if (!src.path.empty()) {
      in.open(src.path, std::ios::binary);
      if (!in) continue;  // vanished since the walk: skipped
    }
    std::ofstream out;
    if (spec.copy) {
      fs::path dest = temp.path / src.relative;
      fs::create_directories(dest.parent_path(), ec);
      out.open(dest, std::ios::binary | std::ios::trunc);
      if (!out) return HandlerResult::Fail("simulate_backup: cannot write " + dest.string());
    }
    for (uint64_t left = src.bytes; left > 0;) {
      if (ctx.ShouldStop()) return HandlerResult::Fail("simulate_backup stopped: cancelled or timed out");
      uint64_t n = std::min<uint64_t>(left, chunk.size());
      if (in.is_open()) {
        in.read(chunk.data(), static_cast<std::streamsize>(n));
        n = static_cast<uint64_t>(in.gcount());
        if (n == 0) break;  // shrank since the walk
      }
      if (out.is_open() && !out.write(chunk.data(), static_cast<std::streamsize>(n)))
        return HandlerResult::Fail("simulate_backup: write failed (disk full?)");
      left -= std::min(left, n);
      done += n;
      chunks++;
      ctx.Progress(total == 0 ? 100 : static_cast<uint32_t>(done * 100 / total),
                   ProgressText(done, total, i + 1, sources.size()));
      if (spec.chunk_ms != 0 && !ctx.SleepFor(spec.chunk_ms))
        return HandlerResult::Fail("simulate_backup stopped: cancelled or timed out");
    }
  }
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(4);
  pk.pack("files"); pk.pack(static_cast<uint64_t>(sources.size()));
  pk.pack("bytes"); pk.pack(done);
  pk.pack("chunks"); pk.pack(chunks);
  pk.pack("copied"); pk.pack(spec.copy);
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("simulate_backup", SimulateBackup,
               (PayloadRule{"{\"path\": DIR or FILE} or {\"bytes\": N <= 16 GiB}, optional "
                            "\"chunk_bytes\" (4 KiB..16 MiB), \"chunk_ms\" (0..10000), \"copy\"",
                            "{\"files\", \"bytes\", \"chunks\", \"copied\"}", CheckBackup}));

}  // namespace
}  // namespace jobnet::handlers
