package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import "hash/crc32"

// crcTables is CRC-32 IEEE slicing-by-8. hash/crc32 would make every trace ID
// passed to it escape to the heap (it dispatches through a function value);
// this keeps the owner lookup allocation-free.
var crcTables = func() (t [8][256]uint32) {
	t[0] = *crc32.IEEETable
	for i := range 256 {
		c := t[0][i]
		for j := 1; j < 8; j++ {
			c = t[0][c&0xff] ^ c>>8
			t[j][i] = c
		}
	}
	return t
}()

// crc16 is crc32.ChecksumIEEE of a 16-byte trace ID.
func crc16(id *[16]byte) uint32 {
	crc := ^uint32(0)
	for i := 0; i < 16; i += 8 {
		crc ^= uint32(id[i]) | uint32(id[i+1])<<8 | uint32(id[i+2])<<16 | uint32(id[i+3])<<24
		crc = crcTables[0][id[i+7]] ^ crcTables[1][id[i+6]] ^ crcTables[2][id[i+5]] ^ crcTables[3][id[i+4]] ^
			crcTables[4][crc>>24] ^ crcTables[5][crc>>16&0xff] ^ crcTables[6][crc>>8&0xff] ^ crcTables[7][crc&0xff]
	}
	return ^crc
}
