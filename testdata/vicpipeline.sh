#!/bin/bash
# vicpipeline.sh: VIC's bootstrap.iso pipeline (VIC.md §2.2–§2.6), as root,
# with dnf in place of tdnf, against a local repository; with --appliance,
# VIC's appliance.iso pipeline instead (§2.7). It is the baseline that e2e's
# BenchmarkVICPipeline, BenchmarkCompare and BenchmarkCompareAppliance time
# vicroot build against; it is not part of the product.
#
# usage: vicpipeline.sh [--appliance BIN] DEFINITION REPO WORK OUT.iso [DNFCACHE]
#   BIN         the appliance's --bin folder: vic-init, docker-engine-server,
#               port-layer-server, vicadmin, unpack and vicadmin-home/ (VIC's
#               bin/ and isos/vicadmin/)
#   DEFINITION  a repo definition folder (repo-spec.json, *.repo, the key, base.sh)
#   REPO        a directory holding the yum repositories photon/ and photon-updates/
#               (the test repository's layout); the .repo files' baseurls are
#               pointed there, as vicroot's --mirror does
#   WORK        an empty scratch directory (the bundle: rootfs/, bootfs/)
#   OUT.iso     the ISO to write
#   DNFCACHE    dnf's cachedir, kept between runs as VIC keeps
#               bin/.yum-cache-<repo>.tgz (default: WORK/dnfcache)
#
# What it does, in VIC's order: the bundle; `ln -s /lib rootfs/lib64`; the
# definition's base.sh; rpm --initdb, repos and key, tdnf.conf; dnf
# --installroot install of packages.base, then the kernel (gpgcheck on,
# scriptlets run); `xz -d` of every *.ko.xz; depmod (chrooted, as VIC runs
# Photon's kmod; `depmod -b` when the tree's kmod cannot run chrooted);
# clean all; the kernel to bootfs/boot/vmlinuz64 and the other /boot files
# copied; touch etc/initrd-release; staging: packages_script_staging, the
# bootstrap packages, staging.sh, clean all; the isolinux files;
# `(cd rootfs && find | cpio -o -H newc | gzip --fast) > core.gz`; xorriso
# with VIC's options file. The copies of VIC's own scripts are left out.
# VIC hands the tree from stage to stage as tar.gz bundles (.iso-base-*.tgz,
# .bootstrap-staging*.tgz: tar -zcf, then tar -xzf in a new mktemp dir);
# those two round trips run only with VIC_BUNDLES=1, so that by default the
# baseline is the installs and image steps alone (faster than VIC's).
#
# With --appliance the base step is the same, then VIC's appliance-staging.sh
# and appliance.sh (the function appliance below) and generate_iso with
# rdinit=/lib/systemd/systemd.
set -euo pipefail

APPLIANCE_BIN=
if [ "${1:-}" = --appliance ]; then
	APPLIANCE_BIN=$(realpath "${2:?--appliance needs the bin folder}")
	shift 2
fi
if [ $# -lt 4 ]; then
	echo "usage: $0 [--appliance BIN] DEFINITION REPO WORK OUT.iso [DNFCACHE]" >&2
	exit 2
fi
DEF=$(realpath "$1")
REPO=$(realpath "$2")
PKGDIR=$(realpath "$3")
OUT=$(realpath -m "$4")
DNFCACHE=$(realpath -m "${5:-$PKGDIR/dnfcache}")
ROOTFS=$PKGDIR/rootfs
ISOLINUX=${ISOLINUX:-/usr/lib/ISOLINUX/isolinux.bin}
LDLINUX=${LDLINUX:-/usr/lib/syslinux/modules/bios/ldlinux.c32}

if [ "$(id -u)" != 0 ]; then
	echo "$0: VIC's pipeline runs as root" >&2
	exit 1
fi

# The definition's fields, read once (VIC reads them with jq).
mapfile -t SPEC < <(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
p=d.get("packages") or {}
s=d.get("packages_script_staging") or {}
for v in (p.get("base"), d.get("kernel"), p.get("bootstrap"), s.get("bootstrap"), d.get("init")):
    print((v or "").replace("\n", " "))' "$DEF/repo-spec.json")
[ ${#SPEC[@]} -eq 5 ] || { echo "$0: cannot read $DEF/repo-spec.json" >&2; exit 1; }
PKGS_BASE=${SPEC[0]} KERNEL=${SPEC[1]} PKGS_BOOTSTRAP=${SPEC[2]} STAGING_BOOTSTRAP=${SPEC[3]} INIT=${SPEC[4]}

# initialize_bundle
mkdir -p "$ROOTFS" "$PKGDIR/bootfs/boot/isolinux" "$DNFCACHE"
cat >"$PKGDIR/xorriso-options.cfg" <<'EOF'
publisher 'VMware Inc. ${VERSION}'
map bootfs /
boot_image isolinux dir=/boot/isolinux
EOF
ln -s /lib "$ROOTFS/lib64"
if [ -f "$DEF/base.sh" ]; then
	(cd "$PKGDIR" && . "$DEF/base.sh")
fi

# setup_pm: the rpm database, the repository files and keys in the tree,
# tdnf.conf (VIC.md §2.2), and the host-side configuration with absolute
# paths. The host-side .repo copies point at REPO (the --mirror equivalent)
# and at the keys inside the tree, as VIC's tdnf resolves them.
rpm --root="$ROOTFS" --initdb
mkdir -p "$ROOTFS/etc/yum.repos.d" "$ROOTFS/etc/tdnf" "$ROOTFS/etc/pki/rpm-gpg" "$PKGDIR/repos.d"
for r in "$DEF"/*.repo; do
	cp "$r" "$ROOTFS/etc/yum.repos.d/"
	awk -v repo="$REPO" -v root="$ROOTFS" '
		/^\[/ { id = substr($0, 2, index($0, "]") - 2) }
		/^baseurl=/ { print "baseurl=file://" repo "/" id "/"; next }
		/^(mirrorlist|metalink)=/ { next }
		/^gpgkey=file:\/\// { sub(/^gpgkey=file:\/\//, "gpgkey=file://" root); print; next }
		{ print }' "$r" >"$PKGDIR/repos.d/$(basename "$r")"
done
for k in $(sed -n 's|^gpgkey=file://||p' "$DEF"/*.repo | sort -u); do
	cp "$DEF/$(basename "$k")" "$ROOTFS$k"
	rpm --root="$ROOTFS" --import "$ROOTFS$k"
done
conf() { # $1 = the root prefix, $2 = the repo dir
	cat <<EOF
[main]
reposdir=$2
cachedir=$DNFCACHE
logfile=$1/var/log/dnf.log
basearch=x86_64
releasever=2.0
gpgcheck=1
installonly_limit=3
clean_requirements_on_remove=true
keepcache=1
debuglevel=1
exactarch=1
obsoletes=1
install_weak_deps=1
EOF
}
conf "" /etc/yum.repos.d | sed 's|^cachedir=.*|cachedir=/var/cache/tdnf|' >"$ROOTFS/etc/tdnf/tdnf.conf"
conf "$ROOTFS" "$PKGDIR/repos.d" >"$PKGDIR/dnf.conf"

# bundle packs the bundle as VIC's pack() does and unpacks it again as the
# next stage's unpack() does (VIC_BUNDLES=1 only).
bundle() {
	[ "${VIC_BUNDLES:-0}" = 1 ] || return 0
	(cd "$PKGDIR" && tar -zcf "$PKGDIR/bundle.tgz" rootfs bootfs xorriso-options.cfg &&
		rm -rf rootfs bootfs xorriso-options.cfg && tar -xzf "$PKGDIR/bundle.tgz" && rm -f "$PKGDIR/bundle.tgz")
}

install() {
	HOME=/root dnf -q -y -c "$PKGDIR/dnf.conf" --installroot "$ROOTFS" --releasever 2.0 \
		--setopt=reposdir="$PKGDIR/repos.d" --setopt=cachedir="$DNFCACHE" install "$@" >/dev/null
}
clean_all() { rm -rf "$ROOTFS/var/cache/tdnf/"*; }

# generate_iso INIT: the isolinux files and isolinux.cfg with rdinit=INIT,
# the initramfs, xorriso.
generate_iso() {
	cp "$ISOLINUX" "$LDLINUX" "$PKGDIR/bootfs/boot/isolinux/"
	printf 'display boot.msg\ndefault microcore\nlabel microcore\n\tkernel /boot/vmlinuz64\n\tinitrd /boot/core.gz\n \tappend rdinit=%s loglevel=3 console=ttyS1,115200n8 console=tty0 quiet rcupdate.rcu_expedited=1 systemd.show_status=0 noreplace-smp cpu_init_udelay=0 vsyscall=emulate\nF1 boot.msg' \
		"$1" >"$PKGDIR/bootfs/boot/isolinux/isolinux.cfg"
	echo 'vmware/vic - Virtual Container Host' >"$PKGDIR/bootfs/boot/isolinux/boot.msg"
	(cd "$ROOTFS" && find | cpio --quiet -o -H newc | gzip --fast) >"$PKGDIR/bootfs/boot/core.gz"
	VERSION=${VERSION:-v1.5.8-0-9489f63}
	sed -i "s|\${VERSION}|$VERSION|" "$PKGDIR/xorriso-options.cfg"
	rm -f "$OUT"
	(cd "$PKGDIR" && xorriso -dev "$OUT" -options_from_file xorriso-options.cfg 2>/dev/null)
}

# appliance is VIC's appliance-staging.sh and appliance.sh (VIC.md §2.7) on
# the base tree, as root, each step as VIC's scripts run it: the package
# manager's calls through dnf, the edits with sed/cp/ln on the tree, the
# account tools and systemctl chrooted into it. Where it cannot do what VIC
# does with the test repository's packages it says so at the step. The
# unit files, scripts and pam files are VIC's own text, from vic/assets.
appliance() {
	local assets f u
	assets=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../vic/assets")
	for f in vic-init docker-engine-server port-layer-server vicadmin unpack vicadmin-home; do
		[ -e "$APPLIANCE_BIN/$f" ] || { echo "$0: $APPLIANCE_BIN has no $f" >&2; exit 1; }
	done
	local pkgs_appliance staging_appliance
	mapfile -t ASPEC < <(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(((d.get("packages") or {}).get("appliance") or "").replace("\n", " "))
print(((d.get("packages_script_staging") or {}).get("appliance") or "").replace("\n", " "))' "$DEF/repo-spec.json")
	pkgs_appliance=${ASPEC[0]} staging_appliance=${ASPEC[1]}

	# appliance-staging.sh: setup_pm was done by the base step. The
	# staging command (`erase toybox`) through dnf: tdnf's erase is dnf's
	# remove; both take along the installed packages that need it.
	if [ -n "$staging_appliance" ]; then
		# shellcheck disable=SC2086
		set -- $staging_appliance
		[ "$1" = erase ] && { shift; set -- remove "$@"; }
		HOME=/root dnf -q -y -c "$PKGDIR/dnf.conf" --installroot "$ROOTFS" --releasever 2.0 \
			--setopt=reposdir="$PKGDIR/repos.d" --setopt=cachedir="$DNFCACHE" "$@" >/dev/null
	fi
	# shellcheck disable=SC2046,SC2086
	install $pkgs_appliance
	echo "vicadmin ALL=NOPASSWD: /sbin/iptables --list" >>"$ROOTFS/etc/sudoers"
	clean_all
	mkdir -p "$ROOTFS/usr/lib/systemd/system/getty@tty1.service.d/"
	cp "$assets/appliance/override.conf" "$ROOTFS/usr/lib/systemd/system/getty@tty1.service.d/"
	if [ -f "$ROOTFS/sbin/mingetty" ]; then
		ln -sf /sbin/mingetty "$ROOTFS/usr/bin/agetty"
	fi
	rm "$ROOTFS/usr/lib/systemd/system/sshd@.service"
	rm -f "$ROOTFS/etc/systemd/system/multi-user.target.wants/sshd.service"
	sed -i -e "s/\#*PermitRootLogin\s.*/PermitRootLogin yes/" "$ROOTFS/etc/ssh/sshd_config"
	sed -i -e 's@:/bin/bash$@:/bin/false@' "$ROOTFS/etc/passwd"
	local pwhash
	pwhash=$(openssl passwd -1 -salt vic password)
	sed -i -e "s/^root:[^:]*:/root:${pwhash//\//\\/}:/" "$ROOTFS/etc/shadow"
	cp -f "$assets/appliance/chpasswd.pam" "$ROOTFS/etc/pam.d/chpasswd"
	cp -f "$assets/appliance/chage.pam" "$ROOTFS/etc/pam.d/chage"
	bundle

	# appliance.sh
	cp "$assets/appliance/sysctl.conf" "$ROOTFS/etc/"
	cp "$assets/appliance/vic.target" "$assets/appliance/"*.service "$ROOTFS/etc/systemd/system/"
	# Photon's iptables package makes /etc/systemd/scripts; the test
	# repository's does not.
	mkdir -p "$ROOTFS/etc/systemd/scripts"
	cp "$assets/appliance/"*-setup "$ROOTFS/etc/systemd/scripts"
	mkdir -p "$ROOTFS/etc/systemd/system/vic.target.wants"
	ln -s /etc/systemd/system/vic-init.service "$ROOTFS/etc/systemd/system/vic.target.wants/"
	ln -s /etc/systemd/system/nat.service "$ROOTFS/etc/systemd/system/vic.target.wants/"
	ln -s /etc/systemd/system/permissions.service "$ROOTFS/etc/systemd/system/vic.target.wants/"
	ln -s /lib/systemd/system/multi-user.target "$ROOTFS/etc/systemd/system/vic.target.wants/"
	chroot "$ROOTFS" systemctl set-default vic.target 2>/dev/null
	# systemd-machine-id-setup, then the file truncated. The test
	# repository's systemd has no systemd-machine-id-setup: the result
	# (an empty /etc/machine-id) is made directly then.
	if [ -x "$ROOTFS/usr/bin/systemd-machine-id-setup" ] || [ -x "$ROOTFS/bin/systemd-machine-id-setup" ]; then
		chroot "$ROOTFS" systemd-machine-id-setup >/dev/null
	fi
	: >"$ROOTFS/etc/machine-id"
	# systemctl disable of the four units; the test repository's systemd
	# has no networkd, resolved or timesyncd, and systemctl fails on a
	# unit it cannot find, so only the units the tree has are named (as
	# vicroot does).
	local units=()
	for u in systemd-networkd.service systemd-networkd.socket systemd-resolved.service systemd-timesyncd.service; do
		for f in etc/systemd/system usr/lib/systemd/system lib/systemd/system; do
			if [ -e "$ROOTFS/$f/$u" ]; then units+=("$u"); break; fi
		done
	done
	if [ ${#units[@]} -gt 0 ]; then
		chroot "$ROOTFS" systemctl disable "${units[@]}" 2>/dev/null
	fi
	mkdir -p "$ROOTFS/etc/systemd/network"
	rm -f "$ROOTFS/etc/systemd/network/"*
	cp "$assets/no-dhcp.network" "$ROOTFS/etc/systemd/network/"
	chroot "$ROOTFS" groupadd -g 1000 vicadmin
	chroot "$ROOTFS" useradd -u 1000 -g 1000 -G systemd-journal -m -d /home/vicadmin -s /bin/false vicadmin
	# chroot touch /etc/resolv.conf: from the host, as the lock below.
	[ -e "$ROOTFS/etc/resolv.conf" ] || : >"$ROOTFS/etc/resolv.conf"
	chroot "$ROOTFS" groupadd -g 1001 vic
	chroot "$ROOTFS" usermod -a -G vic vicadmin
	cp -R "$APPLIANCE_BIN/vicadmin-home/"* "$ROOTFS/home/vicadmin"
	chown -R 1000:1000 "$ROOTFS/home/vicadmin"
	# (install is the dnf function here: the coreutils one by its path)
	/usr/bin/install -m 755 -d "$ROOTFS/etc/tmpfiles.d"
	echo "m  /var/log/journal/%m/system.journal 2755 root systemd-journal - -" >"$ROOTFS/etc/tmpfiles.d/systemd.conf"
	# As VIC does, chrooted: the appliance list's coreutils provides them
	# once toybox is erased (Photon's appliance has coreutils too).
	chroot "$ROOTFS" mkdir -p /var/run/lock
	chroot "$ROOTFS" chmod 1777 /var/run/lock
	chroot "$ROOTFS" touch /var/run/lock/logrotate_run.lock
	chroot "$ROOTFS" chown root:vic /var/run/lock/logrotate_run.lock
	chroot "$ROOTFS" chmod 0660 /var/run/lock/logrotate_run.lock
	cp "$APPLIANCE_BIN/vic-init" "$ROOTFS/sbin/vic-init"
	cp "$APPLIANCE_BIN/"{docker-engine-server,port-layer-server,vicadmin} "$ROOTFS/sbin/"
	cp "$APPLIANCE_BIN/unpack" "$ROOTFS/bin/"
	generate_iso /lib/systemd/systemd
}

# base.sh: the base set, then the kernel (a separate call).
# shellcheck disable=SC2046
install $PKGS_BASE
install "$KERNEL"
find "$ROOTFS/lib/modules" -name '*.ko.xz' -exec xz -d {} \;
KERNEL_VERSION=$(basename "$ROOTFS"/lib/modules/*)
if ! chroot "$ROOTFS" depmod "$KERNEL_VERSION" 2>/dev/null; then
	depmod -b "$ROOTFS" "$KERNEL_VERSION"
fi
clean_all
mv "$ROOTFS"/boot/vmlinuz-* "$PKGDIR/bootfs/boot/vmlinuz64"
find "$ROOTFS/boot" -type f -exec cp {} "$PKGDIR/bootfs/boot/" \;
touch "$ROOTFS/etc/initrd-release"
bundle

if [ -n "$APPLIANCE_BIN" ]; then
	appliance
	exit 0
fi

# bootstrap-staging.sh
if [ -n "$STAGING_BOOTSTRAP" ]; then
	(cd "$PKGDIR" && eval "$STAGING_BOOTSTRAP")
fi
# shellcheck disable=SC2046
install $PKGS_BOOTSTRAP
if [ -f "$DEF/staging.sh" ]; then
	(cd "$PKGDIR" && . "$DEF/staging.sh")
fi
clean_all
bundle

# bootstrap.sh / generate_iso
generate_iso "$INIT"
