# Runs on the image tree after the bundle is set up and before any package
# is installed.
#
# The bundle starts with lib64 as a symlink to lib; CentOS 6 packages ship
# a real /lib64 directory, and unpacking them over the link fails.
rm -f $(rootfs_dir $PKGDIR)/lib64
mkdir -p $(rootfs_dir $PKGDIR)/dev $(rootfs_dir $PKGDIR)/lib64
# libgcc's %post writes to /dev/null before udev exists.
mknod $(rootfs_dir $PKGDIR)/dev/null c 1 3
chmod 666 $(rootfs_dir $PKGDIR)/dev/null
