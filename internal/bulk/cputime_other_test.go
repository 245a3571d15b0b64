//go:build !unix

package bulk

import "time"

func cpuTime() time.Duration { return 0 }
