// SPDX-License-Identifier: Apache-2.0

package journal

// The cache keeps a few pages of the files so that the many small reads of
// walking entries and arrays do not each cost a system call. Its size is
// fixed: a file opened alone has cachePages pages of pageSize (128 KiB);
// the files of a Journal share one cache of journalCachePages (512 KiB)
// and one set of decoders, whatever their number, so that a journal of
// hundreds of small files costs no more to read than one of a few large
// ones (TestManyFilesShareOneCache). Pages are allocated on first use.
// Many small pages beat a few large ones: matches binary-search several
// entry arrays at once, far apart in the file (BenchmarkRead: 32 pages of
// 4 KiB read one unit at a priority five times faster than 8 of 16 KiB,
// and scan faster too).
const (
	pageSize          = 4 << 10
	cachePages        = 32
	journalCachePages = 128
)

// shared is what files read with: the page cache, the decoders and a
// buffer for an entry's items. A file opened alone has its own; the files
// of a Journal share the Journal's, which is why they must be used from
// one goroutine at a time.
type shared struct {
	cache   pageCache
	dec     decoders
	itemBuf []uint64
}

func newShared(pages int) *shared { return &shared{cache: pageCache{size: pages}} }

// pageKey names a page: the file and the page's offset in it.
type pageKey struct {
	f     *File
	start uint64
}

type page struct {
	key pageKey
	buf []byte // the bytes read, up to pageSize (less at the end of the file); empty: unused
}

type pageCache struct {
	size  int             // pages at most
	pages []page          // made on first use
	index map[pageKey]int // the pages in use
	last  int             // the page the last hit was in
	next  int             // the page to replace next (round robin)
}

// drop forgets f's pages: the file changed, or is closed.
func (c *pageCache) drop(f *File) {
	for i := range c.pages {
		if p := &c.pages[i]; p.key.f == f && len(p.buf) > 0 {
			delete(c.index, p.key)
			p.buf = p.buf[:0]
		}
	}
}

// bytes is the memory the cache holds in pages.
func (c *pageCache) bytes() int {
	n := 0
	for _, p := range c.pages {
		n += cap(p.buf)
	}
	return n
}

// get returns n bytes at off from a cached page, loading it if needed;
// ok is false for reads that span pages or that the file cannot fill, which
// the caller then reads directly.
func (c *pageCache) get(f *File, off, n uint64) ([]byte, bool) {
	start := off &^ (pageSize - 1)
	if off+n > start+pageSize {
		return nil, false
	}
	key := pageKey{f, start}
	if c.last < len(c.pages) {
		if p := &c.pages[c.last]; p.key == key && off+n <= start+uint64(len(p.buf)) {
			return p.buf[off-start : off-start+n], true
		}
	}
	i, ok := c.index[key]
	if ok && off+n <= start+uint64(len(c.pages[i].buf)) {
		c.last = i
		return c.pages[i].buf[off-start : off-start+n], true
	}
	want := min(uint64(pageSize), f.size-start)
	if off+n > start+want {
		return nil, false
	}
	if !ok { // a page of its own; else the short one is read again
		if c.pages == nil {
			c.pages, c.index = make([]page, c.size), make(map[pageKey]int, c.size)
		}
		i = c.next
		c.next = (c.next + 1) % len(c.pages)
		if old := &c.pages[i]; len(old.buf) > 0 {
			delete(c.index, old.key)
		}
	}
	p := &c.pages[i]
	if cap(p.buf) < pageSize {
		p.buf = make([]byte, pageSize)
	}
	p.buf, p.key = p.buf[:want], key
	if k, _ := f.r.ReadAt(p.buf, int64(start)); uint64(k) < want {
		p.buf = p.buf[:0]
		delete(c.index, key)
		return nil, false
	}
	c.index[key], c.last = i, i
	return p.buf[off-start : off-start+n], true
}
