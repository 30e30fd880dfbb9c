package repos

import (
	"fmt"
	"strings"
)

// Staging verbs. VIC passes packages_script_staging to the package manager
// as a raw sub-command; vicroot accepts only these three.
const (
	VerbErase   = "erase"
	VerbRemove  = "remove"
	VerbInstall = "install"
)

// StagingCommand is a parsed packages_script_staging entry, e.g.
// "erase toybox" → {Verb: "erase", Packages: ["toybox"]}. erase and remove
// mean the same to tdnf and yum; the verb is kept as written.
type StagingCommand struct {
	Verb     string   `json:"verb"`
	Packages []string `json:"packages"`
}

// String gives the command back in the form the spec uses.
func (c *StagingCommand) String() string {
	return c.Verb + " " + strings.Join(c.Packages, " ")
}

// Erases reports whether the command removes packages (erase or remove).
func (c *StagingCommand) Erases() bool { return c.Verb == VerbErase || c.Verb == VerbRemove }

// ParseStagingCommand parses one packages_script_staging value. "" means
// "skip" and gives (nil, nil). Anything but `erase|remove|install NAME…`
// is an error: options such as -y are added by the package manager stage,
// never written in the spec.
func ParseStagingCommand(s string) (*StagingCommand, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		if s != "" {
			return nil, fmt.Errorf("%q: only white space; use \"\" to skip", s)
		}
		return nil, nil
	}
	if f[0] == "null" && len(f) == 1 {
		return nil, fmt.Errorf(`is the string "null" (VIC's jq bug); use "" to skip`)
	}
	switch f[0] {
	case VerbErase, VerbRemove, VerbInstall:
	default:
		return nil, fmt.Errorf("%q: unknown command %q; expected \"erase NAME…\", \"remove NAME…\" or \"install NAME…\"", s, f[0])
	}
	if len(f) == 1 {
		return nil, fmt.Errorf("%q: %s needs at least one package name", s, f[0])
	}
	for _, p := range f[1:] {
		if strings.HasPrefix(p, "-") {
			return nil, fmt.Errorf("%q: option %q is not allowed; vicroot adds the package manager's options itself", s, p)
		}
		if !pkgRE.MatchString(p) {
			return nil, fmt.Errorf("%q: %q is not a package name", s, p)
		}
	}
	return &StagingCommand{Verb: f[0], Packages: f[1:]}, nil
}
