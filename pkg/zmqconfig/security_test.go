package zmqconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestSecurityValidate(t *testing.T) {
	good := Security{Mechanism: "CURVE", Server: true, SecretKeyFile: "/k/secret", AllowedClientKeysDir: "/k/clients"}
	client := Security{Mechanism: "CURVE", SecretKeyFile: "/k/secret", ServerPublicKeyFile: "/k/server"}
	if err := good.Validate("s"); err != nil {
		t.Fatal(err)
	}
	if err := client.Validate("s"); err != nil {
		t.Fatal(err)
	}
	var none *Security
	if err := none.Validate("s"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(s *Security)
		field  string
	}{
		{"unknown mechanism", func(s *Security) { s.Mechanism = "PLAIN" }, "s.mechanism"},
		{"no secret key", func(s *Security) { s.SecretKeyFile = "" }, "s.secretKeyFile"},
		{"server with server key", func(s *Security) { s.ServerPublicKeyFile = "/k/x" }, "s.serverPublicKeyFile"},
		{"client without server key", func(s *Security) { s.Server = false }, "s.serverPublicKeyFile"},
		{"NULL with keys", func(s *Security) { s.Mechanism = "NULL" }, "s: keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mutate(&s)
			err := s.Validate("s")
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v; want an error naming %s", err, tc.field)
			}
		})
	}
	c := client
	c.AllowedClientKeysDir = "/k/clients"
	if err := c.Validate("s"); err == nil || !strings.Contains(err.Error(), "s.allowedClientKeysDir") {
		t.Fatalf("client with allow-list: %v", err)
	}
}

func TestSecurityEnvAndRoundTrip(t *testing.T) {
	c := &Config{Sockets: []Socket{
		{Name: "in", Type: "PULL", Bind: true, Security: &Security{Mechanism: "CURVE", Server: true, SecretKeyFile: "/k/sec", AllowedClientKeysDir: "/k/clients"}},
		{Name: "out", Type: "PUSH", Security: &Security{Mechanism: "CURVE", SecretKeyFile: "/k/sec", ServerPublicKeyFile: "/k/srv"}},
	}}
	got := map[string]string{}
	for _, e := range c.Env() {
		if strings.Contains(e.Name, "CURVE") || strings.HasSuffix(e.Name, "MECHANISM") {
			got[e.Name] = e.Value
		}
	}
	want := map[string]string{
		"ZMQ_IN_MECHANISM": "CURVE", "ZMQ_IN_CURVE_SERVER": "1", "ZMQ_IN_CURVE_SECRETKEY_FILE": "/k/sec", "ZMQ_IN_CURVE_ALLOWED_KEYS_DIR": "/k/clients",
		"ZMQ_OUT_MECHANISM": "CURVE", "ZMQ_OUT_CURVE_SERVER": "0", "ZMQ_OUT_CURVE_SECRETKEY_FILE": "/k/sec", "ZMQ_OUT_CURVE_SERVERKEY_FILE": "/k/srv",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %v\nwant %v", got, want)
	}
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(raw)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	// A configuration without security is unchanged on the wire.
	plain := &Config{Sockets: []Socket{{Name: "x", Type: "PUSH"}}}
	raw, _ = plain.Marshal()
	if strings.Contains(string(raw), "security") {
		t.Fatalf("NULL socket marshals a security block: %s", raw)
	}
}
