// submit_one ENDPOINT: submits one echo job through the installed jobnet client library, waits
// for it and prints "<id> <state> <result bytes as hex>". Exit 0 only if it succeeded with the
// payload back.
#include <cstdio>
#include <memory>
#include <string>

#include "jobnet/client.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: submit_one ENDPOINT\n");
    return 2;
  }
  jobnet::ClientOptions options;
  options.endpoints = {argv[1]};
  std::unique_ptr<jobnet::Client> client;
  jobnet::Status s = jobnet::Client::Connect(options, &client);
  if (!s.ok()) {
    std::fprintf(stderr, "connect: %s\n", s.ToString().c_str());
    return 1;
  }
  jobnet::JobSpec spec;
  spec.type = "echo";
  spec.payload = std::string("\xa9installed", 10);  // msgpack: the string "installed"
  auto submitted = client->Submit(spec);
  if (!submitted.ok()) {
    std::fprintf(stderr, "submit: %s\n", submitted.status().ToString().c_str());
    return 1;
  }
  auto job = client->Wait(submitted.value().id, 30000);
  if (!job.ok()) {
    std::fprintf(stderr, "wait: %s\n", job.status().ToString().c_str());
    return 1;
  }
  std::string hex;
  for (unsigned char c : job.value().result) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  std::printf("%s %s %s\n", job.value().id.c_str(), jobnet::JobStateName(job.value().state),
              hex.c_str());
  return job.value().state == jobnet::JobState::kSucceeded && job.value().result == spec.payload
             ? 0
             : 1;
}
