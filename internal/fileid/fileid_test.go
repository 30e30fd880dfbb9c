package fileid

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func idOf(t *testing.T, p string) ID {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Of(fi)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRewriteChangesID: a file rewritten in place with the same size and
// its modification time set back has another identity (its change time
// moved); an untouched file keeps its identity.
func TestRewriteChangesID(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello world"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1700000000, 0)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	before := idOf(t, p)
	if again := idOf(t, p); again != before {
		t.Fatalf("identity of an untouched file changed: %+v, %+v", before, again)
	}
	// The kernel stamps change times from a clock that ticks every few
	// milliseconds: a rewrite in the same tick as the last change would
	// keep the change time (the limit of identities; see the package doc).
	time.Sleep(20 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("J"), 6)
	f.Close()
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	after := idOf(t, p)
	if after.Size != before.Size || after.Mtime != before.Mtime || after.Ino != before.Ino {
		t.Fatalf("test setup: size, mtime or inode differ: %+v, %+v", before, after)
	}
	if after == before {
		t.Fatalf("rewritten file kept its identity %+v", after)
	}
}

func TestSeal(t *testing.T) {
	rec := Seal("magic 1\n", []byte("body"))
	if b, err := Unseal(rec, "magic 1\n"); err != nil || !bytes.Equal(b, []byte("body")) {
		t.Fatalf("Unseal: %q, %v", b, err)
	}
	if _, err := Unseal(rec, "magic 2\n"); err == nil {
		t.Error("another magic accepted")
	}
	for i := range rec {
		bad := bytes.Clone(rec)
		bad[i] ^= 1
		if _, err := Unseal(bad, "magic 1\n"); err == nil {
			t.Errorf("flipped byte %d accepted", i)
		}
		if _, err := Unseal(rec[:i], "magic 1\n"); err == nil {
			t.Errorf("truncated at %d accepted", i)
		}
	}
}
