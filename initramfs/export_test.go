package initramfs

// CompressWorkers is Compress with gzip on the given number of goroutines.
var CompressWorkers = compress
