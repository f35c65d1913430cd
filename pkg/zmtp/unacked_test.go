package zmtp

import (
	"reflect"
	"testing"
)

// Octets that belong to no message (commands such as PING, written
// between messages) move the offsets on without becoming an entry, so the
// messages after them are found by their own offsets.
func TestUnackedSkipKeepsMessagesAligned(t *testing.T) {
	m1, m2, m3 := NewMsgString("one"), NewMsgString("two"), NewMsgString("three")
	u := unackedMsgs{on: true}
	u.push(m1, 10) // octets [0, 10)
	u.skip(5)      // a command: [10, 15)
	u.push(m2, 10) // [15, 25)
	u.skip(3)      // [25, 28)
	u.push(m3, 10) // [28, 38)
	for _, c := range []struct {
		kernel uint64
		want   []Msg
	}{
		{0, []Msg{m1, m2, m3}},
		{12, []Msg{m2, m3}},
		{15, []Msg{m2, m3}},
		{16, []Msg{m3}},
		{28, []Msg{m3}},
		{29, nil},
	} {
		if got := u.unstarted(c.kernel); !reflect.DeepEqual(got, c.want) {
			t.Errorf("kernel took %d octets: unstarted %q, want %q", c.kernel, got, c.want)
		}
	}
	u.ack(25) // m1 and m2 reached the kernel whole
	if got := u.unstarted(26); !reflect.DeepEqual(got, []Msg{m3}) {
		t.Errorf("after ack: unstarted %q, want [three]", got)
	}
}
