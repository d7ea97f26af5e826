// CURVE keys (docs/operations.md "Securing a cluster"): a node's keypair, made at its first
// start in its data directory, and a client's, made with `jobnet keys new FILE`. A key file
// holds both halves as Z85 text (40 characters each), one per line:
//
//   public <Z85>
//   secret <Z85>
//
// and is written mode 0600. Only the public half is ever printed or configured elsewhere.
#ifndef JOBNET_KEYS_H_
#define JOBNET_KEYS_H_

#include <string>

#include "jobnet/status.h"

namespace jobnet {

struct CurveKeys {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; never logged
  bool empty() const { return public_key.empty(); }
};

// A fresh keypair (libzmq's, from libsodium), whose public key does not start with '-'.
// kInternal if libzmq was built without CURVE.
Result<CurveKeys> NewCurveKeys();
// Whether `z85` is a CURVE public (or secret) key as Z85 text: 40 characters of Z85's alphabet.
bool IsZ85Key(const std::string& z85);
// Reads a key file. kNotFound if it does not exist; kInvalidArgument naming the file if it is
// not a key file or its halves do not match; never echoes the secret.
Result<CurveKeys> ReadKeyFile(const std::string& path);
// Writes a new key file, mode 0600, synced. kConflict if `path` exists (a key is never
// overwritten); kStorage if it cannot be written.
Status WriteKeyFile(const std::string& path, const CurveKeys& keys);
// The key file at `path`, made with a new keypair if it does not exist yet.
Result<CurveKeys> LoadOrMakeKeyFile(const std::string& path);

}  // namespace jobnet

#endif  // JOBNET_KEYS_H_
