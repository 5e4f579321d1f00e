/*
 * Conversions between the model's struct md_regs and the kernel's
 * struct user_regs_struct (PTRACE_GETREGS/SETREGS), field by field.
 */
#include "memdump/regs.h"

#include <sys/user.h>

#include "memdump/model.h"

void md_regs_from_user(struct md_regs *d, const struct user_regs_struct *s)
{
	d->r15 = s->r15; d->r14 = s->r14; d->r13 = s->r13; d->r12 = s->r12;
	d->rbp = s->rbp; d->rbx = s->rbx; d->r11 = s->r11; d->r10 = s->r10;
	d->r9 = s->r9; d->r8 = s->r8; d->rax = s->rax; d->rcx = s->rcx;
	d->rdx = s->rdx; d->rsi = s->rsi; d->rdi = s->rdi; d->orig_rax = s->orig_rax;
	d->rip = s->rip; d->cs = s->cs; d->eflags = s->eflags; d->rsp = s->rsp;
	d->ss = s->ss; d->fs_base = s->fs_base; d->gs_base = s->gs_base;
	d->ds = s->ds; d->es = s->es; d->fs = s->fs; d->gs = s->gs;
}

void md_regs_to_user(struct user_regs_struct *d, const struct md_regs *s)
{
	d->r15 = s->r15; d->r14 = s->r14; d->r13 = s->r13; d->r12 = s->r12;
	d->rbp = s->rbp; d->rbx = s->rbx; d->r11 = s->r11; d->r10 = s->r10;
	d->r9 = s->r9; d->r8 = s->r8; d->rax = s->rax; d->rcx = s->rcx;
	d->rdx = s->rdx; d->rsi = s->rsi; d->rdi = s->rdi; d->orig_rax = s->orig_rax;
	d->rip = s->rip; d->cs = s->cs; d->eflags = s->eflags; d->rsp = s->rsp;
	d->ss = s->ss; d->fs_base = s->fs_base; d->gs_base = s->gs_base;
	d->ds = s->ds; d->es = s->es; d->fs = s->fs; d->gs = s->gs;
}

