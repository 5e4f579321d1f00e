/*
 * nftctl: run nftables commands through libnftables, for test/e2e/run.sh
 * (Debian's nft command is not among the test's packages; the library is
 * memdump's own dependency). Prints what nftables prints; exits 1 on
 * failure.
 *
 * Usage: nftctl 'COMMANDS'
 */
#include <nftables/libnftables.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct nft_ctx *ctx;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: nftctl 'COMMANDS'\n");
		return 2;
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return 1;
	r = nft_run_cmd_from_buffer(ctx, argv[1]);
	nft_ctx_free(ctx);
	return r ? 1 : 0;
}
