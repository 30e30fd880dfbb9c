#!/bin/sh
# /bin/init of a VIC containerVM, written by vicroot. It runs as PID 1 from
# the initramfs (rdinit=/bin/init), prepares devices, modules and the
# /.tether tmpfs, then switch_roots into the container's filesystem with
# the tether as its init. POSIX sh: the image's only shell may be toybox or
# busybox.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The tether's debug log is the second serial port.
[ -c /dev/ttyS1 ] || mknod /dev/ttyS1 c 4 65
exec >/dev/ttyS1 2>&1 </dev/null
echo "vicroot: /bin/init starting"

mkdir -p /dev/pts /dev/shm /run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
[ -c /dev/null ] || mknod -m 666 /dev/null c 1 3
[ -c /dev/console ] || mknod -m 600 /dev/console c 5 1

. /bin/repoinit

# udev: a plain "udevadm trigger" sends change events, so the drivers of
# devices present at boot would never load: replay them as add events.
if [ -n "$vicroot_udevd" ] && [ -x "$vicroot_udevd" ]; then
	"$vicroot_udevd" --daemon
	"$vicroot_udevadm" trigger --action=add --type=subsystems
	"$vicroot_udevadm" trigger --action=add --type=devices
fi

ip link set lo up 2>/dev/null || "$vicroot_ip" link set lo up

. /bin/bootstrap
