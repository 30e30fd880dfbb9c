package vic

import (
	"fmt"
	"strings"
	"time"

	"github.com/vicroot/vicroot/initramfs/iso"
)

// DefaultLabel is the isolinux.cfg label VIC boots.
const DefaultLabel = "microcore"

// Publisher is the ISO's publisher as VIC's xorriso call writes it
// ("VMware Inc. <version>"): vic-machine takes its last word as the
// image's version.
func Publisher(version string) string { return "VMware Inc. " + version }

// ISOOptions are the options of VIC's ISOs: xorriso's `publisher 'VMware
// Inc. <version>'` and `boot_image isolinux dir=/boot/isolinux`.
func ISOOptions(version string, epoch time.Time) iso.Options {
	return iso.Options{
		Publisher: Publisher(version),
		Epoch:     epoch,
		BootImage: iso.IsolinuxBin,
		Catalog:   iso.CatalogPath,
	}
}

// vicArgs are VIC's kernel arguments after rdinit= and the consoles.
var vicArgs = []string{"quiet", "rcupdate.rcu_expedited=1", "systemd.show_status=0", "noreplace-smp", "cpu_init_udelay=0", "vsyscall=emulate"}

// vicConsoles are VIC's: serial 1 is the containerVM's tether.debug log.
var vicConsoles = []string{"ttyS1,115200n8", "tty0"}

// BootConfig is what varies in isolinux.cfg.
type BootConfig struct {
	// Init is the rdinit= program: "/bin/init" for the bootstrap image,
	// "/lib/systemd/systemd" for the appliance.
	Init string
	// Consoles replace VIC's "ttyS1,115200n8 tty0" when set (tests send
	// the console to ttyS0).
	Consoles []string
	// Extra arguments go at the end of the append line.
	Extra []string
}

// AppendLine returns the kernel command line of c.
func (c BootConfig) AppendLine() (string, error) {
	if !strings.HasPrefix(c.Init, "/") || strings.ContainsAny(c.Init, " \t\n") {
		return "", fmt.Errorf("vic: init %q must be an absolute path without spaces", c.Init)
	}
	cons := c.Consoles
	if len(cons) == 0 {
		cons = vicConsoles
	}
	args := []string{"rdinit=" + c.Init, "loglevel=3"}
	for _, con := range cons {
		args = append(args, "console="+con)
	}
	args = append(args, vicArgs...)
	for _, a := range c.Extra {
		if a == "" || strings.ContainsAny(a, "\n") {
			return "", fmt.Errorf("vic: kernel argument %q is empty or has a newline", a)
		}
	}
	args = append(args, c.Extra...)
	return strings.Join(args, " "), nil
}

// IsolinuxConfig returns isolinux.cfg with VIC's boot semantics: show
// boot.msg, boot the kernel and initramfs of the ISO at once with VIC's
// append line.
func IsolinuxConfig(c BootConfig) ([]byte, error) {
	line, err := c.AppendLine()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "display boot.msg\n")
	fmt.Fprintf(&b, "default %s\n", DefaultLabel)
	fmt.Fprintf(&b, "label %s\n", DefaultLabel)
	fmt.Fprintf(&b, "\tkernel /%s\n", iso.KernelPath)
	fmt.Fprintf(&b, "\tinitrd /%s\n", iso.InitrdPath)
	fmt.Fprintf(&b, "\tappend %s\n", line)
	fmt.Fprintf(&b, "F1 boot.msg\n")
	return []byte(b.String()), nil
}

// BootMsg is the banner ISOLINUX shows while it loads the kernel.
func BootMsg(version string) []byte {
	title := "vmware/vic - Virtual Container Host"
	if version != "" {
		title += " " + version
	}
	rule := strings.Repeat("=", len(title)+4)
	return []byte(fmt.Sprintf("\n%s\n  %s\n%s\n  Booting. Serial 1 (ttyS1) carries the log.\n\n", rule, title, rule))
}
