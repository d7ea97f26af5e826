// Run marks file (storage/run_marks.hpp):
//
//   file   := header slot*
//   header := magic "JNRM" (4 bytes) | version fixed32 (1) | slots fixed32 | reserved fixed32
//   slot   := seq fixed64 | attempt fixed32 | check fixed32      (16 bytes, 8-byte aligned)
//
// Native byte order (the file never leaves the machine). A slot is marked when seq != 0 and
// check == Check(seq, attempt); a clear slot is all zero. Mark writes seq and attempt, then the
// check; Clear zeroes the check first. A process can die between two of those stores, and
// either order leaves a slot whose check does not match, which reads as clear: the worst case is
// an attempt not counted, never a wrong job charged.
#include "storage/run_marks.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "base/check.hpp"

namespace jobnet {
namespace {

constexpr char kMagic[4] = {'J', 'N', 'R', 'M'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;
constexpr size_t kSlotBytes = 16;

struct Slot {
  std::atomic<uint64_t> seq;
  std::atomic<uint32_t> attempt;
  std::atomic<uint32_t> check;
};
static_assert(sizeof(Slot) == kSlotBytes, "slot layout is the file format");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "stores must not take a lock");

uint32_t Check(uint64_t seq, uint32_t attempt) {
  uint64_t h = (seq ^ 0x6a6f626e65744d4bull) * 0x9E3779B97F4A7C15ull;
  uint32_t c = static_cast<uint32_t>(h >> 32) ^ (attempt * 0x85EBCA6Bu) ^ 0x4a4e524du;
  return c == 0 ? 1 : c;  // 0 means clear
}

Slot* SlotAt(void* map, uint32_t i) {
  return reinterpret_cast<Slot*>(static_cast<char*>(map) + kHeaderBytes + i * kSlotBytes);
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::Storage(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status RunMarks::Open(const std::string& dir, std::unique_ptr<RunMarks>* out) {
  std::string path = dir + "/run.marks";
  std::unique_ptr<RunMarks> m(new RunMarks());
  m->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m->fd_ < 0) return Errno("cannot open", path);
  struct stat st {};
  if (::fstat(m->fd_, &st) != 0) return Errno("cannot stat", path);

  // Read what the previous process left (a file of another size or version is read as far as
  // it is well formed; marks are only ever a hint that adds attempts).
  size_t old_bytes = static_cast<size_t>(st.st_size);
  if (old_bytes >= kHeaderBytes) {
    std::vector<char> buf(old_bytes);
    if (::pread(m->fd_, buf.data(), old_bytes, 0) != static_cast<ssize_t>(old_bytes))
      return Errno("cannot read", path);
    uint32_t version = 0, old_slots = 0;
    std::memcpy(&version, buf.data() + 4, 4);
    std::memcpy(&old_slots, buf.data() + 8, 4);
    if (std::memcmp(buf.data(), kMagic, 4) == 0 && version == kVersion) {
      old_slots = std::min<uint64_t>(old_slots, (old_bytes - kHeaderBytes) / kSlotBytes);
      for (uint32_t i = 0; i < old_slots; ++i) {
        const char* p = buf.data() + kHeaderBytes + i * kSlotBytes;
        RunMark mark;
        uint32_t check = 0;
        std::memcpy(&mark.seq, p, 8);
        std::memcpy(&mark.attempt, p + 8, 4);
        std::memcpy(&check, p + 12, 4);
        mark.slot = i;
        if (mark.seq != 0 && check == Check(mark.seq, mark.attempt)) m->left_.push_back(mark);
      }
    }
  }

  m->path_ = path;
  *out = std::move(m);
  return Status::OK();
}

Status RunMarks::Arm(uint32_t slots) {
  JOBNET_CHECK(slots >= 1 && map_ == nullptr);
  slots_ = slots;
  map_bytes_ = kHeaderBytes + static_cast<size_t>(slots) * kSlotBytes;
  if (::ftruncate(fd_, 0) != 0 || ::ftruncate(fd_, static_cast<off_t>(map_bytes_)) != 0)
    return Errno("cannot size", path_);
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    return Errno("cannot map", path_);
  }
  char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 4);
  std::memcpy(header + 4, &kVersion, 4);
  std::memcpy(header + 8, &slots, 4);
  std::memcpy(map_, header, kHeaderBytes);
  return Status::OK();
}

RunMarks::~RunMarks() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
  if (fd_ >= 0) ::close(fd_);
}

void RunMarks::Mark(uint32_t slot, uint64_t seq, uint32_t attempt) {
  JOBNET_CHECK(slot < slots_ && seq != 0);
  Slot* s = SlotAt(map_, slot);
  s->check.store(0, std::memory_order_relaxed);
  s->seq.store(seq, std::memory_order_relaxed);
  s->attempt.store(attempt, std::memory_order_relaxed);
  s->check.store(Check(seq, attempt), std::memory_order_release);
}

void RunMarks::Clear(uint32_t slot) {
  JOBNET_CHECK(slot < slots_);
  Slot* s = SlotAt(map_, slot);
  s->check.store(0, std::memory_order_release);
  s->seq.store(0, std::memory_order_relaxed);
}

RunMarks::StartedRuns RunMarks::Started(const std::vector<RunMark>& marks) {
  StartedRuns started;
  for (const auto& m : marks) started[m.seq] = std::max(started[m.seq], m.attempt);
  return started;
}

bool RunMarks::ApplyTo(const StartedRuns& started, protocol::Job* job) {
  if (started.empty()) return false;
  auto it = started.find(job->seq);
  if (it == started.end() || protocol::IsFinal(job->state) || it->second <= job->attempts)
    return false;
  job->attempts = it->second;
  job->state = protocol::JobState::kRunning;
  job->run_at_ms = 0;
  return true;
}

}  // namespace jobnet
