# Kernel modules loaded at boot, besides the ones the bootstrap always loads.
drivers=(nf_conntrack)
