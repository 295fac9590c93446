// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON writer of gmemctl (json.h).  Each value knows where it stands
 * from a stack of open containers: the writer puts the commas, the colons
 * and, when pretty, the newlines and the indentation (four spaces, as
 * bpftool's -p).  A complete top-level value ends with a newline.
 */
#include <math.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, FILE *out, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->pretty = pretty;
	j->first[0] = true;
}

static void indent(struct json *j)
{
	int i;

	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (i = 0; i < j->depth; i++)
		fputs("    ", j->out);
}

/* Before any value: the comma and newline its position asks for. */
static void value_prefix(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0) {
		if (j->started)
			j->misuse = true;	/* a second document */
		j->started = true;
		return;
	}
	if (j->is_obj[j->depth])
		j->misuse = true;		/* a value without a key */
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
	indent(j);
}

/* After any value: a complete document ends its line. */
static void value_suffix(struct json *j)
{
	if (j->depth == 0)
		fputc('\n', j->out);
}

/*
 * Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 if it
 * is not one: overlong forms, surrogates and code points above U+10FFFF
 * are invalid (RFC 3629).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static void write_string(struct json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	FILE *f = j->out;
	size_t i = 0, len;

	fputc('"', f);
	while (i < n && s[i]) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20) {
				fprintf(f, "\\u%04x", c);
			} else if (c < 0x80) {
				fputc(c, f);
			} else {
				len = utf8_seq_len(s + i, strnlen(str + i, n - i));
				if (!len) {
					fputs("\\ufffd", f);
					break;
				}
				fwrite(s + i, 1, len, f);
				i += len;
				continue;
			}
		}
		i++;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	if (j->depth == 0 || !j->is_obj[j->depth] || j->after_key) {
		j->misuse = true;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
	indent(j);
	write_string(j, key, SIZE_MAX);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

static void begin(struct json *j, bool obj)
{
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->misuse = true;
		return;
	}
	value_prefix(j);
	fputc(obj ? '{' : '[', j->out);
	j->depth++;
	j->first[j->depth] = true;
	j->is_obj[j->depth] = obj;
}

static void end(struct json *j, bool obj)
{
	bool empty;

	if (j->depth == 0 || j->is_obj[j->depth] != obj) {
		j->misuse = true;
		return;
	}
	if (j->after_key) {		/* a key without its value */
		j->misuse = true;
		j->after_key = false;
		fputs("null", j->out);
	}
	empty = j->first[j->depth];
	j->depth--;
	if (!empty)
		indent(j);
	fputc(obj ? '}' : ']', j->out);
	value_suffix(j);
}

void json_obj_begin(struct json *j)
{
	begin(j, true);
}

void json_obj_end(struct json *j)
{
	end(j, true);
}

void json_arr_begin(struct json *j)
{
	begin(j, false);
}

void json_arr_end(struct json *j)
{
	end(j, false);
}

void json_strn(struct json *j, const char *s, size_t len)
{
	value_prefix(j);
	write_string(j, s ? s : "", len);
	value_suffix(j);
}

void json_str(struct json *j, const char *s)
{
	json_strn(j, s, SIZE_MAX);
}

void json_u64(struct json *j, uint64_t v)
{
	value_prefix(j);
	fprintf(j->out, "%llu", (unsigned long long)v);
	value_suffix(j);
}

void json_s64(struct json *j, int64_t v)
{
	value_prefix(j);
	fprintf(j->out, "%lld", (long long)v);
	value_suffix(j);
}

void json_bool(struct json *j, bool v)
{
	value_prefix(j);
	fputs(v ? "true" : "false", j->out);
	value_suffix(j);
}

void json_null(struct json *j)
{
	value_prefix(j);
	fputs("null", j->out);
	value_suffix(j);
}

void json_double(struct json *j, double v)
{
	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	value_prefix(j);
	fprintf(j->out, "%.3f", v);
	value_suffix(j);
}

void json_finish(struct json *j)
{
	while (j->depth > 0)
		end(j, j->is_obj[j->depth]);
	fflush(j->out);
}
