/* Idle CPUs that poll while requests come close together (idlepoll=1).
 *
 * A round trip wakes the daemon and then the caller, each on the CPU it
 * slept on. A CPU that halted when it went idle takes long to wake: on
 * this project's VM (cpuidle-haltpoll with guest_halt_poll_ns 0, so an
 * idle vCPU halts at once and the host must run it again) most of a round
 * trip; on bare metal a deep C-state. An idle CPU that polls instead (the
 * cpuidle "POLL" state) is woken by a flag it watches, with no
 * interrupt. Untar, rm -r and ls -l send one request after another, and
 * with idle CPUs polling, 5,000 files untarred in 0.53 s instead of 1.24
 * (tmpfs upper), `ls -lR` of 66,000 entries took 0.97-1.33 s instead of
 * 1.90-2.29 and `rm -rf` of 6,000 0.51-0.54 s instead of 0.67-0.88.
 *
 * The kernel's CPU latency QoS is how a process asks for that: while a
 * request of 0 us is held through /dev/cpu_dma_latency (root's, as the
 * latency profiles of tuned use it), cpuidle picks only states that wake
 * at once, i.e. polling. Polling costs the CPU time it spends, so the
 * daemon takes the request once its requests come at least every
 * MIN_GAP_US on average, the rate at which cpuidle-haltpoll's default
 * (polling up to 200 us before it halts) would keep CPUs polling anyway,
 * and lets go once they came slower than one per MAX_GAP_US for
 * SLOW_LOOKS counts in a row: a stream near one rate does not take and
 * let go of it every few milliseconds (each change is a write and wakes
 * every idle CPU), nor does a caller's hiccup end the polling. A service
 * that asks now and then never makes CPUs poll.
 *
 * A thread of its own counts the requests per LOOK_US (one atomic add
 * per request on the serving path), takes and lets go of the QoS request
 * (a write(2) each) and, after IDLE_LOOKS looks without any request,
 * sleeps until the next one wakes it: an idle mount wakes no thread. The
 * descriptor stays open; the kernel drops the request when the daemon
 * exits, however it exits. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layerfs.h"

#define QOS_DEVICE	"/dev/cpu_dma_latency"
#define LOOK_US		2000	/* the span requests are counted over */
#define MIN_GAP_US	200	/* hold once requests come this often */
#define MAX_GAP_US	400	/* held: let go once they come slower */
#define SLOW_LOOKS	2	/* for that many counts in a row */
#define IDLE_LOOKS	2	/* looks without a request: sleep */

static int qos_fd = -1;
static uint64_t seen;		/* requests noted (atomic) */
static bool asleep;		/* the thread waits for a request (atomic) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;

/* Ask for a wake-up latency of LATENCY_US, or with -1 for none (the
 * kernel's "default value": the request no longer counts). */
static void qos_set(int32_t latency_us)
{
	if (write(qos_fd, &latency_us, sizeof(latency_us)) !=
	    (ssize_t)sizeof(latency_us) && fs.cfg->debug)
		lfs_log("idlepoll: writing %s: %s", QOS_DEVICE,
			strerror(errno));
}

/* Sleep until a request comes after SINCE requests were counted. */
static void wait_for_request(uint64_t since)
{
	pthread_mutex_lock(&mu);
	__atomic_store_n(&asleep, true, __ATOMIC_SEQ_CST);
	/* idlepoll_note() adds before it looks at ASLEEP: one that came
	 * after our last count is seen here or signals */
	while (__atomic_load_n(&seen, __ATOMIC_SEQ_CST) == since)
		pthread_cond_wait(&wake_cv, &mu);
	__atomic_store_n(&asleep, false, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&mu);
}

static void *idlepoll_thread(void *arg)
{
	const struct timespec look = { 0, LOOK_US * 1000L };
	uint64_t last = 0, now, last_t = mono_us(), now_t;
	unsigned idle = 0, slow = 0;
	bool held = false;

	(void)arg;
	for (;;) {
		if (idle >= IDLE_LOOKS) {
			wait_for_request(last);
			idle = 0;
			/* count from here: the wake-up may have come late */
			last = __atomic_load_n(&seen, __ATOMIC_SEQ_CST);
			last_t = mono_us();
		}
		nanosleep(&look, NULL);
		now = __atomic_load_n(&seen, __ATOMIC_SEQ_CST);
		/* the rate over the time that really passed between the two
		 * counts: on a busy machine this thread may run late, after
		 * its sleep or before it (a write of the request above) */
		now_t = mono_us();
		idle = now == last ? idle + 1 : 0;
		if (!held) {
			if ((now - last) * MIN_GAP_US >= now_t - last_t) {
				qos_set(0);
				held = true;
				slow = 0;
			}
		} else if ((now - last) * MAX_GAP_US >= now_t - last_t) {
			slow = 0;
		} else if (++slow >= SLOW_LOOKS) {
			qos_set(-1);
			held = false;
		}
		/* tests/reader.bats: a thread that runs late after a count */
		if (now != last)
			test_pause("idlepoll", "");
		last = now;
		last_t = now_t;
	}
	return NULL;
}

/* Called for each request that a caller waits for (io_read()). */
void idlepoll_note(void)
{
	if (__atomic_load_n(&qos_fd, __ATOMIC_ACQUIRE) < 0)
		return;
	__atomic_add_fetch(&seen, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&asleep, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&mu);
		pthread_cond_signal(&wake_cv);
		pthread_mutex_unlock(&mu);
	}
}

/* Start watching the request rate, if the QoS device may be opened (as
 * root: elsewhere idlepoll=1 does nothing). */
void idlepoll_start(void)
{
	int fd = open(QOS_DEVICE, O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		if (fs.cfg->debug)
			lfs_log("idlepoll: cannot open %s: %s", QOS_DEVICE,
				strerror(errno));
		return;
	}
	/* requests may be served already (main.c, late_start()) */
	__atomic_store_n(&qos_fd, fd, __ATOMIC_RELEASE);
	if (!spawn_detached(idlepoll_thread, NULL)) {
		__atomic_store_n(&qos_fd, -1, __ATOMIC_RELEASE);
		close(fd);
	}
}
