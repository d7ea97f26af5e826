// Entry point of the `jobnet` binary (node, client commands, journal tool).
#include "cluster/cli.hpp"

int main(int argc, char** argv) { return jobnet::cli::Main(argc, argv); }
