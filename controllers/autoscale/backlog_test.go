package autoscale

import (
	"testing"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
)

// pipeline: ventilator PUSH binds, workers PULL from it and PUSH to the
// sink, which PULL-binds; a monitor SUBscribes to the ventilator's PUB.
func pipeline() *zmqv1.ZMQTopology {
	return &zmqv1.ZMQTopology{Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
		{Name: "ventilator", Sockets: []zmqv1.Socket{
			{Name: "tasks", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5557}},
			{Name: "events", Type: zmqv1.PUB, Bind: &zmqv1.BindSpec{Port: 5560}},
		}},
		{Name: "worker", Sockets: []zmqv1.Socket{
			{Name: "tasks", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "ventilator", Socket: "tasks"}},
			{Name: "results", Type: zmqv1.PUSH, Connect: &zmqv1.ConnectSpec{Component: "sink", Socket: "results"}},
			{Name: "events", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Component: "ventilator", Socket: "events"}},
		}},
		{Name: "sink", Sockets: []zmqv1.Socket{
			{Name: "results", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5558}},
		}},
	}}}
}

func ventilatorPod(name string, fresh bool, tasksSendQ, eventsSendQ uint64) linkpoll.PodQueues {
	return linkpoll.PodQueues{Pod: name, Component: "ventilator", Fresh: fresh, Sockets: []linkpoll.SocketQueues{
		{Name: "tasks", Type: "PUSH", Bind: true, SendQueueBytes: tasksSendQ, ReceiveQueueBytes: 7},
		{Name: "events", Type: "PUB", Bind: true, SendQueueBytes: eventsSendQ},
	}}
}

func workerPod(name string, fresh bool, tasksRecvQ, resultsSendQ, eventsRecvQ uint64) linkpoll.PodQueues {
	return linkpoll.PodQueues{Pod: name, Component: "worker", Fresh: fresh, Sockets: []linkpoll.SocketQueues{
		{Name: "tasks", Type: "PULL", ReceiveQueueBytes: tasksRecvQ, SendQueueBytes: 11},
		{Name: "results", Type: "PUSH", SendQueueBytes: resultsSendQ},
		{Name: "events", Type: "SUB", ReceiveQueueBytes: eventsRecvQ},
	}}
}

func sinkPod(recvQ uint64) linkpoll.PodQueues {
	return linkpoll.PodQueues{Pod: "sink-0", Component: "sink", Fresh: true, Sockets: []linkpoll.SocketQueues{
		{Name: "results", Type: "PULL", Bind: true, ReceiveQueueBytes: recvQ},
	}}
}

func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		topology  func() *zmqv1.ZMQTopology
		component string
		pods      []linkpoll.PodQueues
		want      Measurement
	}{
		{"idle pipeline", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 0, 0), workerPod("w-0", true, 0, 0, 0), sinkPod(0),
		}, Measurement{Pods: 1, Complete: true}},
		{"only the input path counts: binder send queue and workers' PULL receive queues", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 300_000, 999), workerPod("w-0", true, 100_000, 555, 444), workerPod("w-1", true, 50_000, 0, 0), sinkPod(777),
		}, Measurement{Workers: 150_000, Upstream: 300_000, Pods: 2, Complete: true}},
		{"every binder replica counts", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 1000, 0), ventilatorPod("v-1", true, 2000, 0), workerPod("w-0", true, 4, 0, 0),
		}, Measurement{Workers: 4, Upstream: 3000, Pods: 1, Complete: true}},
		{"a silent worker makes it incomplete and is not counted", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 1000, 0), workerPod("w-0", true, 10, 0, 0), workerPod("w-1", false, 5000, 0, 0),
		}, Measurement{Workers: 10, Upstream: 1000, Pods: 1, Complete: false}},
		{"a silent binder makes it incomplete", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", false, 1000, 0), workerPod("w-0", true, 10, 0, 0),
		}, Measurement{Workers: 10, Pods: 1, Complete: false}},
		{"no pod at all is incomplete", pipeline, "worker", nil, Measurement{}},
		{"workers not running yet: the binder's queue alone", pipeline, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 1000, 0),
		}, Measurement{Upstream: 1000, Complete: true}},
		{"a binder shared with another component is left out", func() *zmqv1.ZMQTopology {
			t := pipeline()
			t.Spec.Components = append(t.Spec.Components, zmqv1.Component{Name: "other", Sockets: []zmqv1.Socket{
				{Name: "in", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "ventilator", Socket: "tasks"}},
			}})
			return t
		}, "worker", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 1000, 0), workerPod("w-0", true, 10, 0, 0),
		}, Measurement{Workers: 10, Pods: 1, Complete: true}},
		{"an unknown component is incomplete", pipeline, "nope", []linkpoll.PodQueues{
			ventilatorPod("v-0", true, 1000, 0),
		}, Measurement{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Measure(tc.topology(), tc.component, tc.pods, t0)
			tc.want.Time = t0
			if got != tc.want {
				t.Errorf("Measure = %+v\nwant      %+v", got, tc.want)
			}
			if s := got.Sample(); s.Backlog != float64(tc.want.Workers+tc.want.Upstream) || s.Complete != tc.want.Complete || !s.Time.Equal(t0) {
				t.Errorf("Sample = %+v", s)
			}
		})
	}
}
