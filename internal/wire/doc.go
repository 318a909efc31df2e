// Package wire is the protocol between glimpse clients (package pool) and
// worker processes (package cluster): what travels in a chunk job and its
// answers, the names of the Gearman functions and fanout topic they use,
// the client ids that carry a worker's slot count, the topics of the
// broker's command and log channels, and the registry of functions a
// worker serves.
//
// It is internal so that none of it is API: a program calls pool (Register,
// Map, Broadcast...), and a client and its workers always ship together, so
// the format may change with a version bump (see Encode).
//
// pool imports this package and cluster imports both; this package imports
// neither, so the registry holds functions through the untyped Function
// interface that pool.Register implements.
package wire
