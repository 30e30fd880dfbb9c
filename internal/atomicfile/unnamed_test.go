package atomicfile

import (
	"io"
	"os"
	"testing"
)

// An unnamed file holds what is written to it and leaves no entry in its
// directory.
func TestUnnamed(t *testing.T) {
	dir := t.TempDir()
	f, err := Unnamed(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("spilled"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 7))
	if err != nil || string(got) != "spilled" {
		t.Fatalf("read back %q, %v", got, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("directory holds %v (%v), want nothing", ents, err)
	}
}
