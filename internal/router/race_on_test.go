//go:build race

package router

// raceEnabled: under the race detector sync.Pool drops items at random, so
// regexp's pooled matchers allocate now and then.
const raceEnabled = true
