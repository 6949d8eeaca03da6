package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// gcTraceEnv makes every collector of the rig print one line per GC cycle
// to its log (GODEBUG=gctrace=1): the windows count the cycles they hold,
// the first suspect when windows of one configuration differ.
const gcTraceEnv = "gctrace=1"

// gcCycles is the number of the last GC cycle a collector's log reports
// ("gc 17 @4.2s 3%: …"), 0 before the first.
func gcCycles(logFile string) int {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return 0
	}
	return lastGCCycle(b)
}

func lastGCCycle(log []byte) int {
	last := 0
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("gc ")) {
			continue
		}
		rest := line[3:]
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			continue
		}
		if n, err := strconv.Atoi(string(rest[:end])); err == nil && n > last {
			last = n
		}
	}
	return last
}
