package e2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// bnThrottledServer serves dir over HTTP on 127.0.0.1 and returns its URL.
// With rate > 0, every response is sent in 32 KiB pieces through one
// shared link of rate bytes/s, as a remote repository behind a limited
// line: the downloads together never go faster. The server closes when
// the benchmark ends.
func bnThrottledServer(tb testing.TB, dir string, rate int64) string {
	tb.Helper()
	var (
		mu   sync.Mutex
		next time.Time // when the link is free
	)
	// wait books n bytes of the link and waits until they have gone.
	wait := func(n int) {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		next = next.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
		d := next.Sub(now)
		mu.Unlock()
		time.Sleep(d)
	}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(filepath.Clean("/"+r.URL.Path))))
		var fi os.FileInfo
		if err == nil {
			defer f.Close()
			fi, err = f.Stat()
		}
		if rate <= 0 || err != nil || fi.IsDir() || r.Header.Get("Range") != "" {
			files.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		buf := make([]byte, 32<<10)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				wait(n)
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err == io.EOF || err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
