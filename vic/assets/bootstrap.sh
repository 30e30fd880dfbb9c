# /bin/bootstrap of a VIC containerVM, written by vicroot; sourced by
# /bin/init with /bin/repoinit already loaded. It loads the kernel modules,
# mounts the container disk, fills /.tether from the build-time list and
# switch_roots into the container with the tether as init. POSIX sh.

vicroot_fail() {
	echo "vicroot: bootstrap failed: $*"
	dmesg 2>/dev/null | tail -n 40
	poweroff -f 2>/dev/null || halt -f 2>/dev/null || echo o >/proc/sysrq-trigger
	exit 1
}

echo 1 >/proc/sys/net/ipv4/conf/all/arp_notify 2>/dev/null

# kmod's modprobe by full path: busybox as /bin/sh runs its own applet first.
for m in $vicroot_modules; do
	$vicroot_modprobe "$m" || echo "vicroot: modprobe $m failed"
done

if [ -n "$vicroot_udevd" ] && [ -x "$vicroot_udevd" ]; then
	"$vicroot_udevadm" control --reload 2>/dev/null
	"$vicroot_udevadm" trigger --action=add --type=devices
	"$vicroot_udevadm" settle --timeout=30 2>/dev/null
fi

root=/mnt/containerfs
label=/dev/disk/by-label/containerfs
mkdir -p "$root"
i=0
while [ ! -e "$label" ] && [ "$i" -lt 1200 ]; do
	sleep 0.1 2>/dev/null || sleep 1
	i=$((i + 1))
done
[ -e "$label" ] || vicroot_fail "no disk labelled containerfs"
if command -v timeout >/dev/null 2>&1; then
	timeout -s KILL 120 mount -t ext4 "$label" "$root" || vicroot_fail "cannot mount $label"
else
	mount -t ext4 "$label" "$root" || vicroot_fail "cannot mount $label"
fi

tether="$root/.tether"
mkdir -p "$tether"
mount -t tmpfs -o "size=${vicroot_tempfs_size}m" tmpfs "$tether" || vicroot_fail "cannot mount the /.tether tmpfs"
ln -s lib64 "$tether/lib"
mkdir -p "$tether/lib64/modules" "$tether/run" "$tether/bin" "$tether/opt/config"

# Every module goes into RAM and is seen by the container as /lib/modules.
mkdir -p "$root/lib/modules"
mount --bind "$tether/lib64/modules" "$root/lib/modules"
cp -a /lib/modules/. "$tether/lib64/modules/"

cat /bin/tether >"$tether/tether" && chmod 755 "$tether/tether"
cat /bin/unpack >"$tether/unpack" && chmod 755 "$tether/unpack"
ln -s tether "$tether/tether-debug"

install_iptables "$tether" || vicroot_fail "install_iptables"
install_entropy "$tether" || vicroot_fail "install_entropy"

# The base policy, with the iptables just copied, run as the tether runs it.
ipt() { chroot "$tether" /lib64/ld-linux-x86-64.so.2 /bin/iptables "$@"; }
ipt -N VIC
ipt -P INPUT DROP
ipt -P OUTPUT DROP
ipt -P FORWARD DROP
ipt -A INPUT -j VIC
ipt -A INPUT -i lo -j ACCEPT
ipt -A OUTPUT -j VIC
ipt -A OUTPUT -o lo -j ACCEPT
ipt -A FORWARD -i lo -o lo -j ACCEPT

echo 262144 >/proc/sys/vm/max_map_count 2>/dev/null

# Wait until every block device has its by-label link, then stop udev.
if [ -n "$vicroot_udevd" ] && [ -x "$vicroot_udevd" ]; then
	"$vicroot_udevadm" settle --timeout=30 2>/dev/null
	"$vicroot_udevadm" control --exit 2>/dev/null
fi

echo "vicroot: switching root to $root"
# busybox's switch_root refuses to run unless /init is a regular file.
[ -f /init ] || : >/init
for d in sys proc dev; do
	[ -d "$root/$d" ] && mount --move "/$d" "$root/$d"
done
exec switch_root "$root" /.tether/tether
vicroot_fail "switch_root failed"
