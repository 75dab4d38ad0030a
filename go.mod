module github.com/otwatch/otwatch

go 1.26.8

require (
	github.com/goburrow/modbus v0.1.0
	github.com/gopacket/gopacket v1.7.7
	github.com/gopcua/opcua v0.8.0
	github.com/labstack/echo/v4 v4.16.0
	github.com/robinson/gos7 v0.0.0-20240315073918-1f14519e4846
	github.com/simonvetter/modbus v1.6.4
	github.com/stretchr/testify v1.12.1
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.5
	golang.org/x/crypto v0.53.0
	golang.org/x/net v0.56.0
	golang.org/x/sys v0.46.0
)

require (
	github.com/goburrow/serial v0.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	golang.org/x/text v0.40.0 // indirect
)
