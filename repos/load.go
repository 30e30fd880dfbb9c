package repos

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/vicroot/vicroot/internal/atomicfile"
)

// The embedded definitions, written for this project from VIC's
// isos/base/repos folders (repos/README.md, "The embedded samples").
//
//go:embed definitions
var embedded embed.FS

// DefaultName is the definition used when none is named.
const DefaultName = "photon-2.0"

// Hook files of a definition (optional). They run on the tree, never on
// the host (package rootfs).
const (
	BaseHookFile    = "base.sh"
	StagingHookFile = "staging.sh"
)

// BaseArch is the only architecture VIC builds; $basearch and $arch in
// gpgkey URLs expand to it.
const BaseArch = "x86_64"

// Size caps of a definition's files: far above any real one (a
// repo-spec.json is a few KiB, a key file a few KiB), low enough that a
// wrong file is refused at once instead of filling memory.
const (
	MaxDefinitionFile = 1 << 20 // repo-spec.json, *.repo, the hook scripts
	MaxKeyFile        = 1 << 20 // an armored or binary key file
)

// ErrTooLarge is wrapped when a definition or key file is over its cap.
var ErrTooLarge = errors.New("over the size cap")

// readCapped reads name from fsys, refusing it when it is larger than max
// bytes without reading more than that. label names it in the error.
func readCapped(fsys fs.FS, name, label string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > max {
		return nil, tooLarge(label, st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, tooLarge(label, int64(len(b)), max)
	}
	return b, nil
}

func tooLarge(label string, size, max int64) error {
	return fmt.Errorf("repos: %s: %w: %d bytes, the cap is %d MiB", label, ErrTooLarge, size, max>>20)
}

// ErrNotFound is returned (wrapped) by Load when the name is neither an
// embedded definition nor a folder.
var ErrNotFound = errors.New("no such repo definition")

// File is a file of the definition kept as raw bytes. .repo files are not
// parsed here beyond GPGKeyValues: rpmrepo owns their syntax.
type File struct {
	Name string // base name, e.g. "photon.repo"
	Data []byte
}

// Definition is a loaded, validated repo definition: the user's whole input
// to a build.
type Definition struct {
	Name       string // Spec.Name
	Dir        string // the folder it was loaded from; "" when embedded
	Embedded   bool
	Spec       *Spec
	Releasever string // Spec.Releasever, or derived from the name as VIC does
	// KernelFile is the kernel RPM when Spec.Kernel names a file (it is
	// then installed without dependency resolution, as VIC does): a path
	// inside the definition folder (slash-separated, cleaned), or an
	// absolute path on the host; "" when Kernel is a package spec.
	KernelFile string
	// KernelSHA256 is the kernel file's SHA-256 when it is known without
	// reading the file: given in LoadOptions (a definition an ISO
	// records), or set by a build once it has verified the file.
	KernelSHA256 string
	RepoFiles    []File // every *.repo file, sorted by name
	Keys         []Key  // sorted by URL, then File
	Init         *InitScript
	// The hook scripts, nil when absent. InitSH is required.
	InitSH, BaseSH, StagingSH []byte
	// FS holds the definition's files (for the kernel RPM, or Export).
	FS fs.FS

	label string // how errors name the definition: a folder path or "embedded:NAME"
	// kernelElsewhere: the kernel file does not travel with the
	// definition (LoadOptions.KernelFile).
	kernelElsewhere bool
}

// LoadOptions tune LoadFSWith.
type LoadOptions struct {
	// KernelFile and KernelSHA256 describe the kernel RPM file of a
	// definition whose file does not travel with it (one an ISO records:
	// the file is found by its digest). The file is taken as given,
	// neither looked for nor read; KernelFile must be what Spec.Kernel
	// names.
	KernelFile, KernelSHA256 string
}

// Summary is a one-line description of an embedded definition.
type Summary struct {
	Name           string
	Default        bool
	PackageManager string
	Kernel         string
	Description    string
}

// Embedded lists the embedded definitions, sorted by name.
func Embedded() ([]Summary, error) {
	ents, err := fs.ReadDir(embedded, "definitions")
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d, err := loadEmbedded(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Summary{
			Name: d.Name, Default: d.Name == DefaultName, PackageManager: d.Spec.PackageManager,
			Kernel: d.Spec.Kernel, Description: d.Spec.Description,
		})
	}
	return out, nil
}

// Load loads a definition by embedded name (photon-2.0, photon-1.0,
// centos-6.9) or from a folder. A name without a path separator is looked
// up among the embedded definitions first; "./photon-2.0" forces the
// folder. Load reads only local files and does no network I/O.
func Load(nameOrDir string) (*Definition, error) {
	if nameOrDir == "" {
		nameOrDir = DefaultName
	}
	if !strings.ContainsRune(nameOrDir, '/') && !strings.ContainsRune(nameOrDir, filepath.Separator) && nameOrDir != "." && nameOrDir != ".." {
		if _, err := fs.Stat(embedded, "definitions/"+nameOrDir+"/"+SpecFile); err == nil {
			return loadEmbedded(nameOrDir)
		}
	}
	st, err := os.Stat(nameOrDir)
	if err != nil || !st.IsDir() {
		var names []string
		if sums, e := Embedded(); e == nil {
			for _, s := range sums {
				names = append(names, s.Name)
			}
		}
		return nil, fmt.Errorf("repos: %q: %w: not an embedded definition (%s) and not a folder", nameOrDir, ErrNotFound, strings.Join(names, ", "))
	}
	return LoadFS(os.DirFS(nameOrDir), nameOrDir, false)
}

func loadEmbedded(name string) (*Definition, error) {
	sub, err := fs.Sub(embedded, "definitions/"+name)
	if err != nil {
		return nil, err
	}
	return LoadFS(sub, "embedded:"+name, true)
}

// LoadFS loads a definition from fsys. label names it in errors (a folder
// path, or "embedded:NAME" when isEmbedded).
func LoadFS(fsys fs.FS, label string, isEmbedded bool) (*Definition, error) {
	return LoadFSWith(fsys, label, isEmbedded, LoadOptions{})
}

// LoadFSWith is LoadFS with options.
func LoadFSWith(fsys fs.FS, label string, isEmbedded bool, o LoadOptions) (*Definition, error) {
	d := &Definition{FS: fsys, Embedded: isEmbedded, label: label}
	if !isEmbedded {
		d.Dir = label
	}
	specData, err := readCapped(fsys, SpecFile, d.path(SpecFile), MaxDefinitionFile)
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("repos: %s: %w", d.path(SpecFile), err)
	}
	spec, err := ParseSpec(d.path(SpecFile), specData)
	if err != nil {
		return nil, err
	}
	d.Spec, d.Name = spec, spec.Name
	d.Releasever = spec.ReleaseverOrDerived()

	var errs []error
	if err := d.loadKernel(o); err != nil {
		errs = append(errs, err)
	}
	if err := d.loadScripts(); err != nil {
		errs = append(errs, err)
	}
	if err := d.loadRepoFiles(); err != nil {
		errs = append(errs, err)
	} else if err := d.loadKeys(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// path names a file of the definition in messages.
func (d *Definition) path(name string) string {
	if d.Embedded {
		return d.label + "/" + name
	}
	if d.label == "." {
		return "./" + name // as the user typed it, not a bare "repo-spec.json"
	}
	return filepath.Join(d.label, filepath.FromSlash(name))
}

// loadKernel decides whether Spec.Kernel is a file, by VIC's rule (if
// the path is a file, it is a file): an absolute path on the host, or a
// path inside the definition folder. A value ending in .rpm that is no
// file is an error naming the path; anything else is a package spec.
func (d *Definition) loadKernel(o LoadOptions) error {
	k := d.Spec.Kernel
	if o.KernelFile != "" {
		if kernelPath(k) != o.KernelFile {
			return &SpecError{File: d.path(SpecFile), Field: "kernel", Msg: fmt.Sprintf("%q, but the record names the kernel file %q", k, o.KernelFile)}
		}
		d.KernelFile, d.KernelSHA256, d.kernelElsewhere = o.KernelFile, o.KernelSHA256, true
		return nil
	}
	if path.IsAbs(k) {
		p := kernelPath(k)
		st, err := os.Stat(filepath.FromSlash(p))
		switch {
		case err == nil && st.Mode().IsRegular():
			d.KernelFile = p
			return nil
		case err == nil && strings.HasSuffix(k, ".rpm"):
			return &SpecError{File: d.path(SpecFile), Field: "kernel", Msg: fmt.Sprintf("%q: %s is not a regular file", k, p)}
		case strings.HasSuffix(k, ".rpm"):
			return &SpecError{File: d.path(SpecFile), Field: "kernel", Msg: fmt.Sprintf("%q: ends in .rpm but the kernel RPM file %s does not exist", k, p)}
		}
		return nil // a package spec: a file some package provides
	}
	rel := kernelPath(k)
	if fs.ValidPath(rel) {
		if st, err := fs.Stat(d.FS, rel); err == nil && st.Mode().IsRegular() {
			d.KernelFile = rel
			return nil
		}
	} else if strings.HasSuffix(k, ".rpm") {
		return &SpecError{File: d.path(SpecFile), Field: "kernel", Msg: fmt.Sprintf("%q leaves the definition folder: a relative kernel path is inside it; give a kernel RPM elsewhere by its absolute path", k)}
	}
	if strings.HasSuffix(k, ".rpm") {
		return &SpecError{File: d.path(SpecFile), Field: "kernel", Msg: fmt.Sprintf("%q: ends in .rpm but %s is not a file in the definition folder (a kernel outside it is given by its absolute path)", k, d.path(rel))}
	}
	return nil
}

// kernelPath is the kernel value as a cleaned path.
func kernelPath(k string) string { return path.Clean(k) }

// KernelLabel is how messages name the kernel RPM file: its host path, or
// its path in the definition folder.
func (d *Definition) KernelLabel() string {
	if d.KernelFile == "" || path.IsAbs(d.KernelFile) {
		return d.KernelFile
	}
	return d.path(d.KernelFile)
}

// OpenKernel opens the kernel RPM file (KernelFile). A definition whose
// file does not travel with it (LoadOptions) cannot open it.
func (d *Definition) OpenKernel() (io.ReadCloser, error) {
	switch {
	case d.KernelFile == "":
		return nil, fmt.Errorf("repos: %s: the kernel %q is a package, not a file", d.label, d.Spec.Kernel)
	case d.kernelElsewhere:
		return nil, fmt.Errorf("repos: %s: the kernel RPM file %s (sha256 %s) does not travel with this definition", d.label, d.KernelFile, d.KernelSHA256)
	case path.IsAbs(d.KernelFile):
		f, err := os.Open(filepath.FromSlash(d.KernelFile))
		if err != nil {
			return nil, fmt.Errorf("repos: kernel RPM file: %w", err)
		}
		return f, nil
	}
	f, err := d.FS.Open(d.KernelFile)
	if err != nil {
		return nil, fmt.Errorf("repos: kernel RPM file %s: %w", d.path(d.KernelFile), err)
	}
	return f, nil
}

func (d *Definition) loadScripts() error {
	var errs []error
	read := func(name string, required bool) []byte {
		b, err := readCapped(d.FS, name, d.path(name), MaxDefinitionFile)
		if errors.Is(err, ErrTooLarge) {
			errs = append(errs, err)
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			if required {
				errs = append(errs, fmt.Errorf("repos: %s: required file is missing (it defines the drivers array read at build time and is /bin/repoinit at boot)", d.path(name)))
			}
			return nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("repos: %s: %w", d.path(name), err))
			return nil
		}
		if b == nil {
			b = []byte{}
		}
		return b
	}
	d.InitSH = read(InitFile, true)
	d.BaseSH = read(BaseHookFile, false)
	d.StagingSH = read(StagingHookFile, false)
	if d.InitSH != nil {
		init, err := ParseInit(d.path(InitFile), d.InitSH)
		if err != nil {
			errs = append(errs, err)
		} else {
			d.Init = init
			hasE, hasI := init.Defines(FuncInstallEntropy), init.Defines(FuncInstallIptables)
			if d.Spec.Tether == nil {
				switch {
				case hasE && hasI:
					d.Init.Legacy = true
				case hasE || hasI:
					errs = append(errs, fmt.Errorf("repos: %s defines only one of %s and %s and %s has no tether section: define both (a legacy VIC definition) or neither",
						d.path(InitFile), FuncInstallEntropy, FuncInstallIptables, SpecFile))
				}
			}
		}
	}
	// The hooks run later on the tree; a syntax error is reported now.
	for _, h := range []struct {
		name string
		data []byte
	}{{BaseHookFile, d.BaseSH}, {StagingHookFile, d.StagingSH}} {
		if h.data == nil {
			continue
		}
		if _, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(h.data), d.path(h.name)); err != nil {
			errs = append(errs, fmt.Errorf("repos: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (d *Definition) loadRepoFiles() error {
	ents, err := fs.ReadDir(d.FS, ".")
	if err != nil {
		return fmt.Errorf("repos: %s: %w", d.label, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".repo") || e.IsDir() {
			continue
		}
		b, err := readCapped(d.FS, e.Name(), d.path(e.Name()), MaxDefinitionFile)
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		if err != nil {
			return fmt.Errorf("repos: %s: %w", d.path(e.Name()), err)
		}
		d.RepoFiles = append(d.RepoFiles, File{Name: e.Name(), Data: b})
	}
	if len(d.RepoFiles) == 0 {
		return fmt.Errorf("repos: %s: no *.repo file (the yum repositories to install from)", d.label)
	}
	return nil
}

// expandVars expands the yum variables a gpgkey URL may use.
func (d *Definition) expandVars(s string) string {
	r := strings.NewReplacer("${releasever}", d.Releasever, "$releasever", d.Releasever,
		"${basearch}", BaseArch, "$basearch", BaseArch, "${arch}", BaseArch, "$arch", BaseArch)
	return r.Replace(s)
}

func (d *Definition) loadKeys() error {
	var errs []error
	byURL := map[string]*Key{}
	usedPins := map[string]bool{}
	pinsFor := func(url, base string) []string {
		if p, ok := d.Spec.GPGKeys[url]; ok {
			usedPins[url] = true
			return p
		}
		if p, ok := d.Spec.GPGKeys[base]; ok && base != "" {
			usedPins[base] = true
			return p
		}
		return nil
	}
	for _, rf := range d.RepoFiles {
		for _, raw := range GPGKeyValues(rf.Data) {
			url := d.expandVars(raw)
			if k, ok := byURL[url]; ok {
				if !slices.Contains(k.RepoFiles, rf.Name) {
					k.RepoFiles = append(k.RepoFiles, rf.Name)
				}
				continue
			}
			where := d.path(rf.Name)
			if strings.Contains(url, "$") {
				errs = append(errs, fmt.Errorf("repos: %s: gpgkey %s: unknown variable (only $releasever, $basearch and $arch are expanded)", where, raw))
				continue
			}
			k := &Key{URL: url, RepoFiles: []string{rf.Name}}
			switch {
			case strings.HasPrefix(url, "file://"):
				p := strings.TrimPrefix(url, "file://")
				if !isImagePath(p) {
					errs = append(errs, fmt.Errorf("repos: %s: gpgkey %s: expected file:///absolute/path (a path inside the image)", where, url))
					continue
				}
				k.ImagePath = p
				base := path.Base(p)
				k.Pins = pinsFor(url, base)
				b, err := readCapped(d.FS, base, d.path(base), MaxKeyFile)
				switch {
				case errors.Is(err, ErrTooLarge):
					errs = append(errs, err)
					continue
				case err == nil:
					k.Source, k.File, k.Armored = KeyFromDefinition, base, b
					fps, err := Fingerprints(b)
					if err != nil {
						errs = append(errs, fmt.Errorf("repos: %s (gpgkey %s in %s): %w", d.path(base), url, rf.Name, err))
						continue
					}
					k.Fingerprints = fps
					if k.Pins != nil {
						if _, err := CheckPin(b, k.Pins); err != nil {
							errs = append(errs, fmt.Errorf("repos: %s (gpgkey %s in %s): %w", d.path(base), url, rf.Name, err))
							continue
						}
					}
				case errors.Is(err, fs.ErrNotExist) && k.Pins != nil:
					// The release package that ships P provides it (see Key).
					k.Source = KeyPinned
				case errors.Is(err, fs.ErrNotExist):
					errs = append(errs, fmt.Errorf("repos: %s: gpgkey %s: key file %s is missing (the key installed at %s in the image is read from the definition folder; or pin its fingerprint in %s \"gpgkeys\")",
						where, url, d.path(base), p, SpecFile))
					continue
				default:
					errs = append(errs, fmt.Errorf("repos: %s: %w", d.path(base), err))
					continue
				}
			case strings.HasPrefix(url, "https://"):
				k.Pins = pinsFor(url, path.Base(url))
				if k.Pins == nil {
					errs = append(errs, fmt.Errorf("repos: %s: gpgkey %s: a key fetched over https needs a pinned fingerprint in %s \"gpgkeys\" (by URL or by %q)", where, url, SpecFile, path.Base(url)))
					continue
				}
				k.Source = KeyPinned
			default:
				errs = append(errs, fmt.Errorf("repos: %s: gpgkey %s: expected file:///path-in-image or https://… with a pinned fingerprint", where, url))
				continue
			}
			byURL[url] = k
		}
	}
	pinNames := make([]string, 0, len(d.Spec.GPGKeys))
	for n := range d.Spec.GPGKeys {
		pinNames = append(pinNames, n)
	}
	sort.Strings(pinNames)
	for _, n := range pinNames {
		if !usedPins[n] {
			errs = append(errs, &SpecError{File: d.path(SpecFile), Field: "gpgkeys." + n, Msg: "no gpgkey= line in any .repo file names this URL or key file"})
		}
	}
	urls := make([]string, 0, len(byURL))
	for u := range byURL {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		d.Keys = append(d.Keys, *byURL[u])
	}
	return errors.Join(errs...)
}

// AddKeyFile adds a key by hand (--gpgkey FILE). If its fingerprints
// satisfy the pins of a key still waiting for material, it provides that
// key's material; otherwise it is an extra trusted key (not installed in
// the image).
func (d *Definition) AddKeyFile(file string) error {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	b, err := readCapped(os.DirFS(dir), base, "--gpgkey "+file, MaxKeyFile)
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if err != nil {
		return fmt.Errorf("repos: --gpgkey: %w", err)
	}
	return d.AddKey(file, b)
}

// AddKey is AddKeyFile with the material in hand; name is used in messages.
func (d *Definition) AddKey(name string, armored []byte) error {
	fps, err := Fingerprints(armored)
	if err != nil {
		return fmt.Errorf("repos: --gpgkey %s: %w", name, err)
	}
	for i := range d.Keys {
		k := &d.Keys[i]
		if k.Source != KeyPinned {
			continue
		}
		if _, err := CheckPin(armored, k.Pins); err == nil {
			k.Source, k.File, k.Armored, k.Fingerprints = KeyFromGPGKeyFlag, name, armored, fps
			return nil
		}
	}
	d.Keys = append(d.Keys, Key{Source: KeyFromGPGKeyFlag, File: name, Fingerprints: fps, Armored: armored})
	return nil
}

// PackageList returns the packages of one stage.
func (d *Definition) PackageList(st Stage) ([]string, error) { return d.Spec.PackageList(st) }

// Tether returns the definition's tether plan (see TetherPlan): the spec's
// section with defaults filled in, VIC's legacy init.sh functions, or the
// defaults.
func (d *Definition) Tether() TetherPlan {
	if d.Init != nil && d.Init.Legacy {
		return TetherPlan{Mode: TetherLegacy}
	}
	p := TetherPlan{Mode: TetherDefault, Entropy: slices.Clone(defaultEntropy), Iptables: &Command{Binary: DefaultIptables}}
	if t := d.Spec.Tether; t != nil {
		p.Mode = TetherSpec
		if t.Entropy != nil {
			p.Entropy = []Command{*t.Entropy}
		}
		if t.Iptables != nil {
			c := *t.Iptables
			p.Iptables = &c
		}
		p.Extra = slices.Clone(t.Extra)
	}
	return p
}

// CheckLegacyShell returns an error naming init.sh when the definition is
// a legacy one (its init.sh is sourced by bash at boot) and the image has
// no /bin/bash. exists reports whether a path exists in the image.
func (d *Definition) CheckLegacyShell(exists func(path string) bool) error {
	if d.Init == nil || !d.Init.Legacy || exists("/bin/bash") {
		return nil
	}
	return fmt.Errorf("repos: %s defines %s and %s (a legacy VIC definition): it is sourced by bash at boot, but /bin/bash is not in the image; add bash to packages.base or add a tether section to %s",
		d.path(InitFile), FuncInstallEntropy, FuncInstallIptables, SpecFile)
}

// Files returns the names of every file of the definition (the ones Load
// reads, plus any others in the folder), sorted.
func (d *Definition) Files() ([]string, error) {
	var names []string
	err := fs.WalkDir(d.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			names = append(names, p)
		}
		return nil
	})
	return names, err
}

// Export writes a copy of the definition's files into dir (created if
// needed), for users who start a new definition from a sample. Existing
// files are not overwritten. Each file is written to a temporary name and
// renamed.
func (d *Definition) Export(dir string) error {
	names, err := d.Files()
	if err != nil {
		return fmt.Errorf("repos: %s: %w", d.label, err)
	}
	for _, n := range names {
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("repos: export %s: %s already exists", d.label, dst)
		}
		b, err := fs.ReadFile(d.FS, n)
		if err != nil {
			return fmt.Errorf("repos: %s: %w", d.path(n), err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("repos: export: %w", err)
		}
		if err := atomicfile.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("repos: export %s: %w", dst, err)
		}
	}
	return nil
}
