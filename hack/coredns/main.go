// Command coredns is a CoreDNS build with only the plugins the local e2e
// cluster needs (test/e2e/cluster): it serves the cluster domain from the
// Kubernetes API and answers nothing else (no forward plugin), so no name
// lookup made by a pod ever leaves the machine.
//
// Build: hack/build-k8s.sh coredns (or `go build -o coredns .` here).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins compiled in; each registers itself with caddy in init().
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
)

// directives is the plugin execution order; it must follow the order of
// CoreDNS's plugin.cfg (v1.14.7) for the plugins compiled in above.
var directives = []string{
	"reload",
	"bind",
	"ready",
	"health",
	"errors",
	"log",
	"loadbalance",
	"cache",
	"template",
	"kubernetes",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
