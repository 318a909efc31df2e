// Package fanout is the gearhorn-compatible fanout worker and its
// subscriber store. It is built in a later issue; see DESIGN.md in the
// shared folder.
package fanout
