package zmtp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// CURVE: the server knows its secret key and which client keys to allow;
// each client knows the server's public key and its own pair.
func Example_curve() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	serverPub, serverSec, _ := zmtp.GenerateCurveKeyPair()
	clientPub, clientSec, _ := zmtp.GenerateCurveKeyPair()
	strangerPub, strangerSec, _ := zmtp.GenerateCurveKeyPair()

	sink, _ := zmtp.NewSocket(zmtp.PULL, zmtp.WithCurveServer(serverSec),
		zmtp.WithCurveAuthorizer(zmtp.CurveAllowList(clientPub)))
	defer sink.Close()
	ep, _ := sink.Bind("tcp://127.0.0.1:0")

	stranger, _ := zmtp.NewSocket(zmtp.PUSH, zmtp.WithCurveClient(serverPub, strangerPub, strangerSec))
	defer stranger.Close()
	_ = stranger.Connect(ep)

	source, _ := zmtp.NewSocket(zmtp.PUSH, zmtp.WithCurveClient(serverPub, clientPub, clientSec))
	defer source.Close()
	_ = source.Connect(ep)
	_ = source.Send(ctx, zmtp.NewMsgString("sealed"))

	m, _ := sink.Recv(ctx)
	fmt.Println(string(m[0]))
	for sink.Stats().AuthFailures == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("stranger refused:", stranger.Stats().Peers == 0)
	fmt.Println(fmt.Sprint(clientSec))
	// Output:
	// sealed
	// stranger refused: true
	// CurveSecretKey(redacted)
}
