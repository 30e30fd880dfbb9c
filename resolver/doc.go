// Package resolver decides which packages an install needs, the way dnf
// and tdnf (libsolv) decide it, and explains its answers.
//
// It holds rpm's version comparison (Vercmp, CompareEVR, Overlap), the
// parser of rich (boolean) dependencies (ParseRich), the solver (Solve),
// erase on a staged set, the install order, explanations of failures
// (*Unsolvable) and of choices (Plan.Why), and the lock (Lock) that pins a
// plan. It is for choosing packages; it never reads the bytes of RPM
// payloads, never fetches anything and never verifies signatures: the
// package index comes from rpmrepo, and the full file lists are loaded
// through Policy.LoadFiles only when a file dependency needs them.
//
// # Semantics
//
// Requirements match provides (a package always provides "name = EVR")
// by name and by range overlap as rpm's rpmdsCompare does: an unversioned
// side matches everything, the epoch defaults to 0, and a side without a
// release ignores the other's release. rpmlib(...) requirements are
// always met. File requirements match the paths packages list, literally.
// Conflicts match provides; Obsoletes match package names (dnf's
// obsoleteusesprovides=False) and only those of chosen packages count.
// Rich dependencies use libsolv's reading: (A if B) is "A or not B",
// (A unless B) is "A and not B", with else they are conditionals; a rich
// Conflicts is the clause "not expr", so (A unless B) in Conflicts can be
// met by installing B, as dnf does.
//
// Choices follow libsolv's policy_filter_unwanted: highest repository
// priority, then best arch (noarch is always kept; i686 only when listed
// in Policy.Arches), then the best version of each name, names in strcmp
// order, candidates obsoleted by another candidate dropped, packages that
// a chosen package recommends (and locked ones) first. A requested name
// also matches the packages that obsolete it ("install f-old" gives f-new),
// as dnf's install does. Requirements with a single candidate are
// propagated before any choice is made. Weak dependencies (Recommends and
// Supplements) are installed afterwards when they fit, never making a
// request fail. One version per name, except installonly packages.
//
// # Search, not SAT
//
// The solver is a hand-written search: unit propagation plus ordered
// choices with conflict-directed backjumping, not a SAT solver. The
// reason is the acceptance test: the answer must be the package set dnf
// picks, and dnf's answer is defined by libsolv's choice order (which
// candidate it tries first) far more than by satisfiability; every
// repository here has many solutions. A search that takes exactly those
// choices in that order, and only backtracks when one fails, reproduces
// that answer directly and keeps the chain of reasons needed for
// explanations (each chosen package remembers the requirement that
// brought it in). A SAT encoding would need the same policy layered on
// top as decision heuristics and would lose the readable chains. The
// cost is worst-case exponential time on unsolvable problems with many
// independent choices; backjumping prunes the common cases, and
// Policy.MaxSteps bounds the rest with ErrTooHard. Photon-sized requests
// (tens of packages out of a few thousand) take a few milliseconds; a
// 300-name request against 63,000 packages takes about half a second.
package resolver
