// A cluster of jobnet nodes on this machine's loopback, for development, demos and the chaos
// test: `jobnet cluster up|status|kill|restart|down`. Nodes run detached from the terminal;
// each has its data dir, log and pid file under the cluster directory, and cluster.json
// records how to start each one again. Nodes a tool starts for its own run (the chaos tool)
// can be tied to it instead: they die with it, however it dies.
#ifndef JOBNET_CLUSTER_LOCAL_CLUSTER_HPP_
#define JOBNET_CLUSTER_LOCAL_CLUSTER_HPP_

#include <sys/types.h>

#include <string>
#include <vector>

#include "jobnet/client.h"
#include "jobnet/keys.h"
#include "jobnet/status.h"

namespace jobnet::cluster {

// The path of the running executable (from /proc/self/exe), or "jobnet" if it cannot be read.
std::string SelfExe();

struct LocalNode {
  std::string id;
  std::string endpoint;
  std::string http;  // "127.0.0.1:PORT" of its HTTP face, empty = none
  std::string data;
  std::string log;
  std::vector<std::string> args;  // the `jobnet node ...` arguments
  std::string exe;  // empty: the cluster's jobnet; else another program (the cluster's etcd)
  std::string public_key;  // its CURVE public key (Z85); its keypair is DIR/<id>.key
};

// With LocalCluster::Up(..., proxied): a loopback port the nemesis suite runs a TcpProxy on,
// forwarding to `target_port`. `what` is "replication" (node's replication endpoint, as its
// primaries reach it) or "etcd" (etcd, as node reaches it).
struct ProxyRoute {
  std::string node;
  std::string what;
  int listen_port = 0;
  int target_port = 0;
};

class LocalCluster {
 public:
  // Loads the cluster recorded in `dir` (kNotFound if there is none).
  static Result<LocalCluster> Load(const std::string& dir);
  // Creates n nodes n1..nN on ports base_port.., each the others' peer, records them in `dir`
  // and starts them; waits until every node answers. kInvalidArgument if `dir` already has a
  // running cluster.
  // `exe` is the jobnet binary to run (default: this process's own executable).
  // `tied`: every node this LocalCluster starts (now or by Start) gets SIGKILL when this process
  // ends, SIGKILL included (PR_SET_PDEATHSIG); otherwise nodes outlive it (`jobnet cluster up`).
  // Each node is waited for up to kStartWaitMs (see Start).
  // `replicas` > 1: copies of each node's journal (docs/failover.md): an etcd is started first
  // (Debian etcd-server, from PATH), and node i ships its journal to the next replicas - 1
  // nodes. Ports: nodes from base_port, their replication endpoints after them, then etcd's
  // client and peer ports.
  // Secure: a keypair per node (DIR/<id>.key, beside its data directory so that a wiped one
  // keeps its key) and an admin key (DIR/admin.key: read, write, admin, worker), all in
  // DIR/principals.toml, which every node is started with (docs/operations.md §21). Kept
  // from an earlier `up` in the same DIR.
  // `proxied` (with replicas > 1): each node's replication endpoint and its way to etcd go
  // through a port of ProxyRoutes(n, base_port) instead (after etcd's ports), where the caller
  // runs a proxy, started before Up: node i is started with --replication-advertise and --etcd
  // on its proxy ports.
  static Result<LocalCluster> Up(const std::string& dir, int n, int base_port, int workers,
                                 const std::vector<std::string>& extra_args,
                                 const std::string& exe = "", int http_base_port = 0,
                                 bool tied = false, int replicas = 1, bool proxied = false);

  static constexpr int kStartWaitMs = 60000;
  // How long Start waits for a spawned child to exec the node (its cmdline to become the node's).
  static constexpr int kExecWaitMs = 10000;

  const std::vector<LocalNode>& nodes() const { return nodes_; }
  // Client options for `endpoints` with the cluster's admin key and its nodes' keys.
  ClientOptions ClientFor(std::vector<std::string> endpoints, uint32_t timeout_ms) const;
  std::vector<std::string> endpoints() const;
  // A node by id; "etcd" names the cluster's etcd, if it has one.
  const LocalNode* Find(const std::string& id) const;
  const LocalNode* etcd() const { return etcd_.id.empty() ? nullptr : &etcd_; }
  // The proxies a cluster of n nodes from base_port made with `proxied` expects: for each
  // node, its replication endpoint and its way to etcd.
  static std::vector<ProxyRoute> ProxyRoutes(int n, int base_port);

  // The cluster files of the local clusters this user started (`up` adds each to
  // $HOME/.config/jobnet/local-clusters), newest first, those still on disk only: how a client
  // given no key and no cluster file finds the admin key of a cluster it was started beside
  // (docs/operations.md §21), as a kubeconfig does.
  static std::vector<std::string> Remembered();

  pid_t Pid(const LocalNode& node) const;  // 0 if not running
  // Starts the node and waits up to wait_ms for it to answer (0: does not wait). The default is
  // generous: on two busy cores a start that opens RocksDB beside a node fsyncing all the time
  // has taken over 15 s; the bound is there to end a hang, not to time a start.
  Status Start(const LocalNode& node, int wait_ms = kStartWaitMs) const;
  Status Kill(const LocalNode& node, int sig) const;  // waits until the process is gone
  // SIGTERM all nodes, SIGKILL past grace; then the etcd (nodes give their shards up in it).
  Status Down(int grace_ms) const;

 private:
  std::string dir_;
  std::string exe_;
  std::vector<LocalNode> nodes_;
  LocalNode etcd_;  // id empty: none
  bool tied_ = false;
  CurveKeys admin_;  // DIR/admin.key; empty for a cluster recorded before keys
};

}  // namespace jobnet::cluster

#endif  // JOBNET_CLUSTER_LOCAL_CLUSTER_HPP_
