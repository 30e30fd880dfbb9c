package vic

// InitScript is /bin/init of an image with /etc/systemd (VIC's
// systemd-init); BootstrapLayout picks the branch from the tree. For a
// legacy definition, whose init.sh uses bash syntax, it runs under bash.
func InitScript(legacy bool) []byte {
	if legacy {
		return initEntry(branchSystemd, "/bin/bash")
	}
	return initEntry(branchSystemd, "/bin/sh")
}
