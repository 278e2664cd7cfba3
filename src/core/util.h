/* util: small leaf helpers shared by every module: time, randomness, ids, encodings,
 * bounded string copies and constant-time comparison. No allocation unless stated. */
#ifndef PB_CORE_UTIL_H
#define PB_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock microseconds since the Unix epoch (UTC). */
int64_t pb_now_us(void);
/* Monotonic milliseconds, for deadlines and durations. */
int64_t pb_mono_ms(void);
/* Monotonic nanoseconds. */
int64_t pb_mono_ns(void);

/* Formats us-since-epoch as Plane/DRF does: "2026-11-21T10:20:30.123456Z". out >= 28. */
void pb_time_iso(int64_t us, char *out, size_t outlen);
/* Parses an ISO-8601 timestamp with optional fraction and Z/+hh:mm/-hh:mm offset (no offset
 * means UTC), or a plain date "YYYY-MM-DD" (midnight UTC), into UTC microseconds.
 * Returns 0 or PB_EPARSE. */
int pb_time_parse(const char *s, int64_t *us_out);
/* Parses "YYYY-MM-DD" strictly (real calendar date). Returns 0 or PB_EPARSE. */
int pb_date_valid(const char *s);

/* Fills buf with n cryptographically random bytes (getrandom). Returns 0 or PB_EIO. */
int pb_random_bytes(void *buf, size_t n);
/* Random 64-bit value for jitter (not for secrets). */
uint64_t pb_random_u64(void);
/* A random (v4) UUID in canonical lower-case form; out must hold 37 bytes. */
int pb_uuid4(char out[37]);
/* 1 if s is a canonical UUID (any version, case-insensitive), else 0. */
int pb_uuid_valid(const char *s);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void pb_hex_encode(const void *in, size_t n, char *out);
/* Decodes exactly 2n hex chars into n bytes. Returns 0 or PB_EPARSE. */
int pb_hex_decode(const char *in, size_t inlen, void *out, size_t n);
/* Standard base64 (with padding). out must hold 4*((n+2)/3)+1 bytes. Returns length. */
size_t pb_base64_encode(const void *in, size_t n, char *out);
/* Decodes standard base64; returns decoded length or a negative PB_E* code. */
long pb_base64_decode(const char *in, size_t inlen, void *out, size_t outcap);

/* Constant-time equality of two equal-length byte strings (0 or 1). Different lengths
 * compare unequal without leaking where they differ. */
int pb_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* strlcpy semantics: always NUL-terminates, returns strlen(src). */
size_t pb_strlcpy(char *dst, const char *src, size_t dstlen);
/* Parses a whole decimal integer within [min,max]. Returns 0 or PB_EINVAL. */
int pb_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses a duration: "90", "90s", "15m", "24h", "7d". Returns 0 or PB_EINVAL. */
int pb_parse_duration_s(const char *s, int64_t *seconds);
/* Reads a whole file (at most max bytes) into a malloc'd NUL-terminated string. */
int pb_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
