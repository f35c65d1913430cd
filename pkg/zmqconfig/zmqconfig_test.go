package zmqconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestEnvAndRoundTrip(t *testing.T) {
	on, hwm, cto, max := true, int32(7), int32(1500), int64(-1)
	c := &Config{Topology: "t", Namespace: "ns", Component: "c", Sockets: []Socket{
		{Name: "task-in", Type: "PULL", Endpoints: []string{"tcp://a:1", "tcp://b:1"}, Options: Options{SndHWM: &hwm, TCPKeepalive: &on,
			ConnectTimeoutMillis: &cto, ReconnectIvlMillis: &hwm, ReconnectIvlMaxMillis: &cto, MaxMsgSize: &max}},
		{Name: "out", Type: "PUSH", Bind: true, Port: 5, Endpoints: []string{"tcp://*:5"}},
	}}
	got := map[string]string{}
	for _, e := range c.Env() {
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"ZMQ_TOPOLOGY": "t", "ZMQ_COMPONENT": "c", "ZMQ_CONFIG": "/etc/zmq/topology.json", "ZMQ_SOCKETS": "task-in,out",
		"ZMQ_TASK_IN_TYPE": "PULL", "ZMQ_TASK_IN_ENDPOINTS": "tcp://a:1,tcp://b:1", "ZMQ_TASK_IN_BIND": "false",
		"ZMQ_TASK_IN_SNDHWM": "7", "ZMQ_TASK_IN_TCP_KEEPALIVE": "1", "ZMQ_TASK_IN_CONNECT_TIMEOUT": "1500",
		"ZMQ_TASK_IN_RECONNECT_IVL": "7", "ZMQ_TASK_IN_RECONNECT_IVL_MAX": "1500", "ZMQ_TASK_IN_MAXMSGSIZE": "-1",
		"ZMQ_OUT_TYPE": "PUSH", "ZMQ_OUT_ENDPOINTS": "tcp://*:5", "ZMQ_OUT_BIND": "true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %v\nwant %v", got, want)
	}

	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip = %+v; want %+v", back, c)
	}
	if _, err := Parse([]byte(strings.Replace(string(raw), `"topology"`, `"topologee"`, 1))); err == nil {
		t.Error("Parse accepted an unknown field")
	}
}
