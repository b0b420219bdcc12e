// gin-multi: one Gin router served on several inherited sockets at once — plain HTTP, HTTPS
// with the app's own TLS, and an admin unix socket — the way `baton run` (or systemd socket
// activation) hands them over, with a drain that loses no request on reload.
//
//   - Listeners: the sockets named "http", "https" and "admin" in LISTEN_FDS/LISTEN_FDNAMES
//     (activation.ListenersWithNames). Without inherited sockets it binds :$PORT (default 8080)
//     itself, plus :$HTTPS_PORT and the unix socket $ADMIN_SOCKET when those are set.
//   - TLS: the certificate and key are read from $TLS_CERT and $TLS_KEY (default certs/tls.crt
//     and certs/tls.key, relative to the working directory) and served through
//     tls.Config.GetCertificate from a cache; SIGHUP re-reads them (a bad pair is reported and
//     the cached one stays), so new handshakes get the new certificate without a restart.
//   - Readiness: READY=1 on NOTIFY_SOCKET once every server is serving.
//   - SIGTERM/SIGINT: STOPPING=1, then the drain (see drain below), then exit 0.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/activation"
	"github.com/coreos/go-systemd/daemon"
	"github.com/gin-gonic/gin"
)

// Edit this line to tell one build from the next.
const version = "gin-multi v1"

const (
	shutdownTimeout   = 25 * time.Second
	defaultDrainGrace = time.Second
	maxSlow           = 60 * time.Second
)

// The listener names this app serves, in start-up order.
var knownNames = []string{"http", "https", "admin"}

type ctxKey struct{}

// certStore caches the TLS certificate; handshakes read it, SIGHUP replaces it.
type certStore struct {
	certFile, keyFile string

	mu       sync.RWMutex
	cert     *tls.Certificate
	leaf     *x509.Certificate
	loadedAt time.Time
}

func (s *certStore) load() error {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("%s: %v", s.certFile, err)
	}
	pair.Leaf = leaf
	s.mu.Lock()
	s.cert, s.leaf, s.loadedAt = &pair, leaf, time.Now()
	s.mu.Unlock()
	return nil
}

func (s *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert, nil
}

// serial is the certificate's serial number the way `openssl x509 -serial` prints it.
func serial(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		return "00"
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

func (s *certStore) info() gin.H {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return gin.H{
		"serial":    serial(s.leaf),
		"subject":   s.leaf.Subject.String(),
		"not_after": s.leaf.NotAfter.UTC().Format(time.RFC3339),
		"loaded_at": s.loadedAt.UTC().Format(time.RFC3339Nano),
		"file":      s.certFile,
	}
}

// closeOnce makes Close idempotent: the drain closes the listener first, Shutdown again later.
type closeOnce struct {
	net.Listener
	once sync.Once
}

func (l *closeOnce) Close() error {
	var err error
	l.once.Do(func() { err = l.Listener.Close() })
	return err
}

type server struct {
	name string
	ln   *closeOnce
	srv  *http.Server
	tls  bool
}

// drainState is shared by every server: whether a drain has begun, and how many connections
// are open across all of them.
type drainState struct {
	draining atomic.Bool
	open     atomic.Int64
}

func (d *drainState) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		d.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		d.open.Add(-1)
	}
}

// handler tags each request with the listener's name, and while draining asks the client to
// close the connection after this response (HTTP/2: a GOAWAY), so that keep-alive clients
// reconnect — to the new generation — instead of finding their idle connection closed.
func (d *drainState) handler(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, name)))
	})
}

func main() {
	gen := os.Getenv("BATON_GENERATION")
	if gen == "" {
		gen = "none"
	}
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("gin-multi (generation %s, pid %d): ", gen, os.Getpid()))

	lns, origin, err := listeners()
	if err != nil {
		log.Fatalf("no listener: %v", err)
	}

	var certs *certStore
	if lns["https"] != nil {
		certs = &certStore{certFile: envOr("TLS_CERT", "certs/tls.crt"),
			keyFile: envOr("TLS_KEY", "certs/tls.key")}
		if err := certs.load(); err != nil {
			log.Fatalf("https: cannot load the certificate: %v", err)
		}
	}

	d := &drainState{}
	engine := router(gen, certs)
	var servers []*server
	for _, name := range knownNames {
		if lns[name] == nil {
			continue
		}
		s := &server{name: name, ln: &closeOnce{Listener: lns[name]}, tls: name == "https"}
		s.srv = &http.Server{
			Handler:           d.handler(name, engine),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ConnState:         d.connState,
			ErrorLog:          log.New(os.Stderr, log.Prefix()+name+": ", 0),
		}
		if s.tls {
			s.srv.TLSConfig = &tls.Config{GetCertificate: certs.get,
				MinVersion: tls.VersionTLS12}
		}
		servers = append(servers, s)
	}

	served := make(chan error, len(servers))
	for _, s := range servers {
		go func(s *server) {
			var err error
			if s.tls {
				err = s.srv.ServeTLS(s.ln, "", "") // the certificate comes from GetCertificate
			} else {
				err = s.srv.Serve(s.ln)
			}
			if !d.draining.Load() && !errors.Is(err, http.ErrServerClosed) {
				served <- fmt.Errorf("%s: %v", s.name, err)
			} // else the drain closed the listener
		}(s)
	}

	// Every listener is open and its accept loop is starting: connections made from now on are
	// queued by the kernel and answered, so this is the moment to report readiness.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Printf("sd_notify READY=1: %v", err)
	}
	var desc []string
	for _, s := range servers {
		desc = append(desc, fmt.Sprintf("%s %s", s.name, s.ln.Addr()))
	}
	log.Printf("%s serving %s (%s)", version, strings.Join(desc, ", "), origin)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				reloadCert(certs)
				continue
			}
			log.Printf("%v: draining", s)
			os.Exit(drain(servers, d))
		case err := <-served:
			log.Fatalf("serve %v", err)
		}
	}
}

func reloadCert(certs *certStore) {
	if certs == nil {
		log.Printf("SIGHUP: no https listener, nothing to reload")
		return
	}
	if err := certs.load(); err != nil {
		log.Printf("SIGHUP: keeping certificate %s: %v", certs.info()["serial"], err)
		return
	}
	log.Printf("SIGHUP: reloaded %q (serial %s)", certs.certFile, certs.info()["serial"])
}

// drain stops the servers without losing a request: mark every response `Connection: close`,
// stop accepting (the listening sockets stay open in baton and the next generation, so
// connections queue there instead of being refused), give open connections up to DRAIN_GRACE
// to finish their current request and close, then Shutdown, which closes whatever is still
// idle and waits for in-flight requests. SetKeepAlivesEnabled(false) is not used: it closes
// idle connections at once, racing with clients that are sending a request on them.
// Returns the exit code.
func drain(servers []*server, d *drainState) int {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	d.draining.Store(true)
	for _, s := range servers {
		_ = s.ln.Close()
	}
	grace := defaultDrainGrace
	if v, err := time.ParseDuration(os.Getenv("DRAIN_GRACE")); err == nil && v >= 0 {
		grace = v
	}
	log.Printf("stopped accepting; %d connection(s) open, waiting up to %v for them to close",
		d.open.Load(), grace)
	for end := time.Now().Add(grace); d.open.Load() > 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, s := range servers {
		wg.Add(1)
		go func(s *server) {
			defer wg.Done()
			if err := s.srv.Shutdown(ctx); err != nil {
				log.Printf("%s: shutdown: %v", s.name, err)
				failed.Store(true)
			}
		}(s)
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	log.Printf("stopped")
	return 0
}

// listeners returns the inherited sockets by name, or binds its own when none were passed.
func listeners() (map[string]net.Listener, string, error) {
	// Only the first call sees the sockets: activation unsets LISTEN_* as it takes them.
	named, err := activation.ListenersWithNames()
	if err != nil {
		return nil, "", err
	}
	out := map[string]net.Listener{}
	for name, lns := range named {
		known := false
		for _, k := range knownNames {
			known = known || k == name
		}
		for i, ln := range lns {
			switch {
			case ln == nil:
			case !known || i > 0:
				log.Printf("ignoring inherited socket %q (%s): this app serves one each of %s",
					name, ln.Addr(), strings.Join(knownNames, ", "))
				ln.Close()
			default:
				out[name] = ln
			}
		}
	}
	if len(out) > 0 {
		return out, "LISTEN_FDS", nil
	}
	if len(named) > 0 {
		return nil, "", errors.New("no inherited socket is named http, https or admin")
	}

	binds := []struct{ name, network, addr string }{{"http", "tcp", ":" + envOr("PORT", "8080")}}
	if p := os.Getenv("HTTPS_PORT"); p != "" {
		binds = append(binds, struct{ name, network, addr string }{"https", "tcp", ":" + p})
	}
	if p := os.Getenv("ADMIN_SOCKET"); p != "" {
		binds = append(binds, struct{ name, network, addr string }{"admin", "unix", p})
	}
	for _, b := range binds {
		ln, err := net.Listen(b.network, b.addr)
		if err != nil {
			return nil, "", err
		}
		out[b.name] = ln
	}
	return out, "bound itself", nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func router(gen string, certs *certStore) *gin.Engine {
	r := gin.New()
	if os.Getenv("ACCESS_LOG") == "1" {
		r.Use(gin.Logger())
	}
	r.Use(gin.Recovery())

	r.GET("/", func(c *gin.Context) {
		via, _ := c.Request.Context().Value(ctxKey{}).(string)
		c.String(http.StatusOK, "hello from %s (generation %s, pid %d, via %s)\n", version, gen,
			os.Getpid(), via)
	})
	r.GET("/healthz", func(c *gin.Context) {
		c.String(http.StatusOK, "ok\n")
	})
	r.GET("/pid", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"pid": os.Getpid(), "generation": os.Getenv("BATON_GENERATION")})
	})
	// /slow?ms=N answers after N milliseconds: a request in flight while the app drains.
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
			c.String(http.StatusOK, "slept %d ms (generation %s, pid %d)\n", ms, gen, os.Getpid())
		case <-c.Request.Context().Done():
			// the client went away; nothing to answer
		}
	})
	// /cert: the certificate new TLS handshakes get now (changes after SIGHUP).
	r.GET("/cert", func(c *gin.Context) {
		if certs == nil {
			c.String(http.StatusNotFound, "no https listener\n")
			return
		}
		c.JSON(http.StatusOK, certs.info())
	})
	return r
}
