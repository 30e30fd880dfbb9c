package rpmrepo_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
	"github.com/vicroot/vicroot/rpmrepo"
)

// TestLookupKeepsEntryOnOpenFailure: a cache entry Lookup cannot open
// for a reason that says nothing about its content (here: no file
// descriptor left, as under many concurrent builds) is reported missing
// but stays, with its stamp; only content that does not match its
// checksum is removed. Oracle: sha256sum of the entry afterwards.
func TestLookupKeepsEntryOnOpenFailure(t *testing.T) {
	if os.Getenv("VICROOT_TEST_LOOKUP_EMFILE") != "" {
		lookupWithoutDescriptors(t)
		return
	}
	testrepo.NeedTools(t, "sha256sum")
	dir := t.TempDir()
	cache := &rpmrepo.Cache{Dir: dir}
	data := []byte(strings.Repeat("a verified cache entry\n", 1000))
	p, sum, err := cache.Add(strings.NewReader(string(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without the stamp Lookup must open the entry itself.
	os.Remove(p + rpmrepo.StampSuffix)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLookupKeepsEntryOnOpenFailure$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VICROOT_TEST_LOOKUP_EMFILE="+dir, "VICROOT_TEST_LOOKUP_SUM="+sum.Value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	out, err := exec.Command("sha256sum", p).Output()
	if err != nil {
		t.Fatalf("the entry is gone after a Lookup that could not open it: %v", err)
	}
	if got := strings.Fields(string(out))[0]; got != sum.Value {
		t.Fatalf("sha256sum %s = %s, want %s", p, got, sum.Value)
	}
	if _, ok := cache.Lookup(sum, int64(len(data))); !ok {
		t.Error("the kept entry is not found again")
	}
	// Content that does not match is removed, as before.
	if err := os.WriteFile(p, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(p + rpmrepo.StampSuffix)
	if _, ok := cache.Lookup(sum, -1); ok {
		t.Fatal("tampered entry found")
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tampered entry not removed: %v", err)
	}
}

// lookupWithoutDescriptors is the child: it uses up its file descriptors,
// then looks the entry up.
func lookupWithoutDescriptors(t *testing.T) {
	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		held = append(held, f)
	}
	cache := &rpmrepo.Cache{Dir: os.Getenv("VICROOT_TEST_LOOKUP_EMFILE")}
	sum := rpmrepo.Checksum{Type: "sha256", Value: os.Getenv("VICROOT_TEST_LOOKUP_SUM")}
	if p, ok := cache.Lookup(sum, -1); ok {
		t.Errorf("Lookup without file descriptors found %s", p)
	}
	for _, f := range held {
		f.Close()
	}
}
