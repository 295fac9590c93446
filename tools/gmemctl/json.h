/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer: objects, arrays, strings, integers,
 * booleans and null, compact or indented, with commas and escaping done
 * by the writer.  Strings are UTF-8; invalid sequences are written as
 * U+FFFD, so the output is always valid JSON whatever bytes a process
 * name holds.
 */
#ifndef __GMEMCTL_JSON_H
#define __GMEMCTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH	32

struct json {
	FILE *out;
	bool pretty;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* nothing written yet at that depth */
	bool is_obj[JSON_MAX_DEPTH];
	bool after_key;			/* a key was written, its value is due */
	bool started;			/* anything written at all */
	bool misuse;			/* unbalanced or misplaced calls */
};

void json_init(struct json *j, FILE *out, bool pretty);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);

/* Inside an object: the key of the next value. */
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s);
/* At most @len bytes of @s, stopping at a NUL. */
void json_strn(struct json *j, const char *s, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_s64(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* A finite number with up to 3 decimals (NaN and infinities give null). */
void json_double(struct json *j, double v);

/* Close every open array and object, and end the document with a newline. */
void json_finish(struct json *j);

/* key + value shorthands */
static inline void json_kv_str(struct json *j, const char *k, const char *s)
{
	json_key(j, k);
	json_str(j, s);
}

static inline void json_kv_u64(struct json *j, const char *k, uint64_t v)
{
	json_key(j, k);
	json_u64(j, v);
}

static inline void json_kv_s64(struct json *j, const char *k, int64_t v)
{
	json_key(j, k);
	json_s64(j, v);
}

static inline void json_kv_bool(struct json *j, const char *k, bool v)
{
	json_key(j, k);
	json_bool(j, v);
}

#endif /* __GMEMCTL_JSON_H */
