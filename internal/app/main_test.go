package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any test leaves a goroutine behind: every listener, upstream connection, access
// log flusher and client must be joined by App.Run's shutdown or by the test's cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
