/*
 * dumpee_regs: threads that hold known values in general-purpose, SSE, AVX
 * and AVX-512 registers and in MXCSR while spinning in a loop that touches
 * none of them, across a dump and restore. On SIGUSR1 they leave the loop
 * and compare every register with what they loaded.
 *
 * Usage: dumpee_regs STATUS TMPDIR   (writes "READY pid", then "OK" or "FAIL: ...")
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cpuid.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 2

static volatile int go;
static volatile int entered;
static const char *status_path;

struct regs_out {
	uint64_t gpr[4];	/* r12..r15 */
	uint8_t x[16][32];	/* ymm0..15 (xmm in the low half) */
	uint8_t z[16][64];	/* zmm16..31 */
	uint32_t mxcsr;
};

static struct regs_out pat[NTHREADS], out[NTHREADS];
static int have_avx, have_avx512;

static void fill_pattern(struct regs_out *p, int t)
{
	for (int i = 0; i < 4; i++)
		p->gpr[i] = 0x1111111111111111ULL * (uint64_t)(i + 1) ^ (uint64_t)t << 56;
	for (int i = 0; i < 16; i++)
		for (int b = 0; b < 32; b++)
			p->x[i][b] = (uint8_t)(i * 37 + b * 11 + t * 101 + 1);
	for (int i = 0; i < 16; i++)
		for (int b = 0; b < 64; b++)
			p->z[i][b] = (uint8_t)(i * 53 + b * 7 + t * 29 + 3);
	/* round toward zero, all exceptions masked, flush-to-zero: far from the default */
	p->mxcsr = 0x1f80 | (3u << 13) | (1u << 15);
}

#define X16(m) m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15)
#define LOAD_XMM(i) "movdqu " #i "*32(%[x]), %%xmm" #i "\n\t"
#define STORE_XMM(i) "movdqu %%xmm" #i ", " #i "*32(%[xo])\n\t"
#define LOAD_YMM(i) "vmovdqu " #i "*32(%[x]), %%ymm" #i "\n\t"
#define STORE_YMM(i) "vmovdqu %%ymm" #i ", " #i "*32(%[xo])\n\t"
#define Z16(m) m(16) m(17) m(18) m(19) m(20) m(21) m(22) m(23) m(24) m(25) m(26) m(27) m(28) m(29) m(30) m(31)
#define LOAD_ZMM(i) "vmovdqu64 (" #i "-16)*64(%[z]), %%zmm" #i "\n\t"
#define STORE_ZMM(i) "vmovdqu64 %%zmm" #i ", (" #i "-16)*64(%[zo])\n\t"

#define SPIN                                                                                                   \
	"lock incl %[ent]\n\t"                                                                                 \
	"1: pause\n\t"                                                                                         \
	"cmpl $0, %[go]\n\t"                                                                                   \
	"je 1b\n\t"

#define CLOBBERS                                                                                               \
	"memory", "cc", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",    \
		"xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void spin(struct regs_out *p, struct regs_out *o)
{
	uint32_t saved_mxcsr;

	__asm__ volatile("stmxcsr %0" : "=m"(saved_mxcsr));
	__asm__ volatile("ldmxcsr %0" : : "m"(p->mxcsr));
	if (have_avx512) {
		__asm__ volatile("mov 0(%[g]), %%r12\n\tmov 8(%[g]), %%r13\n\tmov 16(%[g]), %%r14\n\tmov 24(%[g]), %%r15\n\t"
				 X16(LOAD_YMM) Z16(LOAD_ZMM) SPIN
				 "mov %%r12, 0(%[go_])\n\tmov %%r13, 8(%[go_])\n\tmov %%r14, 16(%[go_])\n\tmov %%r15, 24(%[go_])\n\t"
				 X16(STORE_YMM) Z16(STORE_ZMM) "vzeroupper\n\t"
				 : [ent] "+m"(entered)
				 : [g] "r"(p->gpr), [x] "r"(p->x), [z] "r"(p->z), [go_] "r"(o->gpr), [xo] "r"(o->x),
				   [zo] "r"(o->z), [go] "m"(go)
				 : CLOBBERS);
	} else if (have_avx) {
		__asm__ volatile("mov 0(%[g]), %%r12\n\tmov 8(%[g]), %%r13\n\tmov 16(%[g]), %%r14\n\tmov 24(%[g]), %%r15\n\t"
				 X16(LOAD_YMM) SPIN
				 "mov %%r12, 0(%[go_])\n\tmov %%r13, 8(%[go_])\n\tmov %%r14, 16(%[go_])\n\tmov %%r15, 24(%[go_])\n\t"
				 X16(STORE_YMM) "vzeroupper\n\t"
				 : [ent] "+m"(entered)
				 : [g] "r"(p->gpr), [x] "r"(p->x), [go_] "r"(o->gpr), [xo] "r"(o->x), [go] "m"(go)
				 : CLOBBERS);
	} else {
		__asm__ volatile("mov 0(%[g]), %%r12\n\tmov 8(%[g]), %%r13\n\tmov 16(%[g]), %%r14\n\tmov 24(%[g]), %%r15\n\t"
				 X16(LOAD_XMM) SPIN
				 "mov %%r12, 0(%[go_])\n\tmov %%r13, 8(%[go_])\n\tmov %%r14, 16(%[go_])\n\tmov %%r15, 24(%[go_])\n\t"
				 X16(STORE_XMM)
				 : [ent] "+m"(entered)
				 : [g] "r"(p->gpr), [x] "r"(p->x), [go_] "r"(o->gpr), [xo] "r"(o->x), [go] "m"(go)
				 : CLOBBERS);
	}
	__asm__ volatile("stmxcsr %0" : "=m"(o->mxcsr));
	__asm__ volatile("ldmxcsr %0" : : "m"(saved_mxcsr));
}

static void *thread_main(void *arg)
{
	int t = (int)(intptr_t)arg;

	spin(&pat[t], &out[t]);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void report(const char *line)
{
	FILE *f = fopen(status_path, "w");

	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	unsigned a, b, c, d;
	pthread_t th[NTHREADS];
	sigset_t usr1;
	char line[256];
	int bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: dumpee_regs STATUS TMPDIR\n");
		return 2;
	}
	status_path = argv[1];
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AVX)) {
		unsigned lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		have_avx = (lo & 6) == 6;
		if (have_avx && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F))
			have_avx512 = (lo & 0xe0) == 0xe0;
	}
	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	/* the spinners must never run the handler: only main takes SIGUSR1 */
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	for (int t = 0; t < NTHREADS; t++) {
		fill_pattern(&pat[t], t);
		if (pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t))
			return 2;
	}
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	while (entered < NTHREADS)
		usleep(1000);
	snprintf(line, sizeof(line), "READY %d", getpid());
	report(line);
	while (!go)
		pause();
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);

	for (int t = 0; t < NTHREADS && !bad; t++) {
		if (memcmp(pat[t].gpr, out[t].gpr, sizeof(pat[t].gpr))) {
			snprintf(line, sizeof(line), "FAIL: thread %d: r12-r15 changed", t);
			bad = 1;
		}
		/* without AVX only the low 16 bytes of each slot were loaded and stored */
		for (int i = 0; i < 16 && !bad; i++)
			if (memcmp(pat[t].x[i], out[t].x[i], have_avx ? 32 : 16)) {
				snprintf(line, sizeof(line), "FAIL: thread %d: %cmm%d changed", t, have_avx ? 'y' : 'x', i);
				bad = 1;
			}
		if (bad)
			break;
		if (have_avx512 && memcmp(pat[t].z, out[t].z, sizeof(pat[t].z))) {
			snprintf(line, sizeof(line), "FAIL: thread %d: zmm16-31 changed", t);
			bad = 1;
		} else if ((pat[t].mxcsr & 0xffc0) != (out[t].mxcsr & 0xffc0)) {
			snprintf(line, sizeof(line), "FAIL: thread %d: mxcsr %#x, expected %#x", t, out[t].mxcsr,
				 pat[t].mxcsr);
			bad = 1;
		}
	}
	if (!bad)
		snprintf(line, sizeof(line), "OK\navx=%d avx512=%d", have_avx, have_avx512);
	report(line);
	return bad;
}
