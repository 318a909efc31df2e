package fanout

import (
	"context"
	"slices"
	"sync"
)

// subscriberCache is a fanout worker's copy of the store, so that a fanout
// costs no database round trip. Every change, local or announced on the
// matchmaking topic, reloads it whole from the store: applying a local
// change to the cache instead could be undone by a reload that read the
// store just before the change was committed.
type subscriberCache struct {
	store Store

	mu        sync.RWMutex
	topics    map[string][]string // sorted client ids
	requested uint64              // reloads asked for
	loaded    uint64              // highest request a finished reload covers

	loadMu sync.Mutex // one reload at a time
}

func newSubscriberCache(s Store) *subscriberCache {
	return &subscriberCache{store: s, topics: map[string][]string{}}
}

// reload makes the cache reflect every change committed before the call.
// Concurrent callers share reloads: one that starts after a caller asked
// serves it, so a burst of announcements costs one or two reads.
func (c *subscriberCache) reload(ctx context.Context) error {
	c.mu.Lock()
	c.requested++
	want := c.requested
	c.mu.Unlock()

	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	c.mu.RLock()
	done, covers := c.loaded >= want, c.requested
	c.mu.RUnlock()
	if done {
		return nil
	}
	// Every request up to covers was made before this read starts.
	all, err := c.store.All(ctx)
	if err != nil {
		return err
	}
	topics := map[string][]string{}
	for _, s := range all {
		topics[s.Topic] = append(topics[s.Topic], s.ClientID)
	}
	for _, ids := range topics {
		slices.Sort(ids)
	}
	c.mu.Lock()
	c.topics = topics
	c.loaded = covers
	c.mu.Unlock()
	return nil
}

// subscribers returns the client ids of topic; the caller may keep them.
func (c *subscriberCache) subscribers(topic string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.topics[topic])
}

func (c *subscriberCache) all() []Subscription {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Subscription
	for t, ids := range c.topics {
		for _, id := range ids {
			out = append(out, Subscription{Topic: t, ClientID: id})
		}
	}
	sortSubscriptions(out)
	return out
}

// counts returns the subscribers of every topic.
func (c *subscriberCache) counts() map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := make(map[string]int, len(c.topics))
	for t, ids := range c.topics {
		n[t] = len(ids)
	}
	return n
}
