package main

import (
	"fmt"
	"image/color"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// Chart geometry: one panel is panelW x panelH; a PNG holds a row of them.
const (
	panelW = 5.5 * vg.Inch
	panelH = 3.6 * vg.Inch
	dpi    = 110
)

// series is one named set of bars or points.
type series struct {
	name   string
	values []float64
}

// newPlot returns a plot with the report's common style.
func newPlot(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Y.Tick.Marker = siTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// siTicks are the default ticks, labelled 20k, 1.5M rather than 20000,
// 1500000.
type siTicks struct{}

func (siTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = si(ticks[i].Value)
		}
	}
	return ticks
}

// bars draws grouped bars: one group per name in groups, one bar per
// series in each, each bar labelled with its value (formatted by label).
func bars(p *plot.Plot, groups []string, ss []series, label func(float64) string) error {
	const width = 28
	top := 0.0
	// Vertical grid lines would run through the groups.
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	for i, s := range ss {
		bc, err := plotter.NewBarChart(plotter.Values(s.values), vg.Points(width))
		if err != nil {
			return fmt.Errorf("chart %q: %w", p.Title.Text, err)
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		bc.Offset = vg.Points(width * (float64(i) - float64(len(ss)-1)/2))
		p.Add(bc)
		if len(ss) > 1 {
			p.Legend.Add(s.name, bc)
		}
		xys := make(plotter.XYs, len(s.values))
		texts := make([]string, len(s.values))
		for j, v := range s.values {
			xys[j] = plotter.XY{X: float64(j), Y: v}
			texts[j] = label(v)
			top = max(top, v)
		}
		ls, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return fmt.Errorf("chart %q: %w", p.Title.Text, err)
		}
		for k := range ls.TextStyle {
			ls.TextStyle[k].XAlign = draw.XCenter
			ls.TextStyle[k].YAlign = draw.YBottom
			ls.TextStyle[k].Font.Size = vg.Points(8)
		}
		ls.Offset = vg.Point{X: bc.Offset, Y: vg.Points(2)}
		p.Add(ls)
	}
	// Room above the tallest bar for its label and the legend.
	p.Y.Max = top * 1.3
	p.NominalX(groups...)
	return nil
}

// line is a series drawn as a line with points at xs, in palette colour
// colour, dashed if dashed.
type line struct {
	series
	xs     []float64
	colour int
	dashed bool
}

func addLines(p *plot.Plot, ls []line) error {
	p.Add(plotter.NewGrid())
	for _, l := range ls {
		xys := make(plotter.XYs, len(l.xs))
		for i := range l.xs {
			xys[i] = plotter.XY{X: l.xs[i], Y: l.values[i]}
		}
		ln, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("chart %q: %w", p.Title.Text, err)
		}
		ln.Color = plotutil.Color(l.colour)
		ln.Width = vg.Points(1.5)
		pts.Color = ln.Color
		pts.Shape = plotutil.Shape(l.colour)
		if l.dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			ln.Width = vg.Points(1)
		}
		p.Add(ln, pts)
		p.Legend.Add(l.name, ln, pts)
	}
	return nil
}

// savePNG draws plots side by side into one PNG.
func savePNG(path string, plots ...*plot.Plot) error {
	return saveWidePNG(path, panelW*vg.Length(len(plots)), plots...)
}

// saveWidePNG is savePNG with the width given: for a chart with many groups.
func saveWidePNG(path string, w vg.Length, plots ...*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(w, panelH), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(20), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func chartGearman(path string, g benchjson.Gearman) error {
	p := newPlot(fmt.Sprintf("Gearman echo jobs/s (%d-byte jobs, %s in flight)", g.PayloadBytes, si(float64(g.Window))), "jobs/s")
	var groups []string
	goS, cS := series{name: "Go: gearman.Client + Worker"}, series{name: "C: libgearman client + worker"}
	for _, r := range g.Rows {
		groups = append(groups, plural(r.Workers, "worker process", "worker processes"))
		goS.values = append(goS.values, r.GoJobsPerS)
		cS.values = append(cS.values, r.CJobsPerS)
	}
	if err := bars(p, groups, []series{goS, cS}, si); err != nil {
		return err
	}
	return savePNG(path, p)
}

func chartPool(path string, pb benchjson.Pool) error {
	left := newPlot(fmt.Sprintf("pool.Map of x*x over %s items", si(float64(pb.Items))), "items/s")
	left.X.Label.Text = "chunk size"
	var groups []string
	var rates []float64
	for _, c := range pb.Chunks {
		l := si(float64(c.Chunksize))
		if c.Chunksize == 0 {
			l = "auto"
			if c.ChunkItems > 0 {
				l = "auto (" + si(float64(c.ChunkItems)) + ")"
			}
		}
		groups = append(groups, l)
		rates = append(rates, c.ItemsPerS)
	}
	if err := bars(left, groups, []series{{"items/s", rates}}, si); err != nil {
		return err
	}
	c := pb.CPUBound
	right := newPlot(fmt.Sprintf("~1 ms CPU-bound items: efficiency %.0f%%", 100*c.Efficiency), "items/s")
	if err := bars(right, []string{fmt.Sprintf("in-process, %d goroutines", c.Goroutines), fmt.Sprintf("pool.Map, %d slots", pb.Slots)},
		[]series{{"items/s", []float64{c.InProcessItemsPerS, c.MapItemsPerS}}}, si); err != nil {
		return err
	}
	return savePNG(path, left, right)
}

func chartImap(path string, m benchjson.Imap) error {
	p := newPlot("pool.Imap: peak RSS of the client process", "peak RSS (MiB)")
	p.X.Label.Text = "items (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = itemTicks(m)
	var ls []line
	top := 0.0
	for i, cs := range chunksizes(m) {
		l := line{series: series{name: "chunk size " + chunkLabel(cs, 0)}, colour: i}
		for _, r := range m.Rows {
			if r.Chunksize == cs {
				l.xs = append(l.xs, float64(r.Items))
				l.values = append(l.values, mib(r.PeakRSSKiB))
				top = max(top, mib(r.PeakRSSKiB))
			}
		}
		ls = append(ls, l)
	}
	if err := addLines(p, ls); err != nil {
		return err
	}
	p.Y.Max = top * 1.4
	return savePNG(path, p)
}

// itemTicks marks exactly the measured item counts.
func itemTicks(m benchjson.Imap) plot.ConstantTicks {
	var ns []int
	for _, r := range m.Rows {
		if !slices.Contains(ns, r.Items) {
			ns = append(ns, r.Items)
		}
	}
	slices.Sort(ns)
	var ticks plot.ConstantTicks
	for _, n := range ns {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: short(n)})
	}
	return ticks
}

func chartPing(path string, pb benchjson.Ping) error {
	p := newPlot(fmt.Sprintf("Broadcast ping until all answered (%d pings per point)", pb.Pings), "milliseconds")
	p.X.Label.Text = "worker processes"
	counts := pingCounts(pb)
	var ticks plot.ConstantTicks
	for _, n := range counts {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Tick.Marker = ticks
	p.X.Min = 0
	var ls []line
	top := 0.0
	for i, via := range []string{"fanout", "zmq"} {
		med := line{series: series{name: via + " median"}, colour: i}
		p90 := line{series: series{name: via + " p90"}, colour: i, dashed: true}
		for _, n := range counts {
			r, ok := pingRow(pb, n, via)
			if !ok {
				continue
			}
			med.xs, med.values = append(med.xs, float64(n)), append(med.values, r.MedianMs)
			p90.xs, p90.values = append(p90.xs, float64(n)), append(p90.values, r.P90Ms)
			top = max(top, r.P90Ms)
		}
		ls = append(ls, med, p90)
	}
	// With pingbench -key, the keyed medians too.
	keyed := benchjson.Ping{Rows: pb.Keyed}
	for i, via := range []string{"fanout", "zmq"} {
		med := line{series: series{name: via + " median, keyed"}, colour: i + 2}
		for _, n := range counts {
			if r, ok := pingRow(keyed, n, via); ok {
				med.xs, med.values = append(med.xs, float64(n)), append(med.values, r.MedianMs)
				top = max(top, r.MedianMs)
			}
		}
		if len(med.xs) > 0 {
			ls = append(ls, med)
		}
	}
	if err := addLines(p, ls); err != nil {
		return err
	}
	p.Y.Max = top * 1.3
	return savePNG(path, p)
}

func chartRecovery(path string, r benchjson.Recovery) error {
	p := newPlot(fmt.Sprintf("Map of %s x ~%vms items, fault at %.0f%%", si(float64(r.Items)), float64(r.ItemCostNs)/1e6, 100*r.FaultAt), "seconds")
	short := map[string]string{
		"none":                         "no fault",
		"worker SIGKILL":               "worker killed,\nreplaced",
		"worker SIGKILL, not replaced": "worker killed,\nnot replaced",
		"gearmand restart":             "gearmand\nrestarted",
		"none, automatic chunks":       "no fault,\nauto chunks",
		"straggler":                    "straggler",
		"straggler, BackupTasks":       "straggler,\nBackupTasks",
	}
	var groups []string
	total, after := series{name: "whole map"}, series{name: "fault (or same point) to end"}
	for _, row := range r.Rows {
		g := short[row.Fault]
		if g == "" {
			g = row.Fault
		}
		groups = append(groups, g)
		total.values = append(total.values, row.TotalS)
		after.values = append(after.values, row.AfterFaultS)
	}
	if err := bars(p, groups, []series{total, after}, func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }); err != nil {
		return err
	}
	return saveWidePNG(path, 2*panelW, p) // seven groups of two bars
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
