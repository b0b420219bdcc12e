// gin-hello: a small Gin service that runs well under baton (or systemd socket activation)
// and just as well on its own.
//
//   - Listener: the socket named "http" from LISTEN_FDS/LISTEN_FDNAMES (the first one when none
//     is named "http"); without inherited sockets it binds :$PORT itself (default 8080).
//     SERVE_ALL=1: serve every inherited socket instead (bench/soak: a TCP and a unix one).
//   - Readiness: READY=1 on NOTIFY_SOCKET once it serves, STOPPING=1 when it begins to stop
//     (both are no-ops when NOTIFY_SOCKET is unset).
//   - SIGTERM/SIGINT: stop accepting, let in-flight requests finish (up to shutdownTimeout),
//     exit 0.
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/activation"
	"github.com/coreos/go-systemd/daemon"
	"github.com/gin-gonic/gin"
)

// Edit this line while `baton dev` runs: the next request is answered by the new build.
const greeting = "hello from gin-hello v1"

const (
	shutdownTimeout = 25 * time.Second
	maxSlow         = 60 * time.Second
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gin-hello: ")

	lns, origin, err := listeners(os.Getenv("SERVE_ALL") == "1")
	if err != nil {
		log.Fatalf("no listener: %v", err)
	}

	srv := &http.Server{Handler: router(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, len(lns))
	for _, ln := range lns {
		go func(ln net.Listener) { served <- srv.Serve(ln) }(ln)
	}

	// The socket is already listening: connections made from now on are queued by the
	// kernel and answered as soon as Serve's accept loop runs, so this is the moment to
	// report readiness.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Printf("sd_notify READY=1: %v", err)
	}
	for i, ln := range lns {
		log.Printf("serving on %s (%s), pid %d, generation %q", ln.Addr(), origin[i],
			os.Getpid(), os.Getenv("BATON_GENERATION"))
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-stop:
		log.Printf("%v: draining in-flight requests (up to %v)", s, shutdownTimeout)
	case err := <-served:
		log.Fatalf("serve: %v", err)
	}

	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
		cancel()
		os.Exit(1)
	}
	for range lns {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("serve: %v", err)
		}
	}
	log.Printf("stopped")
}

// listeners returns the inherited socket named "http" (or the first inherited one) — or, with
// all, every inherited socket — else a socket bound to :$PORT. The strings say where each came
// from, for the log.
func listeners(all bool) ([]net.Listener, []string, error) {
	// Only the first call sees the sockets: activation unsets LISTEN_* as it takes them.
	named, err := activation.ListenersWithNames()
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(named))
	for name := range named {
		names = append(names, name)
	}
	sort.Strings(names)
	var lns []net.Listener
	var origins []string
	for _, name := range names {
		for _, ln := range named[name] {
			if ln != nil {
				lns = append(lns, ln)
				origins = append(origins, "LISTEN_FDS "+strconv.Quote(name))
			}
		}
	}
	if all && len(lns) > 0 {
		return lns, origins, nil
	}
	if l := named["http"]; len(l) > 0 && l[0] != nil {
		return l[:1], []string{`LISTEN_FDS "http"`}, nil
	}
	if len(lns) > 0 {
		return lns[:1], origins[:1], nil
	}

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return nil, nil, err
	}
	return []net.Listener{ln}, []string{"bound itself"}, nil
}

func router() *gin.Engine {
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())

	r.GET("/", func(c *gin.Context) {
		c.String(http.StatusOK, greeting+"\n")
	})
	r.GET("/healthz", func(c *gin.Context) {
		c.String(http.StatusOK, "ok\n")
	})
	r.GET("/pid", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"pid":        os.Getpid(),
			"generation": os.Getenv("BATON_GENERATION"),
		})
	})
	// /slow?ms=N answers after N milliseconds: a request that is in flight while the app is
	// told to stop, to see it drain rather than drop.
	r.GET("/slow", func(c *gin.Context) {
		ms, err := strconv.Atoi(c.DefaultQuery("ms", "1000"))
		d := time.Duration(ms) * time.Millisecond
		if err != nil || ms < 0 || d > maxSlow {
			c.String(http.StatusBadRequest, "ms must be 0..%d\n", maxSlow.Milliseconds())
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			c.String(http.StatusOK, "slept %d ms (pid %d)\n", ms, os.Getpid())
		case <-c.Request.Context().Done():
			// the client went away; nothing to answer
		}
	})
	return r
}
