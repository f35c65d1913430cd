package zmtp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbeReportsSocketType(t *testing.T) {
	for _, typ := range []SocketType{PUB, SUB, XPUB, XSUB, PUSH, PULL, REQ, REP, DEALER, ROUTER, PAIR} {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ, WithIdentity([]byte("id-"+typ.String())))
			ep := bind(t, s)
			for _, mode := range []ProbeMode{ProbeReady, ProbePing} {
				res, err := Probe(testCtx(t), ep, ProbeOptions{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				if res.SocketType != typ || res.Version != (Version{3, 1}) || res.Mechanism != "NULL" {
					t.Fatalf("got %+v", res)
				}
				_, silent := SilentPeer(typ)
				if res.SentReady != (mode == ProbePing && silent) {
					t.Fatalf("mode %v: SentReady=%v", mode, res.SentReady)
				}
				if (res.PingRTT > 0) != (mode == ProbePing && silent) {
					t.Fatalf("mode %v: PingRTT=%v", mode, res.PingRTT)
				}
				if typ == ROUTER || typ == DEALER || typ == REQ {
					if string(res.Identity) != "id-"+typ.String() {
						t.Fatalf("identity %q", res.Identity)
					}
				}
			}
		})
	}
}

func TestProbeHTTPIsNotZMTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Probe(ctx, "tcp://"+strings.TrimPrefix(srv.URL, "http://"), ProbeOptions{})
	t.Logf("err=%v after %v", err, time.Since(start))
	if !errors.Is(err, ErrNotZMTP) {
		t.Fatalf("got %v, want ErrNotZMTP", err)
	}
}

func TestProbeBannerIsNotZMTP(t *testing.T) {
	// A server that speaks first (SSH, SMTP, an HTTP error page) is
	// rejected from its first octets, well before the deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	_, err = Probe(testCtx(t), "tcp://"+ln.Addr().String(), ProbeOptions{})
	if !errors.Is(err, ErrNotZMTP) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrNotZMTP without timeout", err)
	}
}
