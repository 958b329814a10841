// Package controller is the embedded controller: the store of record for
// resources, served through a REST API shaped like Rafay's v3 API, with an
// append-only event log that clients follow by long-polling.
//
// Every change (create, update, delete) is one transaction that takes the
// next revision from a single counter row, so revisions are committed in
// order and a client reading the log with ?since= never misses one.
package controller
