// SPDX-License-Identifier: GPL-2.0
/*
 * json_test: unit test of gmemctl's JSON writer (json.c), on the host.
 *
 * Each case writes through the writer into memory and compares the text
 * with what it must be, byte for byte: escaping of quotes, backslashes and
 * control characters, UTF-8 passed through and invalid UTF-8 replaced,
 * commas and nesting, empty containers, the pretty layout, integers at
 * their limits, misuse detected, and json_finish() closing what is open.
 *
 * Output is TAP (the plan last); exit 0 when every case passes, 1 otherwise.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json.h"

static int n, failed;

static char *buf;
static size_t buf_len;
static FILE *mem;
static struct json j;

static void start(bool pretty)
{
	mem = open_memstream(&buf, &buf_len);
	if (!mem) {
		perror("open_memstream");
		exit(1);
	}
	json_init(&j, mem, pretty);
}

static void check(const char *name, const char *want, bool want_misuse)
{
	bool ok;

	fclose(mem);
	ok = !strcmp(buf, want) && j.misuse == want_misuse;
	printf("%sok %d - %s\n", ok ? "" : "not ", ++n, name);
	if (!ok) {
		failed++;
		printf("# want: '%s'%s\n# got:  '%s'%s\n", want,
		       want_misuse ? " (misuse)" : "", buf,
		       j.misuse ? " (misuse)" : "");
	}
	free(buf);
	buf = NULL;
}

int main(void)
{
	printf("TAP version 13\n");

	start(false);
	json_str(&j, "say \"hi\"");
	check("quotes are escaped", "\"say \\\"hi\\\"\"\n", false);

	start(false);
	json_str(&j, "C:\\dir\\");
	check("backslashes are escaped", "\"C:\\\\dir\\\\\"\n", false);

	start(false);
	json_str(&j, "\b\f\n\r\t\x01\x1f\x7f end");
	check("control characters are escaped (DEL is not)",
	      "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f end\"\n", false);

	start(false);
	json_str(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7");
	check("valid UTF-8 passes through",
	      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\"\n", false);

	start(false);
	/* lone continuation, truncated sequence, overlong '/', surrogate,
	 * above U+10FFFF, and a lead byte at the very end
	 */
	json_str(&j, "a\200b\303c\300\257d\355\240\200e\364\220\200\200f\342\202");
	check("invalid UTF-8 becomes U+FFFD, one per bad byte",
	      "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd\\ufffdf\\ufffd\\ufffd\"\n",
	      false);

	start(false);
	json_strn(&j, "gmem-vmm\0junk", 16);
	json_finish(&j);
	check("json_strn stops at NUL and at its length",
	      "\"gmem-vmm\"\n", false);

	start(false);
	json_obj_begin(&j);
	json_kv_u64(&j, "a", 1);
	json_key(&j, "b");
	json_arr_begin(&j);
	json_u64(&j, 1);
	json_obj_begin(&j);
	json_kv_str(&j, "k\"", "v");
	json_obj_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_null(&j);
	json_arr_end(&j);
	json_kv_bool(&j, "c", false);
	json_key(&j, "d");
	json_obj_begin(&j);
	json_obj_end(&j);
	json_obj_end(&j);
	check("nesting and commas, compact",
	      "{\"a\":1,\"b\":[1,{\"k\\\"\":\"v\"},[],null],\"c\":false,\"d\":{}}\n",
	      false);

	start(true);
	json_obj_begin(&j);
	json_kv_u64(&j, "a", 1);
	json_key(&j, "b");
	json_arr_begin(&j);
	json_bool(&j, true);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_end(&j);
	json_obj_end(&j);
	check("pretty: four-space indentation, empty containers inline",
	      "{\n    \"a\": 1,\n    \"b\": [\n        true,\n        []\n    ]\n}\n",
	      false);

	start(false);
	json_arr_begin(&j);
	json_u64(&j, UINT64_MAX);
	json_s64(&j, INT64_MIN);
	json_s64(&j, -1);
	json_double(&j, 1.5);
	json_double(&j, 0.0 / 0.0);
	json_arr_end(&j);
	check("integers at their limits, doubles, NaN as null",
	      "[18446744073709551615,-9223372036854775808,-1,1.500,null]\n",
	      false);

	start(false);
	json_obj_begin(&j);
	json_key(&j, "watch");
	json_arr_begin(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "event", "convert");
	json_finish(&j);
	check("json_finish closes every open container",
	      "{\"watch\":[{\"event\":\"convert\"}]}\n", false);

	start(false);
	json_obj_begin(&j);
	json_u64(&j, 1);
	json_obj_end(&j);
	check("misuse: a value without a key in an object", "{1}\n", true);

	start(false);
	json_arr_begin(&j);
	json_key(&j, "k");
	json_arr_end(&j);
	check("misuse: a key in an array is dropped", "[]\n", true);

	start(false);
	json_obj_begin(&j);
	json_key(&j, "k");
	json_obj_end(&j);
	check("misuse: a key without a value gets null", "{\"k\":null}\n", true);

	start(false);
	json_arr_end(&j);
	check("misuse: closing what is not open writes nothing", "", true);

	start(false);
	json_u64(&j, 1);
	json_u64(&j, 2);
	check("misuse: a second top-level document", "1\n2\n", true);

	start(false);
	json_obj_begin(&j);
	json_kv_str(&j, "", "");
	json_kv_str(&j, "nul", NULL);
	json_obj_end(&j);
	check("empty key and value; NULL string as empty",
	      "{\"\":\"\",\"nul\":\"\"}\n", false);

	printf("1..%d\n", n);
	printf("# %d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
