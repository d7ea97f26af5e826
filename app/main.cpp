// Entry point of the two binaries built from this file:
//  - `jobnet-node` (JOBNET_NODE_BINARY): the node runtime with every handler, and the whole
//    command line;
//  - `jobnet`: the command line without the node runtime. `jobnet node ...` executes
//    `jobnet-node node ...` from the same directory. A client command then loads 32 shared
//    libraries instead of 119 (libvips, libcurl and theirs): 0.03 s to start instead of 0.10 s,
//    which 50 `jobnet submit --wait` started at once on 2 cores felt as 2.2 s against 4.4 s.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/exit_codes.hpp"
#include "cli/cli.hpp"
#include "cluster/local_cluster.hpp"
#ifdef JOBNET_NODE_BINARY
#include "node/node.hpp"
#endif

namespace {

#ifdef JOBNET_NODE_BINARY

// A node holds every unfinished job in memory (about 450 MiB for a million): with glibc's
// malloc on 4 KiB pages, faulting that heap in was a quarter of a 1M-job recovery. glibc reads
// its tunables only at process start, so `jobnet node` re-executes itself once with
// glibc.malloc.hugetlb=1 (malloc then asks for transparent huge pages with madvise): restart of
// a 1M-job journal 3.6 s -> 2.7 s here, same RSS (docs/benchmarks.md). JOBNET_NO_HUGEPAGES=1
// turns it off; if the re-exec fails the node simply runs on.
void PreferHugePagesForNode(int argc, char** argv) {
  int command = 1;  // the first argument that is not an option (no global option takes a value)
  while (command < argc && argv[command][0] == '-') ++command;
  if (command >= argc || std::strcmp(argv[command], "node") != 0) return;
  if (std::getenv("JOBNET_NO_HUGEPAGES") != nullptr) return;
  // Once only, whatever glibc does with GLIBC_TUNABLES at start (it may rewrite the variable):
  // a marker of our own, not the tunable's text, says the re-exec happened.
  if (std::getenv("JOBNET_REEXECUTED") != nullptr) {
    ::unsetenv("JOBNET_REEXECUTED");  // not inherited by the node's own children (exec jobs)
    return;
  }
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string saved = current ? current : "";
  if (saved.find("glibc.malloc.hugetlb") != std::string::npos) return;  // the user chose
  std::string tunables = saved.empty() ? "glibc.malloc.hugetlb=1" : saved + ":glibc.malloc.hugetlb=1";
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  if (::setenv("JOBNET_REEXECUTED", "1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // Still here: exec failed (no /proc?). Run without it, and leave the environment as it was.
  ::unsetenv("JOBNET_REEXECUTED");
  if (current) ::setenv("GLIBC_TUNABLES", saved.c_str(), 1); else ::unsetenv("GLIBC_TUNABLES");
}

#else

// `jobnet node ...` runs as `jobnet-node node ...`: the one beside this binary, else on PATH.
// Reached only when exec fails: a clear error and the config exit code.
int ExecNodeBinary(char** argv) {
  const std::string self = jobnet::cluster::SelfExe();
  const std::string beside = self.substr(0, self.rfind('/') + 1) + "jobnet-node";
  argv[0] = const_cast<char*>("jobnet-node");
  int first = ENOENT;
  if (beside != "jobnet-node") {  // else /proc could not be read
    ::execv(beside.c_str(), argv);
    first = errno;
  }
  ::execvp("jobnet-node", argv);
  std::fprintf(stderr, "jobnet: cannot run the node binary %s (%s) or jobnet-node on PATH (%s)\n",
               beside.c_str(), std::strerror(first), std::strerror(errno));
  return jobnet::exit_code::kConfig;
}

// The command line as given, for RunNodeBinary.
char** g_argv = nullptr;

// `node` as the command line parser chose it, whatever came before it (global flags such as
// `jobnet --help node`): the parse that jobnet-node will repeat has succeeded, so run it there
// with the same arguments.
int RunNodeBinary(const jobnet::NodeConfig&) { return ExecNodeBinary(g_argv); }

#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef JOBNET_NODE_BINARY
  PreferHugePagesForNode(argc, argv);
  return jobnet::cli::Main(argc, argv, &jobnet::RunNode);
#else
  // `jobnet node` is recognised by the same parser as every other command (not by argv[1]),
  // so the two binaries accept the same command lines.
  g_argv = argv;
  return jobnet::cli::Main(argc, argv, &RunNodeBinary);
#endif
}
