package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// KVCache is the response cache in a JetStream KV bucket, whose TTL ages
// entries out. Safe for concurrent use.
type KVCache struct {
	KV jetstream.KeyValue
}

var _ pipeline.Cache = KVCache{}

// Get returns the entry for key; a missing key is a miss, not an error.
func (c KVCache) Get(ctx context.Context, key string) (pipeline.CacheEntry, bool, error) {
	ctx, cancel := bounded(ctx) // a cache that does not answer is a miss, soon
	defer cancel()
	entry, err := c.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return pipeline.CacheEntry{}, false, nil
	}
	if err != nil {
		return pipeline.CacheEntry{}, false, fmt.Errorf("consumers.cache get: %w", err)
	}
	var e pipeline.CacheEntry
	if err := json.Unmarshal(entry.Value(), &e); err != nil {
		return pipeline.CacheEntry{}, false, fmt.Errorf("consumers.cache get: %w", err)
	}
	return e, true, nil
}

// Put stores an entry under key.
func (c KVCache) Put(ctx context.Context, key string, e pipeline.CacheEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("consumers.cache put: %w", err)
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if _, err := c.KV.Put(ctx, key, raw); err != nil {
		return fmt.Errorf("consumers.cache put: %w", err)
	}
	return nil
}
