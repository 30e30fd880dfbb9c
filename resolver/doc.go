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
// (A unless B) is "A and not B", (A if B else C) is "(A or not B) and
// (B or C)", so with neither B nor C chosen either one may be installed
// (the usual choice order picks among them). A rich Conflicts is the
// clause "not expr", met by installing what makes expr false when that
// is possible, as libsolv does: a conflict with (A unless B) installs B,
// a conflict with (A if B) installs B (and keeps A out).
//
// # Choice policy
//
// Where several packages can satisfy a dependency, the candidates are
// ordered as libsolv's policy_filter_unwanted does (CHOOSE mode) and the
// first that works is taken:
//
//   - libsolv, prune_to_highest_prio: the best repository priority
//     (Policy.Priorities, from dnf's priority=);
//   - libsolv, prune_to_best_arch: the best arch (Policy.Arches; noarch
//     always kept; i686 only when listed);
//   - libsolv, prune_to_best_version: the best version of each name,
//     names in strcmp order, candidates obsoleted by another dropped;
//   - libsolv, prune_to_recommended: those a chosen package recommends or
//     that supplement the chosen set, if any (even with weak dependencies
//     off: dnf install_weak_deps=False still prefers them);
//   - libsolv, dislike_old_versions: a provider whose name has a newer
//     version elsewhere (one that does not provide the dependency) goes
//     back;
//   - libsolv, sort_by_common_dep: of versioned provides of one name
//     ("Y = 2", "Y <= 2", "Y < 2"), the highest version first;
//   - libsolv, move_installed_to_front and prefer_suggested: names already
//     installed, then candidates a chosen package suggests or whose
//     Enhances the chosen set satisfies, go first;
//   - this package: locked names (Request.Lock) first of all.
//
// libsolv drops what the prunings remove; the search keeps those
// candidates behind the winners, to reach them only by backtracking.
//
// # Decision order
//
// Which requirement is decided first changes the answer as much as which
// candidate is taken, so the solver decides in libsolv's order
// (solver_run_sat):
//
//   - libsolv, resolve_jobrules: the requests, in the order given;
//   - libsolv, resolve_dependencies: then the unmet requirements in
//     libsolv's rule order (its package rules sorted by
//     unifyrules_sortcmp: the requiring package, last in the repository
//     first, then the candidates' ids), walking on from the rule decided
//     last and wrapping around; while no rule has had to be postponed
//     for good, a rule whose candidates the prunings above narrow to one
//     is decided before the ambiguous ones, which are postponed; after a
//     round with nothing to decide, the walk restarts at the first
//     postponed rule and takes every rule in turn;
//   - libsolv, resolve_weak (unless Policy.NoWeakDeps): the candidates of
//     every unmet Recommends of a chosen package and the packages that
//     supplement the chosen set, kept to the best version of each name;
//     the supplementing ones are installed first, then each unmet
//     Recommends, walking the packages in the order they were chosen,
//     gets its first candidate by the choice policy; every install is
//     propagated, one that does not fit is left out for good, and then
//     the new packages' own requirements are resolved as above, round
//     after round until nothing is added;
//   - libsolv, the auto-minimization at the end of solver_run_sat: the
//     earliest choice one of whose other candidates (those the policy
//     kept) got installed anyway later, or, when the one taken is not
//     recommended, one that a chosen package now recommends or that
//     supplements the chosen set, is taken again with that candidate and
//     everything after it is redone; until no choice qualifies.
//
// On top of libsolv come dnf's settings: best=False, dnf's
// own default (a request takes the best version of what it names, and an
// older one when the best cannot be installed, where best=True would
// fail), weak dependencies (Policy.NoWeakDeps is install_weak_deps=False),
// installonlypkgs (Policy.InstallOnly) and obsoletes=True (a requested
// name also matches the packages that obsolete it: "install f-old" gives
// f-new). Requirements with a single
// candidate are propagated before any choice is made. Weak dependencies
// (Recommends and Supplements) are installed afterwards when they fit,
// never making a request fail. One version per name, except installonly
// packages. Installed packages (Request.Installed) are kept as they are,
// never upgraded: where libsolv and dnf would upgrade one, the resolver
// takes another provider or reports the problem.
//
// TestLibsolvTestcases runs libsolv's own test suite through the solver:
// every case of plain install and erase jobs, on an empty or an installed
// system, with default or no weak dependencies, is compared with the
// answer Debian's testsolv computes for it. TestSolve300AgainstDNF
// (skipped with -short) requests 300 names from the 63,000 packages made
// from Debian's dependency graph and requires exactly dnf's package set,
// with weak dependencies on and off.
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
// (tens of packages out of a few thousand) take a few milliseconds.
// BenchmarkSolve300VsDNF (300 names against the 63,000 packages made
// from Debian's dependency graph; the set equals dnf's) measures parsing
// primary.xml.gz and solving at 0.45x dnf's cold time with weak
// dependencies and 0.24x without: medians of three runs on a shared
// 2-core machine under a load average of 12 to 18, where dnf itself took
// 29 s and 35 s (about 7.5 s on the idle machine).
package resolver
