// Entry point of the `jobnet` binary (node, client commands, journal tool).
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "cluster/cli.hpp"

namespace {

// A node holds every unfinished job in memory (about 450 MiB for a million): with glibc's
// malloc on 4 KiB pages, faulting that heap in was a quarter of a 1M-job recovery. glibc reads
// its tunables only at process start, so `jobnet node` re-executes itself once with
// glibc.malloc.hugetlb=1 (malloc then asks for transparent huge pages with madvise): restart of
// a 1M-job journal 3.6 s -> 2.7 s here, same RSS (docs/benchmarks.md). JOBNET_NO_HUGEPAGES=1
// turns it off; if the re-exec fails the node simply runs on.
void PreferHugePagesForNode(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "node") != 0) return;
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

}  // namespace

int main(int argc, char** argv) {
  PreferHugePagesForNode(argc, argv);
  return jobnet::cli::Main(argc, argv);
}
