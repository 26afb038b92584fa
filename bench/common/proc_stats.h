// What the benchmarks read about a process from /proc (Linux), and small statistics helpers.
#pragma once

#include <sys/types.h>

#include <vector>

namespace vmesh::bench {

// Resident set size now (VmRSS) and its peak (VmHWM), in KiB; -1 when the process is gone.
long RssKiB(pid_t pid);
long PeakRssKiB(pid_t pid);
// User + system CPU time the process used so far, in seconds.
double CpuSeconds(pid_t pid);

// The p-quantile (0..1) of `values` by nearest rank; 0 for none.
double Percentile(std::vector<double> values, double p);

}  // namespace vmesh::bench
