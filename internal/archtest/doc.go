// Package archtest holds tests that check DESIGN.md section 2's import
// rules with `go list -deps`; it has no code of its own.
package archtest
