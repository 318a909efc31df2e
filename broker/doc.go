// Package broker is the ZeroMQ forwarder of the command and log channels.
// It is built in a later issue; see DESIGN.md in the shared folder.
package broker
