package ring

import (
	"fmt"
	"testing"
)

func BenchmarkRebuild100Members(b *testing.B) {
	members := make([]string, 100)
	for i := range members {
		members[i] = fmt.Sprintf("10.0.%d.%d:4317", i/250, i%250+1)
	}
	b.ReportAllocs()
	for b.Loop() {
		New(Current, members)
	}
}

func BenchmarkOwner10Members(b *testing.B) {
	members := make([]string, 10)
	for i := range members {
		members[i] = fmt.Sprintf("10.0.0.%d:4317", i+1)
	}
	r := New(Current, members)
	ids := randomIDs(3, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Owner(ids[i&1023])
		i++
	}
}
