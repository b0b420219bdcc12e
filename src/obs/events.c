#include "obs/events.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "util/buf.h"
#include "util/json.h"

static const char *const ev_names[EV_TYPE_COUNT] = {
	[EV_RELOAD_REQUESTED] = "reload_requested",
	[EV_RELOAD_SUCCEEDED] = "reload_succeeded",
	[EV_RELOAD_FAILED] = "reload_failed",
	[EV_RELOAD_ROLLED_BACK] = "reload_rolled_back",
	[EV_GEN_STATE] = "gen_state",
	[EV_CRASH_RESTART] = "crash_restart",
	[EV_BUILD_STARTED] = "build_started",
	[EV_BUILD_SUCCEEDED] = "build_succeeded",
	[EV_BUILD_FAILED] = "build_failed",
	[EV_FILE_GROUP] = "file_group",
	[EV_TLS_CERT] = "tls_cert",
	[EV_ROLLOUT_STEP] = "rollout_step",
	[EV_STATS] = "stats",
};

const char *ev_type_name(enum ev_type t)
{
	return (unsigned)t < EV_TYPE_COUNT && ev_names[t] ? ev_names[t] : "unknown";
}

/* The process-wide bus: like the log, one per process, used from the loop's thread only. A
 * subscriber removed while ev_emit() runs is marked (fn = NULL) and swept afterwards, so the
 * array never moves under the emitting loop. */
struct ev_sub {
	ev_fn fn;
	void *arg;
};

static struct {
	struct ev_sub *v;
	size_t n, cap;
	int emitting;
	bool dirty;
} bus;

int ev_subscribe(ev_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	for (size_t i = 0; i < bus.n; i++)
		if (bus.v[i].fn == fn && bus.v[i].arg == arg)
			return 0;
	if (bus.n == bus.cap) {
		size_t cap = bus.cap ? bus.cap * 2 : 8;
		struct ev_sub *v = realloc(bus.v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		bus.v = v;
		bus.cap = cap;
	}
	bus.v[bus.n++] = (struct ev_sub){fn, arg};
	return 0;
}

static void ev_sweep(void)
{
	size_t j = 0;
	for (size_t i = 0; i < bus.n; i++)
		if (bus.v[i].fn)
			bus.v[j++] = bus.v[i];
	bus.n = j;
	bus.dirty = false;
}

void ev_unsubscribe(ev_fn fn, void *arg)
{
	for (size_t i = 0; i < bus.n; i++) {
		if (bus.v[i].fn == fn && bus.v[i].arg == arg) {
			bus.v[i].fn = NULL;
			bus.dirty = true;
		}
	}
	if (!bus.emitting)
		ev_sweep();
}

void ev_emit(const struct ev *e)
{
	if (bus.n == 0)
		return;
	struct ev copy = *e;
	if (copy.time_us == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		copy.time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	}
	bus.emitting++;
	size_t n = bus.n; /* a subscriber added meanwhile sees the next event */
	for (size_t i = 0; i < n; i++)
		if (bus.v[i].fn)
			bus.v[i].fn(bus.v[i].arg, &copy);
	if (--bus.emitting == 0 && bus.dirty)
		ev_sweep();
}

void ev_reset(void)
{
	free(bus.v);
	bus.v = NULL;
	bus.n = bus.cap = 0;
	bus.dirty = false;
}

static void put_str(struct buf *out, const char *key, const char *v)
{
	if (!v)
		return;
	buf_printf(out, ",\"%s\":", key);
	json_str(out, v);
}

void ev_to_json(const struct ev *e, struct buf *out)
{
	buf_puts(out, "{\"time\":");
	json_time(out, e->time_us);
	buf_printf(out, ",\"event\":\"%s\"", ev_type_name(e->type));
	if (e->gen)
		buf_printf(out, ",\"generation\":%u", e->gen);
	if (e->pid > 0)
		buf_printf(out, ",\"pid\":%d", e->pid);
	put_str(out, "state", e->state);
	put_str(out, "group", e->group);
	put_str(out, "result", e->result);
	if (e->duration_us >= 0 && (e->type == EV_RELOAD_SUCCEEDED || e->type == EV_RELOAD_FAILED ||
				    e->type == EV_RELOAD_ROLLED_BACK ||
				    e->type == EV_BUILD_SUCCEEDED || e->type == EV_BUILD_FAILED))
		buf_printf(out, ",\"duration_ms\":%lld.%03lld", (long long)(e->duration_us / 1000),
			   (long long)(e->duration_us % 1000));
	if (e->type == EV_TLS_CERT) {
		buf_printf(out, ",\"not_after\":%lld,\"not_after_time\":", (long long)e->not_after);
		json_time(out, e->not_after * 1000000);
	}
	if (e->type == EV_ROLLOUT_STEP || e->type == EV_STATS)
		buf_printf(out, ",\"weight\":%d", e->weight);
	if (e->type == EV_STATS) {
		buf_printf(out, ",\"rps\":%.2f,\"errors\":%.4f", e->rps, e->errors);
		if (e->p99_us >= 0)
			buf_printf(out, ",\"p99_ms\":%lld.%03lld", (long long)(e->p99_us / 1000),
				   (long long)(e->p99_us % 1000));
	}
	put_str(out, "reason", e->reason);
	buf_putc(out, '}');
}

static void ev_log_line(void *arg, const struct ev *e)
{
	(void)arg;
	if (e->type == EV_STATS) /* once a second per generation: for the page, not the log */
		return;
	struct buf b = BUF_INIT;
	ev_to_json(e, &b);
	buf_putc(&b, '\n');
	log_write(2, b.p, b.len);
	buf_release(&b);
}

int ev_log_start(void)
{
	return log_json() ? ev_subscribe(ev_log_line, NULL) : 0;
}
