/* The inotify hub: one instance, its watch descriptors shared between clients (watch_hub.h). */
#include "watch/watch_hub.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/loop.h"
#include "util/sys.h"
#include "util/xalloc.h"

#define RM_BATCH 4096 /* removals between two drains: their IN_IGNORED never fill the queue */
#define LOOKUP_FLAGS (IN_ONLYDIR | IN_DONT_FOLLOW | IN_MASK_ADD | IN_MASK_CREATE | IN_ONESHOT)

/* One kernel watch. The kernel numbers descriptors from 1: wd 0 marks an empty slot. */
struct hwd {
	int wd;
	uint32_t mask;	  /* union of what the holders asked for */
	uint32_t holders; /* bit i: client i */
};

struct hclient {
	const struct watch_hub_ops *ops;
	void *data;
};

struct watch_hub {
	struct loop *loop;
	int refs;
	int fd; /* -1: not open */
	struct loop_src *src;
	struct hwd *tab; /* open addressing on wd, linear probing, at most 3/4 full */
	uint32_t ntab, n;
	uint32_t clients; /* bit i: cl[i] attached */
	struct hclient cl[WATCH_HUB_MAX_CLIENTS];
	bool draining;
};

static inline uint32_t bit(int id)
{
	return (uint32_t)1 << id;
}

/* ---- the descriptor table ---- */

static struct hwd *find(const struct watch_hub *h, int wd)
{
	if (!h->ntab || wd <= 0)
		return NULL;
	uint32_t mask = h->ntab - 1;
	for (uint32_t i = wd_slot(wd, mask);; i = (i + 1) & mask) {
		struct hwd *e = &h->tab[i];
		if (e->wd == wd)
			return e;
		if (!e->wd)
			return NULL;
	}
}

static struct hwd *place(struct hwd *tab, uint32_t size, int wd)
{
	uint32_t mask = size - 1;
	uint32_t i = wd_slot(wd, mask);
	while (tab[i].wd)
		i = (i + 1) & mask;
	tab[i].wd = wd;
	return &tab[i];
}

static struct hwd *insert(struct watch_hub *h, int wd)
{
	if ((h->n + 1) * 4 > h->ntab * 3) {
		uint32_t size = h->ntab ? h->ntab * 2 : 64;
		struct hwd *tab = xcalloc(size, sizeof(*tab));
		for (uint32_t i = 0; i < h->ntab; i++)
			if (h->tab[i].wd)
				*place(tab, size, h->tab[i].wd) = h->tab[i];
		free(h->tab);
		h->tab = tab;
		h->ntab = size;
	}
	h->n++;
	return place(h->tab, h->ntab, wd);
}

static void erase(struct watch_hub *h, struct hwd *e)
{
	uint32_t mask = h->ntab - 1;
	uint32_t i = (uint32_t)(e - h->tab);
	h->tab[i] = (struct hwd){0};
	h->n--;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	for (uint32_t j = (i + 1) & mask; h->tab[j].wd; j = (j + 1) & mask) {
		if (wd_fills_hole(wd_slot(h->tab[j].wd, mask), i, j)) {
			h->tab[i] = h->tab[j];
			h->tab[j] = (struct hwd){0};
			i = j;
		}
	}
}

/* ---- the instance ---- */

static void close_instance(struct watch_hub *h)
{
	if (h->src)
		loop_del(h->loop, h->src);
	h->src = NULL;
	if (h->fd >= 0)
		close(h->fd); /* drops every kernel watch at once: no rm_watch per directory */
	h->fd = -1;
	free(h->tab);
	h->tab = NULL;
	h->ntab = h->n = 0;
}

static void on_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	watch_hub_drain(data);
}

struct watch_hub *watch_hub_new(struct loop *l)
{
	struct watch_hub *h = xcalloc(1, sizeof(*h));
	h->loop = l;
	h->refs = 1;
	h->fd = -1;
	return h;
}

struct watch_hub *watch_hub_ref(struct watch_hub *h)
{
	h->refs++;
	return h;
}

void watch_hub_unref(struct watch_hub *h)
{
	if (!h || --h->refs > 0)
		return;
	assert(!h->clients);
	close_instance(h);
	free(h);
}

/* ---- clients ---- */

int watch_hub_attach(struct watch_hub *h, const struct watch_hub_ops *ops, void *data)
{
	int id = 0;
	while (id < WATCH_HUB_MAX_CLIENTS && (h->clients & bit(id)))
		id++;
	if (id == WATCH_HUB_MAX_CLIENTS)
		return -EUSERS;
	if (h->fd < 0) {
		int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (fd < 0)
			return -errno;
		h->src = loop_add(h->loop, fd, EPOLLIN, on_readable, h);
		if (!h->src) {
			int e = errno;
			close(fd);
			return -e;
		}
		h->fd = fd;
	}
	h->clients |= bit(id);
	h->cl[id] = (struct hclient){ops, data};
	return id;
}

void watch_hub_detach(struct watch_hub *h, int id)
{
	if (id < 0 || id >= WATCH_HUB_MAX_CLIENTS || !(h->clients & bit(id)))
		return;
	h->clients &= ~bit(id);
	h->cl[id] = (struct hclient){0};
	if (!h->clients) {
		close_instance(h);
		return;
	}
	/* what id alone held: forgotten first (their IN_IGNORED is dropped), then removed */
	int *rm = NULL;
	size_t nrm = 0, cap = 0;
	for (uint32_t i = 0; i < h->ntab; i++) {
		struct hwd *e = &h->tab[i];
		if (!e->wd || !(e->holders & bit(id)))
			continue;
		e->holders &= ~bit(id);
		if (e->holders)
			continue;
		rm = xgrow(rm, &cap, nrm + 1, sizeof(*rm));
		rm[nrm++] = e->wd;
	}
	for (size_t i = 0; i < nrm; i++)
		erase(h, find(h, rm[i]));
	for (size_t i = 0; i < nrm && h->fd >= 0; i++) {
		inotify_rm_watch(h->fd, rm[i]);
		if ((i + 1) % RM_BATCH == 0)
			watch_hub_drain(h);
	}
	free(rm);
}

int watch_hub_add(struct watch_hub *h, int id, const char *path, uint32_t mask)
{
	if (h->fd < 0 || id < 0 || id >= WATCH_HUB_MAX_CLIENTS || !(h->clients & bit(id)))
		return -EBADF;
	/* IN_MASK_ADD: when another client watches this inode already, its mask stays */
	int wd = sys_inotify_add_watch(h->fd, path, mask | IN_MASK_ADD);
	if (wd < 0)
		return -errno;
	struct hwd *e = find(h, wd);
	if (!e)
		e = insert(h, wd);
	e->mask |= mask & ~(uint32_t)LOOKUP_FLAGS;
	e->holders |= bit(id);
	return wd;
}

void watch_hub_wd_unref(struct watch_hub *h, int id, int wd)
{
	if (id < 0 || id >= WATCH_HUB_MAX_CLIENTS)
		return;
	struct hwd *e = find(h, wd);
	if (!e || !(e->holders & bit(id)))
		return;
	e->holders &= ~bit(id);
	if (e->holders)
		return;
	erase(h, e);
	inotify_rm_watch(h->fd, wd); /* EINVAL when the kernel already dropped it: fine */
}

/* Hand ev to every client that holds its descriptor when its turn comes (one may drop it,
 * or add watches, while handling it). Returns the clients that got it. */
static uint32_t dispatch(struct watch_hub *h, const struct inotify_event *ev)
{
	uint32_t to, got = 0;
	if (ev->mask & IN_Q_OVERFLOW) {
		to = h->clients;
	} else {
		const struct hwd *e = find(h, ev->wd);
		if (!e)
			return 0; /* dropped since (its IN_IGNORED included) */
		to = e->holders;
	}
	for (int id = 0; to; id++, to >>= 1) {
		if (!(to & 1) || !(h->clients & bit(id)))
			continue;
		if (!(ev->mask & IN_Q_OVERFLOW)) {
			const struct hwd *e = find(h, ev->wd);
			if (!e || !(e->holders & bit(id)))
				continue;
		}
		h->cl[id].ops->event(h->cl[id].data, ev);
		got |= bit(id);
	}
	if (ev->mask & IN_IGNORED) {
		struct hwd *e = find(h, ev->wd);
		if (e)
			erase(h, e); /* the kernel dropped it: nobody holds it any more */
	}
	return got;
}

void watch_hub_drain(struct watch_hub *h)
{
	if (h->fd < 0 || h->draining)
		return;
	h->draining = true;
	int fd = h->fd;
	uint32_t got = 0;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (int round = 0; round < 16 && h->fd == fd; round++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: drained */
		}
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n && h->fd == fd;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			p += sizeof(*ev) + ev->len;
			got |= dispatch(h, ev);
		}
	}
	h->draining = false;
	for (int id = 0; got; id++, got >>= 1)
		if ((got & 1) && (h->clients & bit(id)) && h->cl[id].ops->drained)
			h->cl[id].ops->drained(h->cl[id].data);
}

size_t watch_hub_nwatches(const struct watch_hub *h)
{
	return h->n;
}

uint32_t watch_hub_mask(const struct watch_hub *h, int wd)
{
	const struct hwd *e = find(h, wd);
	return e ? e->mask : 0;
}

bool watch_hub_holds(const struct watch_hub *h, int id, int wd)
{
	const struct hwd *e = find(h, wd);
	return e && id >= 0 && id < WATCH_HUB_MAX_CLIENTS && (e->holders & bit(id));
}
