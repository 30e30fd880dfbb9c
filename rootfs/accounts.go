package rootfs

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
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
func (t *Tree) readLocked(name string) ([]byte, bool) {
	_, _, n, err := t.lookup(name, true)
	if err != nil || n == nil || !n.mode.IsRegular() {
		return nil, false
	}
	if n.content == nil {
		return []byte{}, true
	}
	return n.content.data, true
}

// writeAccountFile replaces an account file, first saving the old content
// as NAME- with the same mode and owner, as shadow-utils does.
func (t *Tree) writeAccountFile(name string, data []byte) error {
	_, _, n, err := t.lookup(name, true)
	if err != nil {
		return err
	}
	if n != nil && n.mode.IsRegular() {
		var old []byte
		if n.content != nil {
			old = n.content.data
		}
		if err := t.writeFile("backup", name+"-", append([]byte(nil), old...), n.mode.Perm()); err != nil {
			return err
		}
		_, _, b, _ := t.lookup(name+"-", true)
		if b != nil {
			b.mode, b.uid, b.gid = n.mode, n.uid, n.gid
		}
	}
	return t.writeFile("write", name, data, 0o644)
}

type acctDB struct {
	t    *Tree
	file string
	rows [][]string
	ok   bool // the file exists
}

func (t *Tree) loadDB(file string, fields int) *acctDB {
	db := &acctDB{t: t, file: file}
	data, ok := t.readLocked(file)
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
	return db.t.writeAccountFile(db.file, []byte(b.String()))
}

// defs holds /etc/login.defs and /etc/default/useradd of the tree.
type defs map[string]string

func (t *Tree) loadDefs() defs {
	d := defs{}
	if data, ok := t.readLocked("etc/login.defs"); ok {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
				d[f[0]] = strings.Trim(f[1], `"`)
			}
		}
	}
	if data, ok := t.readLocked("etc/default/useradd"); ok {
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

// accountQuery evaluates getent and id against the tree's databases.
func (t *Tree) accountQuery(cmd string, args []string) int {
	switch cmd {
	case "getent":
		if len(args) < 1 {
			return 1
		}
		var db *acctDB
		switch args[0] {
		case "passwd":
			db = t.loadDB("etc/passwd", 7)
		case "group":
			db = t.loadDB("etc/group", 4)
		case "shadow":
			db = t.loadDB("etc/shadow", 9)
		case "gshadow":
			db = t.loadDB("etc/gshadow", 4)
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
		if name == "" || t.loadDB("etc/passwd", 7).find(name) != nil {
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

// accountCommand applies groupadd, useradd or usermod to the tree and
// returns the exit status the real tool would.
func (t *Tree) accountCommand(cmd string, args []string) (int, error) {
	switch cmd {
	case "groupadd":
		return t.groupadd(args)
	case "useradd":
		return t.useradd(args)
	case "usermod":
		return t.usermod(args)
	}
	return exitBadSyntax, fmt.Errorf("%s: not an account command", cmd)
}

// Groupadd applies `groupadd ARGS` to the tree's account files, as
// shadow-utils' groupadd --prefix does. It returns the tool's exit status.
func (t *Tree) Groupadd(args ...string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.groupadd(args)
}

// Useradd applies `useradd ARGS` to the tree, as shadow-utils does.
func (t *Tree) Useradd(args ...string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.useradd(args)
}

// Usermod applies `usermod ARGS` to the tree, as shadow-utils does.
func (t *Tree) Usermod(args ...string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usermod(args)
}

func (t *Tree) groupadd(args []string) (int, error) {
	o, rest, err := parseOpts(args, "gKpRPU", groupaddLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("groupadd %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	_, system := o['r']
	_, force := o['f']
	_, nonUnique := o['o']
	gr := t.loadDB("etc/group", 4)
	if gr.find(name) != nil {
		if force {
			return 0, nil
		}
		return exitNameInUse, fmt.Errorf("groupadd: group '%s' already exists", name)
	}
	d := t.loadDefs()
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
	return 0, t.addGroup(gr, name, gid, o['U'], false)
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
func (t *Tree) addGroup(gr *acctDB, name string, gid int64, members string, userGroup bool) error {
	gs := t.loadDB("etc/gshadow", 4)
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

func (t *Tree) daysNow() string {
	return strconv.FormatInt(t.defTime.Unix()/86400, 10)
}

func optNum(d defs, key string) string {
	v := d.num(key, -1)
	if v < 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

func (t *Tree) useradd(args []string) (int, error) {
	o, rest, err := parseOpts(args, "bcdefgGkKpRPsu", useraddLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("useradd %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	_, system := o['r']
	pw := t.loadDB("etc/passwd", 7)
	if pw.find(name) != nil {
		return exitNameInUse, fmt.Errorf("useradd: user '%s' already exists", name)
	}
	d := t.loadDefs()
	gr := t.loadDB("etc/group", 4)

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
		if err := t.addGroup(gr, name, gid, "", true); err != nil {
			return 1, err
		}
		gr = t.loadDB("etc/group", 4)
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
	sh := t.loadDB("etc/shadow", 9)
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
	sh.rows = append(sh.rows, []string{name, spass, t.daysNow(), pmin, pmax, pwarn, inactive, expire, ""})
	if err := sh.save(); err != nil {
		return 1, err
	}
	if g, ok := o['G']; ok && g != "" {
		if st, err := t.addToGroups(name, g, false); err != nil {
			return st, err
		}
	}
	_, mkHome := o['m']
	_, noHome := o['M']
	if (mkHome || (d.boolean("CREATE_HOME") && !system)) && !noHome {
		t.createHome(d, strings.TrimPrefix(home, "/"), uint32(uid), uint32(gid), o)
	}
	return 0, nil
}

// createHome makes the home directory and copies the skeleton into it.
func (t *Tree) createHome(d defs, home string, uid, gid uint32, o map[byte]string) {
	if home == "" {
		return
	}
	if _, _, n, _ := t.lookup(home, true); n != nil {
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
		if _, err := t.mkdirAll("useradd", dir, 0o755); err != nil {
			return
		}
	}
	n, err := t.mkdir("useradd", home, perm)
	if err != nil {
		return
	}
	n.uid, n.gid = uid, gid
	skel := strings.TrimPrefix(d.str("useradd.SKEL", "/etc/skel"), "/")
	if k, ok := o['k']; ok {
		skel = strings.TrimPrefix(k, "/")
	}
	_, _, s, _ := t.lookup(skel, true)
	if s != nil && s.mode.IsDir() {
		t.copyTree(s, n, uid, gid)
	}
}

func (t *Tree) copyTree(src, dst *inode, uid, gid uint32) {
	for _, k := range sortedNames(src.kids) {
		c := src.kids[k]
		nc := t.newInode(c.mode)
		nc.uid, nc.gid, nc.mtime, nc.target = uid, gid, c.mtime, c.target
		if c.content != nil {
			nc.content = t.putBlobSum(c.content.sum, c.content.data)
		}
		t.attach(dst, k, nc)
		if c.mode.IsDir() {
			t.copyTree(c, nc, uid, gid)
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
func (t *Tree) addToGroups(user, list string, replace bool) (int, error) {
	want := strings.Split(list, ",")
	gr := t.loadDB("etc/group", 4)
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
	gs := t.loadDB("etc/gshadow", 4)
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

func (t *Tree) usermod(args []string) (int, error) {
	o, rest, err := parseOpts(args, "cdefgGlpRPsu", usermodLong)
	if err != nil || len(rest) != 1 {
		return exitBadSyntax, fmt.Errorf("usermod %s: bad usage", strings.Join(args, " "))
	}
	name := rest[0]
	pw := t.loadDB("etc/passwd", 7)
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
		gr := t.loadDB("etc/group", 4)
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
		return t.addToGroups(name, g, !appendG)
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
