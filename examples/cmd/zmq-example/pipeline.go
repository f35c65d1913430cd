package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runVentilator pushes tasks "<host>:<seq>" to the workers.
func runVentilator(ctx context.Context, a *app) error {
	tasks, err := a.open(ctx, "tasks")
	if err != nil {
		return err
	}
	defer tasks.Close()
	return a.tick(ctx, func(seq int) error {
		if err := tasks.Send(ctx, zmtp.NewMsgString(pad(fmt.Sprintf("%s:%d", a.host, seq), a.size))); err != nil {
			return err
		}
		a.update(func(s map[string]any) { s["sent"] = seq + 1 })
		return nil
	})
}

// pad appends a space and filler to task up to size bytes; the worker
// strips it.
func pad(task string, size int) string {
	if n := size - len(task) - 1; n > 0 {
		return task + " " + strings.Repeat("x", n)
	}
	return task
}

// runWorker pulls tasks, spends --work on each, and pushes
// "<task>|<worker host>" to the sink.
func runWorker(ctx context.Context, a *app) error {
	tasks, err := a.open(ctx, "tasks")
	if err != nil {
		return err
	}
	defer tasks.Close()
	results, err := a.open(ctx, "results")
	if err != nil {
		return err
	}
	defer results.Close()
	for n := 1; ; n++ {
		m, err := tasks.Recv(ctx)
		if err != nil {
			return err
		}
		if a.work > 0 {
			select {
			case <-time.After(a.work):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		task, _, _ := strings.Cut(string(m[0]), " ") // without the padding
		if err := results.Send(ctx, zmtp.NewMsgString(task+"|"+a.host)); err != nil {
			return err
		}
		a.update(func(s map[string]any) { s["processed"] = n })
	}
}

// runSink pulls results and counts them by task (to find duplicates), by
// worker and by ventilator.
func runSink(ctx context.Context, a *app) error {
	results, err := a.open(ctx, "results")
	if err != nil {
		return err
	}
	defer results.Close()
	seen := map[string]bool{}
	byWorker, byProducer := map[string]int{}, map[string]int{}
	duplicates := 0
	for {
		m, err := results.Recv(ctx)
		if err != nil {
			return err
		}
		task, worker, _ := strings.Cut(string(m[0]), "|")
		producer, _, _ := strings.Cut(task, ":")
		a.update(func(s map[string]any) {
			if seen[task] {
				duplicates++
			}
			seen[task] = true
			byWorker[worker]++
			byProducer[producer]++
			s["received"] = len(seen)
			s["duplicates"] = duplicates
			s["byWorker"] = byWorker
			s["byProducer"] = byProducer
		})
	}
}
