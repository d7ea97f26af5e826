// CURVE key files; see include/jobnet/keys.h.
#include "jobnet/keys.h"

#include <fcntl.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace jobnet {

Result<CurveKeys> NewCurveKeys() {
  char pub[41] = {0}, sec[41] = {0};
  // A public key never starts with '-' (one in 85 would), so that it can follow a flag on a
  // command line (`principals add NAME --key KEY`) without being read as one.
  do {
    if (zmq_curve_keypair(pub, sec) != 0)
      return Status::Internal(std::string("cannot make a CURVE keypair: ") +
                              zmq_strerror(zmq_errno()) + " (libzmq without libsodium?)");
  } while (pub[0] == '-');
  return CurveKeys{pub, sec};
}

bool IsZ85Key(const std::string& z85) {
  static const char kAlphabet[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (z85.size() != 40) return false;
  for (char c : z85)
    if (c == '\0' || std::strchr(kAlphabet, c) == nullptr) return false;
  return true;
}

Result<CurveKeys> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no key file at " + path);
  CurveKeys k;
  std::string line;
  int lines = 0;
  while (std::getline(in, line) && ++lines <= 16) {
    std::istringstream ls(line);
    std::string what, value, extra;
    ls >> what >> value >> extra;
    if (what.empty() || what[0] == '#') continue;
    if (!extra.empty() || !IsZ85Key(value) || (what != "public" && what != "secret"))
      return Status::InvalidArgument(path + " is not a jobnet key file (want lines 'public "
                                            "<Z85>' and 'secret <Z85>')");
    (what == "public" ? k.public_key : k.secret_key) = value;
  }
  if (k.public_key.empty() || k.secret_key.empty())
    return Status::InvalidArgument(path + " lacks its " +
                                   (k.public_key.empty() ? "public" : "secret") + " key");
  char derived[41] = {0};
  if (zmq_curve_public(derived, k.secret_key.c_str()) != 0 || k.public_key != derived)
    return Status::InvalidArgument(path + ": its public key is not the one of its secret key");
  return k;
}

Status WriteKeyFile(const std::string& path, const CurveKeys& keys) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno == EEXIST ? Status::Conflict(path + " exists: a key is never overwritten")
                           : Status::Storage("cannot create " + path + ": " + std::strerror(errno));
  const std::string text = "# jobnet CURVE key: keep the secret line secret\npublic " +
                           keys.public_key + "\nsecret " + keys.secret_key + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::Storage("cannot write " + path);
  return Status::OK();
}

Result<CurveKeys> LoadOrMakeKeyFile(const std::string& path) {
  auto k = ReadKeyFile(path);
  if (!k.status().IsNotFound()) return k;
  auto made = NewCurveKeys();
  if (!made.ok()) return made;
  Status w = WriteKeyFile(path, made.value());
  if (w.IsConflict()) return ReadKeyFile(path);  // made meanwhile by another process
  if (!w.ok()) return w;
  return made;
}

}  // namespace jobnet
