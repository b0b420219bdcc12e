module example.com/gin-multi

go 1.19

// go-systemd: the code imports github.com/coreos/go-systemd/{activation,daemon} (no /v22) so
// that it builds offline in GOPATH mode from Debian's package. In module mode that import path
// is served by the last commit before go-systemd became the /v22 module; its activation and
// daemon packages have the API used here. See README.md ("Building") before relying on it.
require (
	github.com/coreos/go-systemd v0.0.0-20191104093116-d3cd4ed1dbcf
	github.com/gin-gonic/gin v1.8.1
)
