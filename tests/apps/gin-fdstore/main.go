// gin-fdstore: a Gin service that keeps a counter across its own restarts in the service
// manager's file descriptor store (systemd's FDSTORE=1, which baton implements too).
//
// On start it looks for a file named "counter" among LISTEN_FDS/LISTEN_FDNAMES. Found, it
// increments the number in it; not found, it creates an unlinked temporary file holding 1 and
// hands it over with FDSTORE=1 FDNAME=counter. It serves "counter N" on / (and its pid on
// /pid) from the socket named "http", says READY=1, and drains on SIGTERM.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/activation"
	"github.com/coreos/go-systemd/daemon"
	"github.com/gin-gonic/gin"
)

func store(f *os.File) error {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return fmt.Errorf("NOTIFY_SOCKET is not set")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Sendmsg(fd, []byte("FDSTORE=1\nFDNAME=counter"),
		syscall.UnixRights(int(f.Fd())), &syscall.SockaddrUnix{Name: sock}, 0)
}

func counter(f *os.File) (int, error) {
	if f == nil {
		t, err := os.CreateTemp("", "gin-fdstore-")
		if err != nil {
			return 0, err
		}
		os.Remove(t.Name())
		if _, err := t.WriteAt([]byte("1"), 0); err != nil {
			return 0, err
		}
		return 1, store(t)
	}
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if n == 0 {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0, err
	}
	v++
	_, err = f.WriteAt([]byte(strconv.Itoa(v)), 0)
	return v, err
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gin-fdstore: ")
	var ln net.Listener
	var cf *os.File
	for _, f := range activation.Files(true) {
		switch f.Name() {
		case "http":
			l, err := net.FileListener(f)
			if err != nil {
				log.Fatalf("listener: %v", err)
			}
			ln = l
		case "counter":
			cf = f
		}
	}
	if ln == nil {
		log.Fatalf("no socket named \"http\" in LISTEN_FDS")
	}
	n, err := counter(cf)
	if err != nil {
		log.Fatalf("counter: %v", err)
	}
	log.Printf("counter %d (generation %s)", n, os.Getenv("BATON_GENERATION"))

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "counter %d", n) })
	r.GET("/pid", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"pid": os.Getpid()}) })
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	daemon.SdNotify(false, daemon.SdNotifyReady)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
