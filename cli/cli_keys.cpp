// `jobnet keys new FILE | show`, and the CURVE half of every client command's options
// (docs/operations.md "Securing a cluster").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/parse.hpp"
#include "cli/cli.hpp"
#include "cluster/local_cluster.hpp"
#include "jobnet/keys.h"

namespace jobnet::cli {
namespace {

std::string FlagOrEnv(const std::string& flag, const char* env) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(env);
  return v ? v : "";
}

// The endpoints and node keys of a cluster.json.
Status ReadClusterFile(const std::string& path, std::vector<std::string>* endpoints,
                       std::map<std::string, std::string>* keys) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open the cluster file " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("nodes") || !j["nodes"].is_array())
    return Status::InvalidArgument(path + " is not a cluster file (no \"nodes\" list)");
  for (const auto& n : j["nodes"]) {
    if (!n.is_object() || !n.contains("endpoint") || !n["endpoint"].is_string()) continue;
    const std::string ep = n["endpoint"].get<std::string>();
    endpoints->push_back(ep);
    if (n.contains("public_key") && n["public_key"].is_string()) {
      const std::string key = n["public_key"].get<std::string>();
      if (!IsZ85Key(key))
        return Status::InvalidArgument(path + ": the public key of " + ep + " is not Z85");
      (*keys)[ep] = key;
    }
  }
  return Status::OK();
}

}  // namespace

// With no key and no cluster file given: the newest local cluster this user started
// (`jobnet cluster up`) whose node at one of the endpoints runs now lends its admin key and its
// nodes' keys (a cluster that is down, or whose ports another node took since, lends nothing).
void FindLocalCluster(ClientOptions* o) {
  for (const auto& file : cluster::LocalCluster::Remembered()) {
    auto cl = cluster::LocalCluster::Load(std::filesystem::path(file).parent_path().string());
    if (!cl.ok()) continue;
    bool ours = false;
    for (const auto& node : cl.value().nodes())
      ours = ours || (std::find(o->endpoints.begin(), o->endpoints.end(), node.endpoint) !=
                          o->endpoints.end() &&
                      cl.value().Pid(node) != 0);
    if (!ours) continue;
    // Load read the admin key and the node keys; the cluster's client options carry them.
    ClientOptions lent = cl.value().ClientFor({}, o->request_timeout_ms);
    o->key = std::move(lent.key);
    o->server_keys = std::move(lent.server_keys);
    return;
  }
}

Status ClientSecurity(const ClientFlags& f, ClientOptions* o) {
  const std::string cluster = FlagOrEnv(f.cluster, "JOBNET_CLUSTER");
  const std::string key_given = FlagOrEnv(f.key, "JOBNET_KEY");
  if (cluster.empty() && key_given.empty() && f.server_key.empty()) {
    FindLocalCluster(o);
    return Status::OK();
  }
  if (!cluster.empty()) {
    std::vector<std::string> endpoints;
    if (Status s = ReadClusterFile(cluster, &endpoints, &o->server_keys); !s.ok()) return s;
    // The cluster's endpoints unless --to or $JOBNET_ENDPOINTS named others.
    const char* env = std::getenv("JOBNET_ENDPOINTS");
    if (f.to.empty() && (env == nullptr || *env == '\0') && !endpoints.empty())
      o->endpoints = endpoints;
  }
  if (!f.server_key.empty()) {
    if (!IsZ85Key(f.server_key))
      return Status::InvalidArgument("--server-key must be a CURVE public key in Z85 (40 "
                                     "characters)");
    for (const auto& ep : o->endpoints) o->server_keys[ep] = f.server_key;
  }
  const std::string key_file = FlagOrEnv(f.key, "JOBNET_KEY");
  if (!key_file.empty()) {
    auto key = ReadKeyFile(key_file);
    if (!key.ok()) return key.status();
    o->key = key.value();
  }
  return Status::OK();
}

std::function<int()> AddKeysCommands(CLI::App* app) {
  struct Flags {
    std::string file, data, key_file;
    bool json = false;
  };
  auto s = std::make_shared<Flags>();
  auto* keys = app->add_subcommand("keys", "CURVE keys: new FILE | show");
  keys->require_subcommand(1);
  auto* made = keys->add_subcommand("new", "make a key file (mode 0600) and print its public key");
  made->add_option("file", s->file, "where to write it (never overwritten)")->required();
  made->add_flag("--json", s->json, "one JSON object");
  auto* show = keys->add_subcommand("show", "print a node's public key (its key file is made at "
                                            "its first start with principals)");
  show->add_option("--data", s->data, "the node's data directory (its key: DATA/node.key)");
  show->add_option("--key-file", s->key_file, "a key file instead");
  show->add_flag("--json", s->json, "one JSON object");
  return [s, keys, made, show]() -> int {
    if (!*keys) return -1;
    auto print = [&](const std::string& file, const std::string& pub) {
      if (s->json)
        std::cout << nlohmann::json{{"file", file}, {"public_key", pub}}.dump() << "\n";
      else
        std::cout << "key file " << file << "\npublic key " << pub << "\n";
      return kExitOk;
    };
    if (*made) {
      auto k = NewCurveKeys();
      if (!k.ok()) return Fail(k.status());
      if (Status w = WriteKeyFile(s->file, k.value()); !w.ok()) return Fail(w);
      return print(s->file, k.value().public_key);
    }
    if (s->data.empty() == s->key_file.empty())
      return Fail(Status::InvalidArgument("give --data DIR or --key-file FILE"));
    const std::string file = s->key_file.empty() ? s->data + "/node.key" : s->key_file;
    auto k = ReadKeyFile(file);
    if (!k.ok()) return Fail(k.status());
    return print(file, k.value().public_key);
  };
}

std::function<int()> AddPrincipalsCommands(CLI::App* app, ClientFlags* f) {
  struct Flags {
    std::string name, key, scopes;
    std::vector<std::string> endpoints, types;
  };
  auto s = std::make_shared<Flags>();
  auto* cmd = app->add_subcommand(
      "principals", "who may talk to the nodes (scope admin): add NAME | remove NAME | list");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "add a principal on every node, at once and durably");
  add->add_option("name", s->name, "its name")->required();
  add->add_option("--key", s->key, "its CURVE public key (Z85; `jobnet keys new` prints it)")
      ->required();
  add->add_option("--scopes", s->scopes, "comma-separated: read, write, admin, worker, peer")
      ->required();
  add->add_option("--endpoint", s->endpoints,
                  "a node: an endpoint it listens on (repeat for each)");
  add->add_option("--types", s->types,
                  "with scope worker: the only job types it may serve (comma-separated; "
                  "default any)")
      ->delimiter(',');
  auto* remove = cmd->add_subcommand("remove", "remove a principal added with `add`");
  remove->add_option("name", s->name, "its name")->required();
  auto* list = cmd->add_subcommand("list", "the principals of the first node that answers");
  for (auto* sub : {add, remove, list}) AddClientFlags(sub, f);
  return [s, f, cmd, add, remove, list]() -> int {
    if (!*cmd) return -1;
    ClientOptions o;
    if (Status st = Options(*f, &o); !st.ok()) return Fail(st);
    Client::PrincipalInfo p{s->name, s->key, s->scopes, {}, {}, {}};
    p.endpoints = base::JoinCommas(s->endpoints);
    p.types = base::JoinCommas(s->types);
    const std::string action = *add ? "add" : *remove ? "remove" : "list";
    auto print = [&](const std::vector<Client::PrincipalInfo>& all) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& q : all) {
        if (f->json)
          std::cout << nlohmann::json{{"name", q.name}, {"key", q.key}, {"scopes", q.scopes},
                                      {"endpoints", q.endpoints}, {"origin", q.origin},
                                      {"types", q.types}}
                           .dump()
                    << "\n";
        else
          std::cout << q.name << "  " << q.scopes << "  " << q.origin << "  " << q.key
                    << (q.endpoints.empty() ? "" : "  " + q.endpoints)
                    << (q.types.empty() ? "" : "  types " + q.types) << "\n";
      }
    };
    // A change goes to every node (each keeps it in its data directory); a list comes from
    // the first that answers.
    const std::vector<std::string> targets =
        action == "list" ? std::vector<std::string>{} : o.endpoints;
    if (action == "list") {
      std::unique_ptr<Client> c;
      if (Status st = Client::Connect(o, &c); !st.ok()) return Fail(st);
      auto r = c->Principals("list");
      if (!r.ok()) return Fail(r.status());
      print(r.value());
      return kExitOk;
    }
    int rc = kExitOk;
    size_t done = 0;
    for (const auto& ep : targets) {
      std::unique_ptr<Client> c;
      Status st = Client::Connect(o.Narrowed(ep, o.request_timeout_ms), &c);
      Result<std::vector<Client::PrincipalInfo>> r =
          st.ok() ? c->Principals(action, p) : Result<std::vector<Client::PrincipalInfo>>(st);
      if (!r.ok()) {
        std::cerr << "jobnet: " << ep << ": " << r.status().ToString() << "\n";
        rc = std::max(rc, ExitCodeFor(r.status()));
        continue;
      }
      ++done;
    }
    std::cerr << "principal " << s->name << (action == "add" ? " added on " : " removed on ")
              << done << " of " << targets.size() << " nodes\n";
    return rc;
  };
}

}  // namespace jobnet::cli
