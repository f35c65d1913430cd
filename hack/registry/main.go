// Command registry is CNCF distribution's registry server, built from
// github.com/distribution/distribution/v3 with only the filesystem storage
// driver: the e2e cluster (test/e2e/cluster) runs it on the node as the
// plain-HTTP registry containerd pulls the operator's images from.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
