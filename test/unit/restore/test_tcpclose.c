/*
 * restore_tcp_segment(): the packet that gives a restored connection its
 * peer's FIN, as the kernel will check it: header fields in network order,
 * and checksums that sum (with the pseudo-header) to all ones.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "restore/internal.h"

/* the ones' complement sum of a and b, folded */
static uint16_t csum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < alen; i += 2)
		sum += (uint32_t)(a[i] << 8 | a[i + 1]);
	for (size_t i = 0; i < blen; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void assert_tcp(const uint8_t *t, const struct restore_segment *g)
{
	cr_assert_eq(get16(t), g->sport);
	cr_assert_eq(get16(t + 2), g->dport);
	cr_assert_eq(get32(t + 4), g->seq);
	cr_assert_eq(get32(t + 8), g->ack);
	cr_assert_eq(t[12], 5 << 4, "a 20-byte header, no options");
	cr_assert_eq(t[13], g->flags);
	cr_assert_eq(get16(t + 14), g->window);
	cr_assert_eq(get16(t + 18), 0);
}

Test(tcpclose, ipv4_segment)
{
	struct restore_segment g = { .family = AF_INET, .sport = 443, .dport = 40000, .window = 0xfedc,
				     .seq = 0xfffffff0u, .ack = 0x01020304, .flags = 0x11 };
	uint8_t buf[80], pseudo[12] = { 0 };

	inet_pton(AF_INET, "192.0.2.7", g.src);
	inet_pton(AF_INET, "10.0.0.1", g.dst);
	cr_assert_eq(restore_tcp_segment(buf, 39, &g), 0);
	cr_assert_eq(restore_tcp_segment(buf, sizeof(buf), &g), 40);
	cr_assert_eq(buf[0], 0x45);
	cr_assert_eq(get16(buf + 2), 40);
	cr_assert_eq(buf[9], IPPROTO_TCP);
	cr_assert_eq(memcmp(buf + 12, g.src, 4), 0);
	cr_assert_eq(memcmp(buf + 16, g.dst, 4), 0);
	cr_assert_eq(csum(buf, 20, NULL, 0), 0xffff, "IPv4 header checksum");
	assert_tcp(buf + 20, &g);
	memcpy(pseudo, g.src, 4);
	memcpy(pseudo + 4, g.dst, 4);
	pseudo[9] = IPPROTO_TCP;
	pseudo[11] = 20;
	cr_assert_eq(csum(pseudo, sizeof(pseudo), buf + 20, 20), 0xffff, "TCP checksum");
}

Test(tcpclose, ipv6_segment)
{
	struct restore_segment g = { .family = AF_INET6, .sport = 8080, .dport = 55555, .window = 512,
				     .seq = 123456789, .ack = 0x80000000u, .flags = 0x11 };
	uint8_t buf[80], pseudo[40] = { 0 };

	inet_pton(AF_INET6, "fe80::2", g.src);
	inet_pton(AF_INET6, "2001:db8::1", g.dst);
	cr_assert_eq(restore_tcp_segment(buf, 59, &g), 0);
	cr_assert_eq(restore_tcp_segment(buf, sizeof(buf), &g), 60);
	cr_assert_eq(buf[0] >> 4, 6);
	cr_assert_eq(get16(buf + 4), 20, "payload length");
	cr_assert_eq(buf[6], IPPROTO_TCP);
	cr_assert_eq(memcmp(buf + 8, g.src, 16), 0);
	cr_assert_eq(memcmp(buf + 24, g.dst, 16), 0);
	assert_tcp(buf + 40, &g);
	memcpy(pseudo, g.src, 16);
	memcpy(pseudo + 16, g.dst, 16);
	pseudo[35] = 20;
	pseudo[39] = IPPROTO_TCP;
	cr_assert_eq(csum(pseudo, sizeof(pseudo), buf + 40, 20), 0xffff, "TCP checksum");
}
