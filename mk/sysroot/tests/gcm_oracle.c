/* mk/sysroot/tests/gcm_oracle.c: checks Drover's mbedTLS GCM patch (make tests: unit_gcm_oracle).
 *   cc -O2 -I build/sysroot-glibc/include mk/sysroot/tests/gcm_oracle.c \
 *      build/sysroot-glibc/lib/libmbedcrypto.a -lcrypto -o /tmp/gcm_oracle && /tmp/gcm_oracle
 */
/* Test-only: mbedTLS AES-GCM against OpenSSL's (libcrypto as the oracle).
 * Encrypt and decrypt, key sizes 128/192/256, 12- and 16-byte IVs, lengths
 * around the 16- and 64-byte boundaries, with and without AAD, one-shot,
 * in place and split into uneven updates. Prints TAP lines. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS /* the AES round keys, for the wrap check */
#include <openssl/evp.h>
#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails, count;

static void ossl_enc(int bits, const unsigned char *key, const unsigned char *iv,
		     int ivlen, const unsigned char *aad, int aadlen,
		     const unsigned char *pt, int len, unsigned char *ct,
		     unsigned char tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *ci = bits == 128 ? EVP_aes_128_gcm() :
			       bits == 192 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
	int n;

	EVP_EncryptInit_ex(c, ci, NULL, NULL, NULL);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, ivlen, NULL);
	EVP_EncryptInit_ex(c, NULL, NULL, key, iv);
	if (aadlen)
		EVP_EncryptUpdate(c, NULL, &n, aad, aadlen);
	if (len)
		EVP_EncryptUpdate(c, ct, &n, pt, len);
	EVP_EncryptFinal_ex(c, ct + len, &n);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

static void check(int ok, const char *what, int bits, int ivlen, int len,
		  int aadlen)
{
	count++;
	if (!ok)
		fails++;
	if (!ok || getenv("VERBOSE"))
		printf("%s - gcm %s aes%d iv%d len %d aad %d\n",
		       ok ? "ok" : "not ok", what, bits, ivlen, len, aadlen);
}

/* mbedTLS, split into updates of step bytes (0: one call). */
static int mb_split(mbedtls_gcm_context *g, int mode, const unsigned char *iv,
		    int ivlen, const unsigned char *aad, int aadlen,
		    const unsigned char *in, int len, unsigned char *out,
		    unsigned char tag[16], int step)
{
	size_t olen;
	int off = 0;

	if (mbedtls_gcm_starts(g, mode, iv, ivlen) ||
	    mbedtls_gcm_update_ad(g, aad, aadlen))
		return -1;
	while (off < len) {
		int n = step && len - off > step ? step : len - off;
		if (mbedtls_gcm_update(g, in + off, n, out + off, n, &olen))
			return -1;
		off += n;
		if (step)
			step = step * 3 + 1; /* uneven pieces */
	}
	return mbedtls_gcm_finish(g, NULL, 0, &olen, tag, 16);
}

/* The patch's 4-block function (library/aesni.h, internal): its 32-bit
 * counter wraps as gcm_incr() does. A 96-bit IV cannot reach the wrap, and
 * the counter of a longer IV cannot be chosen, so it is called directly;
 * the keystream is compared with AES-ECB of the counter blocks. */
void mbedtls_aesni_gcm_bulk(const unsigned char *rk, int nr,
			    const unsigned char *htab, unsigned char y[16],
			    unsigned char buf[16], int decrypt,
			    const unsigned char *input, unsigned char *output,
			    size_t ngroups);

static void check_wrap(void)
{
	mbedtls_aes_context a;
	unsigned char key[16] = { 9 }, y[16], cb[16], buf[16] = { 0 };
	unsigned char htab[64] = { 0 }, in[128] = { 0 }, out[128], ref[128];
	int i, ok;

	memset(y, 0xab, 12);
	y[12] = y[13] = y[14] = 0xff;
	y[15] = 0xfd; /* 2 blocks before the wrap */
	memcpy(cb, y, 16);
	mbedtls_aes_init(&a);
	mbedtls_aes_setkey_enc(&a, key, 128);
	mbedtls_aesni_gcm_bulk((const unsigned char *)(a.buf + a.rk_offset),
			       a.nr, htab, y, buf, 1, in, out, 2);
	for (i = 0; i < 8; i++) {
		unsigned c = ((unsigned)cb[12] << 24 | cb[13] << 16 |
			      cb[14] << 8 | cb[15]) + 1;
		cb[12] = c >> 24;
		cb[13] = c >> 16;
		cb[14] = c >> 8;
		cb[15] = c;
		mbedtls_aes_crypt_ecb(&a, MBEDTLS_AES_ENCRYPT, cb, ref + 16 * i);
	}
	ok = !memcmp(out, ref, sizeof(ref)) && !memcmp(y, cb, 16);
	mbedtls_aes_free(&a);
	count++;
	fails += !ok;
	printf("%s - gcm 4-block counter wraps mod 2^32\n", ok ? "ok" : "not ok");
}

int main(void)
{
	static const int lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64,
				    65, 80, 127, 128, 129, 255, 256, 1000,
				    4095, 4096, 16384, 16384 + 7, 65536 + 3 };
	static const int aadlens[] = { 0, 13, 16, 20 };
	static const int bitss[] = { 128, 192, 256 };
	static const int ivlens[] = { 12, 16 };
	int maxlen = 65536 + 3 + 16;
	unsigned char *pt = malloc(maxlen), *ct = malloc(maxlen),
		      *mb = malloc(maxlen), *dec = malloc(maxlen);
	unsigned char key[32], iv[16], aad[32], tag[16], mtag[16];
	unsigned li, ai, bi, vi;
	int r, rep;

	check_wrap();
	srand(1);
	for (rep = 0; rep < 3; rep++)
	for (bi = 0; bi < 3; bi++)
	for (vi = 0; vi < 2; vi++)
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
	for (ai = 0; ai < 4; ai++) {
		int bits = bitss[bi], len = lens[li], aadlen = aadlens[ai];
		int ivlen = ivlens[vi], i, step;
		mbedtls_gcm_context g;

		for (i = 0; i < 32; i++) {
			key[i] = rand();
			aad[i] = rand();
		}
		for (i = 0; i < 16; i++)
			iv[i] = rand();
		for (i = 0; i < len; i++)
			pt[i] = rand();
		ossl_enc(bits, key, iv, ivlen, aad, aadlen, pt, len, ct, tag);

		mbedtls_gcm_init(&g);
		mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, bits);
		/* encrypt, one-shot */
		memset(mb, 0, maxlen);
		r = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, iv,
					      ivlen, aad, aadlen, pt, mb, 16, mtag);
		check(r == 0 && !memcmp(mb, ct, len) && !memcmp(mtag, tag, 16),
		      "encrypt", bits, ivlen, len, aadlen);
		/* encrypt in place */
		memcpy(mb, pt, len);
		r = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, iv,
					      ivlen, aad, aadlen, mb, mb, 16, mtag);
		check(r == 0 && !memcmp(mb, ct, len) && !memcmp(mtag, tag, 16),
		      "encrypt-inplace", bits, ivlen, len, aadlen);
		/* decrypt OpenSSL's */
		r = mbedtls_gcm_auth_decrypt(&g, len, iv, ivlen, aad, aadlen,
					     tag, 16, ct, dec);
		check(r == 0 && !memcmp(dec, pt, len), "decrypt", bits, ivlen,
		      len, aadlen);
		/* a changed tag, and a changed last byte, are refused */
		tag[0] ^= 1;
		r = mbedtls_gcm_auth_decrypt(&g, len, iv, ivlen, aad, aadlen,
					     tag, 16, ct, dec);
		tag[0] ^= 1;
		check(r == MBEDTLS_ERR_GCM_AUTH_FAILED, "decrypt-badtag", bits,
		      ivlen, len, aadlen);
		if (len) {
			ct[len - 1] ^= 0x80;
			r = mbedtls_gcm_auth_decrypt(&g, len, iv, ivlen, aad,
						     aadlen, tag, 16, ct, dec);
			ct[len - 1] ^= 0x80;
			check(r == MBEDTLS_ERR_GCM_AUTH_FAILED,
			      "decrypt-badct", bits, ivlen, len, aadlen);
		}
		/* split into uneven updates, both ways */
		for (step = 1; step <= 70; step += 23) {
			r = mb_split(&g, MBEDTLS_GCM_ENCRYPT, iv, ivlen, aad,
				     aadlen, pt, len, mb, mtag, step);
			check(r == 0 && !memcmp(mb, ct, len) &&
			      !memcmp(mtag, tag, 16), "encrypt-split", bits,
			      ivlen, len, aadlen);
			r = mb_split(&g, MBEDTLS_GCM_DECRYPT, iv, ivlen, aad,
				     aadlen, ct, len, dec, mtag, step);
			check(r == 0 && !memcmp(dec, pt, len) &&
			      !memcmp(mtag, tag, 16), "decrypt-split", bits,
			      ivlen, len, aadlen);
		}
		mbedtls_gcm_free(&g);
	}
	printf("%s - gcm against OpenSSL: %d checks, %d failed\n",
	       fails ? "not ok" : "ok", count, fails);
	free(pt); free(ct); free(mb); free(dec);
	return fails != 0;
}
