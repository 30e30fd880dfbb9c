package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicroot/vicroot/internal/testrepo"
)

// TestInitErrors: a definition whose init the image cannot run fails the
// build with exit status 1, no ISO, and an error naming the path: an init
// the image does not have, and systemd as init in an image without
// systemctl (the bootstrap could not leave systemd's initramfs).
func TestInitErrors(t *testing.T) {
	repo := testrepo.Dir(t)
	for _, c := range []struct {
		name    string
		edit    func(map[string]any)
		staging string
		wants   []string
	}{
		{name: "no such init",
			edit:  func(spec map[string]any) { spec["init"] = "/sbin/no-such-init" },
			wants: []string{"/sbin/no-such-init", "does not have"}},
		// The systemd package is not installed: /lib/systemd/systemd is absent.
		{name: "systemd not installed",
			edit:  func(spec map[string]any) { spec["init"] = "/lib/systemd/systemd" },
			wants: []string{"/lib/systemd/systemd", "does not have"}},
		{name: "systemd without systemctl",
			edit: func(spec map[string]any) {
				spec["init"] = "/lib/systemd/systemd"
				spec["packages"].(map[string]any)["bootstrap"] = "iproute2 systemd-udev systemd"
			},
			staging: "rm -f rootfs/usr/bin/systemctl\n",
			wants:   []string{"/lib/systemd/systemd", "/usr/bin/systemctl", "systemctl switch-root"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := definition(t, repo, c.edit, plainInit)
			if c.staging != "" {
				if err := os.WriteFile(filepath.Join(def, "staging.sh"), []byte(c.staging), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr := ttBuildFails(t, repo, def, binDir)
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("the error lacks %q:\n%s", w, stderr)
				}
			}
			t.Logf("vicroot build failed as it should:\n%s", stderr)
		})
	}
}
