// gin-shutdown: a plain Gin app with the graceful shutdown every tutorial shows and nothing
// more: it serves on the sockets baton hands it (LISTEN_FDS) or binds :$PORT, and
// on SIGTERM calls http.Server.Shutdown, which closes idle keep-alive connections at once. It
// has no drain trick (no "Connection: close" while draining): behind `proxy = "http"` the
// front must hide that from clients. Tests copy this file and edit `version`.
//
//	GET  /         version and generation ("gin-shutdown v1 gen=3")
//	GET  /page     the same in an HTML page (<h1 id="v">), for the browser tests
//	POST /echo     the request body, as sent
//	GET  /healthz  200, or 503 once the file named by HEALTH_FAIL_FILE exists
//	GET  /slow     sleeps ?ms= (0..60000) then answers
//	GET  /client   what Gin sees of the client: {"client_ip": c.ClientIP(), "remote": RemoteAddr,
//	               "xff": X-Forwarded-For, "gen": N}
//	GET  /ws       WebSocket echo (golang.org/x/net/websocket); the first message back is
//	               "gen=N", then every message is echoed
//	GET  /who      "PID MODE gen=N" with 200, in the behaviour mode (for the rollout tests)
//	GET  /fail     "PID MODE gen=N" with 503
//	GET  /header   the request header named by ?name= (e.g. X-Forwarded-Proto), as received
//
// The behaviour mode is read once at start from the file "mode" in the working directory, if
// present ("ok" otherwise), and applies to /who only: "ok" answers at once, "bad" answers 500 on
// 30 % of requests, "slow" answers 250 ms later. Every other route ignores it.
//
// It serves every socket in LISTEN_FDS with the same routes (one per listener behind the
// front: the HTTPS front tests run several).
package main

import (
	"context"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/activation"
	"github.com/gin-gonic/gin"
	"golang.org/x/net/websocket"
)

const version = "gin-shutdown v1"

// extra: the sockets after the first one (several [[listen]] behind the front)
var extra []net.Listener

func listener() (net.Listener, error) {
	ls, err := activation.Listeners()
	if err == nil && len(ls) > 0 && ls[0] != nil {
		extra = ls[1:]
		return ls[0], nil
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return net.Listen("tcp", "127.0.0.1:"+port)
}

// The behaviour mode: the first word of ./mode, "ok" when absent or empty.
func readMode() string {
	b, err := os.ReadFile("mode")
	if err != nil {
		return "ok"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "ok"
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	gen := os.Getenv("BATON_GENERATION")
	r := gin.New()
	r.GET("/", func(c *gin.Context) {
		c.String(http.StatusOK, version+" gen="+gen+"\n")
	})
	r.GET("/page", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8",
			[]byte("<!DOCTYPE html><html><head><title>gin-shutdown</title></head><body>"+
				"<h1 id=\"v\">"+version+" gen="+gen+"</h1></body></html>\n"))
	})
	r.POST("/echo", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.String(http.StatusBadRequest, "read: %v\n", err)
			return
		}
		c.Header("X-Gen", gen)
		c.Data(http.StatusOK, "application/octet-stream", body)
	})
	r.GET("/healthz", func(c *gin.Context) {
		if f := os.Getenv("HEALTH_FAIL_FILE"); f != "" {
			if _, err := os.Stat(f); err == nil {
				c.String(http.StatusServiceUnavailable, "failing gen="+gen+"\n")
				return
			}
		}
		c.String(http.StatusOK, "ok gen="+gen+"\n")
	})
	mode := readMode()
	pid := strconv.Itoa(os.Getpid())
	var mu sync.Mutex
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	who := pid + " " + mode + " gen=" + gen + "\n"
	r.GET("/who", func(c *gin.Context) {
		code := http.StatusOK
		switch mode {
		case "bad":
			mu.Lock()
			if rnd.Float64() < 0.3 {
				code = http.StatusInternalServerError
			}
			mu.Unlock()
		case "slow":
			time.Sleep(250 * time.Millisecond)
		}
		c.String(code, who)
	})
	r.GET("/fail", func(c *gin.Context) {
		c.String(http.StatusServiceUnavailable, who)
	})
	r.GET("/slow", func(c *gin.Context) {
		ms, err := strconv.Atoi(c.DefaultQuery("ms", "1000"))
		if err != nil || ms < 0 || ms > 60000 {
			c.String(http.StatusBadRequest, "ms must be 0..60000\n")
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		c.String(http.StatusOK, "slept %d ms gen=%s\n", ms, gen)
	})
	ws := websocket.Handler(func(conn *websocket.Conn) {
		if err := websocket.Message.Send(conn, "gen="+gen); err != nil {
			return
		}
		for {
			var msg string
			if err := websocket.Message.Receive(conn, &msg); err != nil {
				return
			}
			if err := websocket.Message.Send(conn, msg); err != nil {
				return
			}
		}
	})
	r.GET("/ws", func(c *gin.Context) { ws.ServeHTTP(c.Writer, c.Request) })
	r.GET("/client", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"client_ip": c.ClientIP(), "remote": c.Request.RemoteAddr,
			"xff": c.GetHeader("X-Forwarded-For"), "gen": gen})
	})

	// /header: what a front in between passed on (the HTTPS front tests)
	r.GET("/header", func(c *gin.Context) {
		c.String(http.StatusOK, "%s\n", c.GetHeader(c.Query("name")))
	})

	ln, err := listener()
	if err != nil {
		os.Stderr.WriteString("gin-shutdown: " + err.Error() + "\n")
		os.Exit(1)
	}
	srv := &http.Server{Handler: r}
	// the other sockets baton hands over (several [[listen]] behind the front)
	for _, l := range extra {
		if l != nil {
			go srv.Serve(l)
		}
	}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			os.Stderr.WriteString("gin-shutdown: " + err.Error() + "\n")
			os.Exit(1)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		os.Stderr.WriteString("gin-shutdown: shutdown: " + err.Error() + "\n")
	}
}
