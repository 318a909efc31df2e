package gateway

// Routes lists the method and pattern of every route g's mux serves.
func Routes(g *Gateway) [][2]string {
	var rs [][2]string
	for _, r := range g.routes {
		rs = append(rs, [2]string{r.method, r.pattern})
	}
	return rs
}
