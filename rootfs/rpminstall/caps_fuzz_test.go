package rpminstall

import (
	"strings"
	"testing"
)

// FuzzParseCaps feeds FILECAPS text to parseCaps: no panic, a result of
// nil or the 20-byte revision-2 attribute, and errors that quote the text.
// Seeds: what capstest-1.0-1 (rpm's own test package) and the iputils,
// systemd and wireshark packages of Fedora and Photon store.
func FuzzParseCaps(f *testing.F) {
	for _, s := range []string{"=", "", "cap_net_raw=p", "cap_net_raw=ep", "cap_net_admin,cap_net_raw=ep",
		"cap_net_bind_service+ep", "cap_dac_override,cap_sys_ptrace=ep", "cap_setuid,cap_setgid+ep cap_chown-e", "all=eip", "CAP_NET_RAW=ep", "=ep cap_sys_admin-ep"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		b, err := parseCaps(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "capabilities ") {
				t.Fatalf("error does not quote the text: %v", err)
			}
			return
		}
		if b != nil && len(b) != 20 {
			t.Fatalf("%q: %d-byte attribute", text, len(b))
		}
		if b == nil && strings.TrimSpace(text) != "" {
			t.Fatalf("%q: no attribute", text)
		}
	})
}
