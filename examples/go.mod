// Module examples holds the sample workloads of config/samples. It is a
// module of its own so that go-zeromq/zmq4, which one example uses as Go
// users' pods do, never enters the operator's go.mod.
module github.com/zmq-operator/zmq-operator/examples

go 1.26.0

require (
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/zmq-operator/zmq-operator v0.0.0
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace github.com/zmq-operator/zmq-operator => ../
