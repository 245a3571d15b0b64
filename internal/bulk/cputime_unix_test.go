//go:build unix

package bulk

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used so far (all threads, user
// and system). Benchmarks report it beside wall time because the machines
// this runs on are shared: CPU time per operation is what stays comparable
// when other work competes for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
