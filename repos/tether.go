package repos

import (
	"errors"
	"fmt"
	"strings"
)

// Tether is the optional "tether" section of repo-spec.json: what the
// bootstrap image copies into /.tether besides tether and unpack. The
// extension directories of iptables are not listed: the tether stage reads
// them out of libxtables.
type Tether struct {
	Entropy  *Command `json:"entropy,omitempty"`  // nil: derived from the tree
	Iptables *Command `json:"iptables,omitempty"` // nil: /sbin/iptables
	Extra    []string `json:"extra,omitempty"`    // further absolute paths in the image
}

// Command is a program in the image and its arguments. Args is one string
// because tether reads /.tether/opt/config/entropy.txt split on single
// spaces, and that is where Args ends up.
type Command struct {
	Binary string `json:"binary"`
	Args   string `json:"args,omitempty"`
}

// Default entropy daemons, in order of preference: haveged as VIC's photon
// definitions run it, else rngd as VIC's centos-6.9 definition runs it.
var defaultEntropy = []Command{
	{Binary: "/usr/sbin/haveged", Args: "-w 1024 -v 1 -F"},
	{Binary: "/sbin/haveged", Args: "-w 1024 -v 1 -F"},
	{Binary: "/sbin/rngd", Args: "-v --no-tpm=1"},
	{Binary: "/usr/sbin/rngd", Args: "-v --no-tpm=1"},
}

// DefaultIptables is the iptables binary copied when the spec names none.
const DefaultIptables = "/sbin/iptables"

// Tether modes, see TetherPlan.
const (
	TetherSpec    = "spec"    // the spec has a tether section
	TetherDefault = "default" // no section: defaults derived from the tree
	TetherLegacy  = "legacy"  // no section and init.sh defines install-entropy/install-iptables
)

// TetherPlan is the effective tether configuration of a definition before
// the tree is known. In legacy mode init.sh is shipped verbatim and VIC's
// function names are called at boot, so Entropy and Iptables are empty;
// otherwise vicroot generates the copy functions itself.
type TetherPlan struct {
	Mode string `json:"mode"`
	// Entropy lists the candidates; the first whose binary exists in the
	// tree is used. A spec that names one gives exactly one.
	Entropy  []Command `json:"entropy,omitempty"`
	Iptables *Command  `json:"iptables,omitempty"`
	Extra    []string  `json:"extra,omitempty"`
}

// ErrNoEntropy is returned by Resolve when no entropy daemon is in the tree.
var ErrNoEntropy = errors.New("no entropy daemon in the image")

// Resolve picks the entropy daemon that exists in the tree. exists reports
// whether an absolute path exists in the image (following symlinks as the
// image would). In legacy mode it returns the plan unchanged.
func (p TetherPlan) Resolve(exists func(path string) bool) (TetherPlan, error) {
	if p.Mode == TetherLegacy {
		return p, nil
	}
	var tried []string
	for _, c := range p.Entropy {
		if exists(c.Binary) {
			p.Entropy = []Command{c}
			if p.Iptables != nil && !exists(p.Iptables.Binary) {
				return p, fmt.Errorf("repos: tether.iptables: %s is not in the image", p.Iptables.Binary)
			}
			for _, x := range p.Extra {
				if !exists(x) {
					return p, fmt.Errorf("repos: tether.extra: %s is not in the image", x)
				}
			}
			return p, nil
		}
		tried = append(tried, c.Binary)
	}
	return p, fmt.Errorf("repos: tether.entropy: %w (looked for %s)", ErrNoEntropy, strings.Join(tried, ", "))
}

func (d *specDecoder) tether(n *node, field string) *Tether {
	t := &Tether{}
	d.object(n, field, map[string]func(*node, string){
		"entropy": func(n *node, f string) {
			c := &Command{}
			got := d.object(n, f, map[string]func(*node, string){
				"binary": func(n *node, f string) { c.Binary = d.imagePath(n, f) },
				"args":   func(n *node, f string) { c.Args = d.args(n, f) },
			})
			d.require(n, f, got, "binary")
			t.Entropy = c
		},
		"iptables": func(n *node, f string) {
			c := &Command{}
			got := d.object(n, f, map[string]func(*node, string){
				"binary": func(n *node, f string) { c.Binary = d.imagePath(n, f) },
			})
			d.require(n, f, got, "binary")
			t.Iptables = c
		},
		"extra": func(n *node, f string) {
			if n.kind != kindArray {
				d.typeError(n, f, "an array of absolute paths in the image")
				return
			}
			seen := map[string]bool{}
			for i, e := range n.elems {
				ef := fmt.Sprintf("%s[%d]", f, i)
				p := d.imagePath(e, ef)
				if p == "" {
					continue
				}
				if seen[p] {
					d.errorf(e, ef, "%s is listed twice", p)
					continue
				}
				seen[p] = true
				t.Extra = append(t.Extra, p)
			}
		},
	})
	return t
}

func (d *specDecoder) imagePath(n *node, field string) string {
	if n.kind != kindString {
		d.typeError(n, field, "an absolute path in the image (string)")
		return ""
	}
	if !isImagePath(n.str) {
		d.errorf(n, field, "%q: expected an absolute, clean path in the image", n.str)
		return ""
	}
	return n.str
}

func (d *specDecoder) args(n *node, field string) string {
	if n.kind != kindString {
		d.typeError(n, field, "the arguments as one string")
		return ""
	}
	// tether splits entropy.txt on single spaces: anything else would
	// give it empty or glued arguments.
	if n.str != strings.Join(strings.Fields(n.str), " ") {
		d.errorf(n, field, "%q: separate arguments with single spaces (tether splits on them), no tabs, newlines or leading/trailing spaces", n.str)
		return ""
	}
	return n.str
}

// DefaultEntropy returns the entropy daemons a definition without a tether
// section may use, in order of preference.
func DefaultEntropy() []Command { return append([]Command(nil), defaultEntropy...) }
