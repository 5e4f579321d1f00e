#pragma once
/* struct md_regs <-> struct user_regs_struct */
struct md_regs;
struct user_regs_struct;

void md_regs_from_user(struct md_regs *d, const struct user_regs_struct *s);
void md_regs_to_user(struct user_regs_struct *d, const struct md_regs *s);
