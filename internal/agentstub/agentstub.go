// Package agentstub serves agentstatus documents over real HTTP on a
// loopback address, standing in for zmq-sidecar agents where no kubelet
// runs them: in envtest, the link poller's tests and its benchmark. The
// document served is whatever the test sets; requests are counted.
package agentstub

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// Agent is one stub agent.
type Agent struct {
	// Addr is the host:port it listens on.
	Addr string
	srv  *http.Server
	ln   net.Listener

	mu    sync.Mutex
	doc   agentstatus.Document
	delay time.Duration
	fail  int // HTTP status to answer with instead, 0 for none

	requests atomic.Int64
	answered time.Time // when the last document was sent, under mu
}

// Start listens on ip:port (port 0 picks one) and serves GET /status.
func Start(ip string, port int) (*Agent, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	a := &Agent{Addr: ln.Addr().String(), ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentstatus.Path, a.serve)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *Agent) serve(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	a.mu.Lock()
	doc, delay, fail := a.doc, a.delay, a.fail
	a.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	doc.Time = time.Now().UTC()
	w.Header().Set("Content-Type", "application/json")
	if json.NewEncoder(w).Encode(doc) == nil {
		a.mu.Lock()
		a.answered = time.Now()
		a.mu.Unlock()
	}
}

// LastAnswer is when the stub last finished sending a document (zero if
// it never has). A poller cannot have received an answer later than this,
// so tests measure staleness from it rather than from their own clock.
func (a *Agent) LastAnswer() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered
}

// Set replaces the document served (APIVersion is filled in when empty).
func (a *Agent) Set(doc agentstatus.Document) {
	if doc.APIVersion == "" {
		doc.APIVersion = agentstatus.APIVersion
	}
	a.mu.Lock()
	a.doc = doc
	a.mu.Unlock()
}

// Update changes the document served under the stub's lock.
func (a *Agent) Update(f func(*agentstatus.Document)) {
	a.mu.Lock()
	f(&a.doc)
	a.mu.Unlock()
}

// Delay makes every answer wait d (0: answer at once).
func (a *Agent) Delay(d time.Duration) {
	a.mu.Lock()
	a.delay = d
	a.mu.Unlock()
}

// Fail answers with an HTTP status instead of the document (0: stop).
func (a *Agent) Fail(status int) {
	a.mu.Lock()
	a.fail = status
	a.mu.Unlock()
}

// Requests is how many requests for /status the stub received.
func (a *Agent) Requests() int64 { return a.requests.Load() }

// Close stops the stub: connections are refused from then on.
func (a *Agent) Close() error {
	err := a.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
