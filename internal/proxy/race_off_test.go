//go:build !race

package proxy

// raceEnabled scales down load tests: the race detector slows the byte-copy loops several times.
const raceEnabled = false
