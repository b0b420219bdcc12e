// gin-plain: a Gin app that knows nothing about baton. It binds :$PORT itself with gin's
// default r.Run() and has no graceful shutdown: the app forward mode exists for.
// Tests copy this file and edit `version` to tell one build from the next.
package main

import (
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

const version = "gin-plain v1"

func main() {
	r := gin.Default()
	r.GET("/", func(c *gin.Context) {
		c.String(http.StatusOK, version+"\n")
	})
	r.GET("/pid", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"pid": os.Getpid(), "version": version})
	})
	r.GET("/slow", func(c *gin.Context) {
		ms, err := strconv.Atoi(c.DefaultQuery("ms", "1000"))
		if err != nil || ms < 0 || ms > 60000 {
			c.String(http.StatusBadRequest, "ms must be 0..60000\n")
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		c.String(http.StatusOK, "slept %d ms\n", ms)
	})
	// Run binds ":$PORT" (":8080" without PORT) and serves until the process dies.
	if err := r.Run(); err != nil {
		os.Stderr.WriteString("gin-plain: " + err.Error() + "\n")
		os.Exit(1)
	}
}
