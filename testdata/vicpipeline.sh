#!/bin/bash
# vicpipeline.sh: VIC's bootstrap.iso pipeline (VIC.md §2.2–§2.6), as root,
# with dnf in place of tdnf, against a local repository. It is the baseline
# that e2e's BenchmarkVICPipeline times vicroot build against; it is not
# part of the product.
#
# usage: vicpipeline.sh DEFINITION REPO WORK OUT.iso [DNFCACHE]
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
set -euo pipefail

if [ $# -lt 4 ]; then
	echo "usage: $0 DEFINITION REPO WORK OUT.iso [DNFCACHE]" >&2
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
cp "$ISOLINUX" "$LDLINUX" "$PKGDIR/bootfs/boot/isolinux/"
printf 'display boot.msg\ndefault microcore\nlabel microcore\n\tkernel /boot/vmlinuz64\n\tinitrd /boot/core.gz\n \tappend rdinit=%s loglevel=3 console=ttyS1,115200n8 console=tty0 quiet rcupdate.rcu_expedited=1 systemd.show_status=0 noreplace-smp cpu_init_udelay=0 vsyscall=emulate\nF1 boot.msg' \
	"$INIT" >"$PKGDIR/bootfs/boot/isolinux/isolinux.cfg"
echo 'vmware/vic - Virtual Container Host' >"$PKGDIR/bootfs/boot/isolinux/boot.msg"
(cd "$ROOTFS" && find | cpio --quiet -o -H newc | gzip --fast) >"$PKGDIR/bootfs/boot/core.gz"
VERSION=${VERSION:-v1.5.8-0-9489f63}
sed -i "s|\${VERSION}|$VERSION|" "$PKGDIR/xorriso-options.cfg"
rm -f "$OUT"
(cd "$PKGDIR" && xorriso -dev "$OUT" -options_from_file xorriso-options.cfg 2>/dev/null)
