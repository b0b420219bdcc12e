// gin-takeover: a Gin app that binds a hard-coded address itself with r.Run(addr), knows
// nothing about LISTEN_FDS or PORT, and stops with the process (no graceful shutdown): the app
// bind takeover exists for. Tests copy this file and edit `version` and `addr`.
// For the other takeover tests, TK_ADDRS (comma-separated; "unix:@name" is an abstract unix
// socket, "unix:/path" a path) replaces addr and every address is served; TK_WORKER=1 makes the
// process start itself again as a worker child that binds and serves (the parent waits).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/gin-gonic/gin"
)

const version = "gin-takeover v1"

const addr = "127.0.0.1:18090"

func fail(err error) {
	os.Stderr.WriteString("gin-takeover: " + err.Error() + "\n")
	os.Exit(1)
}

func main() {
	if os.Getenv("TK_WORKER") == "1" {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "TK_WORKER=0")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fail(err)
		}
		return
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", func(c *gin.Context) {
		c.String(http.StatusOK, version+"\n")
	})
	r.GET("/pid", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"pid": os.Getpid(), "version": version})
	})
	// what Gin sees of the client (behind baton's front: X-Forwarded-For, ClientIP())
	r.GET("/client", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"client_ip": c.ClientIP(), "remote": c.Request.RemoteAddr,
			"xff": c.GetHeader("X-Forwarded-For"), "pid": os.Getpid()})
	})
	addrs := os.Getenv("TK_ADDRS")
	if addrs == "" {
		// the usual way: Run binds addr and serves until the process dies
		if err := r.Run(addr); err != nil {
			fail(err)
		}
		return
	}
	var lns []net.Listener
	for _, a := range strings.Split(addrs, ",") {
		network := "tcp"
		if strings.HasPrefix(a, "unix:") {
			network, a = "unix", strings.TrimPrefix(a, "unix:")
		}
		ln, err := net.Listen(network, a)
		if err != nil {
			fail(err)
		}
		lns = append(lns, ln)
	}
	fmt.Printf("gin-takeover %d serves %s\n", os.Getpid(), addrs)
	done := make(chan error)
	for _, ln := range lns {
		go func(ln net.Listener) { done <- http.Serve(ln, r) }(ln)
	}
	fail(<-done)
}
