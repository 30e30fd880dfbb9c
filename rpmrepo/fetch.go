package rpmrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOffline: offline mode and something is not in the cache.
var ErrOffline = errors.New("not in the cache (offline)")

// ErrNotFound: no base URL serves the file.
var ErrNotFound = errors.New("not found")

// MissingError lists exactly what an offline build lacks.
type MissingError struct {
	Items []string // "photon: repodata/…-primary.xml.gz (sha256:…)"
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("rpmrepo: %d files not in the cache (offline):\n  %s", len(e.Items), strings.Join(e.Items, "\n  "))
}

func (e *MissingError) Unwrap() error { return ErrOffline }

// ErrStalled: a server sent nothing for the Fetcher's Timeout on every
// attempt, or an earlier file of this Fetcher already found that base URL
// stalled.
var ErrStalled = errors.New("server stalled")

// ErrTooLarge: a file that nothing sizes (repomd.xml, its signature, a
// mirror list) is larger than its cap.
var ErrTooLarge = errors.New("over its size cap")

// DefaultTimeout is how long a server may stay silent when
// Fetcher.Timeout is not set; dnf's default timeout is the same.
const DefaultTimeout = 30 * time.Second

// Fetcher downloads files over http(s) and file:// into a Cache. Its zero
// value (plus a Cache) is usable; it must not be copied after first use.
type Fetcher struct {
	Cache *Cache
	// Client defaults to one whose transport honours HTTP_PROXY,
	// HTTPS_PROXY and NO_PROXY (http.ProxyFromEnvironment).
	Client *http.Client
	// Concurrency bounds parallel downloads (default 4).
	Concurrency int
	// Attempts per URL (default 4); 5xx, 429, resets and timeouts are
	// retried with exponential backoff from Backoff (default 250ms),
	// resuming with Range where the server allows it.
	Attempts int
	Backoff  time.Duration
	// Timeout is how long a server may stay silent (default
	// DefaultTimeout): to connect and send the response headers, and
	// between two reads of the body. A silent attempt is abandoned and
	// retried, with Range from where it stopped. A base URL that stays
	// silent on every attempt is given up for every later file of this
	// Fetcher, so a stalled mirror fails within about Attempts × Timeout
	// (two minutes by default), not once per file.
	Timeout time.Duration
	// RequestTimeout bounds one attempt however much data flows (default
	// 10 minutes); the caller's context bounds everything.
	RequestTimeout time.Duration
	// Offline: use only the cache; report what is missing.
	Offline bool
	// Progress, when set, is told about each download.
	Progress Progress
	Logger   *slog.Logger

	mu      sync.Mutex
	stalled map[string]error // base URL → why it was given up
}

// Progress is told about each download (not about files the cache already
// holds). Downloads run concurrently; the calls for one download come in
// order, from one goroutine at a time.
type Progress interface {
	// StartDownload: url is about to be fetched; total is its size in
	// bytes, or -1 when nothing gives it.
	StartDownload(url string, total int64) Transfer
}

// Transfer is one download's progress.
type Transfer interface {
	// Progress: done bytes of the file are on disk. It goes back when a
	// download starts over from byte 0.
	Progress(done int64)
	// Done: the download ended; err is nil when the file verified.
	Done(err error)
}

type noTransfer struct{}

func (noTransfer) Progress(int64) {}
func (noTransfer) Done(error)     {}

func (f *Fetcher) startTransfer(u string, size int64) Transfer {
	if f.Progress == nil {
		return noTransfer{}
	}
	if size <= 0 {
		size = -1
	}
	return f.Progress.StartDownload(u, size)
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	return &http.Client{Transport: t}
}

func (f *Fetcher) log() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (f *Fetcher) attempts() int {
	if f.Attempts > 0 {
		return f.Attempts
	}
	return 4
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

// givenUp says why base was given up, or nil.
func (f *Fetcher) givenUp(base string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stalled[base]
}

// noteStall gives up base when err says it stalled on every attempt.
func (f *Fetcher) noteStall(base, u string, err error) {
	if base == "" || !errors.Is(err, ErrStalled) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalled == nil {
		f.stalled = map[string]error{}
	}
	if f.stalled[base] == nil {
		f.stalled[base] = fmt.Errorf("%w: not tried, %s stalled on every attempt earlier", ErrStalled, u)
	}
}

// joinURL joins a base URL and a relative location.
func joinURL(base, rel string) string {
	if strings.Contains(rel, "://") {
		return rel
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(rel, "/")
}

// fetchVerified returns the cached path of rel (relative to one of bases),
// downloading it if needed. Content is verified against sum (and size when
// >= 0), then by check when not nil, before it enters the cache; a base
// that serves wrong content is skipped for the next. Content that check
// refuses is refused from every base: it never enters the cache, and a
// cached copy check refuses (stored by a build with other keys, or by an
// older vicroot) is removed.
func (f *Fetcher) fetchVerified(ctx context.Context, bases []string, rel string, sum Checksum, size int64, check func(path string) error) (string, error) {
	if err := sum.check(); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if p, ok := f.Cache.Lookup(sum, size); ok {
		if check != nil {
			if err := check(p); err != nil {
				if !errors.As(err, new(unreadable)) {
					os.Remove(p)
				}
				return "", err
			}
		}
		return p, nil
	}
	if f.Offline {
		return "", fmt.Errorf("%s (%s): %w", rel, sum, ErrOffline)
	}
	var errs []error
	for _, b := range bases {
		u := joinURL(b, rel)
		p, err := f.fetchURL(ctx, b, u, sum, size, check)
		if err == nil {
			return p, nil
		}
		var r refused
		if errors.As(err, &r) {
			// The content its checksum names is wrong wherever it
			// comes from.
			return "", r.error
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		f.log().Warn("download failed", "url", u, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%s: %w", rel, errors.Join(errs...))
}

// refused is an error of fetchVerified's check.
type refused struct{ error }

func (r refused) Unwrap() error { return r.error }

// unreadable is a check's error that says nothing of the file's content
// (it could not be opened or read): a cached file stays in the cache.
type unreadable struct{ error }

func (u unreadable) Unwrap() error { return u.error }

// fetchURL downloads u (under base) into the cache, verified. A download
// that resumed with Range and then does not verify may hold bytes the
// server sent for the wrong range: it is fetched once more from byte 0,
// without Range, before the content is called wrong.
func (f *Fetcher) fetchURL(ctx context.Context, base, u string, sum Checksum, size int64, check func(string) error) (string, error) {
	if err := f.givenUp(base); err != nil {
		return "", err
	}
	var checked func(string) error
	if check != nil {
		checked = func(p string) error {
			if err := check(p); err != nil {
				return refused{err}
			}
			return nil
		}
	}
	tr := f.startTransfer(u, size)
	for again := false; ; again = true {
		tmp, err := f.Cache.tempFile()
		if err != nil {
			err = fmt.Errorf("rpmrepo: cache: %w", err)
			tr.Done(err)
			return "", err
		}
		d := &download{url: u, size: size, resume: !again, progress: tr}
		if err := f.download(ctx, d, tmp.File); err != nil {
			tmp.Discard()
			f.noteStall(base, u, err)
			tr.Done(err)
			return "", err
		}
		p, err := f.Cache.commit(tmp, sum, size, checked)
		if err == nil {
			tr.Done(nil)
			return p, nil
		}
		if !again && d.resumed && errors.Is(err, ErrChecksum) {
			f.log().Warn("a resumed download does not verify: fetching it again from byte 0", "url", u, "err", err)
			tr.Progress(0)
			continue
		}
		tr.Done(err)
		return "", err
	}
}

// fetchBytes downloads a small file nothing names by checksum (repomd.xml
// and its signature, a mirror list) from the first base that serves it. A
// retry starts from byte 0: nothing could tell a wrong Range answer.
func (f *Fetcher) fetchBytes(ctx context.Context, bases []string, rel string, max int64) ([]byte, string, error) {
	var errs []error
	for _, b := range bases {
		u := joinURL(b, rel)
		data, err := f.fetchURLBytes(ctx, b, u, max)
		if err == nil {
			return data, b, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("%s: %w", rel, errors.Join(errs...))
}

func (f *Fetcher) fetchURLBytes(ctx context.Context, base, u string, max int64) ([]byte, error) {
	if err := f.givenUp(base); err != nil {
		return nil, err
	}
	tmp, err := f.Cache.tempFile()
	if err != nil {
		return nil, fmt.Errorf("rpmrepo: cache: %w", err)
	}
	defer tmp.Discard()
	tr := f.startTransfer(u, -1)
	err = f.download(ctx, &download{url: u, size: -max, progress: tr}, tmp.File)
	var data []byte
	if err == nil {
		data, err = os.ReadFile(tmp.Name())
	}
	f.noteStall(base, u, err)
	tr.Done(err)
	return data, err
}

// permanent marks errors not worth retrying on the same URL.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// download is one file being fetched from one URL.
type download struct {
	url string
	// size > 0 is the exact expected size; size < 0 means at most -size
	// bytes; 0 unknown.
	size int64
	// resume: a retry may ask for the rest with Range.
	resume bool
	// resumed: a 206 answer was appended to what an earlier attempt got.
	resumed  bool
	progress Transfer
}

// download writes d.url into tmp, retrying and (when d.resume) resuming.
func (f *Fetcher) download(ctx context.Context, d *download, tmp *os.File) error {
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = 250 * time.Millisecond
	}
	var last error
	for attempt := 0; attempt < f.attempts(); attempt++ {
		if attempt > 0 {
			wait := backoff << (attempt - 1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		err := f.once(ctx, d, tmp)
		if err == nil {
			return nil
		}
		last = err
		var p permanent
		if errors.As(err, &p) || ctx.Err() != nil {
			return err
		}
		f.log().Info("retrying", "url", d.url, "attempt", attempt+1, "err", err)
	}
	if f.attempts() > 1 {
		return fmt.Errorf("%w (%d attempts)", last, f.attempts())
	}
	return last
}

// restart empties tmp so the next bytes are the file's first.
func restart(tmp *os.File, tr Transfer) error {
	if err := tmp.Truncate(0); err != nil {
		return permanent{err}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return permanent{err}
	}
	tr.Progress(0)
	return nil
}

// once is one attempt: it appends to tmp from its current end (Range), or
// starts over when d does not resume.
func (f *Fetcher) once(ctx context.Context, d *download, tmp *os.File) error {
	off, err := tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return permanent{err}
	}
	if off > 0 && !d.resume {
		if err := restart(tmp, d.progress); err != nil {
			return err
		}
		off = 0
	}
	size := d.size
	limit := int64(-1)
	switch {
	case size > 0:
		limit = size
	case size < 0:
		limit = -size
	}
	if limit >= 0 && off >= limit && size > 0 {
		return nil
	}
	pu, err := url.Parse(d.url)
	if err != nil {
		return permanent{err}
	}
	if pu.Scheme == "file" {
		src, err := os.Open(pu.Path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return permanent{fmt.Errorf("%w: %v", ErrNotFound, err)}
			}
			return permanent{err}
		}
		defer src.Close()
		if _, err := src.Seek(off, io.SeekStart); err != nil {
			return permanent{err}
		}
		if err := copyLimited(&counter{tmp, off, d.progress}, src, off, limit, size); err != nil {
			return err
		}
		if err := exactSize(tmp, size); err != nil {
			return permanent{err} // a local file will not grow
		}
		return nil
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return permanent{fmt.Errorf("unsupported URL scheme %q", pu.Scheme)}
	}
	timeout := f.RequestTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wd := newWatchdog(f.timeout(), cancel)
	defer wd.stop()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, d.url, nil)
	if err != nil {
		return permanent{err}
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := f.client().Do(req)
	if err != nil {
		if ctx.Err() == nil && wd.fired() {
			return fmt.Errorf("%w: no response within %s", ErrStalled, wd.d)
		}
		return err
	}
	defer resp.Body.Close()
	wd.kick()
	switch {
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			// The server ignored Range: start over.
			if err := restart(tmp, d.progress); err != nil {
				return err
			}
			off = 0
		}
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		var start int64
		cr := resp.Header.Get("Content-Range")
		if _, err := fmt.Sscanf(cr, "bytes %d-", &start); err != nil || start != off {
			// Other bytes than asked for: the next attempt starts over.
			if err := restart(tmp, d.progress); err != nil {
				return err
			}
			return fmt.Errorf("Content-Range %q does not answer Range from byte %d: starting over", cr, off)
		}
		d.resumed = true
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && size > 0 && off == size:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return permanent{fmt.Errorf("%w: HTTP %s", ErrNotFound, resp.Status)}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("HTTP %s", resp.Status)
	default:
		return permanent{fmt.Errorf("HTTP %s", resp.Status)}
	}
	if limit >= 0 && resp.ContentLength >= 0 && off+resp.ContentLength > limit {
		return tooLong(limit, size)
	}
	if err := copyLimited(&counter{tmp, off, d.progress}, &idleReader{resp.Body, wd}, off, limit, size); err != nil {
		if ctx.Err() == nil && wd.fired() {
			st, _ := tmp.Stat()
			var got int64
			if st != nil {
				got = st.Size()
			}
			of := ""
			if size > 0 {
				of = fmt.Sprintf(" of %d", size)
			}
			return fmt.Errorf("%w: no data for %s after %d%s bytes", ErrStalled, wd.d, got, of)
		}
		return err
	}
	return exactSize(tmp, size)
}

// watchdog cancels an attempt when no byte arrived for d.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	state atomic.Bool
}

func newWatchdog(d time.Duration, cancel func()) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.state.Store(true)
		cancel()
	})
	return w
}

func (w *watchdog) kick()       { w.t.Reset(w.d) }
func (w *watchdog) stop()       { w.t.Stop() }
func (w *watchdog) fired() bool { return w.state.Load() }

// idleReader kicks its watchdog on every byte that arrives.
type idleReader struct {
	r  io.Reader
	wd *watchdog
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.wd.kick()
	}
	return n, err
}

// counter reports the bytes written through it (after off already there).
type counter struct {
	w    io.Writer
	done int64
	tr   Transfer
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.done += int64(n)
	c.tr.Progress(c.done)
	return n, err
}

// copyLimited appends src to dst and fails when more than limit bytes in
// total (counting off already present) would be written.
func copyLimited(dst io.Writer, src io.Reader, off, limit, size int64) error {
	if limit < 0 {
		_, err := io.Copy(dst, src)
		return err
	}
	n, err := io.Copy(dst, io.LimitReader(src, limit-off+1))
	if err != nil {
		return err
	}
	if off+n > limit {
		return tooLong(limit, size)
	}
	return nil
}

// tooLong: more than the metadata's size (size > 0) or than a cap.
func tooLong(limit, size int64) error {
	if size > 0 {
		return permanent{fmt.Errorf("%w: more than the %d bytes the metadata gives", ErrChecksum, limit)}
	}
	return permanent{fmt.Errorf("%w of %s", ErrTooLarge, byteSize(limit))}
}

// byteSize writes n in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// exactSize checks a finished download against the expected size; a short
// body is worth retrying (it resumes where it stopped).
func exactSize(f *os.File, size int64) error {
	if size <= 0 {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return permanent{err}
	}
	if st.Size() < size {
		return fmt.Errorf("short body: %d of %d bytes", st.Size(), size)
	}
	return nil
}

// FetchFile returns the cached, verified path of rel (relative to the first
// of bases that serves it), downloading it when it is not cached. Offline,
// a missing file is an ErrOffline error naming it. Repo.Fetch and Open use
// this for packages and metadata.
func (f *Fetcher) FetchFile(ctx context.Context, bases []string, rel string, sum Checksum, size int64) (string, error) {
	p, err := f.fetchVerified(ctx, bases, rel, sum, size, nil)
	if err != nil {
		return "", fmt.Errorf("rpmrepo: %w", err)
	}
	return p, nil
}
