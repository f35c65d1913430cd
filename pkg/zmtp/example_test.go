package zmtp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// Pipeline: a PUSH ventilator distributes tasks round-robin to PULL
// workers.
func Example_pipeline() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	worker, _ := zmtp.NewSocket(zmtp.PULL)
	defer worker.Close()
	ep, _ := worker.Bind("tcp://127.0.0.1:0") // port 0: the actual endpoint is returned

	ventilator, _ := zmtp.NewSocket(zmtp.PUSH)
	defer ventilator.Close()
	_ = ventilator.Connect(ep) // returns at once; connects (and reconnects) in the background

	for i := 1; i <= 3; i++ {
		_ = ventilator.Send(ctx, zmtp.NewMsgString("task", fmt.Sprint(i))) // blocks until a peer has room
	}
	for i := 0; i < 3; i++ {
		m, _ := worker.Recv(ctx)
		fmt.Printf("%s %s\n", m[0], m[1])
	}
	// Output:
	// task 1
	// task 2
	// task 3
}

// Pub/sub: a SUB receives only messages whose first frame starts with a
// subscribed prefix.
func Example_pubSub() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pub, _ := zmtp.NewSocket(zmtp.PUB)
	defer pub.Close()
	ep, _ := pub.Bind("tcp://127.0.0.1:0")

	sub, _ := zmtp.NewSocket(zmtp.SUB)
	defer sub.Close()
	_ = sub.Subscribe([]byte("weather."))
	_ = sub.Connect(ep)

	// The slow joiner: wait until the publisher has the subscription.
	for pub.Stats().Subscriptions == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = pub.Send(ctx, zmtp.NewMsgString("sports.football", "2-1"))
	_ = pub.Send(ctx, zmtp.NewMsgString("weather.paris", "sunny"))

	m, _ := sub.Recv(ctx)
	fmt.Printf("%s: %s\n", m[0], m[1])
	// Output:
	// weather.paris: sunny
}

// Request/reply: REQ adds and REP strips the envelope; a ROUTER<->DEALER
// Proxy (the Queue device) in between keeps it intact.
func Example_reqRep() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	rep, _ := zmtp.NewSocket(zmtp.REP)
	defer rep.Close()
	ep, _ := rep.Bind("tcp://127.0.0.1:0")
	go func() {
		for {
			req, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			_ = rep.Send(ctx, zmtp.NewMsgString("hello, "+string(req[0])))
		}
	}()

	req, _ := zmtp.NewSocket(zmtp.REQ)
	defer req.Close()
	_ = req.Connect(ep)
	_ = req.Send(ctx, zmtp.NewMsgString("world"))
	m, _ := req.Recv(ctx)
	fmt.Println(string(m[0]))
	// Output:
	// hello, world
}

// Probe: read a bound socket's ZMTP version and Socket-Type without
// becoming one of its peers.
func ExampleProbe() {
	pull, _ := zmtp.NewSocket(zmtp.PULL)
	defer pull.Close()
	ep, _ := pull.Bind("tcp://127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := zmtp.Probe(ctx, ep, zmtp.ProbeOptions{Mode: zmtp.ProbePing})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Version, res.Mechanism, res.SocketType, res.PingRTT > 0)
	// Output:
	// 3.1 NULL PULL true
}

// Proxy: a Forwarder device (XSUB frontend, XPUB backend) forwards
// subscriptions upstream and messages downstream.
func ExampleProxy() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	frontend, _ := zmtp.NewSocket(zmtp.XSUB)
	backend, _ := zmtp.NewSocket(zmtp.XPUB)
	defer frontend.Close()
	defer backend.Close()
	fe, _ := frontend.Bind("tcp://127.0.0.1:0")
	be, _ := backend.Bind("tcp://127.0.0.1:0")
	go zmtp.Proxy(ctx, frontend, backend)

	pub, _ := zmtp.NewSocket(zmtp.PUB)
	defer pub.Close()
	_ = pub.Connect(fe)
	sub, _ := zmtp.NewSocket(zmtp.SUB)
	defer sub.Close()
	_ = sub.Subscribe([]byte("a"))
	_ = sub.Connect(be)

	for pub.Stats().Subscriptions == 0 { // the subscription crossed the device
		time.Sleep(time.Millisecond)
	}
	_ = pub.Send(ctx, zmtp.NewMsgString("b", "skipped"))
	_ = pub.Send(ctx, zmtp.NewMsgString("a", "delivered"))
	m, _ := sub.Recv(ctx)
	fmt.Println(string(m[1]))
	// Output:
	// delivered
}
