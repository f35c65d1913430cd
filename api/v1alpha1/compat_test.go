package v1alpha1

import "testing"

func TestCompatiblePeers(t *testing.T) {
	if got := CompatiblePeers(DEALER); len(got) != 3 || got[0] != REP || got[1] != DEALER || got[2] != ROUTER {
		t.Errorf("CompatiblePeers(DEALER) = %v", got)
	}
	if Compatible("STREAM", PUSH) {
		t.Error("an unknown type is compatible")
	}
}

func TestCompatible(t *testing.T) {
	// The pairs of RFC 37; every other pair of the 11 types is incompatible.
	valid := map[[2]SocketType]bool{
		{PAIR, PAIR}: true, {PUB, SUB}: true, {PUB, XSUB}: true, {XPUB, SUB}: true,
		{XPUB, XSUB}: true, {REQ, REP}: true, {REQ, ROUTER}: true, {DEALER, REP}: true,
		{DEALER, ROUTER}: true, {DEALER, DEALER}: true, {ROUTER, ROUTER}: true, {PUSH, PULL}: true,
	}
	for _, a := range SocketTypes {
		for _, b := range SocketTypes {
			want := valid[[2]SocketType{a, b}] || valid[[2]SocketType{b, a}]
			if got := Compatible(a, b); got != want {
				t.Errorf("Compatible(%s, %s) = %v; want %v", a, b, got, want)
			}
		}
	}
}

func TestDeviceLayout(t *testing.T) {
	for _, tc := range []struct {
		d           DeviceType
		front, back SocketType
	}{{Forwarder, XSUB, XPUB}, {Streamer, PULL, PUSH}, {Queue, ROUTER, DEALER}} {
		f, b, ok := DeviceLayout(tc.d)
		if !ok || f != tc.front || b != tc.back {
			t.Errorf("DeviceLayout(%s) = %s, %s, %v; want %s, %s, true", tc.d, f, b, ok, tc.front, tc.back)
		}
	}
	if _, _, ok := DeviceLayout("Bogus"); ok {
		t.Error("DeviceLayout(Bogus) reported ok")
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		a, b SocketType
		want string
	}{
		{PULL, PUSH, "PUSH-PULL"}, {PUSH, PULL, "PUSH-PULL"}, {XSUB, PUB, "PUB-XSUB"}, {XPUB, SUB, "XPUB-SUB"},
		{ROUTER, REQ, "REQ-ROUTER"}, {DEALER, REP, "DEALER-REP"}, {ROUTER, DEALER, "DEALER-ROUTER"}, {PAIR, PAIR, "PAIR-PAIR"},
	} {
		if got := Pattern(tc.a, tc.b); got != tc.want {
			t.Errorf("Pattern(%s, %s) = %s; want %s", tc.a, tc.b, got, tc.want)
		}
	}
}
