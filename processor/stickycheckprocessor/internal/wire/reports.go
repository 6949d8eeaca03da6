// Package wire is the stickycheck peer protocol: the binary messages that
// gateway replicas exchange on their peer port (documented in the
// component's README), their encoders and their fuzzed decoders. It knows
// nothing of the processor.
package wire // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"

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
//	  sender    8  ReplicaID of the sending replica
//	  ring_hash 8  the sender's ring hash (ring.Ring.Hash), for diagnosis
//	report, 17 or 25 bytes, count times:
//	  flags     1  bit 0 ring_change, bit 1 counted, bit 2 seer present,
//	               bits 3-4 hops, bit 5 handoff, bits 6-7 zero
//	  trace_id 16  not all zero
//	  seer      8  only with bit 2; otherwise the seer is the sender; not 0
const (
	ReportsPath          = "/stickycheck/v1/reports"
	ReportsContentType   = "application/x-stickycheck-reports"
	reportsMagic         = "SCKP"
	ReportsVersion       = 1
	HeaderSize           = 24
	ReportSize           = 17
	SeerSize             = 8
	MaxReportSize        = ReportSize + SeerSize
	MaxReportsPerMsg     = 16384
	MaxReportsMessageLen = HeaderSize + MaxReportsPerMsg*MaxReportSize
)

var zeroID [16]byte

// Report flags, on the wire and in the queue.
const (
	// RingChange: sent because of a ring change (a handoff, or a
	// non-owner's Report within grace of one).
	RingChange uint8 = 1 << 0
	// Counted: a handed-off tally whose split was already counted.
	Counted uint8 = 1 << 1
	// SeerFollows: the seer follows the trace ID (else it is the sender).
	SeerFollows uint8 = 1 << 2
	HopsShift         = 3
	Hops        uint8 = 3 << HopsShift
	// Handoff: the tally of the trace's previous owner, handed over.
	Handoff    uint8 = 1 << 5
	knownFlags       = RingChange | Counted | SeerFollows | Hops | Handoff
)

// Report says that seer holds spans of the trace id (or, with Counted,
// that its split was counted). at is when it was queued (not sent).
type Report struct {
	ID    [16]byte
	Seer  uint64
	Flags uint8
	// At is the sender's tick when the report was queued; not on the wire.
	At uint32
}

// HopCount is how often the report was forwarded so far.
func (r *Report) HopCount() int { return int(r.Flags&Hops) >> HopsShift }

// Message is one decoded message.
type Message struct {
	Sender   uint64
	RingHash uint64
	Reports  []Report
}

// Reasons a peer message is rejected (attribute reason of
// peer_reports_rejected).
const (
	RejectMalformed          = "malformed"
	RejectOversized          = "oversized"
	RejectUnsupportedVersion = "unsupported_version"
	RejectUnauthenticated    = "unauthenticated"
)

// RejectReasons are every reason a message can be rejected for.
var RejectReasons = []string{RejectMalformed, RejectOversized, RejectUnsupportedVersion, RejectUnauthenticated}

// Error is a rejected message, with the reason counted.
type Error struct {
	Reason string
	msg    string
}

func (e *Error) Error() string { return e.Reason + ": " + e.msg }

// Detail is the error without its reason.
func (e *Error) Detail() string { return e.msg }

func malformed(format string, args ...any) error {
	return &Error{Reason: RejectMalformed, msg: fmt.Sprintf(format, args...)}
}

// Reason is the counted reason of a decoding error.
func Reason(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return RejectMalformed
}

// ReplicaID names a replica in tallies and messages: FNV-1a 64 of its member
// string, never 0.
func ReplicaID(member string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// AppendReports encodes a message of 1..MaxReportsPerMsg reports onto buf.
func AppendReports(buf []byte, sender, ringHash uint64, reports []Report) []byte {
	buf = append(buf, reportsMagic...)
	buf = append(buf, ReportsVersion, 0)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(reports)))
	buf = binary.BigEndian.AppendUint64(buf, sender)
	buf = binary.BigEndian.AppendUint64(buf, ringHash)
	for i := range reports {
		r := &reports[i]
		flags := r.Flags &^ SeerFollows
		if r.Seer != sender && r.Flags&Counted == 0 {
			flags |= SeerFollows
		}
		buf = append(buf, flags)
		buf = append(buf, r.ID[:]...)
		if flags&SeerFollows != 0 {
			buf = binary.BigEndian.AppendUint64(buf, r.Seer)
		}
	}
	return buf
}

// DecodeReports parses a message; every error is a *Error. It
// allocates at most one slice of the reports the message holds.
func DecodeReports(b []byte) (Message, error) {
	var m Message
	if len(b) < HeaderSize {
		return m, malformed("%d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	if string(b[:4]) != reportsMagic {
		return m, malformed("not a stickycheck peer message (magic %q)", b[:4])
	}
	if b[4] != ReportsVersion {
		return m, &Error{Reason: RejectUnsupportedVersion, msg: fmt.Sprintf("version %d, this replica speaks %d", b[4], ReportsVersion)}
	}
	if b[5] != 0 {
		return m, malformed("reserved header byte is %d, want 0", b[5])
	}
	n := int(binary.BigEndian.Uint16(b[6:8]))
	if n > MaxReportsPerMsg {
		return m, &Error{Reason: RejectOversized, msg: fmt.Sprintf("%d reports, at most %d a message", n, MaxReportsPerMsg)}
	}
	if n == 0 {
		return m, malformed("no reports")
	}
	m.Sender = binary.BigEndian.Uint64(b[8:16])
	m.RingHash = binary.BigEndian.Uint64(b[16:24])
	if m.Sender == 0 {
		return m, malformed("sender is 0")
	}
	rest := b[HeaderSize:]
	if len(rest) < n*ReportSize {
		return m, malformed("%d reports need at least %d bytes, got %d", n, n*ReportSize, len(rest))
	}
	m.Reports = make([]Report, n)
	for i := range m.Reports {
		if len(rest) < ReportSize {
			return m, malformed("report %d truncated", i)
		}
		r := &m.Reports[i]
		r.Flags = rest[0]
		if r.Flags&^knownFlags != 0 {
			return m, malformed("report %d: unknown flags %#x", i, r.Flags&^knownFlags)
		}
		copy(r.ID[:], rest[1:ReportSize])
		if r.ID == zeroID {
			return m, malformed("report %d: trace ID is zero", i)
		}
		rest = rest[ReportSize:]
		r.Seer = m.Sender
		if r.Flags&SeerFollows != 0 {
			if len(rest) < SeerSize {
				return m, malformed("report %d: seer truncated", i)
			}
			r.Seer = binary.BigEndian.Uint64(rest)
			rest = rest[SeerSize:]
			if r.Seer == 0 {
				return m, malformed("report %d: seer is 0", i)
			}
		}
		r.Flags &^= SeerFollows
	}
	if len(rest) != 0 {
		return m, malformed("%d bytes after the last report", len(rest))
	}
	return m, nil
}
