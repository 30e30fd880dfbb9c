package rpmdb

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// rpmUsers are the files whose presence means the image carries rpm:
// the rpm and tdnf commands and librpm itself.
var rpmUsers = []string{"usr/bin/rpm", "bin/rpm", "usr/bin/tdnf", "bin/tdnf"}

var librpmGlobs = []string{"usr/lib/librpm.so*", "usr/lib64/librpm.so*", "lib/librpm.so*", "lib64/librpm.so*", "usr/lib/*/librpm.so*", "lib/*/librpm.so*"}

// macroFiles returns the rpm macro files of a tree in rpm's load order
// (rpm's macrofiles: /usr/lib/rpm/macros, macros.d, then /etc/rpm).
func macroFiles(fsys fs.FS) []string {
	out := []string{"usr/lib/rpm/macros"}
	for _, g := range []string{"usr/lib/rpm/macros.d/macros.*", "etc/rpm/macros.*"} {
		m, _ := fs.Glob(fsys, g)
		sort.Strings(m)
		out = append(out, m...)
	}
	return append(out, "etc/rpm/macros")
}

// Detect decides the database format of the image tree fsys (its root):
// None when it has no rpm, tdnf or librpm; otherwise the last
// %_db_backend its macro files define ("bdb", "bdb_ro" → BDB; "sqlite" →
// SQLite); without one, BDB when librpm's soname is older than rpm 4.16's
// (librpm.so.9). Anything else is an error naming what was found.
func Detect(fsys fs.FS) (Format, error) {
	var found []string
	for _, p := range rpmUsers {
		if _, err := fs.Stat(fsys, p); err == nil {
			found = append(found, "/"+p)
		}
	}
	var libs []string
	for _, g := range librpmGlobs {
		m, _ := fs.Glob(fsys, g)
		libs = append(libs, m...)
	}
	for _, l := range libs {
		found = append(found, "/"+l)
	}
	if len(found) == 0 {
		return None, nil
	}
	backend, where := "", ""
	for _, mf := range macroFiles(fsys) {
		data, err := fs.ReadFile(fsys, mf)
		if err != nil {
			continue
		}
		if v, ok := lastDefine(data, "_db_backend"); ok {
			backend, where = v, "/"+mf
		}
	}
	switch backend {
	case "bdb", "bdb_ro":
		return BDB, nil
	case "sqlite":
		return SQLite, nil
	case "":
	default:
		return None, fmt.Errorf("rpmdb: %s sets %%_db_backend to %q, a format vicroot does not write (bdb or sqlite)", where, backend)
	}
	// No macro: rpm before 4.16 (librpm.so.8 and older) knew only BDB.
	soname := -1
	for _, l := range libs {
		base := path.Base(l)
		if v, ok := strings.CutPrefix(base, "librpm.so."); ok {
			if n, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); err == nil && (soname < 0 || n > soname) {
				soname = n
			}
		}
	}
	if soname >= 0 && soname < 9 {
		return BDB, nil
	}
	return None, fmt.Errorf("rpmdb: the image has rpm (%s) but its database format cannot be determined: no %%_db_backend in /usr/lib/rpm/macros, /usr/lib/rpm/macros.d or /etc/rpm/macros*, and no librpm.so.N older than rpm 4.16's", strings.Join(found, ", "))
}

// lastDefine returns the value of the last "%name value" line of a macro
// file (continuation lines are not needed for _db_backend).
func lastDefine(data []byte, name string) (string, bool) {
	var val string
	ok := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		rest, has := strings.CutPrefix(l, "%"+name)
		if !has || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		val, ok = strings.TrimSpace(rest), true
	}
	return val, ok
}
