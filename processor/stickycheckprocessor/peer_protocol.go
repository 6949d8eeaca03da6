package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

// The peer protocol, version 1 (documented in the README): one HTTP POST of
// a binary message per batch of reports, big-endian.
//
//	header, 24 bytes:
//	  magic     4  "SCKP"
//	  version   1  1
//	  reserved  1  0
//	  count     2  number of reports, 1..maxReportsPerMessage
//	  sender    8  replicaID of the sending replica
//	  ring_hash 8  the sender's ring hash (ring.Ring.Hash), for diagnosis
//	report, 17 or 25 bytes, count times:
//	  flags     1  bit 0 ring_change, bit 1 counted, bit 2 seer present,
//	               bits 3-4 hops, bit 5 handoff, bits 6-7 zero
//	  trace_id 16  not all zero
//	  seer      8  only with bit 2; otherwise the seer is the sender; not 0
const (
	peerPath          = "/stickycheck/v1/reports"
	peerContentType   = "application/x-stickycheck-reports"
	protocolMagic     = "SCKP"
	protocolVersion   = 1
	headerSize        = 24
	reportSize        = 17
	seerSize          = 8
	maxReportSize     = reportSize + seerSize
	maxReportsPerMsg  = 16384
	maxPeerMessageLen = headerSize + maxReportsPerMsg*maxReportSize
)

// Report flags, on the wire and in the queue.
const (
	// rfRingChange: sent because of a ring change (a handoff, or a
	// non-owner's report within grace of one).
	rfRingChange uint8 = 1 << 0
	// rfCounted: a handed-off tally whose split was already counted.
	rfCounted uint8 = 1 << 1
	// rfSeer: the seer follows the trace ID (else it is the sender).
	rfSeer    uint8 = 1 << 2
	hopsShift       = 3
	rfHops    uint8 = 3 << hopsShift
	// rfHandoff: the tally of the trace's previous owner, handed over.
	rfHandoff uint8 = 1 << 5
	rfKnown         = rfRingChange | rfCounted | rfSeer | rfHops | rfHandoff
)

// report says that seer holds spans of the trace id (or, with rfCounted,
// that its split was counted). at is when it was queued (not sent).
type report struct {
	id    [16]byte
	seer  uint64
	flags uint8
	at    uint32
}

func (r *report) hops() int { return int(r.flags&rfHops) >> hopsShift }

// peerMessage is one decoded message.
type peerMessage struct {
	sender   uint64
	ringHash uint64
	reports  []report
}

// Reasons a peer message is rejected (attribute reason of
// peer_reports_rejected).
const (
	rejectMalformed          = "malformed"
	rejectOversized          = "oversized"
	rejectUnsupportedVersion = "unsupported_version"
	rejectUnauthenticated    = "unauthenticated"
)

var rejectReasons = []string{rejectMalformed, rejectOversized, rejectUnsupportedVersion, rejectUnauthenticated}

// protocolError is a rejected message, with the reason counted.
type protocolError struct {
	reason string
	msg    string
}

func (e *protocolError) Error() string { return e.reason + ": " + e.msg }

func malformed(format string, args ...any) error {
	return &protocolError{reason: rejectMalformed, msg: fmt.Sprintf(format, args...)}
}

// rejectReason is the counted reason of a decoding error.
func rejectReason(err error) string {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return rejectMalformed
}

// replicaID names a replica in tallies and messages: FNV-1a 64 of its member
// string, never 0.
func replicaID(member string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// appendMessage encodes a message of 1..maxReportsPerMsg reports onto buf.
func appendMessage(buf []byte, sender, ringHash uint64, reports []report) []byte {
	buf = append(buf, protocolMagic...)
	buf = append(buf, protocolVersion, 0)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(reports)))
	buf = binary.BigEndian.AppendUint64(buf, sender)
	buf = binary.BigEndian.AppendUint64(buf, ringHash)
	for i := range reports {
		r := &reports[i]
		flags := r.flags &^ rfSeer
		if r.seer != sender && r.flags&rfCounted == 0 {
			flags |= rfSeer
		}
		buf = append(buf, flags)
		buf = append(buf, r.id[:]...)
		if flags&rfSeer != 0 {
			buf = binary.BigEndian.AppendUint64(buf, r.seer)
		}
	}
	return buf
}

// decodeMessage parses a message; every error is a *protocolError. It
// allocates at most one slice of the reports the message holds.
func decodeMessage(b []byte) (peerMessage, error) {
	var m peerMessage
	if len(b) < headerSize {
		return m, malformed("%d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if string(b[:4]) != protocolMagic {
		return m, malformed("not a stickycheck peer message (magic %q)", b[:4])
	}
	if b[4] != protocolVersion {
		return m, &protocolError{reason: rejectUnsupportedVersion, msg: fmt.Sprintf("version %d, this replica speaks %d", b[4], protocolVersion)}
	}
	if b[5] != 0 {
		return m, malformed("reserved header byte is %d, want 0", b[5])
	}
	n := int(binary.BigEndian.Uint16(b[6:8]))
	if n > maxReportsPerMsg {
		return m, &protocolError{reason: rejectOversized, msg: fmt.Sprintf("%d reports, at most %d a message", n, maxReportsPerMsg)}
	}
	if n == 0 {
		return m, malformed("no reports")
	}
	m.sender = binary.BigEndian.Uint64(b[8:16])
	m.ringHash = binary.BigEndian.Uint64(b[16:24])
	if m.sender == 0 {
		return m, malformed("sender is 0")
	}
	rest := b[headerSize:]
	if len(rest) < n*reportSize {
		return m, malformed("%d reports need at least %d bytes, got %d", n, n*reportSize, len(rest))
	}
	m.reports = make([]report, n)
	for i := range m.reports {
		if len(rest) < reportSize {
			return m, malformed("report %d truncated", i)
		}
		r := &m.reports[i]
		r.flags = rest[0]
		if r.flags&^rfKnown != 0 {
			return m, malformed("report %d: unknown flags %#x", i, r.flags&^rfKnown)
		}
		copy(r.id[:], rest[1:reportSize])
		if r.id == zeroID {
			return m, malformed("report %d: trace ID is zero", i)
		}
		rest = rest[reportSize:]
		r.seer = m.sender
		if r.flags&rfSeer != 0 {
			if len(rest) < seerSize {
				return m, malformed("report %d: seer truncated", i)
			}
			r.seer = binary.BigEndian.Uint64(rest)
			rest = rest[seerSize:]
			if r.seer == 0 {
				return m, malformed("report %d: seer is 0", i)
			}
		}
		r.flags &^= rfSeer
	}
	if len(rest) != 0 {
		return m, malformed("%d bytes after the last report", len(rest))
	}
	return m, nil
}
