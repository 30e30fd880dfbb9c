package vic

import "fmt"

// PackageManagerConf returns the path and content of the package manager
// configuration the image carries, as VIC's setup_pm writes it from its
// template with $ROOTFS emptied: /etc/tdnf/tdnf.conf for tdnf,
// /etc/yum.conf for yum.
func PackageManagerConf(pm, releasever string) (string, []byte, error) {
	var p, cache string
	switch pm {
	case "", "tdnf":
		p, cache = "/etc/tdnf/tdnf.conf", "/var/cache/tdnf"
	case "yum":
		p, cache = "/etc/yum.conf", "/var/cache/yum"
	default:
		return "", nil, fmt.Errorf("vic: unknown package manager %q (want tdnf or yum)", pm)
	}
	conf := "[main]\n" +
		"repodir=/etc/yum.repos.d\n" +
		"cachedir=" + cache + "\n" +
		"logfile=/var/log/dnf.log\n" +
		"basearch=x86_64\n" +
		"releasever=" + releasever + "\n" +
		"gpgcheck=1\n" +
		"installonly_limit=3\n" +
		"clean_requirements_on_remove=true\n" +
		"keepcache=1\n" +
		"debuglevel=1\n" +
		"exactarch=1\n" +
		"obsoletes=1\n"
	return p, []byte(conf), nil
}
