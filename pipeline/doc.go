// Package pipeline owns the AI task as plain steps: clean, route, render,
// call, validate, price. It declares the Model interface that
// pipeline/openai and pipeline/rules implement, and the closed set of error
// codes. It starts no goroutines and must not import NATS or Postgres
// clients: concurrency, acks and storage belong to its callers.
package pipeline
