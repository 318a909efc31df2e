package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
	"github.com/glimpse-go/glimpse/webhook"
)

var (
	labelQueue = []string{"queue"}

	descTasksEnqueued  = prometheus.NewDesc("glimpse_tasks_enqueued_total", "Tasks this process enqueued (its periodic scheduler, its clients).", labelQueue, nil)
	descTasksSucceeded = prometheus.NewDesc("glimpse_tasks_succeeded_total", "Task attempts this process ran that succeeded.", labelQueue, nil)
	descTasksFailed    = prometheus.NewDesc("glimpse_tasks_failed_total", "Task attempts this process ran that failed their task (its last attempt, or an error that says not to retry).", labelQueue, nil)
	descTasksRetried   = prometheus.NewDesc("glimpse_tasks_retried_total", "Task attempts this process ran that failed and left their task to be retried.", labelQueue, nil)
	descLimitAcquired  = prometheus.NewDesc("glimpse_tasks_ratelimit_acquired_total", "Grants of the queue's rate and concurrency limits to this process's tasks.", labelQueue, nil)
	descLimitWaits     = prometheus.NewDesc("glimpse_tasks_ratelimit_waits_total", "Grants this process's tasks had to wait for (a token or a free slot).", labelQueue, nil)
	descLimitWaitTime  = prometheus.NewDesc("glimpse_tasks_ratelimit_wait_seconds_total", "Time this process's tasks waited for their grants.", labelQueue, nil)
	descWebhookLatency = prometheus.NewDesc("glimpse_webhook_latency_seconds", "How long receivers took to answer this process's webhook calls (until the answer's headers).", nil, nil)
)

// NewTasksCollector returns the collector of a process's task counters
// (tasks.Stats: enqueued, succeeded, failed and retried per queue), the
// waits of its rate limiter (nil: none) per queue, and its webhook calls'
// latency (webhook.Latency).
func NewTasksCollector(limiter *ratelimit.Limiter) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{descTasksEnqueued, descTasksSucceeded, descTasksFailed, descTasksRetried,
			descLimitAcquired, descLimitWaits, descLimitWaitTime, descWebhookLatency},
		collect: func(ch chan<- prometheus.Metric) { collectTasks(ch, limiter) },
	}
}

func collectTasks(ch chan<- prometheus.Metric, limiter *ratelimit.Limiter) {
	for q, s := range tasks.Stats() {
		counter(ch, descTasksEnqueued, s.Enqueued, q)
		counter(ch, descTasksSucceeded, s.Succeeded, q)
		counter(ch, descTasksFailed, s.Failed, q)
		counter(ch, descTasksRetried, s.Retried, q)
	}
	if limiter != nil {
		for q, s := range limiter.Stats() {
			counter(ch, descLimitAcquired, s.Acquired, q)
			counter(ch, descLimitWaits, s.Waited, q)
			ch <- prometheus.MustNewConstMetric(descLimitWaitTime, prometheus.CounterValue, s.WaitTime.Seconds(), q)
		}
	}
	if h, err := HistogramMetric(descWebhookLatency, webhook.Latency()); err == nil {
		ch <- h
	}
}
