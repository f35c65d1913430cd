module github.com/zmq-operator/zmq-operator/test/interop

go 1.26.0

replace github.com/zmq-operator/zmq-operator => ../..

require (
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/pebbe/zmq4 v1.4.0
	github.com/zmq-operator/zmq-operator v0.0.0-00010101000000-000000000000
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)
