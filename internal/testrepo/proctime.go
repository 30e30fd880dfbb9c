package testrepo

import (
	"runtime"
	"runtime/metrics"
)

// ProcTime is the Go runtime's busy and total processor time (GOMAXPROCS
// integrated over wall time), in seconds, for benchmarks: busy over total,
// times GOMAXPROCS, is how many processors had a goroutine to run, which a
// machine loaded by other work does not hide as it hides CPU over wall.
// The runtime brings these up to date at a collection, so it runs one.
func ProcTime() (busy, total float64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 || s[1].Value.Kind() != metrics.KindFloat64 {
		return 0, 0
	}
	return s[0].Value.Float64() - s[1].Value.Float64(), s[0].Value.Float64()
}
