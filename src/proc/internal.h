#pragma once
/* Helpers shared by the /proc parsers of src/proc/ only. */

/* the value of hex digit c, -1 if it is none */
static inline int proc_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
