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

// Fetcher downloads files over http(s) and file:// into a Cache. Its zero
// value (plus a Cache) is usable.
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
	// RequestTimeout bounds one attempt (default 10 minutes); the
	// caller's context bounds everything.
	RequestTimeout time.Duration
	// Offline: use only the cache; report what is missing.
	Offline bool
	Logger  *slog.Logger
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

// joinURL joins a base URL and a relative location.
func joinURL(base, rel string) string {
	if strings.Contains(rel, "://") {
		return rel
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(rel, "/")
}

// fetchVerified returns the cached path of rel (relative to one of bases),
// downloading it if needed. Content is verified against sum (and size when
// >= 0) before it enters the cache; a base that serves wrong content is
// skipped for the next.
func (f *Fetcher) fetchVerified(ctx context.Context, bases []string, rel string, sum Checksum, size int64) (string, error) {
	if err := sum.check(); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if p, ok := f.Cache.Lookup(sum, size); ok {
		return p, nil
	}
	if f.Offline {
		return "", fmt.Errorf("%s (%s): %w", rel, sum, ErrOffline)
	}
	var errs []error
	for _, b := range bases {
		u := joinURL(b, rel)
		tmp, err := f.Cache.tempFile()
		if err != nil {
			return "", fmt.Errorf("rpmrepo: cache: %w", err)
		}
		err = f.download(ctx, u, tmp, size)
		if err == nil {
			var p string
			p, err = f.Cache.commit(tmp, sum, size)
			if err == nil {
				return p, nil
			}
		} else {
			tmp.Close()
			os.Remove(tmp.Name())
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		f.log().Warn("download failed", "url", u, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%s: %w", rel, errors.Join(errs...))
}

// fetchBytes downloads a small file nothing names by checksum (repomd.xml
// and its signature) from the first base that serves it.
func (f *Fetcher) fetchBytes(ctx context.Context, bases []string, rel string, max int64) ([]byte, string, error) {
	var errs []error
	for _, b := range bases {
		u := joinURL(b, rel)
		tmp, err := f.Cache.tempFile()
		if err != nil {
			return nil, "", fmt.Errorf("rpmrepo: cache: %w", err)
		}
		err = f.download(ctx, u, tmp, -max)
		var data []byte
		if err == nil {
			data, err = os.ReadFile(tmp.Name())
		}
		tmp.Close()
		os.Remove(tmp.Name())
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

// permanent marks errors not worth retrying on the same URL.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// download writes u into tmp, retrying and resuming. size > 0 is the
// exact expected size; size < 0 means at most -size bytes; 0 unknown.
func (f *Fetcher) download(ctx context.Context, u string, tmp *os.File, size int64) error {
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = 250 * time.Millisecond
	}
	var last error
	for attempt := 0; attempt < f.attempts(); attempt++ {
		if attempt > 0 {
			d := backoff << (attempt - 1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		err := f.once(ctx, u, tmp, size)
		if err == nil {
			return nil
		}
		last = err
		var p permanent
		if errors.As(err, &p) || ctx.Err() != nil {
			return err
		}
		f.log().Info("retrying", "url", u, "attempt", attempt+1, "err", err)
	}
	return last
}

// once is one attempt: it appends to tmp from its current end (Range).
func (f *Fetcher) once(ctx context.Context, u string, tmp *os.File, size int64) error {
	off, err := tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return permanent{err}
	}
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
	pu, err := url.Parse(u)
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
		if err := copyLimited(tmp, src, off, limit); err != nil {
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
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return permanent{err}
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			// The server ignored Range: start over.
			if err := tmp.Truncate(0); err != nil {
				return permanent{err}
			}
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return permanent{err}
			}
			off = 0
		}
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		var start int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); err != nil || start != off {
			return fmt.Errorf("bad Content-Range %q for offset %d", resp.Header.Get("Content-Range"), off)
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && size > 0 && off == size:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return permanent{fmt.Errorf("%w: HTTP %s", ErrNotFound, resp.Status)}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("HTTP %s", resp.Status)
	default:
		return permanent{fmt.Errorf("HTTP %s", resp.Status)}
	}
	if err := copyLimited(tmp, resp.Body, off, limit); err != nil {
		return err
	}
	return exactSize(tmp, size)
}

// copyLimited appends src to dst and fails when more than limit bytes in
// total (counting off already present) would be written.
func copyLimited(dst io.Writer, src io.Reader, off, limit int64) error {
	if limit < 0 {
		_, err := io.Copy(dst, src)
		return err
	}
	n, err := io.Copy(dst, io.LimitReader(src, limit-off+1))
	if err != nil {
		return err
	}
	if off+n > limit {
		return permanent{fmt.Errorf("%w: more than the expected %d bytes", ErrChecksum, limit)}
	}
	return nil
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
	p, err := f.fetchVerified(ctx, bases, rel, sum, size)
	if err != nil {
		return "", fmt.Errorf("rpmrepo: %w", err)
	}
	return p, nil
}
