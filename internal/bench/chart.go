package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Chart draws the highest sustained spans/s on one core of each
// configuration as horizontal bars, in SVG.
func (r *Results) Chart() string {
	const (
		width, labelW, barH, gap, top, right = 860, 330, 26, 12, 64, 150
	)
	rows := r.Rows
	var peak float64
	for _, row := range rows {
		peak = math.Max(peak, row.PerCore)
	}
	if peak == 0 {
		peak = 1
	}
	scale := niceCeil(peak)
	plotW := float64(width - labelW - right)
	height := top + len(rows)*(barH+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">Spans/s per core at the highest rate sustained for %s (higher is better)</text>`+"\n", 10, secs(r.Rig.Duration))
	fmt.Fprintf(&b, `<text x="%d" y="44" fill="#555">%s, %d CPUs; %s; bars relative to the null pipeline</text>`+"\n", 10,
		html.EscapeString(r.Machine.CPUModel), r.Machine.CPUs, r.Started.UTC().Format("2006-01-02"))
	for i := 0; i <= 4; i++ {
		x := float64(labelW) + plotW*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top-6, x, height-34)
		tick := "0"
		if i > 0 {
			tick = count(scale * float64(i) / 4)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x, height-18, tick)
	}
	for i, row := range rows {
		y := top + i*(barH+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+barH/2+5, html.EscapeString(row.Name))
		v := row.PerCore
		if v == 0 {
			why := "not measured"
			if row.Measured {
				why = "no rate sustained"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#999">%s</text>`+"\n", labelW+4, y+barH/2+5, why)
			continue
		}
		w := plotW * v / scale
		color := "#4e79a7"
		if row.Name == "null" {
			color = "#9c9c9c"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y, w, barH, color)
		label := count(v)
		if row.MaxVsNull > 0 && row.Name != "null" {
			label += fmt.Sprintf("  (%.2f× null)", row.MaxVsNull)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+w+6, y+barH/2+5, label)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
