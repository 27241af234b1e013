// SPDX-License-Identifier: Apache-2.0

package journal_test

import (
	"fmt"
	"io"
	"log"
	"time"

	"github.com/tailops/tailops/journal"
)

// Newest first, one unit, priority warning or worse (0 to 4), at most 2.
func ExampleReader_Prev() {
	j, err := journal.OpenFiles(nil, "testdata/seed.journal") // or journal.OpenDir(nil, journal.DefaultDirs...)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	r, err := j.Reader("_SYSTEMD_UNIT=unit1.service",
		"PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3", "PRIORITY=4")
	if err != nil {
		log.Fatal(err)
	}
	r.SeekTail()
	for range 2 {
		e, err := r.Prev()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Realtime.UTC().Format(time.RFC3339), e.String("_SYSTEMD_UNIT"), e.String("PRIORITY"), e.String("_PID"), e.String("MESSAGE")[:9])
	}
	// Output:
	// 2023-11-14T22:13:24Z unit1.service 4 1004 a long, c
	// 2023-11-14T22:13:21Z unit1.service 1 1001 message 1
}

// Every unit, within a window around a moment: the entries before it,
// then from it on.
func ExampleReader_SeekRealtime() {
	j, err := journal.OpenFiles(nil, "testdata/seed.journal")
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	r, _ := j.Reader()
	at := time.Date(2023, 11, 14, 22, 13, 22, 500e6, time.UTC)
	r.SeekRealtime(at.Add(-2 * time.Second))
	for {
		e, err := r.Next()
		if err == io.EOF || (err == nil && e.Realtime.After(at.Add(2*time.Second))) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Realtime.UTC().Format(time.TimeOnly), e.String("_SYSTEMD_UNIT"))
	}
	// Output:
	// 22:13:21 unit1.service
	// 22:13:22 unit2.service
	// 22:13:23 unit0.service
	// 22:13:24 unit1.service
}
