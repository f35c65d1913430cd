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

// TestEnvNamesNeverCollide checks that the variables of two sockets can
// never share a name: ZMQ_<A>_<suffix1> = ZMQ_<B>_<suffix2> with A != B
// would need one suffix to end with "_" + another, since socket names map
// to distinct prefixes ('-' becomes '_', and socket names have no '_').
func TestEnvNamesNeverCollide(t *testing.T) {
	on, n, n64 := true, int32(1), int64(1)
	c := &Config{Sockets: []Socket{{Name: "s", Options: Options{
		SndHWM: &n, RcvHWM: &n, LingerMillis: &n, ConnectTimeoutMillis: &n, ReconnectIvlMillis: &n,
		ReconnectIvlMaxMillis: &n, MaxMsgSize: &n64, HeartbeatIntervalMs: &n, HeartbeatTimeoutMs: &n,
		HeartbeatTTLMs: &n, TCPKeepalive: &on, TCPKeepaliveIdleSec: &n, TCPKeepaliveIntvlSec: &n, TCPKeepaliveCount: &n,
	}, Security: &Security{Mechanism: "CURVE", Server: true, SecretKeyFile: "a", PublicKeyFile: "b", ServerPublicKeyFile: "c", AllowedClientKeysDir: "d"}}}}
	var suffixes []string
	for _, e := range c.Env() {
		if s, ok := strings.CutPrefix(e.Name, EnvPrefix("s")); ok {
			suffixes = append(suffixes, s)
		}
	}
	if len(suffixes) != 23 {
		t.Fatalf("suffixes = %q; want the 3 fixed ones, the 14 options and the 6 security ones", suffixes)
	}
	for _, a := range suffixes {
		for _, b := range suffixes {
			if a != b && strings.HasSuffix(a, "_"+b) {
				t.Errorf("suffix %s ends with _%s: socket x's ZMQ_X_%s would be another socket's", a, b, a)
			}
		}
	}
	// The topology-wide variables have no socket part.
	for _, e := range c.Env()[:4] {
		if strings.Count(e.Name, "_") != 1 {
			t.Errorf("%s could be a socket's variable", e.Name)
		}
	}
}
