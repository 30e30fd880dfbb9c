package atomicfile_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vicroot/vicroot/internal/atomicfile"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := atomicfile.WriteFile(name, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old content and no temporary file.
	boom := errors.New("boom")
	err := atomicfile.Write(name, 0o644, func(f *os.File) error {
		f.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != "one" {
		t.Fatalf("after a failed write: %q, %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftovers: %v", ents)
	}
	if st, err := os.Stat(name); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".bootstrap.iso.tmp123":           true,
		".bootstrap.iso.lock.json.tmp9":   true,
		"bootstrap.iso.tmp123":            false,
		".bootstrap.iso.tmp":              false,
		".bootstrap.iso.tmp12x":           false,
		".tmp123":                         false,
		".a.tmp1.tmp2":                    true,
		".bootstrap.iso.tmp123.lock.json": false,
	} {
		if got := atomicfile.IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
	if !atomicfile.IsTempOf(".x.iso.tmp42", "x.iso") || atomicfile.IsTempOf(".x.iso.mtree.tmp42", "x.iso") {
		t.Error("IsTempOf does not tell a sidecar's temp from the ISO's")
	}
}

// holdEnv makes the test binary a writer that creates a temp file in the
// given folder, says its name, and waits to be killed (TestHelperHold).
const holdEnv = "ATOMICFILE_TEST_HOLD"

func TestHelperHold(t *testing.T) {
	dir := os.Getenv(holdEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	f, err := atomicfile.Create(filepath.Join(dir, "out.iso"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	d, err := atomicfile.MkdirIn(dir, "work-*")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(f.Name(), d.Path)
	// Keep both reachable: a collected *os.File is closed by its
	// finalizer, which would release the locks.
	held = []any{f, d}
	runtime.GC()
	for {
		time.Sleep(time.Hour)
	}
}

var held []any

// A temp file is stale only when no process holds its lock: a writer in
// another process keeps its temp file and folder through RemoveStale,
// however often it runs; once the writer is killed (SIGKILL, nothing
// cleaned up), the next RemoveStale removes both.
func TestRemoveStaleAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHold$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var file, work string
	if _, err := fmt.Fscan(bufio.NewReader(out), &file, &work); err != nil {
		t.Fatal(err)
	}
	isOurs := func(n string) bool { return atomicfile.IsTempOf(n, "out.iso") || filepath.Join(dir, n) == work }
	for range 3 {
		removed, err := atomicfile.RemoveStale(dir, isOurs)
		if err != nil || len(removed) > 0 {
			t.Fatalf("with the writer alive: removed %v, %v", removed, err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, p := range []string{file, work} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the kill left no %s to clean: %v", p, err)
		}
	}
	removed, err := atomicfile.RemoveStale(dir, isOurs)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(removed)
	want := []string{file, work}
	sort.Strings(want)
	if fmt.Sprint(removed) != fmt.Sprint(want) {
		t.Errorf("after the kill: removed %v, want %v", removed, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left: %v", ents)
	}
}

// Writers and cleaners race: every writer's temp survives until it is
// committed, and every commit lands.
func TestRemoveStaleRacesWriters(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var cleaners sync.WaitGroup
	for range 3 {
		cleaners.Add(1)
		go func() {
			defer cleaners.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				atomicfile.RemoveStale(dir, atomicfile.IsTemp)
			}
		}()
	}
	var writers sync.WaitGroup
	errs := make(chan error, 8*50)
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 50 {
				name := filepath.Join(dir, fmt.Sprintf("f%d-%d", w, i))
				if err := atomicfile.WriteFile(name, []byte(name), 0o644); err != nil {
					errs <- err
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	cleaners.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 8*50 {
		t.Errorf("%d files, want %d", len(ents), 8*50)
	}
}
