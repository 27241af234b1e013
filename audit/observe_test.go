// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
)

// observed collects what Options.Observe is called with.
type observed struct {
	mu   sync.Mutex
	errs []error
	durs []time.Duration
}

func (o *observed) observe(d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.durs, o.errs = append(o.durs, d), append(o.errs, err)
}

// TestObserveSeesEveryWrite: Observe is called once per Write, concurrent
// ones included, with the write's error (ENOSPC from a full tmpfs, a record
// that cannot be encoded) or nil and a duration that covers the fsync.
func TestObserveSeesEveryWrite(t *testing.T) {
	tests := []struct {
		name     string
		fullDisk bool
		record   *audit.Record
		writers  int
		wantErrs bool
	}{
		{"durable writes, concurrent", false, &audit.Record{Tool: "health_check"}, 50, false},
		{"a disk that is full", true, &audit.Record{Tool: "health_check"}, 3, true},
		{"a record that cannot be encoded", false, nil, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if tt.fullDisk {
				path = fullDiskLog(t)
			}
			var o observed
			l := openLog(t, path, &audit.Options{Observe: o.observe})
			syncs := l.Syncs()
			var wg sync.WaitGroup
			for range tt.writers {
				wg.Go(func() {
					var r *audit.Record
					if tt.record != nil {
						cp := *tt.record
						r = &cp
					}
					l.Write(context.Background(), r)
				})
			}
			wg.Wait()
			o.mu.Lock()
			defer o.mu.Unlock()
			if len(o.errs) != tt.writers {
				t.Fatalf("Observe called %d times for %d writes", len(o.errs), tt.writers)
			}
			for i, err := range o.errs {
				if (err != nil) != tt.wantErrs {
					t.Errorf("write %d observed with error %v, want an error: %v", i, err, tt.wantErrs)
				}
				if tt.fullDisk && err != nil && !errors.Is(err, audit.ErrUnavailable) {
					t.Errorf("write %d observed with %v, not ErrUnavailable", i, err)
				}
				if o.durs[i] <= 0 {
					t.Errorf("write %d observed with duration %v", i, o.durs[i])
				}
			}
			if !tt.wantErrs && l.Syncs() == syncs {
				t.Error("no fsync happened, so the durations cover none")
			}
		})
	}
}
