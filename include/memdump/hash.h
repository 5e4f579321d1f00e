#pragma once
/*
 * XXH3, the checksum of every image file and pages chunk. Where libxxhash
 * has its x86 dispatcher (Debian's does), XXH3_64bits() becomes the
 * variant that picks AVX2 or AVX-512 by the CPU at run time: about 27 GB/s
 * here against 5 to 19 GB/s for the SSE2 build every x86-64 can run. Same
 * hash values either way.
 */
#include <xxhash.h>
#ifdef MD_HAVE_XXH_DISPATCH
#include <xxh_x86dispatch.h>
#endif
