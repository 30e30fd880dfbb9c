// Package resolver decides which packages an install needs: rpmvercmp, the
// dependency model, the solver, erase, explanations of failures and choices,
// and the lock. It never reads the bytes of RPM payloads.
package resolver
