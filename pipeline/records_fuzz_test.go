package pipeline

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/vic"
)

// fuzzTree is a small initramfs tree with owned files, a name mtree must
// escape, a hardlink-free symlink and a directory.
func fuzzTree(tb testing.TB) *rootfs.Tree {
	t := rootfs.New()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(t.MkdirAll("usr/bin", 0o755))
	must(t.WriteFile("usr/bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(t.WriteFile("usr/bin/with space\tand\\slash", []byte("x"), 0o644))
	must(t.Symlink("usr/bin", "bin"))
	return t
}

// recordSeed is an ISO as a build writes it, in little: the records of the
// embedded photon-2.0 definition (its real repo-spec.json, .repo files and
// init.sh), a lock, the inputs, and an initramfs with its manifest naming
// owning packages.
func recordSeed(tb testing.TB) (isoBytes, mtreeData []byte) {
	tree := fuzzTree(tb)
	entries, err := manifest(context.Background(), tree, "")
	if err != nil {
		tb.Fatal(err)
	}
	for i := range entries {
		if entries[i].Mode.IsRegular() {
			entries[i].Package = "tool-1.0-1.ph2.x86_64"
		}
	}
	var mt bytes.Buffer
	if err := WriteManifest(&mt, entries); err != nil {
		tb.Fatal(err)
	}
	def, err := repos.Load(repos.DefaultName)
	if err != nil {
		tb.Fatal(err)
	}
	lk := &resolver.Lock{Version: 1, Packages: []resolver.LockedPackage{{
		Name: "tool", NEVRA: "tool-1.0-1.ph2.x86_64", Checksum: "sha256:" + strings.Repeat("ab", 32),
		Repo: "photon", Location: "tool-1.0-1.ph2.x86_64.rpm", URL: "https://packages.invalid/tool-1.0-1.ph2.x86_64.rpm",
	}}}
	lockJSON, err := lk.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	epoch := time.Unix(1700000000, 0).UTC()
	boot := rootfs.New()
	in := Inputs{Definition: def.Name, Version: "v1.5.8-0-9489f63", SourceDateEpoch: epoch.Unix(),
		TetherSHA256: strings.Repeat("01", 32), UnpackSHA256: strings.Repeat("02", 32)}
	if err := records(boot, def, []KeyFile{{Name: "extra.asc", Data: []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")}}, in, lockJSON, mt.Bytes()); err != nil {
		tb.Fatal(err)
	}
	var core bytes.Buffer
	if err := initramfs.Write(context.Background(), &core, tree, initramfs.Gzip, initramfs.Options{Epoch: epoch}); err != nil {
		tb.Fatal(err)
	}
	if err := boot.WriteFile(iso.InitrdPath, core.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := boot.MkdirAll("boot/isolinux", 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := boot.WriteFile("boot/isolinux/isolinux.bin", bytes.Repeat([]byte{0x90}, 2048), 0o644); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(filepath.Join(tb.TempDir(), "seed.iso"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, _, err := iso.WriteFile(context.Background(), f, boot, vic.ISOOptions("v1.5.8-0-9489f63", epoch)); err != nil {
		tb.Fatal(err)
	}
	img, err := os.ReadFile(f.Name())
	if err != nil {
		tb.Fatal(err)
	}
	// The fuzzer mutates the front of the input; the padding adds nothing.
	return img[:len(img)-iso.Padding], mt.Bytes()
}

// The readers behind verify, diff and inspect take an untrusted ISO: the
// records (ReadRecord), the initramfs and its manifest's owners (Inspect),
// its rpm database (InspectRPMDB).
// Errors name the file; nothing panics. The seed reads back whole.
func FuzzRecords(f *testing.F) {
	seed, _ := recordSeed(f)
	f.Add(seed)
	tree, err := manifest(context.Background(), fuzzTree(f), "")
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	seedPath := filepath.Join(dir, "seed.iso")
	if err := os.WriteFile(seedPath, seed, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tmp, err := os.CreateTemp(dir, "fuzz-*.iso")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.Write(data)
		tmp.Close()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ReadRecord(context.Background(), tmp.Name())
		if err != nil && !strings.Contains(err.Error(), tmp.Name()) {
			t.Fatalf("ReadRecord's error does not name the file: %v", err)
		}
		if bytes.Equal(data, seed) && (err != nil || rec.Inputs.Definition != repos.DefaultName || len(rec.Definition) == 0 || len(rec.GPGKeys) != 1) {
			t.Fatalf("the seed's records: %+v, %v", rec, err)
		}
		if rec != nil {
			// verify takes tether, unpack and ISOLINUX (an appliance's
			// daemons and vicadmin-home) from the ISO.
			for _, read := range []func(context.Context, string, Inputs) (Dir, error){binFromISO, isolinuxFromISO, applianceBinFromISO} {
				if _, err := read(context.Background(), tmp.Name(), rec.Inputs); err != nil && !strings.Contains(err.Error(), tmp.Name()) {
					t.Fatalf("error %q does not name the ISO", err)
				}
			}
		}
		// diff against the seed.
		if d, err := Diff(context.Background(), tmp.Name(), seedPath); err == nil && bytes.Equal(data, seed) && !d.Empty() {
			t.Fatalf("the seed differs from itself: %+v", d)
		} else if err != nil && !strings.Contains(err.Error(), tmp.Name()) && !strings.Contains(err.Error(), seedPath) {
			t.Fatalf("Diff's error %q names neither ISO", err)
		}
		entries, err := Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz.iso")
		if err != nil && !strings.Contains(err.Error(), "fuzz.iso") {
			t.Fatalf("Inspect's error does not name the file: %v", err)
		}
		if bytes.Equal(data, seed) {
			owned := 0
			for _, e := range entries {
				if e.Package != "" {
					owned++
				}
			}
			if err != nil || len(entries) != len(tree) || owned != 2 {
				t.Fatalf("the seed's initramfs: %d entries (%d owned), want the tree's %d (2 owned): %v", len(entries), owned, len(tree), err)
			}
		}
		db, err := InspectRPMDB(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz.iso")
		if err != nil && !strings.Contains(err.Error(), "fuzz.iso") {
			t.Fatalf("InspectRPMDB's error does not name the file: %v", err)
		}
		if bytes.Equal(data, seed) && (db != nil || err != nil) {
			t.Fatalf("the seed has no rpm database: %+v, %v", db, err)
		}
	})
}

// FuzzReadOwners: the owners of an initramfs manifest (inspect's package
// column) from any text; a manifest mtree.Write made reads back the
// packages it was given.
func FuzzReadOwners(f *testing.F) {
	_, manifest := recordSeed(f)
	f.Add(string(manifest))
	f.Add("#mtree\n   \n./a package=x\n")
	f.Add("#mtree\n./a\\040b type=file package=p\\040q\n")
	f.Fuzz(func(t *testing.T, text string) {
		parseOwners([]byte(text))
	})
}

// The manifest of a tree reads back each path's owner; a line of white
// space alone is skipped (it made the owners reader index an empty field
// list).
func TestReadOwners(t *testing.T) {
	_, manifest := recordSeed(t)
	got, err := parseOwners(manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"usr/bin/tool": "tool-1.0-1.ph2.x86_64", "usr/bin/with space\tand\\slash": "tool-1.0-1.ph2.x86_64"}
	if !maps.Equal(got, want) {
		t.Errorf("owners %q, want %q", got, want)
	}
	if got, err := parseOwners([]byte("#mtree\n \t \n./a package=x\n")); err != nil || got["a"] != "x" {
		t.Errorf("a manifest with a blank line: %v, %v", got, err)
	}
}
