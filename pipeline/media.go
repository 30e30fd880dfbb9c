package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/vicroot/vicroot/initramfs"
	"github.com/vicroot/vicroot/initramfs/iso"
	"github.com/vicroot/vicroot/internal/atomicfile"
	"github.com/vicroot/vicroot/repos"
	"github.com/vicroot/vicroot/resolver"
	"github.com/vicroot/vicroot/rootfs"
	"github.com/vicroot/vicroot/rootfs/rpminstall"
	"github.com/vicroot/vicroot/rpmrepo"
	"github.com/vicroot/vicroot/vic"
)

// mediaInput is everything the media stage reads: the results of the
// stages before it, and the options.
type mediaInput struct {
	src     *source
	plan    *plans
	fetched *fetched
	root    *installed
	layout  *laidOut
	epoch   time.Time
	opts    Options
}

// image is the media stage's result: the ISO on disk and the records it
// holds, which the sidecars repeat.
type image struct {
	path, name, sha256 string
	tmp                *atomicfile.File // the ISO's temp file, locked until publish renames it
	lock               *resolver.Lock
	lockJSON, manifest []byte
}

// media writes the ISO: the boot loader and the records verify needs into
// the ISO's tree, the initramfs of the tree (gzip, as VIC), and the ISO
// with ISOLINUX.
func media(ctx context.Context, st *stages, in mediaInput) (*image, error) {
	opts, boot := in.opts, in.root.boot
	init := in.src.def.Spec.Init
	if in.plan.target == TargetAppliance {
		init = vic.ApplianceInit
	}
	// rd.systemd.unit=vic.target when the init is systemd.
	bootArgs := vic.InitBootArgs(in.root.tree, init, opts.BootArgs)
	if err := bootLoader(ctx, boot, in.plan.syslinux, in.fetched, opts.Isolinux, opts.CacheDir, init, bootArgs, version(opts.Version)); err != nil {
		return nil, fmt.Errorf("boot loader: %w", err)
	}
	img := &image{}
	var err error
	img.lock = lockOf([]*plans{in.plan}, in.src.repos, in.fetched)
	if img.lockJSON, err = img.lock.Marshal(); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	entries, err := manifest(ctx, in.root.tree, "")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var mt bytes.Buffer
	if err := WriteManifest(&mt, entries); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	img.manifest = mt.Bytes()
	rec := Inputs{
		Definition: in.src.def.Name, Version: version(opts.Version), SourceDateEpoch: in.epoch.Unix(),
		TetherSHA256: in.layout.tetherSum, UnpackSHA256: in.layout.unpackSum, BootArgs: opts.BootArgs, NoWeakDeps: opts.NoWeakDeps,
		AllowUnsignedKernel: in.plan.kernel != nil && in.plan.kernel.Unsigned != "",
	}
	if in.plan.target == TargetAppliance {
		rec.Target = string(TargetAppliance)
		rec.Daemons, rec.VicadminHomeSHA256, rec.VicadminHome = in.layout.daemonSums, in.layout.homeSum, in.layout.home
	}
	if opts.Isolinux.FS != nil {
		// --isolinux's files are recorded so verify can take them from
		// the ISO.
		if rec.IsolinuxSHA256, err = treeSHA256(boot, iso.IsolinuxBin, true); err != nil {
			return nil, fmt.Errorf("records: %w", err)
		}
		if _, err := boot.Lstat(iso.LdlinuxC32); err == nil {
			if rec.LdlinuxSHA256, err = treeSHA256(boot, iso.LdlinuxC32, false); err != nil {
				return nil, fmt.Errorf("records: %w", err)
			}
		}
	}
	if err := records(boot, in.src.def, opts.GPGKeys, rec, img.lockJSON, img.manifest); err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}

	st.start("initramfs")
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	// core.gz is packed straight into its place in the ISO; the tree
	// holds its metadata.
	if err := boot.WriteFile(iso.InitrdPath, nil, 0o644); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	img.name = isoName(in.plan.target, in.src.def.Name)
	img.path = filepath.Join(opts.Out, img.name)
	var coreErr error
	core := &iso.Stream{Path: iso.InitrdPath, Write: func(w io.Writer) error {
		if coreErr = initramfs.Write(ctx, w, in.root.tree, initramfs.Gzip, initramfs.Options{Epoch: in.epoch}); coreErr != nil {
			return coreErr
		}
		st.start("iso")
		return nil
	}}
	// The ISO stays a temp file until its sidecars are written: publish
	// renames them all.
	if img.tmp, img.sha256, err = writeISOTemp(ctx, img.path, boot, vic.ISOOptions(version(opts.Version), in.epoch), core); err != nil {
		if coreErr != nil {
			return nil, fmt.Errorf("initramfs: %w", coreErr)
		}
		return nil, fmt.Errorf("iso: %s: %w", img.path, err)
	}
	return img, nil
}

// isoName is VIC's name of a target's ISO: bootstrap.iso and
// appliance.iso for photon-2.0, bootstrap-<name>.iso and
// appliance-<name>.iso for any other definition (VIC builds no custom
// appliance; vicroot does).
func isoName(t Target, def string) string {
	base := "bootstrap"
	if t == TargetAppliance {
		base = "appliance"
	}
	if def != repos.DefaultName {
		return base + "-" + def + ".iso"
	}
	return base + ".iso"
}

// writeISOTemp writes the image of boot, with core's content packed into
// its place, to a temp file beside name, flushed to disk, and returns it
// (open and locked, for publish to rename) with the image's SHA-256.
func writeISOTemp(ctx context.Context, name string, boot fs.FS, o iso.Options, core *iso.Stream) (*atomicfile.File, string, error) {
	f, err := atomicfile.Create(name)
	if err != nil {
		return nil, "", err
	}
	o.Stream = core
	_, sum, err := iso.WriteFile(ctx, f.File, boot, o)
	if err == nil {
		err = f.Flush(0o644)
	}
	if err != nil {
		f.Discard()
		return nil, "", err
	}
	return f, hex.EncodeToString(sum[:]), nil
}

// bootLoader writes /boot/isolinux of the ISO: isolinux.bin (and
// ldlinux.c32 for syslinux ≥ 5) from the syslinux package or --isolinux,
// isolinux.cfg and boot.msg.
func bootLoader(ctx context.Context, boot *rootfs.Tree, syslinux *rpmrepo.Package, got *fetched, dir Dir, cacheDir, init string, bootArgs []string, ver string) error {
	found := map[string][]byte{}
	if dir.FS != nil {
		for _, n := range []string{"isolinux.bin", "ldlinux.c32"} {
			data, err := fs.ReadFile(dir.FS, n)
			if err == nil {
				found[n] = data
			} else if n == "isolinux.bin" {
				return fmt.Errorf("--isolinux %s: %w", dir.Name, err)
			}
		}
	} else {
		var err error
		if found, err = syslinuxFiles(ctx, syslinux, got.files[syslinux], cacheDir); err != nil {
			return err
		}
	}
	if err := boot.MkdirAll(iso.IsolinuxDir, 0o755); err != nil {
		return err
	}
	if err := boot.WriteFile(iso.IsolinuxBin, found["isolinux.bin"], 0o644); err != nil {
		return err
	}
	if data := found["ldlinux.c32"]; data != nil {
		if err := boot.WriteFile(iso.LdlinuxC32, data, 0o644); err != nil {
			return err
		}
	}
	cfg, err := vic.IsolinuxConfig(vic.BootConfig{Init: init, Extra: bootArgs})
	if err != nil {
		return err
	}
	if err := boot.WriteFile(iso.IsolinuxCfg, cfg, 0o644); err != nil {
		return err
	}
	return boot.WriteFile(iso.BootMsgPath, vic.BootMsg(ver), 0o644)
}

// syslinuxFiles returns isolinux.bin and ldlinux.c32 (when it ships one)
// of the syslinux package in the file rpm. A build keeps them in the cache
// dir by the package's checksum, which fetch verified the file against,
// in an entry whose name carries the digest of its content, checked on
// every use: a warm build does not decompress the payload again.
func syslinuxFiles(ctx context.Context, syslinux *rpmrepo.Package, rpm, cacheDir string) (map[string][]byte, error) {
	var entry string
	if cacheDir != "" && syslinux.Checksum.Type != "" && syslinux.Checksum.Value != "" {
		entry = filepath.Join(cacheDir, "bootloader", syslinux.Checksum.Type+"-"+syslinux.Checksum.Value)
		if data, ok := readCacheEntry(entry); ok {
			var found map[string][]byte
			if json.Unmarshal(data, &found) == nil && found["isolinux.bin"] != nil {
				return found, nil
			}
		}
	}
	scratch, err := rpminstall.Payload(ctx, rpminstall.RPMFile{Path: rpm})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", syslinux.NEVRA(), err)
	}
	found := map[string][]byte{}
	err = fs.WalkDir(scratch, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := path.Base(p)
		if (n == "isolinux.bin" || n == "ldlinux.c32") && found[n] == nil && d.Type().IsRegular() {
			data, err := scratch.ReadFile(p)
			if err != nil {
				return err
			}
			found[n] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found["isolinux.bin"] == nil {
		return nil, fmt.Errorf("%s ships no isolinux.bin", syslinux.NEVRA())
	}
	if entry != "" {
		if data, err := json.Marshal(found); err == nil {
			writeCacheEntry(entry, data)
		}
	}
	return found, nil
}

// readCacheEntry reads the cache entry key-<SHA-256 of its content>
// (key is a path): a damaged entry is removed, and not returned.
func readCacheEntry(key string) ([]byte, bool) {
	ents, _ := filepath.Glob(key + "-*")
	for _, e := range ents {
		data, err := os.ReadFile(e)
		if err == nil {
			s := sha256.Sum256(data)
			if e == key+"-"+hex.EncodeToString(s[:]) {
				return data, true
			}
		}
		os.Remove(e)
	}
	return nil, false
}

// writeCacheEntry stores data as readCacheEntry finds it; a cache that
// cannot be written costs the next build time only.
func writeCacheEntry(key string, data []byte) {
	if os.MkdirAll(filepath.Dir(key), 0o755) != nil {
		return
	}
	s := sha256.Sum256(data)
	_ = atomicfile.WriteFile(key+"-"+hex.EncodeToString(s[:]), data, 0o644)
}

// treeSHA256 is the SHA-256 of the file p of t; with bootInfo, of its
// bytes 8–63 zeroed (ISOLINUX's boot-info table, which the ISO writer
// fills in).
func treeSHA256(t *rootfs.Tree, p string, bootInfo bool) (string, error) {
	data, err := t.ReadFile(p)
	if err != nil {
		return "", err
	}
	return bootFileSHA256(data, bootInfo), nil
}

// bootFileSHA256 is the SHA-256 of data; with bootInfo, of data with bytes
// 8–63 zeroed.
func bootFileSHA256(data []byte, bootInfo bool) string {
	if bootInfo && len(data) >= 64 {
		data = append([]byte(nil), data...)
		clear(data[8:64])
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Inputs is what an ISO records of its build besides the lock and the
// definition: enough for `vicroot verify` to rebuild it.
type Inputs struct {
	Definition      string `json:"definition"`
	Version         string `json:"version"`
	SourceDateEpoch int64  `json:"source_date_epoch"`
	TetherSHA256    string `json:"tether_sha256"`
	UnpackSHA256    string `json:"unpack_sha256"`
	// IsolinuxSHA256 (of isolinux.bin with bytes 8–63 zeroed: the
	// boot-info table) and LdlinuxSHA256 are set when the build took them
	// from --isolinux.
	IsolinuxSHA256 string   `json:"isolinux_sha256,omitempty"`
	LdlinuxSHA256  string   `json:"ldlinux_sha256,omitempty"`
	BootArgs       []string `json:"boot_args,omitempty"`
	NoWeakDeps     bool     `json:"no_weak_deps,omitempty"`
	// AllowUnsignedKernel: the build accepted an unsigned kernel RPM
	// file (the definition's kernel file is recorded by its SHA-256 in
	// definition.json, not copied).
	AllowUnsignedKernel bool `json:"allow_unsigned_kernel,omitempty"`
	// Target is "appliance" for the appliance (omitted for the
	// bootstrap); Daemons are then the SHA-256 of VIC's daemons by name,
	// VicadminHomeSHA256 that of the vicadmin-home folder and
	// VicadminHome its entries, so that verify can take the daemons and
	// the folder back from the ISO.
	Target             string            `json:"target,omitempty"`
	Daemons            map[string]string `json:"daemons,omitempty"`
	VicadminHomeSHA256 string            `json:"vicadmin_home_sha256,omitempty"`
	VicadminHome       []HomeEntry       `json:"vicadmin_home,omitempty"`
}

// records writes /boot/vicroot/: the lock, the effective definition, the
// inputs, the initramfs manifest, and the definition's files and the
// --gpgkey files, so that verify can rebuild from the ISO alone.
func records(boot *rootfs.Tree, def *repos.Definition, keys []KeyFile, inputs Inputs, lock, manifest []byte) error {
	if err := boot.MkdirAll(RecordDir, 0o755); err != nil {
		return err
	}
	eff, err := def.Effective()
	if err != nil {
		return err
	}
	in, err := json.MarshalIndent(inputs, "", "  ")
	if err != nil {
		return err
	}
	type file struct {
		p    string
		data []byte
	}
	files := []file{
		{RecordDir + "/lock.json", lock},
		{RecordDir + "/definition.json", eff},
		{RecordDir + "/inputs.json", append(in, '\n')},
		{ManifestPath, manifest},
	}
	names, err := def.Files()
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == def.KernelFile {
			continue // recorded by its SHA-256 in definition.json, not copied
		}
		data, err := fs.ReadFile(def.FS, n)
		if err != nil {
			return fmt.Errorf("recording the definition: %w", err)
		}
		files = append(files, file{RecordDir + "/definition/" + n, data})
	}
	for i, k := range keys {
		files = append(files, file{fmt.Sprintf("%s/gpgkeys/%02d-%s", RecordDir, i, filepath.Base(k.Name)), k.Data})
	}
	for _, f := range files {
		if err := boot.MkdirAll(path.Dir(f.p), 0o755); err != nil {
			return err
		}
		if err := boot.WriteFile(f.p, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
