package ocsp

import (
	"context"
	"sync"
)

// Group runs the staplers of one certificate set, each on its own goroutine, until Stop. A reload builds the new
// set's group, publishes the set, then stops the old group.
type Group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs every stapler of staplers; it returns nil when there is none.
func Start(staplers []*Stapler) *Group {
	if len(staplers) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Group{cancel: cancel}
	for _, s := range staplers {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			s.Run(ctx)
		}()
	}
	return g
}

// Stop cancels the staplers' fetches and waits for their goroutines. It is safe on a nil Group.
func (g *Group) Stop() {
	if g == nil {
		return
	}
	g.cancel()
	g.wg.Wait()
}
