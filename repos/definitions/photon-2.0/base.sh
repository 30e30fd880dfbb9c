# Runs on the image tree after the bundle is set up and before any package
# is installed. Photon's filesystem package marks /var/run as %ghost, so
# rpm never creates it: make it the usual link to /run.
mkdir -p $(rootfs_dir $PKGDIR)/run $(rootfs_dir $PKGDIR)/var
ln -s /run $(rootfs_dir $PKGDIR)/var/run
