// Package cluster is the worker runtime, the local cluster (StartLocal)
// and the glimpse-cluster command line (Main). It is built in a later
// issue; see DESIGN.md in the shared folder.
package cluster
