# Runs on the image tree after the bootstrap packages are installed.
# tzdata's /etc/localtime made the containerVM read its clock as local
# time (EDT taken for UTC): the VM has no time zone of its own.
rm -f $(rootfs_dir $PKGDIR)/etc/localtime
