package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// Usage is what /proc says about a process at one moment.
type Usage struct {
	// CPU is user + system time in seconds since the process started, User
	// and Sys its two parts.
	CPU, User, Sys float64
	// MinorFaults are the page faults served without I/O so far: a heap
	// that grows again after the runtime gave memory back pays them (in
	// Sys).
	MinorFaults int64
	// RSS is the resident set now; HWM its peak, in bytes.
	RSS, HWM int64
}

// readUsage reads /proc/<pid>/stat and /proc/<pid>/status.
func readUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	u, err := parseStat(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	u.RSS, u.HWM = parseStatusKB(status, "VmRSS"), parseStatusKB(status, "VmHWM")
	return u, nil
}

// parseStat returns minflt (field 10), utime and stime (fields 14 and 15,
// in seconds). The command name (field 2) is in parentheses and may hold
// spaces.
func parseStat(stat []byte) (Usage, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return Usage{}, fmt.Errorf("no command name in %q", stat)
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state).
	if len(fields) < 13 {
		return Usage{}, fmt.Errorf("only %d fields after the command name", len(fields))
	}
	minflt, err0 := strconv.ParseInt(fields[7], 10, 64)
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err0 != nil || err1 != nil || err2 != nil {
		return Usage{}, fmt.Errorf("minflt %q, utime %q, stime %q: not numbers", fields[7], fields[11], fields[12])
	}
	return Usage{
		CPU: float64(utime+stime) / clockTicks, User: float64(utime) / clockTicks, Sys: float64(stime) / clockTicks,
		MinorFaults: minflt,
	}, nil
}

// parseStatusKB returns a "Name:   123 kB" line of /proc/<pid>/status in bytes.
func parseStatusKB(status []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+":") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, name+":"))
		if len(f) == 0 {
			return 0
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		return kb * 1024
	}
	return 0
}

// cpuTimes are one CPU's counters from /proc/stat, in seconds.
type cpuTimes struct {
	Busy, Idle, Steal float64
}

// readCPU reads the line of CPU n of /proc/stat.
func readCPU(n int) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPULine(b, n)
}

func parseCPULine(stat []byte, n int) (cpuTimes, error) {
	prefix := fmt.Sprintf("cpu%d ", n)
	sc := bufio.NewScanner(bytes.NewReader(stat))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)[1:]
		v := make([]float64, 8)
		for i := range v {
			if i < len(f) {
				x, _ := strconv.ParseFloat(f[i], 64)
				v[i] = x / clockTicks
			}
		}
		// user nice system idle iowait irq softirq steal
		return cpuTimes{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3] + v[4], Steal: v[7]}, nil
	}
	return cpuTimes{}, fmt.Errorf("/proc/stat has no cpu%d line", n)
}
