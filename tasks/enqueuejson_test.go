package tasks_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/tasks"
)

// EnqueueJSON converts JSON to the function's In type: a worker process
// runs the task as if Enqueue had been given the typed item; an unknown
// function, bad JSON and a value or field that does not fit are each a
// typed error naming what was wrong, and nothing is written.
func TestEnqueueJSON(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "tasks.db"), testConf())
	e.startWorker(1)
	id, err := tasks.EnqueueJSON(e.ctx, e.client, recordFn.Name(), json.RawMessage(`{"Key": "json-1", "SleepMS": 1}`), tasks.Queue("json"))
	if err != nil {
		t.Fatal(err)
	}
	e.waitAll([]tasks.ID{id})
	task, err := tasks.Lookup(e.ctx, e.client, recordFn, id)
	if err != nil || task.State != tasks.Succeeded || task.Value != "done:json-1" || task.Queue != "json" {
		t.Fatalf("the JSON task: %+v, %v; want succeeded with done:json-1", task, err)
	}

	cases := []struct {
		name, fn, item string
		want           error
		field, says    string
	}{
		{"unknown function", "no.such.function", `{}`, tasks.ErrUnknownFunction, "", "not registered"},
		{"bad JSON", recordFn.Name(), `{"Key": `, tasks.ErrBadJSON, "", "unexpected end"},
		{"trailing data", recordFn.Name(), `{"Key": "a"} {}`, tasks.ErrBadJSON, "", "not valid JSON"},
		{"wrong type", recordFn.Name(), `{"Key": "a", "SleepMS": "ten"}`, tasks.ErrItemMismatch, "SleepMS", "field SleepMS: JSON string where int is wanted"},
		{"unknown field", recordFn.Name(), `{"Kee": "a"}`, tasks.ErrItemMismatch, "Kee", "Kee: no such field"},
		{"not an object", recordFn.Name(), `[1, 2]`, tasks.ErrItemMismatch, "", "the item: JSON array"},
	}
	for _, c := range cases {
		id, err := tasks.EnqueueJSON(e.ctx, e.client, c.fn, json.RawMessage(c.item))
		var ee *tasks.EnqueueError
		if id != "" || !errors.Is(err, c.want) || !errors.As(err, &ee) || ee.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %q, %v; want an *EnqueueError wrapping %v, Field %q, saying %q", c.name, id, err, c.want, c.field, c.says)
		}
	}
	list, err := e.client.List(e.ctx, tasks.Filter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("%d tasks stored (%v); want only the good one", len(list), err)
	}
}
