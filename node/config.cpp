// Node configuration loading and validation.
#include "node/config.hpp"

#include <toml++/toml.h>

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "base/parse.hpp"
#include "http/gateway.hpp"
#include "jobnet/keys.h"
#include "jobnet/limits.h"
#include "protocol/messages.hpp"

namespace jobnet {

Status NodeConfig::Validate() const {
  using namespace limits;
  using std::to_string;
  if (!http.empty()) {
    std::string host;
    uint16_t port = 0;
    if (Status s = jobnet::http::ParseHostPort(http, &host, &port); !s.ok()) return s;
    // Secure by default: off loopback, the face is for the network, so it needs tokens.
    if (!jobnet::http::IsLoopbackHost(host) && http_tokens.empty() && !http_jwt.enabled() &&
        !insecure)
      return Status::InvalidArgument("the HTTP face on " + http +
                                     " is reachable beyond this machine: configure [[http.tokens]] "
                                     "or [http.jwt] (docs/http.md §7), listen on 127.0.0.1, or "
                                     "pass --insecure");
  }
  if (Status s = http::CheckJwtOptions(http_jwt); !s.ok()) return s;
  // Secure by default: a ZeroMQ endpoint beyond loopback needs principals (CURVE).
  for (const std::string* ep : {&listen, &replication_listen})
    if (!ep->empty() && !IsLoopbackEndpoint(*ep) && principals.empty() && !insecure)
      return Status::InvalidArgument(
          "the node listens on " + *ep +
          ", reachable beyond this machine, without keys: configure [[principals]] or "
          "principals_file (docs/operations.md \"Securing a cluster\"), listen on 127.0.0.1, "
          "or pass --insecure");
  if (principals.size() > kPrincipalsMax)
    return Status::InvalidArgument("at most " + to_string(kPrincipalsMax) + " principals");
  {
    std::set<std::string> names, keys;
    for (const auto& p : principals) {
      if (Status s = CheckPrincipal(p); !s.ok()) return s;
      if (!names.insert(p.name).second)
        return Status::InvalidArgument("principal " + p.name + " is listed twice");
      if (!keys.insert(p.key).second)
        return Status::InvalidArgument("principal " + p.name +
                                       "'s key is another principal's too");
    }
  }
  if (!protocol::IsValidName(id, kNodeIdBytesMax))
    return Status::InvalidArgument("node id must match " + protocol::NamePattern(kNodeIdBytesMax));
  if (workers < 1 || workers > kWorkersMax)
    return Status::InvalidArgument("workers must be 1.." + to_string(kWorkersMax));
  if ((autoscale_min != 0 || autoscale_max != 0) &&
      (autoscale_min < 1 || autoscale_min > autoscale_max || autoscale_max > kWorkersMax))
    return Status::InvalidArgument("autoscale_min and autoscale_max must be 1 <= min <= max <= " +
                                   to_string(kWorkersMax));
  if (autoscale_cpu_idle_pct > 100)
    return Status::InvalidArgument("autoscale_cpu_idle_pct must be 0..100");
  for (uint64_t ms : {autoscale_target_wait_ms, autoscale_quiet_ms})
    if (ms < kAutoscaleMsMin || ms > kAutoscaleMsMax)
      return Status::InvalidArgument("autoscale_target_wait and autoscale_quiet must be 10ms..24h");
  if (tick_ms < 1 || tick_ms > kTickMsMax)
    return Status::InvalidArgument("tick_ms must be 1.." + to_string(kTickMsMax));
  if (data.empty()) return Status::InvalidArgument("data directory is required");
  if (final_jobs_max < 1) return Status::InvalidArgument("final_jobs_max must be at least 1");
  if (events_max < kEventsKeptMin || events_max > kEventsKeptMax)
    return Status::InvalidArgument("events_max must be " + to_string(kEventsKeptMin) + ".." +
                                   to_string(kEventsKeptMax));
  if (running_write_delay_ms > kRunningWriteDelayMsMax)
    return Status::InvalidArgument("running_write_delay_ms must be 0.." +
                                   to_string(kRunningWriteDelayMsMax));
  if (result_linger_us > kResultLingerUsMax)
    return Status::InvalidArgument("result_linger_us must be 0.." + to_string(kResultLingerUsMax));
  if (held_mb_max < kHeldMbMin || held_mb_max > kHeldMbMax)
    return Status::InvalidArgument("held_mb_max must be " + to_string(kHeldMbMin) + ".." +
                                   to_string(kHeldMbMax));
  if (log_format != "text" && log_format != "json")
    return Status::InvalidArgument("log_format must be text or json");
  static const char* kLevels[] = {"trace", "debug",    "info", "warn", "warning",
                                  "error", "err",      "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok = level_ok || log_level == l;
  if (!level_ok)
    return Status::InvalidArgument(
        "log_level must be trace, debug, info, warn, error, critical or off");
  // An endpoint others can connect to as written: no wildcard host, no port 0.
  auto concrete = [](const std::string& ep) {
    return ep.find('*') == std::string::npos && ep.size() >= 2 &&
           ep.compare(ep.size() - 2, 2, ":0") != 0;
  };
  if (!advertise.empty() && (!IsTcpEndpoint(advertise) || advertise.size() > kEndpointBytesMax ||
                             !concrete(advertise)))
    return Status::InvalidArgument("bad advertise '" + advertise +
                                   "': want tcp://HOST:PORT, the endpoint peers reach this node at");
  if ((!peers.empty() || !etcd.empty()) && !concrete(Endpoint()))
    return Status::InvalidArgument("with peers or etcd, listen (or advertise) must be the exact "
                                   "endpoint the peers connect to (no * or port 0)");
  if (etcd.size() > kEtcdEndpointsMax)
    return Status::InvalidArgument("at most " + to_string(kEtcdEndpointsMax) + " etcd endpoints");
  for (const auto& e : etcd)
    if (e.rfind("http://", 0) != 0 || e.size() <= 7 || e.size() > kEndpointBytesMax)
      return Status::InvalidArgument("bad etcd endpoint '" + e + "': want http://HOST:PORT");
  if (!etcd.empty() && (cluster_name.empty() || cluster_name.size() > kNodeIdBytesMax ||
                        cluster_name.find('/') != std::string::npos))
    return Status::InvalidArgument("cluster_name must be 1.." + to_string(kNodeIdBytesMax) +
                                   " bytes without '/'");
  if ((!backups.empty() || !replication_listen.empty()) && etcd.empty())
    return Status::InvalidArgument("replication (backups, replication_listen) needs etcd: who "
                                   "holds a shard after a failure comes from its leases");
  if (backups.size() > kPeersMax)
    return Status::InvalidArgument("at most " + to_string(kPeersMax) + " backups");
  for (const auto& b : backups)
    if (!IsTcpEndpoint(b) || b == replication_listen || b == replication_advertise)
      return Status::InvalidArgument("bad backup endpoint '" + b + "': want tcp://HOST:PORT");
  if (!replication_listen.empty() &&
      (!IsTcpEndpoint(replication_listen) || replication_listen == listen))
    return Status::InvalidArgument("bad replication_listen '" + replication_listen +
                                   "': want tcp://HOST:PORT, not the node's own endpoint");
  if (!replication_advertise.empty() &&
      (replication_listen.empty() || !IsTcpEndpoint(replication_advertise) ||
       replication_advertise == listen))
    return Status::InvalidArgument("bad replication_advertise '" + replication_advertise +
                                   "': want tcp://HOST:PORT, with replication_listen");
  if (peers.size() > kPeersMax)
    return Status::InvalidArgument("at most " + to_string(kPeersMax) + " peers");
  for (const auto& p : peers)
    if (p.empty() || p.size() > kEndpointBytesMax || p == listen || p == advertise)
      return Status::InvalidArgument("bad peer endpoint '" + p + "'");
  if (heartbeat_ms < kHeartbeatMsMin || heartbeat_ms > kHeartbeatMsMax)
    return Status::InvalidArgument("heartbeat_ms must be " + to_string(kHeartbeatMsMin) + ".." +
                                   to_string(kHeartbeatMsMax));
  if (failure_timeout_ms > kFailureTimeoutMsMax)
    return Status::InvalidArgument("failure_timeout must be at most " +
                                   to_string(kFailureTimeoutMsMax) + " ms");
  if (grace_ms > kGraceMsMax)
    return Status::InvalidArgument("grace must be at most " + to_string(kGraceMsMax) + " ms");
  if (failure_timeout_ms < uint64_t{kFailureTimeoutBeatsMin} * heartbeat_ms)
    return Status::InvalidArgument("failure_timeout must be at least " +
                                   to_string(kFailureTimeoutBeatsMin) + " heartbeats (" +
                                   to_string(uint64_t{kFailureTimeoutBeatsMin} * heartbeat_ms) +
                                   " ms)");
  if (retention_ms > kRetentionMsMax)
    return Status::InvalidArgument("retention must be at most " + to_string(kRetentionMsMax) +
                                   " ms");
  for (const auto& [name, argv] : exec_allow)
    if (argv.empty()) return Status::InvalidArgument("exec.allow." + name + " has no command");
  if (auto allow = sched::CallbackAllowList::Parse(callbacks.allow); !allow.ok())
    return allow.status();
  if (callbacks.attempts < 1 || callbacks.attempts > kCallbackAttemptsMax)
    return Status::InvalidArgument("callbacks.attempts must be 1.." +
                                   to_string(kCallbackAttemptsMax));
  if (callbacks.backoff_ms > kCallbackBackoffMsMax || callbacks.backoff_max_ms > kCallbackBackoffMsMax)
    return Status::InvalidArgument("callbacks.backoff and backoff_max must be at most " +
                                   to_string(kCallbackBackoffMsMax) + " ms");
  if (callbacks.backoff_max_ms < callbacks.backoff_ms)
    return Status::InvalidArgument("callbacks.backoff_max must be at least callbacks.backoff");
  if (callbacks.timeout_ms < 1 || callbacks.timeout_ms > kCallbackTimeoutMsMax)
    return Status::InvalidArgument("callbacks.timeout must be 1.." +
                                   to_string(kCallbackTimeoutMsMax) + " ms");
  if (!callbacks.secret.empty() && !callbacks.secret_file.empty())
    return Status::InvalidArgument("give callbacks.secret or callbacks.secret_file, not both");
  if (blob_mb_max < 1 || blob_mb_max > (kBlobBytesMaxMax >> 20))
    return Status::InvalidArgument("blob_mb_max must be 1.." + to_string(kBlobBytesMaxMax >> 20));
  if (blob_grace_ms > kRetentionMsMax)
    return Status::InvalidArgument("blob_grace must be at most " + to_string(kRetentionMsMax) +
                                   " ms");
  if (image_pixels_max < 1) return Status::InvalidArgument("image_pixels_max must be at least 1");
  return Status::OK();
}

Status CheckPrincipal(const protocol::Principal& p) {
  using limits::kNodeIdBytesMax;
  using limits::kPrincipalEndpointsMax;
  if (!protocol::IsValidName(p.name, kNodeIdBytesMax))
    return Status::InvalidArgument("principal name '" + p.name.substr(0, 80) + "' must match " +
                                   protocol::NamePattern(kNodeIdBytesMax));
  if (!IsZ85Key(p.key))
    return Status::InvalidArgument("principal " + p.name +
                                   ": key must be a CURVE public key in Z85 (40 characters)");
  if (p.scopes == 0 || (p.scopes & ~protocol::kScopesAll) != 0)
    return Status::InvalidArgument("principal " + p.name + " has no scopes");
  if (p.endpoints.size() > kPrincipalEndpointsMax)
    return Status::InvalidArgument("principal " + p.name + ": at most " +
                                   std::to_string(kPrincipalEndpointsMax) + " endpoints");
  for (const auto& e : p.endpoints)
    if (!IsTcpEndpoint(e))
      return Status::InvalidArgument("principal " + p.name + ": bad endpoint '" +
                                     e.substr(0, 80) + "': want tcp://HOST:PORT");
  if (!p.types.empty() && !(p.scopes & protocol::kScopeWorker))
    return Status::InvalidArgument("principal " + p.name +
                                   ": types limit what a worker serves; it needs scope worker");
  if (p.types.size() > limits::kExternalTypesMax)
    return Status::InvalidArgument("principal " + p.name + ": at most " +
                                   std::to_string(limits::kExternalTypesMax) + " types");
  for (const auto& t : p.types)
    if (!protocol::IsValidName(t, limits::kTypeNameBytesMax))
      return Status::InvalidArgument("principal " + p.name + ": bad type '" + t.substr(0, 80) +
                                     "': must match " +
                                     protocol::NamePattern(limits::kTypeNameBytesMax));
  return Status::OK();
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) != 0) return true;  // ipc://, inproc://: this machine
  const std::string rest = endpoint.substr(6);
  const size_t colon = rest.rfind(':');
  std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return http::IsLoopbackHost(host);
}

bool IsTcpEndpoint(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 && endpoint.size() <= limits::kEndpointBytesMax;
}

Status LoadCallbackSecret(const NodeConfig& cfg, std::string* secret, std::string* where) {
  const CallbackConfig& c = cfg.callbacks;
  if (!c.secret.empty()) {
    *secret = c.secret;
    *where = "callbacks.secret in the config";
    return Status::OK();
  }
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    while (!out->empty() && (out->back() == '\n' || out->back() == '\r' || out->back() == ' '))
      out->pop_back();
    return true;
  };
  if (!c.secret_file.empty()) {
    if (!read(c.secret_file, secret) || secret->empty())
      return Status::InvalidArgument("callbacks.secret_file " + c.secret_file +
                                     " cannot be read or is empty");
    *where = c.secret_file;
    return Status::OK();
  }
  const std::string path = cfg.data + "/callback.secret";
  *where = path;
  if (read(path, secret) && !secret->empty()) return Status::OK();
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  secret->clear();
  for (int i = 0; i < 32; ++i) {
    unsigned v = rd() & 0xff;
    secret->push_back(kHex[v >> 4]);
    secret->push_back(kHex[v & 15]);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Status::Storage("cannot create " + path);
  std::string line = *secret + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::Storage("cannot write " + path);
  return Status::OK();
}

namespace {

// [http.jwt]: jwks, issuer, audience, leeway, refresh, scope_claim, [http.jwt.scopes].
Status ReadJwt(toml::node_view<toml::node> jwt, http::JwtOptions* o) {
  auto* jt = jwt.as_table();
  if (jt == nullptr) return Status::InvalidArgument("config key 'http.jwt' must be an [http.jwt] table");
  for (const auto& [key, value] : *jt) {
    const std::string k(key.str());
    if (k == "scopes") {
      auto* st = value.as_table();
      if (st == nullptr)
        return Status::InvalidArgument("http.jwt.scopes must be a table of \"provider scope\" = \"jobnet scopes\"");
      o->scope_map.clear();
      for (const auto& [name, to] : *st) {
        auto v = to.value<std::string>();
        if (!v) return Status::InvalidArgument("http.jwt.scopes values are strings (\"read,write\")");
        auto bits = protocol::ParseScopes(base::SplitCommas(*v));
        if (!bits.ok())
          return Status::InvalidArgument("http.jwt.scopes." + std::string(name.str()) + ": " +
                                         bits.status().message());
        o->scope_map[std::string(name.str())] = bits.value();
      }
      continue;
    }
    auto v = value.value<std::string>();
    if (!v) return Status::InvalidArgument("http.jwt." + k + " must be a string");
    if (k == "jwks") o->jwks = *v;
    else if (k == "issuer") o->issuer = *v;
    else if (k == "audience") o->audience = *v;
    else if (k == "scope_claim") o->scope_claim = *v;
    else if (k == "leeway" || k == "refresh") {
      auto ms = ParseDurationMs(*v);
      if (!ms.ok()) return Status::InvalidArgument("http.jwt." + k + ": " + ms.status().message());
      (k == "leeway" ? o->leeway_ms : o->refresh_ms) = ms.value();
    } else {
      return Status::InvalidArgument("unknown config key 'http.jwt." + k + "'");
    }
  }
  return Status::OK();
}

// `http = "ADDR:PORT"`, or an [http] table: listen, public, read_only, [[http.tokens]], [http.jwt].
Status ReadHttp(toml::table& t, NodeConfig* cfg) {
  if (auto h = t["http"]) {
    if (auto v = h.value<std::string>()) {
      cfg->http = *v;
    } else if (auto* ht = h.as_table()) {
      auto strings = [](toml::node_view<toml::node> n, const std::string& what,
                        std::vector<std::string>* out) -> Status {
        auto* arr = n.as_array();
        if (arr == nullptr) return Status::InvalidArgument(what + " must be an array of strings");
        out->clear();
        for (const auto& el : *arr) {
          auto v = el.value<std::string>();
          if (!v) return Status::InvalidArgument(what + " must be an array of strings");
          out->push_back(*v);
        }
        return Status::OK();
      };
      toml::node_view<toml::node> view{*ht};
      if (auto l = view["listen"]) {
        auto v = l.value<std::string>();
        if (!v) return Status::InvalidArgument("config key 'http.listen' must be a string");
        cfg->http = *v;
      }
      if (auto p = view["public"]) {
        if (Status ps = strings(p, "http.public", &cfg->http_public); !ps.ok()) return ps;
      }
      if (auto ro = view["read_only"]) {
        auto v = ro.value<bool>();
        if (!v) return Status::InvalidArgument("config key 'http.read_only' must be a boolean");
        cfg->http_read_only = *v;
      }
      if (auto jwt = view["jwt"]) {
        if (Status js = ReadJwt(jwt, &cfg->http_jwt); !js.ok()) return js;
      }
      if (auto tokens = view["tokens"]) {
        auto* arr = tokens.as_array();
        if (arr == nullptr) return Status::InvalidArgument("http.tokens must be [[http.tokens]] tables");
        cfg->http_tokens.clear();
        for (auto& el : *arr) {
          auto* tt = el.as_table();
          if (tt == nullptr) return Status::InvalidArgument("http.tokens must be [[http.tokens]] tables");
          toml::node_view<toml::node> tv{*tt};
          std::vector<std::string> scopes;
          if (Status ss = strings(tv["scopes"], "http.tokens.scopes", &scopes); !ss.ok()) return ss;
          auto token = http::MakeToken(tv["name"].value_or(std::string()),
                                       tv["sha256"].value_or(std::string()), scopes);
          if (!token.ok()) return token.status();
          cfg->http_tokens.push_back(token.value());
        }
        if (cfg->http_tokens.size() > limits::kHttpTokensMax)
          return Status::InvalidArgument("at most " + std::to_string(limits::kHttpTokensMax) +
                                         " HTTP tokens");
      }
    } else {
      return Status::InvalidArgument("config key 'http' must be \"ADDR:PORT\" or an [http] table");
    }
  }
  return Status::OK();
}

// The [[principals]] tables of a config or principals file, appended to *out: each has a name,
// scopes and credentials: a CURVE public key (`key`, for ZeroMQ), the SHA-256 of an HTTP token
// (`token_sha256`, appended to *tokens as an HTTP token of the same scopes), or both.
Status ReadPrincipals(toml::table& t, std::vector<protocol::Principal>* out,
                      std::vector<http::Token>* tokens) {
  auto node = t["principals"];
  if (!node) return Status::OK();
  auto* arr = node.as_array();
  const Status bad = Status::InvalidArgument(
      "principals must be [[principals]] tables of name, key and/or token_sha256, scopes and "
      "endpoints");
  if (arr == nullptr) return bad;
  for (auto& el : *arr) {
    auto* pt = el.as_table();
    if (pt == nullptr) return bad;
    toml::node_view<toml::node> v{*pt};
    protocol::Principal p;
    p.name = v["name"].value_or(std::string());
    p.key = v["key"].value_or(std::string());
    const std::string token_sha256 = v["token_sha256"].value_or(std::string());
    auto strings = [&](const char* key, std::vector<std::string>* to) -> Status {
      auto n = v[key];
      if (!n) return Status::OK();
      auto* a = n.as_array();
      if (a == nullptr) return bad;
      for (const auto& s : *a) {
        auto str = s.value<std::string>();
        if (!str) return bad;
        to->push_back(*str);
      }
      return Status::OK();
    };
    std::vector<std::string> scopes;
    if (Status s = strings("scopes", &scopes); !s.ok()) return s;
    if (Status s = strings("endpoints", &p.endpoints); !s.ok()) return s;
    if (Status s = strings("types", &p.types); !s.ok()) return s;
    auto bits = protocol::ParseScopes(scopes);
    if (!bits.ok())
      return Status::InvalidArgument("principal " + p.name.substr(0, 80) + ": " +
                                     bits.status().message());
    p.scopes = bits.value();
    if (!token_sha256.empty()) {
      if (tokens == nullptr)
        return Status::InvalidArgument("principal " + p.name.substr(0, 80) +
                                       ": token_sha256 is not taken here (a key only)");
      auto token = http::MakeToken(p.name, token_sha256, p.scopes);
      if (!token.ok()) return token.status();
      tokens->push_back(token.value());
      if (tokens->size() > limits::kHttpTokensMax)
        return Status::InvalidArgument("at most " + std::to_string(limits::kHttpTokensMax) +
                                       " HTTP tokens");
      if (p.key.empty()) continue;  // an HTTP-only principal
    }
    out->push_back(std::move(p));
    if (out->size() > limits::kPrincipalsMax)
      return Status::InvalidArgument("at most " + std::to_string(limits::kPrincipalsMax) +
                                     " principals");
  }
  return Status::OK();
}

// The [callbacks] table (docs/operations.md "Callbacks").
Status ReadCallbacks(toml::table& t, NodeConfig* cfg) {
  if (auto cb = t["callbacks"]) {
    auto* ct = cb.as_table();
    if (ct == nullptr) return Status::InvalidArgument("config key 'callbacks' must be a [callbacks] table");
    toml::node_view<toml::node> v{*ct};
    CallbackConfig& c = cfg->callbacks;
    if (auto allow = v["allow"]) {
      auto* arr = allow.as_array();
      if (arr == nullptr) return Status::InvalidArgument("callbacks.allow must be an array of strings");
      c.allow.clear();
      for (const auto& el : *arr) {
        auto s = el.value<std::string>();
        if (!s) return Status::InvalidArgument("callbacks.allow must be an array of strings");
        c.allow.push_back(*s);
      }
    }
    for (auto [key, out] : {std::pair<const char*, std::string*>{"secret", &c.secret},
                            {"secret_file", &c.secret_file}}) {
      if (auto n = v[key]) {
        auto s = n.value<std::string>();
        if (!s) return Status::InvalidArgument(std::string("callbacks.") + key + " must be a string");
        *out = *s;
      }
    }
    if (auto n = v["attempts"]) {
      auto a = n.value<int64_t>();
      if (!a || *a < 1 || *a > limits::kCallbackAttemptsMax)
        return Status::InvalidArgument("callbacks.attempts must be 1.." +
                                       std::to_string(limits::kCallbackAttemptsMax));
      c.attempts = static_cast<uint32_t>(*a);
    }
    for (auto [key, out] : {std::pair<const char*, uint64_t*>{"backoff", &c.backoff_ms},
                            {"backoff_max", &c.backoff_max_ms},
                            {"timeout", &c.timeout_ms}}) {
      if (auto n = v[key]) {
        auto s = n.value<std::string>();
        if (!s) return Status::InvalidArgument(std::string("callbacks.") + key +
                                               " must be a duration such as \"2s\"");
        auto ms = ParseDurationMs(*s);
        if (!ms.ok()) return Status::InvalidArgument(std::string("callbacks.") + key + ": " + ms.status().message());
        *out = ms.value();
      }
    }
  }
  return Status::OK();
}

// What handlers may run and reach: [exec.allow] and [http_request].
Status ReadHandlerAllowLists(toml::table& t, NodeConfig* cfg) {
  if (auto allow = t["exec"]["allow"].as_table()) {
    for (const auto& [name, node] : *allow) {
      auto* arr = node.as_array();
      if (arr == nullptr)
        return Status::InvalidArgument("exec.allow." + std::string(name.str()) +
                                       " must be an array of strings");
      std::vector<std::string> argv;
      for (const auto& el : *arr) {
        auto v = el.value<std::string>();
        if (!v)
          return Status::InvalidArgument("exec.allow." + std::string(name.str()) +
                                         " must be an array of strings");
        argv.push_back(*v);
      }
      cfg->exec_allow[std::string(name.str())] = std::move(argv);
    }
  }
  if (auto hr = t["http_request"].as_table()) {
    if (auto* allow = (*hr)["allow"].as_array()) {
      for (const auto& el : *allow) {
        auto v = el.value<std::string>();
        if (!v || v->empty())
          return Status::InvalidArgument("http_request.allow must be an array of host names");
        cfg->http_request_allow.push_back(*v);
      }
    } else if ((*hr).contains("allow")) {
      return Status::InvalidArgument("http_request.allow must be an array of host names");
    }
    if (auto loopback = (*hr)["loopback"]; loopback) {
      auto v = loopback.value<bool>();
      if (!v) return Status::InvalidArgument("http_request.loopback must be true or false");
      cfg->http_request_loopback = *v;
    }
  }
  return Status::OK();
}

}  // namespace

Status LoadConfigFile(const std::string& path, NodeConfig* cfg) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config " + path + ": " + std::string(e.description()));
  }
  auto str = [&](const char* key, std::string* out) -> Status {
    if (auto node = t[key]) {
      auto v = node.value<std::string>();
      if (!v) return Status::InvalidArgument(std::string("config key '") + key + "' must be a string");
      *out = *v;
    }
    return Status::OK();
  };
  auto num = [&](const char* key, auto* out) -> Status {
    if (auto node = t[key]) {
      auto v = node.value<int64_t>();
      using T = std::decay_t<decltype(*out)>;
      if (!v || *v < 0 || static_cast<uint64_t>(*v) > std::numeric_limits<T>::max())
        return Status::InvalidArgument(std::string("config key '") + key +
                                       "' must be a non-negative integer in range");
      *out = static_cast<std::decay_t<decltype(*out)>>(*v);
    }
    return Status::OK();
  };
  // A duration ("250ms", "30s", "1h") into milliseconds; absent or empty keeps the default.
  auto duration = [&](const char* key, uint64_t* out_ms) -> Status {
    std::string text;
    if (Status st = str(key, &text); !st.ok() || text.empty()) return st;
    auto ms = ParseDurationMs(text);
    if (!ms.ok())
      return Status::InvalidArgument(std::string("config key '") + key + "': " + ms.status().message());
    *out_ms = ms.value();
    return Status::OK();
  };
  Status s;
  if (!(s = str("id", &cfg->id)).ok()) return s;
  if (!(s = str("listen", &cfg->listen)).ok()) return s;
  if (!(s = str("advertise", &cfg->advertise)).ok()) return s;
  if (!(s = ReadHttp(t, cfg)).ok()) return s;
  if (!(s = str("data", &cfg->data)).ok()) return s;
  if (!(s = str("log_level", &cfg->log_level)).ok()) return s;
  if (!(s = str("log_format", &cfg->log_format)).ok()) return s;
  if (!(s = num("workers", &cfg->workers)).ok()) return s;
  if (!(s = num("autoscale_min", &cfg->autoscale_min)).ok()) return s;
  if (!(s = num("autoscale_max", &cfg->autoscale_max)).ok()) return s;
  if (!(s = num("autoscale_cpu_idle_pct", &cfg->autoscale_cpu_idle_pct)).ok()) return s;
  if (!(s = duration("autoscale_target_wait", &cfg->autoscale_target_wait_ms)).ok()) return s;
  if (!(s = duration("autoscale_quiet", &cfg->autoscale_quiet_ms)).ok()) return s;
  if (!(s = num("tick_ms", &cfg->tick_ms)).ok()) return s;
  if (!(s = num("grace_ms", &cfg->grace_ms)).ok()) return s;
  if (!(s = num("final_jobs_max", &cfg->final_jobs_max)).ok()) return s;
  if (!(s = num("heartbeat_ms", &cfg->heartbeat_ms)).ok()) return s;
  if (!(s = num("held_mb_max", &cfg->held_mb_max)).ok()) return s;
  if (!(s = num("events_max", &cfg->events_max)).ok()) return s;
  if (!(s = num("running_write_delay_ms", &cfg->running_write_delay_ms)).ok()) return s;
  if (!(s = num("result_linger_us", &cfg->result_linger_us)).ok()) return s;
  if (!(s = num("blob_mb_max", &cfg->blob_mb_max)).ok()) return s;
  if (!(s = num("image_pixels_max", &cfg->image_pixels_max)).ok()) return s;
  if (!(s = duration("blob_grace", &cfg->blob_grace_ms)).ok()) return s;
  if (!(s = duration("failure_timeout", &cfg->failure_timeout_ms)).ok()) return s;
  if (!(s = str("cluster_name", &cfg->cluster_name)).ok()) return s;
  if (!(s = str("replication_listen", &cfg->replication_listen)).ok()) return s;
  if (!(s = str("replication_advertise", &cfg->replication_advertise)).ok()) return s;
  // A list of strings, replacing the default when present.
  auto strings = [&](const char* key, const char* what, std::vector<std::string>* out) -> Status {
    auto node = t[key];
    if (!node) return Status::OK();
    const auto* arr = node.as_array();
    const std::string bad = std::string(key) + " must be an array of " + what;
    if (arr == nullptr) return Status::InvalidArgument(bad);
    out->clear();
    for (const auto& el : *arr) {
      auto v = el.value<std::string>();
      if (!v) return Status::InvalidArgument(bad);
      out->push_back(*v);
    }
    return Status::OK();
  };
  if (!(s = strings("etcd", "URLs", &cfg->etcd)).ok()) return s;
  if (!(s = strings("peers", "endpoints", &cfg->peers)).ok()) return s;
  if (!(s = strings("backups", "endpoints", &cfg->backups)).ok()) return s;
  if (!(s = duration("retention", &cfg->retention_ms)).ok()) return s;
  if (!(s = ReadCallbacks(t, cfg)).ok()) return s;
  if (!(s = ReadPrincipals(t, &cfg->principals, &cfg->http_tokens)).ok()) return s;
  if (!(s = str("principals_file", &cfg->principals_file)).ok()) return s;
  if (!(s = str("key_file", &cfg->key_file)).ok()) return s;
  if (auto ins = t["insecure"]) {
    auto b = ins.value<bool>();
    if (!b) return Status::InvalidArgument("config key 'insecure' must be true or false");
    cfg->insecure = *b;
  }
  if (!(s = ReadHandlerAllowLists(t, cfg)).ok()) return s;
  return Status::OK();
}

Status LoadPrincipalsFile(const std::string& path, std::vector<protocol::Principal>* out,
                          std::vector<http::Token>* tokens) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("principals file " + path + ": " +
                                   std::string(e.description()));
  }
  if (Status s = ReadPrincipals(t, out, tokens); !s.ok())
    return Status::InvalidArgument("principals file " + path + ": " + s.message());
  return Status::OK();
}

}  // namespace jobnet
