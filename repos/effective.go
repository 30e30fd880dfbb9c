package repos

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Effective is the definition with every default filled in, as
// `vicroot repos show` prints it. It does not say where the definition was
// loaded from, so an embedded definition and a copy of it in a folder give
// the same bytes.
type Effective struct {
	Name           string          `json:"name"`
	Description    string          `json:"description,omitempty"`
	PackageManager string          `json:"packagemanager"`
	Releasever     string          `json:"releasever"`
	Init           string          `json:"init"`
	Kernel         EffectiveKernel `json:"kernel"`
	Packages       struct {
		Base      []string `json:"base"`
		Bootstrap []string `json:"bootstrap"`
		Appliance []string `json:"appliance"`
	} `json:"packages"`
	PackagesScriptStaging struct {
		Bootstrap *StagingCommand `json:"bootstrap"`
		Appliance *StagingCommand `json:"appliance"`
	} `json:"packages_script_staging"`
	RepoFiles []EffectiveFile `json:"repo_files"`
	Keys      []Key           `json:"keys"`
	InitSH    struct {
		SHA256 string `json:"sha256"`
		InitScript
	} `json:"init_sh"`
	BaseSH    *EffectiveFile `json:"base_sh"`
	StagingSH *EffectiveFile `json:"staging_sh"`
	Tether    TetherPlan     `json:"tether"`
}

// EffectiveKernel says whether the kernel is a package or a file.
type EffectiveKernel struct {
	Package string `json:"package,omitempty"`
	File    string `json:"file,omitempty"`   // inside the definition folder, or an absolute host path
	SHA256  string `json:"sha256,omitempty"` // of File
}

// EffectiveFile identifies a file of the definition by name and digest.
type EffectiveFile struct {
	Name    string   `json:"name"`
	SHA256  string   `json:"sha256"`
	GPGKeys []string `json:"gpgkeys,omitempty"` // .repo files: the gpgkey values found by GPGKeyValues
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// EffectiveDefinition fills in the defaults.
func (d *Definition) EffectiveDefinition() (*Effective, error) {
	e := &Effective{
		Name: d.Name, Description: d.Spec.Description, PackageManager: d.Spec.PackageManager,
		Releasever: d.Releasever, Init: d.Spec.Init, Tether: d.Tether(),
	}
	if d.KernelFile != "" {
		e.Kernel.File = d.KernelFile
		e.Kernel.SHA256 = d.KernelSHA256
		if e.Kernel.SHA256 == "" {
			f, err := d.OpenKernel()
			if err != nil {
				return nil, err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("repos: %s: %w", d.KernelLabel(), err)
			}
			e.Kernel.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
	} else {
		e.Kernel.Package = d.Spec.Kernel
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return slices.Clone(s)
	}
	e.Packages.Base = nonNil(d.Spec.Packages.Base)
	e.Packages.Bootstrap = nonNil(d.Spec.Packages.Bootstrap)
	e.Packages.Appliance = nonNil(d.Spec.Packages.Appliance)
	e.PackagesScriptStaging.Bootstrap = d.Spec.Staging.Bootstrap
	e.PackagesScriptStaging.Appliance = d.Spec.Staging.Appliance
	e.RepoFiles = []EffectiveFile{}
	for _, f := range d.RepoFiles {
		e.RepoFiles = append(e.RepoFiles, EffectiveFile{Name: f.Name, SHA256: digest(f.Data), GPGKeys: GPGKeyValues(f.Data)})
	}
	e.Keys = append([]Key{}, d.Keys...)
	e.InitSH.SHA256 = digest(d.InitSH)
	if d.Init != nil {
		e.InitSH.InitScript = *d.Init
	}
	if d.BaseSH != nil {
		e.BaseSH = &EffectiveFile{Name: BaseHookFile, SHA256: digest(d.BaseSH)}
	}
	if d.StagingSH != nil {
		e.StagingSH = &EffectiveFile{Name: StagingHookFile, SHA256: digest(d.StagingSH)}
	}
	return e, nil
}

// Effective returns EffectiveDefinition as indented JSON with a final
// newline. The output is deterministic (struct order, sorted slices).
func (d *Definition) Effective() ([]byte, error) {
	e, err := d.EffectiveDefinition()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
