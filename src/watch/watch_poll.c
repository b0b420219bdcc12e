/* Polling: filesystems that deliver no inotify events (NFS, CIFS/SMB, 9p, FUSE incl. virtiofs
 * and sshfs, VM shares), everything when poll is forced, and whatever the inotify limits left
 * unwatched. The interval stretches with the cost of a pass (at most ~2% of a CPU), so a big
 * polled tree costs little when idle. Also the actionable messages for inotify limits. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "watch/watch_hub.h"
#include "watch/watch_int.h"

#define POLL_COST_FACTOR 50 /* interval >= 50 x the time a pass takes */
#define SAFETY_MS 30000	    /* configured files are re-checked this often regardless */
#define RETRY_MS 30000	    /* polled-for-lack-of-watches directories: try again */

static const struct {
	long magic;
	const char *name;
} poll_fs[] = {
	{0x6969, "nfs"},
	{0x517B, "smb"},
	{(long)0xFF534D42, "cifs"},
	{(long)0xFE534D42, "smb2"},
	{0x01021997, "9p"},
	{0x65735546, "fuse"},
	{0x00C36400, "ceph"},
	{0x5346414F, "afs"},
	{0x73757245, "coda"},
	{0x786F4256, "vboxsf"},
	{0x47504653, "gpfs"},
	{0x0BD00BD0, "lustre"},
};

static const char *const poll_types[] = {"nfs",	  "nfs4",  "cifs",     "smb",	 "smb3",
					 "smbfs", "9p",	   "virtiofs", "fuse",	 "fuseblk",
					 "ceph",  "afs",   "coda",     "vboxsf", "vmhgfs",
					 "drvfs", "davfs", "gpfs",     "lustre"};

static bool fs_needs_poll(const char *path, char *type, size_t typelen)
{
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		return false;
	for (size_t i = 0; i < sizeof(poll_fs) / sizeof(poll_fs[0]); i++) {
		if ((long)(unsigned int)sf.f_type == (long)(unsigned int)poll_fs[i].magic) {
			snprintf(type, typelen, "%s", poll_fs[i].name);
			return true;
		}
	}
	return false;
}

bool wpoll_auto(struct watch *w, const char *real, const char *abs)
{
	char type[32];
	if (w->poll.mode != WATCH_POLL_AUTO || !fs_needs_poll(real, type, sizeof(type)))
		return false;
	log_info("'%s' is on %s, which does not report changes: polling it every %lld ms", abs,
		 type, (long long)w->poll.interval_ms);
	strv_push(&w->poll.mounts, real);
	return true;
}

bool wpoll_path(const struct watch *w, const char *abs)
{
	for (size_t i = 0; i < w->poll.mounts.n; i++)
		if (strcmp(w->poll.mounts.v[i], abs) == 0)
			return true;
	return false;
}

static bool type_polled(const char *t)
{
	if (strncmp(t, "fuse.", 5) == 0)
		return true; /* fuse.sshfs, fuse.gvfsd-fuse, ... */
	for (size_t i = 0; i < sizeof(poll_types) / sizeof(poll_types[0]); i++)
		if (strcmp(t, poll_types[i]) == 0)
			return true;
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
		    isdigit((unsigned char)s[3])) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

void wpoll_detect_mounts(struct watch *w)
{
	if (w->poll.mode != WATCH_POLL_AUTO || w->hid < 0)
		return;
	char *text = NULL;
	size_t len = 0;
	if (file_read_all("/proc/self/mountinfo", 16 << 20, &text, &len) < 0)
		return;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *f[5] = {0};
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, " ", &save))
			f[i] = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " ", &save);
		char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
		if (!f[4] || !fstype || !type_polled(fstype))
			continue;
		unescape(f[4]);
		strv_push(&w->poll.mounts, f[4]);
		strv_push(&w->poll.mount_types, fstype);
	}
	free(text);
}

void wpoll_init(struct watch *w, const struct watch_opts *o)
{
	w->poll.mode = o->poll;
	w->poll.interval_ms = o->poll_interval_ms >= 10 ? o->poll_interval_ms : 500;
	w->poll.last_limit_warn = -1000000;
}

void wpoll_free(struct watch *w)
{
	loop_timer_free(w->poll.timer);
	free(w->poll.polled.v);
	strv_release(&w->poll.mounts);
	strv_release(&w->poll.mount_types);
	memset(&w->poll, 0, sizeof(w->poll));
}

static void limit_message(struct watch *w, int err);

int wpoll_inotify_init(struct watch *w, const struct watch_hub_ops *ops)
{
	w->hid = -1;
	if (w->poll.mode == WATCH_POLL_FORCE)
		return 0; /* no inotify: no hub needed */
	if (!w->hub)
		w->hub = watch_hub_new(w->loop); /* private: `baton watch`, `baton run` */
	int r = watch_hub_attach(w->hub, ops, w);
	if (r == -EUSERS) {
		/* the shared hub has all the clients it can count: an instance of our own */
		watch_hub_unref(w->hub);
		w->hub = watch_hub_new(w->loop);
		r = watch_hub_attach(w->hub, ops, w);
	}
	if (r >= 0) {
		w->hid = r;
		return 0;
	}
	int e = -r;
	if (w->poll.mode == WATCH_POLL_OFF) {
		errno = e;
		return -e;
	}
	if (e == EMFILE) {
		struct rlimit rl;
		long nfd = 0;
		DIR *d = opendir("/proc/self/fd");
		for (struct dirent *de; d && (de = readdir(d));)
			nfd += de->d_name[0] != '.';
		if (d)
			closedir(d);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)nfd + 2 >= rl.rlim_cur) {
			log_warn("cannot create an inotify instance: too many open files "
				 "(ulimit -n = %llu) — polling every %lld ms instead",
				 (unsigned long long)rl.rlim_cur, (long long)w->poll.interval_ms);
		} else {
			limit_message(w, EMFILE);
		}
	} else {
		log_warn("cannot create an inotify instance: %s — polling every %lld ms instead",
			 strerror(e), (long long)w->poll.interval_ms);
	}
	return 0;
}

static long read_long(const char *path)
{
	char *s = NULL;
	size_t n;
	if (file_read_all(path, 64, &s, &n) < 0)
		return -1;
	long v = strtol(s, NULL, 10);
	free(s);
	return v;
}

/* Inotify instances and watches held by processes of this uid (best effort, /proc). */
static void count_uid(uid_t uid, long *instances, long *watches)
{
	*instances = *watches = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	char path[640], link[64];
	for (struct dirent *pe; (pe = readdir(proc));) {
		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%s", pe->d_name);
		if (stat(path, &st) < 0 || st.st_uid != uid)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		DIR *fds = opendir(path);
		for (struct dirent *fe; fds && (fe = readdir(fds));) {
			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", pe->d_name, fe->d_name);
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, "anon_inode:inotify") != 0)
				continue;
			(*instances)++;
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pe->d_name, fe->d_name);
			char *info = NULL;
			size_t len;
			if (file_read_all(path, 64 << 20, &info, &len) == 0) {
				for (char *p = info; (p = strstr(p, "inotify wd:")); p++)
					(*watches)++;
				free(info);
			}
		}
		if (fds)
			closedir(fds);
	}
	closedir(proc);
}

static void limit_message(struct watch *w, int err)
{
	w->poll.last_limit_warn = now_ms();
	long inst, watches;
	count_uid(getuid(), &inst, &watches);
	if (err == EMFILE) {
		long max = read_long("/proc/sys/fs/inotify/max_user_instances");
		log_warn("cannot create an inotify instance: the per-user limit is reached "
			 "(fs.inotify.max_user_instances = %ld, uid %u holds %ld) — polling every "
			 "%lld ms instead; raise it: sysctl fs.inotify.max_user_instances=%ld",
			 max, (unsigned)getuid(), inst, (long long)w->poll.interval_ms,
			 max > 0 ? max * 8 : 1024);
		return;
	}
	size_t n = w->poll.nowatch_new;
	w->poll.nowatch_new = 0;
	long max = read_long("/proc/sys/fs/inotify/max_user_watches");
	long want = max > 0 ? max * 4 : 524288;
	if (want < 524288)
		want = 524288;
	if (err == ENOMEM) {
		log_warn("cannot watch %zu director%s: out of kernel memory for inotify — polling "
			 "them every %lld ms instead",
			 n, n == 1 ? "y" : "ies", (long long)w->poll.interval_ms);
		return;
	}
	log_warn("inotify watch limit reached: %zu director%s polled every %lld ms instead "
		 "(fs.inotify.max_user_watches = %ld; this baton holds %zu watches, uid %u holds "
		 "%ld) "
		 "— raise it: sysctl fs.inotify.max_user_watches=%ld",
		 n, n == 1 ? "y is" : "ies are", (long long)w->poll.interval_ms, max,
		 w->hub ? watch_hub_nwatches(w->hub) : 0, (unsigned)getuid(), watches, want);
}

void wpoll_limit_hit(struct watch *w, int err, const char *path)
{
	(void)path;
	w->poll.limit_errno = err;
	w->poll.nowatch_new++;
	if (w->started && now_ms() - w->poll.last_limit_warn > 60000)
		limit_message(w, err);
}

void wpoll_limit_report(struct watch *w)
{
	if (w->poll.nowatch_new)
		limit_message(w, w->poll.limit_errno);
}

static void poll_fire(struct loop *l, void *data);

void wpoll_forget(struct watch *w, struct wnode *n)
{
	nvec_remove(&w->poll.polled, n);
}

void wpoll_add(struct watch *w, struct wnode *n, bool nowatch)
{
	if (!(n->flags & WN_POLLED)) {
		n->flags |= WN_POLLED;
		nvec_push(&w->poll.polled, n);
	}
	if (nowatch)
		n->flags |= WN_NOWATCH;
	if (w->started)
		wpoll_arm(w);
}

void wpoll_arm(struct watch *w)
{
	bool need = w->poll.polled.n > 0 || wtg_polled_anchor(w);
	int64_t every;
	if (need) {
		every = w->poll.interval_ms;
		if (w->poll.cost_ms * POLL_COST_FACTOR > every)
			every = w->poll.cost_ms * POLL_COST_FACTOR;
	} else if (wtg_any_file(w)) {
		every = SAFETY_MS;
	} else {
		if (w->poll.timer)
			loop_timer_disarm(w->poll.timer);
		return;
	}
	if (!w->poll.timer)
		w->poll.timer = loop_timer_new(w->loop, poll_fire, w);
	int64_t at = now_ms() + every;
	if (!loop_timer_armed(w->poll.timer) || loop_timer_deadline(w->poll.timer) > at)
		loop_timer_arm_at(w->poll.timer, at);
}

/* Directories polled for lack of watches: try to watch them again. */
static void retry_watches(struct watch *w)
{
	struct buf abs = BUF_INIT;
	for (size_t i = 0; i < w->poll.polled.n; i++) {
		struct wnode *n = w->poll.polled.v[i];
		if (!(n->flags & WN_NOWATCH) || (n->flags & WN_LIMBO) || w->hid < 0)
			continue;
		wt_abs(w, n, &abs);
		int wd = wt_wd_add(w, buf_cstr(&abs), true);
		if (wd < 0) {
			if (wd == -ENOSPC || wd == -ENOMEM)
				break; /* still full */
			continue;
		}
		if (wt_wd_node(w, wd)) {
			wt_wd_unref(w, wd);
			continue;
		}
		n->wd = wd;
		wt_wd_set(w, n);
		n->flags &= (uint16_t) ~(WN_POLLED | WN_NOWATCH);
		w->poll.polled.v[i--] = w->poll.polled.v[--w->poll.polled.n];
	}
	buf_release(&abs);
}

static void poll_fire(struct loop *l, void *data)
{
	(void)l;
	struct watch *w = data;
	int64_t t0 = now_ms();
	for (size_t i = 0; i < w->poll.polled.n; i++) {
		struct wnode *n = w->poll.polled.v[i];
		if (!(n->flags & WN_LIMBO))
			wscan_run(w, n, WSCAN_RECONCILE, false);
	}
	if (t0 >= w->poll.next_retry) {
		retry_watches(w);
		w->poll.next_retry = t0 + RETRY_MS;
	}
	wtg_poll(w);
	w->poll.cost_ms = now_ms() - t0;
	loop_timer_disarm(w->poll.timer);
	wpoll_arm(w);
}
