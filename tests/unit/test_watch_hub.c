/* Unit tests for the inotify hub: one instance, watch descriptors shared between clients
 * (refcounted, masks united with IN_MASK_ADD), events to every holder, IN_IGNORED forgotten,
 * detach and the last close, inotify_init1 failing. Real inotify on a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/loop.h"
#include "watch/watch_hub.h"

struct client {
	struct watch_hub *h;
	int id;
	uint32_t seen; /* union of the masks of its events */
	int nevents, ndrained, nignored;
	int release_wd; /* release this wd when an event for it arrives (0: no) */
	bool nest;	/* drain again from inside the handler */
};

static void on_event(void *data, const struct inotify_event *ev)
{
	struct client *c = data;
	c->nevents++;
	c->seen |= ev->mask;
	if (ev->mask & IN_IGNORED)
		c->nignored++;
	if (c->release_wd && ev->wd == c->release_wd) {
		watch_hub_wd_unref(c->h, c->id, ev->wd);
		c->release_wd = 0;
	}
	if (c->nest)
		watch_hub_drain(c->h); /* a no-op within a dispatch */
}

static void on_drained(void *data)
{
	struct client *c = data;
	c->ndrained++;
}

static const struct watch_hub_ops ops = {.event = on_event, .drained = on_drained};

struct fx {
	struct loop *l;
	struct watch_hub *h;
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->l = loop_new();
	f->h = watch_hub_new(f->l);
	snprintf(f->dir, sizeof(f->dir), "/tmp/baton-hub-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int id = 0; id < WATCH_HUB_MAX_CLIENTS; id++)
		watch_hub_detach(f->h, id); /* what a failed test left attached */
	watch_hub_unref(f->h);
	loop_free(f->l);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

static const char *sub(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static void touch(struct fx *f, const char *name)
{
	int fd = open(sub(f, name), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

/* inotify instances of this process, and the kernel watches they hold (/proc/self/fdinfo) */
static int instances(int *watches)
{
	int n = 0;
	*watches = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *de; d && (de = readdir(d));) {
		char p[300], link[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		ssize_t k = readlink(p, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (strcmp(link, "anon_inode:inotify") != 0)
			continue;
		n++;
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%s", de->d_name);
		FILE *fi = fopen(p, "r");
		char line[512];
		while (fi && fgets(line, sizeof(line), fi))
			*watches += strncmp(line, "inotify wd:", 11) == 0;
		if (fi)
			fclose(fi);
	}
	if (d)
		closedir(d);
	return n;
}

static void test_shared_descriptor_masks_unite(void **state)
{
	struct fx *f = *state;
	struct client a = {.h = f->h}, b = {.h = f->h};
	a.id = watch_hub_attach(f->h, &ops, &a);
	b.id = watch_hub_attach(f->h, &ops, &b);
	assert_true(a.id >= 0 && b.id >= 0 && a.id != b.id);
	int w;
	assert_int_equal(instances(&w), 1);

	int wa = watch_hub_add(f->h, a.id, f->dir, IN_CREATE | IN_ONLYDIR);
	int wb = watch_hub_add(f->h, b.id, f->dir, IN_DELETE);
	assert_true(wa > 0);
	assert_int_equal(wa, wb); /* the kernel's: one watch per inode and instance */
	assert_int_equal(watch_hub_nwatches(f->h), 1);
	assert_int_equal(watch_hub_mask(f->h, wa), IN_CREATE | IN_DELETE);
	assert_true(watch_hub_holds(f->h, a.id, wa) && watch_hub_holds(f->h, b.id, wa));
	/* the same client adding again changes nothing */
	assert_int_equal(watch_hub_add(f->h, a.id, f->dir, IN_CREATE), wa);
	assert_int_equal(watch_hub_nwatches(f->h), 1);

	/* b's add did not narrow a's mask: creations still come, to both holders */
	touch(f, "x");
	unlink(sub(f, "x"));
	watch_hub_drain(f->h);
	assert_true(a.seen & IN_CREATE);
	assert_true(a.seen & IN_DELETE);
	assert_int_equal(a.nevents, 2);
	assert_int_equal(b.nevents, 2);
	assert_int_equal(a.ndrained, 1);
	assert_int_equal(b.ndrained, 1);

	/* a lets go: the kernel watch stays for b, and a gets nothing more */
	watch_hub_wd_unref(f->h, a.id, wa);
	watch_hub_wd_unref(f->h, a.id, wa); /* twice: ignored */
	assert_false(watch_hub_holds(f->h, a.id, wa));
	assert_int_equal(watch_hub_nwatches(f->h), 1);
	assert_int_equal(instances(&w), 1);
	assert_int_equal(w, 1);
	touch(f, "y");
	watch_hub_drain(f->h);
	assert_int_equal(a.nevents, 2);
	assert_int_equal(b.nevents, 3);

	/* b lets go: removed from the kernel; its IN_IGNORED reaches nobody */
	watch_hub_wd_unref(f->h, b.id, wb);
	assert_int_equal(watch_hub_nwatches(f->h), 0);
	instances(&w);
	assert_int_equal(w, 0);
	watch_hub_drain(f->h);
	assert_int_equal(b.nevents, 3);

	watch_hub_detach(f->h, a.id);
	watch_hub_detach(f->h, b.id);
	assert_int_equal(instances(&w), 0); /* the last client closed the instance */
}

static void test_ignored_goes_to_every_holder_then_forgotten(void **state)
{
	struct fx *f = *state;
	struct client a = {.h = f->h}, b = {.h = f->h};
	a.id = watch_hub_attach(f->h, &ops, &a);
	b.id = watch_hub_attach(f->h, &ops, &b);
	assert_int_equal(mkdir(sub(f, "d"), 0755), 0);
	int wa = watch_hub_add(f->h, a.id, sub(f, "d"), IN_DELETE_SELF | IN_ONLYDIR);
	int wb = watch_hub_add(f->h, b.id, sub(f, "d"), IN_CREATE | IN_DONT_FOLLOW);
	assert_int_equal(wa, wb);
	assert_int_equal(rmdir(sub(f, "d")), 0);
	watch_hub_drain(f->h);
	assert_int_equal(a.nignored, 1);
	assert_int_equal(b.nignored, 1);
	assert_true(a.seen & b.seen & IN_DELETE_SELF);
	assert_int_equal(watch_hub_nwatches(f->h), 0);
	assert_false(watch_hub_holds(f->h, b.id, wa));
	watch_hub_wd_unref(f->h, b.id, wb); /* after the kernel dropped it: ignored */
	watch_hub_detach(f->h, a.id);
	watch_hub_detach(f->h, b.id);
}

static void test_release_during_dispatch_and_nested_drain(void **state)
{
	struct fx *f = *state;
	struct client a = {.h = f->h, .nest = true}, b = {.h = f->h, .nest = true};
	a.id = watch_hub_attach(f->h, &ops, &a);
	b.id = watch_hub_attach(f->h, &ops, &b);
	int wd = watch_hub_add(f->h, a.id, f->dir, IN_CREATE);
	assert_int_equal(watch_hub_add(f->h, b.id, f->dir, IN_CREATE), wd);
	a.release_wd = wd; /* a lets go while handling the first event: b still gets both */
	touch(f, "1");
	touch(f, "2");
	watch_hub_drain(f->h);
	assert_int_equal(a.nevents, 1);
	assert_int_equal(b.nevents, 2);
	assert_int_equal(watch_hub_nwatches(f->h), 1);
	watch_hub_detach(f->h, a.id);
	watch_hub_detach(f->h, b.id);
}

static void test_detach_removes_only_what_it_alone_held(void **state)
{
	struct fx *f = *state;
	struct client a = {.h = f->h}, b = {.h = f->h};
	a.id = watch_hub_attach(f->h, &ops, &a);
	b.id = watch_hub_attach(f->h, &ops, &b);
	assert_int_equal(mkdir(sub(f, "only-a"), 0755), 0);
	int shared = watch_hub_add(f->h, a.id, f->dir, IN_CREATE);
	assert_int_equal(watch_hub_add(f->h, b.id, f->dir, IN_CREATE), shared);
	int mine = watch_hub_add(f->h, a.id, sub(f, "only-a"), IN_CREATE);
	assert_true(mine > 0 && mine != shared);
	int w;
	instances(&w);
	assert_int_equal(w, 2);
	watch_hub_detach(f->h, a.id);
	watch_hub_detach(f->h, a.id); /* twice: ignored */
	assert_int_equal(watch_hub_nwatches(f->h), 1);
	assert_int_equal(instances(&w), 1);
	assert_int_equal(w, 1);
	assert_true(watch_hub_holds(f->h, b.id, shared));
	touch(f, "only-a/z"); /* no holder left: dropped */
	touch(f, "z");
	watch_hub_drain(f->h);
	assert_int_equal(a.nevents, 0);
	assert_int_equal(b.nevents, 1);
	/* a new client takes the free id and shares the remaining watch */
	struct client c = {.h = f->h};
	c.id = watch_hub_attach(f->h, &ops, &c);
	assert_int_equal(c.id, a.id);
	assert_int_equal(watch_hub_add(f->h, c.id, f->dir, IN_DELETE), shared);
	watch_hub_detach(f->h, b.id);
	watch_hub_detach(f->h, c.id);
	assert_int_equal(instances(&w), 0);
	assert_int_equal(watch_hub_add(f->h, b.id, f->dir, IN_CREATE), -EBADF);
}

static void test_reopens_after_the_last_client_and_counts_clients(void **state)
{
	struct fx *f = *state;
	static struct client cl[WATCH_HUB_MAX_CLIENTS + 1];
	for (int i = 0; i < WATCH_HUB_MAX_CLIENTS; i++) {
		cl[i] = (struct client){.h = f->h};
		cl[i].id = watch_hub_attach(f->h, &ops, &cl[i]);
		assert_int_equal(cl[i].id, i);
	}
	assert_int_equal(watch_hub_attach(f->h, &ops, &cl[WATCH_HUB_MAX_CLIENTS]), -EUSERS);
	int w;
	assert_int_equal(instances(&w), 1);
	for (int i = 0; i < WATCH_HUB_MAX_CLIENTS; i++)
		watch_hub_detach(f->h, cl[i].id);
	assert_int_equal(instances(&w), 0);
	struct client a = {.h = f->h};
	a.id = watch_hub_attach(f->h, &ops, &a);
	assert_true(a.id >= 0);
	assert_true(watch_hub_add(f->h, a.id, f->dir, IN_CREATE) > 0);
	assert_int_equal(instances(&w), 1);
	watch_hub_detach(f->h, a.id);
}

static void test_init_failure_is_reported(void **state)
{
	struct fx *f = *state;
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the lowest free fd: all below in use */
	assert_true(fd >= 0);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct client a = {.h = f->h};
	int r = watch_hub_attach(f->h, &ops, &a);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	int w;
	assert_int_equal(instances(&w), 0);
	/* and the next attach tries again */
	a.id = watch_hub_attach(f->h, &ops, &a);
	assert_true(a.id >= 0);
	watch_hub_detach(f->h, a.id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shared_descriptor_masks_unite, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ignored_goes_to_every_holder_then_forgotten,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_during_dispatch_and_nested_drain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_removes_only_what_it_alone_held, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_reopens_after_the_last_client_and_counts_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_failure_is_reported, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
