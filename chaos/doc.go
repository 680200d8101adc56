// Package chaos holds ghostwriter's chaos suite, in its tests only: it
// runs `ghostwriter worker` and `ghostwriter ledger` as child processes
// (so a SIGKILL is real) against nats-servers, a fake OpenAI-compatible
// provider and a Postgres database that the test process owns, breaks
// them in the ways the reliability notes list, and checks after each
// scenario that nothing was lost and nothing happened twice.
//
// `go test ./chaos` (and so `make test`) runs the short version; `make
// chaos` (the `chaos` build tag) runs the full one. Nothing outside the
// tests imports this package.
package chaos
