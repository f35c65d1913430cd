// Package expr: this file replaces github.com/google/nftables v0.3.0's
// expr/queue.go when hack/build-k8s.sh builds the e2e cluster's
// NetworkPolicy enforcer (go build -overlay). It keeps the Queue API the
// enforcer uses but puts the packet on the nfqueue through the xtables
// NFQUEUE target (nft_compat, xt_NFQUEUE, revision 3) instead of the
// nftables "queue" expression (nft_queue): some kernels, such as the one of
// this project's CI machines, are built with CONFIG_NETFILTER_XT_TARGET_NFQUEUE
// and CONFIG_NFT_COMPAT but without CONFIG_NFT_QUEUE. The verdict is the
// same: the packet waits in queue Num (fanned over Total queues) for the
// enforcer's accept or drop; with QueueFlagBypass it passes when no one
// listens on the queue.
package expr

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// QueueAttribute is a netlink attribute of the nftables queue expression.
type QueueAttribute uint16

// QueueFlag is a flag of a queue verdict.
type QueueFlag uint16

// The queue attributes and flags (linux/netfilter/nf_tables.h); the flag
// values are also those of xt_NFQUEUE's NFQ_FLAG_BYPASS and
// NFQ_FLAG_CPU_FANOUT.
const (
	QueueNum   QueueAttribute = unix.NFTA_QUEUE_NUM
	QueueTotal QueueAttribute = unix.NFTA_QUEUE_TOTAL
	QueueFlags QueueAttribute = unix.NFTA_QUEUE_FLAGS

	QueueFlagBypass QueueFlag = unix.NFT_QUEUE_FLAG_BYPASS
	QueueFlagFanout QueueFlag = unix.NFT_QUEUE_FLAG_CPU_FANOUT
	QueueFlagMask   QueueFlag = unix.NFT_QUEUE_FLAG_MASK
)

// nfqueueTargetRev is the revision of the NFQUEUE target whose info is
// struct xt_NFQ_info_v3 {u16 queuenum; u16 queues_total; u16 flags}.
const nfqueueTargetRev = 3

// Queue sends the packet to a netfilter queue.
type Queue struct {
	Num   uint16
	Total uint16
	Flag  QueueFlag
}

func (e *Queue) marshal(fam byte) ([]byte, error) {
	data, err := e.marshalData(fam)
	if err != nil {
		return nil, err
	}
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_EXPR_NAME, Data: []byte("target\x00")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_EXPR_DATA, Data: data},
	})
}

func (e *Queue) marshalData(fam byte) ([]byte, error) {
	if e.Total == 0 {
		e.Total = 1 // one queue, as the nftables expression defaults to
	}
	// xt_NFQ_info_v3 in host byte order, padded to XT_ALIGN (8 bytes).
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], e.Num)
	binary.NativeEndian.PutUint16(info[2:], e.Total)
	binary.NativeEndian.PutUint16(info[4:], uint16(e.Flag))
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TARGET_NAME, Data: []byte("NFQUEUE\x00")},
		{Type: unix.NFTA_TARGET_REV, Data: binaryutil.BigEndian.PutUint32(nfqueueTargetRev)},
		{Type: unix.NFTA_TARGET_INFO, Data: info},
	})
}

// unmarshal reads either form back: the queue expression's attributes or
// the NFQUEUE target's.
func (e *Queue) unmarshal(fam byte, data []byte) error {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_QUEUE_NUM: // == NFTA_TARGET_NAME
			b := ad.Bytes()
			if len(b) == 2 {
				e.Num = binary.BigEndian.Uint16(b)
			} else if !bytes.HasPrefix(b, []byte("NFQUEUE")) {
				return fmt.Errorf("not an NFQUEUE target: %q", b)
			}
		case unix.NFTA_QUEUE_TOTAL: // == NFTA_TARGET_REV
			if b := ad.Bytes(); len(b) == 2 {
				e.Total = binary.BigEndian.Uint16(b)
			}
		case unix.NFTA_QUEUE_FLAGS: // == NFTA_TARGET_INFO
			b := ad.Bytes()
			switch {
			case len(b) == 2:
				e.Flag = QueueFlag(binary.BigEndian.Uint16(b))
			case len(b) >= 6:
				e.Num = binary.NativeEndian.Uint16(b[0:])
				e.Total = binary.NativeEndian.Uint16(b[2:])
				e.Flag = QueueFlag(binary.NativeEndian.Uint16(b[4:]))
			}
		}
	}
	return ad.Err()
}
