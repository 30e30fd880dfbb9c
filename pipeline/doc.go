// Package pipeline is vicroot's recipe: from a repo definition to VIC's
// bootstrap ISO (and its lock, manifest, SBOM and report), readable top to
// bottom in Build. Each stage is a function that takes what the stage
// before produced — definition → plan → fetched files → tree → layout
// report → media — and returns its result; the work is done by the
// packages repos, rpmrepo, resolver, rootfs, vic and initramfs, and an
// error names the stage that failed. Resolve and Lock share Build's
// opening; Verify, Diff and Inspect read finished images.
package pipeline
