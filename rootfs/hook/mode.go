package hook

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/vicroot/vicroot/internal/fsmeta"
)

// parseMode parses a chmod mode, octal or symbolic (u+x,g-w,o=r), as a
// change to old.
func parseMode(s string, old fs.FileMode, isDir bool) (fs.FileMode, error) {
	if v, err := strconv.ParseUint(s, 8, 32); err == nil {
		return unixToMode(uint32(v)), nil
	}
	m := modeToUnix(old)
	for _, clause := range strings.Split(s, ",") {
		i := strings.IndexAny(clause, "+-=")
		if i < 0 {
			return 0, fmt.Errorf("invalid mode %q", s)
		}
		who := clause[:i]
		if who == "" || strings.Contains(who, "a") {
			who = "ugo"
		}
		var mask uint32
		for _, w := range who {
			switch w {
			case 'u':
				mask |= 0o4700
			case 'g':
				mask |= 0o2070
			case 'o':
				mask |= 0o1007
			default:
				return 0, fmt.Errorf("invalid mode %q", s)
			}
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			var bits uint32
			for ; j < len(ops) && strings.IndexByte("+-=", ops[j]) < 0; j++ {
				switch ops[j] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if isDir || m&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				default:
					return 0, fmt.Errorf("invalid mode %q", s)
				}
			}
			ops = ops[j:]
			bits &= mask
			switch op {
			case '+':
				m |= bits
			case '-':
				m &^= bits
			case '=':
				m = m&^(mask&0o777|mask&0o7000) | bits
			}
		}
	}
	return unixToMode(m), nil
}

// unixToMode and modeToUnix convert permission bits (with setuid, setgid
// and sticky) between chmod's octal form and fs.FileMode.
func unixToMode(v uint32) fs.FileMode {
	return fsmeta.FileMode(fsmeta.S_IFREG | v&0o7777)
}

func modeToUnix(m fs.FileMode) uint32 {
	return fsmeta.UnixMode(m&permBits) & 0o7777
}
