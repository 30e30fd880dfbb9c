// Package vic is everything vicroot knows of VMware VIC's images, written
// in this project with the boot behaviour of VIC's isos/ scripts: the
// containerVM's boot scripts (/bin/init, /bin/bootstrap, the generated
// /bin/repoinit) and systemd units (assets/), the package manager
// configuration, the bootstrap layout (BootstrapLayout) with its /.tether
// plan (the ELF closure of iptables and the entropy daemon, the modules to
// load, the tmpfs size), and the ISO's boot semantics (IsolinuxConfig,
// BootMsg, Publisher and the paths VIC boots from).
//
// The pipeline calls it after installing the packages; the appliance image
// (the endpointVM) has its layout here beside the bootstrap's
// (ApplianceLayout: VIC's appliance steps, with VIC's units and scripts in
// assets/appliance). It
// knows nothing of RPM, cpio or ISO bytes: it writes into any tree that
// satisfies FS. Every script vicroot writes is POSIX sh, so an image whose
// only shell is toybox or busybox boots. The repo definition format these
// scripts serve is documented in repos/README.md.
package vic
