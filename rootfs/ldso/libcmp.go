package ldso

// libcmp orders library names as glibc's _dl_cache_libcmp does: runs of
// digits compare numerically, everything else bytewise as signed chars (x86
// char is signed), so libfoo.so.10 sorts after libfoo.so.9. ldconfig sorts
// the cache with it (descending) and the loader binary-searches with it.
func libcmp(p1, p2 string) int {
	i, j := 0, 0
	at := func(s string, k int) int32 {
		if k < len(s) {
			return int32(int8(s[k]))
		}
		return 0
	}
	isDigit := func(c int32) bool { return c >= '0' && c <= '9' }
	for at(p1, i) != 0 {
		c1, c2 := at(p1, i), at(p2, j)
		switch {
		case isDigit(c1):
			if !isDigit(c2) {
				return 1
			}
			// int arithmetic wraps like the C code does on overflow in practice.
			var v1, v2 int32
			for isDigit(at(p1, i)) {
				v1 = v1*10 + at(p1, i) - '0'
				i++
			}
			for isDigit(at(p2, j)) {
				v2 = v2*10 + at(p2, j) - '0'
				j++
			}
			if v1 != v2 {
				return int(v1 - v2)
			}
		case isDigit(c2):
			return -1
		case c1 != c2:
			return int(c1 - c2)
		default:
			i++
			j++
		}
	}
	return int(at(p1, i) - at(p2, j))
}
