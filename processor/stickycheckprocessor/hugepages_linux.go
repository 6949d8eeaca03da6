//go:build linux

package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks the kernel to back the table with huge pages, where
// transparent huge pages are in madvise mode: every lookup lands on a random
// line of a table of tens of MB, and with 4 KiB pages each also misses the
// TLB. Only a hint: without huge pages the table works the same.
func adviseHugePages(slots []entry) {
	if len(slots) == 0 {
		return
	}
	// A large Go allocation starts on a page boundary, as madvise wants.
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&slots[0])), len(slots)*entrySize)
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
}
