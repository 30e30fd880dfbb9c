// Package hook runs a repository definition's hooks (base.sh,
// staging.sh) on a root filesystem, as VIC's build scripts run them on
// their rootfs directory: the script is interpreted by mvdan.cc/sh/v3/interp
// with `set -e`, every path it opens, stats or lists is routed into the
// tree (which appears at $PKGDIR/rootfs) or the read-only definition
// folder ($REPODIR), and every command is one of a fixed table of applets
// (mkdir, ln, rm, cp, mv, chmod, chown, touch, mknod, cat, sed -i,
// install, basename, dirname, readlink). Nothing runs on the host and
// nothing outside the tree can be named.
//
// It works through rootfs.FS only.
package hook
