package expr

import (
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestQueueMarshalsNFQUEUETarget checks the attributes the kernel's
// nft_compat reads: target name NFQUEUE, revision 3, and xt_NFQ_info_v3
// (queuenum, queues_total, flags in host order) padded to 8 bytes.
func TestQueueMarshalsNFQUEUETarget(t *testing.T) {
	q := &Queue{Num: 98, Flag: QueueFlagBypass}
	raw, err := q.marshal(unix.NFPROTO_INET)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := netlink.UnmarshalAttributes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(outer[0].Data) != "target\x00" {
		t.Fatalf("expression name = %q, want target", outer[0].Data)
	}
	attrs, err := netlink.UnmarshalAttributes(outer[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16][]byte{}
	for _, a := range attrs {
		got[a.Type] = a.Data
	}
	if string(got[unix.NFTA_TARGET_NAME]) != "NFQUEUE\x00" {
		t.Errorf("target name = %q, want NFQUEUE", got[unix.NFTA_TARGET_NAME])
	}
	if rev := binary.BigEndian.Uint32(got[unix.NFTA_TARGET_REV]); rev != 3 {
		t.Errorf("revision = %d, want 3", rev)
	}
	info := got[unix.NFTA_TARGET_INFO]
	if len(info) != 8 {
		t.Fatalf("info is %d bytes, want 8 (XT_ALIGN of xt_NFQ_info_v3)", len(info))
	}
	if n, total, flags := binary.NativeEndian.Uint16(info[0:]), binary.NativeEndian.Uint16(info[2:]), binary.NativeEndian.Uint16(info[4:]); n != 98 || total != 1 || flags != 1 {
		t.Errorf("info = num %d total %d flags %d, want 98 1 1 (bypass)", n, total, flags)
	}

	var back Queue
	if err := back.unmarshal(unix.NFPROTO_INET, outer[1].Data); err != nil {
		t.Fatal(err)
	}
	if back != *q {
		t.Errorf("round trip = %+v, want %+v", back, *q)
	}
}
