// Durable small files; see durable_file.hpp.
#include "storage/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace jobnet::storage {

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

Status ReplaceFileDurably(const std::string& path, const std::string& contents, mode_t mode) {
  const std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Storage("cannot write " + tmp + ": " + std::strerror(errno));
  const bool ok =
      ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::Storage("cannot write " + path + ": " + std::strerror(errno));
  SyncDir(std::filesystem::path(path).parent_path().string());
  return Status::OK();
}

}  // namespace jobnet::storage
