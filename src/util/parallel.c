/* Work shared by a few threads (memdump/parallel.h). */
#include "memdump/parallel.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#define MAX_THREADS 16

size_t md_cpus(size_t max)
{
	cpu_set_t set;
	/* the CPUs we may run on (a container's cpuset), else those online */
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (size_t)n > max ? max : (size_t)n;
}

void md_parallel(size_t n, void *(*fn)(void *), void *arg)
{
	pthread_t th[MAX_THREADS];
	size_t started = 0;

	while (started + 1 < n && started < MAX_THREADS && pthread_create(&th[started], NULL, fn, arg) == 0)
		started++;
	fn(arg);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}
