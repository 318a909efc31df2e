module github.com/glimpse-go/glimpse

go 1.26

require (
	go.uber.org/goleak v1.3.0
	gopkg.in/ini.v1 v1.67.3
)
