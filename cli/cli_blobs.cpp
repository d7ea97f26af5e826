// `jobnet blob put FILE`, `jobnet blob get HASH --out FILE` and `jobnet result ID [--out FILE]`:
// blobs on a node, and a job's result (its result blob's bytes, or its plain result). Data on
// stdout (the hash; JSON lines with --json), diagnostics on stderr, exit codes as every other
// command (base/exit_codes.hpp).
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"

namespace jobnet::cli {
namespace {

struct BlobFlags {
  ClientFlags client;
  std::string file;  // put: the file to store
  std::string hash;  // get
  std::string id;    // result
  std::string out;   // get, result: where the bytes go ("-": stdout)
};

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot open " + path);
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument("cannot read " + path);
  return Status::OK();
}

Status WriteFile(const std::string& path, const std::string& data) {
  if (path == "-") {
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return std::cout ? Status::OK() : Status::Storage("cannot write to stdout");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (out) out.close();
  if (!out) return Status::Storage("cannot write " + path);
  return Status::OK();
}

int RunPut(const BlobFlags& f) {
  std::string data;
  if (Status s = ReadFile(f.file, &data); !s.ok()) return Fail(s);
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  auto r = client->PutBlob(data);
  if (!r.ok()) return Fail(r.status());
  if (f.client.json) {
    nlohmann::json o{{"hash", r.value()}, {"size", data.size()}, {"node", client->endpoint()}};
    std::cout << o.dump() << "\n";
  } else {
    std::cout << r.value() << "\n";
  }
  return kExitOk;
}

// Fetches blob `hash` (`job`: the job whose result it is, for forwarding) into f.out.
int FetchTo(Client& client, const std::string& hash, const std::string& job, const BlobFlags& f) {
  auto r = client.GetBlob(hash, job);
  if (!r.ok()) return Fail(r.status());
  if (Status s = WriteFile(f.out, r.value()); !s.ok()) return Fail(s);
  if (f.out == "-") return kExitOk;  // stdout holds the bytes: nothing else goes there
  if (f.client.json) {
    nlohmann::json o{{"hash", hash}, {"size", r.value().size()}, {"out", f.out}};
    if (!job.empty()) o["id"] = job;
    std::cout << o.dump() << "\n";
  } else {
    std::cout << f.out << ": " << r.value().size() << " bytes (blob " << hash << ")\n";
  }
  return kExitOk;
}

int RunGet(const BlobFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  return FetchTo(*client, f.hash, "", f);
}

int RunResult(const BlobFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  auto job = client->GetStatus(f.id);
  if (!job.ok()) return Fail(job.status());
  if (job.value().state != JobState::kSucceeded)
    return Fail(Status::Conflict("job " + f.id + " is " + JobStateName(job.value().state) +
                                 ": only a succeeded job has a result"));
  nlohmann::json result = MsgpackToJson(job.value().result);
  // A result that names a blob ({"blob": "<sha256>", ...}) stands for that blob's bytes.
  if (result.is_object() && result.contains("blob") && result["blob"].is_string() &&
      !f.out.empty())
    return FetchTo(*client, result["blob"].get<std::string>(), f.id, f);
  std::string text = result.dump(-1, ' ', false, kInvalidUtf8Replaced) + "\n";
  if (f.out.empty() || f.out == "-") {
    std::cout << text;
    return kExitOk;
  }
  if (Status s = WriteFile(f.out, text); !s.ok()) return Fail(s);
  return kExitOk;
}

}  // namespace

std::function<int()> AddBlobCommands(CLI::App* app) {
  auto f = std::make_shared<BlobFlags>();
  auto* blob = app->add_subcommand("blob", "content-addressed blobs on a node: put, get");
  blob->require_subcommand(1);
  auto* put = blob->add_subcommand("put", "store FILE as a blob; prints its SHA-256 (its name)");
  put->add_option("file", f->file, "the file to store")->required();
  AddClientFlags(put, &f->client);
  auto* get = blob->add_subcommand("get", "fetch a blob by its SHA-256");
  get->add_option("hash", f->hash, "the blob's SHA-256")->required();
  get->add_option("--out", f->out, "write the bytes to FILE (- = stdout)")->required();
  AddClientFlags(get, &f->client);
  auto* result = app->add_subcommand(
      "result", "a succeeded job's result: with --out, its result blob's bytes (or its result JSON)");
  result->add_option("id", f->id, "job id")->required();
  result->add_option("--out", f->out, "write to FILE (- = stdout) instead of printing the JSON");
  AddClientFlags(result, &f->client);
  return [f, put, get, result]() {
    if (*put) return RunPut(*f);
    if (*get) return RunGet(*f);
    if (*result) return RunResult(*f);
    return -1;
  };
}

}  // namespace jobnet::cli
