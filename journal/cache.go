// SPDX-License-Identifier: Apache-2.0

package journal

// The cache keeps a few pages of the file so that the many small reads of
// walking entries and arrays do not each cost a system call. Its size is
// fixed: cachePages*pageSize bytes (128 KiB) per open file, allocated on
// first use. Many small pages beat a few large ones: matches binary-search
// several entry arrays at once, far apart in the file (BenchmarkRead: 32
// pages of 4 KiB read one unit at a priority five times faster than 8 of
// 16 KiB, and scan faster too).
const (
	pageSize   = 4 << 10
	cachePages = 32
)

type page struct {
	start uint64 // file offset of the page; the page is valid if buf != nil
	buf   []byte // the bytes read, up to pageSize (less at the end of the file)
}

type pageCache struct {
	pages [cachePages]page
	next  int // the page to replace next (round robin)
}

func (c *pageCache) reset() {
	for i := range c.pages {
		if c.pages[i].buf != nil {
			c.pages[i].buf = c.pages[i].buf[:0]
		}
	}
}

// get returns n bytes at off from a cached page, loading it if needed;
// ok is false for reads that span pages or that the file cannot fill, which
// the caller then reads directly.
func (c *pageCache) get(f *File, off, n uint64) ([]byte, bool) {
	start := off &^ (pageSize - 1)
	if off+n > start+pageSize {
		return nil, false
	}
	for i := range c.pages {
		p := &c.pages[i]
		if len(p.buf) > 0 && p.start == start && off+n <= start+uint64(len(p.buf)) {
			return p.buf[off-start : off-start+n], true
		}
	}
	want := min(uint64(pageSize), f.size-start)
	if off+n > start+want {
		return nil, false
	}
	p := &c.pages[c.next]
	c.next = (c.next + 1) % cachePages
	if cap(p.buf) < pageSize {
		p.buf = make([]byte, pageSize)
	}
	p.buf = p.buf[:want]
	p.start = start
	if k, _ := f.r.ReadAt(p.buf, int64(start)); uint64(k) < want {
		p.buf = p.buf[:0]
		return nil, false
	}
	return p.buf[off-start : off-start+n], true
}
