package rpminstall

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/vicroot/vicroot/rootfs/sysconf"
	"mvdan.cc/sh/v3/syntax"
)

// emulateScriptlets handles the scriptlets of d whose kind is in kinds:
// the effects vicroot does natively are applied (accounts) or left to the
// build stage (depmod, ldconfig, systemd presets), and each scriptlet is
// recorded in the report with how it was treated. Callers hold the lock.
func (in *Installer) emulateScriptlets(d *decodedRPM, rep *PackageReport, kinds ...string) {
	for _, s := range d.scripts {
		if !slices.Contains(kinds, s.Kind) {
			continue
		}
		rep.Scriptlets = append(rep.Scriptlets, in.emulate(d.nevra, s, rep))
	}
}

// Commands whose effect is done elsewhere by vicroot, and by what.
var deferredCommands = map[string]string{
	"ldconfig":                 "ldconfig",
	"depmod":                   "depmod",
	"systemctl":                "systemd-preset",
	"systemd-sysusers":         "sysusers",
	"systemd-tmpfiles":         "",
	"udevadm":                  "",
	"systemd-machine-id-setup": "machine-id",
	"journalctl":               "",
}

// Commands with no lasting effect on the image (tests, output, control).
var inertCommands = map[string]bool{
	":": true, "true": true, "false": true, "exit": true, "echo": true,
	"[": true, "test": true, "printf": true, "return": true, "set": true,
	"command": true, "type": true, "which": true,
}

// emulate treats one scriptlet: never runs it, but parses it with
// mvdan.cc/sh/v3/syntax and performs the account commands it holds
// (groupadd, useradd, usermod, with getent guards). It is reported as
// emulated only when every command in it is known.
func (in *Installer) emulate(nevra string, s Scriptlet, rep *PackageReport) ScriptletReport {
	r := ScriptletReport{Kind: s.Kind, Prog: s.Prog}
	if s.Kind == "preun" || s.Kind == "postun" {
		r.Note = "runs when the package is erased, not on install"
		return r
	}
	prog := path.Base(strings.Fields(s.Prog + " x")[0])
	switch {
	case s.Prog == "<lua>":
		r.Note = "lua scriptlet not emulated"
		return r
	case prog == "ldconfig":
		if strings.TrimSpace(s.Body) == "" {
			r.Emulated, r.By = true, []string{"ldconfig"}
			return r
		}
	case prog != "sh" && prog != "bash":
		r.Note = fmt.Sprintf("interpreter %s not emulated", s.Prog)
		return r
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(s.Body), nevra+" %"+s.Kind)
	if err != nil {
		r.Note = fmt.Sprintf("not parsed: %v", err)
		return r
	}
	// Triggers run when other packages come and go; their account
	// commands are not applied blindly, only classified.
	dry := s.Kind == "trigger" || s.Kind == "filetrigger"
	ev := &scriptEval{sys: in.sys, name: nevra + " %" + s.Kind, by: map[string]bool{}, unknown: map[string]bool{}, dry: dry}
	ev.stmts(f.Stmts)
	for _, w := range ev.warnings {
		rep.Warnings = append(rep.Warnings, w)
	}
	for b := range ev.by {
		r.By = append(r.By, b)
	}
	sort.Strings(r.By)
	var unk []string
	for u := range ev.unknown {
		unk = append(unk, u)
	}
	sort.Strings(unk)
	if len(unk) == 0 {
		r.Emulated = true
		if len(r.By) == 0 {
			r.By = []string{"no-op"}
		}
	} else {
		r.Note = "not emulated: " + strings.Join(unk, ", ")
	}
	return r
}

// scriptEval walks a parsed scriptlet, evaluating only what decides the
// account commands: && and || chains, if/else, negation, and the exit
// status of getent and id. Nothing is executed on the host.
type scriptEval struct {
	sys      *sysconf.System
	name     string
	by       map[string]bool
	unknown  map[string]bool
	warnings []string
	dry      bool // classify only: apply no account command
}

func (e *scriptEval) stmts(list []*syntax.Stmt) int {
	st := 0
	for _, s := range list {
		st = e.stmt(s)
	}
	return st
}

func (e *scriptEval) stmt(s *syntax.Stmt) int {
	st := e.cmd(s.Cmd)
	if s.Negated {
		if st == 0 {
			return 1
		}
		return 0
	}
	return st
}

func (e *scriptEval) cmd(c syntax.Command) int {
	switch c := c.(type) {
	case nil:
		return 0
	case *syntax.CallExpr:
		return e.call(c)
	case *syntax.BinaryCmd:
		l := e.stmt(c.X)
		switch c.Op {
		case syntax.AndStmt:
			if l != 0 {
				return l
			}
			return e.stmt(c.Y)
		case syntax.OrStmt:
			if l == 0 {
				return 0
			}
			return e.stmt(c.Y)
		default: // pipes: evaluate both sides for their commands
			e.stmt(c.Y)
			return l
		}
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			if ic.ThenPos.IsValid() && len(ic.Cond) > 0 {
				if e.stmts(ic.Cond) != 0 {
					continue
				}
			}
			return e.stmts(ic.Then)
		}
		return 0
	case *syntax.Block:
		return e.stmts(c.Stmts)
	case *syntax.Subshell:
		return e.stmts(c.Stmts)
	default:
		e.unknown[fmt.Sprintf("%T at %s", c, c.Pos())] = true
		return 0
	}
}

// lit returns a word's value when it is fixed text (plain or quoted).
func lit(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

func (e *scriptEval) call(c *syntax.CallExpr) int {
	if len(c.Args) == 0 {
		return 0 // plain assignments
	}
	var args []string
	for _, w := range c.Args {
		a, ok := lit(w)
		if !ok {
			e.unknown[fmt.Sprintf("non-literal arguments at %s", w.Pos())] = true
			return 0
		}
		args = append(args, a)
	}
	name := path.Base(args[0])
	switch {
	case inertCommands[name]:
		if name == "false" {
			return 1
		}
		return 0
	case name == "getent" || name == "id":
		e.by["accounts"] = true
		return e.sys.Query(name, args[1:])
	case name == "groupadd" || name == "useradd" || name == "usermod":
		if e.dry {
			e.unknown[name+" in a trigger"] = true
			return 0
		}
		e.by["accounts"] = true
		st, err := e.sys.Command(name, args[1:])
		if err != nil {
			e.warnings = append(e.warnings, fmt.Sprintf("%s line %d: %v", e.name, c.Pos().Line(), err))
		}
		return st
	}
	if by, ok := deferredCommands[name]; ok {
		if by == "" {
			e.unknown[name] = true
		} else {
			e.by[by] = true
		}
		return 0
	}
	e.unknown[name] = true
	return 0
}
