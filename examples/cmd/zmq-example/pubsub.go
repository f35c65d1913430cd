package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runPublisher publishes "<topic> <host> <seq>" on each of its topics.
func runPublisher(ctx context.Context, a *app) error {
	if len(a.topics) == 0 {
		return fmt.Errorf("a publisher needs at least one --topic")
	}
	out, err := a.open(ctx, "out")
	if err != nil {
		return err
	}
	defer out.Close()
	sent := map[string]int{}
	return a.tick(ctx, func(seq int) error {
		for _, topic := range a.topics {
			if err := out.Send(ctx, zmtp.NewMsgString(fmt.Sprintf("%s %s %d", topic, a.host, seq))); err != nil {
				return err
			}
			// Counters shared with /stats change only under its lock.
			a.update(func(s map[string]any) { sent[topic]++; s["sent"] = sent })
		}
		return nil
	})
}

// runSubscriber subscribes to its topics and counts messages by topic and
// by publisher; "unexpected" counts messages of topics it did not ask for.
func runSubscriber(ctx context.Context, a *app) error {
	in, err := a.open(ctx, "in")
	if err != nil {
		return err
	}
	defer in.Close()
	for _, t := range a.topics {
		if err := in.Subscribe([]byte(t + " ")); err != nil {
			return err
		}
	}
	byTopic, byPublisher := map[string]int{}, map[string]int{}
	unexpected := 0
	for {
		m, err := in.Recv(ctx)
		if err != nil {
			return err
		}
		fields := strings.Fields(string(m[0]))
		a.update(func(s map[string]any) {
			if len(fields) != 3 || !contains(a.topics, fields[0]) {
				unexpected++
			} else {
				byTopic[fields[0]]++
				byPublisher[fields[1]]++
			}
			s["byTopic"] = byTopic
			s["byPublisher"] = byPublisher
			s["unexpected"] = unexpected
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
