package rpminstall

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// capNames are the Linux capability numbers, as cap_from_text(3) names them.
var capNames = []string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner",
	"cap_fsetid", "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap",
	"cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
	"cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod",
	"cap_lease", "cap_audit_write", "cap_audit_control", "cap_setfcap",
	"cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

// parseCaps converts the text form rpm stores in FILECAPS ("cap_net_raw=ep",
// "=") into the raw security.capability attribute that libcap's
// cap_set_file writes (revision 2, 20 bytes). The empty string means no
// capabilities attribute at all.
func parseCaps(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	var perm, inh, eff uint64
	all := uint64(1)<<len(capNames) - 1
	for _, clause := range strings.Fields(text) {
		i := strings.IndexAny(clause, "=+-")
		if i < 0 {
			return nil, fmt.Errorf("capabilities %q: clause %q has no operator", text, clause)
		}
		var set uint64
		if list := clause[:i]; list == "" || list == "all" {
			set = all
		} else {
			for _, name := range strings.Split(list, ",") {
				n := strings.ToLower(name)
				found := false
				for bit, c := range capNames {
					if c == n {
						set |= 1 << bit
						found = true
					}
				}
				if !found {
					return nil, fmt.Errorf("capabilities %q: unknown capability %q", text, name)
				}
			}
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			for j < len(ops) && strings.IndexByte("eip", ops[j]) >= 0 {
				j++
			}
			flags := ops[1:j]
			if j < len(ops) && strings.IndexByte("=+-", ops[j]) < 0 {
				return nil, fmt.Errorf("capabilities %q: bad flag %q", text, ops[j])
			}
			ops = ops[j:]
			if op == '=' {
				perm, inh, eff = perm&^set, inh&^set, eff&^set
			}
			for _, fl := range flags {
				target := map[rune]*uint64{'p': &perm, 'i': &inh, 'e': &eff}[fl]
				if op == '-' {
					*target &^= set
				} else {
					*target |= set
				}
			}
		}
	}
	out := make([]byte, 20)
	magic := uint32(0x02000000)
	if eff != 0 {
		// The file format has one effective bit: set when any is.
		magic |= 1
	}
	binary.LittleEndian.PutUint32(out[0:], magic)
	binary.LittleEndian.PutUint32(out[4:], uint32(perm))
	binary.LittleEndian.PutUint32(out[8:], uint32(inh))
	binary.LittleEndian.PutUint32(out[12:], uint32(perm>>32))
	binary.LittleEndian.PutUint32(out[16:], uint32(inh>>32))
	return out, nil
}

func capsFromText(text string, warn func(string), path string) []byte {
	b, err := parseCaps(text)
	if err != nil {
		warn(fmt.Sprintf("%s: %v (left without capabilities)", path, err))
		return nil
	}
	return b
}
