// Package pool is the client API of glimpse-go: a registry of functions
// by name and Map, Imap and ImapUnordered, which spread calls over the
// cluster's workers as Gearman jobs. It is built in a later issue; see
// DESIGN.md in the shared folder.
package pool
