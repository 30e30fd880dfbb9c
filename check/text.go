package check

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: the counts, then the problems.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "definition %s\n", r.Definition)
	for _, rr := range r.Repositories {
		if rr.Error != "" {
			fmt.Fprintf(&b, "repository %s: UNAVAILABLE\n", rr.ID)
			continue
		}
		bad := 0
		for _, m := range rr.Metadata {
			if !m.OK {
				bad++
			}
		}
		var arches []string
		for _, a := range sortedKeys(rr.ByArch) {
			arches = append(arches, fmt.Sprintf("%s %d", a, rr.ByArch[a]))
		}
		fmt.Fprintf(&b, "repository %s: %d packages (%s); repomd.xml signature: %s; metadata: %d of %d checksums ok\n",
			rr.ID, rr.Packages, strings.Join(arches, ", "), rr.Signature, len(rr.Metadata)-bad, len(rr.Metadata))
	}
	if len(r.Packages) > 0 {
		counts := map[string]int{}
		for _, p := range r.Packages {
			counts[p.Verdict]++
		}
		var parts []string
		for _, v := range sortedKeys(counts) {
			parts = append(parts, fmt.Sprintf("%s %d", v, counts[v]))
		}
		fmt.Fprintf(&b, "packages verified: %d (%s)\n", len(r.Packages), strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "closure: %d requirements without a provider\n", len(r.Unresolved))
	fmt.Fprintf(&b, "installability: %d installable, %d not\n", r.Installable, len(r.Uninstallable))
	for _, s := range r.Sets {
		state := fmt.Sprintf("resolves (%d packages)", s.Packages)
		if !s.Resolves {
			state = "DOES NOT RESOLVE"
		}
		fmt.Fprintf(&b, "set %s: %s\n", s.Name, state)
	}
	if k := r.Kernel; k != nil {
		fmt.Fprintf(&b, "kernel RPM file %s: %s", k.File, k.Verdict)
		if k.NEVRA != "" {
			fmt.Fprintf(&b, " (%s, sha256 %s)", k.NEVRA, k.SHA256)
		}
		b.WriteString("\n")
		for _, w := range k.Warnings {
			b.WriteString("  warning: " + w + "\n")
		}
	}
	if len(r.Lock) > 0 {
		fmt.Fprintf(&b, "lock: %d locked packages not served as locked\n", len(r.Lock))
	}
	if len(r.Problems) == 0 {
		b.WriteString("no problems\n")
	} else {
		fmt.Fprintf(&b, "%d problems:\n", len(r.Problems))
		for _, p := range r.Problems {
			b.WriteString("  " + strings.ReplaceAll(p, "\n", "\n    ") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
