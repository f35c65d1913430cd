package zmtp

import (
	"encoding/binary"
	"strings"
)

// Command is a decoded ZMTP command frame (RFC 23 §"Commands"):
// name-length (1 octet), name, data.
type Command struct {
	// Name is the command name ("READY", "PING", ...), case-sensitive.
	Name string
	// Data is the command body after the name.
	Data []byte
}

// parseCommand decodes a command frame body.
func parseCommand(body []byte) (Command, error) {
	// RFC 23: command-size >= 1 and the name length must fit in the body.
	if len(body) < 1 {
		return Command{}, protoErr("traffic", "empty command", nil)
	}
	n := int(body[0])
	if n == 0 || 1+n > len(body) {
		return Command{}, protoErr("traffic", "bad command name length", nil)
	}
	return Command{Name: string(body[1 : 1+n]), Data: body[1+n:]}, nil
}

// Metadata holds READY properties (RFC 23 §"The NULL Security Mechanism").
// Property names are case-insensitive; use Get.
type Metadata map[string]string

// Get returns the value of property name, matched case-insensitively.
func (md Metadata) Get(name string) string {
	if v, ok := md[name]; ok {
		return v
	}
	for k, v := range md {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// appendProperty appends one metadata property: name-length (1), name,
// value-length (4, network order), value.
func appendProperty(dst []byte, name string, value []byte) []byte {
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// parseMetadata decodes READY properties.
func parseMetadata(b []byte) (Metadata, error) {
	md := Metadata{}
	for len(b) > 0 {
		// RFC 23: name = 1*255 name-char; value-size is 4 octets.
		n := int(b[0])
		if n == 0 || 1+n+4 > len(b) {
			return nil, protoErr("handshake", "bad metadata property name", nil)
		}
		name := string(b[1 : 1+n])
		b = b[1+n:]
		vl := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(vl) > uint64(len(b)) {
			return nil, protoErr("handshake", "bad metadata value length", nil)
		}
		md[name] = string(b[:vl])
		b = b[vl:]
	}
	return md, nil
}

// readyCommand builds the READY command data for our socket.
func readyData(t SocketType, identity []byte) []byte {
	d := appendProperty(nil, PropSocketType, []byte(t.String()))
	// libzmq sends Identity only from sockets that a ROUTER may address.
	if t == REQ || t == DEALER || t == ROUTER {
		d = appendProperty(d, PropIdentity, identity)
	}
	return d
}

// parsePing decodes PING data: TTL (2 octets, deciseconds) and a context of
// at most 16 octets (RFC 37 §"PING and PONG").
func parsePing(data []byte) (ttlDeci uint16, ctx []byte, err error) {
	if len(data) < 2 || len(data)-2 > maxPingContext {
		return 0, nil, protoErr("traffic", "bad PING length", nil)
	}
	return binary.BigEndian.Uint16(data), data[2:], nil
}

// parseError decodes ERROR data: reason-length (1 octet) + reason.
func parseError(data []byte) (string, error) {
	if len(data) < 1 || int(data[0]) > len(data)-1 {
		return "", protoErr("handshake", "bad ERROR length", nil)
	}
	return string(data[1 : 1+int(data[0])]), nil
}

// errorData builds ERROR command data.
func errorData(reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	return append([]byte{byte(len(reason))}, reason...)
}
