package sysconf

import (
	"fmt"
	"strconv"
	"strings"
)

// sysusers.d: what `systemd-sysusers --root` (systemd 252) does with the
// tree's sysusers.d files, done on the tree. Tests compare with the real
// tool.

var sysusersDirs = []string{"etc/sysusers.d", "run/sysusers.d", "usr/lib/sysusers.d"}

// sysusersNologin is systemd's compiled-in default shell for system users.
const sysusersNologin = "/usr/sbin/nologin"

// systemd's system id range (SYSTEM_UID_MAX, SYSTEM_GID_MAX).
const sysusersMax = 999

type sysItem struct {
	typ, name, id, gecos, home, shell string
	file                              string
	line                              int
}

// ApplySysusers creates the users and groups the tree's sysusers.d files
// declare, in systemd-sysusers' order, and returns a line per account
// created. Malformed lines are errors naming the file and line.
func (sys *System) ApplySysusers() ([]string, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	files := map[string]string{} // basename -> tree path, first dir wins
	for _, d := range sysusersDirs {
		ents, err := sys.fs.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if _, seen := files[name]; !seen && strings.HasSuffix(name, ".conf") {
				files[name] = d + "/" + name
			}
		}
	}
	var items []sysItem
	for _, name := range sortedKeys(files) {
		data, ok := sys.readLocked(files[name])
		if !ok {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			f, err := splitQuoted(line)
			if err != nil || len(f) < 2 {
				return nil, fmt.Errorf("rootfs: %s line %d: malformed: %q", files[name], i+1, line)
			}
			for len(f) < 6 {
				f = append(f, "-")
			}
			it := sysItem{typ: f[0], name: f[1], id: f[2], gecos: f[3], home: f[4], shell: f[5], file: files[name], line: i + 1}
			switch it.typ {
			case "u", "g", "m", "r":
			default:
				return nil, fmt.Errorf("rootfs: %s line %d: unknown type %q", it.file, it.line, it.typ)
			}
			items = append(items, it)
		}
	}
	s := &sysusers{sys: sys, pw: sys.loadDB("etc/passwd", 7), gr: sys.loadDB("etc/group", 4),
		sh: sys.loadDB("etc/shadow", 9), gs: sys.loadDB("etc/gshadow", 4)}
	var created []string
	// Explicit groups first, then each user with its own group.
	for _, it := range items {
		if it.typ == "g" {
			c, err := s.group(it.name, it.id, it)
			if err != nil {
				return nil, err
			}
			created = append(created, c...)
		}
	}
	for _, it := range items {
		if it.typ != "u" {
			continue
		}
		c, err := s.user(it)
		if err != nil {
			return nil, err
		}
		created = append(created, c...)
	}
	for _, it := range items {
		if it.typ == "m" {
			s.member(it.name, it.id)
		}
	}
	if !s.changed {
		return created, nil
	}
	for _, db := range []*acctDB{s.pw, s.sh, s.gr, s.gs} {
		if err := db.save(); err != nil {
			return nil, err
		}
	}
	return created, nil
}

type sysusers struct {
	sys            *System
	pw, gr, sh, gs *acctDB
	changed        bool
}

func (s *sysusers) uidOK(id int64, name string) bool {
	v := strconv.FormatInt(id, 10)
	for _, r := range s.pw.rows {
		if r[2] == v {
			return false
		}
	}
	for _, r := range s.gr.rows {
		if r[2] == v && r[0] != name {
			return false
		}
	}
	return true
}

func (s *sysusers) gidOK(id int64, name string) bool {
	v := strconv.FormatInt(id, 10)
	for _, r := range s.gr.rows {
		if r[2] == v {
			return false
		}
	}
	for _, r := range s.pw.rows {
		if r[2] == v && r[0] != name {
			return false
		}
	}
	return true
}

func (s *sysusers) group(name, id string, it sysItem) ([]string, error) {
	if s.gr.find(name) != nil {
		return nil, nil
	}
	var gid int64 = -1
	if id != "-" && id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s line %d: group id %q unsupported", it.file, it.line, id)
		}
		gid = n
	}
	if gid < 0 || !s.gidOK(gid, name) {
		for c := int64(sysusersMax); c >= 1; c-- {
			if s.gidOK(c, name) {
				gid = c
				break
			}
		}
		if gid < 0 {
			return nil, fmt.Errorf("rootfs: %s line %d: no free group id", it.file, it.line)
		}
	}
	g := strconv.FormatInt(gid, 10)
	s.gr.rows = append(s.gr.rows, []string{name, "x", g, ""})
	if s.gs.ok {
		s.gs.rows = append(s.gs.rows, []string{name, "!*", "", ""})
	}
	s.changed = true
	return []string{fmt.Sprintf("group %s gid %s", name, g)}, nil
}

func (s *sysusers) user(it sysItem) ([]string, error) {
	if s.pw.find(it.name) != nil {
		return nil, nil
	}
	var created []string
	uidSpec, grp, hasGroup := strings.Cut(it.id, ":")
	var gid string
	if hasGroup {
		r := s.gr.find(grp)
		if r == nil {
			if _, err := strconv.ParseInt(grp, 10, 64); err != nil {
				return nil, fmt.Errorf("rootfs: %s line %d: group %q does not exist", it.file, it.line, grp)
			}
			gid = grp
		} else {
			gid = r[2]
		}
	} else {
		c, err := s.group(it.name, uidSpec, it)
		if err != nil {
			return nil, err
		}
		created = append(created, c...)
		gid = s.gr.find(it.name)[2]
	}
	var uid int64 = -1
	if uidSpec != "-" && uidSpec != "" {
		n, err := strconv.ParseInt(uidSpec, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s line %d: user id %q unsupported", it.file, it.line, uidSpec)
		}
		uid = n
	}
	if uid < 0 || !s.uidOK(uid, it.name) {
		uid = -1
		// The group's id, when free as a user id.
		if g, err := strconv.ParseInt(gid, 10, 64); err == nil && !hasGroup && s.uidOK(g, it.name) {
			uid = g
		}
		for c := int64(sysusersMax); uid < 0 && c >= 1; c-- {
			if s.uidOK(c, it.name) {
				uid = c
			}
		}
		if uid < 0 {
			return nil, fmt.Errorf("rootfs: %s line %d: no free user id", it.file, it.line)
		}
	}
	dash := func(v, def string) string {
		if v == "-" || v == "" {
			return def
		}
		return v
	}
	u := strconv.FormatInt(uid, 10)
	s.pw.rows = append(s.pw.rows, []string{it.name, "x", u, gid, dash(it.gecos, ""), dash(it.home, "/"), dash(it.shell, sysusersNologin)})
	if s.sh.ok {
		s.sh.rows = append(s.sh.rows, []string{it.name, "!*", s.sys.daysNow(), "", "", "", "", "", ""})
	}
	s.changed = true
	return append(created, fmt.Sprintf("user %s uid %s gid %s", it.name, u, gid)), nil
}

func (s *sysusers) member(user, group string) {
	for _, db := range []*acctDB{s.gr, s.gs} {
		r := db.find(group)
		if r == nil {
			continue
		}
		m := splitMembers(r[3])
		for _, x := range m {
			if x == user {
				return
			}
		}
		r[3] = strings.Join(append(m, user), ",")
		s.changed = true
	}
}

// splitQuoted splits a sysusers.d line into fields, honouring double quotes.
func splitQuoted(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}
