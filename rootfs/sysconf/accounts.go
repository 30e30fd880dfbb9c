package sysconf

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// Accounts: groupadd, useradd and usermod as shadow-utils 4.13 apply them
// to /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow inside a root
// (what `useradd --prefix ROOT` does), done on the tree. The id allocation,
// file formats, defaults (/etc/login.defs, /etc/default/useradd) and the
// "-" backup files follow the real tools; tests compare with them.

// Exit statuses of the shadow-utils tools.
const (
	exitBadSyntax = 2
	exitBadArg    = 3
	exitIDInUse   = 4
	exitNameInUse = 9
	exitNoGroup   = 6
	exitNoUser    = 6
)

// readLocked returns a regular file's content (following symlinks).
func (sys *System) readLocked(name string) ([]byte, bool) {
	fi, err := sys.fs.Stat(name)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	data, err := sys.fs.ReadFile(name)
	if err != nil {
		return nil, false
	}
	return data, true
}

// writeAccountFile replaces an account file, first saving the old content
// as NAME- with the same mode and owner, as shadow-utils does.
func (sys *System) writeAccountFile(name string, data []byte) error {
	if fi, err := sys.fs.Stat(name); err == nil && fi.Mode().IsRegular() {
		old, err := sys.fs.ReadFile(name)
		if err != nil {
			return err
		}
		if err := sys.fs.WriteFile(name+"-", old, fi.Mode().Perm()); err != nil {
			return err
		}
		if err := sys.fs.Chmod(name+"-", fi.Mode()); err != nil {
			return err
		}
		var uid, gid uint32
		if m := fsmeta.Of(fi); m != nil {
			uid, gid = m.UID, m.GID
		}
		if err := sys.fs.Chown(name+"-", uid, gid); err != nil {
			return err
		}
	}
	return sys.fs.WriteFile(name, data, 0o644)
}

type acctDB struct {
	sys  *System
	file string
	rows [][]string
	ok   bool // the file exists
}

func (sys *System) loadDB(file string, fields int) *acctDB {
	db := &acctDB{sys: sys, file: file}
	data, ok := sys.readLocked(file)
	db.ok = ok
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, ":")
		for len(f) < fields {
			f = append(f, "")
		}
		db.rows = append(db.rows, f)
	}
	return db
}

func (db *acctDB) find(name string) []string {
	for _, r := range db.rows {
		if r[0] == name {
			return r
		}
	}
	return nil
}

func (db *acctDB) save() error {
	if !db.ok {
		return nil
	}
	var b strings.Builder
	for _, r := range db.rows {
		b.WriteString(strings.Join(r, ":"))
		b.WriteByte('\n')
	}
	return db.sys.writeAccountFile(db.file, []byte(b.String()))
}

// defs holds /etc/login.defs and /etc/default/useradd of the tree.
type defs map[string]string

func (sys *System) loadDefs() defs {
	d := defs{}
	if data, ok := sys.readLocked("etc/login.defs"); ok {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
				d[f[0]] = strings.Trim(f[1], `"`)
			}
		}
	}
	if data, ok := sys.readLocked("etc/default/useradd"); ok {
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
				d["useradd."+k] = strings.Trim(v, `"`)
			}
		}
	}
	return d
}

func (d defs) num(key string, def int64) int64 {
	if v, ok := d[key]; ok {
		if n, err := strconv.ParseInt(v, 0, 64); err == nil {
			return n
		}
	}
	return def
}

func (d defs) boolean(key string) bool {
	return strings.EqualFold(d[key], "yes")
}

func (d defs) str(key, def string) string {
	if v, ok := d[key]; ok && v != "" {
		return v
	}
	return def
}

// idRange returns the id range shadow-utils allocates from.
func (d defs) idRange(kind string, system bool) (lo, hi int64) {
	if system {
		lo = d.num("SYS_"+kind+"_MIN", 101)
		hi = d.num("SYS_"+kind+"_MAX", d.num(kind+"_MIN", 1000)-1)
		return lo, hi
	}
	return d.num(kind+"_MIN", 1000), d.num(kind+"_MAX", 60000)
}

// newID allocates an id as shadow-utils' find_new_uid/find_new_gid do:
// a preferred id when free; for system accounts the id below the lowest
// one used in the range; otherwise the one above the highest; then the
// first free one searching from the other end.
func newID(db *acctDB, lo, hi int64, system bool, preferred int64) (int64, error) {
	used := map[int64]bool{}
	for _, r := range db.rows {
		if id, err := strconv.ParseInt(r[2], 10, 64); err == nil {
			used[id] = true
		}
	}
	if preferred >= lo && preferred <= hi && !used[preferred] {
		return preferred, nil
	}
	if system {
		cand := hi
		for id := range used {
			if id >= lo && id <= hi && id-1 < cand {
				cand = id - 1
			}
		}
		if cand >= lo && !used[cand] {
			return cand, nil
		}
		for id := hi; id >= lo; id-- {
			if !used[id] {
				return id, nil
			}
		}
	} else {
		cand := lo
		for id := range used {
			if id >= lo && id <= hi && id+1 > cand {
				cand = id + 1
			}
		}
		if cand <= hi && !used[cand] {
			return cand, nil
		}
		for id := lo; id <= hi; id++ {
			if !used[id] {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("no free id in %d..%d", lo, hi)
}

// Query evaluates `getent ARGS` or `id ARGS` against the root's account
// databases and returns the exit status the real command would.
func (sys *System) Query(cmd string, args []string) int {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.query(cmd, args)
}

func (sys *System) query(cmd string, args []string) int {
	switch cmd {
	case "getent":
		if len(args) < 1 {
			return 1
		}
		var db *acctDB
		switch args[0] {
		case "passwd":
			db = sys.loadDB("etc/passwd", 7)
		case "group":
			db = sys.loadDB("etc/group", 4)
		case "shadow":
			db = sys.loadDB("etc/shadow", 9)
		case "gshadow":
			db = sys.loadDB("etc/gshadow", 4)
		default:
			return 1
		}
		if len(args) == 1 {
			return 0
		}
		for _, key := range args[1:] {
			found := false
			for _, r := range db.rows {
				if r[0] == key || (len(r) > 2 && r[2] == key && args[0] != "shadow" && args[0] != "gshadow") {
					found = true
				}
			}
			if !found {
				return 2
			}
		}
		return 0
	case "id":
		var name string
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				name = a
			}
		}
		if name == "" || sys.loadDB("etc/passwd", 7).find(name) != nil {
			return 0
		}
		return 1
	}
	return 1
}

// parseOpts splits shadow-utils style options. withArg lists the short
// options that take a value; long lists long names mapped to short ones.
func parseOpts(args []string, withArg string, long map[string]string) (map[byte]string, []string, error) {
	opts := map[byte]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			return opts, rest, nil
		case strings.HasPrefix(a, "--"):
			k, v, hasV := strings.Cut(a[2:], "=")
			s, ok := long[k]
			if !ok {
				return nil, nil, fmt.Errorf("unknown option --%s", k)
			}
			if strings.IndexByte(withArg, s[0]) >= 0 && !hasV {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option --%s needs a value", k)
				}
				i++
				v = args[i]
			}
			opts[s[0]] = v
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				c := a[j]
				if strings.IndexByte(withArg, c) >= 0 {
					v := a[j+1:]
					if v == "" {
						if i+1 >= len(args) {
							return nil, nil, fmt.Errorf("option -%c needs a value", c)
						}
						i++
						v = args[i]
					}
					opts[c] = v
					break
				}
				opts[c] = ""
			}
		default:
			rest = append(rest, a)
		}
	}
	return opts, rest, nil
}

var groupaddLong = map[string]string{
	"force": "f", "gid": "g", "key": "K", "non-unique": "o", "password": "p",
	"system": "r", "root": "R", "prefix": "P", "users": "U",
}

var useraddLong = map[string]string{
	"base-dir": "b", "comment": "c", "home-dir": "d", "defaults": "D",
	"expiredate": "e", "inactive": "f", "gid": "g", "groups": "G",
	"skel": "k", "key": "K", "no-log-init": "l", "create-home": "m",
	"no-create-home": "M", "no-user-group": "N", "non-unique": "o",
	"password": "p", "system": "r", "root": "R", "prefix": "P", "shell": "s",
	"uid": "u", "user-group": "U",
}

var usermodLong = map[string]string{
	"append": "a", "comment": "c", "home": "d", "expiredate": "e",
	"inactive": "f", "gid": "g", "groups": "G", "login": "l", "lock": "L",
	"move-home": "m", "non-unique": "o", "password": "p", "root": "R",
	"prefix": "P", "shell": "s", "uid": "u", "unlock": "U",
}

// Command applies groupadd, useradd or usermod to the tree and
// returns the exit status the real tool would.
func (sys *System) Command(cmd string, args []string) (int, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	switch cmd {
	case "groupadd":
		return sys.groupadd(args)
	case "useradd":
		return sys.useradd(args)
	case "usermod":
		return sys.usermod(args)
	}
	return exitBadSyntax, fmt.Errorf("%s: not an account command", cmd)
}

// Groupadd applies `groupadd ARGS` to the tree's account files, as
// shadow-utils' groupadd --prefix does. It returns the tool's exit status.
func (sys *System) Groupadd(args ...string) (int, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.groupadd(args)
}

// Useradd applies `useradd ARGS` to the tree, as shadow-utils does.
func (sys *System) Useradd(args ...string) (int, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.useradd(args)
}

// Usermod applies `usermod ARGS` to the tree, as shadow-utils does.
func (sys *System) Usermod(args ...string) (int, error) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	return sys.usermod(args)
}

func (sys *System) groupadd(args []string) (int, error) {
	o, rest, err := parseOpts(args, "gKpRPU", groupaddLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("groupadd %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	_, system := o['r']
	_, force := o['f']
	_, nonUnique := o['o']
	gr := sys.loadDB("etc/group", 4)
	if gr.find(name) != nil {
		if force {
			return 0, nil
		}
		return exitNameInUse, fmt.Errorf("groupadd: group '%s' already exists", name)
	}
	d := sys.loadDefs()
	var gid int64
	if g, ok := o['g']; ok {
		gid, err = strconv.ParseInt(g, 10, 64)
		if err != nil || gid < 0 {
			return exitBadArg, fmt.Errorf("groupadd: invalid group ID '%s'", g)
		}
		if gidUsed(gr, gid) && !nonUnique {
			if !force {
				return exitIDInUse, fmt.Errorf("groupadd: GID '%d' already exists", gid)
			}
			delete(o, 'g')
		}
	}
	if _, ok := o['g']; !ok {
		lo, hi := d.idRange("GID", system)
		if gid, err = newID(gr, lo, hi, system, -1); err != nil {
			return exitIDInUse, fmt.Errorf("groupadd %s: %w", name, err)
		}
	}
	return 0, sys.addGroup(gr, name, gid, o['U'], false)
}

func gidUsed(gr *acctDB, gid int64) bool {
	s := strconv.FormatInt(gid, 10)
	for _, r := range gr.rows {
		if r[2] == s {
			return true
		}
	}
	return false
}

// addGroup adds a group. groupadd always writes "x" as the password;
// useradd's user group gets "!" when there is no gshadow, as shadow-utils
// does (userPass).
func (sys *System) addGroup(gr *acctDB, name string, gid int64, members string, userGroup bool) error {
	gs := sys.loadDB("etc/gshadow", 4)
	pass := "x"
	if userGroup && !gs.ok {
		pass = "!"
	}
	gr.rows = append(gr.rows, []string{name, pass, strconv.FormatInt(gid, 10), members})
	if err := gr.save(); err != nil {
		return err
	}
	gs.rows = append(gs.rows, []string{name, "!", "", members})
	return gs.save()
}

func (sys *System) daysNow() string {
	return strconv.FormatInt(sys.fs.DefaultTime().Unix()/86400, 10)
}

func optNum(d defs, key string) string {
	v := d.num(key, -1)
	if v < 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

func (sys *System) useradd(args []string) (int, error) {
	o, rest, err := parseOpts(args, "bcdefgGkKpRPsu", useraddLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("useradd %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	_, system := o['r']
	pw := sys.loadDB("etc/passwd", 7)
	if pw.find(name) != nil {
		return exitNameInUse, fmt.Errorf("useradd: user '%s' already exists", name)
	}
	d := sys.loadDefs()
	gr := sys.loadDB("etc/group", 4)

	// The primary group: -g, else a new group named after the user
	// (USERGROUPS_ENAB, -U), else GROUP from /etc/default/useradd.
	_, noUserGroup := o['N']
	_, userGroup := o['U']
	userGroup = userGroup || (d.boolean("USERGROUPS_ENAB") && !noUserGroup)
	var gid int64 = -1
	if g, ok := o['g']; ok {
		userGroup = false
		if r := gr.find(g); r != nil {
			gid, _ = strconv.ParseInt(r[2], 10, 64)
		} else if n, err := strconv.ParseInt(g, 10, 64); err == nil && gidUsed(gr, n) {
			gid = n
		} else {
			return exitNoGroup, fmt.Errorf("useradd: group '%s' does not exist", g)
		}
	} else if userGroup && gr.find(name) != nil {
		return exitNameInUse, fmt.Errorf("useradd: group %s exists - if you want to add this user to that group, use -g", name)
	}
	var uid int64
	if u, ok := o['u']; ok {
		uid, err = strconv.ParseInt(u, 10, 64)
		if err != nil || uid < 0 {
			return exitBadArg, fmt.Errorf("useradd: invalid user ID '%s'", u)
		}
		if _, nonUnique := o['o']; !nonUnique {
			for _, r := range pw.rows {
				if r[2] == u {
					return exitIDInUse, fmt.Errorf("useradd: UID %s is not unique", u)
				}
			}
		}
	} else {
		lo, hi := d.idRange("UID", system)
		if uid, err = newID(pw, lo, hi, system, -1); err != nil {
			return exitIDInUse, fmt.Errorf("useradd %s: %w", name, err)
		}
	}
	if userGroup {
		lo, hi := d.idRange("GID", system)
		if gid, err = newID(gr, lo, hi, system, uid); err != nil {
			return exitIDInUse, fmt.Errorf("useradd %s: %w", name, err)
		}
		if err := sys.addGroup(gr, name, gid, "", true); err != nil {
			return 1, err
		}
		gr = sys.loadDB("etc/group", 4)
	} else if gid < 0 {
		gid = d.num("useradd.GROUP", 100)
	}
	home := o['d']
	if home == "" {
		home = strings.TrimSuffix(d.str("useradd.HOME", "/home"), "/") + "/" + name
		if b, ok := o['b']; ok {
			home = strings.TrimSuffix(b, "/") + "/" + name
		}
	}
	shell, ok := o['s']
	if !ok {
		shell = d.str("useradd.SHELL", "/bin/bash")
	}
	sh := sys.loadDB("etc/shadow", 9)
	pass := "x"
	if !sh.ok {
		pass = "!"
	}
	if p, ok := o['p']; ok && !sh.ok {
		pass = p
	}
	pw.rows = append(pw.rows, []string{name, pass, strconv.FormatInt(uid, 10), strconv.FormatInt(gid, 10), o['c'], home, shell})
	if err := pw.save(); err != nil {
		return 1, err
	}
	spass := "!"
	if p, ok := o['p']; ok {
		spass = p
	}
	inactive := d.str("useradd.INACTIVE", "-1")
	if v, ok := o['f']; ok {
		inactive = v
	}
	if inactive == "-1" {
		inactive = ""
	}
	expire := d.str("useradd.EXPIRE", "")
	if v, ok := o['e']; ok {
		expire = v
	}
	// Password ageing from login.defs applies to normal accounts only.
	var pmin, pmax, pwarn string
	if !system {
		pmin, pmax, pwarn = optNum(d, "PASS_MIN_DAYS"), optNum(d, "PASS_MAX_DAYS"), optNum(d, "PASS_WARN_AGE")
	}
	sh.rows = append(sh.rows, []string{name, spass, sys.daysNow(), pmin, pmax, pwarn, inactive, expire, ""})
	if err := sh.save(); err != nil {
		return 1, err
	}
	if g, ok := o['G']; ok && g != "" {
		if st, err := sys.addToGroups(name, g, false); err != nil {
			return st, err
		}
	}
	_, mkHome := o['m']
	_, noHome := o['M']
	if (mkHome || (d.boolean("CREATE_HOME") && !system)) && !noHome {
		sys.createHome(d, strings.TrimPrefix(home, "/"), uint32(uid), uint32(gid), o)
	}
	return 0, nil
}

// createHome makes the home directory and copies the skeleton into it.
func (sys *System) createHome(d defs, home string, uid, gid uint32, o map[byte]string) {
	if home == "" {
		return
	}
	if _, err := sys.fs.Stat(home); err == nil {
		return
	}
	umask := d.num("UMASK", 0o22)
	perm := fs.FileMode(0o777 &^ umask)
	if hm, ok := d["HOME_MODE"]; ok {
		if v, err := strconv.ParseInt(hm, 8, 32); err == nil {
			perm = fs.FileMode(v)
		}
	}
	if dir := parentOf(home); dir != "." {
		if err := sys.fs.MkdirAll(dir, 0o755); err != nil {
			return
		}
	}
	if err := sys.fs.Mkdir(home, perm); err != nil {
		return
	}
	if sys.fs.Lchown(home, uid, gid) != nil {
		return
	}
	skel := strings.TrimPrefix(d.str("useradd.SKEL", "/etc/skel"), "/")
	if k, ok := o['k']; ok {
		skel = strings.TrimPrefix(k, "/")
	}
	if fi, err := sys.fs.Stat(skel); err == nil && fi.IsDir() {
		sys.copyTree(skel, home, uid, gid)
	}
}

// copyTree copies the skeleton directory src into dst, owned by uid:gid,
// keeping modes and mtimes (not capabilities or device numbers, as
// useradd does not either).
func (sys *System) copyTree(src, dst string, uid, gid uint32) {
	ents, err := sys.fs.ReadDir(src)
	if err != nil {
		return
	}
	for _, e := range ents {
		from, to := src+"/"+e.Name(), dst+"/"+e.Name()
		fi, err := sys.fs.Lstat(from)
		if err != nil {
			continue
		}
		m := fi.Mode()
		switch {
		case m.IsDir():
			err = sys.fs.Mkdir(to, m)
		case m.IsRegular():
			var data []byte
			if data, err = sys.fs.ReadFile(from); err == nil {
				err = sys.fs.WriteFile(to, data, m)
			}
		case m&fs.ModeSymlink != 0:
			var target string
			if target, err = sys.fs.ReadLink(from); err == nil {
				err = sys.fs.Symlink(target, to)
			}
		default:
			err = sys.fs.Mknod(to, m, 0, 0)
		}
		if err != nil {
			continue
		}
		sys.fs.Lchown(to, uid, gid)
		sys.fs.Lchtimes(to, fi.ModTime())
		if m.IsDir() {
			sys.copyTree(from, to, uid, gid)
		}
	}
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

// addToGroups adds user to each group in the comma-separated list (in
// both group and gshadow); with replace, it first removes the user from
// every other group.
func (sys *System) addToGroups(user, list string, replace bool) (int, error) {
	want := strings.Split(list, ",")
	gr := sys.loadDB("etc/group", 4)
	for i, g := range want {
		r := gr.find(g)
		if r == nil {
			for _, x := range gr.rows {
				if x[2] == g {
					r = x
				}
			}
		}
		if r == nil {
			return exitNoGroup, fmt.Errorf("group '%s' does not exist", g)
		}
		want[i] = r[0]
	}
	gs := sys.loadDB("etc/gshadow", 4)
	for _, db := range []*acctDB{gr, gs} {
		for _, r := range db.rows {
			members := splitMembers(r[3])
			in := false
			for _, w := range want {
				if w == r[0] {
					in = true
				}
			}
			has := false
			for _, m := range members {
				if m == user {
					has = true
				}
			}
			switch {
			case in && !has:
				members = append(members, user)
			case !in && has && replace:
				var kept []string
				for _, m := range members {
					if m != user {
						kept = append(kept, m)
					}
				}
				members = kept
			}
			r[3] = strings.Join(members, ",")
		}
		if err := db.save(); err != nil {
			return 1, err
		}
	}
	return 0, nil
}

func splitMembers(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (sys *System) usermod(args []string) (int, error) {
	o, rest, err := parseOpts(args, "cdefgGlpRPsu", usermodLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("usermod %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	pw := sys.loadDB("etc/passwd", 7)
	r := pw.find(name)
	if r == nil {
		return exitNoUser, fmt.Errorf("usermod: user '%s' does not exist", name)
	}
	changed := false
	for opt, field := range map[byte]int{'c': 4, 'd': 5, 's': 6, 'u': 2} {
		if v, ok := o[opt]; ok {
			r[field] = v
			changed = true
		}
	}
	if g, ok := o['g']; ok {
		gr := sys.loadDB("etc/group", 4)
		if x := gr.find(g); x != nil {
			r[3] = x[2]
		} else if gidUsed(gr, mustAtoi(g)) {
			r[3] = g
		} else {
			return exitNoGroup, fmt.Errorf("usermod: group '%s' does not exist", g)
		}
		changed = true
	}
	if changed {
		if err := pw.save(); err != nil {
			return 1, err
		}
	}
	if g, ok := o['G']; ok {
		_, appendG := o['a']
		return sys.addToGroups(name, g, !appendG)
	}
	return 0, nil
}

func mustAtoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
